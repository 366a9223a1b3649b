"""TensorFlow's own TF1 GRU cells, as component kinds.

Kinds: GRUCell (also GRUBlockCellV2, which writes the same names),
GRUBlockCell, CudnnCompatibleGRUCell, and CudnnGRU (its Saver's canonical
layout: a CudnnCompatibleGRUCell stack, plus `cudnn_gru/opaque_kernel`, the
same weights in cuDNN's device-specific layout, listed and never read).
`gru_common/tf1_gru_cells.py` has their variables and shapes.

Each cell sits under its own name C (`gru_cell`, `cudnn_compatible_gru_cell`
or the user's `GRUCell(name=...)`), below the scope S that
`dynamic_rnn`/`static_rnn` (default `rnn`) or `bidirectional_dynamic_rnn`
(default `bidirectional_rnn`) ran in, wired as:

    wiring                path of each cell       Wiring(directions, stacking)
    single                S/C                     (1, None)
    bidirectional         S/fw/C, S/bw/C          (2, None)
    MultiRNNCell stack    S/multi_rnn_cell/cell_<i>/C  (1, CELLS)
                          (also in fw/, bw/)      (2, CELLS)
    stacked BiRNN         S/cell_<i>/bidirectional_rnn/{fw,bw}/C (S is
                          `stack_bidirectional_rnn`; CudnnGRU's
                          bidirectional layout)   (2, LAYERS)

A component's `CellSettings.paths` holds each cell's path inside S, layer by
layer, forward before backward.

GRUCell and the block cells compute h' = u * h + (1 - u) * tanh([x; r * h]
W_c + b_c), which is `keras.layers.GRU(reset_after=False)` with Keras's z
being TF1's u: no negation, only the gate order ([r, u] -> [z, r, h]) and
the [x; h] row split change. The cuDNN family applies the reset gate after
the recurrent matmul: `GRU(reset_after=True)`, whose bias is [2, 3u] (input
row 0, recurrent row 1). TF1's cell holds one gate bias, cuDNN's two summed
(TF1's CudnnGRU saveable stores only the sum), so Keras's recurrent z and r
biases are zero: the conversion writes zeros there and, converting back,
refuses a model whose recurrent gate biases are not zero, since folding them
into one would change the weights.

The Keras models, for target "keras" (stock GRU layers) and "tf2" (RNN
layers of `tf2.TF1GRUCell`, TF1's cell op for op), each recurrent layer (or
stacked cell) named by its cell's path ('/' written '>'), masked steps
outputting zeros as TF1's `sequence_length` does:

    single                GRU
    bidirectional         Bidirectional(GRU, backward GRU), "bidirectional"
    MultiRNNCell stack    GRU, GRU, ... (one layer per cell)
    bidirectional stack   Bidirectional(RNN([cells]), RNN([cells]))
    stacked BiRNN         Bidirectional(GRU), Bidirectional(GRU), ...
"""

import dataclasses
import re

import numpy as np

from gru_common import tf1_gru_cells as cells_lib
from gru_common import tolerances
from migration import description as description_lib
from migration import mapping
from migration import tf1_graph
from migration.kinds import base

GRU_CELL = cells_lib.GRU_CELL
GRU_BLOCK_CELL = cells_lib.GRU_BLOCK_CELL
CUDNN_COMPATIBLE = cells_lib.CUDNN_COMPATIBLE
CUDNN_GRU = "CudnnGRU"
KINDS = (GRU_CELL, GRU_BLOCK_CELL, CUDNN_COMPATIBLE, CUDNN_GRU)
# What inspect says of each kind: which TF1 classes write these names.
WRITTEN_BY = {
    GRU_CELL: "tf.nn.rnn_cell.GRUCell or tf.contrib.rnn.GRUBlockCellV2",
    GRU_BLOCK_CELL: "tf.contrib.rnn.GRUBlockCell",
    CUDNN_COMPATIBLE: "tf.contrib.cudnn_rnn.CudnnCompatibleGRUCell",
    CUDNN_GRU: "tf.contrib.cudnn_rnn.CudnnGRU",
}
OPAQUE_KERNEL = "cudnn_gru/opaque_kernel"
RESET_AFTER = {GRU_CELL: False, GRU_BLOCK_CELL: False,
               CUDNN_COMPATIBLE: True, CUDNN_GRU: True}
FUSED_OP = "GRUBlockCell"   # the op GRUBlockCell and GRUBlockCellV2 run
BIDIRECTIONAL_LAYER = "bidirectional"
LEARNED_STATE = "learned_state"   # the name suffix of a layer's wrapper

# The TF1 wirings, as (directions, stacking).
SINGLE = (1, None)
BIDIRECTIONAL = (2, None)
MULTI = (1, description_lib.CELLS)
BI_MULTI = (2, description_lib.CELLS)
STACK_BI = (2, description_lib.LAYERS)
WIRING_NAMES = {SINGLE: "single", BIDIRECTIONAL: "bidirectional",
                MULTI: "multi", BI_MULTI: "bidirectional multi",
                STACK_BI: "stacked bidirectional"}

