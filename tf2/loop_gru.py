"""The tutorial GRU (seed 001) as Keras 3 layers.

Named after the legacy module it replaces (`legacy/loop_gru.py`, built on
`tf.while_loop`).

`LoopGRUCell` computes one step exactly as the legacy `unit`
(x: [batch, input_dim], h: [batch, units]):

    r = sigmoid(x @ Wi + h @ Ui + bi)          # reset gate ("input gate")
    z = sigmoid(x @ Wf + h @ Uf + bf)          # update gate ("forget gate")
    n = tanh(x @ Wc + (r * h) @ Uc + bc)       # candidate ("control gate")
    h' = (1 - z) * n + z * h

With `reset_gate=False` (the tutorial's section 3.4) r and its weights are
gone and n = tanh(x @ Wc + h @ Uc + bc). The mixing is Keras's: z multiplies
the previous state, and Keras's gate order [z, r, h] is [f, i, c] here.

Weights, one per legacy variable (in scope 'gru_init'), in the legacy order:

    weight             shape               legacy variable             init
    input_gate_wi      [input_dim, units]  gru_init/input_gate_wi      N(0, 0.1)
    input_gate_ui      [units, units]      gru_init/input_gate_ui      N(0, 0.1)
    input_gate_bias    [units]             gru_init/input_gate_bias    zeros
    forget_gate_wf     [input_dim, units]  gru_init/forget_gate_wf     N(0, 0.1)
    forget_gate_uf     [units, units]      gru_init/forget_gate_wf_1   N(0, 0.1)
    forget_gate_bias   [units]             gru_init/forget_gate_bias   zeros
    control_gate_wc    [input_dim, units]  gru_init/control_gate_wc    N(0, 0.1)
    control_gate_uc    [units, units]      gru_init/control_gate_uc    N(0, 0.1)
    control_gate_bias  [units]             gru_init/control_gate_bias  zeros

(The input_gate_* weights exist only with the reset gate. The legacy source
names Uf 'forget_gate_wf' by mistake and TensorFlow stores it as
'forget_gate_wf_1'; here it is 'forget_gate_uf'.)

`LoopGRU` runs the cell over a sequence with the Keras RNN options; the
tutorial's BiGRU is `keras.layers.Bidirectional(LoopGRU(...,
return_sequences=True))` with masking, or `LegacyBidirectional` for the
legacy padding semantics (see `tf2/legacy_semantics.py`).
"""

import keras
import tensorflow as tf

from gru_common import names
from tf2 import cells
from tf2 import fast_gru
from tf2 import recurrent

MATRIX_STDDEV = 0.1


def default_matrix_initializer():
  return keras.initializers.RandomNormal(mean=0.0, stddev=MATRIX_STDDEV)


