"""The Keras models a legacy model converts into, and back.

For a `ModelSpec` and a target:

    target "tf2" (this project's layers)     target "keras" (stock Keras only)
    ScanGRU / LoopGRU, name "gru"             keras.layers.GRU(reset_after=False)
    Bidirectional(LoopGRU), name "bigru"      Bidirectional(GRU), name "bigru"
    PerSequenceDense(1), name "output"        Dense(1), name "output"
    GlobalAveragePooling1D + Dense(classes),  the same
      name "classifier"

Inputs are [batch, time, input_dim] with any time length, in the legacy
dtype. The model's name records the legacy family ("legacy_scan_gru" or
"legacy_loop_gru"), since a stock Keras GRU cannot tell which source GRU its
weights came from, and where its variables sat in the TF1 checkpoint (an
`inventory.Layout`, each field that is not the default as `-field-value`).
A model's name must be a valid TensorFlow root scope name, or `predict` and
`fit` fail, so a value writes '/' as '>' and any character but letters,
digits and '_' as '.' and two hex digits:

    legacy_loop_gru-scope-model>encoder-head_scope--global_step-int64

`spec_from_model` and `layout_from_model` read them back, so a conversion
back to TF1 writes the names the checkpoint had.

A stock `keras.layers.GRU` always has a reset gate, so the tutorial's variant
without one converts only to this project's `LoopGRU(reset_gate=False)`.
"""

import dataclasses

import keras

from gru_common import names
from migration import inventory
from migration import mapping
from migration import spec as spec_lib
from migration import tf1_cells
import tf2
from tf2 import tf1_gru_cell

MODEL_NAMES = {spec_lib.SCAN: "legacy_scan_gru", spec_lib.LOOP:
               "legacy_loop_gru"}
# TensorFlow's own cells: the model name records the kind (stock Keras
# cannot tell GRUCell from GRUBlockCell, or CudnnGRU from its compatible
# cell), each recurrent layer's name its cells' path in the TF1 scope.
CELL_MODEL_NAMES = {kind: f"tf1_{kind}" for kind in tf1_cells.KINDS}
BIDIRECTIONAL_LAYER = "bidirectional"
_LAYOUT_FIELDS = tuple(f.name for f in dataclasses.fields(inventory.Layout))


def _encode(value):
  return "".join(c if c.isalnum() or c == "_" else ">" if c == "/" else
                 f".{ord(c):02x}" for c in value)


def _decode(value):
  out, i = [], 0
  while i < len(value):
    c = value[i]
    if c == ">":
      out.append("/")
    elif c == ".":
      out.append(chr(int(value[i + 1:i + 3], 16)))
      i += 2
    else:
      out.append(c)
    i += 1
  return "".join(out)


def model_name(family, layout=inventory.Layout()):
  """The converted model's name: family (or TF1 cell kind) and non-default
  layout fields."""
  name = MODEL_NAMES.get(family) or CELL_MODEL_NAMES[family]
  for field in _LAYOUT_FIELDS:
    value = getattr(layout, field)
    if value != getattr(inventory.Layout(), field):
      if any(ord(c) > 0xff for c in value):
        raise mapping.MappingError(f"{field} {value!r}: only Latin-1 "
                                   "scope names can be recorded")
      name += f"-{field}-{_encode(value)}"
  return name


def parse_model_name(name):
  """(family or None, Layout) that `model_name` recorded in `name`.

  Also reads the earlier form `base@field=value` ('/' written ':')."""
  if "@" in name:
    base, *fields = name.split("@")
    pairs = [f.partition("=") for f in fields]
    pairs = [(k, e, v.replace(":", "/")) for k, e, v in pairs]
  else:
    base, *tokens = name.split("-")
    pairs = [(k, "=", _decode(v)) for k, v in zip(tokens[::2], tokens[1::2])]
    if len(tokens) % 2:
      pairs.append((tokens[-1], "", ""))
  family = {v: k for k, v in MODEL_NAMES.items()}.get(base)
  if base in CELL_MODEL_NAMES.values():
    family = tf1_cells.FAMILY
  if family is None:
    return None, inventory.Layout()
  values = {}
  for key, equals, value in pairs:
    if key not in _LAYOUT_FIELDS or not equals:
      raise mapping.MappingError(
          f"model name {name!r}: {key!r} is not a layout field "
          f"({', '.join(_LAYOUT_FIELDS)}) followed by its value")
    values[key] = value
  if values.get("global_step", inventory.GLOBAL_STEP_DTYPES[0]) not in (
      inventory.GLOBAL_STEP_DTYPES):
    raise mapping.MappingError(
        f"model name {name!r}: global_step must be one of "
        f"{inventory.GLOBAL_STEP_DTYPES}, got {values['global_step']!r}")
  return family, inventory.Layout(**values)