# The mapping. TF1 side: the variable, its rows (X: the first `in` rows,
# which multiply the input; H: the last u, which multiply the state; None:
# all) and its column block of width u (TF1's gate order r, u). Keras side:
# the weight, the bias row for reset_after (None: a 1-D bias) and the column
# block in Keras's gate order.
X, H = mapping.X, mapping.H
Z, R, C = 0, 1, 2    # Keras's gate order: update, reset, candidate
_Row = mapping.Row
_RESET_BEFORE = (
    _Row("gates/kernel", "kernel", X, 0, None, R),
    _Row("gates/kernel", "kernel", X, 1, None, Z),
    _Row("gates/kernel", "recurrent_kernel", H, 0, None, R),
    _Row("gates/kernel", "recurrent_kernel", H, 1, None, Z),
    _Row("gates/bias", "bias", None, 0, None, R),
    _Row("gates/bias", "bias", None, 1, None, Z),
    _Row("candidate/kernel", "kernel", X, 0, None, C),
    _Row("candidate/kernel", "recurrent_kernel", H, 0, None, C),
    _Row("candidate/bias", "bias", None, 0, None, C),
)
_BLOCK_NAMES = dict(zip(cells_lib.VARIABLES[GRU_CELL],
                        cells_lib.VARIABLES[GRU_BLOCK_CELL]))
_RESET_AFTER = (
    _Row("gates/kernel", "kernel", X, 0, None, R),
    _Row("gates/kernel", "kernel", X, 1, None, Z),
    _Row("gates/kernel", "recurrent_kernel", H, 0, None, R),
    _Row("gates/kernel", "recurrent_kernel", H, 1, None, Z),
    _Row("gates/bias", "bias", None, 0, 0, R),
    _Row("gates/bias", "bias", None, 1, 0, Z),
    _Row(None, "bias", None, None, 1, R),     # one TF1 gate bias: see above
    _Row(None, "bias", None, None, 1, Z),
    _Row("candidate/input_projection/kernel", "kernel", None, 0, None, C),
    _Row("candidate/hidden_projection/kernel", "recurrent_kernel", None, 0,
         None, C),
    _Row("candidate/input_projection/bias", "bias", None, 0, 0, C),
    _Row("candidate/hidden_projection/bias", "bias", None, 0, 1, C),
)
KERAS_ROWS = {
    GRU_CELL: _RESET_BEFORE,
    GRU_BLOCK_CELL: tuple(dataclasses.replace(r, source=_BLOCK_NAMES[r.source])
                          for r in _RESET_BEFORE),
    CUDNN_COMPATIBLE: _RESET_AFTER,
    CUDNN_GRU: _RESET_AFTER,
}


@dataclasses.dataclass(frozen=True)
class CellSettings:
  """Each cell's path inside the RNN's scope, layer by layer, forward
  before backward; and the learned initial states among
  `Wiring.initial_state`, as ((checkpoint name, shape), ...)."""
  paths: tuple
  learned: tuple = ()


def _cell_variables(kind):
  """The TF1 cell class whose variables a kind holds."""
  return CUDNN_COMPATIBLE if kind == CUDNN_GRU else kind


