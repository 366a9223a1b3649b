"""The GRU layers' sequence-level mode (`mode="fast"`, tf2/fast_gru.py)
against their exact mode: outputs, final states and the gradients of every
weight, the inputs and the initial state within `tolerances.FAST_PATH`,
for both seed GRUs (the tutorial's with and without its reset gate), both
dtypes, with masks, reversal and initial states; its custom gradient
against a numeric one (float64); drawn shapes and lengths, and lengths
unknown when traced; a stateful layer; a persistent tape (bitwise a plain
tape's gradients) and a nested one (a second derivative, refused by
name); the mode as the layers' default and in saved files.
"""

import hypothesis
from hypothesis import strategies as st
import keras
import numpy as np
import pytest
import tensorflow as tf

import tf2
from gru_common import compare
from gru_common import tolerances
from tf2 import fast_gru

VARIANTS = {"scan": (tf2.ScanGRU, {}), "loop": (tf2.LoopGRU, {}),
            "loop_no_reset": (tf2.LoopGRU, {"reset_gate": False})}


def _layers(variant, dtype, units, features, **options):
  """(exact, fast) layers of `variant` with the same weights."""
  cls, kwargs = VARIANTS[variant]
  made = []
  for mode in ("exact", "fast"):
    layer = cls(units, return_sequences=True, return_state=True, mode=mode,
                dtype=dtype, **kwargs, **options)
    layer.build((None, None, features))
    made.append(layer)
  for fast, exact in zip(made[1].weights, made[0].weights):
    fast.assign(exact)
  return made


def _run(layer, x, h0, mask):
  """Outputs, final state and the gradients of a loss reading both."""
  x, h0 = tf.convert_to_tensor(x), tf.convert_to_tensor(h0)
  with tf.GradientTape() as tape:
    tape.watch([x, h0])
    kwargs = {"initial_state": h0}
    if mask is not None:
      kwargs["mask"] = mask
    y, h = layer(x, **kwargs)
    loss = tf.reduce_sum(y * y) * 0.5 + tf.reduce_sum(h * 1.25)
  grads = tape.gradient(loss, [x, h0] + layer.trainable_weights)
  return [y, h] + grads


def assert_modes_agree(variant, dtype, x, h0, mask, **options):
  exact, fast = _layers(variant, dtype, h0.shape[1], x.shape[2], **options)
  bound = tolerances.FAST_PATH.for_dtype(dtype)
  for k, (want, got) in enumerate(zip(_run(exact, x, h0, mask),
                                      _run(fast, x, h0, mask))):
    result = compare.compare(np.asarray(got), np.asarray(want))
    assert result.within(bound), (k, result.max_abs, bound)


def _inputs(dtype, batch=3, time=6, features=4, units=5, seed=0):
  rng = np.random.default_rng(seed)
  return (rng.uniform(-1, 1, (batch, time, features)).astype(dtype),
          rng.uniform(-1, 1, (batch, units)).astype(dtype))


# Every variant in both dtypes; the options spread over them.
CASES = [
    ("scan", "float32", {"unmasked": True}),
    ("scan", "float64", {"go_backwards": True}),
    ("loop", "float32", {"zero_output_for_mask": True}),
    ("loop", "float64", {}),
    ("loop_no_reset", "float32", {"go_backwards": True}),
    ("loop_no_reset", "float64", {"zero_output_for_mask": True}),
    ("loop", "float64", {"unmasked": True, "go_backwards": True}),
    ("scan", "float64", {"zero_output_for_mask": True}),
]
# The quick loop runs one case per variant and dtype; the full suite all.
QUICK = {0, 1, 2, 3, 4, 5}


@pytest.mark.parametrize("variant, dtype, options", [
    case if k in QUICK else pytest.param(*case, marks=pytest.mark.slow)
    for k, case in enumerate(CASES)])
def test_fast_mode_is_within_the_bound_of_the_exact_one(variant, dtype,
                                                        options):
  options = dict(options)
  x, h0 = _inputs(dtype)
  mask = (None if options.pop("unmasked", False) else
          np.arange(6)[None] < np.array([6, 3, 0])[:, None])
  assert_modes_agree(variant, dtype, x, h0, mask, **options)


