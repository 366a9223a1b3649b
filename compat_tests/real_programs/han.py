"""A hierarchical attention network with learned initial states, reproduced
at a small size.

Source: https://github.com/tqtg/hierarchical-attention-networks at commit
  0b36b64115137bebbb66760fe9e543a1298bc158 (master): model.py (`Model`),
  layers.py (`bidirectional_rnn`, `masking`, `attention`), utils.py
  (`get_shape`, `batch_doc_normalize`) and train.py (`loss_fn`,
  `train_fn`, `eval_fn`, the flags' defaults).

Each encoder (`word-encoder`, then `sent-encoder`) makes a forward and a
backward GRUCell named `cell_fw`/`cell_bw`, two variables `init_state_fw`/
`init_state_bw` of shape [1, cell_dim] tiled over the batch and passed as
`initial_state_fw`/`initial_state_bw` to `tf.compat.v1.nn.
bidirectional_dynamic_rnn` (called with the encoder's own scope, so its
`fw`/`bw` sub-scopes sit directly under `word-encoder`/`sent-encoder`),
then attention pooling (`attention/projection` dense layer and `att_W`).
The word encoder runs over every sentence of every document (batch *
sentences rows); the sentence encoder over the pooled sentence vectors.

The code below is the source's, with `tf.X` spelled `tf.compat.v1.X` where
TF 2 moved it (what tf_upgrade_v2 writes).

Deviations from the source:
  - `tensorflow.contrib.rnn.GRUCell` is `tf.compat.v1.nn.rnn_cell.GRUCell`
    (TF 1.x's contrib name was an alias of that class), and the
    LSTMStateTuple import falls back to `tf.compat.v1.nn.rnn_cell` as the
    source's own `except ImportError` does.
  - `inputs.get_shape()[-1].value` is
    `tf.compat.v1.dimension_value(inputs.get_shape()[-1])` (TF 2 shapes
    hold ints; tf_upgrade_v2's rewrite).
  - Sizes: cell_dim 4 (50), att_dim 5 (100), emb_size 6 (200), a
    vocabulary of 30 words, 5 classes (the source's), batches of 3
    documents of up to 3 sentences of up to 5 words.
  - Data: seeded random documents and labels instead of Yelp 2015; the
    embedding matrix starts from seeded random vectors of about GloVe's
    scale (normal, standard deviation 0.4) instead of `load_glove`'s
    GloVe 6B vectors.
  - Training: 3 RMSProp steps; `count_parameters` (printing only) and the
    summary writers are left out; summaries, `tf.metrics.accuracy` (local
    variables, not saved) and `summary_op` are built as the source does.
  - The encoders record their RNN's input, initial states and outputs in
    `self.taps` for the goldens (no op is added), and `train_op` records
    `eval_fn`'s predictions among the outputs.
  - As for every program here: regenerate.py adds seeded noise to the
    variables the program starts from constants before training, and TF
    2.21 builds a few ops differently from TF 1.x (the goldens' README,
    "Common to all programs").
"""

import numpy as np
import tensorflow as tf

from compat_tests import real_programs

real_programs.require_legacy_keras()

try:
  from tensorflow.contrib.rnn import LSTMStateTuple  # pylint: disable=g-import-not-at-top
except ImportError:
  LSTMStateTuple = tf.compat.v1.nn.rnn_cell.LSTMStateTuple

rnn = tf.compat.v1.nn.rnn_cell   # the source's `tensorflow.contrib.rnn`

# The run's settings (train.py's flags, shrunk where the docstring says).
CELL_DIM = 4
ATT_DIM = 5
EMB_SIZE = 6
VOCAB_SIZE = 30
NUM_CLASSES = 5
DROPOUT_RATE = 0.5
LEARNING_RATE = 0.0005
MAX_GRAD_NORM = 5.0
BATCH, MAX_SENTS, MAX_WORDS = 3, 3, 5
STEPS = 3
EMBEDDING_SEED = 1
EMBEDDING_SCALE = 0.4   # about the spread of GloVe 6B vectors' entries


