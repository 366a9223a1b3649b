"""The TF2 jobs' process-wide runtime setting: TensorFlow's CPU threads.

TensorFlow sizes its CPU thread pools once per process, when its runtime
starts: the first eager op, `tf.function` call or `Session`. After that they
cannot change. The legacy jobs pick theirs with `legacy.runtime
.session_config`; a TF2 job picks them with `set_threads` before it runs
anything.

The addition job's ops are tiny (16-unit float64 matmuls over 100
sequences), so handing them between threads costs more than it saves: one
intra-op and one inter-op thread ran its full job faster than TensorFlow's
defaults (`python -m proof.benchmarks.full_job tf2 5000 THREADS`; BUILD.md,
Performance). That is why `gru-tf2-addition --threads`
defaults to 1 (`job_configs.ADDITION_THREADS`), as the legacy job's Session
does. Threads change where the job's ops run, not what they compute: the
script's tests check its trained weights, on both paths, bit for bit against
the test process's default threads.
"""

import tensorflow as tf

from gru_common import checks


def set_threads(threads):
  """Gives TensorFlow `threads` intra-op and `threads` inter-op threads.

  Args:
    threads: an integer >= 0; 0 keeps TensorFlow's defaults (sized from the
      machine's cores).

  Raises:
    ValueError: `threads` is not an integer >= 0.
    RuntimeError: TensorFlow's runtime already started in this process with
      other settings (call this before anything runs).
  """
  threads = checks.integer("threads", threads, minimum=0,
                           note="0: TensorFlow's default")
  threading = tf.config.threading
  if (threading.get_intra_op_parallelism_threads() == threads and
      threading.get_inter_op_parallelism_threads() == threads):
    return  # already so (TensorFlow's setters refuse even that once started)
  try:
    threading.set_intra_op_parallelism_threads(threads)
    threading.set_inter_op_parallelism_threads(threads)
  except RuntimeError as error:
    raise RuntimeError(
        f"cannot set `threads` to {threads}: TensorFlow's runtime already "
        f"started in this process with intra-op "
        f"{threading.get_intra_op_parallelism_threads()} and "
        f"inter-op {threading.get_inter_op_parallelism_threads()} "
        f"threads (0: default). Call set_threads before anything runs."
    ) from error
