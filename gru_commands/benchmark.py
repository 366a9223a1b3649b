"""Benchmarks the legacy graph, the TF2 layers, stock Keras and the floor.

One run, side by side (see proof/benchmarks/run.py): per workload the median
ms/step, sequences/s, the ratios to legacy, to stock Keras and to the
floor, and peak memory; on the scale workloads also Keras's JAX and PyTorch
backends, torch.nn.GRU and the GEMM limit (proof/benchmarks/peers.py); then the full 5000-epoch seed job, legacy against
TF2, each job in a process of its own, alternating, three times each.
Writes benchmark.json (with `ratios` and their targets) and benchmark.png
into --output_dir. A benchmark, not a test: it prints what it measured and
exits 0.

  gru-benchmark --output_dir=runs/benchmark \\
      --results_file=proof/benchmarks/RESULTS.md    # the record
  gru-benchmark --workloads=scale_train --full_job_epochs=0
  gru-benchmark --output_dir=runs/b1 && gru-benchmark --output_dir=runs/b2 \\
      --compare_with=runs/b1/benchmark.json    # two runs back to back
"""

import datetime
import json

from absl import app
from absl import flags

import gru_commands
from proof import benchmarks

_WORKLOADS = flags.DEFINE_list(
    "workloads", list(benchmarks.WORKLOAD_NAMES),
    "Workloads to run (proof/benchmarks/implementations.py).")
_FULL_JOB_EPOCHS = flags.DEFINE_integer(
    "full_job_epochs", 5000, "Epochs of the full seed-job comparison (0 "
    "skips it).", lower_bound=0)
_FULL_JOB_REPEATS = flags.DEFINE_integer(
    "full_job_repeats", 3, "Runs of each full seed job (medians are "
    "compared).", lower_bound=1)
_SMALL = flags.DEFINE_bool("small", False, "Tiny shapes (a smoke test).")
_PEERS = flags.DEFINE_bool(
    "peers", True, "Also time the scale workloads' peers: the converted "
    "stock-Keras model under Keras's JAX and PyTorch backends, "
    "torch.nn.GRU (each where installed) and the GEMM limit.")
_OUTPUT_DIR = flags.DEFINE_string("output_dir", "runs/benchmark",
                                  "Folder for benchmark.json and .png.")
_COMPARE_WITH = flags.DEFINE_string(
    "compare_with", None, "An earlier run's benchmark.json (typically the "
    "run just before, into another --output_dir): report whether every "
    "ratio agrees with it within 10%.")


def _previous_run(path):
  """The payload of an earlier run's benchmark.json, or None without
  `path`; None also when it cannot be read (the validator reports that)."""
  if not path:
    return None
  try:
    with open(path, encoding="utf-8") as f:
      payload = json.load(f)
  except (OSError, ValueError):
    return None
  return payload if isinstance(payload, dict) and "ratios" in payload else None


flags.register_validator(
    "compare_with", lambda path: not path or _previous_run(path) is not None,
    message="--compare_with takes a benchmark.json that gru-benchmark wrote "
    "(a JSON object with its `ratios`)")

_RESULTS_FILE = flags.DEFINE_string(
    "results_file", None, "Also regenerate this results file (Markdown) "
    "from the run: proof/benchmarks/RESULTS.md is the record the docs "
    "cite.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  # Imported after flag parsing: --help and flag errors stay instant.
  from proof.benchmarks import implementations  # pylint: disable=g-import-not-at-top
  from proof.benchmarks import run as run_lib  # pylint: disable=g-import-not-at-top
  unknown = sorted(set(_WORKLOADS.value) - set(implementations.WORKLOADS))
  if unknown:
    raise app.UsageError(f"--workloads: unknown {unknown}; choose from "
                         f"{sorted(implementations.WORKLOADS)}")
  previous = _previous_run(_COMPARE_WITH.value)
  payload = run_lib.run(_OUTPUT_DIR.value, tuple(_WORKLOADS.value),
                        _FULL_JOB_EPOCHS.value, small=_SMALL.value,
                        full_job_repeats=_FULL_JOB_REPEATS.value,
                        peers=_PEERS.value, previous=previous)
  for line in run_lib.summary_lines(payload):
    print(line)
  if _RESULTS_FILE.value:
    when = datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M UTC")
    written = run_lib.write_results(payload, _RESULTS_FILE.value, when)
    print(f"# wrote {written}")
  print(f"# wrote {payload['json_path']} and {payload['plot_path']}")
  return 0


def run():
  gru_commands.run(main)


if __name__ == "__main__":
  run()