# utils.py

def get_shape(tensor):
  """The source's `get_shape`: static dims where known, else dynamic."""
  static_shape = tensor.shape.as_list()
  dynamic_shape = tf.unstack(tf.shape(tensor))
  dims = [s[1] if s[0] is None else s[0]
          for s in zip(static_shape, dynamic_shape)]
  return dims


def batch_doc_normalize(docs):
  """The source's padding of a batch of documents (lists of sentences of
  word ids)."""
  sent_lengths = np.array([len(doc) for doc in docs], dtype=np.int32)
  max_sent_length = sent_lengths.max()
  word_lengths = [[len(sent) for sent in doc] for doc in docs]
  max_word_length = max(map(max, word_lengths))

  padded_docs = np.zeros(shape=[len(docs), max_sent_length, max_word_length],
                         dtype=np.int32)  # PADDING 0
  word_lengths = np.zeros(shape=[len(docs), max_sent_length], dtype=np.int32)
  for i, doc in enumerate(docs):
    for j, sent in enumerate(doc):
      word_lengths[i, j] = len(sent)
      for k, word in enumerate(sent):
        padded_docs[i, j, k] = word

  return (padded_docs, sent_lengths, max_sent_length, word_lengths,
          max_word_length)


# layers.py

def bidirectional_rnn(cell_fw, cell_bw, inputs, input_lengths,
                      initial_state_fw=None, initial_state_bw=None,
                      scope=None):
  """The source's wrapper: outputs and final states, each concatenated."""
  with tf.compat.v1.variable_scope(scope or "bi_rnn") as scope:
    ((fw_outputs, bw_outputs),
     (fw_state, bw_state)) = tf.compat.v1.nn.bidirectional_dynamic_rnn(
         cell_fw=cell_fw,
         cell_bw=cell_bw,
         inputs=inputs,
         sequence_length=input_lengths,
         initial_state_fw=initial_state_fw,
         initial_state_bw=initial_state_bw,
         dtype=tf.float32,
         scope=scope
     )
    outputs = tf.concat((fw_outputs, bw_outputs), axis=2)

    def concatenate_state(fw_state, bw_state):
      if isinstance(fw_state, LSTMStateTuple):
        state_c = tf.concat(
            (fw_state.c, bw_state.c), 1, name="bidirectional_concat_c")
        state_h = tf.concat(
            (fw_state.h, bw_state.h), 1, name="bidirectional_concat_h")
        state = LSTMStateTuple(c=state_c, h=state_h)
        return state
      elif isinstance(fw_state, tf.Tensor):
        state = tf.concat((fw_state, bw_state), 1,
                          name="bidirectional_concat")
        return state
      elif (isinstance(fw_state, tuple) and
            isinstance(bw_state, tuple) and
            len(fw_state) == len(bw_state)):
        # multilayer
        state = tuple(concatenate_state(fw, bw)
                      for fw, bw in zip(fw_state, bw_state))
        return state

      else:
        raise ValueError(
            "unknown state type: {}".format((fw_state, bw_state)))

    state = concatenate_state(fw_state, bw_state)
    return outputs, state


def masking(scores, sequence_lengths, score_mask_value=tf.constant(-np.inf)):
  """The source's: scores past each sequence's length get the mask value."""
  score_mask = tf.sequence_mask(sequence_lengths, maxlen=tf.shape(scores)[1])
  score_mask_values = score_mask_value * tf.ones_like(scores)
  return tf.compat.v1.where(score_mask, scores, score_mask_values)