@keras.saving.register_keras_serializable(package="tf1_gru_migration")
class LoopGRUCell(cells.GRUCellBase):
  """One step of the tutorial GRU; usable by `keras.layers.RNN`.

  Args:
    units: the state size, an int >= 1.
    reset_gate: False for the tutorial's variant without the reset gate.
    kernel_initializer: for the input matrices (default N(0, 0.1)).
    recurrent_initializer: for the recurrent matrices (default N(0, 0.1)).
    bias_initializer: for the biases (default zeros).
    **kwargs: passed to `keras.layers.Layer` (name, dtype, ...).

  Example:

  >>> import keras, numpy as np
  >>> rnn = keras.layers.RNN(LoopGRUCell(4), return_sequences=True)
  >>> tuple(rnn(np.zeros((2, 5, 3), np.float32)).shape)
  (2, 5, 4)
  """

  def __init__(self, units, reset_gate=True, kernel_initializer=None,
               recurrent_initializer=None, bias_initializer=None, **kwargs):
    if not isinstance(reset_gate, bool):
      raise ValueError(f"`reset_gate` must be a bool, got {reset_gate!r}.")
    super().__init__(
        units,
        kernel_initializer=(kernel_initializer or
                            default_matrix_initializer()),
        recurrent_initializer=(recurrent_initializer or
                               default_matrix_initializer()),
        bias_initializer=bias_initializer or "zeros",
        **kwargs)
    self.reset_gate = reset_gate

  def build(self, input_shape):
    input_dim = self._input_dim_from(input_shape)
    kernel = (input_dim, self.units)
    recurrent = (self.units, self.units)
    bias = (self.units,)
    if self.reset_gate:
      self.Wi = self._kernel(names.INPUT_GATE_W, kernel)
      self.Ui = self._recurrent(names.INPUT_GATE_U, recurrent)
      self.bi = self._bias(names.INPUT_GATE_B, bias)
    self.Wf = self._kernel(names.FORGET_GATE_W, kernel)
    self.Uf = self._recurrent(names.FORGET_GATE_U_TF2, recurrent)
    self.bf = self._bias(names.FORGET_GATE_B, bias)
    self.Wc = self._kernel(names.CONTROL_GATE_W, kernel)
    self.Uc = self._recurrent(names.CONTROL_GATE_U, recurrent)
    self.bc = self._bias(names.CONTROL_GATE_B, bias)

  def fast_weights(self):
    """Per gate its kernel, bias and recurrent kernel, and how the state
    mixes, for `tf2/fast_gru.py`: the update gate z is the tutorial's
    "forget" gate, its reset gate r the "input" gate (none without it)."""
    if self.reset_gate:
      return ([self.Wf, self.Wi, self.Wc], [self.bf, self.bi, self.bc],
              [self.Uf, self.Ui, self.Uc], fast_gru.STATE_KEEPS)
    return ([self.Wf, self.Wc], [self.bf, self.bc], [self.Uf, self.Uc],
            fast_gru.STATE_KEEPS)

  def step(self, x, previous_hidden_state):
    """One reference step, in the legacy `unit`'s order."""
    h = previous_hidden_state
    if self.reset_gate:
      r = tf.sigmoid(tf.matmul(x, self.Wi) + tf.matmul(h, self.Ui) + self.bi)
    z = tf.sigmoid(tf.matmul(x, self.Wf) + tf.matmul(h, self.Uf) + self.bf)
    reset_h = r * h if self.reset_gate else h
    n = tf.tanh(tf.matmul(x, self.Wc) + tf.matmul(reset_h, self.Uc) +
                self.bc)
    return (1 - z) * n + z * h

  def get_config_for_layer(self):
    config = super().get_config_for_layer()
    config["reset_gate"] = self.reset_gate
    return config


@keras.saving.register_keras_serializable(package="tf1_gru_migration")
class LoopGRU(recurrent.GRULayer):
  """The tutorial GRU over sequences, with the Keras RNN options.

  Args:
    units: the state size.
    reset_gate: False for the tutorial's variant without the reset gate.
    kernel_initializer, recurrent_initializer, bias_initializer: as for
      `LoopGRUCell` (defaults are the legacy ones).
    return_sequences, return_state, go_backwards, stateful,
      zero_output_for_mask: as for `keras.layers.RNN`.
    mode: "fast" (the default, within `tolerances.FAST_PATH`) or "exact"
      (bitwise with the legacy graph); `tf2/recurrent.py` says what each
      costs.
    **kwargs: passed to `keras.layers.Layer` (name, dtype, ...).

  For the legacy `GRU(inputs, ...).output()`, bit for bit, use
  `LoopGRU(units, return_sequences=True, mode="exact")`.

  Called eagerly, the time loop still runs as a traced `tf.function`, also
  under `tf.config.run_functions_eagerly(True)` (see `tf2/_tracing.py`):
  that is what keeps the exact mode's eager gradients bitwise equal to the
  legacy graph's.

  Example:

  >>> import numpy as np
  >>> gru = LoopGRU(4, reset_gate=False)
  >>> tuple(gru(np.zeros((2, 5, 3), np.float32)).shape)
  (2, 4)
  >>> len(gru.weights)  # no reset gate: Wf Uf bf Wc Uc bc
  6
  """

  def __init__(self, units, reset_gate=True, kernel_initializer=None,
               recurrent_initializer=None, bias_initializer=None,
               return_sequences=False, return_state=False, go_backwards=False,
               stateful=False, zero_output_for_mask=False,
               mode=recurrent.DEFAULT_MODE, **kwargs):
    cell = LoopGRUCell(units, reset_gate=reset_gate,
                       kernel_initializer=kernel_initializer,
                       recurrent_initializer=recurrent_initializer,
                       bias_initializer=bias_initializer,
                       dtype=kwargs.get("dtype"),
                       trainable=kwargs.get("trainable", True),
                       name="loop_gru_cell")
    super().__init__(cell, return_sequences=return_sequences,
                     return_state=return_state, go_backwards=go_backwards,
                     stateful=stateful,
                     zero_output_for_mask=zero_output_for_mask, mode=mode,
                     **kwargs)

  @property
  def reset_gate(self):
    return self.cell.reset_gate