class TF1GRUCells(base.Kind):
  """One of TensorFlow's TF1 GRU cell kinds, in any wiring."""

  recurrent = True
  output_name = "rnn"
  takes_lengths = True
  stacks = True
  initial_states = True
  stock_bound = tolerances.TF1_CELL_STOCK
  settings_type = CellSettings   # what `make` gives a new component

  def __init__(self, name):
    self.name = name
    self.cell = _cell_variables(name)
    if name == GRU_CELL:   # One hint for the four kinds.
      self.looks_like = "TF1 GRU cell '.../gates/kernel'..."
    self.first_variable = cells_lib.VARIABLES[self.cell][0]

  # What a cell family defines (the LSTM cells' kind overrides these).

  def cell_shapes(self, component, layer):
    """{variable name in a cell's scope: shape} of a cell of `layer`."""
    return cells_lib.shapes(self.cell, component.layer_input(layer),
                            component.units[layer])

  def keras_cell(self, component, target, units, path):
    """The Keras cell of one TF1 cell (in a stacked RNN layer)."""
    import keras  # pylint: disable=g-import-not-at-top
    from tf2 import tf1_gru_cell  # pylint: disable=g-import-not-at-top
    if target == mapping.TF2:
      return tf1_gru_cell.TF1GRUCell(units, self.cell, dtype=component.dtype,
                                     name=tf1_graph.layer_name(path))
    return keras.layers.GRUCell(units, reset_after=RESET_AFTER[self.name],
                                dtype=component.dtype, name=tf1_graph.layer_name(path))

  def keras_rnn(self, component, target, units, path, backwards, common):
    """The Keras recurrent layer of one TF1 cell."""
    import keras  # pylint: disable=g-import-not-at-top
    if target == mapping.TF2:
      return keras.layers.RNN(self.keras_cell(component, target, units, path),
                              go_backwards=backwards, name=tf1_graph.layer_name(path),
                              **common)
    return keras.layers.GRU(units, reset_after=RESET_AFTER[self.name],
                            go_backwards=backwards, name=tf1_graph.layer_name(path),
                            **common)

  def tf2_cell_type(self):
    from tf2 import tf1_gru_cell  # pylint: disable=g-import-not-at-top
    return tf1_gru_cell.TF1GRUCell

  def read_input_dim(self, cell, tf2_cell):
    """The input size of a converted model's first cell: a TF1GRUCell's
    first weight is the TF1 gates kernel [in+u, 2u]; a stock GRUCell's is
    its kernel [in, 3u]."""
    first = int(cell.weights[0].shape[0])
    return first - int(cell.units) if tf2_cell else first

  def read_settings(self, component, cells, tf2_cells, keras_model):
    """`component` read back with the settings its cells (or the model's
    name) record beyond their paths."""
    del cells, tf2_cells, keras_model
    return component

  # The description.

  def check(self, component):
    settings = component.settings
    if not isinstance(settings, self.settings_type):
      raise description_lib.SpecError(
          f"{component.name}: settings must be "
          f"{self.settings_type.__name__}, got {settings!r}")
    if self.wiring(component) in (SINGLE, BIDIRECTIONAL) and (
        component.layers != 1):
      raise description_lib.SpecError(
          f"a {WIRING_NAMES[self.wiring(component)]} RNN has one layer, "
          f"got units {component.units}")
    if len(settings.paths) != component.layers * component.wiring.directions:
      raise description_lib.SpecError(
          f"{len(settings.paths)} cell paths for {component.layers} "
          f"layer(s) x {component.wiring.directions} direction(s)")
    states = component.wiring.initial_state
    if states:
      if self.wiring(component) in (BI_MULTI, STACK_BI):
        raise description_lib.SpecError(
            f"the {self.describe(component)} starts from zeros here: "
            "initial states of stacked bidirectional layers are not "
            "supported")
      if len(states) != len(settings.paths):
        raise description_lib.SpecError(
            f"{len(states)} initial states for {len(settings.paths)} cells")
    cells = self.cell_list(component)
    for name, shape in settings.learned:
      units = (component.units[cells[states.index(name)][0]]
               if name in states else None)
      if tuple(shape) not in ((1, units), (units,)):
        raise description_lib.SpecError(
            f"learned initial state {name!r} of shape {shape} does not "
            "start one of its cells")

  def wiring(self, component):
    return (component.wiring.directions, component.wiring.stacking)

  def cell_list(self, component):
    """(layer, direction 'fw'/'bw', path inside the scope) of each cell."""
    paths = iter(component.settings.paths)
    return [(layer, direction, next(paths))
            for layer in range(component.layers)
            for direction in ("fw", "bw")[:component.wiring.directions]]

  def variables(self, component):
    out = {}
    for layer, _, path in self.cell_list(component):
      for name, shape in self.cell_shapes(component, layer).items():
        out[description_lib.join(component.scope, f"{path}/{name}")] = shape
    out.update((name, tuple(shape))
               for name, shape in component.settings.learned)
    return out

  def opaque_size(self, component):
    """Elements of CudnnGRU's opaque_kernel: every canonical weight."""
    return sum(int(np.prod(s)) for s in self.variables(component).values())

  def wiring_text(self, component):
    layers = component.layers
    if component.wiring.tied:
      return "weight-tied bidirectional "
    return {SINGLE: "", BIDIRECTIONAL: "bidirectional ",
            MULTI: f"{layers}-layer MultiRNNCell ",
            BI_MULTI: f"bidirectional {layers}-layer MultiRNNCell ",
            STACK_BI: f"{layers}-layer stacked bidirectional "}[
                self.wiring(component)]

  def describe(self, component):
    learned = (" with learned initial states" if component.settings.learned
               else " started from its inputs" if
               component.wiring.initial_state else "")
    return f"TF1 {self.wiring_text(component)}{self.name}{learned}"

  def cell_paths(self, component):
    return component.settings.paths

  def stack(self, components):
    """Layers of one direction stack as a MultiRNNCell stack computes them,
    bidirectional ones as a stacked BiRNN."""
    first = components[0]
    for other in components[1:]:
      if (other.kind, other.dtype, other.wiring.directions, other.scope) != (
          first.kind, first.dtype, first.wiring.directions, first.scope):
        raise description_lib.SpecError(
            f"{other.describe()} under {other.scope!r} does not stack on "
            f"{first.describe()} under {first.scope!r}")
    wiring = STACK_BI if first.wiring.directions == 2 else MULTI
    return make(first.kind, sum((c.units for c in components), ()),
                first.input_dim, first.dtype,
                sum((c.settings.paths for c in components), ()), wiring,
                first.scope)

  def cell_variables(self, component):
    return [(layer, direction, frozenset(
        description_lib.join(component.scope, f"{path}/{name}")
        for name in self.cell_shapes(component, layer)))
            for layer, direction, path in self.cell_list(component)]

  def step_kernel(self, names):
    """The cell's first variable (gates/kernel, GRUBlockCell's w_ru: [in+u,
    2u]; an LSTM's kernel), applied to [input; state] at every step."""
    suffix = "/" + self.first_variable
    return next((n for n in sorted(names) if n.endswith(suffix)), None)

  def graph_bound(self, component, ops):
    """Not bitwise in float32 for the cuDNN-compatible cells (the same ops,
    optimized differently) and for GRUBlockCellV2, whose checkpoint names
    are GRUCell's: it converts to GRUCell's ops, not the fused op its
    graph runs (`tolerances.TF1_CELL_FLOAT32_NOT_BITWISE`)."""
    del component
    if RESET_AFTER[self.name] or (self.name != GRU_BLOCK_CELL and
                                  FUSED_OP in ops):
      return tolerances.TF1_CELL_FLOAT32_NOT_BITWISE
    return tolerances.BITWISE

  def describe_model(self, description):
    rnn = description.components[0]
    units = "+".join(str(u) for u in rnn.units)
    return (f"{self.describe(rnn)}: {units} units, {rnn.input_dim} inputs, "
            f"{rnn.dtype}")

  # The mapping.

  def rows(self, component, target):
    if target == mapping.TF2:
      return tuple(mapping.Row(n, cells_lib.weight_name(n))
                   for n in cells_lib.VARIABLES[self.cell])
    return KERAS_ROWS[self.name]

  def cells(self, component, model):
    found, wrappers = [], []
    for name in self.layer_names(component):
      layer = model.get_layer(name)
      if component.settings.learned:
        wrappers.append(layer)
        layer = layer.layer
      if hasattr(layer, "forward_layer"):
        forward = _stacked(layer.forward_layer.cell)
        backward = _stacked(layer.backward_layer.cell)
        for f, b in zip(forward, backward):
          found.extend([f, b])
      else:
        found.extend(_stacked(layer.cell))
    if len(found) != len(component.settings.paths):
      raise mapping.MappingError(
          f"model {model.name!r} has {len(found)} recurrent cells; the "
          f"{description_lib.Description((component,)).describe()} has "
          f"{len(component.settings.paths)}")
    learned = []
    for wrapper in wrappers:
      for name, shape in wrapper.states:
        learned.append(("", wrapper, shape[-1], shape[-1],
                        (mapping.Row(name, tf1_graph.layer_name(name)),)))
    return [(description_lib.join(component.scope, path), cell,
             component.layer_input(layer), component.units[layer])
            for cell, (layer, _, path) in zip(
                found, self.cell_list(component))] + learned

  # The Keras model.

  def layer_names(self, component):
    """Its top-level Keras layers' names (a recurrent layer started from
    learned states is wrapped, and its wrapper named after it)."""
    paths = component.settings.paths
    wiring = self.wiring(component)
    if wiring in (SINGLE, MULTI):
      names = tuple(tf1_graph.layer_name(p) for p in paths)
    elif wiring == STACK_BI:
      names = tuple(f"cell_{i}>bidirectional_rnn"
                    for i in range(component.layers))
    else:
      names = (BIDIRECTIONAL_LAYER,)
    if component.settings.learned:
      names = tuple(f"{n}>{LEARNED_STATE}" for n in names)
    return names

  def build(self, component, target, x, outputs):
    import keras  # pylint: disable=g-import-not-at-top
    import tf2  # pylint: disable=g-import-not-at-top
    dtype = component.dtype
    common = {"return_sequences": True, "zero_output_for_mask": True,
              "dtype": dtype}

    def cell(units, path):
      return self.keras_cell(component, target, units, path)

    def rnn(units, path, backwards=False):
      return self.keras_rnn(component, target, units, path, backwards,
                            common)

    def bidirectional(forward, backward, name):
      # Bidirectional casts its output to its own dtype: give it the model's.
      return keras.layers.Bidirectional(forward, backward_layer=backward,
                                        name=name, dtype=dtype)

    paths = component.settings.paths
    units = component.units
    wiring = self.wiring(component)
    states = component.wiring.initial_state
    learned = dict(component.settings.learned)

    def start(layer, names):
      """`layer`, started from the states `names`: learned ones inside a
      wrapper; model inputs as `initial_state` (no mask then: Keras passes
      none to a layer called with two tensors)."""
      if not names:
        return layer
      if names[0] in learned:
        return lambda y: tf2.LearnedInitialState(
            layer, [(n, learned[n]) for n in names], dtype=dtype,
            name=f"{layer.name}>{LEARNED_STATE}")(y)
      return lambda y: layer(y, initial_state=[outputs[n] for n in names])

    if wiring in (SINGLE, MULTI):
      for i, (u, path) in enumerate(zip(units, paths)):
        x = start(rnn(u, path), states[i:i + 1])(x)
    elif wiring == BIDIRECTIONAL:
      x = start(bidirectional(rnn(units[0], paths[0]),
                              rnn(units[0], paths[1], True),
                              BIDIRECTIONAL_LAYER), states)(x)
    elif wiring == BI_MULTI:
      # The stack in the model's dtype, as its initial states must be.
      forward = keras.layers.RNN(keras.layers.StackedRNNCells(
          [cell(u, p) for u, p in zip(units, paths[::2])], dtype=dtype),
                                 name="fw", **common)
      backward = keras.layers.RNN(keras.layers.StackedRNNCells(
          [cell(u, p) for u, p in zip(units, paths[1::2])], dtype=dtype),
                                  go_backwards=True, name="bw", **common)
      x = bidirectional(forward, backward, BIDIRECTIONAL_LAYER)(x)
    else:
      for i, u in enumerate(units):
        x = bidirectional(rnn(u, paths[2 * i]),
                          rnn(u, paths[2 * i + 1], True),
                          f"cell_{i}>bidirectional_rnn")(x)
    return x

  def with_learned_states(self, component, states):
    return dataclasses.replace(
        component,
        wiring=dataclasses.replace(component.wiring,
                                   initial_state=tuple(n for n, _ in states)),
        settings=dataclasses.replace(component.settings,
                                     learned=tuple(states)))

  def state_inputs(self, component):
    """[(input name, size)] for each cell's initial state, as a model's
    inputs when `--initial_state_inputs` asks for them."""
    cells = self.cell_list(component)
    return [(f"initial_state_{direction}" if component.layers == 1 else
             f"initial_state_{layer}" if component.wiring.directions == 1
             else f"initial_state_{layer}_{direction}",
             component.units[layer])
            if len(cells) > 1 else ("initial_state", component.units[layer])
            for layer, direction, _ in cells]

  def check_onnx(self, component):
    if component.wiring.initial_state:
      return (f"{component.describe()}: its initial states (learned or "
              "model inputs) are not exported to ONNX yet")
    return None

  def read_model(self, keras_model, family=None):
    """(description, target) of a model `build` made for this kind (its
    name records the kind), or None."""
    import keras  # pylint: disable=g-import-not-at-top
    import tf2  # pylint: disable=g-import-not-at-top
    from migration import model_names  # pylint: disable=g-import-not-at-top
    del family  # The model's name records the kind.
    if model_names.parse(keras_model.name)[0] != self.name:
      return None
    layers, learned = [], []
    for layer in keras_model.layers:
      if isinstance(layer, tf2.LearnedInitialState):
        learned.extend(layer.states)
        layer = layer.layer
      if isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional)):
        layers.append(layer)
    bidirectional = [l for l in layers
                     if isinstance(l, keras.layers.Bidirectional)]
    cells = []
    paths = []
    for layer in layers:
      if isinstance(layer, keras.layers.Bidirectional):
        pairs = zip(_stacked_named(layer.forward_layer, "forward_"),
                    _stacked_named(layer.backward_layer))
        for forward, backward in pairs:
          cells.extend([forward[0], backward[0]])
          paths.extend([forward[1], backward[1]])
      elif isinstance(layer, keras.layers.RNN):
        for cell, name in _stacked_named(layer):
          cells.append(cell)
          paths.append(name)
    if not cells:
      raise mapping.MappingError(
          f"model {keras_model.name!r} has no recurrent layer")
    if not bidirectional:
      wiring = SINGLE if len(layers) == 1 else MULTI
    elif len(bidirectional) > 1:
      wiring = STACK_BI
    else:
      wiring = (BI_MULTI if hasattr(bidirectional[0].forward_layer.cell,
                                    "cells") else BIDIRECTIONAL)
    tied = wiring == BIDIRECTIONAL and paths[0] == paths[1]
    step = wiring[0]
    units = tuple(int(c.units) for c in cells[::step])
    kernel = cells[0].weights[0] if cells[0].weights else None
    if kernel is None:
      raise mapping.MappingError(f"model {keras_model.name!r} is not built")
    tf2_cells = isinstance(cells[0], self.tf2_cell_type())
    input_dim = self.read_input_dim(cells[0], tf2_cells)
    # Each recurrent layer (or stacked cell) is named by its cell's path.
    try:
      component = self.read_settings(
          make(self.name, units, input_dim,
               keras.backend.standardize_dtype(kernel.dtype),
               tuple(p.replace(">", "/") for p in paths), wiring),
          cells, tf2_cells, keras_model)
    except description_lib.SpecError as e:
      raise mapping.MappingError(f"model {keras_model.name!r}: {e}") from e
    if tied:
      component = dataclasses.replace(component, wiring=dataclasses.replace(
          component.wiring, tied=True))
    states, inputs = _read_states(keras_model, layers)
    if learned:
      states = tuple(name for name, _ in learned)
    if states:
      try:
        component = dataclasses.replace(
            component, wiring=dataclasses.replace(component.wiring,
                                                  initial_state=states),
            settings=dataclasses.replace(component.settings,
                                         learned=tuple(learned)))
      except description_lib.SpecError as e:
        raise mapping.MappingError(f"model {keras_model.name!r}: {e}") from e
    description = _model(component)
    if inputs:
      description = dataclasses.replace(
          description, inputs=description.inputs + inputs)
    return description, mapping.TF2 if tf2_cells else mapping.KERAS

  # ONNX.

  def onnx(self, graph, component, model, x, lengths):
    for name in self.layer_names(component):
      x = graph.recurrent(model.get_layer(name), x, lengths)
    return x

  # Detection.

  def detect(self, model_names, variables, graph=None):
    """Every TF1 cell RNN, of all four kinds (found together: a scope
    holding cells of two kinds is one RNN with a problem), so only the
    GRUCell kind's instance detects."""
    from migration import detection  # pylint: disable=g-import-not-at-top
    if self.name != GRU_CELL:
      return []
    groups = {}
    for (kind, cell_scope), present in sorted(_cells(model_names).items()):
      scope, wiring, layer, direction, name = _place(cell_scope)
      groups.setdefault((scope, wiring, RESET_AFTER[kind]), []).append(
          (layer, direction, name, kind, present))
    found = []
    for (scope, wiring, _), members in sorted(
        groups.items(), key=lambda item: (item[0][0], WIRING_NAMES[
            item[0][1]], item[0][2])):
      for layer, problems in _layers(wiring, members):
        kind, component, present, more = (
            _tied(scope, layer, variables, graph) if graph is not None
            and wiring == BIDIRECTIONAL and not problems else None) or (
                _check(scope, wiring, layer, variables))
        if component is not None and graph is not None:
          component = _with_learned_states(component, variables, graph)
          present = sorted(set(present) | set(component.variables()))
        rnn = detection.FoundRNN(
            _KINDS[kind].describe(component) if component else
            f"TF1 {kind}", scope, names=set(present),
            problems=problems + more, written_by=WRITTEN_BY[kind])
        if component is not None and not problems:
          rnn.description = _model(component)
        found.append(rnn)
    _with_opaque_kernel(found, variables)
    return found