@pytest.mark.slow
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_the_custom_gradient_matches_a_numeric_one(variant):
  """tf.test.compute_gradient: the fast mode's Jacobian of the outputs by
  the inputs and the initial state, against finite differences, float64,
  masked."""
  x, h0 = _inputs("float64", batch=2, time=3, features=2, units=3, seed=1)
  mask = np.array([[True, True, False], [True, False, False]])
  _, fast = _layers(variant, "float64", 3, 2)

  def outputs(x, h0):
    y, h = fast(x, initial_state=h0, mask=mask)
    return tf.concat([tf.reshape(y, [-1]), tf.reshape(h, [-1])], 0)

  theoretical, numeric = tf.test.compute_gradient(outputs, [x, h0])
  for t, n in zip(theoretical, numeric):
    np.testing.assert_allclose(t, n, atol=1e-7)


@pytest.mark.slow
# Each drawn shape is an XLA compilation of both loops (about a second):
# four examples keep the full suite within its budget.
@hypothesis.settings(max_examples=4, deadline=None)
@hypothesis.given(
    variant=st.sampled_from(sorted(VARIANTS)),
    batch=st.integers(1, 4), time=st.integers(1, 7),
    features=st.integers(1, 5), units=st.integers(1, 6),
    backwards=st.booleans(), data=st.data())
def test_drawn_shapes_and_lengths(variant, batch, time, features, units,
                                  backwards, data):
  lengths = np.array(data.draw(st.lists(st.integers(0, time),
                                        min_size=batch, max_size=batch)))
  x, h0 = _inputs("float64", batch, time, features, units,
                  seed=data.draw(st.integers(0, 2**16)))
  mask = np.arange(time)[None] < lengths[:, None]
  assert_modes_agree(variant, "float64", x, h0, mask, go_backwards=backwards)


def test_lengths_unknown_when_traced_share_power_of_two_shapes(monkeypatch):
  """A time axis unknown when traced is padded to the next power of two
  before XLA sees it (one compilation per power, not per length); the
  padded steps are never run, and every length stays within the bound."""
  bucket = fast_gru._bucket  # pylint: disable=protected-access
  sizes = [int(bucket(tf.constant(n)))
           for n in (1, 2, 3, 4, 5, 8, 9, 100, 128, 129)]
  assert sizes == [1, 2, 4, 4, 8, 8, 16, 128, 128, 256]
  padded = []
  monkeypatch.setattr(fast_gru, "_bucket",
                      lambda time: padded.append(time) or bucket(time))
  exact, fast = _layers("loop", "float64", 5, 4)
  bound = tolerances.FAST_PATH.for_dtype("float64")
  runs = {layer: tf.function(
      lambda x, h0, mask, layer=layer: _run(layer, x, h0, mask),
      input_signature=[tf.TensorSpec([3, None, 4], tf.float64),
                       tf.TensorSpec([3, 5], tf.float64),
                       tf.TensorSpec([3, None], tf.bool)])
          for layer in (exact, fast)}
  for time in (6, 3, 5):
    x, h0 = _inputs("float64", time=time)
    mask = np.arange(time)[None] < np.array([time, 2, 0])[:, None]
    want, got = (runs[layer](x, h0, mask) for layer in (exact, fast))
    assert got[0].shape == (3, time, 5)
    for k, (w, g) in enumerate(zip(want, got, strict=True)):
      result = compare.compare(np.asarray(g), np.asarray(w))
      assert result.within(bound), (time, k, result.max_abs)
  assert padded   # the fast layer was traced with an unknown time axis


