"""The Data Blogger GRU (seed 000), ported to TensorFlow 2.21's TF1 graph mode.

A faithful port of the `GRU` class from the Data Blogger gist: the same
constructor signature, attributes, variable names, initializers, equations and
order of operations, built with `tf.compat.v1` into the caller's graph:

    with tf.Graph().as_default():
      gru = scan_gru.GRU(input_dimensions=2, hidden_size=16)
      ...  # feed gru.input_layer, fetch gru.h_t, in a tf.compat.v1.Session

Equations, one `tf.scan` step (x_t: [batch, input_dimensions],
h_tm1: [batch, hidden_size]):

    z_t = sigmoid(x_t @ Wz + h_tm1 @ Uz + bz)
    r_t = sigmoid(x_t @ Wr + h_tm1 @ Ur + br)
    h~_t = tanh(x_t @ Wh + (r_t * h_tm1) @ Uh + bh)
    h_t = (1 - z_t) * h_tm1 + z_t * h~_t

Note the mixing: the update gate z multiplies the *candidate*. Keras, ONNX and
TF1's GRUCell use h_t = z * h_tm1 + (1 - z) * h~_t instead; see
`migration/mapping.py` for how the two are related (z is negated).

Weights (all initialized from truncated_normal(mean=0, stddev=0.01)):

    Wr, Wz, Wh: [input_dimensions, hidden_size]
    Ur, Uz, Uh: [hidden_size, hidden_size]
    br, bz, bh: [hidden_size]

Importing this module never disables eager execution; only the graph the
caller makes the default runs in TF1 mode.
"""

import tensorflow as tf

from gru_common import checks
from gru_common import names
from legacy import _validation

_v1 = tf.compat.v1

INIT_MEAN = 0
INIT_STDDEV = 0.01


class GRU:
  """Implementation of a Gated Recurrent Unit (GRU) as described in [1].

  [1] Chung, J., Gulcehre, C., Cho, K., & Bengio, Y. (2014). Empirical
  evaluation of gated recurrent neural networks on sequence modeling.
  arXiv preprint arXiv:1412.3555.

  Args:
    input_dimensions: int
      The size of the input vectors (x_t).
    hidden_size: int
      The size of the hidden layer vectors (h_t).
    dtype: obj
      The datatype used for the variables and constants (optional).

  Attributes (as in the source):
    input_layer: placeholder [batch, time, input_dimensions], named 'input'.
    x_t: the input, time-major: [time, batch, input_dimensions].
    h_0: the initial state, [batch, hidden_size] of zeros (see below).
    h_t_transposed: all hidden states, time-major.
    h_t: all hidden states, [batch, time, hidden_size].
  """

  def __init__(self, input_dimensions, hidden_size, dtype=tf.float64):
    _validation.require_graph_mode("legacy.scan_gru.GRU")
    self.input_dimensions = checks.integer(
        "input_dimensions", input_dimensions)
    self.hidden_size = checks.integer("hidden_size",
                                                      hidden_size)
    dtype = _validation.check_float_dtype("dtype", dtype)

    def weight(shape, name):
      return _v1.Variable(
          _v1.truncated_normal(dtype=dtype, shape=shape, mean=INIT_MEAN,
                               stddev=INIT_STDDEV),
          name=name)

    # Weights for input vectors of shape (input_dimensions, hidden_size)
    self.Wr = weight((self.input_dimensions, self.hidden_size), names.WR)
    self.Wz = weight((self.input_dimensions, self.hidden_size), names.WZ)
    self.Wh = weight((self.input_dimensions, self.hidden_size), names.WH)

    # Weights for hidden vectors of shape (hidden_size, hidden_size)
    self.Ur = weight((self.hidden_size, self.hidden_size), names.UR)
    self.Uz = weight((self.hidden_size, self.hidden_size), names.UZ)
    self.Uh = weight((self.hidden_size, self.hidden_size), names.UH)

    # Biases for hidden vectors of shape (hidden_size,)
    # (Restored: the extracted source lost the `self.br =`, `self.bz =` and
    # `self.bh =` in front of these three assignments.)
    self.br = weight((self.hidden_size,), names.BR)
    self.bz = weight((self.hidden_size,), names.BZ)
    self.bh = weight((self.hidden_size,), names.BH)

    # Define the input layer placeholder. (The source hard-codes tf.float64
    # here and in h_0, so any other `dtype` could never run; the port uses
    # `dtype`, which is the same graph for the default.)
    self.input_layer = _v1.placeholder(
        dtype=dtype, shape=(None, None, self.input_dimensions), name="input")

    # Put the time-dimension upfront for the scan operator. (Added: a run-time
    # check that names the input; the source fails on an empty time axis
    # with an unnamed slice error.)
    with tf.control_dependencies([_validation.check_time_steps(
        "input_layer", self.input_layer)]):
      self.x_t = tf.transpose(self.input_layer, [1, 0, 2], name="x_t")

    # A little hack (to obtain the same shape as the input matrix) to define
    # the initial hidden state h_0. (A quirk kept from the source: a NaN or
    # Inf in the first time step makes h_0 NaN, not zero.)
    self.h_0 = tf.matmul(
        self.x_t[0, :, :],
        tf.zeros(dtype=dtype, shape=(self.input_dimensions,
                                     self.hidden_size)),
        name="h_0")

    # Perform the scan operator
    self.h_t_transposed = _v1.scan(
        self.forward_pass, self.x_t, initializer=self.h_0,
        name="h_t_transposed")

    # Transpose the result back
    self.h_t = tf.transpose(self.h_t_transposed, [1, 0, 2], name="h_t")

  def forward_pass(self, h_tm1, x_t):
    """Perform a forward pass.

    Args:
      h_tm1: np.matrix
        The hidden state at the previous timestep (h_{t-1}).
      x_t: np.matrix
        The input vector.

    Returns:
      The hidden state at this timestep (h_t).
    """
    # Definitions of z_t and r_t. (Restored: the extracted source lost the
    # trailing `self.bz)`, `self.br)` and `self.bh)` of these three lines.)
    z_t = tf.sigmoid(
        tf.matmul(x_t, self.Wz) + tf.matmul(h_tm1, self.Uz) + self.bz)
    r_t = tf.sigmoid(
        tf.matmul(x_t, self.Wr) + tf.matmul(h_tm1, self.Ur) + self.br)

    # Definition of h~_t
    h_proposal = tf.tanh(
        tf.matmul(x_t, self.Wh) + tf.matmul(tf.multiply(r_t, h_tm1), self.Uh)
        + self.bh)

    # Compute the next hidden state
    h_t = tf.multiply(1 - z_t, h_tm1) + tf.multiply(z_t, h_proposal)

    return h_t

  @property
  def variables(self):
    """The nine GRU variables, in the source's order of creation."""
    return [self.Wr, self.Wz, self.Wh, self.Ur, self.Uz, self.Uh,
            self.br, self.bz, self.bh]