def _with_learned_states(component, variables, graph):
  """`component`, started from its learned initial states where the
  program's graph starts every cell's loop from a variable repeated over
  the batch (of shape [1, units] or [units])."""
  kind = _KINDS[component.kind]
  states = []
  for layer, direction, names in kind.cell_variables(component):
    loops = graph.loops_of(names, direction)
    found = (graph.learned_state(loops[0].initial_state[0])
             if len(loops) == 1 and len(loops[0].initial_state) == 1
             else None)
    units = component.units[layer]
    if (found is None or found[0] not in variables or
        variables[found[0]][0] not in ((1, units), (units,))):
      return component
    states.append((found[0], variables[found[0]][0]))
  return kind.with_learned_states(component, states)


def _tied(scope, members, variables, graph):
  """(kind, component, present, problems) of a weight-tied bidirectional
  RNN: one forward cell, no backward cell, and in the program's graph a
  loop over the reversed sequence that reads the forward cell's variables
  (one cell object passed as both cells); None if it is not one."""
  if len(members) != 1 or members[0][1] != "fw":
    return None
  _, _, name, kind, _ = members[0]
  single = _check(f"{scope}/fw", SINGLE, [(0, "fw", name, kind, None)],
                  variables)
  component = single[1]
  if component is None:
    return None
  names = set(component.variables())
  if not any(loop.reversed and names & loop.variables
             for loop in graph.loops()):
    return None
  path = f"fw/{name}"
  tied = dataclasses.replace(
      component, scope=scope, settings=CellSettings((path, path)),
      wiring=description_lib.Wiring(directions=2, tied=True))
  return kind, tied, single[2], single[3]


