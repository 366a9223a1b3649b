"""TensorFlow's own TF1 LSTM cells, as component kinds.

Kinds: BasicLSTMCell, LSTMCell (with its options: peepholes, `num_proj`,
`cell_clip`, `proj_clip`), LSTMBlockCell (peepholes, `cell_clip`; the fused
op; also LSTMBlockFusedCell's `lstm_fused_cell`), CudnnCompatibleLSTMCell,
and CudnnLSTM (its Saver's canonical layout: a CudnnCompatibleLSTMCell
stack, plus `cudnn_lstm/opaque_kernel`, the same weights in cuDNN's
device-specific layout, listed and never read). `gru_common/tf1_lstm_cells.py` has their
variables and shapes. They are wired as TF1's GRU cells are
(`kinds/tf1_gru_cells.py`, whose wirings, cell paths, layer pairing and
Keras layer names these kinds share): single, bidirectional, MultiRNNCell
(also in each direction) and stacked bidirectional.

What the checkpoint does not hold, and where the kind takes it from, which
the summary and inspect say (`LSTMSettings.forget_bias_from`):
  the program's graph (its `.meta`): the constant added to the forget gate
    (LSTMBlockCell: the op's `forget_bias` attribute), the clip values;
  `--forget_bias`, which may not contradict the graph;
  otherwise TF 1.15's default for the kind (1.0; 0.0 for the cuDNN cell).
The cell's scope name tells the kind: `basic_lstm_cell`,
`cudnn_compatible_lstm_cell`, and `lstm_cell`, LSTMCell's and
LSTMBlockCell's default, which the graph tells apart (the fused
`LSTMBlockCell` op reads the kernel); a cell of another name is found where
the graph runs it.

The Keras models, for target "tf2" (RNN layers of `tf2.TF1LSTMCell`: TF1's
cell op for op, with its options and forget bias as config) and "keras"
(stock `keras.layers.LSTM`, for cells without peepholes, projection or
clipping), are laid out as the GRU cells' are. Stock Keras has gates i, f,
c, o where TF1 has i, j, f, o, multiplies x and h by two kernels, and has no
forget bias: the forget bias is folded into its bias (`mapping.Row.offset`),
which rounds, so the round trip through stock Keras is bitwise except the
forget gate's bias, within one ulp of the folded value; the model's name
records the forget bias (`model_names.Layout.forget_bias`), so converting
back subtracts the same one.
"""

import dataclasses

import numpy as np

from gru_common import tf1_lstm_cells as cells_lib
from gru_common import tolerances
from migration import description as description_lib
from migration import mapping
from migration import tf1_graph
from migration.kinds import base
from migration.kinds import tf1_gru_cells as gru

BASIC_LSTM_CELL = cells_lib.BASIC_LSTM_CELL
LSTM_CELL = cells_lib.LSTM_CELL
LSTM_BLOCK_CELL = cells_lib.LSTM_BLOCK_CELL
CUDNN_COMPATIBLE = cells_lib.CUDNN_COMPATIBLE
LAYER_NORM = cells_lib.LAYER_NORM
CUDNN_LSTM = "CudnnLSTM"
KINDS = cells_lib.CELLS + (CUDNN_LSTM,)
OPAQUE_KERNEL = "cudnn_lstm/opaque_kernel"
WRITTEN_BY = {
    BASIC_LSTM_CELL: "tf.nn.rnn_cell.BasicLSTMCell",
    LSTM_CELL: "tf.nn.rnn_cell.LSTMCell",
    LSTM_BLOCK_CELL: "tf.contrib.rnn.LSTMBlockCell",
    CUDNN_COMPATIBLE: "tf.contrib.cudnn_rnn.CudnnCompatibleLSTMCell",
    CUDNN_LSTM: "tf.contrib.cudnn_rnn.CudnnLSTM",
    LAYER_NORM: "tf.contrib.rnn.LayerNormBasicLSTMCell",
}
FUSED_OPS = {"LSTMBlockCell": 3, "BlockLSTM": 4, "BlockLSTMV2": 4}
#            the fused ops LSTMBlockCell runs: the index of their kernel input
# Where a forget bias came from.
FROM_DEFAULT = "TF 1.15's default"
FROM_GRAPH = "the program's graph"
FROM_FLAG = "--forget_bias"
FROM_MODEL = "the converted model"

