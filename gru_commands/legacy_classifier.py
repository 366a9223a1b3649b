"""Trains the legacy (TF1 graph) tutorial GRU or BiGRU as a row classifier.

Images are read row by row; the GRU outputs are averaged over time and a
softmax head classifies them. By default the data are the 8x8 digits bundled
with scikit-learn; --mnist_npz reads a local mnist.npz instead (28 rows of
28 pixels, the tutorial's shapes). Nothing is downloaded.

Writes into --output_dir: a TF1 checkpoint (`model.ckpt`), `training.png` and
TensorBoard summaries (`tensorboard/`).

  gru-legacy-classifier --model=bigru --output_dir=runs/legacy_classifier
"""

from absl import app
from absl import flags

import gru_commands
from gru_commands import _job_flags
from gru_common import job_configs

_FLAGS = _job_flags.define_classifier_flags(
    job_configs.ClassifierConfig(), "runs/legacy_classifier",
    "A GRU, or a BiGRU (the tutorial's section 3.5).")
flags.adopt_module_key_flags(_job_flags)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  # Imported after flag parsing: --help and flag errors stay instant.
  from legacy import classifier_job  # pylint: disable=g-import-not-at-top
  _job_flags.run_classifier(
      classifier_job.train, job_configs.ClassifierConfig, _FLAGS,
      lambda r: f"checkpoint {r.checkpoint_prefix}, plot {r.plot_path}")


def run():
  gru_commands.run(main)


if __name__ == "__main__":
  run()
