"""The Data Blogger GRU (seed 000) as Keras 3 layers.

Named after the legacy module it replaces (`legacy/scan_gru.py`, built on
`tf.scan`); there is no scan here.

`ScanGRUCell` computes one step, exactly as the legacy `forward_pass`
(x_t: [batch, input_dim], h: [batch, units]):

    z = sigmoid(x_t @ Wz + h @ Uz + bz)
    r = sigmoid(x_t @ Wr + h @ Ur + br)
    h~ = tanh(x_t @ Wh + (r * h) @ Uh + bh)
    h' = (1 - z) * h + z * h~

The update gate z multiplies the candidate. Keras's GRU mixes the other way
round (h' = z * h + (1 - z) * h~); `migration/` maps between them by negating
z's weights and bias, since 1 - sigmoid(a) = sigmoid(-a).

Weights, one per legacy variable, created in the legacy order:

    weight  shape              legacy variable  default initializer
    Wr      [input_dim, units]  Wr               TruncatedNormal(0, 0.01)
    Wz      [input_dim, units]  Wz               TruncatedNormal(0, 0.01)
    Wh      [input_dim, units]  Wh               TruncatedNormal(0, 0.01)
    Ur      [units, units]      Ur               TruncatedNormal(0, 0.01)
    Uz      [units, units]      Uz               TruncatedNormal(0, 0.01)
    Uh      [units, units]      Uh               TruncatedNormal(0, 0.01)
    br      [units]             br               TruncatedNormal(0, 0.01)
    bz      [units]             bz               TruncatedNormal(0, 0.01)
    bh      [units]             bh               TruncatedNormal(0, 0.01)

The initial state is zeros (the legacy graph's `h_0 = x_0 @ zeros`, which is
zeros for finite inputs).

`ScanGRU` runs the cell over a sequence with the Keras RNN options (see
`tf2/recurrent.py`). The legacy graph is float64; both float32 and float64
work here (`dtype="float64"`).
"""

import keras
import tensorflow as tf

from gru_common import names
from tf2 import cells
from tf2 import fast_gru
from tf2 import recurrent



def default_initializer():
  return keras.initializers.TruncatedNormal(mean=0.0, stddev=0.01)


@keras.saving.register_keras_serializable(package="tf1_gru_migration")
class ScanGRUCell(cells.GRUCellBase):
  """One step of the Data Blogger GRU; usable by `keras.layers.RNN`.

  Args:
    units: the state size, an int >= 1.
    kernel_initializer: for Wr, Wz, Wh.
    recurrent_initializer: for Ur, Uz, Uh.
    bias_initializer: for br, bz, bh.
    **kwargs: passed to `keras.layers.Layer` (name, dtype, ...).

  Example:

  >>> import keras, numpy as np
  >>> rnn = keras.layers.RNN(ScanGRUCell(4, dtype="float64"),
  ...                        return_sequences=True, dtype="float64")
  >>> tuple(rnn(np.zeros((2, 5, 3))).shape)
  (2, 5, 4)
  """

  def __init__(self, units, kernel_initializer=None,
               recurrent_initializer=None, bias_initializer=None, **kwargs):
    super().__init__(
        units,
        kernel_initializer=kernel_initializer or default_initializer(),
        recurrent_initializer=recurrent_initializer or default_initializer(),
        bias_initializer=bias_initializer or default_initializer(),
        **kwargs)

  def build(self, input_shape):
    input_dim = self._input_dim_from(input_shape)
    kernel = (input_dim, self.units)
    recurrent = (self.units, self.units)
    bias = (self.units,)
    self.Wr = self._kernel(names.WR, kernel)
    self.Wz = self._kernel(names.WZ, kernel)
    self.Wh = self._kernel(names.WH, kernel)
    self.Ur = self._recurrent(names.UR, recurrent)
    self.Uz = self._recurrent(names.UZ, recurrent)
    self.Uh = self._recurrent(names.UH, recurrent)
    self.br = self._bias(names.BR, bias)
    self.bz = self._bias(names.BZ, bias)
    self.bh = self._bias(names.BH, bias)

  def fast_weights(self):
    """Per gate (z, r, h) its kernel, bias and recurrent kernel, and how
    the state mixes, for `tf2/fast_gru.py`."""
    return ([self.Wz, self.Wr, self.Wh], [self.bz, self.br, self.bh],
            [self.Uz, self.Ur, self.Uh], fast_gru.CANDIDATE_TAKES)

  def step(self, x_t, h_tm1):
    """One reference step, in the legacy `forward_pass`'s order."""
    z_t = tf.sigmoid(
        tf.matmul(x_t, self.Wz) + tf.matmul(h_tm1, self.Uz) + self.bz)
    r_t = tf.sigmoid(
        tf.matmul(x_t, self.Wr) + tf.matmul(h_tm1, self.Ur) + self.br)
    h_proposal = tf.tanh(
        tf.matmul(x_t, self.Wh) + tf.matmul(r_t * h_tm1, self.Uh) + self.bh)
    return (1 - z_t) * h_tm1 + z_t * h_proposal


@keras.saving.register_keras_serializable(package="tf1_gru_migration")
class ScanGRU(recurrent.GRULayer):
  """The Data Blogger GRU over sequences, with the Keras RNN options.

  Args:
    units: the state size.
    kernel_initializer, recurrent_initializer, bias_initializer: as for
      `ScanGRUCell` (default TruncatedNormal(0, 0.01), the legacy one).
    return_sequences, return_state, go_backwards, stateful,
      zero_output_for_mask: as for `keras.layers.RNN`.
    mode: "fast" (the default, within `tolerances.FAST_PATH`) or "exact"
      (bitwise with the legacy graph); `tf2/recurrent.py` says what each
      costs.
    **kwargs: passed to `keras.layers.Layer` (name, dtype, ...).

  For the legacy graph's outputs, bit for bit, `ScanGRU(units,
  return_sequences=True, dtype="float64", mode="exact")` is `gru.h_t`.

  Called eagerly, the time loop still runs as a traced `tf.function`, also
  under `tf.config.run_functions_eagerly(True)` (see `tf2/_tracing.py`):
  that is what keeps the exact mode's eager gradients bitwise equal to the
  legacy graph's.

  Example:

  >>> import numpy as np
  >>> gru = ScanGRU(4, return_sequences=True, dtype="float64")
  >>> tuple(gru(np.zeros((2, 5, 3))).shape)
  (2, 5, 4)
  >>> [w.name for w in gru.weights]
  ['Wr', 'Wz', 'Wh', 'Ur', 'Uz', 'Uh', 'br', 'bz', 'bh']
  """

  def __init__(self, units, kernel_initializer=None,
               recurrent_initializer=None, bias_initializer=None,
               return_sequences=False, return_state=False, go_backwards=False,
               stateful=False, zero_output_for_mask=False,
               mode=recurrent.DEFAULT_MODE, **kwargs):
    cell = ScanGRUCell(units, kernel_initializer=kernel_initializer,
                       recurrent_initializer=recurrent_initializer,
                       bias_initializer=bias_initializer,
                       dtype=kwargs.get("dtype"),
                       trainable=kwargs.get("trainable", True),
                       name="scan_gru_cell")
    super().__init__(cell, return_sequences=return_sequences,
                     return_state=return_state, go_backwards=go_backwards,
                     stateful=stateful,
                     zero_output_for_mask=zero_output_for_mask, mode=mode,
                     **kwargs)