def _read_states(keras_model, layers):
  """(initial_state sources, state inputs) of a model `build` made: the
  model inputs each recurrent layer's call was given as `initial_state`,
  in the order of its cells."""
  import keras  # pylint: disable=g-import-not-at-top
  config = {l["name"]: l for l in keras_model.get_config().get("layers", [])}
  inputs = {t.name: t for t in keras_model.inputs}
  states, state_inputs = [], []
  for layer in layers:
    for node in config.get(layer.name, {}).get("inbound_nodes", []):
      history = _histories(node.get("kwargs", {}).get("initial_state"))
      for source in history:
        if source in inputs:
          states.append(source)
          tensor = inputs[source]
          state_inputs.append(description_lib.Input(
              source, int(tensor.shape[-1]),
              keras.backend.standardize_dtype(tensor.dtype), sequence=False))
        else:
          raise mapping.MappingError(
              f"layer {layer.name!r} starts from {source!r}, which is not a "
              "model input")
  return tuple(states), tuple(state_inputs)


def _histories(value):
  """Source layer names of the Keras tensors in a serialized argument."""
  if isinstance(value, dict):
    history = value.get("config", {}).get("keras_history")
    if value.get("class_name") == "__keras_tensor__" and history:
      return [history[0]]
    return [h for v in value.values() for h in _histories(v)]
  if isinstance(value, (list, tuple)):
    return [h for v in value for h in _histories(v)]
  return []


