"""char-rnn's character language model in its default configuration, a
2-layer BasicLSTMCell stack, reproduced small.

Source: https://github.com/sherjilozair/char-rnn-tensorflow
  model.py at commit ccb85108439e8fe9b65c1767f5c61bf58c1965a5 (`Model`,
  with `training=True`), and train.py's defaults (`--model lstm`,
  `--num_layers 2`, keep probabilities 1.0, `--grad_clip 5.`,
  `--learning_rate 0.002`, `--decay_rate 0.97`) and training loop (the
  learning rate assigned to `model.lr`, the zero initial state fed back
  in).

The model: `embedding` [vocab, rnn_size] looked up for int32 ids
[batch_size, seq_length], split into steps, run through
`legacy_seq2seq.rnn_decoder` over a MultiRNNCell of 2
`rnn.BasicLSTMCell(rnn_size)` (forget bias 1.0, TF's default, held only by
the graph) under the scope `rnnlm`, from `cell.zero_state(batch_size)`;
the outputs, concatenated, are projected by `rnnlm/softmax_w` and
`rnnlm/softmax_b` into `logits` and `probs`. Trained with
`sequence_loss_by_example`, gradients clipped by global norm, and Adam at
the learning rate variable `Variable`.

`tf.contrib` is gone from TF 2.21: `rnn.BasicLSTMCell` and
`rnn.MultiRNNCell` were `tf.compat.v1.nn.rnn_cell`'s classes;
`legacy_seq2seq.rnn_decoder` and `sequence_loss_by_example` are contrib's,
reproduced in `compat_tests/real_programs/legacy_seq2seq.py`. The rest is the source's, with `tf.X` spelled `tf.compat.v1.X` where
TF 2 moved it.

Deviations from the source:
  - Sizes: rnn_size 16, seq_length 8, batch_size 4, vocab_size 12 (train.py:
    128, 50, 50 and the text's); 3 training steps on seeded random ids.
  - The learning rate is assigned by a control dependency of the training
    op (train.py runs the assignment before each epoch).
  - The text loader, `sample`, the TensorBoard summaries (histogram and
    scalar ops, which write nothing unless run) and the NASCell and
    DropoutWrapper branches (not taken by the defaults) are left out.
  - As for every program here: regenerate.py adds seeded noise to the
    variables the program starts from constants before training, and TF
    2.21 builds a few ops differently from TF 1.x (the goldens' README,
    "Common to all programs").
"""

import types

import numpy as np
import tensorflow as tf

from compat_tests import real_programs
from compat_tests.real_programs import legacy_seq2seq

real_programs.require_legacy_keras()

# train.py's defaults, at a small size.
args = types.SimpleNamespace(
    model="lstm", rnn_size=16, num_layers=2, seq_length=8, batch_size=4,
    vocab_size=12, grad_clip=5., learning_rate=0.002, decay_rate=0.97,
    output_keep_prob=1.0, input_keep_prob=1.0)
STEPS = 3

rnn = types.SimpleNamespace(BasicLSTMCell=tf.compat.v1.nn.rnn_cell.BasicLSTMCell,
                            MultiRNNCell=tf.compat.v1.nn.rnn_cell.MultiRNNCell)


def build():
  """model.py's `Model.__init__` (training=True) up to the loss.

  Returns:
    {"feeds": {"input_data"}, "outputs": {"logits", "probs"},
     "rnn": {"rnnlm": {"input": [per step], "output": [per step]}},
     "model": the source's attributes (targets, cost, lr, ...)}.
  """
  training = True
  if args.model == "lstm":
    cell_fn = rnn.BasicLSTMCell
  else:
    raise Exception("model type not supported: {}".format(args.model))  # pylint: disable=broad-exception-raised

  cells = []
  for _ in range(args.num_layers):
    cell = cell_fn(args.rnn_size)
    cells.append(cell)

  cell = rnn.MultiRNNCell(cells, state_is_tuple=True)

  input_data = tf.compat.v1.placeholder(
      tf.int32, [args.batch_size, args.seq_length])
  targets = tf.compat.v1.placeholder(
      tf.int32, [args.batch_size, args.seq_length])
  initial_state = cell.zero_state(args.batch_size, tf.float32)

  with tf.compat.v1.variable_scope("rnnlm"):
    softmax_w = tf.compat.v1.get_variable("softmax_w",
                                          [args.rnn_size, args.vocab_size])
    softmax_b = tf.compat.v1.get_variable("softmax_b", [args.vocab_size])

  embedding = tf.compat.v1.get_variable("embedding",
                                        [args.vocab_size, args.rnn_size])
  inputs = tf.nn.embedding_lookup(embedding, input_data)

  # dropout beta testing: double check which one should affect next line
  if training and args.output_keep_prob:
    inputs = tf.compat.v1.nn.dropout(inputs, args.output_keep_prob)

  inputs = tf.split(inputs, args.seq_length, 1)
  inputs = [tf.squeeze(input_, [1]) for input_ in inputs]

  outputs, last_state = legacy_seq2seq.rnn_decoder(
      inputs, initial_state, cell, loop_function=None, scope="rnnlm")
  output = tf.reshape(tf.concat(outputs, 1), [-1, args.rnn_size])

  logits = tf.matmul(output, softmax_w) + softmax_b
  probs = tf.nn.softmax(logits)
  return {"feeds": {"input_data": input_data},
          "outputs": {"logits": logits, "probs": probs},
          "rnn": {"rnnlm": {"input": inputs, "output": outputs}},
          "model": {"targets": targets, "logits": logits,
                    "final_state": last_state}}


def train_op(model):
  """model.py's loss, clipped gradients and Adam; train.py assigns the
  decayed learning rate to `lr` before each epoch (here: once).

  Returns {"op": train op, "feeds": {"targets": placeholder}}."""
  logits, targets = model["model"]["logits"], model["model"]["targets"]
  loss = legacy_seq2seq.sequence_loss_by_example(
      [logits],
      [tf.reshape(targets, [-1])],
      [tf.ones([args.batch_size * args.seq_length])])
  cost = tf.reduce_sum(loss) / args.batch_size / args.seq_length
  with tf.name_scope("cost"):
    cost = tf.reduce_sum(loss) / args.batch_size / args.seq_length
  lr = tf.compat.v1.Variable(0.0, trainable=False)
  tvars = tf.compat.v1.trainable_variables()
  grads, _ = tf.clip_by_global_norm(tf.gradients(cost, tvars),
                                    args.grad_clip)
  with tf.name_scope("optimizer"):
    optimizer = tf.compat.v1.train.AdamOptimizer(lr)
  # train.py runs tf.assign(model.lr, args.learning_rate * (args.decay_rate
  # ** e)) before each epoch; here the first epoch's, before each step.
  with tf.control_dependencies([tf.compat.v1.assign(
      lr, args.learning_rate * (args.decay_rate ** 0))]):
    train = optimizer.apply_gradients(zip(grads, tvars))
  return {"op": train, "feeds": {"targets": targets}}


def batch(rng, training):
  """Seeded random character ids, as the text loader feeds them
  ([batch_size, seq_length] int32; targets are the inputs shifted by
  one)."""
  ids = rng.randint(0, args.vocab_size,
                    (args.batch_size, args.seq_length + 1)).astype(np.int32)
  feeds = {"input_data": ids[:, :-1]}
  if training:
    feeds["targets"] = ids[:, 1:]
  return feeds
