"""The tutorial's usage as a TF2 training job, on one device or many.

Mirrors `legacy/classifier_job.py`: a `LoopGRU` (or, for the BiGRU,
`keras.layers.Bidirectional` of one) reads images row by row, its outputs are
averaged over time (`GlobalAveragePooling1D`, the tutorial's
`tf.reduce_mean(output, 1)`), and a Dense head gives the class logits.
Cross-entropy, `TF1Adam`, shuffled minibatches.

The model is built under a `tf.distribute` strategy (`tf2.distribute`:
one_device, mirrored or multi_worker) and trained by one of two loops:

    fit     Keras's `Model.fit`, its progress bar and callbacks; Keras
            splits each global batch across the replicas. Keras 3.15 runs it
            under OneDeviceStrategy and MirroredStrategy; under
            MultiWorkerMirroredStrategy it fails (keras#20585), which a test
            pins.
    custom  the job's own loop: `strategy.run` over a distributed dataset of
            the legacy job's global batches (`tf2.distribute`), the loss
            averaged over the global batch, global training and test
            accuracy, and checkpoints every `checkpoint_every` steps that a
            restarted job resumes from at the exact step. The only loop for
            multi_worker; optional for the others.

Only the chief (worker 0, or the only process) logs and writes the model,
the plot and TensorBoard logs.

The images have no padding, so no mask is needed and the Bidirectional layer
computes what the legacy BiGRU computes.
"""

import contextlib
import dataclasses
import math
import os
import time

import keras
import numpy as np
import tensorflow as tf

from gru_common import cluster
from gru_common import job_configs
from gru_common import names
from gru_common import plotting
from gru_common import sequence_data
from tf2 import distribute
from tf2 import exact_model
from tf2 import loop_gru
from tf2 import optimizers

MODEL_NAME = "model.keras"
CHECKPOINT_NAME = "ckpt"
PLOT_NAME = "training.png"
# The custom loop's step checkpoints, removed once the job has finished.
BACKUP_NAME = "backup"
TENSORBOARD_NAME = "tensorboard"
# Test-set examples per global batch when the custom loop evaluates.
EVAL_BATCH = 512


@dataclasses.dataclass(frozen=True)
class Config(job_configs.ClassifierConfig):
  """The legacy job's settings, plus how and where TF2 trains.

  Attributes:
    verbose: Keras's progress bar (0: none, 1: a bar, 2: a line per epoch).
    strategy: one of `cluster.STRATEGIES`.
    replicas: devices for `mirrored` (1 for the other strategies).
    loop: "fit" or "custom"; None picks `cluster.default_loop(strategy)`.
    checkpoint_every: custom loop: checkpoint every this many steps into
      `output_dir/backup` and resume from there (0: never).
    worker_timeout_s: multi_worker: seconds without progress (waiting for
      peers at start-up or in a step) before the worker exits with an error.
    deterministic: turn on TensorFlow's op determinism (process-wide), so
      that GPU kernels too give the same bits run after run.
  """
  verbose: int = 1
  strategy: str = "one_device"
  replicas: int = 1
  loop: str = None
  checkpoint_every: int = 0
  worker_timeout_s: float = 300.0
  deterministic: bool = False

  def __post_init__(self):
    super().__post_init__()
    cluster.check_placement(self.strategy, self.replicas, self.loop,
                            self.checkpoint_every)
    if not self.worker_timeout_s > 0:
      raise ValueError(f"`worker_timeout_s` must be > 0, got "
                       f"{self.worker_timeout_s!r}.")

  @property
  def training_loop(self):
    return cluster.check_placement(self.strategy, self.replicas, self.loop,
                                   self.checkpoint_every)


@dataclasses.dataclass
class Result(job_configs.ClassifierResult):
  """The legacy job's result, plus the trained model, its file, and
  whether this process was the chief (the one that wrote the files)."""
  model: keras.Model = None
  model_path: str = None
  chief: bool = True