def layout_from_model(model):
  """Where `model`'s variables go in a TF1 checkpoint (from its name)."""
  return parse_model_name(model.name)[1]


def build(spec, target, layout=inventory.Layout()):
  """An unweighted Keras model for `spec` in `target`'s layers, named for
  `spec.family` and `layout`."""
  if target not in mapping.TARGETS:
    raise mapping.MappingError(
        f"target must be one of {mapping.TARGETS}, got {target!r}")
  if spec.family == tf1_cells.FAMILY:
    return _build_cells(spec, target, layout)
  dtype = spec.dtype
  if target == mapping.KERAS and not spec.reset_gate:
    raise mapping.MappingError(
        "keras.layers.GRU always has a reset gate; the tutorial's GRU "
        "without one converts only to this project's layers (target 'tf2')")
  if target == mapping.TF2:
    cls = tf2.ScanGRU if spec.family == spec_lib.SCAN else tf2.LoopGRU
    extra = {} if spec.family == spec_lib.SCAN else {
        "reset_gate": spec.reset_gate}
    gru = cls(spec.units, return_sequences=True, dtype=dtype,
              name=names.GRU_LAYER, **extra)
  else:
    gru = keras.layers.GRU(spec.units, activation="tanh",
                           recurrent_activation="sigmoid", reset_after=False,
                           return_sequences=True, dtype=dtype,
                           name=names.GRU_LAYER)
  inputs = keras.Input((None, spec.input_dim), dtype=dtype,
                       name=names.INPUT_LAYER)
  if spec.bidirectional:
    # Bidirectional casts its output to its own dtype: give it the model's.
    gru = keras.layers.Bidirectional(gru, name=names.BIGRU_LAYER,
                                     dtype=dtype)
  outputs = gru(inputs)
  if spec.head == spec_lib.ADDITION:
    name = mapping.HEAD_LAYER[spec.head]
    head = (tf2.PerSequenceDense(1, dtype=dtype, name=name)
            if target == mapping.TF2 else
            keras.layers.Dense(1, dtype=dtype, name=name))
    outputs = head(outputs)
  elif spec.head == spec_lib.CLASSIFIER:
    outputs = keras.layers.GlobalAveragePooling1D(
        dtype=dtype, name=names.POOLING_LAYER)(outputs)
    outputs = keras.layers.Dense(spec.head_units, dtype=dtype,
                                 name=mapping.HEAD_LAYER[spec.head])(outputs)
  return _model_class(target)(inputs, outputs,
                              name=model_name(spec.family, layout))


def _model_class(target):
  """`tf2.ExactModel` for this project's layers (its `predict`, `evaluate`
  and `fit` keep float64 data float64); a plain functional `keras.Model` for
  stock Keras, which must load without this project."""
  return tf2.ExactModel if target == mapping.TF2 else keras.Model


def _layer_name(path):
  """A TF1 cell path as a Keras layer name ('/' written '>': a valid
  TensorFlow scope name, as `predict` needs)."""
  return path.replace("/", ">")