def attention(inputs, att_dim, sequence_lengths, scope=None):
  """The source's attention pooling: (pooled outputs, weights)."""
  assert (len(inputs.get_shape()) == 3 and
          tf.compat.v1.dimension_value(inputs.get_shape()[-1]) is not None)

  with tf.compat.v1.variable_scope(scope or "attention"):
    word_att_W = tf.compat.v1.get_variable(name="att_W", shape=[att_dim, 1])  # pylint: disable=invalid-name

    projection = tf.compat.v1.layers.dense(inputs, att_dim, tf.nn.tanh,
                                           name="projection")

    alpha = tf.matmul(tf.reshape(projection, shape=[-1, att_dim]),
                      word_att_W)
    alpha = tf.reshape(alpha, shape=[-1, get_shape(inputs)[1]])
    alpha = masking(alpha, sequence_lengths,
                    tf.constant(-1e15, dtype=tf.float32))
    alpha = tf.nn.softmax(alpha)

    outputs = tf.reduce_sum(inputs * tf.expand_dims(alpha, 2), axis=1)
    return outputs, alpha


# model.py

class Model:
  """The source's HAN (`taps` added, see the module docstring)."""

  def __init__(self, cell_dim, att_dim, vocab_size, emb_size, num_classes,
               dropout_rate, pretrained_embs):
    self.cell_dim = cell_dim
    self.att_dim = att_dim
    self.emb_size = emb_size
    self.vocab_size = vocab_size
    self.num_classes = num_classes
    self.dropout_rate = dropout_rate
    self.pretrained_embs = pretrained_embs
    self.taps = {}

    self.docs = tf.compat.v1.placeholder(shape=(None, None, None),
                                         dtype=tf.int32, name="docs")
    self.sent_lengths = tf.compat.v1.placeholder(shape=(None,),
                                                 dtype=tf.int32,
                                                 name="sent_lengths")
    self.word_lengths = tf.compat.v1.placeholder(shape=(None, None),
                                                 dtype=tf.int32,
                                                 name="word_lengths")
    self.max_word_length = tf.compat.v1.placeholder(dtype=tf.int32,
                                                    name="max_word_length")
    self.max_sent_length = tf.compat.v1.placeholder(dtype=tf.int32,
                                                    name="max_sent_length")
    self.labels = tf.compat.v1.placeholder(shape=(None), dtype=tf.int32,
                                           name="labels")
    self.is_training = tf.compat.v1.placeholder(dtype=tf.bool,
                                                name="is_training")

    self._init_embedding()
    self._init_word_encoder()
    self._init_sent_encoder()
    self._init_classifier()

  def _init_embedding(self):
    with tf.compat.v1.variable_scope("embedding"):
      self.embedding_matrix = tf.compat.v1.get_variable(
          name="embedding_matrix",
          shape=[self.vocab_size, self.emb_size],
          initializer=tf.compat.v1.constant_initializer(
              self.pretrained_embs),
          dtype=tf.float32)
      self.embedded_inputs = tf.nn.embedding_lookup(self.embedding_matrix,
                                                    self.docs)

  def _init_word_encoder(self):
    with tf.compat.v1.variable_scope("word-encoder") as scope:
      word_inputs = tf.reshape(self.embedded_inputs,
                               [-1, self.max_word_length, self.emb_size])
      word_lengths = tf.reshape(self.word_lengths, [-1])

      # word encoder
      cell_fw = rnn.GRUCell(self.cell_dim, name="cell_fw")
      cell_bw = rnn.GRUCell(self.cell_dim, name="cell_bw")

      init_state_fw = tf.tile(tf.compat.v1.get_variable(
          "init_state_fw", shape=[1, self.cell_dim],
          initializer=tf.compat.v1.constant_initializer(0)),
                              multiples=[get_shape(word_inputs)[0], 1])
      init_state_bw = tf.tile(tf.compat.v1.get_variable(
          "init_state_bw", shape=[1, self.cell_dim],
          initializer=tf.compat.v1.constant_initializer(0)),
                              multiples=[get_shape(word_inputs)[0], 1])

      rnn_outputs, _ = bidirectional_rnn(cell_fw=cell_fw,
                                         cell_bw=cell_bw,
                                         inputs=word_inputs,
                                         input_lengths=word_lengths,
                                         initial_state_fw=init_state_fw,
                                         initial_state_bw=init_state_bw,
                                         scope=scope)
      self.taps["word_encoder"] = _taps(word_inputs, word_lengths,
                                        init_state_fw, init_state_bw,
                                        rnn_outputs)

      word_outputs, word_att_weights = attention(inputs=rnn_outputs,  # pylint: disable=unused-variable
                                                 att_dim=self.att_dim,
                                                 sequence_lengths=word_lengths)
      self.word_outputs = tf.compat.v1.layers.dropout(
          word_outputs, self.dropout_rate, training=self.is_training)

  def _init_sent_encoder(self):
    with tf.compat.v1.variable_scope("sent-encoder") as scope:
      sent_inputs = tf.reshape(self.word_outputs,
                               [-1, self.max_sent_length, 2 * self.cell_dim])

      # sentence encoder
      cell_fw = rnn.GRUCell(self.cell_dim, name="cell_fw")
      cell_bw = rnn.GRUCell(self.cell_dim, name="cell_bw")

      init_state_fw = tf.tile(tf.compat.v1.get_variable(
          "init_state_fw", shape=[1, self.cell_dim],
          initializer=tf.compat.v1.constant_initializer(0)),
                              multiples=[get_shape(sent_inputs)[0], 1])
      init_state_bw = tf.tile(tf.compat.v1.get_variable(
          "init_state_bw", shape=[1, self.cell_dim],
          initializer=tf.compat.v1.constant_initializer(0)),
                              multiples=[get_shape(sent_inputs)[0], 1])

      rnn_outputs, _ = bidirectional_rnn(cell_fw=cell_fw,
                                         cell_bw=cell_bw,
                                         inputs=sent_inputs,
                                         input_lengths=self.sent_lengths,
                                         initial_state_fw=init_state_fw,
                                         initial_state_bw=init_state_bw,
                                         scope=scope)
      self.taps["sent_encoder"] = _taps(sent_inputs, self.sent_lengths,
                                        init_state_fw, init_state_bw,
                                        rnn_outputs)

      sent_outputs, sent_att_weights = attention(  # pylint: disable=unused-variable
          inputs=rnn_outputs, att_dim=self.att_dim,
          sequence_lengths=self.sent_lengths)
      self.sent_outputs = tf.compat.v1.layers.dropout(
          sent_outputs, self.dropout_rate, training=self.is_training)

  def _init_classifier(self):
    with tf.compat.v1.variable_scope("classifier"):
      self.logits = tf.compat.v1.layers.dense(inputs=self.sent_outputs,
                                              units=self.num_classes,
                                              name="logits")

  def get_feed_dict(self, docs, labels, training=False):
    (padded_docs, sent_lengths, max_sent_length, word_lengths,
     max_word_length) = batch_doc_normalize(docs)
    fd = {
        self.docs: padded_docs,
        self.sent_lengths: sent_lengths,
        self.word_lengths: word_lengths,
        self.max_sent_length: max_sent_length,
        self.max_word_length: max_word_length,
        self.labels: labels,
        self.is_training: training
    }
    return fd


