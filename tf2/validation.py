"""Argument checks of the TF2 layers (and the legacy ports' sequence
lengths): errors that name the argument.

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


def check_sequence_lengths(lengths, sequences, name="sequence_lengths",
                           sequences_name="sequences"):
  """`lengths` as an integer [batch] tensor with values in [0, time].

  Args:
    lengths: per-row lengths (a list, array or tensor).
    sequences: the [batch, time, features] tensor they describe.
    name: the lengths' argument name, for errors.
    sequences_name: the sequences' argument name, for errors.

  Returns:
    The lengths, guarded by run-time assertions where the checks need
    values or sizes known only then (under `tf.function`, or fed to a TF1
    placeholder).
  """
  try:
    lengths = tf.convert_to_tensor(lengths)
  except (TypeError, ValueError) as e:
    raise ValueError(f"`{name}` must be a [batch] vector of integers, got "
                     f"{lengths!r}.") from e
  if not lengths.dtype.is_integer:
    raise ValueError(f"`{name}` must hold integers, got dtype "
                     f"{lengths.dtype.name}.")
  batch = sequences.shape[0] if sequences.shape.rank is not None else None
  time = sequences.shape[1] if sequences.shape.rank is not None else None
  if (lengths.shape.rank is not None and lengths.shape.rank != 1) or (
      lengths.shape.rank == 1 and batch is not None
      and lengths.shape[0] not in (None, batch)):
    raise ValueError(f"`{name}` must be a [batch] vector, one length per row "
                     f"of `{sequences_name}` ({batch}), got shape "
                     f"{lengths.shape}.")
  static = tf.get_static_value(lengths)
  if static is not None and static.size:
    low, high = int(static.min()), int(static.max())
    if low < 0 or (time is not None and high > time):
      raise ValueError(f"`{name}` must lie in [0, {time}] (the time axis of "
                       f"`{sequences_name}`), got {static.tolist()}.")
  if (static is not None and time is not None and batch is not None
      and lengths.shape.rank == 1):
    return lengths
  checks = [
      tf.debugging.assert_rank(lengths, 1,
                               message=f"`{name}` must be a [batch] vector"),
      tf.debugging.assert_equal(
          tf.shape(lengths)[0], tf.shape(sequences)[0],
          message=f"`{name}` must have one length per row of "
          f"`{sequences_name}`"),
      tf.debugging.assert_non_negative(
          lengths, message=f"`{name}` must be >= 0"),
      tf.debugging.assert_less_equal(
          lengths, tf.shape(sequences, out_type=lengths.dtype)[1],
          message=f"`{name}` must be <= the time axis of `{sequences_name}`"),
  ]
  with tf.control_dependencies(checks):
    return tf.identity(lengths)
