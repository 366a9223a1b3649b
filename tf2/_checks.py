"""Argument checks shared by the TF2 layers: errors that name the argument.

What is known when a layer is called (dtypes, static shapes, constant
lengths) is checked then, with a ValueError. What is known only when a
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


def check_sequence_lengths(lengths, sequences):
  """`lengths` as an integer [batch] tensor with values in [0, time].

  Args:
    lengths: the `sequence_lengths` argument.
    sequences: the [batch, time, features] tensor they describe.

  Returns:
    The lengths, guarded by run-time assertions where the checks need
    values or sizes known only then.
  """
  lengths = tf.convert_to_tensor(lengths)
  if not lengths.dtype.is_integer:
    raise ValueError(f"`sequence_lengths` must hold integers, got dtype "
                     f"{lengths.dtype.name}.")
  if lengths.shape.rank != 1 or not lengths.shape.is_compatible_with(
      sequences.shape[:1]):
    raise ValueError(f"`sequence_lengths` must be a [batch] vector "
                     f"({sequences.shape[0]}), got shape {lengths.shape}.")
  static = tf.get_static_value(lengths)
  if static is not None and sequences.shape[1] is not None:
    if static.size and (static.min() < 0 or
                        static.max() > sequences.shape[1]):
      raise ValueError(f"`sequence_lengths` must lie in [0, "
                       f"{sequences.shape[1]}], got {static.tolist()}.")
    if lengths.shape[0] is not None and sequences.shape[0] is not None:
      return lengths
  checks = [
      tf.debugging.assert_equal(
          tf.shape(lengths)[0], tf.shape(sequences)[0],
          message="`sequence_lengths` must have one length per row of "
          "`sequences`"),
      tf.debugging.assert_non_negative(
          lengths, message="`sequence_lengths` must be >= 0"),
      tf.debugging.assert_less_equal(
          lengths, tf.shape(sequences, out_type=lengths.dtype)[1],
          message="`sequence_lengths` must be <= the time axis"),
  ]
  with tf.control_dependencies(checks):
    return tf.identity(lengths)
