"""A CNN-RNN text classifier that reads its GRU's output at each sentence's
last real step, reproduced at a small size.

Source: https://github.com/jiegzhan/multi-class-text-classification-cnn-rnn
  at commit 5db803b7c156655ead270cb9788148dc8c7f6afd (master):
  text_cnn_rnn.py (`TextCNNRNN`, last changed at
  4002f10bc8beb21f60d1645b5ce497fd2b0ff2fe), train.py (`train_cnn_rnn`:
  the optimizer, `real_len`, `train_step`/`dev_step` feeds),
  training_config.json (the hyperparameters) and data_helper.py
  (`load_embeddings`, `pad_sentences`, `build_vocab`).

The model: `input_x` [None, sequence_length] int32 looked up in the
embedding `embedding/W` (a `tf.constant` with `non_static` false, the
configured default); for each filter size (3, 4, 5) under
`conv-maxpool-<size>`, the embedded words, padded on both sides with
copies of the fed `pad` zeros, go through `tf.nn.conv2d` (variables
`conv-maxpool-<size>/W`, `/b`), relu and `tf.nn.max_pool` (window and
stride `max_pool_size`), reshaped to [batch, reduced, num_filters]. The
three are concatenated and dropped out, split into `reduced` steps and run
by `tf.contrib.rnn.static_rnn` (scope `rnn`) over a GRUCell in a
DropoutWrapper, from the cell's zero state for the fed `batch_size`, with
`sequence_length=real_len` (lengths in pooled steps). Each sentence's
output at its last real step is then collected under `Output` by a chain
of masks: for each step i > 0, `output = output * mat + outputs[i] * (1 -
mat)` where `mat` is `real_len < i + 1` as floats (`tf.to_float`) times a
row of ones (`tf.matmul`). `W` and `b` under the name scope `output` give
`scores` (`tf.nn.xw_plus_b`) and `predictions` (argmax). train.py trains
the loss with `RMSPropOptimizer(1e-3, decay=0.9)` and `global_step`.

TF 2.21 makes names unique without regard to case, and `Output` (the
variable scope above) came first, so the name scope `output` becomes
`output_1`: the checkpoint holds `output_1/W` and `output_1/b`, and the
outputs are `output_1/scores` and `output_1/predictions`. The author's
own checkpoint in the repository (trained_results_1516404693/
best_model.ckpt, January 2018) holds `output/W` and `output/b`: the
TensorFlow 1.x that saved it told the two scopes apart by case.

Of the public TF1 text classifiers the search found, this one (a known
CNN-RNN repository) combines a convolution with a choice of the RNN's last
output by each sequence's length; it unrolls its GRU with `static_rnn`
(per-step `cond`s on the lengths, no while loop) and selects the output
with masks, not with `tf.gather`.

`tf.contrib` is gone from TF 2.21: `tf.contrib.rnn.GRUCell` and
`DropoutWrapper` were `tf.compat.v1.nn.rnn_cell`'s classes and
`tf.contrib.rnn.static_rnn` was `tf.compat.v1.nn.static_rnn`. The rest is
the source's, with `tf.X` spelled `tf.compat.v1.X` where TF 2 moved it
(what tf_upgrade_v2 writes).

Deviations from the source:
  - Sizes: embedding_dim 6 (300), hidden_unit 5 (300), num_filters 2
    (32), sentences of 20 words (the data's longest, padded), 5 classes
    (the Kaggle data's 39), batches of 4 (128); filter_sizes 3,4,5,
    max_pool_size 4, non_static false, l2_reg_lambda 0.0 and the keep
    probability 0.5 are the configured ones. 3 training steps.
  - Data: seeded random word ids (1..; the padding word `<PAD/>`, the
    commonest, is id 0 as `build_vocab` numbers it) of 1 to 19 words, so
    that each sentence ends in padding, and one-hot labels, instead of the
    San Francisco crime descriptions; the embedding matrix is seeded
    uniform(-0.25, 0.25) as `load_embeddings` draws it.
  - Names: `output_1/...` where the author's checkpoint has `output/...`
    (TF 2.21's case-insensitive unique names, above); the code is the
    same.
  - The checkpoint directories, dev and test evaluation and result files
    of `train_cnn_rnn` are left out.
  - `TextCNNRNN` records the RNN's per-step inputs and outputs, lengths,
    initial and final state and the selected last output in `self.taps`
    for the goldens (no op is added).
  - As for every program here: regenerate.py adds seeded noise to the
    variables the program starts from constants before training, and TF
    2.21 builds a few ops differently from TF 1.x (the goldens' README,
    "Common to all programs").
"""