def build_model(config, time_steps, features, num_classes):
  """The classifier, compiled with cross-entropy, TF1Adam and accuracy."""
  inputs = keras.Input((time_steps, features), name="inputs")
  # The exact mode: the job's runs are compared bit for bit across
  # strategies, restarts and the legacy job's batches.
  gru = loop_gru.LoopGRU(config.hidden_dim, reset_gate=config.reset_gate,
                         return_sequences=True, name=names.GRU_LAYER,
                         mode="exact")
  if config.model == "bigru":
    gru = keras.layers.Bidirectional(gru, name=names.BIGRU_LAYER)
  outputs = keras.layers.GlobalAveragePooling1D(name=names.POOLING_LAYER)(
      gru(inputs))
  logits = keras.layers.Dense(
      num_classes, name=names.CLASSIFIER_LAYER,
      kernel_initializer=keras.initializers.RandomNormal(
          0.0, loop_gru.MATRIX_STDDEV),
      bias_initializer="zeros")(outputs)
  model = exact_model.ExactModel(inputs, logits,
                                 name=f"{config.model}_classifier")
  model.compile(
      optimizer=optimizers.TF1Adam(config.learning_rate),
      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
      metrics=["accuracy"])
  return model


class _LogLine(keras.callbacks.Callback):
  """Prints the legacy job's line after each epoch."""

  def __init__(self, log):
    super().__init__()
    self._log = log

  def on_epoch_end(self, epoch, logs=None):
    self._log(job_configs.CLASSIFIER_LOG_LINE % (
        epoch, logs["loss"], logs["accuracy"], logs["val_accuracy"]))


def train(config=Config(), output_dir=None, log=print, data=None):
  """Trains and evaluates the classifier under `config.strategy`.

  Args:
    config: a `Config`.
    output_dir: if given, the folder for `model.keras`, a TF2 checkpoint
      (`ckpt`: model and optimizer), `training.png` and TensorBoard logs
      (written by the chief only), and the custom loop's step checkpoints
      (`backup/`, removed when the job ends; a job started again while it
      exists resumes from its latest step).
    log: called with each epoch's line (on the chief).
    data: a `sequence_data.SequenceData`; by default loaded per `config`.
      Every worker must pass the same data.

  Returns:
    A `Result`. On a worker other than the chief its paths are None.

  Raises:
    ValueError: a multi_worker job without TF_CONFIG, replicas this process
      cannot make, or a step checkpoint from a different job.
  """
  start = time.perf_counter()
  if config.deterministic:
    tf.config.experimental.enable_op_determinism()
  guard = contextlib.nullcontext()
  if config.strategy == "multi_worker" and "TF_CONFIG" in os.environ:
    guard = cluster.Watchdog(config.worker_timeout_s,
                             cluster.peers(os.environ["TF_CONFIG"]))
  with guard as watchdog:
    strategy = distribute.make_strategy(config.strategy, config.replicas,
                                        config.worker_timeout_s)
    chief = distribute.is_chief(strategy)
    if not chief:
      log = lambda _: None  # pylint: disable=unnecessary-lambda-assignment
      config = dataclasses.replace(config, verbose=0)
    if data is None:
      data = sequence_data.load(config.mnist_npz, seed=config.seed)
    keras.utils.set_random_seed(config.seed)
    with strategy.scope():
      model = build_model(config, data.time_steps, data.features,
                          data.num_classes)
    tensorboard_dir = (os.path.join(output_dir, TENSORBOARD_NAME)
                       if output_dir and chief else None)
    if config.training_loop == "fit":
      history = _fit(model, config, data, log, tensorboard_dir)
    else:
      history = _CustomLoop(model, strategy, config, data, log,
                            watchdog.beat if watchdog else lambda: None
                            ).run(output_dir, tensorboard_dir)
  result = Result(*history, time.perf_counter() - start, model=model,
                  chief=chief)
  if output_dir:
    _write_outputs(result, model, strategy, config, data, output_dir)
  return result


