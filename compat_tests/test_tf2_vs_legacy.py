"""TF2 layers against the legacy graphs, same weights, every option.

The TF2 weights are created in the legacy variables' order with the same
shapes, so a weight list moves across by position; `migration/` does the
same by name with checks.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from compat_tests import legacy_runner
from migration import compare
from migration import tolerances
import tf2

DTYPES = [np.float32, np.float64]


def inputs(batch=4, time=7, features=3, dtype=np.float32, seed=0):
  return np.random.RandomState(seed).uniform(
      -1, 1, (batch, time, features)).astype(dtype)


def probe_for(shape, dtype, seed=9):
  return np.random.RandomState(seed).normal(size=shape).astype(dtype)


def assign(layer, values, input_shape):
  layer.build(input_shape)
  for w, v in zip(layer.weights, values, strict=True):
    assert tuple(w.shape) == v.shape
    w.assign(v)
  return layer


def tf2_outputs_and_grads(layer, x, probe, call=None):
  call = call or (lambda x: layer(x))

  @tf.function
  def run(x):
    with tf.GradientTape() as tape:
      tape.watch(x)
      out = call(x)
      loss = tf.reduce_sum(out * probe)
    grads = tape.gradient(loss, layer.weights + [x])
    return out, grads[:-1], grads[-1]

  return [np.asarray(t) if not isinstance(t, list) else
          [np.asarray(g) for g in t] for t in run(tf.constant(x))]


def assert_bitwise(a, b):
  assert compare.bitwise_equal(a, b), compare.compare(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
def test_scan_gru_reference_is_bitwise_legacy(dtype):
  x = inputs(dtype=dtype)
  probe = probe_for((4, 7, 5), dtype)
  weights = legacy_runner.random_weights(
      [(3, 5)] * 3 + [(5, 5)] * 3 + [(5,)] * 3, dtype, seed=1)
  legacy = legacy_runner.scan_gru_run(x, 5, weights, probe, with_grads=True)
  layer = assign(tf2.ScanGRU(5, return_sequences=True,
                             dtype=np.dtype(dtype).name), weights,
                 (None, None, 3))
  out, grads, input_grad = tf2_outputs_and_grads(layer, x, probe)
  assert_bitwise(out, legacy.outputs)
  for g, lg in zip(grads, legacy.weight_grads, strict=True):
    assert_bitwise(g, lg)
  assert_bitwise(input_grad, legacy.input_grad)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reset_gate", [True, False])
def test_loop_gru_reference_is_bitwise_legacy(dtype, reset_gate):
  x = inputs(dtype=dtype)
  probe = probe_for((4, 7, 5), dtype)
  n = 9 if reset_gate else 6
  shapes = ([(3, 5), (5, 5), (5,)] * (n // 3))
  weights = legacy_runner.random_weights(shapes, dtype, seed=2)
  legacy = legacy_runner.loop_gru_run(x, 5, weights, probe, with_grads=True,
                                      reset_gate=reset_gate)
  layer = assign(tf2.LoopGRU(5, reset_gate=reset_gate, return_sequences=True,
                             dtype=np.dtype(dtype).name), weights,
                 (None, None, 3))
  out, grads, input_grad = tf2_outputs_and_grads(layer, x, probe)
  assert_bitwise(out, legacy.outputs)
  for g, lg in zip(grads, legacy.weight_grads, strict=True):
    assert_bitwise(g, lg)
  assert_bitwise(input_grad, legacy.input_grad)


LENGTHS = [7, 3, 0, 1]


@pytest.mark.parametrize("lengths", [None, LENGTHS])
def test_loop_gru_with_lengths_runs_unmasked_like_legacy(lengths):
  # Without `revers`, the legacy GRU ignores its lengths entirely.
  x = inputs()
  weights = legacy_runner.random_weights([(3, 5), (5, 5), (5,)] * 3,
                                         np.float32, seed=3)
  legacy = legacy_runner.loop_gru_run(x, 5, weights, lengths=lengths)
  layer = assign(tf2.LoopGRU(5, return_sequences=True), weights,
                 (None, None, 3))
  assert_bitwise(layer(x), legacy.outputs)
  if lengths is not None:
    masked = layer(x, sequence_lengths=lengths)
    for row, n in enumerate(lengths):
      assert_bitwise(masked[row, :n], legacy.outputs[row, :n])


@pytest.mark.parametrize("lengths", [None, LENGTHS, [1, 7, 7, 2]])
def test_reversed_loop_gru_via_reverse_sequence(lengths):
  x = inputs()
  probe = probe_for((4, 7, 5), np.float32)
  weights = legacy_runner.random_weights([(3, 5), (5, 5), (5,)] * 3,
                                         np.float32, seed=4)
  legacy = legacy_runner.loop_gru_run(x, 5, weights, probe, with_grads=True,
                                      revers=True, lengths=lengths)
  layer = assign(tf2.LoopGRU(5, return_sequences=True), weights,
                 (None, None, 3))
  reverse = tf2.ReverseSequence()
  out, grads, input_grad = tf2_outputs_and_grads(
      layer, x, probe,
      call=lambda x: layer(reverse(x, sequence_lengths=lengths)))
  assert_bitwise(out, legacy.outputs)
  for g, lg in zip(grads, legacy.weight_grads, strict=True):
    assert_bitwise(g, lg)
  assert_bitwise(input_grad, legacy.input_grad)


@pytest.mark.parametrize("reset_gate", [True, False])
@pytest.mark.parametrize("lengths", [None, LENGTHS])
def test_bigru_legacy_bidirectional_is_bitwise_everywhere(reset_gate,
                                                          lengths):
  x = inputs()
  probe = probe_for((4, 7, 10), np.float32)
  per_direction = [(3, 5), (5, 5), (5,)] * (3 if reset_gate else 2)
  weights = legacy_runner.random_weights(per_direction * 2, np.float32,
                                         seed=5)
  legacy = legacy_runner.loop_gru_run(x, 5, weights, probe, with_grads=True,
                                      reset_gate=reset_gate, bigru=True,
                                      lengths=lengths)
  bi = assign(tf2.LegacyBidirectional(tf2.LoopGRU(
      5, reset_gate=reset_gate, return_sequences=True)), weights,
              (None, None, 3))
  out, grads, input_grad = tf2_outputs_and_grads(
      bi, x, probe, call=lambda x: bi(x, sequence_lengths=lengths))
  assert_bitwise(out, legacy.outputs)
  for g, lg in zip(grads, legacy.weight_grads, strict=True):
    assert_bitwise(g, lg)
  assert_bitwise(input_grad, legacy.input_grad)


@pytest.mark.parametrize("lengths", [None, LENGTHS])
def test_bigru_keras_bidirectional_matches_on_valid_steps(lengths):
  x = inputs()
  weights = legacy_runner.random_weights([(3, 5), (5, 5), (5,)] * 6,
                                         np.float32, seed=6)
  legacy = legacy_runner.loop_gru_run(x, 5, weights, bigru=True,
                                      lengths=lengths)
  bi = assign(keras.layers.Bidirectional(tf2.LoopGRU(5,
                                                     return_sequences=True)),
              weights, (None, None, 3))
  if lengths is None:
    assert_bitwise(bi(x), legacy.outputs)
    return
  out = np.asarray(bi(x, mask=tf.sequence_mask(lengths, 7)))
  for row, n in enumerate(lengths):
    assert_bitwise(out[row, :n], legacy.outputs[row, :n])
    # Padded steps: Keras zeros, where the legacy graph ran on.
    assert not out[row, n:].any()


@pytest.mark.parametrize("kind", ["scan", "loop"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_fused_path_within_bound_of_legacy(kind, dtype):
  x = inputs(batch=8, time=40, dtype=dtype)
  weights = legacy_runner.random_weights(
      [(3, 5)] * 3 + [(5, 5)] * 3 + [(5,)] * 3 if kind == "scan" else
      [(3, 5), (5, 5), (5,)] * 3, dtype, seed=7)
  if kind == "scan":
    legacy = legacy_runner.scan_gru_run(x, 5, weights)
    layer = tf2.ScanGRU(5, return_sequences=True, fused=True,
                        dtype=np.dtype(dtype).name)
  else:
    legacy = legacy_runner.loop_gru_run(x, 5, weights)
    layer = tf2.LoopGRU(5, return_sequences=True, fused=True,
                        dtype=np.dtype(dtype).name)
  assign(layer, weights, (None, None, 3))
  c = compare.compare(layer(x), legacy.outputs)
  assert c.within(tolerances.FUSED.for_dtype(dtype)), c
