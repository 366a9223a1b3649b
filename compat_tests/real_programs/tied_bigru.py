"""A weight-tied bidirectional GRU: the iterative alternating attention
reader, reproduced at a small size.

Source: https://github.com/natureLanguageQing/alternating-reader-tf
  model/AlternatingAttention.py at commit
  63a2ba5a88fe262ca0d5c2cb56e766d7cd5b5314 ("python 3.7 tensorflow 1.13.1"),
  the TF 1.13 port of https://github.com/nschuc/alternating-reader-tf
  (model/AlternatingAttention.py at commit
  00ade663930a35b9e1717b00fc3008b85147d4b5, written for TF 0.12), an
  implementation of Sordoni et al., "Iterative Alternating Neural
  Attention for Machine Reading" (arXiv:1606.02245).

`_bidirectional_encode` makes ONE `GRUCell` and passes it as both cell_fw
and cell_bw to `tf.compat.v1.nn.bidirectional_dynamic_rnn`. Since TF 1.2 a
cell is a layer that creates its weights on its first call: the forward
pass builds them under `.../bidirectional_rnn/fw/gru_cell/` and the
backward pass reuses them, so no `bw/` variable exists and both directions
share one set of weights (under TF 0.12, for which nschuc wrote it, each
call scope got its own weights). Documents are encoded under
`encode/docs`, queries under `encode/queries`, each with its own tied
cell; the inference GRU (`attend/gru_cell`, 4 * encoding_size units) is
then stepped by hand for `num_glimpses` glimpses.

The code below is the port's, with `tf.X` spelled `tf.compat.v1.X` where
TF 2 moved it (what tf_upgrade_v2 writes).

Deviations from the source:
  - `tf.contrib.layers.apply_regularization(tf.contrib.layers.
    l2_regularizer(...))`: contrib is gone from TF 2.21; both are
    reproduced below from tensorflow/tensorflow
    tensorflow/contrib/layers/python/layers/regularizers.py (read at commit
    0026b6e9def04f6980ae6f5ac3df5385f76c133a, a TF 1.x revision), less the
    logging line of a zero scale. (The penalty goes to
    REGULARIZATION_LOSSES and, as in the source, not into the loss.)
  - `tf.device('/gpu:0')`/`('/gpu:1')` around the encoders and glimpses are
    left out: this runs on CPU and a saved graph pinned to absent GPUs
    does not restore without soft placement.
  - The constructor's `session=tf.Session()` default argument and its
    `self._sess.run(tf.global_variables_initializer())` are left out
    (regenerate.py owns the session), as are the `batch_fit`/
    `batch_predict`/`get_attentions` methods (regenerate.py feeds the same
    placeholders: keep_prob 0.8 and learning rate 1e-3 to train, keep_prob
    1 to predict) and the unused `orthogonal_initializer`.
  - Sizes: encoding_size 4, embedding_size 6, a vocabulary of 40 words,
    batches of 4 documents of up to 12 words and queries of up to 5;
    num_glimpses, grad_norm_clip and l2_reg_coef are the defaults.
  - Data: seeded random word ids (0 pads) instead of the Children's Book
    Test; the answer is a word of its document.
  - `_inference` records each encoder's input and outputs and the
    inference GRU's per-glimpse inputs and states in `self._taps` for the
    goldens (no op is added).
  - As for every program here: regenerate.py adds seeded noise to the
    variables the program starts from constants before training, and TF
    2.21 builds a few ops differently from TF 1.x (the goldens' README,
    "Common to all programs").
"""

import numbers

import numpy as np
import tensorflow as tf

from compat_tests import real_programs

real_programs.require_legacy_keras()

VOCAB_SIZE = 40
ENCODING_SIZE = 4
EMBEDDING_SIZE = 6
BATCH, DOC_LENGTH, QUERY_LENGTH = 4, 12, 5
TRAIN_KEEP_PROB, TRAIN_LEARNING_RATE = 0.8, 1e-3
STEPS = 3


# tensorflow/contrib/layers/python/layers/regularizers.py (TF 1.x)

