"""Measures the TF2 classifier's distributed training step: 1, 2 and 4
replicas in one process and 2 local worker processes, on the scale
workload (global batch 256, 100 time steps, hidden 256).

Per configuration: ms per step, sequences per second and the time of the
gradient all-reduce alone; then a paper projection to N machines (ring
all-reduce at 10 and 100 Gbit/s) and, unless --noagreement, how far the
classifier job trained on 2 and 4 replicas and 2 workers ends from one
device. Each configuration runs in processes of its own. A benchmark, not a
test: it prints what it measured and exits 0.

  gru-scale-out-benchmark --results_file=proof/benchmarks/SCALE_OUT.md
  gru-scale-out-benchmark --small --noagreement      # a smoke test
"""

import datetime
import json
import os

from absl import app
from absl import flags

import gru_commands

_STEPS = flags.DEFINE_integer("steps", 20, "Timed steps per configuration "
                              "(after 2 warm-up steps).", lower_bound=1)
_SMALL = flags.DEFINE_bool("small", False, "Tiny shapes (a smoke test).")
_AGREEMENT = flags.DEFINE_bool(
    "agreement", True, "Also train the classifier job on one device, 2 and "
    "4 replicas and 2 workers, and compare the final weights and losses.")
_OUTPUT_DIR = flags.DEFINE_string("output_dir", "runs/scale_out",
                                  "Folder for scale_out.json.")
_RESULTS_FILE = flags.DEFINE_string(
    "results_file", None, "Also regenerate this results file "
    "(proof/benchmarks/SCALE_OUT.md is the record BUILD.md cites).")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  from proof.benchmarks import scale_out  # pylint: disable=g-import-not-at-top
  payload = scale_out.run(_STEPS.value, _SMALL.value, _AGREEMENT.value)
  os.makedirs(_OUTPUT_DIR.value, exist_ok=True)
  path = os.path.join(_OUTPUT_DIR.value, "scale_out.json")
  with open(path, "w", encoding="utf-8") as f:
    json.dump(payload, f, indent=1)
  print("\n".join(scale_out.summary_lines(payload)))
  print(f"# wrote {path}")
  if _RESULTS_FILE.value:
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    print(f"# wrote {scale_out.write_results(payload, _RESULTS_FILE.value, when)}")


def run():
  gru_commands.run(main)


if __name__ == "__main__":
  run()
