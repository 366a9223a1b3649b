"""The tutorial GRU (seed 001), ported to TensorFlow 2.21's TF1 graph mode.

A faithful port of the tutorial's `GRU` class: the same constructor signature,
`output()`, variable names, initializers, equations and loop structure
(`tf.while_loop` over a `TensorArray`), built with `tf.compat.v1` into the
caller's graph, plus the tutorial's two variants: without the reset gate
(its section 3.4) and a BiGRU (its section 3.5).

Equations, one loop step (x: [batch, emb_dim], h: [batch, hidden_dim]):

    r = sigmoid(x @ Wi + h @ Ui + bi)          # "input gate" names: reset
    z = sigmoid(x @ Wf + h @ Uf + bf)          # "forget gate" names: update
    n = tanh(x @ Wc + (r * h) @ Uc + bc)       # "control gate" names: new
    h' = (1 - z) * n + z * h

The update gate multiplies the *previous state*, as in Keras's GRU (where the
same gates are ordered [z, r, h]).

Weights, in the variable scope 'gru_init' (matrices from
random_normal(stddev=0.1), biases zero):

    gru_init/input_gate_wi    Wi [emb_dim, hidden_dim]
    gru_init/input_gate_ui    Ui [hidden_dim, hidden_dim]
    gru_init/input_gate_bias  bi [hidden_dim]
    gru_init/forget_gate_wf   Wf [emb_dim, hidden_dim]
    gru_init/forget_gate_wf_1 Uf [hidden_dim, hidden_dim]
    gru_init/forget_gate_bias bf [hidden_dim]
    gru_init/control_gate_wc  Wc [emb_dim, hidden_dim]
    gru_init/control_gate_uc  Uc [hidden_dim, hidden_dim]
    gru_init/control_gate_bias bc [hidden_dim]

The source names *both* Wf and Uf 'forget_gate_wf'; TensorFlow keeps variable
names unique, so Uf becomes 'forget_gate_wf_1'. A second GRU in the same
graph enters the scope again and gets the prefix 'gru_init_1/' (then
'gru_init_2/', ...); a BiGRU's forward GRU therefore lives in 'gru_init' and
its backward GRU in 'gru_init_1'.

Semantics kept exactly from the source:
  * with `revers=True` the inputs are reversed per row with
    `tf.reverse_sequence` over `sequence_length` (fully, without lengths);
    the outputs are *not* reversed back;
  * `sequence_length` is used only for that reversal: the loop runs over every
    time step, so padding is not masked (outputs past a row's length continue
    the recurrence over the padding).
"""

import tensorflow as tf

from gru_common import checks
from gru_common import names
from legacy import _validation

_v1 = tf.compat.v1

MATRIX_STDDEV = 0.1