def _fit(model, config, data, log, tensorboard_dir):
  """`Model.fit`: the per-epoch loss, accuracy and test accuracy."""
  callbacks = [_LogLine(log)]
  if tensorboard_dir:
    callbacks.append(keras.callbacks.TensorBoard(tensorboard_dir))
  history = model.fit(data.x_train, data.y_train,
                      batch_size=config.batch_size, epochs=config.epochs,
                      validation_data=(data.x_test, data.y_test),
                      callbacks=callbacks, verbose=config.verbose)
  return tuple(np.asarray(history.history[key])
               for key in ("loss", "accuracy", "val_accuracy"))


def _hits(logits, labels):
  return tf.reduce_sum(tf.cast(
      tf.equal(tf.argmax(logits, -1, output_type=labels.dtype), labels),
      tf.float32))


def make_train_step(model, strategy):
  """The custom loop's step: `step(iterator)` trains on the next global
  batch of a `distribute.distribute_batches` dataset (per replica: x, y,
  global batch size) and returns its summed loss and hits, all-reduced."""

  def replica_step(x, y, global_size):
    with tf.GradientTape() as tape:
      logits = model(x, training=True)
      per_example = keras.losses.sparse_categorical_crossentropy(
          y, logits, from_logits=True)
      loss = tf.nn.compute_average_loss(per_example,
                                        global_batch_size=global_size)
    grads = tape.gradient(loss, model.trainable_variables)
    model.optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return tf.reduce_sum(per_example), _hits(logits, y)

  @tf.function
  def train_step(iterator):
    sums = strategy.run(replica_step, args=next(iterator))
    return [strategy.reduce(tf.distribute.ReduceOp.SUM, s, axis=None)
            for s in sums]

  return train_step