def test_a_stateful_layer_carries_its_state_across_calls():
  """stateful=True: two calls on the halves of a sequence end where one
  call on the whole does (the state crosses the call), within the bound
  (XLA compiles each length on its own)."""
  x, _ = _inputs("float64", batch=2, time=6)
  _, fast = _layers("loop", "float64", 5, x.shape[2])
  whole = np.asarray(fast(x)[0])
  stateful = tf2.LoopGRU(5, return_sequences=True, return_state=True,
                         stateful=True, dtype="float64")
  stateful.build((2, None, x.shape[2]))
  for mine, theirs in zip(stateful.weights, fast.weights):
    mine.assign(theirs)
  halves = np.concatenate([np.asarray(stateful(x[:, :3])[0]),
                           np.asarray(stateful(x[:, 3:])[0])], axis=1)
  assert stateful.mode == "fast"
  bound = tolerances.FAST_PATH.for_dtype("float64")
  assert compare.compare(halves, whole).within(bound)


def test_a_persistent_tape_gets_the_same_gradients():
  """A persistent tape sees every op, the gradient's too; the fast mode's
  compiled loops must stay out of its sight (tf2/fast_gru.py), and its
  gradients are those of an ordinary tape, bitwise, as often as asked."""
  x, h0 = _inputs("float32")
  _, fast = _layers("loop", "float32", h0.shape[1], x.shape[2])
  want = _run(fast, x, h0, None)
  x, h0 = tf.convert_to_tensor(x), tf.convert_to_tensor(h0)
  with tf.GradientTape(persistent=True) as tape:
    tape.watch([x, h0])
    y, h = fast(x, initial_state=h0)
    loss = tf.reduce_sum(y * y) * 0.5 + tf.reduce_sum(h * 1.25)
  sources = [x, h0] + fast.trainable_weights
  for _ in range(2):
    got = [y, h] + tape.gradient(loss, sources)
    for w, g in zip(want, got, strict=True):
      assert compare.bitwise_equal(np.asarray(g), np.asarray(w))


def test_a_second_derivative_is_refused_by_name():
  """The fast mode's gradient is not differentiable. A nested tape asks
  for its gradient as soon as it is computed, which raises then, naming
  the exact mode, rather than reading the gradient as a constant."""
  x, h0 = (tf.constant(a) for a in _inputs("float64"))
  _, fast = _layers("scan", "float64", h0.shape[1], x.shape[2])
  with tf.GradientTape() as outer:
    outer.watch(x)
    with tf.GradientTape() as inner:
      inner.watch(x)
      y, _ = fast(x, initial_state=h0)
      loss = tf.reduce_sum(y * y)
    with pytest.raises(NotImplementedError, match='mode="exact"'):
      inner.gradient(loss, x)


def test_the_mode_is_saved_and_checked(tmp_path):
  layer = tf2.LoopGRU(3, mode="fast", return_sequences=True)
  model = keras.Sequential([keras.Input((4, 2)), layer])
  path = str(tmp_path / "m.keras")
  model.save(path)
  loaded = keras.saving.load_model(path, safe_mode=True)
  assert loaded.layers[-1].mode == "fast"
  x = np.random.default_rng(0).uniform(-1, 1, (2, 4, 2)).astype("float32")
  assert compare.bitwise_equal(np.asarray(loaded(x)), np.asarray(model(x)))
  assert tf2.LoopGRU(3).mode == tf2.ScanGRU(3).mode == "fast"
  # A file written before the layers had modes holds an exact layer.
  config = tf2.LoopGRU(3).get_config()
  del config["mode"]
  assert tf2.LoopGRU.from_config(config).mode == "exact"
  with pytest.raises(ValueError, match="`mode` must be one of"):
    tf2.ScanGRU(3, mode="quick")


@pytest.mark.slow  # XLA compiles the loops for the export
def test_a_saved_model_export_serves_the_fast_mode(tmp_path):
  model = keras.Sequential([keras.Input((None, 2)),
                            tf2.LoopGRU(3, return_sequences=True)])
  path = str(tmp_path / "saved")
  model.export(path, verbose=False)
  served = tf.saved_model.load(path)
  x = tf.constant(np.random.default_rng(0).uniform(-1, 1, (2, 4, 2)),
                  tf.float32)
  assert compare.bitwise_equal(np.asarray(served.serve(x)),
                               np.asarray(model(x)))
