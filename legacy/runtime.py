"""How legacy graphs are built and run: TF1's control flow, lean sessions.

TensorFlow 2.21 builds `tf.while_loop`, `tf.scan`, `tf.map_fn` and
`tf.TensorArray` in a TF1 graph as functional "control flow v2" ops unless
told otherwise. The sources were written for TF1's own control flow (Enter /
Exit / Switch / Merge frames, stack-based gradients), which is also what makes
the legacy jobs fast enough: a training step of the addition job executes
about 8,500 ops (mostly `map_fn`'s 100 iterations, forward and backward),
which the TF1 loops with a single-threaded session run faster than v2 loops
with the default thread pools. Both build the same
arithmetic: outputs and gradients are bitwise identical either way (the
equivalence tests check legacy against TF2 through this path).

`tf1_control_flow()` switches TF1 control flow on while a legacy graph is
built and restores the previous setting afterwards. Wrap the *whole* graph in
it, model, loss and optimizer together: the gradient of a loop must be built
with the control flow the loop was built with (TensorFlow fails with an
AssertionError in the TensorArray gradient otherwise). That is why the GRU
classes do not switch it themselves: a user who builds a GRU into their own
graph and adds their own loss gets TensorFlow 2.21's default (v2) throughout.

The setting is read only when a loop is built into a TF1 graph:
`tf.function` graphs and eager code in the same process always use v2 control
flow, whatever it says.
"""

import contextlib
import functools
import threading

import tensorflow as tf

_v1 = tf.compat.v1
_lock = threading.RLock()


@contextlib.contextmanager
def tf1_control_flow():
  """Builds loops in the enclosed block with TF1's control flow."""
  with _lock:
    was_v2 = _v1.control_flow_v2_enabled()
    _v1.disable_control_flow_v2()
    try:
      yield
    finally:
      if was_v2:
        _v1.enable_control_flow_v2()


def session_config(threads=1):
  """A ConfigProto with `threads` inter- and intra-op threads.

  One of each measured fastest for the addition job on 2 cores: its ops are
  tiny, so handing them between threads costs more than it saves.
  """
  return _v1.ConfigProto(inter_op_parallelism_threads=threads,
                         intra_op_parallelism_threads=threads)


def with_tf1_control_flow(fn):
  """Decorates a graph-building function to run under `tf1_control_flow()`."""

  @functools.wraps(fn)
  def wrapper(*args, **kwargs):
    with tf1_control_flow():
      return fn(*args, **kwargs)

  return wrapper