def _build_cells(spec, target, layout):
  """The Keras model of TF1 cells: GRU layers (stock Keras), or RNN layers
  of `tf2.TF1GRUCell` (target "tf2"), wired as the TF1 program wired its
  cells:

      single                GRU
      bidirectional         Bidirectional(GRU, backward GRU)
      MultiRNNCell stack    GRU, GRU, ... (one layer per cell)
      bidirectional stack   Bidirectional(RNN([cells]), RNN([cells]))
      stacked BiRNN         Bidirectional(GRU), Bidirectional(GRU), ...

  Each recurrent layer (or stacked cell) is named by its TF1 cell path, and
  masked steps output zeros (`zero_output_for_mask`), as TF1's
  `sequence_length` does."""
  dtype = spec.dtype
  kind = (tf1_gru_cell.CUDNN_COMPATIBLE if spec.kind == tf1_cells.CUDNN_GRU
          else spec.kind if spec.kind in tf1_gru_cell.VARIABLES else
          tf1_gru_cell.GRU_CELL)
  common = {"return_sequences": True, "zero_output_for_mask": True,
            "dtype": dtype}

  def cell(units, path):
    if target == mapping.TF2:
      return tf1_gru_cell.TF1GRUCell(units, kind, dtype=dtype,
                                     name=_layer_name(path))
    return keras.layers.GRUCell(units, reset_after=spec.reset_after,
                                dtype=dtype, name=_layer_name(path))

  def rnn(units, path, backwards=False):
    if target == mapping.TF2:
      return keras.layers.RNN(cell(units, path), go_backwards=backwards,
                              name=_layer_name(path), **common)
    return keras.layers.GRU(units, reset_after=spec.reset_after,
                            go_backwards=backwards, name=_layer_name(path),
                            **common)

  def bidirectional(forward, backward, name):
    # Bidirectional casts its output to its own dtype: give it the model's.
    return keras.layers.Bidirectional(forward, backward_layer=backward,
                                      name=name, dtype=dtype)

  paths = [p for _, _, p in spec.cells()]
  inputs = keras.Input((None, spec.input_dim), dtype=dtype,
                       name=names.INPUT_LAYER)
  x = inputs
  w, units = spec.wiring, spec.units
  if w in (tf1_cells.SINGLE, tf1_cells.MULTI):
    for u, path in zip(units, paths):
      x = rnn(u, path)(x)
  elif w == tf1_cells.BIDIRECTIONAL:
    x = bidirectional(rnn(units[0], paths[0]), rnn(units[0], paths[1], True),
                      BIDIRECTIONAL_LAYER)(x)
  elif w == tf1_cells.BI_MULTI:
    forward = keras.layers.RNN([cell(u, p) for u, p in zip(units, paths[::2])],
                               name="fw", **common)
    backward = keras.layers.RNN(
        [cell(u, p) for u, p in zip(units, paths[1::2])], go_backwards=True,
        name="bw", **common)
    x = bidirectional(forward, backward, BIDIRECTIONAL_LAYER)(x)
  else:
    for i, u in enumerate(units):
      x = bidirectional(rnn(u, paths[2 * i]), rnn(u, paths[2 * i + 1], True),
                        f"cell_{i}>bidirectional_rnn")(x)
  return _model_class(target)(inputs, x, name=model_name(spec.kind, layout))


def cell_spec_from_model(model):
  """The `tf1_cells.CellSpec` of a model `_build_cells` made (kind from the
  model's name, wiring from its layers, cell names from their names)."""
  base = model.name.split("@")[0].split("-")[0]
  kind = {v: k for k, v in CELL_MODEL_NAMES.items()}[base]
  layers = _layers(model)
  cells = mapping.keras_cells(model)
  bidirectional = [l for l in layers
                   if isinstance(l, keras.layers.Bidirectional)]
  if not bidirectional:
    wiring = tf1_cells.SINGLE if len(layers) == 1 else tf1_cells.MULTI
  elif len(bidirectional) > 1:
    wiring = tf1_cells.STACK_BI
  elif len(cells) > 2:
    wiring = tf1_cells.BI_MULTI
  else:
    wiring = (tf1_cells.BI_MULTI if hasattr(
        bidirectional[0].forward_layer.cell, "cells") else
              tf1_cells.BIDIRECTIONAL)
  if not cells:
    raise mapping.MappingError(f"model {model.name!r} has no recurrent layer")
  step = 2 if bidirectional else 1
  units = tuple(int(c.units) for c in cells[::step])
  kernel = cells[0].weights[0] if cells[0].weights else None
  if kernel is None:
    raise mapping.MappingError(f"model {model.name!r} is not built")
  first = int(kernel.shape[0])
  # A TF1GRUCell's first weight is the TF1 gates kernel [in+u, 2u]; a stock
  # GRUCell's is its kernel [in, 3u].
  input_dim = first - units[0] if isinstance(
      cells[0], tf1_gru_cell.TF1GRUCell) else first
  cell_names = tuple(n.rpartition(">")[2] for n in _cell_paths(model))
  try:
    return tf1_cells.CellSpec(
        kind, wiring, units, input_dim,
        keras.backend.standardize_dtype(kernel.dtype), cell_names)
  except spec_lib.SpecError as e:
    raise mapping.MappingError(f"model {model.name!r}: {e}") from e


