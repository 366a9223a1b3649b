"""The Data Blogger training job in TF2: Keras 3 layers, compiled steps.

Same data recipe (`gru_common/addition_data.py`), same hyperparameters, same log
line every 50 epochs and the same 1024 + 16 query as `legacy/addition_job.py`.
Each call of a compiled function runs a block of `log_every` epochs (a train
step on the training set, then the loss on the test set, each epoch) and
returns their losses, so Python is visited once per log line.

Two paths:

* fast (default): a `keras.layers.Dense` head (one matmul over all
  sequences), the GRU's sequence-level gradient (`mode="fast"`,
  tf2/fast_gru.py) and XLA. Agrees with the legacy arithmetic to rounding
  (about 1e-16 per step; see gru_common/tolerances.py for what that grows
  to).
* exact (`Config(exact=True)`): `ScanGRU` reference path, `PerSequenceDense`
  head, no XLA. From the same initial weights it reproduces the legacy run
  bit for bit: every loss, every weight, the prediction.

Training is a custom loop rather than `Model.fit`, deliberately: the
legacy job takes one full-batch step per epoch with the source's quadratic
loss (a sum over the batch divided by `batch_size`, which no Keras loss
reduction computes in the same order) and reads the test loss between
steps; the loop runs `log_every` such epochs in one compiled call. The
answer to the query comes from `Model.predict`, as a user would ask it
(`tf2.ExactModel` keeps its float64 input float64).

The optimizer is `TF1Adam` (TF1's Adam, bit for bit) unless
`optimizer="keras"` picks stock `keras.optimizers.Adam` with TF1's
hyperparameters (epsilon 1e-8), which drifts from the legacy run by about
1e-6 within a few hundred steps.
"""

import dataclasses
import os
import time

import keras
import numpy as np
import tensorflow as tf

from gru_common import addition_data
from gru_common import job_configs
from gru_common import names
from gru_common import plotting
from tf2 import exact_model
from tf2 import optimizers
from tf2 import per_sequence_dense
from tf2 import scan_gru

CHECKPOINT_NAME = "ckpt"
MODEL_NAME = "model.keras"


@dataclasses.dataclass(frozen=True)
class Config(job_configs.AdditionConfig):
  """The legacy job's settings, plus the TF2 job's own options."""
  exact: bool = False
  optimizer: str = job_configs.ADDITION_OPTIMIZERS[0]
  # The GRU layer's `mode` on the fast path (tf2/recurrent.py): its
  # sequence-level gradient, measured faster on this job's shapes under
  # XLA (`gru-benchmark`); `exact` always runs the exact mode.
  gru_mode: str = "fast"

  def __post_init__(self):
    super().__post_init__()
    if self.optimizer not in job_configs.ADDITION_OPTIMIZERS:
      raise ValueError(f"`optimizer` must be one of "
                       f"{job_configs.ADDITION_OPTIMIZERS}, got "
                       f"{self.optimizer!r}.")


@dataclasses.dataclass
class Result(job_configs.AdditionResult):
  """The legacy job's result, plus the saved Keras model."""
  model_path: str = None


def build_model(config):
  """The GRU and its output layer, float64 like the legacy graph.

  Weights, in the legacy order: the GRU's Wr Wz Wh Ur Uz Uh br bz bh, then
  the output layer's kernel (legacy `Variable`) and bias (`Variable_1`).
  """
  inputs = keras.Input((None, config.input_dimensions), dtype="float64",
                       name=names.INPUT_LAYER)
  states = scan_gru.ScanGRU(config.hidden_size, return_sequences=True,
                            dtype="float64", name=names.GRU_LAYER,
                            mode="exact" if config.exact else
                            config.gru_mode)(inputs)
  if config.exact:
    head = per_sequence_dense.PerSequenceDense(1, dtype="float64",
                                               name=names.ADDITION_OUTPUT_LAYER)
  else:
    head = keras.layers.Dense(
        1, dtype="float64", name=names.ADDITION_OUTPUT_LAYER,
        kernel_initializer=keras.initializers.TruncatedNormal(0.0, 0.01),
        bias_initializer=keras.initializers.TruncatedNormal(0.0, 0.01))
  return exact_model.ExactModel(inputs, head(states), name="addition")


def quadratic_loss(output, expected_output, batch_size):
  """The source's loss, with its order of operations."""
  return tf.reduce_sum(0.5 * tf.pow(output - expected_output, 2)) / float(
      batch_size)


def make_optimizer(name):
  if name == "tf1":
    return optimizers.TF1Adam()
  return optimizers.keras_adam_like_tf1()