# Keras's gate blocks i, f, c, o; TF1's i, j (c), f, o.
TF1_TO_KERAS_BLOCK = {0: 0, 1: 2, 2: 1, 3: 3}
FORGET_BLOCK = 2


@dataclasses.dataclass(frozen=True)
class LSTMSettings(gru.CellSettings):
  """A TF1 LSTM cell RNN's settings beyond its cell paths: what the
  checkpoint does not hold (the forget bias: None is the kind's default),
  and which options its cells have."""
  forget_bias: float = None
  forget_bias_from: str = FROM_DEFAULT
  peepholes: bool = False
  num_proj: int = None
  cell_clip: float = None
  proj_clip: float = None
  layer_norm: bool = False

  def options(self):
    """Its options as the words inspect prints."""
    words = ["layer norm"] if self.layer_norm else []
    words += ["peepholes"] if self.peepholes else []
    words += [f"{name} {getattr(self, name)}"
              for name in ("num_proj", "cell_clip", "proj_clip")
              if getattr(self, name) is not None]
    return words


def keras_rows(forget_bias):
  """The table to a stock Keras LSTM: TF1's [x; h] kernel split into
  kernel and recurrent_kernel, gate blocks reordered, the forget bias added
  to the forget gate's bias."""
  rows = []
  for tf1_block, keras_block in TF1_TO_KERAS_BLOCK.items():
    rows += [
        mapping.Row(cells_lib.KERNEL, "kernel", mapping.X, tf1_block, None,
                    keras_block),
        mapping.Row(cells_lib.KERNEL, "recurrent_kernel", mapping.H,
                    tf1_block, None, keras_block),
        mapping.Row(cells_lib.BIAS, "bias", None, tf1_block, None,
                    keras_block,
                    offset=forget_bias if tf1_block == FORGET_BLOCK else 0.0)]
  return tuple(rows)


