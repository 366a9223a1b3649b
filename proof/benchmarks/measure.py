"""Timing and memory measurement for the benchmark.

Times are medians over repetitions after warm-up calls, each repetition one
synchronous call (results are fetched as NumPy, so nothing is left running).
The implementations of a workload are timed round-robin, one repetition of
each in turn: the machine's speed drifts (on the 2-core CI machine a fixed
loop's time varies about 2x within minutes), and interleaving makes every
implementation see the same drift.

Peak memory is the process's resident-set high-water mark (VmHWM) during a
measurement, minus the resident set before it. Linux lets a process reset
its high-water mark (writing 5 to /proc/self/clear_refs), so each
implementation is measured in the same process, one after the other. Memory
that an earlier implementation freed but the allocator kept can be reused
without raising the mark, so the figures are lower bounds of what each
implementation needs; where the reset is not available they are None.
"""

import statistics
import time


def _status(field):
  try:
    with open("/proc/self/status", encoding="utf-8") as f:
      for line in f:
        if line.startswith(field + ":"):
          return int(line.split()[1]) * 1024
  except OSError:
    pass
  return None


def _reset_high_water_mark():
  try:
    with open("/proc/self/clear_refs", "w", encoding="utf-8") as f:
      f.write("5")
    return True
  except OSError:
    return False


class PeakMemory:
  """Context manager: `.mib` is the peak extra resident memory inside it."""

  def __init__(self):
    self.mib = None
    self._start = None
    self._resettable = False

  def __enter__(self):
    self._resettable = _reset_high_water_mark()
    self._start = _status("VmRSS")
    return self

  def __exit__(self, *exc):
    peak = _status("VmHWM")
    if self._resettable and peak is not None and self._start is not None:
      self.mib = max(0.0, (peak - self._start) / 2**20)
    return False


def interleaved_times(steps, repeats=10):
  """{name: [wall seconds per round]} of each `steps[name]()`, timed
  round-robin: each round times one call of every step, so that every
  step sees the machine's drift alike. Warm up the steps first."""
  times = {name: [] for name in steps}
  for _ in range(repeats):
    for name, step in steps.items():
      start = time.perf_counter()
      step()
      times[name].append(time.perf_counter() - start)
  return times


def interleaved_medians(steps, repeats=10):
  """{name: median wall seconds} of `interleaved_times`."""
  return {name: statistics.median(t)
          for name, t in interleaved_times(steps, repeats).items()}


def machine_speed(repeats=5, additions=3_000_000):
  """Seconds of a fixed pure-Python loop (median, min, max of `repeats`).

  A yardstick of the machine's speed at the moment: recorded before and
  after a benchmark run, it shows how much the machine drifted meanwhile.
  """
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    total = 0
    for i in range(additions):
      total += i * i
    times.append(time.perf_counter() - start)
  return {"median_s": statistics.median(times), "min_s": min(times),
          "max_s": max(times)}
