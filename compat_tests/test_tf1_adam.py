"""TF1Adam against tf.compat.v1.train.AdamOptimizer itself: bit for bit."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from gru_common import compare
from tf2 import optimizers

_v1 = tf.compat.v1


def legacy_adam(initial, grads_per_step, **kwargs):
  """Variables after AdamOptimizer applied each step's gradients."""
  graph = tf.Graph()
  with graph.as_default():
    variables = [_v1.Variable(v) for v in initial]
    placeholders = [_v1.placeholder(v.dtype, v.shape) for v in initial]
    optimizer = _v1.train.AdamOptimizer(**kwargs)
    train = optimizer.apply_gradients(zip(placeholders, variables))
    with _v1.Session() as session:
      session.run(_v1.global_variables_initializer())
      for grads in grads_per_step:
        session.run(train, dict(zip(placeholders, grads)))
      powers = session.run(optimizer._get_beta_accumulators())  # pylint: disable=protected-access
      return session.run(variables), powers


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kwargs", [
    {}, dict(learning_rate=0.01, beta1=0.8, beta2=0.99, epsilon=1e-6)])
def test_tf1_adam_matches_adam_optimizer_bitwise(dtype, kwargs):
  rng = np.random.RandomState(0)
  initial = [rng.normal(size=(3, 4)).astype(dtype),
             rng.normal(size=(4,)).astype(dtype)]
  steps = [[rng.normal(size=v.shape).astype(dtype) for v in initial]
           for _ in range(25)]
  expected, expected_powers = legacy_adam(initial, steps, **kwargs)

  keras_kwargs = {"learning_rate": kwargs.get("learning_rate", 0.001),
                  "beta_1": kwargs.get("beta1", 0.9),
                  "beta_2": kwargs.get("beta2", 0.999),
                  "epsilon": kwargs.get("epsilon", 1e-8)}
  variables = [keras.Variable(v) for v in initial]
  optimizer = optimizers.TF1Adam(**keras_kwargs)
  apply = tf.function(lambda grads: optimizer.apply(grads, variables))
  for grads in steps:
    apply([tf.constant(g) for g in grads])
  for v, e in zip(variables, expected):
    assert compare.bitwise_equal(v.numpy(), e)
  assert optimizer.beta1_power.numpy() == expected_powers[0]
  assert optimizer.beta2_power.numpy() == expected_powers[1]
  assert optimizer.beta1_power.dtype == "float32"
  assert int(optimizer.iterations.numpy()) == 25


def test_stock_keras_adam_is_not_bitwise_tf1():
  # Why TF1Adam exists: same hyperparameters, different bits.
  rng = np.random.RandomState(1)
  initial = [rng.normal(size=(5,))]
  steps = [[rng.normal(size=(5,))] for _ in range(10)]
  expected, _ = legacy_adam(initial, steps)
  v = keras.Variable(initial[0])
  adam = optimizers.keras_adam_like_tf1()
  for (g,) in steps:
    adam.apply([tf.constant(g)], [v])
  c = compare.compare(v.numpy(), expected[0])
  # TF1 rounds the betas to float32 (1 - beta1 = 0.10000002384...), Keras
  # keeps float64 0.1: a relative 2.4e-7 in every moment update, 2.3e-8 in
  # the weights after these 10 steps. Close, not equal.
  assert not c.bitwise and c.max_abs < 1e-6


@pytest.mark.parametrize("kwargs, match", [
    (dict(clipnorm=1.0), "clipnorm"), (dict(weight_decay=0.1), "weight_decay"),
    (dict(beta_1=1.0), "beta_1"), (dict(epsilon=-1.0), "epsilon")])
def test_tf1_adam_rejects_what_tf1_adam_does_not_have(kwargs, match):
  with pytest.raises(ValueError, match=match):
    optimizers.TF1Adam(**kwargs)
