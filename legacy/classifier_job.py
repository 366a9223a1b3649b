"""The tutorial's usage as a training job, in TF1 graph mode.

A `loop_gru.GRU` (or `GRUNoResetGate`, or a `BiGRU` of either) reads images
row by row; its outputs are averaged over time, as the tutorial does
(`tf.reduce_mean(output, 1)`), and a dense softmax head classifies the
average. Cross-entropy loss, Adam, shuffled minibatches.

Head variables (the tutorial leaves the head to the reader; these follow its
`init_matrix`/`init_vector` style):

    classifier/softmax_w [hidden_dim (x2 for the BiGRU), num_classes]
    classifier/softmax_b [num_classes]
"""

import dataclasses
import os
import time

import numpy as np
import tensorflow as tf

from gru_common import job_configs
from gru_common import plotting
from gru_common import sequence_data
from legacy import heads
from legacy import loop_gru
from legacy import runtime

_v1 = tf.compat.v1

CHECKPOINT_NAME = "model.ckpt"
PLOT_NAME = "training.png"


@dataclasses.dataclass
class Graph:
  inputs: tf.Tensor
  labels: tf.Tensor
  rnn: object
  logits: tf.Tensor
  loss: tf.Tensor
  accuracy: tf.Tensor
  train_step: tf.Operation
  init_variables: tf.Operation


@runtime.with_tf1_control_flow
def build_graph(config, time_steps, features, num_classes):
  """Builds the classifier into the default graph; returns a `Graph`."""
  inputs = _v1.placeholder(tf.float32, (None, time_steps, features),
                           name="inputs")
  labels = _v1.placeholder(tf.int64, (None,), name="labels")
  gru_class = loop_gru.GRU if config.reset_gate else loop_gru.GRUNoResetGate
  if config.model == "gru":
    rnn = gru_class(inputs=inputs, emb_dim=features,
                    hidden_dim=config.hidden_dim)
  else:
    rnn = loop_gru.BiGRU(inputs, features, config.hidden_dim,
                         gru_class=gru_class)
  logits = heads.classifier_logits(rnn.output(), num_classes)
  loss = tf.reduce_mean(
      tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels,
                                                     logits=logits))
  accuracy = tf.reduce_mean(
      tf.cast(tf.equal(tf.argmax(logits, 1), labels), tf.float32))
  train_step = _v1.train.AdamOptimizer(config.learning_rate).minimize(loss)
  return Graph(inputs, labels, rnn, logits, loss, accuracy, train_step,
               _v1.global_variables_initializer())


def train(config=job_configs.ClassifierConfig(), output_dir=None, log=print,
          data=None):
  """Trains and evaluates the classifier.

  Args:
    config: a `job_configs.ClassifierConfig`.
    output_dir: if given, the folder for the TF1 checkpoint (prefix
      `model.ckpt`), `training.png` and TensorBoard summaries.
    log: called with each log line.
    data: a `sequence_data.SequenceData`; by default loaded per `config`.

  Returns:
    A `job_configs.ClassifierResult`.
  """
  start = time.perf_counter()
  if data is None:
    data = sequence_data.load(config.mnist_npz, seed=config.seed)
  rng = np.random.RandomState(config.seed)
  graph = tf.Graph()
  with graph.as_default():
    _v1.set_random_seed(config.seed)
    g = build_graph(config, data.time_steps, data.features, data.num_classes)
    saver = _v1.train.Saver() if output_dir else None
    writer = None
    if output_dir:
      os.makedirs(output_dir, exist_ok=True)
      writer = _v1.summary.FileWriter(
          os.path.join(output_dir, "tensorboard"), graph=graph)
    losses, train_acc, test_acc = [], [], []
    with _v1.Session(graph=graph,
                     config=runtime.session_config(threads=2)) as session:
      session.run(g.init_variables)
      for epoch in range(config.epochs):
        batch_losses, batch_hits = [], 0.0
        for idx in sequence_data.batches(len(data.y_train), config.batch_size,
                                         rng):
          _, loss, acc = session.run(
              [g.train_step, g.loss, g.accuracy],
              feed_dict={g.inputs: data.x_train[idx],
                         g.labels: data.y_train[idx]})
          batch_losses.append(loss * len(idx))
          batch_hits += acc * len(idx)
        losses.append(sum(batch_losses) / len(data.y_train))
        train_acc.append(batch_hits / len(data.y_train))
        test_acc.append(session.run(
            g.accuracy, feed_dict={g.inputs: data.x_test,
                                   g.labels: data.y_test}))
        log(job_configs.CLASSIFIER_LOG_LINE % (epoch, losses[-1],
                                               train_acc[-1], test_acc[-1]))
        if writer:
          writer.add_summary(_v1.Summary(value=[
              _v1.Summary.Value(tag="loss/train", simple_value=losses[-1]),
              _v1.Summary.Value(tag="accuracy/train",
                                simple_value=train_acc[-1]),
              _v1.Summary.Value(tag="accuracy/test",
                                simple_value=test_acc[-1]),
          ]), epoch)
      checkpoint_prefix = None
      if saver:
        checkpoint_prefix = saver.save(
            session, os.path.join(output_dir, CHECKPOINT_NAME),
            write_meta_graph=False)
    if writer:
      writer.close()
  result = job_configs.ClassifierResult(
      np.asarray(losses), np.asarray(train_acc), np.asarray(test_acc),
      time.perf_counter() - start, checkpoint_prefix)
  if output_dir:
    result.plot_path = plotting.save_classifier_curves(
        os.path.join(output_dir, PLOT_NAME), result,
        f"Legacy (TF1 graph) {config.model.upper()}, {data.name}")
  return result
