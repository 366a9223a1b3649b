"""The benchmark harness (the figures themselves are measured, not tested)."""

import json
import os

import pytest

from benchmarks import implementations as impl
from benchmarks import measure
from benchmarks import run


def figure(workload, name, seconds, batch=256):
  return run.Figure(workload, name, seconds, repeats=3, batch=batch)


def test_ratios_use_the_fastest_shipped_tf2_configuration():
  figures = [figure("scale_train", "tf2", 4.0), figure("scale_train",
                                                       "tf2_xla", 6.0),
             figure("scale_train", "keras", 5.0),
             figure("scale_train", "fused_experiment", 1.0),
             figure("scale_train", "floor", 2.0),
             figure("scale_infer", "tf2", 3.0), figure("scale_infer",
                                                       "tf2_xla", 1.0),
             figure("scale_infer", "keras", 2.0)]
  ratios = run.ratios(figures, {"tf2_s": 10.0, "legacy_s": 100.0})
  assert ratios == {"seed_job_tf2_vs_legacy": 0.1,
                    "scale_train_tf2_vs_keras": 0.8,
                    "scale_train_tf2_vs_floor": 2.0,
                    "scale_infer_tf2_vs_keras": 2.0}
  met = run.targets_met(ratios)
  assert met["scale_train_tf2_vs_floor"]["met"] is False
  assert met["scale_infer_tf2_vs_keras"]["met"] is True
  assert met["seed_job_tf2_vs_legacy"]["met"] is True


def test_interleaved_medians_time_every_step():
  calls = []
  medians = measure.interleaved_medians(
      {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")},
      repeats=3)
  assert calls == ["a", "b"] * 3
  assert set(medians) == {"a", "b"} and all(m >= 0 for m in medians.values())


def test_peak_memory_sees_an_allocation():
  with measure.PeakMemory() as memory:
    block = bytearray(64 * 2**20)
    block[::4096] = b"x" * len(block[::4096])
  if memory.mib is None:
    pytest.skip("this kernel cannot reset the RSS high-water mark")
  assert memory.mib >= 48


def test_small_run_writes_json_and_plot(tmp_path):
  payload = run.run(str(tmp_path), workloads=("scale_infer",),
                    full_job_epochs=0, small=True, log=lambda _: None)
  with open(os.path.join(tmp_path, run.JSON_NAME), encoding="utf-8") as f:
    written = json.load(f)
  names = [r["implementation"] for r in written["results"]]
  assert names == [n for n in impl.IMPLEMENTATIONS
                   if impl.applies(n, impl.WORKLOADS["scale_infer"])]
  assert "scale_infer_tf2_vs_keras" in written["ratios"]
  assert written["machine"]["cores"] >= 1
  assert os.path.isfile(payload["plot_path"])
