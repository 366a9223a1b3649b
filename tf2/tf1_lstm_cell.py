"""TensorFlow's own TF1 LSTM cells, op for op, as a Keras 3 cell.

`TF1LSTMCell(units, kind, ...)` holds the TF1 cell's variables whole, under
their TF1 names ('/' written '_': `kernel` [in+h, 4u] over [x; h] with the
gate blocks i, j, f, o; `bias` [4u]; the peepholes `w_f_diag`, `w_i_diag`,
`w_o_diag` [u]; `projection_kernel` [u, num_proj]), and computes a step
with TF 1.15's `LSTMCell.call` operations in its order:

    i, j, f, o = split(bias_add(matmul(concat([x, h]), kernel), bias))
    c' = sigmoid(f + forget_bias [+ w_f_diag * c]) * c
         + sigmoid(i [+ w_i_diag * c]) * tanh(j)        [clipped to cell_clip]
    h' = sigmoid(o [+ w_o_diag * c']) * tanh(c')        [matmul projection,
                                                         clipped to proj_clip]

BasicLSTMCell computes the same operations without the options, and
LSTMBlockCell (CudnnCompatibleLSTMCell: forget bias 0) the same function
in one fused op, which evaluates it in another order: against it this cell
agrees to rounding, not bit for bit (`tolerances.TF1_CELL_FLOAT32_NOT_
BITWISE`). LayerNormBasicLSTMCell (`layer_norm=True`, its default) has no
bias; it normalizes i, j, f and o after the matmul and c' before the
output, each with its own gamma and beta (`input/gamma`, ...; weights
`input_gamma`, ...) as `tf.contrib.layers.layer_norm` does:

    x * (rsqrt(var + 1e-12) * gamma) + (beta - mean * rsqrt(var + 1e-12) * gamma)

The forget bias, the clips and the activation are not in a TF1 checkpoint;
they are this cell's config, so a converted model keeps them and converting
back needs no flags. The cell is written in `keras.ops` only: a `.keras`
file holding it runs on the TensorFlow, JAX and PyTorch backends. Its state
is [h, c], as Keras's LSTM's (`initial_state`, `return_state`); wrapped in
`keras.layers.RNN(..., zero_output_for_mask=True)` a mask computes TF1's
`sequence_length`.
"""

import keras
from keras import ops

from gru_common import checks
from gru_common import tf1_lstm_cells

KINDS = tf1_lstm_cells.CELLS
ACTIVATIONS = ("tanh",)   # TF1's default; the only one this cell computes


def _clip(name, value):
  if value is None:
    return None
  if isinstance(value, bool) or not isinstance(value, (int, float)) or (
      not value > 0):
    raise ValueError(f"`{name}` must be None or a number > 0, got {value!r}")
  return float(value)