class _CustomLoop:
  """The job's loop over `strategy.run` (see the module doc).

  Global step s trains on the s-th global batch of the legacy job's order
  (`sequence_data.batches` with `RandomState(seed)`, one permutation per
  epoch), so a run resumed at step s sees what an uninterrupted one sees.
  The epoch's running loss and hit totals and the history so far are in
  the step checkpoints too, so the resumed epoch's line is the one an
  uninterrupted run prints.
  """

  def __init__(self, model, strategy, config, data, log, beat):
    self._model = model
    self._strategy = strategy
    self._config = config
    self._data = data
    self._log = log
    self._beat = beat
    n = len(data.y_train)
    rng = np.random.RandomState(config.seed)
    self._schedule = [
        idx for _ in range(config.epochs)
        for idx in sequence_data.batches(n, config.batch_size, rng)]
    self._steps_per_epoch = math.ceil(n / config.batch_size)
    self._spec = (tf.TensorSpec((None,) + data.x_train.shape[1:],
                                tf.as_dtype(data.x_train.dtype)),
                  tf.TensorSpec([None], tf.as_dtype(data.y_train.dtype)))
    # Checkpointed: per epoch (loss, accuracy, test accuracy), and the
    # running epoch's (loss sum, hits, examples).
    self._history = tf.Variable(np.zeros((config.epochs, 3)),
                                trainable=False, name="history")
    self._running = tf.Variable(np.zeros(3), trainable=False,
                                name="running")

  def run(self, output_dir, tensorboard_dir):
    """Trains to the last step; returns (losses, accuracies, test acc)."""
    model, strategy = self._model, self._strategy
    with strategy.scope():
      model.optimizer.build(model.trainable_variables)
    backups = None
    if output_dir and self._config.checkpoint_every:
      backups = distribute.StepCheckpoints(
          os.path.join(output_dir, BACKUP_NAME),
          self._config.checkpoint_every, strategy, model=model,
          optimizer=model.optimizer, history=self._history,
          running=self._running)
      resumed = backups.restore()
      if resumed:
        self._log(f"# resumed from {resumed} at step "
                  f"{int(model.optimizer.iterations.numpy())}")
    writer = (tf.summary.create_file_writer(tensorboard_dir)
              if tensorboard_dir else None)
    first = int(model.optimizer.iterations.numpy())
    x, y = self._data.x_train, self._data.y_train
    batches = distribute.distribute_batches(
        strategy, lambda: ((x[i], y[i]) for i in self._schedule[first:]),
        self._spec)
    train_step = make_train_step(model, strategy)
    iterator = iter(batches)
    progbar = None
    for step in range(first, len(self._schedule)):
      epoch, within = divmod(step, self._steps_per_epoch)
      if within == 0:
        self._running.assign(np.zeros(3))
      if progbar is None and self._config.verbose:
        progbar = keras.utils.Progbar(
            self._steps_per_epoch, verbose=self._config.verbose,
            stateful_metrics=("loss", "accuracy"))
      loss_sum, hits = (float(v) for v in train_step(iterator))
      self._running.assign_add([loss_sum, hits, len(self._schedule[step])])
      self._beat()
      total_loss, total_hits, seen = self._running.numpy()
      if progbar:
        progbar.update(within + 1, [("loss", total_loss / seen),
                                    ("accuracy", total_hits / seen)])
      if within + 1 == self._steps_per_epoch:
        row = (total_loss / seen, total_hits / seen, self._evaluate())
        self._history[epoch].assign(row)
        self._beat()
        progbar = None
        self._log(job_configs.CLASSIFIER_LOG_LINE % (epoch, *row))
        if writer:
          _write_summaries(writer, epoch, row)
      if backups:
        backups.maybe_save(step + 1)
    if backups:
      backups.delete()
    return tuple(self._history.numpy().T)

  def _evaluate(self):
    """The global test accuracy, each replica scoring its share."""
    model, strategy = self._model, self._strategy
    x, y = self._data.x_test, self._data.y_test
    starts = range(0, len(y), EVAL_BATCH)
    batches = distribute.distribute_batches(
        strategy, lambda: ((x[i:i + EVAL_BATCH], y[i:i + EVAL_BATCH])
                           for i in starts), self._spec)
    if not hasattr(self, "_eval_step"):

      @tf.function
      def eval_step(iterator):
        hits = strategy.run(
            lambda x, y, _: _hits(model(x, training=False), y),
            args=next(iterator))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, hits, axis=None)

      self._eval_step = eval_step
    iterator = iter(batches)
    return sum(float(self._eval_step(iterator)) for _ in starts) / len(y)


def _write_summaries(writer, epoch, row):
  """The epoch's scalars under the names Keras's TensorBoard callback uses."""
  loss, accuracy, test_accuracy = row
  with writer.as_default(step=epoch):
    tf.summary.scalar("epoch_loss", loss)
    tf.summary.scalar("epoch_accuracy", accuracy)
    tf.summary.scalar("validation/epoch_accuracy", test_accuracy)
  writer.flush()


def _write_outputs(result, model, strategy, config, data, output_dir):
  """model.keras, plot (chief) and the TF2 checkpoint (every worker takes
  part in the save; see `distribute.write_dir`)."""
  chief = distribute.is_chief(strategy)
  folder = distribute.write_dir(output_dir, strategy)
  os.makedirs(folder, exist_ok=True)
  prefix = tf.train.Checkpoint(model=model, optimizer=model.optimizer).write(
      os.path.join(folder, CHECKPOINT_NAME))
  distribute.remove_if_not_chief(folder, strategy)
  if not chief:
    return
  result.checkpoint_prefix = prefix
  result.model_path = os.path.join(output_dir, MODEL_NAME)
  model.save(result.model_path)
  result.plot_path = plotting.save_classifier_curves(
      os.path.join(output_dir, PLOT_NAME), result,
      f"TF2 (Keras 3) {config.model.upper()}, {data.name}")
