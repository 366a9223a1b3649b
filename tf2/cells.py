"""What the two GRU cells share: config, weight creation, the Keras cell API.

A subclass creates its weights in `build` (through `_kernel`, `_recurrent`
and `_bias`) and implements `step`, one step in the legacy order of
operations; `call` (the single-step API of `keras.layers.RNN`) runs it.
"""

import keras
import tensorflow as tf

from gru_common import checks
from tf2 import validation


class GRUCellBase(keras.layers.Layer):
  """A GRU cell with one state of size `units`."""

  def __init__(self, units, kernel_initializer, recurrent_initializer,
               bias_initializer, **kwargs):
    units = checks.integer("units", units)
    super().__init__(**kwargs)
    validation.check_float_dtype(self)
    self.units = int(units)
    self.kernel_initializer = keras.initializers.get(kernel_initializer)
    self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
    self.bias_initializer = keras.initializers.get(bias_initializer)
    self.state_size = self.units
    self.output_size = self.units
    self.input_dim = None

  def _input_dim_from(self, input_shape):
    input_dim = input_shape[-1]
    if input_dim is None:
      raise ValueError(f"{type(self).__name__} needs a known feature size "
                       f"(last axis), got input shape {input_shape}.")
    self.input_dim = int(input_dim)
    return self.input_dim

  def _kernel(self, name, shape):
    return self.add_weight(name=name, shape=shape,
                           initializer=self.kernel_initializer)

  def _recurrent(self, name, shape):
    return self.add_weight(name=name, shape=shape,
                           initializer=self.recurrent_initializer)

  def _bias(self, name, shape):
    return self.add_weight(name=name, shape=shape,
                           initializer=self.bias_initializer)

  def call(self, inputs, states, training=False):
    del training  # No dropout.
    h_tm1 = states[0] if isinstance(states, (list, tuple)) else states
    h = self.step(inputs, h_tm1)
    return h, [h]

  def step(self, x_t, h_tm1):
    raise NotImplementedError

  def get_initial_state(self, batch_size=None):
    return [tf.zeros([batch_size, self.units], dtype=self.compute_dtype)]

  def get_config_for_layer(self):
    """The cell's arguments, as its layer's config carries them."""
    return {
        "units": self.units,
        "kernel_initializer": keras.initializers.serialize(
            self.kernel_initializer),
        "recurrent_initializer": keras.initializers.serialize(
            self.recurrent_initializer),
        "bias_initializer": keras.initializers.serialize(
            self.bias_initializer),
    }

  def get_config(self):
    config = super().get_config()
    config.update(self.get_config_for_layer())
    return config