import json

import numpy as np
import tensorflow as tf

from compat_tests import real_programs

real_programs.require_legacy_keras()

# training_config.json, shrunk where the docstring says.
params = json.loads("""{
    "batch_size": 4,
    "dropout_keep_prob": 0.5,
    "embedding_dim": 6,
    "evaluate_every": 200,
    "filter_sizes": "3,4,5",
    "hidden_unit": 5,
    "l2_reg_lambda": 0.0,
    "max_pool_size": 4,
    "non_static": false,
    "num_epochs": 1,
    "num_filters": 2
}""")
SEQUENCE_LENGTH = 20
VOCAB_SIZE = 30
NUM_CLASSES = 5
STEPS = 3
EMBEDDING_SEED = 1


# text_cnn_rnn.py

class TextCNNRNN(object):
  """The source's model (`taps` added, see the module docstring)."""

  def __init__(self, embedding_mat, non_static, hidden_unit, sequence_length,
               max_pool_size, num_classes, embedding_size, filter_sizes,
               num_filters, l2_reg_lambda=0.0):

    self.taps = {}
    self.input_x = tf.compat.v1.placeholder(tf.int32, [None, sequence_length],
                                            name="input_x")
    self.input_y = tf.compat.v1.placeholder(tf.float32, [None, num_classes],
                                            name="input_y")
    self.dropout_keep_prob = tf.compat.v1.placeholder(
        tf.float32, name="dropout_keep_prob")
    self.batch_size = tf.compat.v1.placeholder(tf.int32, [])
    self.pad = tf.compat.v1.placeholder(tf.float32,
                                        [None, 1, embedding_size, 1],
                                        name="pad")
    self.real_len = tf.compat.v1.placeholder(tf.int32, [None],
                                             name="real_len")

    l2_loss = tf.constant(0.0)

    with tf.device("/cpu:0"), tf.name_scope("embedding"):
      if not non_static:
        W = tf.constant(embedding_mat, name="W")  # pylint: disable=invalid-name
      else:
        W = tf.compat.v1.Variable(embedding_mat, name="W")  # pylint: disable=invalid-name
      self.embedded_chars = tf.nn.embedding_lookup(W, self.input_x)
      emb = tf.expand_dims(self.embedded_chars, -1)

    pooled_concat = []
    reduced = np.int32(np.ceil((sequence_length) * 1.0 / max_pool_size))

    for i, filter_size in enumerate(filter_sizes):  # pylint: disable=unused-variable
      with tf.name_scope("conv-maxpool-%s" % filter_size):

        # Zero paddings so that the convolution output have dimension
        # batch x sequence_length x emb_size x channel
        num_prio = (filter_size-1) // 2
        num_post = (filter_size-1) - num_prio
        pad_prio = tf.concat([self.pad] * num_prio, 1)
        pad_post = tf.concat([self.pad] * num_post, 1)
        emb_pad = tf.concat([pad_prio, emb, pad_post], 1)

        filter_shape = [filter_size, embedding_size, 1, num_filters]
        W = tf.compat.v1.Variable(  # pylint: disable=invalid-name
            tf.random.truncated_normal(filter_shape, stddev=0.1), name="W")
        b = tf.compat.v1.Variable(tf.constant(0.1, shape=[num_filters]),
                                  name="b")
        conv = tf.nn.conv2d(emb_pad, W, strides=[1, 1, 1, 1],
                            padding="VALID", name="conv")

        h = tf.nn.relu(tf.nn.bias_add(conv, b), name="relu")

        # Maxpooling over the outputs
        pooled = tf.compat.v1.nn.max_pool(
            h, ksize=[1, max_pool_size, 1, 1],
            strides=[1, max_pool_size, 1, 1], padding="SAME", name="pool")
        pooled = tf.reshape(pooled, [-1, reduced, num_filters])
        pooled_concat.append(pooled)

    pooled_concat = tf.concat(pooled_concat, 2)
    pooled_concat = tf.compat.v1.nn.dropout(pooled_concat,
                                            self.dropout_keep_prob)

    # lstm_cell = tf.nn.rnn_cell.LSTMCell(num_units=hidden_unit)

    # lstm_cell = tf.nn.rnn_cell.GRUCell(num_units=hidden_unit)
    lstm_cell = tf.compat.v1.nn.rnn_cell.GRUCell(num_units=hidden_unit)

    # lstm_cell = tf.nn.rnn_cell.DropoutWrapper(
    #     lstm_cell, output_keep_prob=self.dropout_keep_prob)
    lstm_cell = tf.compat.v1.nn.rnn_cell.DropoutWrapper(
        lstm_cell, output_keep_prob=self.dropout_keep_prob)

    self._initial_state = lstm_cell.zero_state(self.batch_size, tf.float32)
    # inputs = [tf.squeeze(input_, [1])
    #           for input_ in tf.split(1, reduced, pooled_concat)]
    inputs = [tf.squeeze(input_, [1]) for input_ in tf.split(
        pooled_concat, num_or_size_splits=int(reduced), axis=1)]
    # outputs, state = tf.nn.rnn(lstm_cell, inputs,
    #     initial_state=self._initial_state, sequence_length=self.real_len)
    outputs, state = tf.compat.v1.nn.static_rnn(
        lstm_cell, inputs, initial_state=self._initial_state,
        sequence_length=self.real_len)

    # Collect the appropriate last words into variable output
    # (dimension = batch x embedding_size)
    output = outputs[0]
    with tf.compat.v1.variable_scope("Output"):
      tf.compat.v1.get_variable_scope().reuse_variables()
      one = tf.ones([1, hidden_unit], tf.float32)
      for i in range(1, len(outputs)):
        ind = self.real_len < (i+1)
        ind = tf.compat.v1.to_float(ind)
        ind = tf.expand_dims(ind, -1)
        mat = tf.matmul(ind, one)
        output = tf.add(tf.multiply(output, mat),
                        tf.multiply(outputs[i], 1.0 - mat))
    self.taps["rnn"] = {"input": inputs, "sequence_length": self.real_len,
                        "initial_state": self._initial_state,
                        "output": outputs, "final_state": state,
                        "last_output": output}

    with tf.name_scope("output"):
      self.W = tf.compat.v1.Variable(
          tf.random.truncated_normal([hidden_unit, num_classes], stddev=0.1),
          name="W")
      b = tf.compat.v1.Variable(tf.constant(0.1, shape=[num_classes]),
                                name="b")
      l2_loss += tf.nn.l2_loss(W)
      l2_loss += tf.nn.l2_loss(b)
      self.scores = tf.compat.v1.nn.xw_plus_b(output, self.W, b,
                                              name="scores")
      self.predictions = tf.argmax(self.scores, 1, name="predictions")

    with tf.name_scope("loss"):
      losses = tf.compat.v1.nn.softmax_cross_entropy_with_logits(
          labels=self.input_y, logits=self.scores)  # only named arguments accepted
      self.loss = tf.reduce_mean(losses) + l2_reg_lambda * l2_loss

    with tf.name_scope("accuracy"):
      correct_predictions = tf.equal(self.predictions,
                                     tf.argmax(self.input_y, 1))
      self.accuracy = tf.reduce_mean(tf.cast(correct_predictions, "float"),
                                     name="accuracy")

    with tf.name_scope("num_correct"):
      correct = tf.equal(self.predictions, tf.argmax(self.input_y, 1))
      self.num_correct = tf.reduce_sum(tf.cast(correct, "float"))