def _stacked(cell):
  return list(getattr(cell, "cells", [cell]))


def _stacked_named(rnn, renamed=""):
  """[(cell, its layer's or its own name)] of an RNN layer; `renamed`: the
  prefix `Bidirectional` gave its forward layer's name."""
  cells = getattr(rnn.cell, "cells", None)
  if cells:
    return [(c, c.name) for c in cells]
  return [(rnn.cell, rnn.name.removeprefix(renamed))]


def _paths(wiring, cell_names):
  """Each cell's path inside the scope, from the wiring and cell names."""
  layers = len(cell_names) // wiring[0]
  names = iter(cell_names)
  paths = []
  for layer in range(layers):
    for direction in ("fw", "bw")[:wiring[0]]:
      name = next(names)
      paths.append({
          SINGLE: name, BIDIRECTIONAL: f"{direction}/{name}",
          MULTI: f"multi_rnn_cell/cell_{layer}/{name}",
          BI_MULTI: f"{direction}/multi_rnn_cell/cell_{layer}/{name}",
          STACK_BI: f"cell_{layer}/bidirectional_rnn/{direction}/{name}"}[
              wiring])
  return tuple(paths)


def make(kind, units, input_dim, dtype, paths, wiring, scope=""):
  """The component of a TF1 cell RNN."""
  return description_lib.Component(
      kind, "rnn", dtype, tuple(units), input_dim,
      description_lib.Wiring(directions=wiring[0], stacking=wiring[1]),
      scope, base.get(kind).settings_type(tuple(paths)))


