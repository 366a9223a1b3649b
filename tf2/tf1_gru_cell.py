"""TensorFlow's own TF1 GRU cells, op for op, as a Keras 3 cell.

`TF1GRUCell(units, kind)` holds the TF1 cell's variables whole, under their
TF1 names ('/' written '_': `gates_kernel` [in+u, 2u], ...), and computes a
step with the TF1 cell's operations in its order:

  GRUCell, GRUBlockCellV2 ("GRUCell"): one matmul of [x; h] for both gates,
    bias_add, sigmoid, split into r, u; one matmul of [x; r * h] for the
    candidate, bias_add, tanh; u * h + (1 - u) * c.
  GRUBlockCell: TensorFlow's own fused `GRUBlockCell` op, which TF 1.15's
    cell called (float32 only, as in TF 1.15).
  CudnnCompatibleGRUCell (also CudnnGRU's weights): the gates as GRUCell;
    the candidate tanh(x W_i + b_i + r * (h W_h + b_h)); (1 - u) * c + u * h.

A stock `keras.layers.GRU` computes the same functions with the [x; h]
matmul split in two, so it agrees with TF1 to rounding; wrapped in
`keras.layers.RNN` (and `Bidirectional`), this cell agrees with TF1's
`dynamic_rnn` bit for bit (compat_tests/test_tf1_cells.py). Give it a mask
(`zero_output_for_mask=True` on the RNN) where TF1 had `sequence_length`.
"""

import keras
import tensorflow as tf

from gru_common import names

GRU_CELL = "GRUCell"
GRU_BLOCK_CELL = "GRUBlockCell"
CUDNN_COMPATIBLE = "CudnnCompatibleGRUCell"
VARIABLES = {GRU_CELL: names.GRU_CELL_VARIABLES,
             GRU_BLOCK_CELL: names.GRU_BLOCK_CELL_VARIABLES,
             CUDNN_COMPATIBLE: names.CUDNN_COMPATIBLE_VARIABLES}


def weight_name(tf1_name):
  """The weight's name for a TF1 variable name (Keras names hold no '/')."""
  return tf1_name.replace("/", "_")


@keras.saving.register_keras_serializable(package="tf1_gru_migration")
class TF1GRUCell(keras.layers.Layer):
  """One of TensorFlow's TF1 GRU cells (see the module docstring).

  Example:

  >>> import numpy as np
  >>> cell = TF1GRUCell(3, "GRUCell", dtype="float64")
  >>> layer = keras.layers.RNN(cell, return_sequences=True, dtype="float64")
  >>> tuple(layer(np.zeros((2, 5, 4))).shape)
  (2, 5, 3)
  >>> [w.name for w in cell.weights]
  ['gates_kernel', 'gates_bias', 'candidate_kernel', 'candidate_bias']
  """

  def __init__(self, units, kind=GRU_CELL, **kwargs):
    super().__init__(**kwargs)
    if kind not in VARIABLES:
      raise ValueError(f"kind must be one of {sorted(VARIABLES)}, got "
                       f"{kind!r}")
    if not isinstance(units, int) or units < 1:
      raise ValueError(f"units must be a positive int, got {units!r}")
    self.units = units
    self.kind = kind
    self.state_size = units
    self.output_size = units

  def build(self, input_shape):
    depth, u = int(input_shape[-1]), self.units
    shapes = {"gates/kernel": (depth + u, 2 * u), "gates/bias": (2 * u,),
              "candidate/kernel": (depth + u, u), "candidate/bias": (u,),
              "w_ru": (depth + u, 2 * u), "b_ru": (2 * u,),
              "w_c": (depth + u, u), "b_c": (u,),
              "candidate/input_projection/kernel": (depth, u),
              "candidate/input_projection/bias": (u,),
              "candidate/hidden_projection/kernel": (u, u),
              "candidate/hidden_projection/bias": (u,)}
    self._weights_by_role = [
        self.add_weight(name=weight_name(n), shape=shapes[n],
                        initializer="glorot_uniform" if "kernel" in n or
                        n.startswith("w_") else "zeros")
        for n in VARIABLES[self.kind]]

  def call(self, inputs, states):
    h = states[0] if isinstance(states, (list, tuple)) else states
    weights = [w.value for w in self._weights_by_role]
    if self.kind == GRU_BLOCK_CELL:
      w_ru, b_ru, w_c, b_c = weights
      new_h = tf.raw_ops.GRUBlockCell(x=inputs, h_prev=h, w_ru=w_ru,
                                      w_c=w_c, b_ru=b_ru, b_c=b_c)[3]
      return new_h, [new_h]
    gate_kernel, gate_bias = weights[:2]
    value = tf.sigmoid(tf.nn.bias_add(
        tf.matmul(tf.concat([inputs, h], 1), gate_kernel), gate_bias))
    r, u = tf.split(value=value, num_or_size_splits=2, axis=1)
    if self.kind == GRU_CELL:
      candidate_kernel, candidate_bias = weights[2:]
      c = tf.tanh(tf.nn.bias_add(
          tf.matmul(tf.concat([inputs, r * h], 1), candidate_kernel),
          candidate_bias))
      new_h = u * h + (1 - u) * c
    else:
      input_kernel, input_bias, hidden_kernel, hidden_bias = weights[2:]
      c = tf.nn.bias_add(tf.matmul(inputs, input_kernel), input_bias)
      c += r * tf.nn.bias_add(tf.matmul(h, hidden_kernel), hidden_bias)
      c = tf.tanh(c)
      new_h = (1 - u) * c + u * h
    return new_h, [new_h]

  def get_config(self):
    return {**super().get_config(), "units": self.units, "kind": self.kind}
