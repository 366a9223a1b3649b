"""Running a layer's loop as a traced graph function, also when called eagerly.

An eager `tf.while_loop` or `tf.map_fn` runs as a Python loop, and a
GradientTape then sums the per-step gradients of a weight in a different
order than the graph gradient of the legacy loop (float64 gradients differ
by ~1e-16, float32 ones by ~1e-6). Traced, the loop and its gradient are the
same graph as the legacy one, so the layers stay bitwise equal to it in
eager mode too.

`tf.config.run_functions_eagerly(True)` (a debugging switch) would run that
function op by op as well, and the gradients would drift silently. So the
layers' own loop is traced even then: the switch is turned off for the
duration of the call and restored after it; the caller's own functions
still run eagerly. `compat_tests/test_tf2_layers.py` pins this.
"""

import tensorflow as tf


def call_traced(owner, fn, *args):
  """Calls `fn(*args)`; when executing eagerly, as a cached `tf.function`.

  Args:
    owner: the layer; the traced function is cached on it, outside Keras's
      attribute tracking (it is neither state nor something to export).
    fn: the function to call (a method of `owner`).
    *args: tensors.

  Returns:
    What `fn` returns.
  """
  if not tf.executing_eagerly():
    return fn(*args)
  cache = owner.__dict__.setdefault("_traced_functions", {})
  traced = cache.get(fn.__name__)
  if traced is None:
    traced = tf.function(fn, reduce_retracing=True, autograph=False)
    cache[fn.__name__] = traced
  if not tf.config.functions_run_eagerly():
    return traced(*args)
  tf.config.run_functions_eagerly(False)
  try:
    return traced(*args)
  finally:
    tf.config.run_functions_eagerly(True)
