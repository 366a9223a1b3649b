"""Argument checks shared by the legacy GRUs: clear errors, raised early."""

import tensorflow as tf

from gru_common import sequence_lengths as lengths_lib


def require_graph_mode(what):
  """Raises a clear error when TF1-style code is built eagerly."""
  if tf.executing_eagerly():
    raise RuntimeError(
        f"{what} builds a TF1 graph (placeholders, Session); build it inside "
        "`with tf.Graph().as_default():`. Eager execution stays enabled "
        "everywhere else in the process.")


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
  """Checks per-row lengths: a [batch] integer vector with values in [0, T]
  (`gru_common.sequence_lengths.check`, under the ports' names)."""
  return lengths_lib.check(sequence_length, inputs, name,
                                           sequences_name="inputs")