def _cell_paths(model):
  """The names `_build_cells` gave the recurrent layers (or stacked cells),
  in `mapping.keras_cells` order."""
  def names_of(rnn):
    cells = getattr(rnn.cell, "cells", None)
    return [c.name for c in cells] if cells else [rnn.name]
  result = []
  for layer in model.layers:
    if isinstance(layer, keras.layers.Bidirectional):
      forward = names_of(layer.forward_layer)
      backward = names_of(layer.backward_layer)
      for f, b in zip(forward, backward):
        result.extend([f, b])
    elif isinstance(layer, keras.layers.RNN):
      result.extend(names_of(layer))
  return result


def gru_layer(model, spec):
  """The model's recurrent layer ("gru", or the Bidirectional "bigru")."""
  return model.get_layer(names.BIGRU_LAYER if spec.bidirectional else
                         names.GRU_LAYER)


def spec_from_model(model, family=None):
  """(spec, target) of a model built by `build` (or shaped like one).

  The model must compute what the legacy graph of that spec computes:
  `check_computes_like` compares it with the model `build` makes for the
  spec, layer by layer.

  Args:
    model: a Keras model.
    family: "scan" or "loop", needed only for stock Keras models whose name
      does not record it.

  Raises:
    MappingError: naming the layer and what does not fit.
  """
  if parse_model_name(model.name)[0] == tf1_cells.FAMILY:
    spec = cell_spec_from_model(model)
    target = (mapping.TF2 if isinstance(mapping.keras_cells(model)[0],
                                        tf1_gru_cell.TF1GRUCell)
              else mapping.KERAS)
    _check_dtypes(model)
    check_computes_like(model, spec, target)
    return spec, target
  present = {layer.name for layer in model.layers}
  bidirectional = names.BIGRU_LAYER in present
  if not bidirectional and names.GRU_LAYER not in present:
    raise mapping.MappingError(
        f"model {model.name!r} has no layer named {names.GRU_LAYER!r} or "
        f"{names.BIGRU_LAYER!r}; its layers are {sorted(present)}")
  layer = model.get_layer(names.BIGRU_LAYER if bidirectional else
                          names.GRU_LAYER)
  rnn = getattr(layer, "forward_layer", layer) if bidirectional else layer
  if isinstance(rnn, tf2.ScanGRU):
    target, found_family, reset = mapping.TF2, spec_lib.SCAN, True
  elif isinstance(rnn, tf2.LoopGRU):
    target, found_family, reset = mapping.TF2, spec_lib.LOOP, rnn.reset_gate
  elif isinstance(rnn, keras.layers.GRU):
    target, reset = mapping.KERAS, True
    found_family = family or parse_model_name(model.name)[0]
    if found_family is None:
      raise mapping.MappingError(
          f"model {model.name!r} holds a stock keras.layers.GRU, whose "
          "weights do not say which legacy GRU they came from; pass the "
          "family ('scan' for the Data Blogger GRU, 'loop' for the tutorial "
          "GRU)")
  else:
    raise mapping.MappingError(
        f"layer {layer.name!r} is a {type(rnn).__name__}; expected ScanGRU, "
        "LoopGRU or keras.layers.GRU")
  if family and family != found_family:
    raise mapping.MappingError(f"the model holds a {found_family!r} GRU, not "
                               f"{family!r}")
  _check_dtypes(model)
  cell = rnn.cell
  head = head_units = None
  for kind, name in mapping.HEAD_LAYER.items():
    if name in present:
      head_layer = model.get_layer(name)
      head, head_units = kind, getattr(head_layer, "units", None)
  kernel = cell.weights[0]
  try:
    spec = spec_lib.ModelSpec(
        found_family, int(cell.units), int(kernel.shape[0]),
        keras.backend.standardize_dtype(kernel.dtype), reset_gate=reset,
        bidirectional=bidirectional, head=head, head_units=head_units)
  except spec_lib.SpecError as e:
    raise mapping.MappingError(f"model {model.name!r}: {e}") from e
  check_computes_like(model, spec, target)
  return spec, target


