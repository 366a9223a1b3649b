"""Conformance: does a Keras model compute what a description's TF1 graph
computes?

A model read back for conversion to TF1 must have the layers `models.build`
makes for its description, wired the same way, with every config field that
changes the computation equal. Refusals name the layer, the field and what
the legacy graph does instead.
"""

import keras

from migration import description as description_lib
from migration import mapping

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


def _roles(description):
  """{Keras layer name: how a refusal names the TF1 part it stands for}."""
  roles = {}
  for component in description.components:
    kind = description_lib.kind_of(component)
    for name in kind.layer_names(component):
      roles[name] = kind.role(component, description)
  return roles


def _dtype_name(layer):
  policy = getattr(layer, "dtype_policy", None)
  return getattr(policy, "name", None)


def check_dtypes(model):
  """Every layer computes and stores in float32 or float64."""
  floats = description_lib.FLOAT_DTYPES
  inputs = [keras.backend.standardize_dtype(t.dtype) for t in model.inputs]
  for dtype in inputs:
    if dtype not in floats + description_lib.INTEGER_DTYPES:
      raise mapping.MappingError(
          f"input: dtype {dtype}, but the legacy graphs compute in "
          f"{' or '.join(floats)}")
  for layer in _layers(model):
    for part in _parts(layer):
      name = _dtype_name(part)
      if name not in floats:
        raise mapping.MappingError(
            f"{part.name}: dtype {name}, but the legacy graphs compute in "
            f"{' or '.join(floats)}")


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


def check_computes_like(model, description, target, expected):
  """Refuses a model that computes other than `description`'s TF1 graph.

  Compares `model` with `expected`, the model `models.build` makes for the
  description in `target`'s layers: the same layer classes in the same
  order, each fed by the one before, the description's inputs, and every
  config field that changes the computation equal (see `_NOT_COMPUTATION`
  for those that do not).

  Raises:
    MappingError: naming the layer, the field and what the legacy graph
      does instead.
  """
  actual_layers, expected_layers = _layers(model), _layers(expected)
  if [type(l) for l in actual_layers] != [type(l) for l in expected_layers]:
    raise mapping.MappingError(
        f"model {model.name!r} is {_chain(actual_layers)}, but the legacy "
        f"{description.describe()} is {_chain(expected_layers)}")
  if (len(model.inputs) != len(description.inputs) or
      len(model.outputs) != 1):
    raise mapping.MappingError(
        f"model {model.name!r} has {len(model.inputs)} input(s) and "
        f"{len(model.outputs)} output(s); the legacy graph has "
        f"{len(description.inputs)} and 1")
  what = description.components[0].describe()
  for tensor, spec in zip(model.inputs, description.inputs):
    dtype = keras.backend.standardize_dtype(tensor.dtype)
    if dtype != spec.dtype:
      raise mapping.MappingError(
          f"input: dtype {dtype}, but the legacy {what} here is "
          f"{spec.dtype}")
  _check_wiring(model, expected)
  # Recurrent kinds that take lengths run masked, which a mask stands for.
  masked = any(description_lib.kind_of(c).takes_lengths
               for c in description.components)
  ignored = _NOT_COMPUTATION - ({"zero_output_for_mask"} if masked else
                                set())
  roles = _roles(description)
  for actual, wanted in zip(actual_layers, expected_layers):
    role = roles.get(wanted.name, what)
    for part, expected_part in zip(_parts(actual), _parts(wanted)):
      if _dtype_name(part) != description.dtype:
        raise mapping.MappingError(
            f"{part.name}: dtype {_dtype_name(part)}, but the legacy "
            f"{role} here is {description.dtype}")
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


def _check_wiring(model, expected):
  """Each layer reads what the same layer of `expected` reads, once; the
  outputs are the same layers'."""
  config = model.get_config()
  layers = config.get("layers", [])
  if not any("inbound_nodes" in l for l in layers):
    return  # A Sequential model: a chain by construction.
  wanted = expected.get_config()["layers"]
  # Layers are compared by position: names do not change the computation.
  rename = {w["name"]: l["name"] for l, w in zip(layers, wanted)}
  for layer, want in zip(layers, wanted):
    nodes = layer.get("inbound_nodes", [])
    sources = [rename.get(s, s)
               for s in _sources(want.get("inbound_nodes", []))]
    if len(nodes) > 1 or _sources(nodes) != sources:
      raise mapping.MappingError(
          f"{layer['name']}: reads {_sources(nodes)}, but in the legacy "
          f"graph it reads only {sources}, once")
  outputs = [history[0] for history in
             _flat_histories(config.get("output_layers"))]
  want = [rename.get(history[0], history[0]) for history in
          _flat_histories(expected.get_config().get("output_layers"))]
  if outputs != want:
    raise mapping.MappingError(
        f"model {model.name!r} outputs {outputs}, but the legacy graph's "
        f"output is {want}")


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