# train.py

def real_len(batches):
  return [np.ceil(np.argmin(batch + [0]) * 1.0 / params["max_pool_size"])
          for batch in batches]


def build():
  """Builds train.py's `TextCNNRNN` in the default graph.

  Returns:
    {"feeds": {"input_x", "dropout_keep_prob", "batch_size", "pad",
               "real_len"},
     "outputs": {"scores", "predictions"},
     "rnn": {"rnn": {role: tensor}}} (the model itself under "model").
  """
  # load_embeddings: uniform(-0.25, 0.25) per word, seeded here.
  embedding_mat = np.random.RandomState(EMBEDDING_SEED).uniform(
      -0.25, 0.25, (VOCAB_SIZE, params["embedding_dim"]))
  embedding_mat = np.array(embedding_mat, dtype=np.float32)
  cnn_rnn = TextCNNRNN(
      embedding_mat=embedding_mat,
      sequence_length=SEQUENCE_LENGTH,
      num_classes=NUM_CLASSES,
      non_static=params["non_static"],
      hidden_unit=params["hidden_unit"],
      max_pool_size=params["max_pool_size"],
      filter_sizes=map(int, params["filter_sizes"].split(",")),
      num_filters=params["num_filters"],
      embedding_size=params["embedding_dim"],
      l2_reg_lambda=params["l2_reg_lambda"])
  feeds = {"input_x": cnn_rnn.input_x,
           "dropout_keep_prob": cnn_rnn.dropout_keep_prob,
           "batch_size": cnn_rnn.batch_size, "pad": cnn_rnn.pad,
           "real_len": cnn_rnn.real_len}
  return {"feeds": feeds,
          "outputs": {"scores": cnn_rnn.scores,
                      "predictions": cnn_rnn.predictions},
          "rnn": cnn_rnn.taps, "model": cnn_rnn}


