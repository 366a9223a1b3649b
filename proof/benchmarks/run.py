"""The benchmark: every implementation on every workload, side by side.

One run. The steps are timed in this process, round-robin (each round times
every implementation once): each step time is the median of the workload's
rounds after warm-up calls. On the scale and small-batch workloads each
round also times one 2048^3 matmul, and the best TF2 configuration's ratio
to the GEMM limit is reported per round (median, min, max; a round below
1.0 flags a measurement error), with the load average before and after. The full seed job (5000
epochs, legacy and TF2 defaults) is timed end to end, each job in a process
of its own as its script runs it (`benchmarks/full_job.py`), legacy and TF2
alternating, `full_job_repeats` times each; the ratio uses the medians.
The scale workloads also get peers (`peers.py`): the converted stock-Keras
model under Keras's JAX and PyTorch backends and torch.nn.GRU, each backend
in a process of its own, and the GEMM limit. Writes `benchmark.json`
(machine, versions, settings, every figure, the `ratios` with their targets,
the peers' GEMM rate and any peer left out) and `benchmark.png` (step times
per workload, log scale).
"""

import dataclasses
import datetime
import json
import os
import statistics

import numpy as np
import tensorflow as tf

from gru_common import files
from gru_common import plotting
from gru_common import tables
from proof.benchmarks import full_job as full_job_lib
from proof.benchmarks import implementations as impl
from proof.benchmarks import measure
from proof.benchmarks import peers as peers_lib
from proof import report as report_lib

JSON_NAME = "benchmark.json"
PLOT_NAME = "benchmark.png"

# (ratio, target, lower is better)
RATIO_TARGETS = {
    "seed_job_tf2_vs_legacy": (0.15, True),
    "scale_train_tf2_vs_keras": (0.9, True),
    "scale_train_tf2_vs_floor": (1.5, True),
    "scale_infer_tf2_vs_keras": (1.1, False),
}


@dataclasses.dataclass
class Figure:
  workload: str
  implementation: str
  seconds: float          # median per step
  repeats: int
  batch: int
  peak_mib: float = None

  @property
  def sequences_per_second(self):
    return self.batch / self.seconds


# The workloads whose best TF2 step is measured against the GEMM limit in
# every interleaved round (`peers.limit_rounds`).
LIMIT_WORKLOADS = ("scale_train", "small_train", "scale_infer")


def run_workload(workload, names=impl.IMPLEMENTATIONS, warmup=3, log=print,
                 rounds=None):
  """Builds and warms up every implementation (peak memory measured meanwhile),
  then times them round-robin. On `LIMIT_WORKLOADS`, each round also
  times one GEMM (`peers.gemm_step`), and `rounds` (a dict) receives the
  best TF2 configuration's ratio to the GEMM limit per round."""
  names = [n for n in names if impl.applies(n, workload)]
  steps, peaks = {}, {}
  for name in names:
    with measure.PeakMemory() as memory:
      steps[name] = impl.build(name, workload)
      for _ in range(warmup):
        steps[name]()
    peaks[name] = memory.mib
  limit = rounds is not None and workload.key in LIMIT_WORKLOADS
  if limit:
    steps["gemm"] = peers_lib.gemm_step()
  times = measure.interleaved_times(steps, workload.repeats)
  medians = {name: statistics.median(t) for name, t in times.items()}
  figures = []
  for name in names:
    figures.append(Figure(workload.key, name, medians[name], workload.repeats,
                          workload.batch, peaks[name]))
    log(f"  {workload.key:12} {name:16} {medians[name] * 1e3:10.3f} ms/step")
  best = best_tf2(figures, workload.key)
  if limit and best:
    rounds[workload.key] = peers_lib.limit_rounds(times, workload,
                                                  best.implementation)
  return figures


def start_tf2_runtime():
  """Creates TensorFlow's eager runtime before any legacy `Session`.

  TensorFlow sizes its process-wide CPU thread pools from the first runtime
  a process creates. Were that the seed workload's legacy Session (one
  thread, as the legacy job configures it), every later step in the process
  would share its one intra-op thread, and TF2 under XLA would run scale
  inference slower (BUILD.md, Performance). Created first, the
  eager context gives every step TensorFlow's default pools, the ones a TF2
  program has. (The legacy steps then run on its intra-op pool too, each
  session with inter-op threads of its own
  (`implementations.legacy_session_config`); the full legacy job runs in
  a process of its own, on its own one thread.)
  """
  tf.config.list_logical_devices("CPU")