def l2_regularizer(scale, scope=None):
  """tf.contrib.layers.l2_regularizer (TF 1.x's)."""
  if isinstance(scale, numbers.Integral):
    raise ValueError("scale cannot be an integer: %s" % (scale,))
  if isinstance(scale, numbers.Real):
    if scale < 0.:
      raise ValueError("Setting a scale less than 0 on a regularizer: %g." %
                       scale)
    if scale == 0.:
      return lambda _: None

  def l2(weights):
    """Applies l2 regularization to weights."""
    with tf.compat.v1.name_scope(scope, "l2_regularizer", [weights]) as name:
      my_scale = tf.convert_to_tensor(scale,
                                      dtype=weights.dtype.base_dtype,
                                      name="scale")
      return tf.multiply(my_scale, tf.nn.l2_loss(weights), name=name)

  return l2


def apply_regularization(regularizer, weights_list=None):
  """tf.contrib.layers.apply_regularization (TF 1.x's)."""
  if not weights_list:
    weights_list = tf.compat.v1.get_collection(
        tf.compat.v1.GraphKeys.WEIGHTS)
  if not weights_list:
    raise ValueError("No weights to regularize.")
  with tf.compat.v1.name_scope("get_regularization_penalty",
                               values=weights_list) as scope:
    penalties = [regularizer(w) for w in weights_list]
    penalties = [
        p if p is not None else tf.constant(0.0) for p in penalties
    ]
    for p in penalties:
      if p.get_shape().ndims != 0:
        raise ValueError("regularizer must return a scalar Tensor instead "
                         "of a Tensor with rank %d." % p.get_shape().ndims)

    summed_penalty = tf.add_n(penalties, name=scope)
    tf.compat.v1.add_to_collection(
        tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES, summed_penalty)
    return summed_penalty


# model/AlternatingAttention.py

def length(sequence):
  return tf.reduce_sum(tf.sign(tf.abs(sequence)), 1)