class GRU():
  """The tutorial's GRU.

  inputs: batch_size * time_step * dim
  sequence_length: is a list

  Args:
    inputs: float tensor [batch, time, emb_dim]. The source used float32; the
      port builds its variables in the inputs' float dtype, which is the same
      graph for float32.
    emb_dim: int, the size of the last axis of `inputs`.
    hidden_dim: int, the size of the hidden state.
    sequence_length: optional int vector [batch], each in [0, time]; used
      only when `revers` is True.
    revers: bool; if True, reverse each row (within its length) before the
      loop. The outputs stay in reversed order.
  """

  def __init__(self, inputs, emb_dim, hidden_dim, sequence_length=None,
               revers=False):
    _validation.require_graph_mode(f"legacy.loop_gru.{type(self).__name__}")
    self.emb_dim = checks.integer("emb_dim", emb_dim)
    self.hidden_dim = checks.integer("hidden_dim", hidden_dim)
    inputs = _validation.check_sequences("inputs", inputs, self.emb_dim)
    if sequence_length is not None:
      sequence_length = _validation.check_sequence_length(
          "sequence_length", sequence_length, inputs)
    self.dtype = inputs.dtype

    self.time_step = tf.shape(inputs)[1]
    self.batch_size = tf.shape(inputs)[0]

    if revers:
      if sequence_length is not None:
        inputs = tf.reverse_sequence(inputs, seq_lengths=sequence_length,
                                     seq_axis=1, batch_axis=0)
      else:
        inputs = tf.reverse(inputs, axis=[1])

    self.inputs = tf.transpose(inputs, perm=[1, 0, 2])

    with _v1.variable_scope(names.LOOP_SCOPE):
      # maps h_tm1 to h_t for generator
      self.g_recurrent_unit = self.create_recurrent_unit()
      # maps h_t to o_t (output token logits)
      self.g_output_unit = self.create_output_unit()

    # Initial states
    self.h0 = tf.zeros([self.batch_size, self.hidden_dim], dtype=self.dtype)

    gen_o = tf.TensorArray(dtype=self.dtype, size=self.time_step,
                           dynamic_size=False, infer_shape=True)

    def _g_recurrence(i, x_t, h_tm1, gen_o):
      h_t = self.g_recurrent_unit(x_t, h_tm1)
      o_t = self.g_output_unit(h_t)

      gen_o = gen_o.write(i, o_t)
      i_next = _v1.where(tf.less(i, self.time_step - 1), i + 1,
                         self.time_step - 1)
      x_t_next = tf.nn.embedding_lookup(self.inputs, i_next)  # batch x emb_dim
      return i + 1, x_t_next, h_t, gen_o

    # loop
    _, _, _, self.gen_o = _v1.while_loop(
        cond=lambda i, _1, _2, _3: i < self.time_step,
        body=_g_recurrence,
        loop_vars=(tf.constant(0, dtype=tf.int32),
                   tf.nn.embedding_lookup(self.inputs, 0),
                   self.h0, gen_o))

    self.gen_o = self.gen_o.stack()  # seq_length x batch_size
    self.outputs = tf.transpose(self.gen_o, perm=[1, 0, 2])
    # The source discards this op; TF1 control flow logs an error for a
    # discarded close(), so it is marked used (it never runs either way).
    closed = gen_o.close()
    if hasattr(closed, "mark_used"):
      closed.mark_used()

  def init_matrix(self, shape):
    return _v1.random_normal(shape, stddev=MATRIX_STDDEV, dtype=self.dtype)

  def init_vector(self, shape):
    return tf.zeros(shape, dtype=self.dtype)

  def create_recurrent_unit(self):
    # Weights and Bias for input and hidden tensor
    # reset gate
    self.Wi = _v1.Variable(self.init_matrix([self.emb_dim, self.hidden_dim]),
                           name=names.INPUT_GATE_W)
    self.Ui = _v1.Variable(
        self.init_matrix([self.hidden_dim, self.hidden_dim]),
        name=names.INPUT_GATE_U)
    self.bi = _v1.Variable(self.init_vector([self.hidden_dim]),
                           name=names.INPUT_GATE_B)
    self._create_update_and_candidate_weights()

    def unit(x, previous_hidden_state):
      # Reset Gate
      r = tf.sigmoid(
          tf.matmul(x, self.Wi) +
          tf.matmul(previous_hidden_state, self.Ui) + self.bi)

      # Forget Gate
      z = tf.sigmoid(
          tf.matmul(x, self.Wf) +
          tf.matmul(previous_hidden_state, self.Uf) + self.bf)

      # New Memory Cell
      n = tf.nn.tanh(
          tf.matmul(x, self.Wc) +
          tf.matmul(r * previous_hidden_state, self.Uc) + self.bc)

      # Current Hidden state
      current_hidden_state = (1 - z) * n + z * previous_hidden_state

      return current_hidden_state

    return unit

  def _create_update_and_candidate_weights(self):
    """The forget (update) and control (candidate) gates' weights."""
    self.Wf = _v1.Variable(self.init_matrix([self.emb_dim, self.hidden_dim]),
                           name=names.FORGET_GATE_W)
    self.Uf = _v1.Variable(
        self.init_matrix([self.hidden_dim, self.hidden_dim]),
        name=names.FORGET_GATE_W)  # sic: the source's name for Uf
    self.bf = _v1.Variable(self.init_vector([self.hidden_dim]),
                           name=names.FORGET_GATE_B)

    self.Wc = _v1.Variable(self.init_matrix([self.emb_dim, self.hidden_dim]),
                           name=names.CONTROL_GATE_W)
    self.Uc = _v1.Variable(
        self.init_matrix([self.hidden_dim, self.hidden_dim]),
        name=names.CONTROL_GATE_U)
    self.bc = _v1.Variable(self.init_vector([self.hidden_dim]),
                           name=names.CONTROL_GATE_B)

  def create_output_unit(self):

    def unit(hidden_state):
      return hidden_state

    return unit

  def output(self):
    return self.outputs

  @property
  def variables(self):
    """This GRU's variables, in order of creation."""
    return [self.Wi, self.Ui, self.bi, self.Wf, self.Uf, self.bf,
            self.Wc, self.Uc, self.bc]


