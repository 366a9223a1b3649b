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
weights came from; `spec_from_model` reads it back.

A stock `keras.layers.GRU` always has a reset gate, so the tutorial's variant
without one converts only to this project's `LoopGRU(reset_gate=False)`.
"""

import keras

from migration import mapping
from migration import spec as spec_lib
import tf2

MODEL_NAMES = {spec_lib.SCAN: "legacy_scan_gru", spec_lib.LOOP:
               "legacy_loop_gru"}


def build(spec, target):
  """An unweighted Keras model for `spec` in `target`'s layers."""
  if target not in mapping.TARGETS:
    raise mapping.MappingError(
        f"target must be one of {mapping.TARGETS}, got {target!r}")
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
              name=mapping.GRU_LAYER, **extra)
  else:
    gru = keras.layers.GRU(spec.units, activation="tanh",
                           recurrent_activation="sigmoid", reset_after=False,
                           return_sequences=True, dtype=dtype,
                           name=mapping.GRU_LAYER)
  inputs = keras.Input((None, spec.input_dim), dtype=dtype, name="input")
  if spec.bidirectional:
    # Bidirectional casts its output to its own dtype: give it the model's.
    gru = keras.layers.Bidirectional(gru, name=mapping.BIGRU_LAYER,
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
        dtype=dtype, name="mean_over_time")(outputs)
    outputs = keras.layers.Dense(spec.head_units, dtype=dtype,
                                 name=mapping.HEAD_LAYER[spec.head])(outputs)
  return keras.Model(inputs, outputs, name=MODEL_NAMES[spec.family])


def gru_layer(model, spec):
  """The model's recurrent layer ("gru", or the Bidirectional "bigru")."""
  return model.get_layer(mapping.BIGRU_LAYER if spec.bidirectional else
                         mapping.GRU_LAYER)


def spec_from_model(model, family=None):
  """(spec, target) of a model built by `build` (or shaped like one).

  Args:
    model: a Keras model.
    family: "scan" or "loop", needed only for stock Keras models whose name
      does not record it.

  Raises:
    MappingError: naming what does not fit.
  """
  names = {layer.name for layer in model.layers}
  bidirectional = mapping.BIGRU_LAYER in names
  if not bidirectional and mapping.GRU_LAYER not in names:
    raise mapping.MappingError(
        f"model {model.name!r} has no layer named {mapping.GRU_LAYER!r} or "
        f"{mapping.BIGRU_LAYER!r}; its layers are {sorted(names)}")
  layer = model.get_layer(mapping.BIGRU_LAYER if bidirectional else
                          mapping.GRU_LAYER)
  rnn = layer.forward_layer if bidirectional else layer
  if isinstance(rnn, tf2.ScanGRU):
    target, found_family, reset = mapping.TF2, spec_lib.SCAN, True
  elif isinstance(rnn, tf2.LoopGRU):
    target, found_family, reset = mapping.TF2, spec_lib.LOOP, rnn.reset_gate
  elif isinstance(rnn, keras.layers.GRU):
    target, reset = mapping.KERAS, True
    _check_stock_gru(rnn)
    by_name = {v: k for k, v in MODEL_NAMES.items()}
    found_family = family or by_name.get(model.name)
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
  cell = rnn.cell
  head = head_units = None
  for kind, name in mapping.HEAD_LAYER.items():
    if name in names:
      head, head_units = kind, int(model.get_layer(name).units)
  dtype = cell.weights[0].dtype
  kernel = cell.weights[0]
  spec = spec_lib.ModelSpec(
      found_family, int(cell.units), int(kernel.shape[0]), dtype,
      reset_gate=reset, bidirectional=bidirectional, head=head,
      head_units=head_units)
  return spec, target


def _check_stock_gru(layer):
  config = layer.get_config()
  wanted = {"reset_after": False, "activation": "tanh",
            "recurrent_activation": "sigmoid", "use_bias": True}
  for key, value in wanted.items():
    if config.get(key) != value:
      raise mapping.MappingError(
          f"keras.layers.GRU {layer.name!r} has {key}={config.get(key)!r}; "
          f"only {key}={value!r} computes the legacy GRU")
