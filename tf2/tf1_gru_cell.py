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

from gru_common import tf1_gru_cells
from tf2 import cells

GRU_CELL = tf1_gru_cells.GRU_CELL
GRU_BLOCK_CELL = tf1_gru_cells.GRU_BLOCK_CELL
CUDNN_COMPATIBLE = tf1_gru_cells.CUDNN_COMPATIBLE


@keras.saving.register_keras_serializable(package="tf1_gru_migration")
class TF1GRUCell(cells.GRUCellBase):
  """One of TensorFlow's TF1 GRU cells (see the module docstring).

  Args:
    units: the state size, an int >= 1.
    kind: "GRUCell", "GRUBlockCell" or "CudnnCompatibleGRUCell".
    kernel_initializer: of the kernels over [x; h] and the input
      projection.
    recurrent_initializer: of the cuDNN-compatible cell's hidden projection.
    bias_initializer: of the biases.
    **kwargs: passed to `keras.layers.Layer` (name, dtype, ...).

  Example:

  >>> import numpy as np
  >>> cell = TF1GRUCell(3, "GRUCell", dtype="float64")
  >>> layer = keras.layers.RNN(cell, return_sequences=True, dtype="float64")
  >>> tuple(layer(np.zeros((2, 5, 4))).shape)
  (2, 5, 3)
  >>> [w.name for w in cell.weights]
  ['gates_kernel', 'gates_bias', 'candidate_kernel', 'candidate_bias']
  """

  def __init__(self, units, kind=GRU_CELL,
               kernel_initializer="glorot_uniform",
               recurrent_initializer="glorot_uniform",
               bias_initializer="zeros", **kwargs):
    if kind not in tf1_gru_cells.VARIABLES:
      raise ValueError(f"kind must be one of "
                       f"{sorted(tf1_gru_cells.VARIABLES)}, got {kind!r}")
    super().__init__(units, kernel_initializer, recurrent_initializer,
                     bias_initializer, **kwargs)
    self.kind = kind

  def build(self, input_shape):
    shapes = tf1_gru_cells.shapes(self.kind,
                                  self._input_dim_from(input_shape),
                                  self.units)
    self._weights_by_role = []
    for name, shape in shapes.items():
      make = (self._recurrent if name.startswith("candidate/hidden") and
              name.endswith("kernel") else
              self._kernel if name.endswith("kernel") or
              name.startswith("w_") else self._bias)
      self._weights_by_role.append(
          make(tf1_gru_cells.weight_name(name), shape))

  def step(self, x_t, h_tm1):
    weights = [w.value for w in self._weights_by_role]
    if self.kind == GRU_BLOCK_CELL:
      w_ru, b_ru, w_c, b_c = weights
      return tf.raw_ops.GRUBlockCell(x=x_t, h_prev=h_tm1, w_ru=w_ru,
                                     w_c=w_c, b_ru=b_ru, b_c=b_c)[3]
    gate_kernel, gate_bias = weights[:2]
    value = tf.sigmoid(tf.nn.bias_add(
        tf.matmul(tf.concat([x_t, h_tm1], 1), gate_kernel), gate_bias))
    r, u = tf.split(value=value, num_or_size_splits=2, axis=1)
    if self.kind == GRU_CELL:
      candidate_kernel, candidate_bias = weights[2:]
      c = tf.tanh(tf.nn.bias_add(
          tf.matmul(tf.concat([x_t, r * h_tm1], 1), candidate_kernel),
          candidate_bias))
      return u * h_tm1 + (1 - u) * c
    input_kernel, input_bias, hidden_kernel, hidden_bias = weights[2:]
    c = tf.nn.bias_add(tf.matmul(x_t, input_kernel), input_bias)
    c += r * tf.nn.bias_add(tf.matmul(h_tm1, hidden_kernel), hidden_bias)
    c = tf.tanh(c)
    return (1 - u) * c + u * h_tm1

  def get_config(self):
    return {**super().get_config(), "kind": self.kind}
