"""Reproducing the legacy GRUs' padding semantics exactly.

The legacy tutorial GRU never masks: `sequence_length` only decides how each
row is reversed (`tf.reverse_sequence`), and the loop then runs over every
time step, padding included. The TF2 layers, given a mask, do what Keras
users expect instead: the state is carried through padded steps and padded
outputs repeat the last valid output (zeros inside `Bidirectional`).

On valid positions the exact mode (`mode="exact"`, written E below) agrees
bitwise; on padded positions the two differ. To get the legacy result
everywhere, valid and padded positions alike, run the TF2 layers *without*
a mask and reverse as the legacy graph does (E = return_sequences=True,
mode="exact"):

    legacy                                  TF2, exact at every position
    GRU(x, d, u).output()                   LoopGRU(u, E)(x)
    GRU(x, d, u, lengths).output()          the same (lengths are ignored)
    GRU(x, d, u, lengths, revers=True)      LoopGRU(u, E)(ReverseSequence()(
                                                x, sequence_lengths=lengths))
    BiGRU(x, d, u, lengths).output()        LegacyBidirectional(LoopGRU(u,
                                                E))(x, sequence_lengths=lengths)

and with Keras masking, exact at valid positions only:

    BiGRU(x, d, u, lengths)   Bidirectional(LoopGRU(u, E))(
                                  x, mask=tf.sequence_mask(lengths, T))

Without lengths, `keras.layers.Bidirectional` and `LegacyBidirectional` are
both bitwise equal to the legacy BiGRU. In the default fast mode each of
these agrees within `tolerances.FAST_PATH` where the exact mode is bitwise.
"""

import keras
import tensorflow as tf

from gru_common import sequence_lengths as lengths_lib


def reverse_sequence(inputs, sequence_lengths=None):
  """Reverses each row's first `sequence_lengths[i]` steps (all if None)."""
  inputs = tf.convert_to_tensor(inputs)
  if sequence_lengths is None:
    return tf.reverse(inputs, axis=[1])
  lengths = lengths_lib.check(sequence_lengths, inputs)
  return tf.reverse_sequence(inputs, lengths, seq_axis=1, batch_axis=0)


@keras.saving.register_keras_serializable(package="tf1_gru_migration")
class ReverseSequence(keras.layers.Layer):
  """`tf.reverse_sequence` along time as a layer (full reverse without
  lengths): the legacy GRU's `revers=True` preprocessing.

  It only reorders values, so it never casts them (`autocast=False`): a
  float64 sequence stays float64 whatever the layer's dtype policy.

  Example:

  >>> import numpy as np
  >>> x = np.arange(4, dtype=np.float32).reshape(1, 4, 1)
  >>> ReverseSequence()(x, sequence_lengths=[3])[0, :, 0].numpy()
  array([2., 1., 0., 3.], dtype=float32)
  """

  def __init__(self, **kwargs):
    kwargs.setdefault("autocast", False)
    super().__init__(**kwargs)

  def call(self, inputs, sequence_lengths=None):
    if keras.backend.backend() == "tensorflow":
      return reverse_sequence(inputs, sequence_lengths)
    return reverse_sequence_ops(inputs, sequence_lengths)

  def compute_output_shape(self, input_shape):
    return input_shape


def reverse_sequence_ops(inputs, sequence_lengths=None):
  """`reverse_sequence` in keras.ops, for Keras's other backends: each
  row's first `sequence_lengths[i]` steps gathered in reverse order (a
  gather only moves values, so the result is the same bits). Lengths are
  clipped to [0, time]; TensorFlow's op rejects those outside."""
  ops = keras.ops
  if sequence_lengths is None:
    return ops.flip(inputs, axis=1)
  steps = ops.arange(ops.shape(inputs)[1], dtype="int32")[None, :]
  lengths = ops.clip(ops.cast(sequence_lengths, "int32"), 0,
                     ops.shape(inputs)[1])[:, None]
  index = ops.where(steps < lengths, lengths - 1 - steps, steps)
  for _ in range(len(inputs.shape) - 2):
    index = ops.expand_dims(index, -1)
  index = index + ops.zeros_like(inputs, dtype="int32")
  return ops.take_along_axis(inputs, index, axis=1)


@keras.saving.register_keras_serializable(package="tf1_gru_migration")
class LegacyBidirectional(keras.layers.Layer):
  """The legacy BiGRU, padding semantics included.

  A forward copy of `layer` reads the inputs; a backward copy reads them
  reversed within each row's length and its outputs are reversed back the
  same way; the two are concatenated on the feature axis. Nothing is masked,
  exactly like the legacy `loop_gru.BiGRU`.

  Args:
    layer: a `LoopGRU` or `ScanGRU` with `return_sequences=True` and
      `go_backwards=False`; the forward and backward layers are built from
      its config (it is not used itself, as in `keras.layers.Bidirectional`).
    **kwargs: passed to `keras.layers.Layer`.

  Example:

  >>> import numpy as np
  >>> from tf2 import loop_gru
  >>> bigru = LegacyBidirectional(loop_gru.LoopGRU(4, return_sequences=True))
  >>> x = np.zeros((2, 5, 3), np.float32)
  >>> tuple(bigru(x, sequence_lengths=[5, 2]).shape)
  (2, 5, 8)
  """

  def __init__(self, layer, **kwargs):
    # Keras casts a layer's inputs to its own dtype: take the wrapped
    # layer's, or float64 inputs would be rounded to float32 on the way in.
    kwargs.setdefault("dtype", getattr(layer, "dtype_policy", None))
    super().__init__(**kwargs)
    if not getattr(layer, "return_sequences", False) or getattr(
        layer, "go_backwards", True):
      raise ValueError(
          "`layer` must be a recurrent layer with return_sequences=True and "
          f"go_backwards=False, got {layer!r}.")
    self.layer = layer
    self.forward_layer = self._copy(layer, "forward")
    self.backward_layer = self._copy(layer, "backward")

  @staticmethod
  def _copy(layer, direction):
    config = keras.saving.serialize_keras_object(layer)
    config["config"]["name"] = f"{direction}_{layer.name}"
    return keras.saving.deserialize_keras_object(config)

  def build(self, input_shape):
    self.forward_layer.build(input_shape)
    self.backward_layer.build(input_shape)

  def call(self, inputs, sequence_lengths=None):
    inputs = tf.convert_to_tensor(inputs)
    forward = self.forward_layer(inputs)
    backward = self.backward_layer(reverse_sequence(inputs, sequence_lengths))
    return tf.concat([forward, reverse_sequence(backward, sequence_lengths)],
                     axis=2)

  def compute_output_shape(self, input_shape):
    return tuple(input_shape[:-1]) + (2 * self.layer.units,)

  def get_config(self):
    config = super().get_config()
    config["layer"] = keras.saving.serialize_keras_object(self.layer)
    return config

  @classmethod
  def from_config(cls, config, custom_objects=None):
    config = dict(config)
    config["layer"] = keras.saving.deserialize_keras_object(
        config["layer"], custom_objects=custom_objects)
    return cls(**config)
