"""Per-row sequence lengths: one check, shared by the legacy ports and the
TF2 layers (TensorFlow, no Keras).

What is known when the check runs (dtypes, static shapes, constant
lengths) raises a ValueError then; what is known only when a graph or
traced function runs is checked by `tf.debugging` assertions that the
returned tensor depends on, so the run-time error names the argument too.
The assertions add no arithmetic.
"""

import tensorflow as tf


def check(lengths, sequences, name="sequence_lengths",
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