class GRUNoResetGate(GRU):
  """The tutorial's section 3.4: the GRU with its reset gate removed.

  The tutorial says to drop the computation of r from
  `create_recurrent_unit()`; with it go r's weights (Wi, Ui, bi), and the
  candidate reads the previous state directly:

      z = sigmoid(x @ Wf + h @ Uf + bf)
      n = tanh(x @ Wc + h @ Uc + bc)
      h' = (1 - z) * n + z * h

  Variables: the six 'forget_gate_*' and 'control_gate_*' ones of `GRU`
  (Uf still stored as 'forget_gate_wf_1').
  """

  def create_recurrent_unit(self):
    self._create_update_and_candidate_weights()

    def unit(x, previous_hidden_state):
      # Forget Gate
      z = tf.sigmoid(
          tf.matmul(x, self.Wf) +
          tf.matmul(previous_hidden_state, self.Uf) + self.bf)

      # New Memory Cell
      n = tf.nn.tanh(
          tf.matmul(x, self.Wc) +
          tf.matmul(previous_hidden_state, self.Uc) + self.bc)

      # Current Hidden state
      current_hidden_state = (1 - z) * n + z * previous_hidden_state

      return current_hidden_state

    return unit

  @property
  def variables(self):
    return [self.Wf, self.Uf, self.bf, self.Wc, self.Uc, self.bc]


class BiGRU():
  """The tutorial's section 3.5: a BiGRU from two GRUs.

  A forward GRU and a `revers=True` GRU read the same inputs and lengths; the
  backward outputs are reversed back with the same lengths (fully, without
  lengths) and concatenated to the forward ones on the feature axis:

      outputs: [batch, time, 2 * hidden_dim] = [forward | backward]

  As in the GRU, padding is not masked: past a row's length both directions
  run on over the padding, and `tf.reverse_sequence` leaves those positions
  where they are.

  Args:
    inputs, emb_dim, hidden_dim, sequence_length: as for `GRU`.
    gru_class: `GRU` or `GRUNoResetGate`, the cell of both directions.

  Attributes:
    forward: the forward GRU (variable scope 'gru_init' for the first GRU in
      the graph).
    backward: the backward GRU (the next scope: 'gru_init_1').
    outputs: the concatenated outputs.
  """

  def __init__(self, inputs, emb_dim, hidden_dim, sequence_length=None,
               gru_class=GRU):
    _validation.require_graph_mode("legacy.loop_gru.BiGRU")
    inputs = _validation.check_sequences(
        "inputs", inputs, checks.integer("emb_dim", emb_dim))
    if sequence_length is not None:
      sequence_length = _validation.check_sequence_length(
          "sequence_length", sequence_length, inputs)
    self.forward = gru_class(inputs, emb_dim, hidden_dim,
                             sequence_length=sequence_length)
    self.backward = gru_class(inputs, emb_dim, hidden_dim,
                              sequence_length=sequence_length, revers=True)
    backward_outputs = self.backward.output()
    if sequence_length is not None:
      backward_outputs = tf.reverse_sequence(
          backward_outputs, seq_lengths=sequence_length, seq_axis=1,
          batch_axis=0)
    else:
      backward_outputs = tf.reverse(backward_outputs, axis=[1])
    self.outputs = tf.concat([self.forward.output(), backward_outputs],
                             axis=2)

  def output(self):
    return self.outputs

  @property
  def variables(self):
    return self.forward.variables + self.backward.variables