# Config fields that do not change what a layer computes from its weights
# and inputs, so a conversion ignores them: names, initial values,
# training-only penalties and projections, `unroll` (the same steps,
# scheduled differently) and `zero_output_for_mask` (these models have no
# mask). `dtype` is checked on its own, Bidirectional's wrapped layers one
# by one.
_NOT_COMPUTATION = frozenset({
    "name", "trainable", "dtype", "seed", "build_config",
    "kernel_initializer", "recurrent_initializer", "bias_initializer",
    "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
    "activity_regularizer", "kernel_constraint", "recurrent_constraint",
    "bias_constraint", "unroll", "zero_output_for_mask", "layer",
    "backward_layer", "batch_shape",
})

# What the legacy graphs do, for refusals: (field, legacy value) -> words.
_LEGACY_BEHAVIOUR = {
    ("go_backwards", False): "runs forward",
    ("go_backwards", True): "runs this direction over the reversed sequence",
    ("return_sequences", True): "returns the whole output sequence",
    ("return_state", False): "returns no state",
    ("stateful", False): "starts every batch from a zero state",
    ("use_bias", True): "adds a bias",
    ("reset_after", False): "applies the reset gate before the recurrent "
                            "matmul",
    ("dropout", 0.0): "has no dropout",
    ("recurrent_dropout", 0.0): "has no dropout",
    ("activation", "tanh"): "uses tanh for the candidate state",
    ("recurrent_activation", "sigmoid"): "uses sigmoid for the gates",
    ("activation", "linear"): "applies no activation here",
    ("merge_mode", "concat"): "concatenates the two directions",
    ("zero_output_for_mask", True): "outputs zeros past each sequence's "
                                    "length",
    ("reset_after", True): "applies the reset gate after the recurrent "
                           "matmul",
}


def _what(spec):
  """The recurrent part's name, for refusals."""
  if spec.family == tf1_cells.FAMILY:
    return spec.kind_text()
  return spec.kind()


def _role(spec, layer_name):
  """How a refusal names the legacy part a layer stands for."""
  if spec.family == tf1_cells.FAMILY:
    return spec.kind_text()
  if layer_name in (names.GRU_LAYER, names.BIGRU_LAYER):
    return spec.kind()
  if spec.head == spec_lib.ADDITION:
    return "addition output layer"
  return f"{spec.kind()}'s classifier head"


def _dtype_name(layer):
  policy = getattr(layer, "dtype_policy", None)
  return getattr(policy, "name", None)


def _check_dtypes(model):
  """Every layer computes and stores in float32 or float64."""
  inputs = [keras.backend.standardize_dtype(t.dtype) for t in model.inputs]
  for dtype in inputs:
    if dtype not in spec_lib.FLOAT_DTYPES:
      raise mapping.MappingError(
          f"input: dtype {dtype}, but the legacy graphs compute in "
          f"{' or '.join(spec_lib.FLOAT_DTYPES)}")
  for layer in _layers(model):
    for part in _parts(layer):
      name = _dtype_name(part)
      if name not in spec_lib.FLOAT_DTYPES:
        raise mapping.MappingError(
            f"{part.name}: dtype {name}, but the legacy graphs compute in "
            f"{' or '.join(spec_lib.FLOAT_DTYPES)}")


def _layers(model):
  return [l for l in model.layers
          if not isinstance(l, keras.layers.InputLayer)]


def _parts(layer):
  """A layer, or a Bidirectional's wrapper and its two directions."""
  if isinstance(layer, keras.layers.Bidirectional):
    return [layer, layer.forward_layer, layer.backward_layer]
  return [layer]


def _chain(layers):
  return " -> ".join(f"{l.name} ({type(l).__name__})" for l in layers)