def full_seed_job(epochs, repeats=3, log=print,
                  run_one=full_job_lib.run_job_in_new_process):
  """Wall seconds of the default legacy and TF2 addition jobs.

  Each run is a fresh process (`run_one(job, epochs)`), legacy and TF2
  alternating so that both see the machine's drift alike; `legacy_s` and
  `tf2_s` are the medians of `repeats` runs each.
  """
  runs = {job: [] for job in full_job_lib.JOBS}
  for i in range(repeats):
    for job in full_job_lib.JOBS:
      log(f"full seed job, {epochs} epochs, run {i + 1}/{repeats}: {job} "
          f"(own process)")
      runs[job].append(run_one(job, epochs))
  seconds = {job: [r["wall_time_s"] for r in rs] for job, rs in runs.items()}
  return {"epochs": epochs, "repeats": repeats,
          "legacy_s": statistics.median(seconds["legacy"]),
          "tf2_s": statistics.median(seconds["tf2"]),
          "legacy_runs_s": seconds["legacy"], "tf2_runs_s": seconds["tf2"],
          "legacy_answers": [r["answer"] for r in runs["legacy"]],
          "tf2_answers": [r["answer"] for r in runs["tf2"]]}


def best_tf2(figures, workload):
  """The fastest configuration this project ships on `workload`."""
  candidates = [f for f in figures if f.workload == workload and
                f.implementation in impl.TF2]
  return min(candidates, key=lambda f: f.seconds) if candidates else None


def by(figures, workload, name):
  return next((f for f in figures if f.workload == workload and
               f.implementation == name), None)


def ratios(figures, full_job):
  out = {}
  if full_job:
    out["seed_job_tf2_vs_legacy"] = full_job["tf2_s"] / full_job["legacy_s"]
  seed_tf2, seed_legacy = best_tf2(figures, "seed_train"), by(
      figures, "seed_train", "legacy")
  if seed_tf2 and seed_legacy:
    out["seed_step_tf2_vs_legacy"] = seed_tf2.seconds / seed_legacy.seconds
  for key in ("scale_train", "small_train", "scale_infer", "long_infer"):
    tf2, keras_, floor = (best_tf2(figures, key), by(figures, key, "keras"),
                          by(figures, key, "floor"))
    if not tf2:
      continue
    for peer in peers_lib.PEERS:  # step-time ratios: below 1, TF2 is faster
      other = by(figures, key, peer)
      if other:
        out[f"{key}_tf2_time_vs_{peer}"] = tf2.seconds / other.seconds
    if impl.WORKLOADS[key].train:
      if keras_:
        out[f"{key}_tf2_vs_keras"] = tf2.seconds / keras_.seconds
      if floor:
        out[f"{key}_tf2_vs_floor"] = tf2.seconds / floor.seconds
    elif keras_:  # throughput ratio: higher is better
      out[f"{key}_tf2_vs_keras"] = keras_.seconds / tf2.seconds
    keras_xla = by(figures, key, "keras_xla")
    if keras_xla and key != "scale_train":  # no target; for the record
      out[f"{key}_tf2_vs_keras_xla"] = keras_xla.seconds / tf2.seconds
  return out


PROFILED = "tf2_fast"


def profile(figures):
  """{workload: {"step": tf2_fast's seconds, "parts": {part: seconds},
  "remainder": step - sum of parts, "matmuls": the matmul parts' sum,
  "matmuls_vs_gemm_limit": that over the GEMM limit (None without its
  row)}} on the workloads with the profile parts
  (`implementations.PARTS`): where the fast path's step goes, and how far
  its matmuls alone, run as it runs them, are from the limit."""
  out = {}
  for key in dict.fromkeys(f.workload for f in figures):
    step = by(figures, key, PROFILED)
    parts = {p: f for p in impl.PARTS if (f := by(figures, key, p))}
    if step and parts:
      seconds = {p: f.seconds for p, f in parts.items()}
      matmuls = sum(s for p, s in seconds.items() if p in impl.MATMUL_PARTS)
      limit = by(figures, key, peers_lib.GEMM_LIMIT)
      out[key] = {"implementation": PROFILED, "step": step.seconds,
                  "parts": seconds,
                  "remainder": step.seconds - sum(seconds.values()),
                  "matmuls": matmuls,
                  "matmuls_vs_gemm_limit": (matmuls / limit.seconds
                                            if limit else None)}
  return out


