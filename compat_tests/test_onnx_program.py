"""The whole-program ONNX translation (`migration.onnx_program`), op by op:
functional Keras models using every entry of its table, exported and run in
onnxruntime, against the same model run by Keras on TensorFlow, in float32
within `tolerances.PROGRAM` and in float64 within its float64 bound; the
recurrent layers (GRU both ways, LSTM) with masks, initial states, reversal
and last-step outputs; an operation without a translation refused by name.
"""

import numpy as np
import pytest
import tensorflow as tf

onnx = pytest.importorskip("onnx", reason="pip install '.[onnx]'")
pytest.importorskip("onnxruntime", reason="pip install '.[onnx]'")

# pylint: disable=g-import-not-at-top,wrong-import-position
import keras
from keras import ops

import tf2
from gru_common import tolerances
from migration import onnx_program
from tf2 import program_layers

B, T, F, U, VOCAB = 3, 5, 4, 6, 7


def export_and_compare(model, feeds, dtype):
  """Every output of `model` in onnxruntime against Keras on TensorFlow."""
  names = list(feeds)
  inputs = [(n, tuple(t.shape), t.dtype) for n, t in zip(names,
                                                          model.inputs)]
  outputs = [f"out_{k}" for k in range(len(model.outputs))]
  exported = onnx_program.from_model(model, inputs, outputs)
  onnx.checker.check_model(exported, full_check=True)
  got = onnx_program.run(exported.SerializeToString(), feeds)
  want = tf.function(model)([feeds[n] for n in names])
  want = want if isinstance(want, (list, tuple)) else [want]
  bound = tolerances.PROGRAM.for_dtype(np.dtype(dtype))
  assert len(got) == len(want)
  for k, (g, w) in enumerate(zip(got, want)):
    w = np.asarray(w)
    assert g.dtype == w.dtype and g.shape == w.shape, (k, g.dtype, w.dtype,
                                                       g.shape, w.shape)
    if w.dtype.kind in "f":
      scale = max(1.0, float(np.abs(w).max()))
      assert np.abs(g.astype(np.float64) - w).max() <= bound * scale, k
    else:
      np.testing.assert_array_equal(g, w, err_msg=str(k))


def _feeds(dtype, seed=0):
  rng = np.random.default_rng(seed)
  return {"x": rng.uniform(-2, 2, (B, T, F)).astype(dtype),
          "ids": rng.integers(0, VOCAB, (B, T)).astype(np.int32),
          "lengths": np.array([T, 2, 1], np.int32)}


def _inputs(dtype):
  return (keras.Input((T, F), dtype=dtype, name="x"),
          keras.Input((T,), dtype="int32", name="ids"),
          keras.Input((), dtype="int32", name="lengths"))


def _math_model(dtype):
  x, ids, lengths = _inputs(dtype)
  a = ops.abs(x) + 1.0
  table = np.arange(VOCAB * F, dtype=dtype).reshape(VOCAB, F) / 10
  outs = [
      ops.tanh(x) + ops.sigmoid(x) * 2.0 - ops.relu(x) / 3.0,
      ops.elu(x), ops.selu(x), ops.softplus(x), ops.relu6(x * 8.0),
      ops.sign(x), ops.negative(x), ops.exp(x), ops.log(a), ops.sqrt(a),
      ops.rsqrt(a), ops.square(x), ops.reciprocal(a), ops.floor(x),
      ops.floor_divide(x, 0.3), ops.maximum(x, 0.1), ops.minimum(x, 0.1),
      ops.power(a, 2.0), ops.where(ops.less(x, 0.0), x, 0.0),
      ops.cast(ops.logical_and(ops.less_equal(x, 0.5),
                               ops.greater(x, -0.5)), "int32"),
      ops.logical_or(ops.greater_equal(x, 1.0), ops.equal(x, 0.0)),
      ops.logical_not(ops.not_equal(ids, 3)),
      ops.softmax(x, axis=-1), ops.log_softmax(x, axis=-1),
      ops.concatenate(ops.split(x, 2, axis=2)[::-1], axis=2),
      ops.squeeze(ops.expand_dims(x, -1), axis=-1),
      ops.reshape(x, (-1, F)), ops.take(table, ids, axis=0),
      ops.take(x, 1, axis=1), ops.tile(ops.take(x, 0, axis=1), [1, 2]),
      ops.zeros_like(x), ops.ones_like(ids, dtype="int32"),
      ops.full_like(x, 0.5), ops.min(x, axis=1), ops.max(x, axis=(1, 2)),
      ops.sum(x, axis=1, keepdims=True), ops.mean(x, axis=-1),
      ops.prod(ops.tanh(x), axis=1), ops.cast(ops.argmax(x, axis=-1),
                                                "int32"),
      ops.cumsum(ids, axis=1), ops.transpose(x, (1, 0, 2)),
      ops.flip(x, axis=1), ops.pad(x, [[0, 0], [1, 2], [0, 1]]),
      ops.matmul(x, np.ones((F, 2), dtype)), x[:, -1], x[:, 1:4:2],
      ops.swapaxes(x, 1, 2), ops.stack([x, -x], axis=1),
      ops.unstack(x, num=T, axis=1)[2],
      ops.divide(ops.cast(lengths, dtype), 2.0),
  ]
  return keras.Model([x, ids, lengths], outs)