class TF1LSTMCells(gru.TF1GRUCells):
  """One of TensorFlow's TF1 LSTM cell kinds, in any wiring."""

  settings_type = LSTMSettings
  initial_states = False
  stock_bound = tolerances.TF1_LSTM_STOCK

  def __init__(self, name):
    self.name = name
    self.cell = CUDNN_COMPATIBLE if name == CUDNN_LSTM else name
    self.first_variable = cells_lib.KERNEL
    if name == LSTM_CELL:   # One hint for every LSTM kind.
      self.looks_like = "TF1 LSTM cell '.../lstm_cell/kernel' [in+u, 4u]"

  # The description.

  def forget_bias(self, component):
    value = component.settings.forget_bias
    return cells_lib.FORGET_BIAS[self.cell] if value is None else value

  def check(self, component):
    super().check(component)
    settings = component.settings
    if component.wiring.initial_state:
      raise description_lib.SpecError(
          f"the {self.describe(component)} starts from zeros here: LSTM "
          "layers started from other states are not supported yet")
    if settings.peepholes and self.cell not in cells_lib.PEEPHOLES:
      raise description_lib.SpecError(f"a {self.name} has no peepholes")
    if settings.num_proj is not None and self.cell not in (
        cells_lib.PROJECTION):
      raise description_lib.SpecError(f"a {self.name} has no projection")
    if settings.cell_clip is not None and self.cell not in (
        cells_lib.CELL_CLIP):
      raise description_lib.SpecError(f"a {self.name} does not clip")
    if settings.layer_norm and self.cell != LAYER_NORM:
      raise description_lib.SpecError(f"a {self.name} has no layer norm")
    if settings.proj_clip is not None and settings.num_proj is None:
      raise description_lib.SpecError("proj_clip clips a projection; there "
                                      "is none")

  def width(self, component):
    last = component.settings.num_proj or component.units[-1]
    return last * component.wiring.directions

  def layer_input(self, component, layer):
    if layer == 0:
      return component.input_dim
    return (component.settings.num_proj or component.units[layer - 1]) * (
        component.wiring.directions
        if component.wiring.stacking == description_lib.LAYERS else 1)

  def cell_shapes(self, component, layer):
    settings = component.settings
    input_dim = self.layer_input(component, layer)
    return cells_lib.shapes(self.cell, input_dim, component.units[layer],
                            settings.peepholes, settings.num_proj,
                            settings.layer_norm)

  def describe(self, component):
    settings = component.settings
    options = settings.options()
    return (f"TF1 {self.wiring_text(component)}{self.name}"
            f"{' with ' + ', '.join(options) if options else ''} (forget "
            f"bias {self.forget_bias(component)}, from "
            f"{settings.forget_bias_from})")

  def stack(self, components):
    first = components[0]
    if any(_options(c.settings) != _options(first.settings)
           for c in components):
      raise description_lib.SpecError(
          f"the layers under {first.scope!r} differ in their options or "
          "forget bias")
    stacked = super().stack(components)
    return dataclasses.replace(stacked, settings=dataclasses.replace(
        first.settings, paths=stacked.settings.paths))

  def graph_bound(self, component, ops):
    """Bitwise for the plain cells' ops. Not bitwise where the graph runs
    the fused op (LSTMBlockCell and the cuDNN cell, in float32: it evaluates
    the cell in its own order), nor for cells with peepholes, projection or
    clipping (`tolerances.TF1_LSTM_OPTIONS`)."""
    if component.settings.options():
      return tolerances.TF1_LSTM_OPTIONS
    if (self.cell in (LSTM_BLOCK_CELL, CUDNN_COMPATIBLE) or
        set(FUSED_OPS) & set(ops)):
      return tolerances.TF1_CELL_FLOAT32_NOT_BITWISE
    return tolerances.BITWISE

  def with_forget_bias(self, component, value):
    """`component` with the forget bias `value` (`--forget_bias`), which
    may not contradict the program's graph."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
      raise description_lib.SpecError(f"must be a number, got {value!r}")
    settings = component.settings
    if settings.forget_bias_from == FROM_GRAPH:
      if float(value) != self.forget_bias(component):
        raise description_lib.SpecError(
            f"contradicts the program's graph, whose {self.name}s add "
            f"{self.forget_bias(component)} to the forget gate")
      return component
    return dataclasses.replace(component, settings=dataclasses.replace(
        settings, forget_bias=float(value), forget_bias_from=FROM_FLAG))

  def with_learned_states(self, component, states):
    raise description_lib.SpecError(
        f"the {self.describe(component)}: learned initial states of LSTM "
        "layers are not supported yet")

  # The mapping.

  def check_target(self, component, target):
    options = component.settings.options()
    if target == mapping.KERAS and options:
      raise mapping.MappingError(
          f"the {self.describe(component)} has no stock Keras layer (Keras's "
          f"LSTM has no {', '.join(options)}): use target 'tf2', whose "
          "TF1LSTMCell computes it")

  def rows(self, component, target):
    if target == mapping.TF2:
      return tuple(mapping.Row(n, cells_lib.weight_name(n))
                   for n in self.cell_shapes(component, 0))
    return keras_rows(self.forget_bias(component))

  # The Keras model.

  def keras_cell(self, component, target, units, path):
    import keras  # pylint: disable=g-import-not-at-top
    from tf2 import tf1_lstm_cell  # pylint: disable=g-import-not-at-top
    name = tf1_graph.layer_name(path)
    if target == mapping.TF2:
      settings = component.settings
      return tf1_lstm_cell.TF1LSTMCell(
          units, self.cell, forget_bias=self.forget_bias(component),
          use_peepholes=settings.peepholes, num_proj=settings.num_proj,
          cell_clip=settings.cell_clip, proj_clip=settings.proj_clip,
          layer_norm=settings.layer_norm, dtype=component.dtype, name=name)
    return keras.layers.LSTMCell(units, dtype=component.dtype, name=name)

  def keras_rnn(self, component, target, units, path, backwards, common):
    import keras  # pylint: disable=g-import-not-at-top
    name = tf1_graph.layer_name(path)
    if target == mapping.TF2:
      return keras.layers.RNN(self.keras_cell(component, target, units, path),
                              go_backwards=backwards, name=name, **common)
    return keras.layers.LSTM(units, go_backwards=backwards, name=name,
                             **common)

  def tf2_cell_type(self):
    from tf2 import tf1_lstm_cell  # pylint: disable=g-import-not-at-top
    return tf1_lstm_cell.TF1LSTMCell

  def read_input_dim(self, cell, tf2_cell):
    """A TF1LSTMCell's kernel is TF1's, [in+h, 4u]; a stock LSTMCell's is
    [in, 4u]."""
    first = int(cell.weights[0].shape[0])
    return first - int(cell.output_size) if tf2_cell else first

  def read_settings(self, component, cells, tf2_cells, keras_model):
    """A TF1LSTMCell records its options and forget bias; a stock model's
    name records the forget bias folded into it."""
    from migration import model_names  # pylint: disable=g-import-not-at-top
    settings = component.settings
    if tf2_cells:
      first = cells[0]
      for cell in cells[1:]:
        if _cell_options(cell) != _cell_options(first):
          raise description_lib.SpecError(
              f"its cells {first.name!r} and {cell.name!r} differ in their "
              "options or forget bias")
      if first.kind != self.cell:
        raise description_lib.SpecError(
            f"its cells are {first.kind}s; its name records {self.cell}s")
      options = _cell_options(first)
      settings = dataclasses.replace(settings, forget_bias_from=FROM_MODEL,
                                     **options)
    else:
      recorded = model_names.parse(keras_model.name)[1].forget_bias
      settings = dataclasses.replace(
          settings, forget_bias=float(recorded) if recorded else None,
          forget_bias_from=(FROM_MODEL if recorded else FROM_DEFAULT))
    return dataclasses.replace(component, settings=settings)

  # Detection.

  def detect(self, model_names, variables, graph=None):
    """Every TF1 LSTM cell RNN, of every LSTM kind (found together), so
    only the LSTMCell kind's instance detects."""
    from migration import detection  # pylint: disable=g-import-not-at-top
    if self.name != LSTM_CELL:
      return []
    groups = {}
    for cell_scope, kind in sorted(_cells(model_names, variables,
                                          graph).items()):
      scope, wiring, layer, direction, name = gru._place(cell_scope)  # pylint: disable=protected-access
      groups.setdefault((scope, wiring), []).append(
          (layer, direction, name, kind, None))
    found = []
    for (scope, wiring), members in sorted(
        groups.items(), key=lambda item: (item[0][0],
                                          gru.WIRING_NAMES[item[0][1]])):
      for layer, problems in gru._layers(wiring, members):  # pylint: disable=protected-access
        kind, component, present, more = _check(scope, wiring, layer,
                                                variables, graph)
        rnn = detection.FoundRNN(
            _KINDS[kind].describe(component) if component else
            f"TF1 {kind}", scope, names=set(present),
            problems=problems + more, written_by=WRITTEN_BY[kind])
        if component is not None and not problems:
          rnn.description = description_lib.Description((component,))
        found.append(rnn)
    _with_opaque_kernel(found, variables)
    return found