def profile_lines(split):
  lines = []
  for key, p in split.items():
    share = lambda s: f"{s * 1e3:.1f} ms ({s / p['step']:.0%})"  # pylint: disable=cell-var-from-loop
    limit = p["matmuls_vs_gemm_limit"]
    lines.append(
        f"{key} profile: {p['implementation']} {p['step'] * 1e3:.1f} ms = " +
        ", ".join(f"{name.removeprefix('part_')} {share(s)}"
                  for name, s in p["parts"].items()) +
        f", remainder {share(p['remainder'])}" +
        (f"; its matmuls alone {p['matmuls'] * 1e3:.1f} ms = "
         f"{limit:.2f}x the GEMM limit" if limit is not None else ""))
  return lines


def targets_met(ratio_values):
  met = {}
  for name, (target, lower_is_better) in RATIO_TARGETS.items():
    if name in ratio_values:
      value = ratio_values[name]
      met[name] = {"value": value, "target": target,
                   "lower_is_better": lower_is_better,
                   "met": value <= target if lower_is_better else
                   value >= target}
  return met


def format_table(figures):
  rows = []
  for f in figures:
    ratios = []
    for ref in ("legacy", "keras", "floor"):
      other = by(figures, f.workload, ref)
      ratios.append(f"{f.seconds / other.seconds:.2f}x" if other else "-")
    peak = f"{f.peak_mib:.0f}" if f.peak_mib is not None else "-"
    rows.append([f.workload, f.implementation, f"{f.seconds * 1e3:.3f}",
                 f"{f.sequences_per_second:.0f}", *ratios, peak])
  return tables.format_table(
      [("workload", "<", 12), ("implementation", "<", 16),
       ("ms/step", ">", 10), ("seq/s", ">", 10), ("vs legacy", ">", 9),
       ("vs keras", ">", 8), ("vs floor", ">", 8), ("peak MiB", ">", 8)],
      rows)


def plot(figures, path):
  workloads = list(dict.fromkeys(f.workload for f in figures))
  names = list(dict.fromkeys(f.implementation for f in figures))
  fig, ax = plotting.subplots(figsize=(11, 5))
  width = 0.8 / len(names)
  for i, name in enumerate(names):
    values = [by(figures, w, name).seconds * 1e3 if by(figures, w, name)
              else np.nan for w in workloads]
    ax.bar(np.arange(len(workloads)) + i * width, values, width, label=name)
  ax.set_xticks(np.arange(len(workloads)) + width * (len(names) - 1) / 2)
  ax.set_xticklabels(workloads)
  ax.set_yscale("log")
  ax.set_ylabel("ms per step (median)")
  ax.set_title("GRU step time by implementation (lower is better)")
  ax.grid(True, axis="y", alpha=0.3)
  ax.legend(fontsize=8)
  return plotting.save_figure(fig, path)


def _with_peers(figures, workloads, small, log):
  """`figures` plus the peers' rows (`peers.py`) on the scale workloads,
  and what `benchmark.json` records of them (the GEMM rate, and each peer
  left out with the reason)."""
  chosen = [impl.quick(impl.WORKLOADS[k]) if small else impl.WORKLOADS[k]
            for k in workloads if k in peers_lib.WORKLOADS]
  if not chosen:
    return figures, None
  log("peers (Keras's JAX and PyTorch backends, torch.nn.GRU: each "
      "backend in a process of its own), and the GEMM limit")

  def keras_path_of(workload, folder):
    path = os.path.join(folder, f"{workload.key}.keras")
    impl.stock_keras_model(workload).save(path)
    return path

  seconds, skipped = peers_lib.run_peers(chosen, keras_path_of, log=log)
  flops_per_second = peers_lib.gemm_flops_per_second()
  log(f"  one {peers_lib.GEMM_SIZE}^3 float32 matmul: "
      f"{flops_per_second / 1e9:.1f} GFLOP/s")
  for workload in chosen:
    seconds[(workload.key, peers_lib.GEMM_LIMIT)] = (
        peers_lib.matmul_flops(workload) / flops_per_second)
  extra = [Figure(key, peer, s, 1 if peer == peers_lib.GEMM_LIMIT else
                  impl.WORKLOADS[key].repeats, next(
                      w.batch for w in chosen if w.key == key))
           for (key, peer), s in seconds.items()]
  return figures + extra, {"gemm_flops_per_second": flops_per_second,
                           "skipped": skipped}


