"""Layers of whole TF1 programs converted to Keras (`migration.tf1_program`)
where no stock Keras layer computes what the program's graph does.

  Weight: a TF1 variable that the program uses in its own math (a scale
    factor, a bias added outside a dense layer), as a trainable weight.

Written in `keras.ops` only: they run on every backend and load in
safe_mode once this module is imported.
"""

import keras


@keras.saving.register_keras_serializable(package="tf1_gru_migration")
class Weight(keras.layers.Layer):
  """A trainable weight of a fixed shape, returned as the layer's output.

  The layer is called on any tensor of the model (which it does not read)
  so that the functional model places it; its output has the weight's own
  shape, without a batch axis, and broadcasts like the TF1 variable it
  holds.

  Example:

  >>> import numpy as np
  >>> w = Weight((2,), dtype="float32")
  >>> w.build(None); w.weight.assign([1.0, 2.0])
  >>> np.asarray(w(np.zeros((3, 2), np.float32))).tolist()
  [1.0, 2.0]
  """

  def __init__(self, shape, **kwargs):
    super().__init__(**kwargs)
    self.shape = tuple(int(d) for d in shape)

  def build(self, input_shape=None):
    self.weight = self.add_weight(shape=self.shape, initializer="zeros",
                                  name="weight", dtype=self.dtype)

  def call(self, inputs):
    del inputs
    return keras.ops.convert_to_tensor(self.weight)

  def compute_output_shape(self, input_shape):
    return self.shape

  def get_config(self):
    return {**super().get_config(), "shape": list(self.shape)}