class AlternatingAttention(object):
  """Iterative Alternating Attention Network (the source's)."""

  def __init__(self, batch_size, vocab_size, encoding_size, embedding_size,
               num_glimpses=8,
               grad_norm_clip=5.,
               l2_reg_coef=1e-4,
               name="AlternatingAttention"):
    """Creates an iterative alternating attention network as described in
    https://arxiv.org/abs/1606.02245"""
    self._batch_size = batch_size
    self._vocab_size = vocab_size
    self._encode_size = encoding_size
    self._infer_size = 4 * encoding_size
    self._embedding_size = embedding_size
    self._num_glimpses = num_glimpses
    self._name = name
    self._taps = {}

    self._build_placeholders()
    self._build_variables()

    # Regularization
    apply_regularization(l2_regularizer(l2_reg_coef), [self._embeddings])

    # Answer probability
    doc_attentions = self._inference(self._docs, self._queries)
    nans = tf.reduce_sum(tf.cast(tf.compat.v1.is_nan(doc_attentions),  # pylint: disable=unused-variable
                                 dtype=float))

    self._doc_attentions = doc_attentions
    ans_mask = tf.cast(tf.equal(tf.expand_dims(self._answers, -1),
                                self._docs), dtype=float)
    P_a = tf.reduce_sum(ans_mask * doc_attentions, 1)  # pylint: disable=invalid-name
    loss_op = -tf.reduce_mean(tf.compat.v1.log(P_a + tf.constant(0.00001)))
    self._loss_op = loss_op

    # Optimizer and gradients
    with tf.name_scope("optimizer"):
      self._opt = tf.compat.v1.train.AdamOptimizer(
          learning_rate=self._learning_rate)
      grads_and_vars = self._opt.compute_gradients(loss_op)
      capped_grads_and_vars = [(tf.clip_by_norm(g, grad_norm_clip), v)
                               for g, v in grads_and_vars]
      self._train_op = self._opt.apply_gradients(
          capped_grads_and_vars, global_step=self._global_step)

    tf.compat.v1.summary.scalar("loss", self._loss_op)
    tf.compat.v1.summary.scalar("learning_rate", self._learning_rate)
    tf.compat.v1.summary.histogram("answer_probability", P_a)
    self._summary_op = tf.compat.v1.summary.merge_all()

  def _build_placeholders(self):
    """Adds tensorflow placeholders for inputs to the model: documents,
    queries, answers. keep_prob and learning_rate are hyperparameters that
    we might like to adjust while training."""
    self._docs = tf.compat.v1.placeholder(tf.int32, [None, None],
                                          name="docs")
    self._queries = tf.compat.v1.placeholder(tf.int32, [None, None],
                                             name="queries")
    self._answers = tf.compat.v1.placeholder(tf.int32, [None],
                                             name="answers")

    self._keep_prob = tf.compat.v1.placeholder(tf.float32, name="keep_prob")
    self._learning_rate = tf.compat.v1.placeholder(tf.float32,
                                                   name="learning_rate")

  def _build_variables(self):
    with tf.compat.v1.variable_scope(
        "variables", initializer=tf.compat.v1.random_normal_initializer(
            mean=0.0, stddev=0.22, dtype=tf.float32)):
      self._embeddings = tf.compat.v1.get_variable(
          "embeddings", [self._vocab_size, self._embedding_size],
          dtype=tf.float32)
      self._A_q = tf.compat.v1.get_variable(  # pylint: disable=invalid-name
          "A_q", [2 * self._encode_size, self._infer_size], dtype=tf.float32)
      self._a_q = tf.compat.v1.get_variable(
          "a_q", [2 * self._encode_size, 1], dtype=tf.float32)

      self._A_d = tf.compat.v1.get_variable(  # pylint: disable=invalid-name
          "A_d", [2 * self._encode_size,
                  self._infer_size + 2 * self._encode_size],
          dtype=tf.float32)
      self._a_d = tf.compat.v1.get_variable(
          "a_d", [2 * self._encode_size, 1], dtype=tf.float32)

      self._g_q = tf.compat.v1.get_variable(
          "g_q", [self._infer_size + 6 * self._encode_size,
                  2 * self._encode_size])
      self._g_d = tf.compat.v1.get_variable(
          "g_d", [self._infer_size + 6 * self._encode_size,
                  2 * self._encode_size])

      self._global_step = tf.compat.v1.get_variable(
          "global_step", [], initializer=tf.compat.v1.constant_initializer(0),
          dtype=tf.int32, trainable=False)

  def _embed(self, sequence):
    """performs embedding lookups for every word in the sequence"""
    with tf.compat.v1.variable_scope("embed"):
      embedded = tf.nn.embedding_lookup(self._embeddings, sequence)
      return embedded

  def _bidirectional_encode(self, sequence, seq_lens, size):
    """Encodes sequence with two GRUs, one forward, one backward, and
    returns the concatenation"""
    with tf.name_scope("encode"):
      gru_cell = tf.compat.v1.nn.rnn_cell.GRUCell(size)
      outputs, _ = tf.compat.v1.nn.bidirectional_dynamic_rnn(
          gru_cell, gru_cell, sequence, sequence_length=seq_lens,
          dtype=tf.float32, swap_memory=True)
      encoded = tf.concat(outputs, 2)
      return encoded

  def _glimpse(self, weights, bias, encodings, inputs):
    """Computes glimpse over an encoding. Attention weights are computed
    based on the bilinear product of the encodings, weight matrix, and
    inputs.

    Returns attention weights and computed glimpse
    """
    weights = tf.compat.v1.nn.dropout(weights, self._keep_prob)
    inputs = tf.compat.v1.nn.dropout(inputs, self._keep_prob)
    attention = tf.transpose(tf.matmul(weights, tf.transpose(inputs)) + bias)
    attention = tf.matmul(encodings, tf.expand_dims(attention, -1))
    attention = tf.nn.softmax(tf.squeeze(attention, -1))
    return attention, tf.reduce_sum(tf.expand_dims(attention, -1) *
                                    encodings, 1)

  def _inference(self, docs, queries):
    """Computes document attentions given a document batch and query
    batch."""
    with tf.name_scope("inference"):
      # Compute document lengths / query lengths for batch
      doc_lens = length(docs)
      query_lens = length(queries)
      batch_size = tf.shape(docs)[0]

      with tf.compat.v1.variable_scope("encode"):
        # Encode Document / Query
        with tf.compat.v1.variable_scope("docs"):
          encoded_docs = tf.compat.v1.nn.dropout(self._embed(docs),
                                                 self._keep_prob)
          self._taps["docs_encoder"] = {"input": encoded_docs,
                                        "sequence_length": doc_lens}
          encoded_docs = self._bidirectional_encode(encoded_docs, doc_lens,
                                                    self._encode_size)
          _tap_outputs(self._taps["docs_encoder"], encoded_docs)
        with tf.compat.v1.variable_scope("queries"):
          encoded_queries = tf.compat.v1.nn.dropout(self._embed(queries),
                                                    self._keep_prob)
          self._taps["queries_encoder"] = {"input": encoded_queries,
                                           "sequence_length": query_lens}
          encoded_queries = self._bidirectional_encode(
              encoded_queries, query_lens, self._encode_size)
          _tap_outputs(self._taps["queries_encoder"], encoded_queries)

      with tf.compat.v1.variable_scope("attend") as scope:
        infer_gru = tf.compat.v1.nn.rnn_cell.GRUCell(self._infer_size)
        infer_state = infer_gru.zero_state(batch_size, tf.float32)
        infer_taps = self._taps["infer_gru"] = {
            "initial_state": infer_state, "input": [], "state": []}
        for iter_step in range(self._num_glimpses):
          if iter_step > 0:
            scope.reuse_variables()

          # Glimpse query and document
          q_attention, q_glimpse = self._glimpse(
              self._A_q, self._a_q, encoded_queries, infer_state)
          tf.compat.v1.add_to_collection("query_attentions", q_attention)
          d_attention, d_glimpse = self._glimpse(
              self._A_d, self._a_d, encoded_docs,
              tf.concat([infer_state, q_glimpse], 1))
          tf.compat.v1.add_to_collection("doc_attentions", d_attention)
          # Search Gates

          gate_concat = tf.concat(
              [infer_state, q_glimpse, d_glimpse, q_glimpse * d_glimpse], 1)

          r_d = tf.sigmoid(tf.matmul(gate_concat, self._g_d))
          r_d = tf.compat.v1.nn.dropout(r_d, self._keep_prob)
          r_q = tf.sigmoid(tf.matmul(gate_concat, self._g_q))
          r_q = tf.compat.v1.nn.dropout(r_q, self._keep_prob)

          combined_gated_glimpse = tf.concat(
              [r_q * q_glimpse, r_d * d_glimpse], 1)
          _, infer_state = infer_gru(combined_gated_glimpse, infer_state)
          infer_taps["input"].append(combined_gated_glimpse)
          infer_taps["state"].append(infer_state)

      return tf.cast(tf.sign(tf.abs(docs)), dtype=float) * d_attention


