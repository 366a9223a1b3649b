"""Trains the legacy (TF1 graph) Data Blogger GRU to add binary numbers.

The source's job: 100 train and 100 test examples of 5-bit numbers, hidden
size 16, Adam, 5000 full-batch epochs, a log line every 50 epochs, then the
model is asked for 1024 + 16 on 20 bits and prints the answer.

Writes into --output_dir: a TF1 checkpoint (`model.ckpt`, model and Adam
state), `losses.png` and TensorBoard summaries (`tensorboard/`).

  gru-legacy-addition --output_dir=runs/legacy_addition
"""

from absl import app
from absl import flags

import scripts

from legacy import addition_job

_DEFAULTS = addition_job.Config()

_SEED = flags.DEFINE_integer(
    "seed", _DEFAULTS.seed, "Seeds numpy's data generator and the graph's "
    "initializers.", lower_bound=0)
_EPOCHS = flags.DEFINE_integer("epochs", _DEFAULTS.epochs,
                               "Full-batch training epochs.", lower_bound=1)
_BITS = flags.DEFINE_integer("bits", _DEFAULTS.num_bits,
                             "Bits per training number (time steps).",
                             lower_bound=2)
_HIDDEN_SIZE = flags.DEFINE_integer("hidden_size", _DEFAULTS.hidden_size,
                                    "GRU hidden size.", lower_bound=1)
_OUTPUT_DIR = flags.DEFINE_string(
    "output_dir", "runs/legacy_addition",
    "Folder for the checkpoint, loss plot and TensorBoard summaries.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  config = addition_job.Config(seed=_SEED.value, epochs=_EPOCHS.value,
                               num_bits=_BITS.value,
                               hidden_size=_HIDDEN_SIZE.value)
  result = addition_job.train(config, output_dir=_OUTPUT_DIR.value)
  # The source prints the answer alone on its line.
  print(result.prediction)
  print(f"# {config.query_a} + {config.query_b} = {result.prediction} "
        f"in {result.wall_time_s:.1f} s; checkpoint "
        f"{result.checkpoint_prefix}, plot {result.plot_path}, TensorBoard "
        f"{result.summary_dir}")


def run():
  scripts.run(main)


if __name__ == "__main__":
  run()