def check_computes_like(model, spec, target):
  """Refuses a model that computes other than `spec`'s legacy graph.

  Compares `model` with `build(spec, target)`: the same layer classes in the
  same order, each fed by the one before, one input of the spec's dtype,
  and every config field that changes the computation equal (see
  `_NOT_COMPUTATION` for those that do not).

  Raises:
    MappingError: naming the layer, the field and what the legacy graph
      does instead.
  """
  expected = build(spec, target)
  actual_layers, expected_layers = _layers(model), _layers(expected)
  if [type(l) for l in actual_layers] != [type(l) for l in expected_layers]:
    raise mapping.MappingError(
        f"model {model.name!r} is {_chain(actual_layers)}, but the legacy "
        f"{spec.describe()} is {_chain(expected_layers)}")
  if len(model.inputs) != 1 or len(model.outputs) != 1:
    raise mapping.MappingError(
        f"model {model.name!r} has {len(model.inputs)} input(s) and "
        f"{len(model.outputs)} output(s); the legacy graph has one of each")
  input_dtype = keras.backend.standardize_dtype(model.inputs[0].dtype)
  if input_dtype != spec.dtype:
    raise mapping.MappingError(
        f"input: dtype {input_dtype}, but the legacy {_what(spec)} here is "
        f"{spec.dtype}")
  _check_wiring(model)
  # TF1 cells run with sequence lengths, which a mask stands for.
  ignored = _NOT_COMPUTATION - (
      {"zero_output_for_mask"} if spec.family == tf1_cells.FAMILY else set())
  for actual, wanted in zip(actual_layers, expected_layers):
    role = _role(spec, actual.name)
    for part, expected_part in zip(_parts(actual), _parts(wanted)):
      if _dtype_name(part) != spec.dtype:
        raise mapping.MappingError(
            f"{part.name}: dtype {_dtype_name(part)}, but the legacy "
            f"{role} here is {spec.dtype}")
      _compare_configs(part.name, part.get_config(),
                       expected_part.get_config(), role, ignored)


def _normalized(value, ignored):
  """A nested config without the fields in `ignored`, tuples as lists."""
  if isinstance(value, dict):
    return {k: _normalized(v, ignored) for k, v in value.items()
            if k not in ignored}
  if isinstance(value, (list, tuple)):
    return [_normalized(v, ignored) for v in value]
  return value


def _compare_configs(name, actual, expected, role, ignored):
  for key in sorted((set(actual) | set(expected)) - ignored):
    have = _normalized(actual.get(key), ignored)
    want = _normalized(expected.get(key), ignored)
    if have != want:
      behaviour = (_LEGACY_BEHAVIOUR.get((key, want)) if isinstance(
          want, (str, bool, int, float, type(None))) else None) or (
              f"has {key}={want!r}")
      raise mapping.MappingError(
          f"{name}: {key}={have!r}, but the legacy {role} {behaviour}")


def _sources(node):
  """Names of the layers whose outputs a serialized call node reads."""
  found = []
  if isinstance(node, dict):
    history = node.get("config", {}).get("keras_history") if (
        node.get("class_name") == "__keras_tensor__") else None
    if history:
      found.append(history[0])
    for value in node.values():
      found.extend(_sources(value))
  elif isinstance(node, (list, tuple)):
    for value in node:
      found.extend(_sources(value))
  return found


def _check_wiring(model):
  """Each layer reads the one before it, once; the last is the output."""
  config = model.get_config()
  layers = config.get("layers", [])
  if not any("inbound_nodes" in l for l in layers):
    return  # A Sequential model: a chain by construction.
  for previous, layer in zip(layers, layers[1:]):
    nodes = layer.get("inbound_nodes", [])
    if len(nodes) != 1 or _sources(nodes) != [previous["name"]]:
      raise mapping.MappingError(
          f"{layer['name']}: reads {_sources(nodes)}, but in the legacy "
          f"graph it reads only {previous['name']!r}, once")
  outputs = [history[0] for history in
             _flat_histories(config.get("output_layers"))]
  if outputs != [layers[-1]["name"]]:
    raise mapping.MappingError(
        f"model {model.name!r} outputs {outputs}, but the legacy graph's "
        f"output is {layers[-1]['name']!r}")


def _flat_histories(value):
  """[layer name, node, tensor] triples in a serialized output structure."""
  if (isinstance(value, (list, tuple)) and len(value) == 3
      and isinstance(value[0], str)):
    return [value]
  if isinstance(value, (list, tuple)):
    return [h for v in value for h in _flat_histories(v)]
  if isinstance(value, dict):
    return [h for v in value.values() for h in _flat_histories(v)]
  return []
