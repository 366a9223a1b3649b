"""A functional Keras model whose `predict`, `evaluate` and `fit` compute
in the model's own float dtype.

Keras 3's data adapters cast float arrays to `keras.config.floatx()` and its
metrics are created in floatx (see gru_common/keras_precision.py), so a
float64 model's `predict(x)` sees x rounded to float32 unless floatx is
float64. `ExactModel` runs `compile`, `fit`, `evaluate` and `predict` with
floatx set to its inputs' dtype: `model.predict(x)` is then bitwise
`model(x)`, and the loss tracker and metrics are float64. Keras restores a
saved model's compiled state only through a model's own `compile`, or a
`compile_from_config` next to an overridden one, so that is here too.
Everything else is `keras.Model`'s.
"""

import functools

import keras

from gru_common import keras_precision


def _in_model_dtype(method):
  @functools.wraps(method)
  def wrapper(self, *args, **kwargs):
    dtype = keras_precision.model_float_dtype(self)
    if dtype is None or dtype == keras.config.floatx():
      return method(self, *args, **kwargs)
    with keras_precision.floatx(dtype):
      return method(self, *args, **kwargs)
  return wrapper


@keras.saving.register_keras_serializable(package="tf1_gru_migration")
class ExactModel(keras.Model):
  """`keras.Model(inputs, outputs)` that keeps float64 data float64 in
  `compile`, `fit`, `evaluate` and `predict`.

  Example:

  >>> import numpy as np
  >>> inputs = keras.Input((3,), dtype="float64")
  >>> model = ExactModel(inputs, keras.layers.Dense(2, dtype="float64")(
  ...     inputs))
  >>> x = np.random.RandomState(0).uniform(size=(5, 3))
  >>> bool((model.predict(x, verbose=0) == np.asarray(model(x))).all())
  True
  """

  compile = _in_model_dtype(keras.Model.compile)
  fit = _in_model_dtype(keras.Model.fit)
  evaluate = _in_model_dtype(keras.Model.evaluate)
  predict = _in_model_dtype(keras.Model.predict)

  def compile_from_config(self, config):
    """What `keras.Model.compile_from_config` does, through this `compile`
    (Keras's own skips a model whose `compile` is overridden)."""
    self.compile(**keras.saving.deserialize_keras_object(config))
    if getattr(self, "optimizer", None) is not None and self.built:
      self.optimizer.build(self.trainable_variables)