def _options(settings):
  return {f.name: getattr(settings, f.name)
          for f in dataclasses.fields(settings) if f.name not in (
              "paths", "learned")}


def _cell_options(cell):
  return {"forget_bias": cell.forget_bias, "peepholes": cell.use_peepholes,
          "num_proj": cell.num_proj, "cell_clip": cell.cell_clip,
          "proj_clip": cell.proj_clip, "layer_norm": cell.layer_norm}


_BY_NAME = {cells_lib.DEFAULT_NAME[k]: k for k in (
    BASIC_LSTM_CELL, LSTM_CELL, CUDNN_COMPATIBLE, LAYER_NORM)}
_BY_NAME["lstm_fused_cell"] = LSTM_BLOCK_CELL   # LSTMBlockFusedCell's


def _cells(model_names, variables, graph):
  """{cell scope: kind} of every scope holding an LSTM cell's kernel and
  bias: by its default name, or, named otherwise, where the program's
  graph runs the kernel in a step (a dense layer's `kernel` is no cell)."""
  names = set(model_names)
  found = {}
  for name in sorted(names):
    if not name.endswith("/" + cells_lib.KERNEL):
      continue
    scope = name[:-len(cells_lib.KERNEL) - 1]
    if not ({f"{scope}/{cells_lib.BIAS}",
             f"{scope}/{cells_lib.LAYER_NORM_NAMES[0]}"} & names) or (
                 scope.endswith("/projection")):
      continue
    cell_name = scope.rpartition("/")[2]
    fused = graph is not None and _runs_fused(graph, name)
    kind = _BY_NAME.get(cell_name)
    if kind is None:
      if graph is None or not (fused or any(
          _gate_split(ops, m) for ops in graph.op_sets()
          for m in _step_matmuls(ops, name))):
        continue
      shape = variables[name][0]
      if len(shape) != 2 or shape[1] % 4:
        continue
      kind = LSTM_CELL
    if fused and kind == LSTM_CELL:
      kind = LSTM_BLOCK_CELL
    found[scope] = kind
  return found