def _tap_outputs(taps, encoded):
  """An encoder's outputs: the forward and backward outputs are the inputs
  of `_bidirectional_encode`'s concat."""
  taps["output_fw"], taps["output_bw"] = encoded.op.inputs[:2]
  taps["output"] = encoded


def build():
  """Builds the source's `AlternatingAttention` (inference, loss and Adam
  with clipped gradients, as its constructor does) in the default graph.

  Returns:
    {"feeds": {"docs", "queries", "keep_prob"},
     "outputs": {"doc_attentions": tensor},
     "rnn": {"docs_encoder"|"queries_encoder": {role: tensor},
             "infer_gru": {"initial_state": tensor,
                           "input"|"state": [tensor per glimpse]}}}
    (the model itself under "model").
  """
  model = AlternatingAttention(BATCH, VOCAB_SIZE, ENCODING_SIZE,
                               EMBEDDING_SIZE)
  feeds = {"docs": model._docs, "queries": model._queries,  # pylint: disable=protected-access
           "keep_prob": model._keep_prob}  # pylint: disable=protected-access
  return {"feeds": feeds,
          "outputs": {"doc_attentions": model._doc_attentions},  # pylint: disable=protected-access
          "rnn": model._taps, "model": model}  # pylint: disable=protected-access


def train_op(model):
  """The train op the constructor built, and the extra feeds
  `batch_fit` gives it."""
  reader = model["model"]
  return {"op": reader._train_op,  # pylint: disable=protected-access
          "feeds": {"answers": reader._answers,  # pylint: disable=protected-access
                    "learning_rate": reader._learning_rate}}  # pylint: disable=protected-access


def _words(rng, longest):
  """Rows of word ids 1.. of random lengths, padded with 0s."""
  ids = rng.randint(1, VOCAB_SIZE, (BATCH, longest))
  lengths = rng.randint(longest // 2, longest + 1, BATCH)
  return np.where(np.arange(longest) < lengths[:, None], ids, 0).astype(
      np.int32)


def batch(rng, training):
  """Seeded random documents and queries, keyed like the feeds; to train,
  an answer from each document and batch_fit's keep_prob and learning
  rate."""
  docs = _words(rng, DOC_LENGTH)
  feeds = {"docs": docs, "queries": _words(rng, QUERY_LENGTH),
           "keep_prob": np.float32(TRAIN_KEEP_PROB if training else 1.)}
  if training:
    feeds["answers"] = docs[np.arange(BATCH), rng.randint(
        0, DOC_LENGTH // 2, BATCH)]
    feeds["learning_rate"] = np.float32(TRAIN_LEARNING_RATE)
  return feeds
