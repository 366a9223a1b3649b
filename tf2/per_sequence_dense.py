"""The addition job's output layer: a Dense applied one sequence at a time.

The legacy job computes its output as

    output = tf.map_fn(lambda h_t: tf.matmul(h_t, W_output) + b_output, h)

one sequence at a time. `keras.layers.Dense` gives the same values on
[batch, time, features], but its weight gradients are one matmul over all
sequences, which sums in a different order (about 1e-16 apart). To keep a
TF2 training step bitwise equal to the legacy one, `PerSequenceDense` maps
over the batch like the legacy graph does. The stock-Keras conversion in
`migration/` uses `keras.layers.Dense`, whose outputs are the same.

    weight  shape             legacy variable          default initializer
    kernel  [features, units]  Variable (W_output)      TruncatedNormal(0, 0.01)
    bias    [units]            Variable_1 (b_output)    TruncatedNormal(0, 0.01)
"""

import keras
import tensorflow as tf

from gru_common import checks
from tf2 import validation
from tf2 import _tracing


@keras.saving.register_keras_serializable(package="tf1_gru_migration")
class PerSequenceDense(keras.layers.Layer):
  """`Dense(units)` over [batch, time, features], one sequence at a time.

  Args:
    units: output size per time step, an int >= 1.
    kernel_initializer: default TruncatedNormal(0, 0.01), the legacy one.
    bias_initializer: default TruncatedNormal(0, 0.01), the legacy one.
    **kwargs: passed to `keras.layers.Layer` (name, dtype, ...).

  Called eagerly, the loop over sequences still runs as a traced
  `tf.function`, also under `tf.config.run_functions_eagerly(True)` (see
  `tf2/_tracing.py`): that keeps eager gradients bitwise equal to the
  legacy `map_fn`'s.

  Example:

  >>> import numpy as np
  >>> head = PerSequenceDense(1, dtype="float64")
  >>> tuple(head(np.zeros((2, 5, 4))).shape)
  (2, 5, 1)
  """

  def __init__(self, units, kernel_initializer=None, bias_initializer=None,
               **kwargs):
    units = checks.integer("units", units)
    super().__init__(**kwargs)
    validation.check_float_dtype(self)
    self.units = int(units)
    self.kernel_initializer = keras.initializers.get(
        kernel_initializer or keras.initializers.TruncatedNormal(0.0, 0.01))
    self.bias_initializer = keras.initializers.get(
        bias_initializer or keras.initializers.TruncatedNormal(0.0, 0.01))

  def build(self, input_shape):
    if len(input_shape) != 3 or input_shape[-1] is None:
      raise ValueError(
          "PerSequenceDense expects inputs [batch, time, features] with a "
          f"known feature size, got shape {tuple(input_shape)}.")
    self.kernel = self.add_weight(name="kernel",
                                  shape=(input_shape[-1], self.units),
                                  initializer=self.kernel_initializer)
    self.bias = self.add_weight(name="bias", shape=(self.units,),
                                initializer=self.bias_initializer)

  def call(self, inputs):
    inputs = tf.convert_to_tensor(inputs)
    if inputs.shape.rank != 3 or inputs.shape[-1] != self.kernel.shape[0]:
      raise ValueError(
          f"PerSequenceDense was built for inputs [batch, time, "
          f"{self.kernel.shape[0]}], got shape {inputs.shape}.")
    return _tracing.call_traced(self, self._map, inputs)

  def _map(self, inputs):
    return tf.map_fn(lambda h_t: tf.matmul(h_t, self.kernel) + self.bias,
                     inputs)

  def compute_output_shape(self, input_shape):
    return tuple(input_shape[:-1]) + (self.units,)

  def get_config(self):
    config = super().get_config()
    config.update(
        units=self.units,
        kernel_initializer=keras.initializers.serialize(
            self.kernel_initializer),
        bias_initializer=keras.initializers.serialize(self.bias_initializer))
    return config