def _fused(ops, kernel):
  """The fused LSTM ops among `ops` (`tf1_graph.Ops`) reading `kernel`."""
  found = []
  for name in sorted(ops.nodes):
    node = ops.nodes[name]
    index = FUSED_OPS.get(node.op)
    if index is not None and len(node.input) > index and (
        ops.variable_of(node.input[index]) == kernel):
      found.append(node)
  return found


def _runs_fused(graph, kernel):
  """Whether the program's graph runs a fused LSTM op over `kernel`."""
  return any(_fused(ops, kernel) for ops in graph.op_sets())


def _step_matmuls(ops, kernel):
  """The MatMul nodes among `ops` that multiply by `kernel` (one per step
  unrolled, one in a loop's body)."""
  return [node for _, node in sorted(ops.nodes.items())
          if node.op == "MatMul" and len(node.input) > 1 and
          ops.variable_of(node.input[1]) == kernel]


_ADD_OPS = ("Add", "AddV2")


def graph_settings(graph, kernel):
  """{setting: {values}} the program's graph shows for the LSTM cell whose
  kernel is `kernel`: its forget bias, cell clip and projection clip, from
  the fused op's attributes or the constants its steps add and clip with
  (in the graph or a TF2 loop's body); {} where it runs no step of it."""
  found = {}
  for ops in graph.op_sets():
    for node in _fused(ops, kernel):
      # The attributes are float32, which the op casts to its dtype: kept
      # exactly (0.3 is 0.30000001192092896), as a float64 op uses them.
      forget_bias, clip = (node.attr[a].f if a in node.attr else -1.0
                           for a in ("forget_bias", "cell_clip"))
      found.setdefault("forget_bias", set()).add(forget_bias)
      found.setdefault("cell_clip", set()).add(clip if clip > 0 else None)
    for matmul in _step_matmuls(ops, kernel):
      # The gates split after the bias (LayerNormBasicLSTMCell: no bias).
      split = _gate_split(ops, matmul)
      if split is None:
        continue
      forget = f"{split}:{FORGET_BLOCK}"
      biases = {ops.constant(other)
                for consumer in ops.consumers.get(split, ())
                if ops.nodes[consumer].op in _ADD_OPS
                and forget in ops.nodes[consumer].input
                for other in ops.nodes[consumer].input if other != forget}
      scope = matmul.name.rpartition("/")[0] + "/"
      if not biases:
        # A normalized forget gate: the constant added where a sigmoid of
        # the step reads a sum.
        biases = {ops.constant(i) for name, node in ops.nodes.items()
                  if node.op == "Sigmoid" and name.startswith(scope)
                  for add in node.input[:1]
                  if ops.nodes.get(add.split(":")[0]) is not None and
                  ops.nodes[add.split(":")[0]].op in _ADD_OPS
                  for i in ops.nodes[add.split(":")[0]].input} - {None}
      found.setdefault("forget_bias", set()).update(biases or {None})
      clips = {"cell_clip": set(), "proj_clip": set()}
      for name, node in ops.nodes.items():
        if node.op != "Minimum" or not name.startswith(scope):
          continue
        values = [ops.constant(i) for i in node.input]
        value = next((v for v in values if v is not None), None)
        other = next((i for i, v in zip(node.input, values) if v is None),
                     None)
        if value is not None and other is not None:
          source = ops.nodes.get(other.split(":")[0])
          role = ("proj_clip" if source is not None and source.op == "MatMul"
                  else "cell_clip")
          clips[role].add(value)
      for role, values in clips.items():
        found.setdefault(role, set()).update(values or {None})
  return found


