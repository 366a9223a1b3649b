"""The benchmark harness (the figures themselves are measured, not tested)."""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from gru_common import job_configs
from proof import benchmarks
from proof.benchmarks import full_job
from proof.benchmarks import implementations as impl
from proof.benchmarks import measure
from proof.benchmarks import peers
from proof.benchmarks import run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
  figures.append(figure("scale_infer", "keras_xla", 1.5))
  assert run.ratios(figures, None)["scale_infer_tf2_vs_keras_xla"] == 1.5
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


@pytest.mark.slow  # every implementation, each compiled; CI runs it
def test_small_run_writes_json_and_plot(tmp_path):
  payload = run.run(str(tmp_path), workloads=("scale_infer",),
                    full_job_epochs=0, small=True, log=lambda _: None,
                    peers=False)
  with open(os.path.join(tmp_path, run.JSON_NAME), encoding="utf-8") as f:
    written = json.load(f)
  names = [r["implementation"] for r in written["results"]]
  assert names == [n for n in impl.IMPLEMENTATIONS
                   if impl.applies(n, impl.WORKLOADS["scale_infer"])]
  assert "scale_infer_tf2_vs_keras" in written["ratios"]
  assert written["machine"]["cores"] >= 1
  assert os.path.isfile(payload["plot_path"])
  # The GEMM limit is timed in every round, beside each implementation.
  rounds = written["gemm_limit_rounds"]["scale_infer"]
  assert rounds["implementation"] in impl.TF2
  assert len(rounds["ratios"]) == impl.quick(
      impl.WORKLOADS["scale_infer"]).repeats
  assert rounds["min"] <= rounds["median"] <= rounds["max"]
  assert rounds["below_1"] == (rounds["min"] < 1.0)
  assert len(written["load_average"]["before"]) == 3
  lines = run.summary_lines(payload)
  assert any(line.startswith("scale_infer: ") and "per interleaved round"
             in line for line in lines)


def test_profile_splits_the_fast_step_into_its_parts():
  parts = {"part_sequential": 0.04, "part_kernel_grads": 0.03,
           "part_large": 0.02, "part_elementwise": 0.03}
  inference = {"part_sequential": 0.05, "part_large": 0.01,
               "part_elementwise": 0.02}
  figures = ([figure("small_train", run.PROFILED, 0.1, batch=32)] +
             [figure("small_train", p, s, batch=32) for p, s in parts.items()]
             + [figure("scale_infer", run.PROFILED, 0.08)] +
             [figure("scale_infer", p, s) for p, s in inference.items()] +
             [figure("scale_infer", "gemm_limit", 0.05),
              figure("seed_train", run.PROFILED, 0.001)])
  split = run.profile(figures)
  # The parts were timed on these two only; an inference step's have no
  # kernels' gradients.
  assert list(split) == ["small_train", "scale_infer"]
  assert split["small_train"]["parts"] == parts
  assert split["scale_infer"]["parts"] == inference
  # The parts sum to more than the step (they overlapped, or each part's
  # own loop paid a per-step cost the step pays once): a negative remainder.
  assert split["small_train"]["remainder"] == pytest.approx(-0.02)
  assert split["small_train"]["matmuls"] == pytest.approx(0.09)
  assert split["small_train"]["matmuls_vs_gemm_limit"] is None  # no row
  # The matmul parts alone, over the GEMM limit measured in the run.
  assert split["scale_infer"]["matmuls"] == pytest.approx(0.06)
  assert split["scale_infer"]["matmuls_vs_gemm_limit"] == pytest.approx(1.2)
  train_line, infer_line = run.profile_lines(split)
  assert train_line == (
      "small_train profile: tf2_fast 100.0 ms = sequential 40.0 ms (40%), "
      "kernel_grads 30.0 ms (30%), large 20.0 ms (20%), elementwise 30.0 ms "
      "(30%), remainder -20.0 ms (-20%)")
  assert infer_line == (
      "scale_infer profile: tf2_fast 80.0 ms = sequential 50.0 ms (62%), "
      "large 10.0 ms (12%), elementwise 20.0 ms (25%), remainder 0.0 ms "
      "(0%); its matmuls alone 60.0 ms = 1.20x the GEMM limit")


