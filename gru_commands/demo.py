"""The main job: train the legacy GRU, convert it, prove the TF2 models agree.

Trains the Data Blogger GRU in TF1 graph mode on binary addition (5000
epochs), converts its TF1 checkpoint to this project's TF2 layers and to
stock Keras layers, then runs all three on the test set and on 1024 + 16 and
prints the agreement table: max abs difference from the legacy graph,
bitwise yes/no, and the answers. Writes into --output_dir the legacy
checkpoint, both .keras files and `agreement.png`.

Exits 1 if the TF2 model is not bitwise equal to the legacy graph, if the
stock Keras model exceeds its bound, or if the answers differ.

  gru-demo --output_dir=runs/demo
"""

from absl import app
from absl import flags

import gru_commands
from gru_common import job_configs

_SEED = flags.DEFINE_integer("seed", job_configs.AdditionConfig.seed,
                             "Seeds the data and the legacy initializers.",
                             lower_bound=0)
_EPOCHS = flags.DEFINE_integer("epochs", job_configs.AdditionConfig.epochs,
                               "Legacy training epochs.", lower_bound=1)
_OUTPUT_DIR = flags.DEFINE_string("output_dir", "runs/demo",
                                  "Folder for everything the demo writes.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  # Imported after flag parsing: --help and flag errors stay instant.
  from legacy import addition_job  # pylint: disable=g-import-not-at-top
  from proof import demo  # pylint: disable=g-import-not-at-top
  from gru_common import tolerances  # pylint: disable=g-import-not-at-top
  config = job_configs.AdditionConfig(seed=_SEED.value, epochs=_EPOCHS.value)
  result = demo.run(_OUTPUT_DIR.value, config)
  failures = demo.check(result, tolerances.STOCK_KERAS.float64)
  for failure in failures:
    print(f"FAILED: {failure}")
  if failures:
    return 1
  print("All three models agree: the TF2 model bit for bit, stock Keras "
        "within its bound.")
  return 0


def run():
  gru_commands.run(main)


if __name__ == "__main__":
  run()
