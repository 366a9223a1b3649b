"""The Data Blogger training job, in TF1 graph mode.

The source's sections (3) and (4): a `scan_gru.GRU` with an output layer on
every hidden state (applied per sequence with `tf.map_fn`), quadratic loss
divided by the batch size, `tf.compat.v1.train.AdamOptimizer()` with its
defaults, full-batch epochs that each run the train step and then the test
loss, and finally the query a + b on longer bit strings.

`build_graph` builds the graph; `train` runs the whole job and returns its
losses, prediction and (optionally) a TF1 checkpoint, a PNG of the loss
curves and TensorBoard summaries.
"""

import dataclasses
import os
import time

import numpy as np
import tensorflow as tf

from gru_common import addition_data
from gru_common import job_configs
from gru_common import plotting
from legacy import heads
from legacy import runtime
from legacy import scan_gru

_v1 = tf.compat.v1

CHECKPOINT_NAME = "model.ckpt"


@dataclasses.dataclass
class Graph:
  """The job's graph: the source's tensors by their source names."""
  gru: scan_gru.GRU
  W_output: tf.Variable  # pylint: disable=invalid-name
  b_output: tf.Variable
  output: tf.Tensor
  expected_output: tf.Tensor
  loss: tf.Tensor
  train_step: tf.Operation
  init_variables: tf.Operation

  @property
  def model_variables(self):
    """The GRU's nine variables, then the output layer's two."""
    return self.gru.variables + [self.W_output, self.b_output]


@runtime.with_tf1_control_flow
def build_graph(config):
  """Builds the source's model, loss and train step into the default graph.

  Args:
    config: a `job_configs.AdditionConfig`.

  Returns:
    A `Graph`.
  """
  # Create a new instance of the GRU model
  gru = scan_gru.GRU(config.input_dimensions, config.hidden_size)

  # Add an additional layer on top of each of the hidden state outputs
  W_output, b_output, output = heads.addition_output(gru.h_t)  # pylint: disable=invalid-name

  # Create a placeholder for the expected output
  expected_output = _v1.placeholder(
      dtype=tf.float64, shape=(config.batch_size, config.num_bits, 1),
      name="expected_output")

  # Just use quadratic loss
  loss = tf.reduce_sum(0.5 * tf.pow(output - expected_output, 2)) / float(
      config.batch_size)

  # Use the Adam optimizer for training
  train_step = _v1.train.AdamOptimizer().minimize(loss)

  # Initialize all the variables
  init_variables = _v1.global_variables_initializer()
  return Graph(gru, W_output, b_output, output, expected_output, loss,
               train_step, init_variables)


def variable_values(session, variables):
  """{checkpoint name: value} for the given variables."""
  return {v.op.name: value
          for v, value in zip(variables, session.run(variables))}


def train(config=job_configs.AdditionConfig(), output_dir=None, log=print):
  """Runs the source's job: train, log, then ask for query_a + query_b.

  Args:
    config: a `job_configs.AdditionConfig`.
    output_dir: if given, a folder to write the TF1 checkpoint (model and
      Adam state, prefix `model.ckpt`), `losses.png` and TensorBoard
      summaries (`tensorboard/`) into; it is created if needed.
    log: called with each log line.

  Returns:
    A `job_configs.AdditionResult`.
  """
  start = time.perf_counter()
  x_train, y_train, x_test, y_test = addition_data.make_datasets(
      config.seed, config.num_bits, config.batch_size)
  graph = tf.Graph()
  with graph.as_default():
    _v1.set_random_seed(config.seed)
    g = build_graph(config)
    saver = _v1.train.Saver() if output_dir else None
    writer = None
    if output_dir:
      os.makedirs(output_dir, exist_ok=True)
      writer = _v1.summary.FileWriter(
          os.path.join(output_dir, "tensorboard"), graph=graph)
    train_feed = {g.gru.input_layer: x_train, g.expected_output: y_train}
    test_feed = {g.gru.input_layer: x_test, g.expected_output: y_test}
    train_losses = []
    validation_losses = []
    session_config = runtime.session_config(job_configs.ADDITION_THREADS)
    with _v1.Session(graph=graph, config=session_config) as session:
      # (Restored: the extracted source defines init_variables but the line
      # that runs it was lost with the other `session.run` calls.)
      session.run(g.init_variables)
      initial_values = variable_values(session, g.model_variables)
      for epoch in range(config.epochs):
        # Compute the losses
        _, train_loss = session.run([g.train_step, g.loss],
                                    feed_dict=train_feed)
        validation_loss = session.run(g.loss, feed_dict=test_feed)
        # Log the losses
        train_losses.append(train_loss)
        validation_losses.append(validation_loss)
        # Display an update every 50 iterations
        if epoch % config.log_every == 0:
          log(job_configs.ADDITION_LOG_LINE % (epoch, train_loss,
                                               validation_loss))
          if writer:
            _write_scalars(writer, epoch, train_loss, validation_loss)
      x_custom = addition_data.encode_query(config.query_a, config.query_b,
                                            config.query_bits)
      y_predicted = session.run(g.output,
                                feed_dict={g.gru.input_layer: x_custom})
      final_values = variable_values(session, g.model_variables)
      checkpoint_prefix = None
      if saver:
        checkpoint_prefix = saver.save(
            session, os.path.join(output_dir, CHECKPOINT_NAME),
            write_meta_graph=False)
    if writer:
      writer.close()
  result = job_configs.AdditionResult(
      train_losses=np.asarray(train_losses),
      test_losses=np.asarray(validation_losses),
      query_output=y_predicted,
      prediction=addition_data.decode_prediction(y_predicted),
      initial_values=initial_values,
      final_values=final_values,
      wall_time_s=time.perf_counter() - start,
      checkpoint_prefix=checkpoint_prefix)
  if output_dir:
    result.plot_path = plotting.save_curves(
        os.path.join(output_dir, job_configs.ADDITION_PLOT_NAME),
        [("Train loss", result.train_losses, "-b"),
         ("Validation loss", result.test_losses, "-r")],
        title="Legacy (TF1 graph) GRU, binary addition")
    result.summary_dir = os.path.join(output_dir, "tensorboard")
  return result


def _write_scalars(writer, step, train_loss, test_loss):
  summary = _v1.Summary(value=[
      _v1.Summary.Value(tag="loss/train", simple_value=float(train_loss)),
      _v1.Summary.Value(tag="loss/test", simple_value=float(test_loss)),
  ])
  writer.add_summary(summary, step)
