"""Running a layer's loop as a traced graph function, also when called eagerly.

An eager `tf.while_loop` or `tf.map_fn` runs as a Python loop, and a
GradientTape then sums the per-step gradients of a weight in a different
order than the graph gradient of the legacy loop (results differ by ~1e-16).
Traced, the loop and its gradient are the same graph as the legacy one, so
the layers stay bitwise equal to it in eager mode too, and eager calls get
faster as well.
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
  return traced(*args)