def train_op(model):
  """train.py's `global_step`, RMSProp and train op; `train_step` feeds
  `input_y` besides the model's feeds."""
  cnn_rnn = model["model"]
  global_step = tf.compat.v1.Variable(0, name="global_step", trainable=False)
  optimizer = tf.compat.v1.train.RMSPropOptimizer(1e-3, decay=0.9)
  grads_and_vars = optimizer.compute_gradients(cnn_rnn.loss)
  op = optimizer.apply_gradients(grads_and_vars, global_step=global_step)
  return {"op": op, "feeds": {"input_y": cnn_rnn.input_y}}


def batch(rng, training):
  """Seeded random sentences (ids 1.., 0 pads on the right, as
  `pad_sentences` and `build_vocab` make them), fed as `train_step`
  (training) or `dev_step` feeds them."""
  batch_size = params["batch_size"]
  lengths = rng.randint(1, SEQUENCE_LENGTH, batch_size)
  ids = rng.randint(1, VOCAB_SIZE, (batch_size, SEQUENCE_LENGTH))
  x_batch = np.where(np.arange(SEQUENCE_LENGTH)[None, :] < lengths[:, None],
                     ids, 0).astype(np.int32)
  feeds = {"input_x": x_batch,
           "dropout_keep_prob": np.float32(
               params["dropout_keep_prob"] if training else 1.0),
           "batch_size": np.int32(len(x_batch)),
           "pad": np.zeros([len(x_batch), 1, params["embedding_dim"], 1],
                           dtype=np.float32),
           "real_len": np.asarray(real_len(x_batch), dtype=np.int32)}
  if training:
    labels = rng.randint(0, NUM_CLASSES, batch_size)
    feeds["input_y"] = np.eye(NUM_CLASSES, dtype=np.float32)[labels]
  return feeds
