"""What the legacy and TF2 versions of a job's command share: their flags,
and the classifier run.

Each script defines the flags once at import (absl flags are process-global)
and turns them into its job's Config; TF2 scripts add their own flags beside.
"""

import os
import types

from absl import app
from absl import flags

from gru_common import job_configs


def define_addition_flags(defaults, output_dir):
  """--seed --epochs --bits --hidden_size --output_dir for the addition job."""
  return types.SimpleNamespace(
      seed=flags.DEFINE_integer(
          "seed", defaults.seed, "Seeds numpy's data generator and the "
          "initializers.", lower_bound=0),
      epochs=flags.DEFINE_integer("epochs", defaults.epochs,
                                  "Full-batch training epochs.",
                                  lower_bound=1),
      bits=flags.DEFINE_integer("bits", defaults.num_bits,
                                "Bits per training number (time steps).",
                                lower_bound=2),
      hidden_size=flags.DEFINE_integer("hidden_size", defaults.hidden_size,
                                       "GRU hidden size.", lower_bound=1),
      output_dir=flags.DEFINE_string(
          "output_dir", output_dir, "Folder for the checkpoint, loss plot "
          "and TensorBoard summaries."))


def addition_settings(holders):
  """The addition Config's keyword arguments from the shared flags."""
  return dict(seed=holders.seed.value, epochs=holders.epochs.value,
              num_bits=holders.bits.value,
              hidden_size=holders.hidden_size.value)


def define_classifier_flags(defaults, output_dir, model_help):
  """The classifier job's flags."""
  holders = types.SimpleNamespace(
      model=flags.DEFINE_enum("model", defaults.model,
                              job_configs.CLASSIFIER_MODELS, model_help),
      reset_gate=flags.DEFINE_bool(
          "reset_gate", defaults.reset_gate,
          "Use the reset gate; --noreset_gate is the tutorial's section "
          "3.4."),
      epochs=flags.DEFINE_integer("epochs", defaults.epochs,
                                  "Training epochs.", lower_bound=1),
      batch_size=flags.DEFINE_integer("batch_size", defaults.batch_size,
                                      "Minibatch size.", lower_bound=1),
      hidden_dim=flags.DEFINE_integer("hidden_dim", defaults.hidden_dim,
                                      "GRU hidden size.", lower_bound=1),
      learning_rate=flags.DEFINE_float("learning_rate",
                                       defaults.learning_rate,
                                       "Adam's learning rate (> 0)."),
      seed=flags.DEFINE_integer(
          "seed", defaults.seed,
          "Seeds the split, shuffling and initializers.", lower_bound=0),
      mnist_npz=flags.DEFINE_string(
          "mnist_npz", None, "A local mnist.npz (x_train, y_train, x_test, "
          "y_test) to use instead of the bundled digits."),
      output_dir=flags.DEFINE_string(
          "output_dir", output_dir,
          "Folder for the checkpoint, plot and TensorBoard logs."))
  flags.register_validator("learning_rate", lambda value: value > 0,
                           message="--learning_rate must be > 0.")
  flags.register_validator("mnist_npz", _check_npz_exists)
  return holders


def _check_npz_exists(path):
  """--mnist_npz names a file, checked before TensorFlow loads; the job
  checks its contents."""
  if path is not None and not os.path.isfile(path):
    raise flags.ValidationError(f"no such file: {path!r}.")
  return True


def classifier_settings(holders):
  """The classifier Config's keyword arguments from the shared flags."""
  return dict(seed=holders.seed.value, epochs=holders.epochs.value,
              batch_size=holders.batch_size.value,
              hidden_dim=holders.hidden_dim.value, model=holders.model.value,
              reset_gate=holders.reset_gate.value,
              learning_rate=holders.learning_rate.value,
              mnist_npz=holders.mnist_npz.value)


def run_classifier(train, make_config, holders, written):
  """Trains a classifier job from its flags and prints the result line.

  Args:
    train: the job's `train(config, output_dir=...)`.
    make_config: its Config class, or a function of the same keyword
      arguments that returns one.
    holders: from `define_classifier_flags`.
    written: result -> the words naming what the job wrote.
  """
  config = make_config(**classifier_settings(holders))
  try:
    result = train(config, output_dir=holders.output_dir.value)
  except (FileNotFoundError, ValueError) as e:
    raise app.UsageError(str(e)) from e
  if not getattr(result, "chief", True):
    return  # the chief reports a distributed job
  print(f"# final test accuracy {result.test_accuracies[-1]:.4f} in "
        f"{result.wall_time_s:.1f} s; {written(result)}")
