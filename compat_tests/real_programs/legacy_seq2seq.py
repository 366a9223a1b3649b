"""The functions of `tf.contrib.legacy_seq2seq` that the real programs
call, reproduced op for op: contrib is gone from TF 2.21.

Source: tensorflow/tensorflow,
tensorflow/contrib/legacy_seq2seq/python/ops/seq2seq.py, read at commit
047a850a6b5a233448c0e470270bbd17afd9c4a7 (a TF 1.x revision; contrib last
shipped in TF 1.15). `rnn_decoder` takes one argument more, `taps`, in
which it records each step's state for the goldens (no op is added).

Used by `seq2seq_signal` and `char_rnn`. It imports TensorFlow, not the
TF1 cells: the programs pass their cells in.
"""

import tensorflow as tf


def rnn_decoder(decoder_inputs,
                initial_state,
                cell,
                loop_function=None,
                scope=None,
                taps=None):
  """RNN decoder for the sequence-to-sequence model (contrib's)."""
  with tf.compat.v1.variable_scope(scope or "rnn_decoder"):
    state = initial_state
    outputs = []
    prev = None
    for i, inp in enumerate(decoder_inputs):
      if loop_function is not None and prev is not None:
        with tf.compat.v1.variable_scope("loop_function", reuse=True):
          inp = loop_function(prev, i)
      if i > 0:
        tf.compat.v1.get_variable_scope().reuse_variables()
      output, state = cell(inp, state)
      outputs.append(output)
      if taps is not None:
        taps.setdefault("states", []).append(state)
      if loop_function is not None:
        prev = output
  return outputs, state


def sequence_loss_by_example(logits, targets, weights,
                             average_across_timesteps=True,
                             softmax_loss_function=None, name=None):
  """Weighted cross-entropy loss for a sequence of logits (contrib's)."""
  if len(targets) != len(logits) or len(weights) != len(logits):
    raise ValueError("Lengths of logits, weights, and targets must be the "
                     "same %d, %d, %d." % (len(logits), len(weights),
                                           len(targets)))
  with tf.compat.v1.name_scope(name, "sequence_loss_by_example",
                               logits + targets + weights):
    log_perp_list = []
    for logit, target, weight in zip(logits, targets, weights):
      if softmax_loss_function is None:
        target = tf.reshape(target, [-1])
        crossent = tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=target, logits=logit)
      else:
        crossent = softmax_loss_function(labels=target, logits=logit)
      log_perp_list.append(crossent * weight)
    log_perps = tf.add_n(log_perp_list)
    if average_across_timesteps:
      total_size = tf.add_n(weights)
      total_size += 1e-12  # Just to avoid division by 0 for all-0 weights.
      log_perps /= total_size
  return log_perps