def test_profile_parts_run_on_the_tutorial_grus_workloads():
  for key in ("small_train", "scale_infer"):
    workload = impl.quick(impl.WORKLOADS[key])
    for part in impl.PARTS:
      # An inference step has no kernels' gradients to time.
      runs = workload.train or part != "part_kernel_grads"
      assert impl.applies(part, workload) == runs
      if runs:
        impl.build(part, workload)()
  assert not any(impl.applies(p, impl.WORKLOADS["seed_train"])
                 for p in impl.PARTS)


def test_legacy_steps_have_inter_op_pools_of_their_own():
  # A process-wide pool sized by the seed workload's one-thread session
  # would serialize the scale workloads' legacy steps.
  for threads in (0, 1):
    config = impl.legacy_session_config(threads)
    assert config.use_per_session_threads
    assert config.inter_op_parallelism_threads == threads
    assert config.intra_op_parallelism_threads == threads


def test_agreement_of_two_runs_flags_every_ratio_outside_ten_percent():
  before = {"date": "d0", "ratios": {"a": 1.0, "b": 2.0, "only_then": 1.0},
            "gemm_limit_rounds": {"scale_train": {"median": 1.5}}}
  now = {"ratios": {"a": 1.05, "b": 2.5, "only_now": 3.0},
         "gemm_limit_rounds": {"scale_train": {"median": 1.6}}}
  result = run.agreement(now, before)
  assert sorted(result["ratios"]) == [
      "a", "b", "scale_train_vs_gemm_limit_round_median"]
  assert result["ratios"]["b"]["relative"] == pytest.approx(0.25)
  assert result["outside"] == ["b"] and not result["agree"]
  assert result["previous_date"] == "d0"
  assert run.agreement(now, now)["agree"]
  assert not run.agreement({"ratios": {}}, {"ratios": {}})["agree"]
  lines = run.agreement_lines(result)
  assert "2 of 3 ratios within 10%" in lines[0] and "NOT within it: b" in (
      lines[0])


def test_compare_with_needs_a_benchmark_json(tmp_path):
  bad = tmp_path / "bad.json"
  bad.write_text("[1, 2]")
  for path in (str(bad), str(tmp_path / "missing.json")):
    proc = subprocess.run(
        [sys.executable, "-m", "gru_commands.benchmark",
         f"--compare_with={path}"], cwd=ROOT, capture_output=True,
        text=True, timeout=120, check=False)
    assert proc.returncode == 1
    assert "--compare_with takes a benchmark.json" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_round_below_the_gemm_limit_is_flagged():
  workload = impl.WORKLOADS["scale_infer"]
  limit = peers.matmul_flops(workload) / (2 * peers.GEMM_SIZE ** 3)
  times = {"gemm": [1.0, 1.0, 1.0], "tf2": [2 * limit, 0.5 * limit, limit]}
  rounds = peers.limit_rounds(times, workload, "tf2")
  np.testing.assert_allclose(rounds["ratios"], [2.0, 0.5, 1.0])
  assert rounds["median"] == 1.0 and rounds["below_1"]


def test_matmul_flops_counts_both_projections_of_three_gates():
  infer = impl.WORKLOADS["scale_infer"]
  assert peers.matmul_flops(infer) == 2 * 256 * (64 + 256) * 768 * 100
  assert peers.matmul_flops(impl.WORKLOADS["scale_train"]) == (
      3 * peers.matmul_flops(infer))


@pytest.mark.slow
def test_peers_run_in_their_own_processes_and_land_in_the_json(tmp_path):
  """Keras on JAX (test extra) and the GEMM limit always; the PyTorch rows
  where torch is installed, else recorded as skipped with the reason."""
  run.run(str(tmp_path), workloads=("scale_infer",), full_job_epochs=0,
          small=True, log=lambda _: None)
  with open(os.path.join(tmp_path, run.JSON_NAME), encoding="utf-8") as f:
    written = json.load(f)
  names = {r["implementation"] for r in written["results"]}
  torch = importlib.util.find_spec("torch") is not None
  want = {"keras_jax", "gemm_limit"} | (
      {"keras_torch", "torch_gru"} if torch else set())
  assert want <= names
  assert written["peers"]["gemm_flops_per_second"] > 1e8
  if not torch:
    assert written["peers"]["skipped"] == {
        "keras_torch": "torch is not installed",
        "torch_gru": "torch is not installed"}
  for peer in want:
    assert written["ratios"][f"scale_infer_tf2_time_vs_{peer}"] > 0