def _model(component):
  return description_lib.Description((component,))


def model(kind, wiring, units, input_dim, dtype, cell_names, scope=""):
  """The description of a TF1 RNN of `kind` cells, wired as TF1 wires them
  (`SINGLE`, `BIDIRECTIONAL`, `MULTI`, `BI_MULTI`, `STACK_BI`), each cell
  named as in TF1 (`gru_cell`, ...), layer by layer, forward before
  backward.

  Example:

  >>> model(GRU_CELL, MULTI, (5, 4), 3, "float32",
  ...       ("gru_cell", "gru_cell")).describe()
  'TF1 2-layer MultiRNNCell GRUCell: 5+4 units, 3 inputs, float32'
  """
  return _model(make(kind, units, input_dim, dtype, _paths(wiring,
                                                           cell_names),
                     wiring, scope))


_CELL_LAYER = re.compile(r"^cell_(\d+)$")
_SHARED = frozenset({"gates/kernel", "gates/bias"})
_CELL_KINDS = (GRU_CELL, GRU_BLOCK_CELL, CUDNN_COMPATIBLE)


def _cells(model_names):
  """{(kind, cell scope): names found}: every scope holding a TF1 cell's
  variable. The kind is the one whose own names are there (`gates/*` is
  shared by GRUCell and the cuDNN cells); a scope with `gates/*` only is a
  GRUCell lacking its candidate, reported as such."""
  suffixes = {n for kind in _CELL_KINDS for n in cells_lib.VARIABLES[kind]}
  by_scope = {}
  for name in model_names:
    for suffix in suffixes:
      if name.endswith("/" + suffix):
        by_scope.setdefault(name[:-len(suffix) - 1], set()).add(suffix)
  cells = {}
  for scope, found in by_scope.items():
    kinds = [k for k in _CELL_KINDS
             if (found - _SHARED) & set(cells_lib.VARIABLES[k])]
    cells[(kinds[0] if len(kinds) == 1 else GRU_CELL, scope)] = found
  return cells


def _place(cell_scope):
  """(scope, wiring, layer, direction, cell name) of a cell's scope."""
  parts = cell_scope.split("/")
  name, parts = parts[-1], parts[:-1]
  layer, direction, wiring = 0, "fw", SINGLE
  if len(parts) >= 2 and parts[-2] == "multi_rnn_cell" and _CELL_LAYER.match(
      parts[-1]):
    layer, wiring, parts = int(parts[-1][5:]), MULTI, parts[:-2]
  if parts and parts[-1] in ("fw", "bw"):
    direction, parts = parts[-1], parts[:-1]
    wiring = BI_MULTI if wiring == MULTI else BIDIRECTIONAL
    if (wiring == BIDIRECTIONAL and len(parts) >= 2 and
        parts[-1] == "bidirectional_rnn" and _CELL_LAYER.match(parts[-2])):
      layer, wiring, parts = int(parts[-2][5:]), STACK_BI, parts[:-2]
  return "/".join(parts), wiring, layer, direction, name


_FW_TOKEN = re.compile(r"(?<![A-Za-z])fw(?![A-Za-z])")


def _counterpart(name):
  """A forward cell's name with its `fw` token as `bw` (DeepSpeech2's
  `rnn_fw_3` -> `rnn_bw_3`), or None without one."""
  swapped = _FW_TOKEN.sub("bw", name)
  return swapped if swapped != name else None