class Trainer:
  """A model, its optimizer and compiled blocks of epochs.

  Args:
    config: a `Config`.
    model: the model to train; by default `build_model(config)`.
    optimizer: by default per `config.optimizer`.
  """

  def __init__(self, config, model=None, optimizer=None):
    self.config = config
    self.model = model or build_model(config)
    self.optimizer = optimizer or make_optimizer(config.optimizer)
    # Built here, not on the first call: a tf.function that creates
    # variables is traced twice, and tracing the block is not free.
    self.optimizer.build(self.model.trainable_variables)
    self._run_block = tf.function(self._block,
                                  jit_compile=not config.exact)

  def train_step(self, x, y):
    """One epoch's update; returns the loss before it (as TF1 fetches it)."""
    variables = self.model.trainable_variables
    with tf.GradientTape() as tape:
      loss = quadratic_loss(self.model(x), y, self.config.batch_size)
    self.optimizer.apply(tape.gradient(loss, variables), variables)
    return loss

  def test_loss(self, x, y):
    return quadratic_loss(self.model(x), y, self.config.batch_size)

  def _block(self, x, y, x_test, y_test, epochs):
    train = tf.TensorArray(tf.float64, size=epochs)
    test = tf.TensorArray(tf.float64, size=epochs)
    for i in tf.range(epochs):
      train = train.write(i, self.train_step(x, y))
      test = test.write(i, self.test_loss(x_test, y_test))
    return train.stack(), test.stack()

  def run(self, x, y, x_test, y_test, epochs, log=print, on_log=None):
    """Trains for `epochs`, logging every `log_every` epochs.

    Returns:
      (train_losses, test_losses), numpy arrays of length `epochs`.
    """
    data = [tf.constant(a, tf.float64) for a in (x, y, x_test, y_test)]
    train_losses, test_losses = [], []
    done = 0
    while done < epochs:
      block = min(self.config.log_every, epochs - done)
      train, test = self._run_block(*data, block)
      train_losses.append(train.numpy())
      test_losses.append(test.numpy())
      log(job_configs.ADDITION_LOG_LINE % (done, train_losses[-1][0],
                                           test_losses[-1][0]))
      if on_log:
        on_log(done, train_losses[-1][0], test_losses[-1][0])
      done += block
    return np.concatenate(train_losses), np.concatenate(test_losses)

  def predict(self, a, b, bits):
    """The model's answer to a + b on `bits`-bit strings."""
    y_predicted = self.model.predict(addition_data.encode_query(a, b, bits),
                                     verbose=0)
    return y_predicted, addition_data.decode_prediction(y_predicted)


def weight_values(model):
  """{weight path: value} for every model weight."""
  return {w.path: w.numpy() for w in model.weights}


def train(config=Config(), output_dir=None, log=print, model=None,
          optimizer=None):
  """Runs the job: train, log, then ask for query_a + query_b.

  Args:
    config: a `Config`.
    output_dir: if given, a folder for a TF2 checkpoint (`ckpt`: model and
      optimizer), the Keras model (`model.keras`), `losses.png` and
      TensorBoard summaries (`tensorboard/`).
    log: called with each log line.
    model: an already built model to train (e.g. with weights converted from
      a legacy checkpoint); by default a new one seeded with `config.seed`.
    optimizer: an optimizer (e.g. carrying converted Adam state).

  Returns:
    A `Result`.
  """
  start = time.perf_counter()
  x_train, y_train, x_test, y_test = addition_data.make_datasets(
      config.seed, config.num_bits, config.batch_size)
  if model is None:
    keras.utils.set_random_seed(config.seed)
  trainer = Trainer(config, model=model, optimizer=optimizer)
  initial_values = weight_values(trainer.model)
  writer = None
  if output_dir:
    os.makedirs(output_dir, exist_ok=True)
    writer = tf.summary.create_file_writer(
        os.path.join(output_dir, "tensorboard"))

  def write_summaries(epoch, train_loss, test_loss):
    with writer.as_default(step=epoch):
      tf.summary.scalar("loss/train", train_loss)
      tf.summary.scalar("loss/test", test_loss)

  train_losses, test_losses = trainer.run(
      x_train, y_train, x_test, y_test, config.epochs, log=log,
      on_log=write_summaries if writer else None)
  query_output, prediction = trainer.predict(config.query_a, config.query_b,
                                             config.query_bits)
  result = Result(train_losses=train_losses, test_losses=test_losses,
                  query_output=query_output, prediction=prediction,
                  initial_values=initial_values,
                  final_values=weight_values(trainer.model),
                  wall_time_s=time.perf_counter() - start)
  if output_dir:
    writer.close()
    checkpoint = tf.train.Checkpoint(model=trainer.model,
                                     optimizer=trainer.optimizer)
    result.checkpoint_prefix = checkpoint.write(
        os.path.join(output_dir, CHECKPOINT_NAME))
    result.model_path = os.path.join(output_dir, MODEL_NAME)
    trainer.model.save(result.model_path)
    result.plot_path = plotting.save_curves(
        os.path.join(output_dir, job_configs.ADDITION_PLOT_NAME),
        [("Train loss", train_losses, "-b"),
         ("Validation loss", test_losses, "-r")],
        title="TF2 (Keras 3) GRU, binary addition")
    result.summary_dir = os.path.join(output_dir, "tensorboard")
  return result
