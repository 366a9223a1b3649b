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

import gru_commands
from gru_commands import _job_flags
from gru_common import job_configs

_FLAGS = _job_flags.define_classifier_flags(
    job_configs.ClassifierConfig(), "runs/tf2_classifier",
    "A GRU, or a BiGRU (keras.layers.Bidirectional).")
flags.adopt_module_key_flags(_job_flags)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  # Imported after flag parsing: --help and flag errors stay instant.
  from tf2 import classifier_job  # pylint: disable=g-import-not-at-top
  _job_flags.run_classifier(
      classifier_job.train, classifier_job.Config, _FLAGS,
      lambda r: (f"model {r.model_path}, checkpoint {r.checkpoint_prefix}, "
                 f"plot {r.plot_path}"))


def run():
  gru_commands.run(main)


if __name__ == "__main__":
  run()
