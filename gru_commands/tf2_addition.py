"""Trains the TF2 (Keras 3) Data Blogger GRU to add binary numbers.

The legacy job's recipe and log, in TF2: compiled blocks of epochs, TF1's
Adam arithmetic (`TF1Adam`), then the 1024 + 16 query. By default the fast
path (a Dense head, XLA); --exact runs the reference path, which
reproduces the legacy job bit for bit from the same initial weights.
--threads sets TensorFlow's CPU threads first (default 1, as the legacy
job's Session: fastest for this job's tiny ops).

Writes into --output_dir: a TF2 checkpoint (`ckpt`, model and optimizer),
`model.keras`, `losses.png` and TensorBoard summaries (`tensorboard/`).

  gru-tf2-addition --output_dir=runs/tf2_addition
"""

from absl import app
from absl import flags

import gru_commands
from gru_commands import _job_flags
from gru_common import job_configs

_FLAGS = _job_flags.define_addition_flags(job_configs.AdditionConfig(),
                                          "runs/tf2_addition")
_EXACT = flags.DEFINE_bool(
    "exact", False,
    "Run the reference path (bitwise equal to the legacy graph) instead of "
    "the fast path.")
_OPTIMIZER = flags.DEFINE_enum(
    "optimizer", job_configs.ADDITION_OPTIMIZERS[0],
    job_configs.ADDITION_OPTIMIZERS,
    "tf1: TF1Adam, TF1's Adam arithmetic bit for bit; keras: stock "
    "keras.optimizers.Adam with TF1's hyperparameters.")
_THREADS = flags.DEFINE_integer(
    "threads", job_configs.ADDITION_THREADS,
    "TensorFlow's intra- and inter-op CPU threads; 0: TensorFlow's default "
    "(from the machine's cores). One measured fastest for this job's tiny "
    "ops; the tests check that 1 gives the same bits as 0.", lower_bound=0)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  # Imported after flag parsing: --help and flag errors stay instant.
  from tf2 import runtime  # pylint: disable=g-import-not-at-top
  runtime.set_threads(_THREADS.value)  # before anything runs
  from tf2 import addition_job  # pylint: disable=g-import-not-at-top
  config = addition_job.Config(**_job_flags.addition_settings(_FLAGS),
                               exact=_EXACT.value, optimizer=_OPTIMIZER.value)
  result = addition_job.train(config, output_dir=_FLAGS.output_dir.value)
  print(result.prediction)
  print(f"# {config.query_a} + {config.query_b} = {result.prediction} "
        f"in {result.wall_time_s:.1f} s; checkpoint "
        f"{result.checkpoint_prefix}, model {result.model_path}, plot "
        f"{result.plot_path}, TensorBoard {result.summary_dir}")


flags.adopt_module_key_flags(_job_flags)


def run():
  gru_commands.run(main)


if __name__ == "__main__":
  run()