def run(output_dir, workloads=tuple(impl.WORKLOADS), full_job_epochs=5000,
        small=False, log=print, full_job_repeats=3, peers=True,
        previous=None):
  """Runs the benchmark; returns the JSON payload (also written).

  With `peers`, the scale workloads also get the rows of `peers.py`
  (Keras's JAX and PyTorch backends, torch.nn.GRU, the GEMM limit). With
  `previous` (an earlier run's benchmark.json payload, typically the run
  just before), the payload's `agreement` compares every ratio with it."""
  if full_job_repeats < 1:
    raise ValueError(f"`full_job_repeats` must be >= 1, got "
                     f"{full_job_repeats!r}.")
  os.makedirs(output_dir, exist_ok=True)
  start_tf2_runtime()
  speed_before = measure.machine_speed()
  load_before = os.getloadavg()
  figures, rounds = [], {}
  for key in workloads:
    workload = impl.WORKLOADS[key]
    if small:
      workload = impl.quick(workload)
    log(f"{workload.title}: batch {workload.batch}, {workload.time} steps, "
        f"{workload.input_dim} inputs, hidden {workload.units}, "
        f"{workload.dtype}")
    figures += run_workload(workload, log=log, rounds=rounds)
  peer_info = None
  if peers:
    figures, peer_info = _with_peers(figures, workloads, small, log)
  full_job = full_seed_job(full_job_epochs, full_job_repeats, log=log) \
      if full_job_epochs else None
  ratio_values = ratios(figures, full_job)
  payload = {
      "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
          timespec="seconds"),
      "machine": report_lib.machine(),
      "machine_speed": {"before": speed_before,
                        "after": measure.machine_speed(),
                        "what": "seconds of 3,000,000 pure-Python "
                                "multiply-adds; lower is faster"},
      "load_average": {"before": list(load_before),
                       "after": list(os.getloadavg()),
                       "what": "os.getloadavg(): 1, 5, 15 minutes"},
      "gemm_limit_rounds": rounds,
      "settings": {"workloads": {k: dataclasses.asdict(
          impl.quick(impl.WORKLOADS[k]) if small else impl.WORKLOADS[k])
                                 for k in workloads},
                   "full_job_epochs": full_job_epochs,
                   "full_job_repeats": full_job_repeats, "small": small},
      "results": [dict(dataclasses.asdict(f),
                       sequences_per_second=f.sequences_per_second)
                  for f in figures],
      "full_seed_job": full_job,
      "peers": peer_info,
      "tf2_fastest": {k: best_tf2(figures, k).implementation
                      for k in workloads if best_tf2(figures, k)},
      "ratios": ratio_values,
      "targets": targets_met(ratio_values),
      "table": format_table(figures),
      "profile": profile(figures),
  }
  if previous is not None:
    payload["agreement"] = agreement(payload, previous)
  path = os.path.join(output_dir, JSON_NAME)
  with files.replacing(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
    json.dump(payload, f, indent=2)
  payload["json_path"] = path
  payload["plot_path"] = plot(figures, os.path.join(output_dir, PLOT_NAME))
  return payload


# Two back-to-back runs of the same code should agree this closely on every
# ratio (relative difference) before a target is judged on them.
AGREEMENT = 0.10


def compared_ratios(payload):
  """{name: value} of every ratio a run reports: `ratios` and the median
  per-round ratio to the GEMM limit of each `LIMIT_WORKLOADS` workload."""
  values = dict(payload.get("ratios") or {})
  for key, r in (payload.get("gemm_limit_rounds") or {}).items():
    values[f"{key}_vs_gemm_limit_round_median"] = r["median"]
  return values


def agreement(payload, previous, within=AGREEMENT):
  """How a run's ratios compare with an earlier run's (`previous`, its
  benchmark.json): {"previous_date", "within", "ratios": {name: {"now",
  "before", "relative"}}, "agree": every shared ratio within `within`,
  "outside": the names that are not}. Only ratios both runs report count."""
  now, before = compared_ratios(payload), compared_ratios(previous)
  shared = sorted(set(now) & set(before))
  rows = {n: {"now": now[n], "before": before[n],
              "relative": abs(now[n] - before[n]) / abs(before[n])}
          for n in shared if before[n]}
  outside = [n for n, r in rows.items() if r["relative"] > within]
  return {"previous_date": previous.get("date"), "within": within,
          "ratios": rows, "agree": bool(rows) and not outside,
          "outside": outside}


def agreement_lines(result):
  lines = [f"agreement with the previous run ({result['previous_date']}): "
           f"{len(result['ratios']) - len(result['outside'])} of "
           f"{len(result['ratios'])} ratios within "
           f"{result['within']:.0%}" +
           ("" if result["agree"] else
            f"; NOT within it: {', '.join(result['outside'])}")]
  for name, r in result["ratios"].items():
    lines.append(f"  {name:44} {r['before']:8.3f} -> {r['now']:8.3f} "
                 f"({r['relative']:.0%})")
  return lines


def summary_lines(payload):
  """What `gru-benchmark` prints: the table, the full seed job, the
  machine's speed and each target."""
  lines = list(payload["table"])
  job = payload["full_seed_job"]
  if job:
    runs = {k: ", ".join(f"{v:.1f}" for v in job[f"{k}_runs_s"])
            for k in ("legacy", "tf2")}
    lines.append(
        f"full seed job ({job['epochs']} epochs, median of {job['repeats']}, "
        f"each in its own process): legacy {job['legacy_s']:.1f} s "
        f"({runs['legacy']}; answers {job['legacy_answers']}), TF2 "
        f"{job['tf2_s']:.1f} s ({runs['tf2']}; answers "
        f"{job['tf2_answers']})")
  speed = payload["machine_speed"]
  lines.append(f"machine speed (pure-Python yardstick, lower is faster): "
               f"{speed['before']['median_s']:.3f} s before, "
               f"{speed['after']['median_s']:.3f} s after")
  load = payload.get("load_average")
  if load:
    lines.append("load average (1, 5, 15 min): " + ", ".join(
        f"{v:.2f}" for v in load["before"]) + " before; " + ", ".join(
            f"{v:.2f}" for v in load["after"]) + " after")
  for key, r in (payload.get("gemm_limit_rounds") or {}).items():
    lines.append(
        f"{key}: {r['implementation']} / GEMM limit, per interleaved round "
        f"({len(r['ratios'])}): median {r['median']:.3f}, min "
        f"{r['min']:.3f}, max {r['max']:.3f} (spread {r['spread']:.0%})" +
        ("  MEASUREMENT ERROR: a round below 1.0" if r["below_1"] else ""))
  peers = payload.get("peers")
  if peers:
    lines.append(f"peers: one {peers_lib.GEMM_SIZE}^3 float32 matmul "
                 f"{peers['gemm_flops_per_second'] / 1e9:.0f} GFLOP/s; "
                 "step-time ratios, TF2 (fastest shipped) / peer:")
    for name, value in payload["ratios"].items():
      if "_time_vs_" in name:
        lines.append(f"  {name:40} {value:.3f}")
    for peer, why in peers["skipped"].items():
      lines.append(f"  {peer}: left out ({why})")
  for name, t in payload["targets"].items():
    sign = "<=" if t["lower_is_better"] else ">="
    lines.append(f"{name:28} {t['value']:.3f}  target {sign} {t['target']}  "
                 f"{'met' if t['met'] else 'NOT met'}")
  lines += profile_lines(payload.get("profile") or {})
  if payload.get("agreement"):
    lines += agreement_lines(payload["agreement"])
  return lines


def write_results(payload, path, when):
  """Regenerates the results file at `path` from one run's payload.

  The file is the measurement record the docs cite: each run replaces it
  (earlier runs are in its version history).
  """
  m = payload["machine"]
  settings = payload["settings"]
  text = "\n".join([
      "# Benchmark results",
      "",
      "Written by `gru-benchmark --results_file=...`",
      "(`proof/benchmarks/run.py`); each run replaces this file, and earlier",
      "runs are in its version history. Method and targets: BUILD.md,",
      "Performance.",
      "",
      f"- run: {when}",
      f"- machine: {m['cpu']}, {m['cores']} cores, {m['platform']}",
      f"- versions: Python {m['python']}, TensorFlow {m['tensorflow']}, "
      f"Keras {m['keras']}, NumPy {m['numpy']}",
      f"- settings: workloads {sorted(settings['workloads'])}, full seed "
      f"job {settings['full_job_epochs']} epochs x "
      f"{settings['full_job_repeats']}, small={settings['small']}",
      "",
      "```text",
      *summary_lines(payload),
      "```",
      ""])
  with files.replacing(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
    f.write(text)
  return path
