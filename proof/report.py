"""The verification report: every comparison for one GRU, as a table,
JSON and a plot of the training curves.

For the Data Blogger GRU ("scan"): forward and gradient comparisons on the
standard cases, the full addition-job training comparison (legacy vs TF2
exact, fast and stock-Keras-Adam runs from the same weights and data),
resumption across a TF1 checkpoint, and the conversions of the trained
model. For the tutorial GRU ("loop"): forward and gradient comparisons on
its standard cases and the conversions of every variant.
"""

import dataclasses
import datetime
import json
import os
import platform
import sys
import tempfile

import keras
import numpy as np
import tensorflow as tf

from gru_common import compare
from gru_common import files
from gru_common import job_configs
from gru_common import plotting
from gru_common import tolerances
from legacy import addition_job as legacy_addition
from migration import convert
from migration.kinds import seeds
from migration import mapping
from migration import models
from migration import tf1_checkpoint
from migration import verification
from proof import equivalence

REPORT_NAME = "report.json"
PLOT_NAME = "training.png"


@dataclasses.dataclass
class Report:
  rows: list
  curves: equivalence.Curves = None
  timings: dict = dataclasses.field(default_factory=dict)

  @property
  def passed(self):
    return all(r.passed for r in self.rows)


def _prefixed(case, rows):
  return [dataclasses.replace(r, name=f"{case.describe()}: {r.name}")
          for r in rows]


def conversion_rows(state, label):
  """Round trips (bitwise) and converted outputs for a LegacyState."""
  rows = []
  for target in mapping.TARGETS:
    if not models.has_target(state.description, target):
      continue
    model, optimizer = convert.to_keras(state, target)
    back = convert.from_keras(model, optimizer).to_variables()
    original = state.to_variables()
    names = sorted(original)
    if sorted(back) != names:
      raise AssertionError(f"round trip changed the variables: {names} -> "
                           f"{sorted(back)}")
    rows.append(compare.Check(
        f"{label}: round trip legacy -> {target} -> legacy, "
        f"{len(names)} variables", state.description.dtype,
        compare.compare(
            np.concatenate([np.ravel(back[n]).astype(np.float64)
                            for n in names]),
            np.concatenate([np.ravel(original[n]).astype(np.float64)
                            for n in names])),
        0.0))
    for check in verification.verify_outputs(state, model, target):
      rows.append(dataclasses.replace(
          check, name=f"{label}: {target} model vs legacy graph, "
          f"{check.name} output"))
  return rows


def scan_report(epochs=5000, resume=(100, 100), log=print):
  report = Report([])
  for case in equivalence.standard_cases(seeds.SCAN):
    log(f"forward and gradients: {case.describe()}, {case.dtype}")
    report.rows += _prefixed(case, equivalence.forward_and_gradients(case))
  if epochs:
    rows, report.curves, report.timings = equivalence.training(
        job_configs.AdditionConfig(epochs=epochs), log=log)
    report.rows += rows
  if resume:
    report.rows += equivalence.resumption(*resume, log=log)
  log("conversions of a trained addition model")
  with tempfile.TemporaryDirectory() as folder:
    trained = legacy_addition.train(
        job_configs.AdditionConfig(epochs=min(epochs or 200, 200)),
        output_dir=folder, log=lambda _: None)
    state = tf1_checkpoint.read(trained.checkpoint_prefix)
  report.rows += conversion_rows(state, "trained addition model (Adam state)")
  return report


def loop_report(log=print):
  report = Report([])
  for case in equivalence.standard_cases(seeds.LOOP):
    log(f"forward and gradients: {case.describe()}, {case.dtype}")
    report.rows += _prefixed(case, equivalence.forward_and_gradients(case))
  rng = np.random.RandomState(0)
  for spec in (
      seeds.model(seeds.LOOP, 5, 8, "float32", head=seeds.CLASSIFIER,
                  head_units=10),
      seeds.model(seeds.LOOP, 4, 3, "float64", bidirectional=True,
                  head=seeds.CLASSIFIER, head_units=6),
      seeds.model(seeds.LOOP, 4, 3, "float32", reset_gate=False,
                  bidirectional=True)):
    values = {n: rng.normal(0, 0.5, s).astype(spec.dtype)
              for n, s in spec.shapes().items()}
    log(f"conversions: {spec.describe()}")
    report.rows += conversion_rows(tf1_checkpoint.LegacyState(spec, values),
                                   spec.describe())
  return report


def machine():
  cpu = platform.processor()
  try:
    with open("/proc/cpuinfo", encoding="utf-8") as f:
      cpu = next((l.split(":", 1)[1].strip() for l in f
                  if l.startswith("model name")), cpu)
  except OSError:
    pass
  return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
          "python": sys.version.split()[0], "tensorflow": tf.__version__,
          "keras": keras.__version__, "numpy": np.__version__}


def _policy():
  policy = {}
  for name, value in vars(tolerances).items():
    if isinstance(value, tolerances.Bound):
      policy[name] = dataclasses.asdict(value)
    elif isinstance(value, dict) and value and all(
        isinstance(b, tolerances.Bound) for b in value.values()):
      policy[name] = {f"<= {h} epochs": dataclasses.asdict(b)
                      for h, b in value.items()}
  return policy


def write_json(report, path, settings):
  payload = {
      "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
          timespec="seconds"),
      "settings": settings, "machine": machine(),
      "passed": report.passed,
      "counts": {"rows": len(report.rows),
                 "bitwise": sum(r.result.bitwise for r in report.rows),
                 "failed": sum(not r.passed for r in report.rows)},
      "timings_s": report.timings,
      "tolerance_policy": _policy(),
      "rows": [r.as_dict() for r in report.rows],
  }
  with files.replacing(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
    json.dump(payload, f, indent=2)
  return path


def plot_training(curves, path):
  """Legacy vs TF2 losses overlaid; |difference| on a log scale below."""
  fig, (top, bottom) = plotting.subplots(2, 1, figsize=(10, 8), sharex=True)
  top.semilogy(curves.legacy_train, "-k", lw=3, alpha=0.3,
               label="legacy train loss")
  top.semilogy(curves.legacy_test, "-", color="gray", lw=3, alpha=0.3,
               label="legacy test loss")
  colors = ["tab:blue", "tab:orange", "tab:red", "tab:green"]
  floor = 1e-20
  for color, (label, (train, test)) in zip(colors, curves.runs.items()):
    top.semilogy(train, "--", color=color, lw=1, label=f"{label} train")
    diff = np.maximum(np.abs(train - curves.legacy_train),
                      np.abs(test - curves.legacy_test))
    exact = not diff.any()
    bottom.semilogy(np.maximum(diff, floor), "-", color=color, lw=1,
                    label=f"{label}" + (": bitwise equal, every epoch" if
                                        exact else ""))
  top.set_ylabel("loss")
  top.set_title("Addition job: legacy (TF1 graph) vs TF2, same initial "
                "weights and data")
  top.legend(fontsize=8)
  bottom.set_ylabel("max |TF2 - legacy| of train and test loss\n"
                    "(exact 0 drawn at 1e-20)")
  bottom.set_xlabel("epoch")
  bottom.set_ylim(floor / 10, 1.0)
  bottom.grid(True, alpha=0.3)
  bottom.legend(fontsize=8)
  return plotting.save_figure(fig, path)