def _taps(inputs, lengths, init_state_fw, init_state_bw, outputs):
  """An encoder's RNN tensors: the forward and backward outputs are the
  inputs of `bidirectional_rnn`'s concat."""
  fw_outputs, bw_outputs = outputs.op.inputs[:2]
  return {"input": inputs, "sequence_length": lengths,
          "initial_state_fw": init_state_fw,
          "initial_state_bw": init_state_bw,
          "output_fw": fw_outputs, "output_bw": bw_outputs,
          "output": outputs}


# train.py

def loss_fn(labels, logits):
  onehot_labels = tf.one_hot(labels, depth=NUM_CLASSES)
  cross_entropy_loss = tf.compat.v1.losses.softmax_cross_entropy(
      onehot_labels=onehot_labels, logits=logits)
  tf.compat.v1.summary.scalar("loss", cross_entropy_loss)
  return cross_entropy_loss


def train_fn(loss):
  trained_vars = tf.compat.v1.trainable_variables()

  # Gradient clipping
  gradients = tf.gradients(loss, trained_vars)

  clipped_grads, global_norm = tf.clip_by_global_norm(gradients,
                                                      MAX_GRAD_NORM)
  tf.compat.v1.summary.scalar("global_grad_norm", global_norm)

  # Define optimizer
  global_step = tf.compat.v1.train.get_or_create_global_step()
  optimizer = tf.compat.v1.train.RMSPropOptimizer(LEARNING_RATE)
  train_op = optimizer.apply_gradients(zip(clipped_grads, trained_vars),  # pylint: disable=redefined-outer-name
                                       name="train_op",
                                       global_step=global_step)
  return train_op, global_step