def _layers_model(dtype):
  x, ids, lengths = _inputs(dtype)
  embedded = keras.layers.Embedding(VOCAB, F, dtype=dtype)(ids)
  dense = keras.layers.Dense(3, activation="relu", dtype=dtype)(x)
  image = ops.expand_dims(x, -1)
  conv = keras.layers.Conv2D(2, (2, 3), padding="same", dtype=dtype)(image)
  conv_valid = keras.layers.Conv2D(2, (3, 2), strides=(1, 2),
                                   activation="tanh", dtype=dtype)(image)
  pooled = keras.layers.MaxPooling2D((2, 1), padding="same",
                                     dtype=dtype)(conv)
  averaged = keras.layers.AveragePooling2D((2, 2), strides=(1, 1),
                                           dtype=dtype)(conv)
  norm = keras.layers.BatchNormalization(epsilon=1e-3, dtype=dtype)
  normed = norm(x)
  shaped = keras.layers.Reshape((T * F,), dtype=dtype)(x)
  reversed_ = tf2.ReverseSequence(dtype=dtype)(x, sequence_lengths=lengths)
  weight = program_layers.Weight((F,), dtype=dtype)
  scaled = ops.multiply(x, weight(x))
  model = keras.Model([x, ids, lengths], [
      embedded, dense, conv, conv_valid, pooled, averaged, normed, shaped,
      reversed_, scaled])
  rng = np.random.default_rng(1)
  norm.set_weights([rng.uniform(0.5, 2, (F,)).astype(dtype),
                    rng.uniform(-1, 1, (F,)).astype(dtype),
                    rng.uniform(-1, 1, (F,)).astype(dtype),
                    rng.uniform(0.1, 2, (F,)).astype(dtype)])
  weight.set_weights([rng.uniform(-1, 1, (F,)).astype(dtype)])
  return model


def _mask(x, lengths):
  steps = ops.cumsum(ops.ones_like(ops.take(x, 0, axis=2), dtype="int32"),
                     axis=1)
  return ops.less_equal(steps, ops.expand_dims(lengths, 1))


def _recurrent_model(dtype):
  x, ids, lengths = _inputs(dtype)
  mask = _mask(x, lengths)
  start = keras.layers.Dense(U, activation="tanh", dtype=dtype)(
      ops.take(x, 0, axis=1))
  common = {"return_sequences": True, "return_state": True, "dtype": dtype}
  outs = []
  for reset_after in (False, True):
    outs += keras.layers.GRU(U, reset_after=reset_after,
                             zero_output_for_mask=True, **common)(
                                 x, mask=mask, initial_state=[start])
  outs += keras.layers.LSTM(U, **common)(x, mask=mask,
                                         initial_state=[start, -start])
  outs += keras.layers.GRU(U, go_backwards=True, **common)(x)
  outs.append(keras.layers.LSTM(U, dtype=dtype)(x, mask=mask))
  outs.append(keras.layers.GRU(U, return_sequences=True, dtype=dtype)(
      x, mask=mask))
  return keras.Model([x, ids, lengths], outs)


MODELS = {"math": _math_model, "layers": _layers_model,
          "recurrent": _recurrent_model}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_translated_operation_matches_keras(name, dtype):
  keras.utils.set_random_seed(0)
  export_and_compare(MODELS[name](dtype), _feeds(dtype), dtype)


def test_an_operation_without_a_translation_is_named():
  x = keras.Input((3,), name="x")
  model = keras.Model(x, [ops.sin(x), ops.cos(x)])
  with pytest.raises(onnx_program.OnnxError, match=r"Cos \(.*\), Sin \("):
    onnx_program.from_model(model, [("x", (None, 3), "float32")],
                            ["a", "b"])