@keras.saving.register_keras_serializable(package="tf1_gru_migration")
class TF1LSTMCell(keras.layers.Layer):
  """One of TensorFlow's TF1 LSTM cells (see the module docstring).

  Args:
    units: the cell state's size, an int >= 1.
    kind: "BasicLSTMCell", "LSTMCell", "LSTMBlockCell" or
      "CudnnCompatibleLSTMCell" (which options it may have).
    forget_bias: added to the forget gate at run time; None: the kind's
      TF1 default (1.0; 0.0 for CudnnCompatibleLSTMCell).
    use_peepholes: LSTMCell and LSTMBlockCell only.
    num_proj: LSTMCell only: the output (and h) size after the projection.
    cell_clip: clip c to [-cell_clip, cell_clip] (LSTMCell, LSTMBlockCell).
    proj_clip: clip the projected output (LSTMCell with num_proj).
    layer_norm: LayerNormBasicLSTMCell only: normalize the gates and state
      (no bias then).
    activation: "tanh", the only one TF1's cells default to.
    kernel_initializer, bias_initializer: of the kernels, the biases and
      peepholes.
    **kwargs: passed to `keras.layers.Layer` (name, dtype, ...).

  Example:

  >>> import numpy as np
  >>> cell = TF1LSTMCell(3, "LSTMCell", num_proj=2, dtype="float64")
  >>> layer = keras.layers.RNN(cell, return_sequences=True, dtype="float64")
  >>> tuple(layer(np.zeros((2, 5, 4))).shape)
  (2, 5, 2)
  >>> [w.name for w in cell.weights]
  ['kernel', 'bias', 'projection_kernel']
  """

  def __init__(self, units, kind=tf1_lstm_cells.LSTM_CELL, forget_bias=None,
               use_peepholes=False, num_proj=None, cell_clip=None,
               proj_clip=None, layer_norm=False, activation="tanh",
               kernel_initializer="glorot_uniform", bias_initializer="zeros",
               **kwargs):
    units = checks.integer("units", units)
    if kind not in KINDS:
      raise ValueError(f"`kind` must be one of {list(KINDS)}, got {kind!r}")
    if use_peepholes and kind not in tf1_lstm_cells.PEEPHOLES:
      raise ValueError(f"`use_peepholes`: a {kind} has no peepholes")
    if num_proj is not None:
      num_proj = checks.integer("num_proj", num_proj)
      if kind not in tf1_lstm_cells.PROJECTION:
        raise ValueError(f"`num_proj`: a {kind} has no projection")
    cell_clip, proj_clip = (_clip("cell_clip", cell_clip),
                            _clip("proj_clip", proj_clip))
    if cell_clip is not None and kind not in tf1_lstm_cells.CELL_CLIP:
      raise ValueError(f"`cell_clip`: a {kind} does not clip its state")
    if proj_clip is not None and num_proj is None:
      raise ValueError("`proj_clip` needs `num_proj`: it clips the "
                       "projection")
    if layer_norm and kind != tf1_lstm_cells.LAYER_NORM:
      raise ValueError(f"`layer_norm`: a {kind} has no layer norm")
    if activation not in ACTIVATIONS:
      raise ValueError(f"`activation` must be one of {ACTIVATIONS}, got "
                       f"{activation!r}")
    if forget_bias is None:
      forget_bias = tf1_lstm_cells.FORGET_BIAS[kind]
    if isinstance(forget_bias, bool) or not isinstance(forget_bias,
                                                       (int, float)):
      raise ValueError(f"`forget_bias` must be a number, got "
                       f"{forget_bias!r}")
    super().__init__(**kwargs)
    if not keras.backend.is_float_dtype(self.compute_dtype):
      raise ValueError(f"`dtype` must be a floating-point dtype for "
                       f"TF1LSTMCell, got {self.dtype_policy.name!r}.")
    self.units = int(units)
    self.kind = kind
    self.forget_bias = float(forget_bias)
    self.use_peepholes = bool(use_peepholes)
    self.num_proj = None if num_proj is None else int(num_proj)
    self.cell_clip = cell_clip
    self.proj_clip = proj_clip
    self.layer_norm = bool(layer_norm)
    self.activation = activation
    self.kernel_initializer = keras.initializers.get(kernel_initializer)
    self.bias_initializer = keras.initializers.get(bias_initializer)
    self.output_size = self.num_proj or self.units
    self.state_size = [self.output_size, self.units]   # [h, c], as Keras

  def build(self, input_shape):
    input_dim = input_shape[-1]
    if input_dim is None:
      raise ValueError(f"TF1LSTMCell needs a known feature size (last "
                       f"axis), got input shape {input_shape}.")
    shapes = tf1_lstm_cells.shapes(self.kind, int(input_dim), self.units,
                                   self.use_peepholes, self.num_proj,
                                   self.layer_norm)
    self._by_name = {}
    for name, shape in shapes.items():
      initializer = (self.kernel_initializer if name.endswith("kernel")
                     else "ones" if name.endswith("gamma")
                     else self.bias_initializer)
      self._by_name[name] = self.add_weight(
          name=tf1_lstm_cells.weight_name(name), shape=shape,
          initializer=initializer)

  def call(self, inputs, states, training=False):
    del training  # No dropout.
    h_prev, c_prev = states[0], states[1]
    w = self._by_name
    lstm_matrix = ops.matmul(ops.concatenate([inputs, h_prev], axis=1),
                             w["kernel"])
    if self.layer_norm:
      return self._layer_norm_step(lstm_matrix, c_prev)
    lstm_matrix = ops.add(lstm_matrix, w["bias"])
    i, j, f, o = ops.split(lstm_matrix, 4, axis=1)
    # A Python float, converted in the gates' dtype as TF1's `f +
    # forget_bias` converts it (a cast of a float32 0.7 is not float64's).
    forget_bias = self.forget_bias
    if self.use_peepholes:
      c = (ops.sigmoid(f + forget_bias + w["w_f_diag"] * c_prev) * c_prev +
           ops.sigmoid(i + w["w_i_diag"] * c_prev) * ops.tanh(j))
    else:
      c = ops.sigmoid(f + forget_bias) * c_prev + ops.sigmoid(i) * ops.tanh(j)
    if self.cell_clip is not None:
      c = ops.clip(c, -self.cell_clip, self.cell_clip)
    if self.use_peepholes:
      h = ops.sigmoid(o + w["w_o_diag"] * c) * ops.tanh(c)
    else:
      h = ops.sigmoid(o) * ops.tanh(c)
    if self.num_proj is not None:
      h = ops.matmul(h, w[tf1_lstm_cells.PROJECTION_KERNEL])
      if self.proj_clip is not None:
        h = ops.clip(h, -self.proj_clip, self.proj_clip)
    return h, [h, c]

  def _norm(self, x, scope):
    """tf.contrib.layers.layer_norm over the last axis, as TF 1.15's
    nn.moments and nn.batch_normalization compute it."""
    gamma = self._by_name[f"{scope}/gamma"]
    beta = self._by_name[f"{scope}/beta"]
    mean = ops.mean(x, axis=-1, keepdims=True)
    variance = ops.mean(ops.square(x - mean), axis=-1, keepdims=True)
    inv = ops.rsqrt(variance + tf1_lstm_cells.LAYER_NORM_EPSILON) * gamma
    return x * inv + (beta - mean * inv)

  def _layer_norm_step(self, lstm_matrix, c_prev):
    """LayerNormBasicLSTMCell.call after its matmul (no bias)."""
    i, j, f, o = ops.split(lstm_matrix, 4, axis=1)
    i, j, f, o = (self._norm(g, s) for g, s in zip(
        (i, j, f, o), tf1_lstm_cells.LAYER_NORM_SCOPES))
    g = ops.tanh(j)
    c = c_prev * ops.sigmoid(f + self.forget_bias) + ops.sigmoid(i) * g
    c = self._norm(c, "state")
    h = ops.tanh(c) * ops.sigmoid(o)
    return h, [h, c]

  def get_initial_state(self, batch_size=None):
    return [ops.zeros([batch_size, size], dtype=self.compute_dtype)
            for size in self.state_size]

  def get_config(self):
    return {
        **super().get_config(), "units": self.units, "kind": self.kind,
        "forget_bias": self.forget_bias,
        "use_peepholes": self.use_peepholes, "num_proj": self.num_proj,
        "cell_clip": self.cell_clip, "proj_clip": self.proj_clip,
        "layer_norm": self.layer_norm, "activation": self.activation,
        "kernel_initializer": keras.initializers.serialize(
            self.kernel_initializer),
        "bias_initializer": keras.initializers.serialize(
            self.bias_initializer)}
