"""The tutorial's usage as a TF2 training job: Keras layers and `Model.fit`.

Mirrors `legacy/classifier_job.py`: a `LoopGRU` (or, for the BiGRU,
`keras.layers.Bidirectional` of one) reads images row by row, its outputs are
averaged over time (`GlobalAveragePooling1D`, the tutorial's
`tf.reduce_mean(output, 1)`), and a Dense head gives the class logits.
Cross-entropy, `TF1Adam`, shuffled minibatches, Keras's progress bar.

The images have no padding, so no mask is needed and the Bidirectional layer
computes what the legacy BiGRU computes.
"""

import dataclasses
import os
import time

import keras
import numpy as np
import tensorflow as tf

from gru_common import job_configs
from gru_common import names
from gru_common import plotting
from gru_common import sequence_data
from tf2 import exact_model
from tf2 import loop_gru
from tf2 import optimizers

MODEL_NAME = "model.keras"
CHECKPOINT_NAME = "ckpt"
PLOT_NAME = "training.png"


@dataclasses.dataclass(frozen=True)
class Config(job_configs.ClassifierConfig):
  """The legacy job's settings, plus Keras's progress-bar verbosity."""
  verbose: int = 1


@dataclasses.dataclass
class Result(job_configs.ClassifierResult):
  """The legacy job's result, plus the trained model and its file."""
  model: keras.Model = None
  model_path: str = None


def build_model(config, time_steps, features, num_classes):
  """The classifier, compiled with cross-entropy, TF1Adam and accuracy."""
  inputs = keras.Input((time_steps, features), name="inputs")
  gru = loop_gru.LoopGRU(config.hidden_dim, reset_gate=config.reset_gate,
                         return_sequences=True, name=names.GRU_LAYER)
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
  """Trains and evaluates the classifier with `Model.fit`.

  Args:
    config: a `Config`.
    output_dir: if given, the folder for `model.keras`, a TF2 checkpoint
      (`ckpt`: model and optimizer), `training.png` and TensorBoard logs.
    log: called with each epoch's line.
    data: a `sequence_data.SequenceData`; by default loaded per `config`.

  Returns:
    A `Result`.
  """
  start = time.perf_counter()
  if data is None:
    data = sequence_data.load(config.mnist_npz, seed=config.seed)
  keras.utils.set_random_seed(config.seed)
  model = build_model(config, data.time_steps, data.features,
                      data.num_classes)
  callbacks = [_LogLine(log)]
  if output_dir:
    os.makedirs(output_dir, exist_ok=True)
    callbacks.append(keras.callbacks.TensorBoard(
        os.path.join(output_dir, "tensorboard")))
  history = model.fit(data.x_train, data.y_train,
                      batch_size=config.batch_size, epochs=config.epochs,
                      validation_data=(data.x_test, data.y_test),
                      callbacks=callbacks, verbose=config.verbose)
  result = Result(np.asarray(history.history["loss"]),
                  np.asarray(history.history["accuracy"]),
                  np.asarray(history.history["val_accuracy"]),
                  time.perf_counter() - start, model=model)
  if output_dir:
    result.model_path = os.path.join(output_dir, MODEL_NAME)
    model.save(result.model_path)
    result.checkpoint_prefix = tf.train.Checkpoint(
        model=model, optimizer=model.optimizer).write(
            os.path.join(output_dir, CHECKPOINT_NAME))
    result.plot_path = plotting.save_curves(
        os.path.join(output_dir, PLOT_NAME),
        [("train loss", result.train_losses, "-b"),
         ("train accuracy", result.train_accuracies, "-g"),
         ("test accuracy", result.test_accuracies, "-r")],
        title=f"TF2 (Keras 3) {config.model.upper()}, {data.name}",
        ylabel="loss / accuracy", log_scale=False)
  return result
