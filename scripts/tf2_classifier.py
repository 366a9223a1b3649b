"""Trains the TF2 (Keras 3) tutorial GRU or BiGRU as a row classifier.

The legacy classifier's recipe with `Model.fit`: a LoopGRU (or
keras.layers.Bidirectional of one) over image rows, the mean over time, a
softmax head, TF1Adam. By default the 8x8 digits bundled with scikit-learn;
--mnist_npz reads a local mnist.npz (28 rows of 28 pixels). Nothing is
downloaded.

Writes into --output_dir: `model.keras`, a TF2 checkpoint (`ckpt`),
`training.png` and TensorBoard logs (`tensorboard/`).

  gru-tf2-classifier --model=bigru --output_dir=runs/tf2_classifier
"""

from absl import app
from absl import flags

import scripts

from tf2 import classifier_job

_DEFAULTS = classifier_job.Config()

_MODEL = flags.DEFINE_enum("model", _DEFAULTS.model, classifier_job.MODELS,
                           "A GRU, or a BiGRU (keras.layers.Bidirectional).")
_RESET_GATE = flags.DEFINE_bool(
    "reset_gate", _DEFAULTS.reset_gate,
    "Use the reset gate; --noreset_gate is the tutorial's section 3.4.")
_FUSED = flags.DEFINE_bool("fused", _DEFAULTS.fused,
                           "Use the GRU's fused (faster) path.")
_EPOCHS = flags.DEFINE_integer("epochs", _DEFAULTS.epochs, "Training epochs.",
                               lower_bound=1)
_BATCH_SIZE = flags.DEFINE_integer("batch_size", _DEFAULTS.batch_size,
                                   "Minibatch size.", lower_bound=1)
_HIDDEN_DIM = flags.DEFINE_integer("hidden_dim", _DEFAULTS.hidden_dim,
                                   "GRU hidden size.", lower_bound=1)
_LEARNING_RATE = flags.DEFINE_float("learning_rate", _DEFAULTS.learning_rate,
                                    "Adam's learning rate (> 0).")
flags.register_validator("learning_rate", lambda value: value > 0,
                         message="--learning_rate must be > 0.")
_SEED = flags.DEFINE_integer("seed", _DEFAULTS.seed,
                             "Seeds the split, shuffling and initializers.",
                             lower_bound=0)
_MNIST_NPZ = flags.DEFINE_string(
    "mnist_npz", None, "A local mnist.npz (x_train, y_train, x_test, y_test) "
    "to use instead of the bundled digits.")
_OUTPUT_DIR = flags.DEFINE_string(
    "output_dir", "runs/tf2_classifier",
    "Folder for the model, checkpoint, plot and TensorBoard logs.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  config = classifier_job.Config(
      seed=_SEED.value, epochs=_EPOCHS.value, batch_size=_BATCH_SIZE.value,
      hidden_dim=_HIDDEN_DIM.value, model=_MODEL.value,
      reset_gate=_RESET_GATE.value, learning_rate=_LEARNING_RATE.value,
      fused=_FUSED.value, mnist_npz=_MNIST_NPZ.value)
  try:
    result = classifier_job.train(config, output_dir=_OUTPUT_DIR.value)
  except (FileNotFoundError, ValueError) as e:
    raise app.UsageError(str(e)) from e
  print(f"# final test accuracy {result.test_accuracies[-1]:.4f} in "
        f"{result.wall_time_s:.1f} s; model {result.model_path}, checkpoint "
        f"{result.checkpoint_prefix}, plot {result.plot_path}")


def run():
  scripts.run(main)


if __name__ == "__main__":
  run()
