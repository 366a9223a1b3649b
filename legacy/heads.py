"""The seed jobs' heads, on a GRU's outputs, in TF1 graph mode.

    addition_output     the Data Blogger job's output layer on every hidden
                        state (the source's, applied per sequence with
                        `tf.map_fn`; unnamed variables `Variable`,
                        `Variable_1`)
    classifier_logits   the tutorial job's mean over time and softmax layer
                        (`classifier/softmax_w`, `classifier/softmax_b`)
"""

import tensorflow as tf

from gru_common import names
from legacy import loop_gru

_v1 = tf.compat.v1


def addition_output(hidden_states):
  """The source's output layer on every hidden state [batch, time, hidden].

  Returns:
    (W_output [hidden, 1], b_output [1], output [batch, time, 1]); the two
    variables are unnamed, as in the source, so a graph that builds them
    right after the GRU names them `Variable` and `Variable_1`.
  """
  dtype = hidden_states.dtype
  hidden_size = int(hidden_states.shape[-1])
  W_output = _v1.Variable(  # pylint: disable=invalid-name
      _v1.truncated_normal(dtype=dtype, shape=(hidden_size, 1),
                           mean=0, stddev=0.01))
  b_output = _v1.Variable(
      _v1.truncated_normal(dtype=dtype, shape=(1,), mean=0, stddev=0.01))
  output = tf.map_fn(lambda h_t: tf.matmul(h_t, W_output) + b_output,
                     hidden_states)
  return W_output, b_output, output


def classifier_logits(output, num_classes):
  """The mean over time of `output` [batch, time, width], then the softmax
  head's logits [batch, num_classes] (variables classifier/softmax_w, _b)."""
  # average output
  output_y = tf.reduce_mean(output, 1)
  width = output_y.shape[-1]
  with _v1.variable_scope(names.CLASSIFIER_SCOPE):
    w = _v1.Variable(_v1.random_normal([width, num_classes],
                                       stddev=loop_gru.MATRIX_STDDEV,
                                       dtype=output.dtype),
                     name=names.CLASSIFIER_HEAD[0])
    b = _v1.Variable(tf.zeros([num_classes], dtype=output.dtype),
                     name=names.CLASSIFIER_HEAD[1])
  return tf.matmul(output_y, w) + b
