"""Keras's own predict, evaluate and fit on converted models, against the
legacy graph.

Keras 3 casts float arrays to floatx in these three APIs (gru_common/
keras_precision.py). This project's models (`tf2.ExactModel`) compute in
their own dtype and are bitwise the legacy graph; stock Keras models are
within `tolerances.STOCK_KERAS` with floatx set to the model's dtype, as the
README says, and measurably not without it (float64).
"""

import numpy as np
import pytest
import tensorflow as tf

import keras

from compat_tests import legacy_checkpoints
from gru_common import compare
from gru_common import keras_precision
from gru_common import tolerances
from legacy import runtime
from migration import convert
from migration import exporters
from migration.kinds import seeds
from migration import legacy_graph
from migration import mapping

_v1 = tf.compat.v1
LEARNING_RATE = 0.25   # a power of two: a float32 or float64 rate alike
SPECS = {
    "scan-float64": seeds.model(seeds.SCAN, 5, 3, "float64"),
    "loop-float32": seeds.model(seeds.LOOP, 5, 3, "float32"),
    "loop-float64-bigru": seeds.model(seeds.LOOP, 5, 3, "float64",
                                      bidirectional=True),
    "scan-float64-addition-head": seeds.model(
        seeds.SCAN, 5, 3, "float64", head=seeds.ADDITION,
        head_units=1),
}


def _data(spec, batch=40, time=9, seed=1):
  rng = np.random.RandomState(seed)
  x = rng.uniform(-1, 1, (batch, time, spec.input_dim)).astype(spec.dtype)
  return x, rng


def _bound(target, dtype):
  kind = tolerances.BITWISE if target == mapping.TF2 else (
      tolerances.STOCK_KERAS)
  return kind.for_dtype(dtype)


def _assert_within(got, want, bound):
  result = compare.compare(np.asarray(got), np.asarray(want))
  if bound == 0.0:
    assert result.bitwise, f"not bitwise: max abs {result.max_abs:.3e}"
  else:
    assert result.within(bound), (f"max abs {result.max_abs:.3e} > "
                                  f"{bound:.1e}")


def _converted(state, target, tmp_path):
  """The converted model as a user has it: written and loaded back."""
  path = str(tmp_path / f"{target}.keras")
  model, _ = convert.to_keras(state, target)
  model.save(path)
  return exporters.load_keras_file(path)


def _legacy_output(state, x):
  graph = legacy_graph.build(state.description)
  out = legacy_graph.run(graph, x, values=state.values)
  return out[state.description.output_names()[-1]]


def _user_precision(target, dtype):
  """What a user does: nothing for this project's models; floatx set to
  the model's dtype for stock Keras (README)."""
  if target == mapping.TF2:
    return keras_precision.floatx(keras.config.floatx())
  return keras_precision.floatx(dtype)


@pytest.mark.parametrize("target", mapping.TARGETS)
@pytest.mark.parametrize("name", sorted(SPECS))
def test_predict_matches_legacy_graph(name, target, tmp_path):
  state = legacy_checkpoints.random_state(SPECS[name])
  model = _converted(state, target, tmp_path)
  x, _ = _data(state.description)
  want = _legacy_output(state, x)
  bound = _bound(target, state.description.dtype)
  with _user_precision(target, state.description.dtype):
    for feed in (x, tf.constant(x)):
      _assert_within(model.predict(feed, batch_size=16, verbose=0), want,
                     bound)
  _assert_within(model(x), want, bound)


def test_stock_keras_predict_without_floatx_loses_float64_bits(tmp_path):
  """Why the README's floatx step exists: Keras's data adapter rounds a
  float64 input to float32 before the model sees it. (If a Keras release
  stops doing so, this fails, and the step can go.)"""
  state = legacy_checkpoints.random_state(SPECS["scan-float64"])
  model = _converted(state, mapping.KERAS, tmp_path)
  x, _ = _data(state.description)
  assert keras.config.floatx() == "float32"
  got = compare.compare(model.predict(x, verbose=0), _legacy_output(state, x))
  assert got.max_abs > 1e3 * tolerances.STOCK_KERAS.float64


@pytest.mark.parametrize("target", mapping.TARGETS)
@pytest.mark.parametrize("name", ["scan-float64", "loop-float32",
                                  "scan-float64-addition-head"])
def test_evaluate_matches_loss_of_legacy_outputs(name, target, tmp_path):
  """`evaluate`'s mean squared error is Keras's loss of the legacy graph's
  outputs: bitwise for this project's models (the same outputs, the same
  loss ops); for stock Keras, the output bound carried through the loss
  (|d mse| <= 2 max|out - y| max|d out| ≤ 4 * bound)."""
  state = legacy_checkpoints.random_state(SPECS[name])
  model = _converted(state, target, tmp_path)
  x, rng = _data(state.description)
  want_out = _legacy_output(state, x)
  y = rng.uniform(-1, 1, want_out.shape).astype(state.description.dtype)
  with _user_precision(target, state.description.dtype):
    model.compile(loss="mse")
    got = model.evaluate(x, y, batch_size=len(x), verbose=0)
    want = keras.losses.MeanSquaredError(dtype=state.description.dtype)(
        y, want_out)
  assert np.asarray(got).dtype == np.dtype(float)
  _assert_within(np.float64(got), np.float64(want),
                 4 * _bound(target, state.description.dtype))


def _legacy_sgd_step(state, x, y):
  """One TF1 GradientDescent step on Keras's mean squared error (its ops,
  in its order) in the legacy graph; the variables after it."""
  legacy = legacy_graph.build(state.description)
  dtype = tf.as_dtype(state.description.dtype)
  name = state.description.output_names()[-1]
  with legacy.graph.as_default(), runtime.tf1_control_flow():
    target = _v1.placeholder(dtype, y.shape)
    per_sample = tf.reduce_mean(tf.square(target - legacy.outputs[name]),
                                axis=-1)
    loss = tf.reduce_sum(per_sample) / tf.cast(tf.size(per_sample), dtype)
    step = _v1.train.GradientDescentOptimizer(LEARNING_RATE).minimize(loss)
    with _v1.Session(graph=legacy.graph) as session:
      legacy_graph.load(session, legacy.variables, state.values)
      session.run(step, {legacy.inputs: x, target: y})
      return session.run({n: v for n, v in legacy.variables.items()})


@pytest.mark.parametrize("target", mapping.TARGETS)
@pytest.mark.parametrize("name", ["scan-float64", "loop-float32",
                                  "loop-float64-bigru",
                                  "scan-float64-addition-head"])
def test_fit_step_matches_legacy_graph(name, target, tmp_path):
  """One full-batch SGD step by `fit` against TF1's GradientDescent on the
  same loss: bitwise weights for this project's models; for stock Keras,
  within the output bound (a step moves each weight by 0.25 * a gradient
  whose rounding is the outputs')."""
  state = legacy_checkpoints.random_state(SPECS[name])
  model = _converted(state, target, tmp_path)
  x, rng = _data(state.description)
  y = rng.uniform(-1, 1, _legacy_output(state, x).shape).astype(
      state.description.dtype)
  with _user_precision(target, state.description.dtype):
    model.compile(optimizer=keras.optimizers.SGD(LEARNING_RATE), loss="mse")
    model.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
  want = _legacy_sgd_step(state, x, y)
  got = mapping.from_model(mapping.placements(state.description, model, target))
  assert sorted(got) == sorted(want)
  for n in want:
    _assert_within(got[n], want[n], _bound(target, state.description.dtype))