def _layers(wiring, members):
  """[(members, problems)]: one RNN per layer of cells under one scope.

  Several cells in one (layer, direction) place are separate RNNs (several
  `dynamic_rnn` calls under one scope). Forward and backward cells pair by
  name: the same name, or the forward one's `fw` token as `bw`. Anything
  that pairs more than one way is one RNN with a problem naming the
  candidates; it is never picked.
  """
  places = {}
  for member in members:
    places.setdefault((member[0], member[1]), []).append(member)
  if all(len(cells) == 1 for cells in places.values()):
    return [(members, [])]
  names = sorted({m[2] for m in members}, key=tf1_graph.natural_key)
  if wiring == SINGLE:
    return [([m for m in members if m[2] == n], []) for n in names]
  if wiring == BIDIRECTIONAL:
    forward = sorted((m for m in members if m[1] == "fw"),
                     key=lambda m: tf1_graph.natural_key(m[2]))
    backward = {m[2]: m for m in members if m[1] == "bw"}
    pairs = [(f, backward.get(_counterpart(f[2]))) for f in forward]
    if (all(b is not None for _, b in pairs) and
        len(pairs) == len(backward)):
      return [([f, b], []) for f, b in pairs]
  return [(members, [
      f"its {len(members)} cells could form layers more than one way "
      f"(forward {sorted(m[2] for m in members if m[1] == 'fw')}, backward "
      f"{sorted(m[2] for m in members if m[1] == 'bw')}); none is picked"])]


def cell_layout(wiring, members):
  """(kind, layers, each cell's path, problems) of one RNN's cells
  `members` ((layer, direction, name, kind, ...)): one kind, layers 0..n-1,
  a cell in every (layer, direction)."""
  kinds = sorted({m[3] for m in members})
  problems = []
  if len(kinds) > 1:
    problems.append(f"its cells are of different kinds {kinds}")
  layers = sorted({m[0] for m in members})
  by_cell = {(m[0], m[1]): m for m in members}
  if layers != list(range(len(layers))):
    problems.append(f"its layers are {layers}, not 0..{len(layers) - 1}")
  expected = [(l, d) for l in layers for d in ("fw", "bw")[:wiring[0]]]
  missing = [c for c in expected if c not in by_cell]
  if missing:
    problems.append(f"it lacks the {missing[0][1]} cell of layer "
                    f"{missing[0][0]}")
  paths = _paths(wiring, tuple(by_cell[c][2] if c in by_cell else "?"
                               for c in expected))
  return kinds[0], layers, paths, problems


def _check(scope, wiring, members, variables):
  """(kind, component or None, present names, problems) of one RNN."""
  kind, layers, paths, problems = cell_layout(wiring, members)
  probe = make(kind, tuple(1 for _ in layers), 1, "float32", paths, wiring,
               scope)
  wanted = list(probe.variables())
  present = [c for c in wanted if c in variables]
  missing = sorted(c for c in wanted if c not in variables)
  if missing:
    problems.append(f"it lacks {missing}")
  if problems:
    return kind, None, present, problems
  dtypes = sorted({variables[c][1] for c in present})
  if len(dtypes) != 1:
    problems.append(f"its variables disagree in dtype: {dtypes}")
    return kind, None, present, problems
  cell = _cell_variables(kind)
  first, last = cells_lib.VARIABLES[cell][0], cells_lib.VARIABLES[cell][-1]
  units, input_dim = [], None
  for (layer, _, path) in _KINDS[kind].cell_list(probe):
    bias_name = description_lib.join(scope, f"{path}/{last}")
    bias = variables[bias_name][0]
    if len(bias) != 1:
      problems.append(f"{bias_name} has shape {bias}; a bias is 1-D")
      return kind, None, present, problems
    if layer == len(units):
      units.append(bias[0])
    kernel = variables[description_lib.join(scope, f"{path}/{first}")][0]
    if layer == 0 and input_dim is None and len(kernel) == 2:
      input_dim = kernel[0] - bias[0]
  try:
    component = make(kind, tuple(units), input_dim or 0, dtypes[0], paths,
                     wiring, scope)
  except ValueError as e:
    return kind, None, present, [str(e)]
  for name, shape in component.variables().items():
    got = variables[name][0]
    if got != shape:
      problems.append(f"{name!r} has shape {got}; with "
                      f"{'its bias' if 'bias' not in name else 'its kernels'}"
                      f" it needs {shape}")
  if problems:
    return kind, None, present, problems
  return kind, component, present, problems


def _with_opaque_kernel(found, variables):
  """Marks CudnnGRU layouts: a cuDNN-compatible stack (multi or stacked
  bidirectional, as CudnnGRU's saveable writes it) whose enclosing scope
  holds a `cudnn_gru/opaque_kernel` of its canonical size."""
  for rnn in found:
    if rnn.description is None:
      continue
    component = rnn.description.components[0]
    if component.kind != CUDNN_COMPATIBLE or _KINDS[
        CUDNN_COMPATIBLE].wiring(component) not in (MULTI, STACK_BI):
      continue
    outer, _, last = rnn.scope.rpartition("/")
    if last not in ("rnn", "stack_bidirectional_rnn"):
      continue
    name = description_lib.join(outer, OPAQUE_KERNEL)
    if variables.get(name) == ((_KINDS[CUDNN_GRU].opaque_size(component),),
                               component.dtype):
      component = dataclasses.replace(component, kind=CUDNN_GRU)
      rnn.description = _model(component)
      rnn.kind = _KINDS[CUDNN_GRU].describe(component)
      rnn.written_by = WRITTEN_BY[CUDNN_GRU]
      rnn.opaque = name


_KINDS = {kind: base.register(TF1GRUCells(kind)) for kind in KINDS}
