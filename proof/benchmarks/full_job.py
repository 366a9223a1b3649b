"""One full seed job in a process of its own, as its script would run it.

`benchmarks/run.py` times the full 5000-epoch addition job, legacy and TF2,
each in a fresh process started here, and not inside the benchmark's own
process. TensorFlow sizes its process-wide CPU thread pools once, from the
first runtime a process creates (a `Session`'s ConfigProto or the eager
context), and every later `Session` and eager op shares them. In a process
of its own each job gets the runtime its script gets: the legacy job's
one-thread Session is the first, as when `gru-legacy-addition` runs it; the
TF2 job sets `job_configs.ADDITION_THREADS` before anything runs, as
`gru-tf2-addition` does by default.

    python -m proof.benchmarks.full_job legacy 5000
    python -m proof.benchmarks.full_job tf2 5000 0   # TensorFlow's threads

prints one JSON line: the job, its epochs, its threads, its own
`wall_time_s` (training and the query, as the job reports it; not the
interpreter's start-up) and its answer. The TF2 job takes an optional
THREADS (`gru-tf2-addition --threads`; default its default), which is how
BUILD.md compares one thread with TensorFlow's defaults.
"""

import json
import os
import subprocess
import sys

JOBS = ("legacy", "tf2")


def _check_job(job):
  if job not in JOBS:
    raise ValueError(f"`job` must be one of {JOBS}, got {job!r}.")


def run_job(job, epochs, threads=None):
  """Runs the default `job` ("legacy" or "tf2") for `epochs` in this process.

  `threads`: the TF2 job's CPU threads (None: `job_configs.ADDITION_THREADS`,
  as its script); the legacy job's are its Session's and cannot be chosen.
  """
  _check_job(job)
  from gru_common import job_configs  # pylint: disable=g-import-not-at-top
  if job == "legacy":
    if threads is not None:
      raise ValueError("`threads` applies to the tf2 job only; the legacy "
                       "job runs its own Session's.")
    threads = job_configs.ADDITION_THREADS
    from legacy import addition_job  # pylint: disable=g-import-not-at-top
  else:
    if threads is None:
      threads = job_configs.ADDITION_THREADS
    from tf2 import runtime  # pylint: disable=g-import-not-at-top
    runtime.set_threads(threads)
    from tf2 import addition_job  # pylint: disable=g-import-not-at-top
  config = (job_configs.AdditionConfig if job == "legacy" else
            addition_job.Config)(epochs=epochs)
  result = addition_job.train(config, log=lambda _: None)
  return {"job": job, "epochs": epochs, "threads": threads,
          "wall_time_s": result.wall_time_s,
          "answer": int(result.prediction)}


def run_job_in_new_process(job, epochs):
  """`run_job` in a fresh Python process; returns its JSON result."""
  _check_job(job)
  root = os.path.dirname(os.path.dirname(os.path.dirname(
      os.path.abspath(__file__))))
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3",
             PYTHONPATH=os.pathsep.join(
                 p for p in (root, os.environ.get("PYTHONPATH")) if p))
  done = subprocess.run(
      [sys.executable, "-m", "proof.benchmarks.full_job", job, str(epochs)],
      capture_output=True, text=True, env=env, check=False)
  if done.returncode != 0:
    raise RuntimeError(f"the {job} job's process exited with "
                       f"{done.returncode}:\n{done.stderr[-4000:]}")
  return json.loads(done.stdout.strip().splitlines()[-1])


def _parse(argv):
  """(job, epochs, threads or None) from the command line; None if malformed.

  THREADS is the TF2 job's only (`run_job`).
  """
  args = argv[1:]
  most = 3 if args[:1] == ["tf2"] else 2
  if (not 2 <= len(args) <= most or args[0] not in JOBS or
      not all(a.isdigit() for a in args[1:])):
    return None
  numbers = [int(a) for a in args[1:]] + [None]
  return args[0], numbers[0], numbers[1]


def main(argv):
  parsed = _parse(argv)
  if parsed is None:
    sys.stderr.write(
        "usage: python -m proof.benchmarks.full_job legacy EPOCHS\n"
        "       python -m proof.benchmarks.full_job tf2 EPOCHS [THREADS]\n")
    return 2
  from gru_common import tensorflow_startup  # pylint: disable=g-import-not-at-top
  tensorflow_startup.import_tensorflow_quietly()
  print(json.dumps(run_job(*parsed)))
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv))