def eval_fn(labels, logits):
  predictions = tf.argmax(logits, axis=-1)
  correct_preds = tf.equal(predictions, tf.cast(labels, tf.int64))
  batch_acc = tf.reduce_mean(tf.cast(correct_preds, tf.float32))
  tf.compat.v1.summary.scalar("accuracy", batch_acc)

  total_acc, acc_update = tf.compat.v1.metrics.accuracy(
      labels, predictions, name="metrics/acc")
  metrics_vars = tf.compat.v1.get_collection(
      tf.compat.v1.GraphKeys.LOCAL_VARIABLES, scope="metrics")
  metrics_init = tf.compat.v1.variables_initializer(var_list=metrics_vars)

  return batch_acc, total_acc, acc_update, metrics_init, predictions


def build():
  """Builds the source's `Model` in the default graph.

  Returns:
    {"feeds": {name: placeholder}, "outputs": {"logits": tensor},
     "rnn": {"word_encoder"|"sent_encoder": {role: tensor}}} (the Model
    itself under "model", for `train_op` and `batch`).
  """
  # Random vectors of GloVe's scale, in place of load_glove's matrix.
  embeddings = np.random.RandomState(EMBEDDING_SEED).normal(
      0., EMBEDDING_SCALE, (VOCAB_SIZE, EMB_SIZE))
  model = Model(cell_dim=CELL_DIM, att_dim=ATT_DIM, vocab_size=VOCAB_SIZE,
                emb_size=EMB_SIZE, num_classes=NUM_CLASSES,
                dropout_rate=DROPOUT_RATE, pretrained_embs=embeddings)
  feeds = {name: getattr(model, name) for name in (
      "docs", "sent_lengths", "word_lengths", "max_sent_length",
      "max_word_length", "is_training")}
  return {"feeds": feeds, "outputs": {"logits": model.logits},
          "rnn": model.taps, "model": model}


def train_op(model):
  """train.py's graph: loss_fn, train_fn (clipped RMSProp, global_step),
  eval_fn and the merged summaries. Adds `eval_fn`'s predictions to the
  outputs. Returns {"op": train op, "feeds": {"labels": placeholder}}."""
  han = model["model"]
  loss = loss_fn(han.labels, han.logits)
  op, _ = train_fn(loss)
  eval_fn_outputs = eval_fn(han.labels, han.logits)
  tf.compat.v1.summary.merge_all()
  model["outputs"]["predictions"] = eval_fn_outputs[-1]
  return {"op": op, "feeds": {"labels": han.labels}}


def batch(rng, training):
  """Seeded random documents (word ids 1.., 0 pads) fed as
  `Model.get_feed_dict` feeds them, keyed like the feeds."""
  docs = [[list(rng.randint(1, VOCAB_SIZE, rng.randint(1, MAX_WORDS + 1)))
           for _ in range(rng.randint(1, MAX_SENTS + 1))]
          for _ in range(BATCH)]
  (padded_docs, sent_lengths, max_sent_length, word_lengths,
   max_word_length) = batch_doc_normalize(docs)
  feeds = {"docs": padded_docs, "sent_lengths": sent_lengths,
           "word_lengths": word_lengths,
           "max_sent_length": np.int32(max_sent_length),
           "max_word_length": np.int32(max_word_length),
           "is_training": training}
  if training:
    feeds["labels"] = rng.randint(0, NUM_CLASSES, BATCH).astype(np.int32)
  return feeds