def _gate_split(ops, matmul):
  """The `Split` of a step's [x; h] product (after its bias, if any) into
  an LSTM's four gates, or None (a GRU's gates split in two)."""
  split = _only(ops, _only(ops, matmul.name, ("BiasAdd",)) or matmul.name,
                ("Split",))
  if split is None or ops.nodes[split].attr["num_split"].i != 4:
    return None
  return split


def _only(ops, name, types):
  """The one consumer of node `name` whose op is in `types`, or None."""
  if name is None:
    return None
  found = [c for c in ops.consumers.get(name, ())
           if ops.nodes[c].op in types]
  return found[0] if len(found) == 1 else None


def _check(scope, wiring, members, variables, graph):
  """(kind, component or None, present names, problems) of one LSTM RNN."""
  kind, layers, paths, problems = gru.cell_layout(wiring, members)
  cells = [description_lib.join(scope, p) for p in paths]
  known = set(cells_lib.variables(kind, True, True)) | set(
      cells_lib.variables(kind, layer_norm=True))
  present = sorted(n for c in cells for n in variables
                   if n.startswith(c + "/") and n[len(c) + 1:] in known)
  if problems:
    return kind, None, present, problems
  dtypes = sorted({variables[n][1] for n in present})
  if len(dtypes) != 1:
    return kind, None, present, [f"its variables disagree in dtype: "
                                 f"{dtypes}"]
  peepholes = {all(f"{c}/{n}" in variables for n in cells_lib.PEEPHOLE_NAMES)
               for c in cells}
  partial = [c for c in cells if any(
      f"{c}/{n}" in variables for n in cells_lib.PEEPHOLE_NAMES) and not all(
          f"{c}/{n}" in variables for n in cells_lib.PEEPHOLE_NAMES)]
  projections = {variables.get(f"{c}/{cells_lib.PROJECTION_KERNEL}",
                               ((None, None),))[0][-1] for c in cells}
  norms = {all(f"{c}/{n}" in variables for n in cells_lib.LAYER_NORM_NAMES)
           for c in cells}
  partial += [c for c in cells if any(
      f"{c}/{n}" in variables for n in cells_lib.LAYER_NORM_NAMES) and not all(
          f"{c}/{n}" in variables for n in cells_lib.LAYER_NORM_NAMES)]
  if partial:
    problems.append(f"{partial[0]!r} has some of the peepholes "
                    f"{list(cells_lib.PEEPHOLE_NAMES)} or layer-norm "
                    "variables, not all")
  if len(norms) > 1:
    problems.append("its cells differ in layer norm")
  layer_norm = norms.pop()
  if layer_norm and kind != LAYER_NORM:
    problems.append(f"it has layer-norm variables, which a {kind} has none "
                    "of")
  if len(peepholes) > 1 or len(projections) > 1:
    problems.append("its cells differ in peepholes or projection")
  peephole, num_proj = peepholes.pop(), projections.pop()
  if peephole and kind not in cells_lib.PEEPHOLES:
    problems.append(f"it has peephole variables, which a {kind} has none of")
  if num_proj is not None and kind not in cells_lib.PROJECTION:
    problems.append(f"it has a projection, which a {kind} has none of")
  if problems:
    return kind, None, present, problems
  units = []
  for layer in layers:
    cell = cells[layer * wiring[0]]
    kernel = variables[f"{cell}/{cells_lib.KERNEL}"][0]
    width = ((kernel[1],) if layer_norm else
             variables.get(f"{cell}/{cells_lib.BIAS}", ((None,),))[0])
    if len(width) != 1 or len(kernel) != 2 or kernel[1] % 4 or (
        kernel[1] != width[0]):
      what = ("" if layer_norm else f" and bias {width}")
      return kind, None, present, [
          f"{cell}/kernel {kernel}{what} are not an LSTM's [in+u, 4u]"
          f"{'' if layer_norm else ' and [4u]'}: the kernel's width is not "
          "4 units"]
    units.append(kernel[1] // 4)
  first = variables[f"{cells[0]}/{cells_lib.KERNEL}"][0]
  settings = dict(peepholes=peephole, num_proj=num_proj,
                  layer_norm=layer_norm)
  if graph is not None:
    problems += _from_graph(graph, cells, kind, settings)
  if problems:
    return kind, None, present, problems
  input_dim = first[0] - (num_proj or units[0])
  try:
    component = gru.make(kind, tuple(units), input_dim, dtypes[0], paths,
                         wiring, scope)
    component = dataclasses.replace(component, settings=dataclasses.replace(
        component.settings, **settings))
    _KINDS[kind].check(component)
  except (ValueError, description_lib.SpecError) as e:
    return kind, None, present, [str(e)]
  for name, shape in component.variables().items():
    got = variables.get(name, (None,))[0]
    if got != tuple(shape):
      problems.append(f"{name!r} has shape {got}; with its bias "
                      f"[4 x {units[0]}] and projection to {num_proj} the "
                      f"cell needs {shape}" if num_proj else
                      f"{name!r} has shape {got}; the cell needs {shape}")
  if problems:
    return kind, None, present, problems
  return kind, component, present, problems


def _from_graph(graph, cells, kind, settings):
  """Adds to `settings` what the program's graph shows of the cells (the
  forget bias, the clips); returns problems."""
  shown = {}
  for cell in cells:
    for key, values in graph_settings(
        graph, f"{cell}/{cells_lib.KERNEL}").items():
      shown.setdefault(key, set()).update(values)
  if not shown:
    return []
  problems = []
  for key in ("forget_bias", "cell_clip", "proj_clip"):
    values = shown.get(key, set())
    if len(values) > 1:
      problems.append(f"its cells' {key.replace('_', ' ')} differs in the "
                      f"program's graph: {sorted(values, key=str)}")
    elif values and None not in values:
      settings[key] = values.pop()
  if "forget_bias" in settings:
    settings["forget_bias_from"] = FROM_GRAPH
  del kind
  return problems


def _with_opaque_kernel(found, variables):
  """Marks CudnnLSTM layouts: a cuDNN-compatible stack (multi or stacked
  bidirectional, as CudnnLSTM's saveable writes it) whose enclosing scope
  holds a `cudnn_lstm/opaque_kernel` of the stack's size: its canonical
  weights, with cuDNN's input and recurrent biases (8u per cell) or with
  their sum as the saveable stores it (4u)."""
  for rnn in found:
    if rnn.description is None:
      continue
    component = rnn.description.components[0]
    wiring = (component.wiring.directions, component.wiring.stacking)
    if component.kind != CUDNN_COMPATIBLE or wiring not in (gru.MULTI,
                                                           gru.STACK_BI):
      continue
    outer, _, last = rnn.scope.rpartition("/")
    if last not in ("rnn", "stack_bidirectional_rnn"):
      continue
    name = description_lib.join(outer, OPAQUE_KERNEL)
    canonical = sum(int(np.prod(s)) for s in component.variables().values())
    biases = sum(4 * u for u in component.units) * wiring[0]
    if variables.get(name) in (((canonical,), component.dtype),
                               ((canonical + biases,), component.dtype)):
      component = dataclasses.replace(component, kind=CUDNN_LSTM)
      rnn.description = description_lib.Description((component,))
      rnn.kind = _KINDS[CUDNN_LSTM].describe(component)
      rnn.written_by = WRITTEN_BY[CUDNN_LSTM]
      rnn.opaque = name


_KINDS = {kind: base.register(TF1LSTMCells(kind)) for kind in KINDS}
