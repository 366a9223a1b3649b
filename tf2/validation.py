"""Argument checks of the TF2 layers: errors that name the argument
(sequence lengths: `gru_common/sequence_lengths.py`, shared with the legacy
ports).

What is known when a layer is called (dtypes, static shapes) is checked
then, with a ValueError. What is known only when a
traced function runs (an unknown time axis or batch) is checked by
`tf.debugging` assertions that the returned tensor depends on, so the
run-time error names the argument too. The assertions add no arithmetic:
the values stay bitwise what they were. (XLA compiles assertions to
nothing; under `jit_compile=True` only the static checks apply.)
"""

import tensorflow as tf


def check_float_dtype(layer):
  """Refuses a layer whose dtype policy is not floating point."""
  policy = layer.dtype_policy
  for dtype in (policy.compute_dtype, policy.variable_dtype):
    if not tf.as_dtype(dtype).is_floating:
      raise ValueError(
          f"`dtype` must be a floating-point dtype for "
          f"{type(layer).__name__} (float16, bfloat16, float32 or float64), "
          f"got {policy.name!r}.")


def check_time_steps(owner, sequences):
  """`sequences` [batch, time, features], guarded to have time >= 1."""
  time = sequences.shape[1]
  message = (f"{owner} needs at least one time step, got `sequences` with a "
             "time axis of 0")
  if time == 0:
    raise ValueError(f"{message} (shape {sequences.shape}).")
  if time is not None:
    return sequences
  with tf.control_dependencies([tf.debugging.assert_positive(
      tf.shape(sequences)[1], message=message)]):
    return tf.identity(sequences)