def test_full_seed_job_alternates_jobs_and_compares_medians():
  calls = []
  seconds = {"legacy": iter([90.0, 60.0, 70.0]), "tf2": iter([9.0, 12.0,
                                                               8.0])}

  def run_one(job, epochs):
    calls.append((job, epochs))
    return {"job": job, "epochs": epochs, "wall_time_s": next(seconds[job]),
            "answer": 1040}

  result = run.full_seed_job(7, repeats=3, log=lambda _: None,
                             run_one=run_one)
  assert calls == [("legacy", 7), ("tf2", 7)] * 3
  assert result["legacy_s"] == 70.0 and result["tf2_s"] == 9.0
  assert result["legacy_runs_s"] == [90.0, 60.0, 70.0]
  assert result["tf2_answers"] == [1040] * 3
  assert run.ratios([], result) == {"seed_job_tf2_vs_legacy": 9.0 / 70.0}


def test_full_job_rejects_an_unknown_job_and_bad_repeats(tmp_path):
  with pytest.raises(ValueError, match="`job` must be one of"):
    full_job.run_job("keras", 1)
  with pytest.raises(ValueError, match="`job` must be one of"):
    full_job.run_job_in_new_process("keras", 1)
  with pytest.raises(ValueError, match="`threads` applies to the tf2 job"):
    full_job.run_job("legacy", 1, threads=1)
  with pytest.raises(ValueError, match="`full_job_repeats` must be >= 1"):
    run.run(str(tmp_path), workloads=(), full_job_epochs=1,
            full_job_repeats=0)


def test_full_job_process_reports_a_failure_with_its_stderr():
  with pytest.raises(RuntimeError, match=r"exited with 2:\nusage: "):
    full_job.run_job_in_new_process("tf2", -1)


@pytest.mark.parametrize("argv", [
    ["legacy", "5", "1"], ["tf2", "5", "one"], ["tf2", "-5"], ["tf2"],
    ["tf2", "5", "1", "1"]])
def test_full_job_command_line_usage(argv, capsys):
  assert full_job.main(["full_job", *argv]) == 2  # before any job runs
  assert capsys.readouterr().err.startswith("usage: ")


@pytest.mark.slow
def test_full_job_runs_in_a_process_of_its_own():
  result = full_job.run_job_in_new_process("tf2", 2)
  assert result["job"] == "tf2" and result["epochs"] == 2
  assert result["threads"] == job_configs.ADDITION_THREADS
  assert isinstance(result["answer"], int) and result["wall_time_s"] > 0


def test_the_commands_workload_names_are_the_harness_workloads():
  assert tuple(impl.WORKLOADS) == benchmarks.WORKLOAD_NAMES


def test_scale_out_projection_is_the_ring_all_reduce_arithmetic():
  from proof.benchmarks import scale_out
  one = {"step_ms": 100.0, "parameters": 250_000, "global_batch": 256}
  rows = scale_out.project(one, machines=(1, 4), links_gbit=(10,))
  assert rows[0]["bytes_per_step"] == 0
  assert rows[0]["sequences_per_s_10gbit"] == pytest.approx(2560)
  # 4 machines: each sends 2 * 3/4 * 1 MB = 1.5 MB, 1.2 ms at 10 Gbit/s.
  assert rows[1]["bytes_per_step"] == pytest.approx(1.5e6)
  assert rows[1]["sequences_per_s_10gbit"] == pytest.approx(
      4 * 256 / (0.1 + 1.5e6 * 8 / 1e10))
  assert rows[1]["efficiency_10gbit"] == pytest.approx(0.1 / 0.1012)


def test_scale_out_refuses_an_unknown_configuration():
  from proof.benchmarks import scale_out
  with pytest.raises(ValueError, match="configuration"):
    scale_out.measure("replicas_3")


@pytest.mark.slow
def test_scale_out_measures_replicas_and_workers_in_their_own_processes():
  from proof.benchmarks import scale_out
  for configuration, replicas in (("replicas_2", 2), ("workers_2", 2)):
    figures = scale_out.measure(configuration, steps=1, small=True)
    assert figures["replicas"] == replicas
    assert figures["step_ms"] > 0 and figures["all_reduce_ms"] > 0
    assert figures["sequences_per_s"] == pytest.approx(
        figures["global_batch"] / figures["step_ms"] * 1e3)
