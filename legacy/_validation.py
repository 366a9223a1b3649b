"""Argument checks shared by the legacy GRUs: clear errors, raised early."""

import numbers

import tensorflow as tf


def require_graph_mode(what):
  """Raises a clear error when TF1-style code is built eagerly."""
  if tf.executing_eagerly():
    raise RuntimeError(
        f"{what} builds a TF1 graph (placeholders, Session); build it inside "
        "`with tf.Graph().as_default():`. Eager execution stays enabled "
        "everywhere else in the process.")


def check_positive_int(name, value):
  """Validates a size argument; returns it as an int."""
  if (isinstance(value, bool) or not isinstance(value, numbers.Integral)
      or value < 1):
    raise ValueError(
        f"`{name}` must be an integer >= 1, got {value!r}.")
  return int(value)


def check_float_dtype(name, dtype):
  """Validates a dtype argument; returns it as a tf.DType."""
  try:
    dtype = tf.as_dtype(dtype)
  except TypeError as e:
    raise ValueError(f"`{name}` must be a floating-point dtype, got "
                     f"{dtype!r}.") from e
  if not dtype.is_floating:
    raise ValueError(
        f"`{name}` must be a floating-point dtype, got {dtype.name}.")
  return dtype


def check_sequences(name, inputs, feature_size):
  """Checks a [batch, time, feature_size] float tensor.

  Statically known facts are checked now; the rest at run time by assertions
  that the returned tensor depends on.

  Args:
    name: the argument's name, for error messages.
    inputs: a tensor (or something convertible to one).
    feature_size: the expected size of the last axis.

  Returns:
    `inputs` as a tensor, guarded by run-time checks where needed.
  """
  inputs = tf.convert_to_tensor(inputs, name=name)
  if not inputs.dtype.is_floating:
    raise ValueError(f"`{name}` must be a floating-point tensor, got "
                     f"dtype {inputs.dtype.name}.")
  rank = inputs.shape.rank
  if rank is not None and rank != 3:
    raise ValueError(f"`{name}` must have rank 3 [batch, time, features], "
                     f"got shape {inputs.shape}.")
  last = inputs.shape[-1] if rank is not None else None
  if last is not None and last != feature_size:
    raise ValueError(f"`{name}` must have {feature_size} features (its last "
                     f"axis), got shape {inputs.shape}.")
  time = inputs.shape[1] if rank is not None else None
  if time == 0:
    raise ValueError(f"`{name}` must have at least one time step, got shape "
                     f"{inputs.shape}.")
  checks = []
  if rank is None:
    checks.append(tf.debugging.assert_rank(
        inputs, 3, message=f"`{name}` must have rank 3 [batch, time, "
        "features]"))
  if last is None:
    checks.append(tf.debugging.assert_equal(
        tf.shape(inputs)[-1], feature_size,
        message=f"`{name}` must have {feature_size} features (its last axis)"))
  if time is None:
    checks.append(check_time_steps(name, inputs))
  if checks:
    with tf.control_dependencies(checks):
      inputs = tf.identity(inputs)
  return inputs


def check_time_steps(name, inputs):
  """A run-time assertion that `inputs` [batch, time, ...] has time >= 1."""
  return tf.debugging.assert_positive(
      tf.shape(inputs)[1],
      message=f"`{name}` must have at least one time step")


def check_sequence_length(name, sequence_length, inputs):
  """Checks per-row lengths: a [batch] integer vector with values in [0, T].

  Args:
    name: the argument's name, for error messages.
    sequence_length: the lengths (a list, array or tensor).
    inputs: the checked [batch, time, features] tensor they describe.

  Returns:
    `sequence_length` as a tensor, guarded by run-time checks where needed.
  """
  try:
    lengths = tf.convert_to_tensor(sequence_length, name=name)
  except (TypeError, ValueError) as e:
    raise ValueError(f"`{name}` must be a [batch] vector of integers, got "
                     f"{sequence_length!r}.") from e
  if not lengths.dtype.is_integer:
    raise ValueError(f"`{name}` must hold integers (int32 or int64), got "
                     f"dtype {lengths.dtype.name}.")
  if lengths.shape.rank is not None and lengths.shape.rank != 1:
    raise ValueError(f"`{name}` must be a [batch] vector, got shape "
                     f"{lengths.shape}.")
  batch = inputs.shape[0] if inputs.shape.rank is not None else None
  if (batch is not None and lengths.shape.rank == 1
      and lengths.shape[0] is not None and lengths.shape[0] != batch):
    raise ValueError(f"`{name}` must have one length per row ({batch}), got "
                     f"shape {lengths.shape}.")
  time = inputs.shape[1] if inputs.shape.rank is not None else None
  static = tf.get_static_value(lengths)
  if static is not None and static.size:
    low, high = int(static.min()), int(static.max())
    if low < 0 or (time is not None and high > time):
      raise ValueError(f"`{name}` values must lie in [0, {time}] (the time "
                       f"axis of the inputs), got {static.tolist()}.")
  checks = [
      tf.debugging.assert_rank(lengths, 1,
                               message=f"`{name}` must be a [batch] vector"),
      tf.debugging.assert_equal(
          tf.shape(lengths)[0], tf.shape(inputs)[0],
          message=f"`{name}` must have one length per row of the inputs"),
      tf.debugging.assert_non_negative(
          lengths, message=f"`{name}` values must be >= 0"),
      tf.debugging.assert_less_equal(
          lengths, tf.cast(tf.shape(inputs)[1], lengths.dtype),
          message=f"`{name}` values must be <= the time axis of the inputs"),
  ]
  with tf.control_dependencies(checks):
    return tf.identity(lengths)
