"""Runs every equivalence comparison for one GRU and reports the evidence.

Prints one table (comparison, dtype, max abs diff, max ulp diff, bitwise,
bound, pass/fail), writes it as `report.json` (with the machine, versions
and tolerance policy) and, for the Data Blogger GRU, `training.png`: the
legacy and TF2 training curves overlaid, with their difference on a log
scale. Exits 1 if any comparison exceeds its bound.

  gru-verify-equivalence --model=scan --output_dir=runs/verify_scan
  gru-verify-equivalence --model=loop --output_dir=runs/verify_loop
"""

import os

from absl import app
from absl import flags

import gru_commands

_MODEL = flags.DEFINE_enum(
    "model", "scan", ("scan", "loop"),
    "scan: the Data Blogger GRU (with the addition job's training "
    "comparison); loop: the tutorial GRU and its variants.")
_EPOCHS = flags.DEFINE_integer(
    "epochs", 5000, "scan: epochs of the training comparison (0 skips it).",
    lower_bound=0)
_RESUME = flags.DEFINE_list(
    "resume", ["100", "100"], "scan: N,M for the resumption check (legacy N "
    "epochs, then TF2 M); empty skips it.")
_OUTPUT_DIR = flags.DEFINE_string("output_dir", "runs/verify",
                                  "Folder for report.json and training.png.")


def _valid_resume(values):
  if not values:
    return True
  try:
    return len(values) == 2 and min(int(v) for v in values) >= 1
  except ValueError:
    return False


flags.register_validator(
    "resume", _valid_resume,
    message="--resume takes two positive integers N,M (or nothing)")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  # Imported after flag parsing: --help and flag errors stay instant.
  from proof import equivalence  # pylint: disable=g-import-not-at-top
  from proof import report as report_lib  # pylint: disable=g-import-not-at-top
  resume = tuple(int(v) for v in _RESUME.value) if _RESUME.value else None
  os.makedirs(_OUTPUT_DIR.value, exist_ok=True)
  if _MODEL.value == "scan":
    report = report_lib.scan_report(epochs=_EPOCHS.value, resume=resume)
  else:
    report = report_lib.loop_report()
  for line in equivalence.format_table(report.rows):
    print(line)
  settings = {"model": _MODEL.value, "epochs": _EPOCHS.value,
              "resume": resume}
  path = report_lib.write_json(report, os.path.join(
      _OUTPUT_DIR.value, report_lib.REPORT_NAME), settings)
  print(f"# {sum(r.passed for r in report.rows)}/{len(report.rows)} "
        f"comparisons pass, {sum(r.result.bitwise for r in report.rows)} "
        f"bitwise; wrote {path}")
  if report.timings:
    print("# wall time: " + ", ".join(
        f"{k} {v:.1f} s" for k, v in report.timings.items()))
  if report.curves is not None:
    print("# wrote " + report_lib.plot_training(report.curves, os.path.join(
        _OUTPUT_DIR.value, report_lib.PLOT_NAME)))
  return 0 if report.passed else 1


def run():
  gru_commands.run(main)


if __name__ == "__main__":
  run()
