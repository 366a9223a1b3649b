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

import gru_commands
from gru_commands import _job_flags
from gru_common import job_configs

_FLAGS = _job_flags.define_addition_flags(job_configs.AdditionConfig(),
                                          "runs/legacy_addition")
flags.adopt_module_key_flags(_job_flags)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  # Imported after flag parsing: --help and flag errors stay instant.
  from legacy import addition_job  # pylint: disable=g-import-not-at-top
  config = job_configs.AdditionConfig(**_job_flags.addition_settings(_FLAGS))
  result = addition_job.train(config, output_dir=_FLAGS.output_dir.value)
  # The source prints the answer alone on its line.
  print(result.prediction)
  print(f"# {config.query_a} + {config.query_b} = {result.prediction} "
        f"in {result.wall_time_s:.1f} s; checkpoint "
        f"{result.checkpoint_prefix}, plot {result.plot_path}, TensorBoard "
        f"{result.summary_dir}")


def run():
  gru_commands.run(main)


if __name__ == "__main__":
  run()
