"""The TF2 layers as Keras layers: shapes, weights, config, saving, masking.

Their exact mode, checked bit for bit against Keras's own RNN running the
same cells; the default fast mode's are in `test_fast_mode.py`."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from gru_common import compare
from gru_common import tolerances
import tf2

LAYERS = {
    "scan": lambda **kw: tf2.ScanGRU(4, mode="exact", **kw),
    "loop": lambda **kw: tf2.LoopGRU(4, mode="exact", **kw),
    "loop_no_reset": lambda **kw: tf2.LoopGRU(4, reset_gate=False,
                                              mode="exact", **kw),
}


def inputs(batch=3, time=5, features=2, dtype=np.float32, seed=0):
  return np.random.RandomState(seed).uniform(
      -1, 1, (batch, time, features)).astype(dtype)


def randomize(layer, seed=1, scale=0.5):
  rng = np.random.RandomState(seed)
  for w in layer.weights:
    w.assign(rng.normal(0, scale, w.shape).astype(w.dtype))
  return layer


def built(kind, features=2, seed=1, batch=None, **kwargs):
  layer = LAYERS[kind](**kwargs)
  layer.build((batch, None, features))
  return randomize(layer, seed)


def assert_bitwise(a, b):
  a, b = np.asarray(a), np.asarray(b)
  assert compare.bitwise_equal(a, b), compare.compare(a, b)


class TestLayout:

  def test_scan_gru_weights(self):
    layer = tf2.ScanGRU(4, name="g")
    layer.build((None, None, 3))
    assert {w.path: tuple(w.shape) for w in layer.weights} == {
        "g/scan_gru_cell/Wr": (3, 4),
        "g/scan_gru_cell/Wz": (3, 4),
        "g/scan_gru_cell/Wh": (3, 4),
        "g/scan_gru_cell/Ur": (4, 4),
        "g/scan_gru_cell/Uz": (4, 4),
        "g/scan_gru_cell/Uh": (4, 4),
        "g/scan_gru_cell/br": (4,),
        "g/scan_gru_cell/bz": (4,),
        "g/scan_gru_cell/bh": (4,)}

  def test_loop_gru_weights(self):
    layer = tf2.LoopGRU(4, name="g")
    layer.build((None, None, 3))
    assert {w.path: tuple(w.shape) for w in layer.weights} == {
        "g/loop_gru_cell/input_gate_wi": (3, 4),
        "g/loop_gru_cell/input_gate_ui": (4, 4),
        "g/loop_gru_cell/input_gate_bias": (4,),
        "g/loop_gru_cell/forget_gate_wf": (3, 4),
        "g/loop_gru_cell/forget_gate_uf": (4, 4),
        "g/loop_gru_cell/forget_gate_bias": (4,),
        "g/loop_gru_cell/control_gate_wc": (3, 4),
        "g/loop_gru_cell/control_gate_uc": (4, 4),
        "g/loop_gru_cell/control_gate_bias": (4,)}

  def test_loop_gru_without_reset_gate_has_six_weights(self):
    layer = tf2.LoopGRU(4, reset_gate=False, name="g")
    layer.build((None, None, 3))
    assert [w.name for w in layer.weights] == [
        "forget_gate_wf", "forget_gate_uf", "forget_gate_bias",
        "control_gate_wc", "control_gate_uc", "control_gate_bias"]

  def test_float64_weights(self):
    layer = tf2.ScanGRU(2, dtype="float64")
    layer.build((None, None, 2))
    assert {w.dtype for w in layer.weights} == {"float64"}

  def test_default_initializers_are_the_legacy_ones(self):
    keras.utils.set_random_seed(0)
    scan = tf2.ScanGRU(200)
    scan.build((None, None, 200))
    values = np.concatenate([w.numpy().ravel() for w in scan.weights])
    # TruncatedNormal(0, 0.01) cut at 2 sigma: std 0.00880.
    assert np.abs(values).max() <= 0.02 and 0.0086 < values.std() < 0.0090
    loop = tf2.LoopGRU(200)
    loop.build((None, None, 200))
    for w in loop.weights:
      if w.name.endswith("bias"):
        assert not w.numpy().any()
      else:
        assert abs(w.numpy().std() - 0.1) < 0.002


class TestShapesAndOptions:

  @pytest.mark.parametrize("kind", sorted(LAYERS))
  @pytest.mark.parametrize("return_sequences", [False, True])
  @pytest.mark.parametrize("return_state", [False, True])
  def test_output_shapes(self, kind, return_sequences, return_state):
    layer = LAYERS[kind](return_sequences=return_sequences,
                         return_state=return_state)
    out = layer(inputs())
    outputs = out if return_state else [out]
    assert outputs[0].shape == ((3, 5, 4) if return_sequences else (3, 4))
    if return_state:
      assert len(outputs) == 2 and outputs[1].shape == (3, 4)
      last = outputs[0][:, -1] if return_sequences else outputs[0]
      assert_bitwise(last, outputs[1])

  @pytest.mark.parametrize("kind", sorted(LAYERS))
  @pytest.mark.parametrize("dtype", [np.float32, np.float64])
  def test_dtype_follows_the_layer(self, kind, dtype):
    layer = LAYERS[kind](dtype=np.dtype(dtype).name, return_sequences=True)
    assert layer(inputs(dtype=dtype)).dtype == np.dtype(dtype).name

  @pytest.mark.parametrize("kind", sorted(LAYERS))
  def test_cell_runs_in_keras_rnn_like_the_layer(self, kind):
    layer = built(kind, return_sequences=True)
    rnn = keras.layers.RNN(layer.cell, return_sequences=True)
    assert_bitwise(rnn(inputs()), layer(inputs()))

  @pytest.mark.parametrize("kind", sorted(LAYERS))
  def test_go_backwards_reads_the_reversed_sequence(self, kind):
    forward = built(kind, return_sequences=True)
    backward = built(kind, return_sequences=True, go_backwards=True)
    x = inputs()
    assert_bitwise(backward(x), forward(x[:, ::-1]))

  @pytest.mark.parametrize("kind", sorted(LAYERS))
  def test_initial_state_and_stateful(self, kind):
    x = inputs(batch=2, time=6)
    whole = built(kind, return_sequences=True)(x)
    layer = built(kind, return_sequences=True, return_state=True)
    _, h = layer(x[:, :3])
    second, _ = layer(x[:, 3:], initial_state=h)
    assert_bitwise(second, whole[:, 3:])
    stateful = built(kind, return_sequences=True, stateful=True, batch=2)
    stateful(tf.constant(x[:, :3]))
    assert_bitwise(stateful(tf.constant(x[:, 3:])), whole[:, 3:])

  @pytest.mark.parametrize("kind", sorted(LAYERS))
  def test_eager_equals_tf_function_bitwise(self, kind):
    layer = built(kind, return_sequences=True)
    x = tf.constant(inputs())

    def outputs_and_grads(x):
      with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(tf.sin(layer(x)))
      return [layer(x)] + tape.gradient(loss, layer.weights + [x])

    for a, b in zip(outputs_and_grads(x), tf.function(outputs_and_grads)(x)):
      assert_bitwise(a, b)

  @pytest.mark.parametrize("kind", sorted(LAYERS))
  def test_run_functions_eagerly_stays_bitwise(self, kind):
    # The debugging switch would run the loop op by op and its gradients
    # would differ (~1e-16 in float64); the layers keep their loop traced.
    def outputs_and_gradients():
      layer = built(kind, return_sequences=True)
      with tf.GradientTape() as tape:
        y = layer(inputs())
        loss = tf.reduce_sum(y * y)
      return [y] + tape.gradient(loss, layer.trainable_weights)

    expected = outputs_and_gradients()
    tf.config.run_functions_eagerly(True)
    try:
      got = outputs_and_gradients()
      assert tf.config.functions_run_eagerly()  # restored after each call
    finally:
      tf.config.run_functions_eagerly(False)
    for a, b in zip(got, expected, strict=True):
      assert_bitwise(a, b)

  @pytest.mark.parametrize("kind", sorted(LAYERS))
  def test_xla_compiles_the_layer(self, kind):
    layer = built(kind, return_sequences=True)
    x = tf.constant(inputs())
    c = compare.compare(tf.function(layer, jit_compile=True)(x), layer(x))
    assert c.within(tolerances.XLA.float32), c


class TestMasking:

  @pytest.mark.parametrize("kind", sorted(LAYERS))
  @pytest.mark.parametrize("zero_output", [False, True])
  @pytest.mark.parametrize("go_backwards", [False, True])
  def test_mask_semantics_are_keras_rnn_semantics(self, kind, zero_output,
                                                   go_backwards):
    layer = built(kind, return_sequences=True, return_state=True,
                  zero_output_for_mask=zero_output, go_backwards=go_backwards)
    rnn = keras.layers.RNN(layer.cell, return_sequences=True,
                           return_state=True, go_backwards=go_backwards,
                           zero_output_for_mask=zero_output)
    mask = tf.sequence_mask([5, 2, 0], 5)
    for ours, theirs in zip(layer(inputs(), mask=mask),
                            rnn(inputs(), mask=mask)):
      assert_bitwise(ours, theirs)

  @pytest.mark.parametrize("kind", sorted(LAYERS))
  def test_valid_steps_equal_the_unmasked_run(self, kind):
    # Compared within one batch: in float32 a row computed in a batch of
    # another size may take another matmul kernel (oneDNN), which changes
    # rounding, so bitwise claims are about the same batch.
    layer = built(kind, return_sequences=True, return_state=True)
    x = inputs(batch=4, time=6)
    lengths = [6, 3, 1, 0]
    out, h = layer(x, sequence_lengths=lengths)
    unmasked, _ = layer(x)
    for row, n in enumerate(lengths):
      assert_bitwise(out[row, :n], unmasked[row, :n])
      # Past the length the state is carried and the output repeated.
      last = unmasked[row, n - 1] if n else np.zeros(4, np.float32)
      assert_bitwise(h[row], last)
      for t in range(n, 6):
        assert_bitwise(out[row, t], last)

  def test_sequence_lengths_equal_a_mask(self):
    layer = built("loop", return_sequences=True)
    x = inputs()
    assert_bitwise(layer(x, sequence_lengths=[5, 2, 0]),
                   layer(x, mask=tf.sequence_mask([5, 2, 0], 5)))

  def test_masking_and_embedding_layers_propagate_their_masks(self):
    x = inputs()
    x[1, 3:] = 0.0
    model = keras.Sequential([keras.Input((5, 2)),
                              keras.layers.Masking(0.0),
                              tf2.LoopGRU(4, return_sequences=True,
                                          mode="exact")])
    gru = randomize(model.layers[-1])
    assert_bitwise(model(x), gru(x, mask=np.any(x != 0, axis=-1)))
    tokens = np.array([[3, 1, 2, 0, 0], [1, 1, 1, 1, 2]])
    embedded = keras.Sequential([keras.Input((5,), dtype="int32"),
                                 keras.layers.Embedding(4, 2, mask_zero=True),
                                 tf2.ScanGRU(3, mode="exact")])
    emb, gru = embedded.layers
    assert_bitwise(embedded(tokens), gru(emb(tokens), mask=tokens != 0))


class TestBidirectional:

  @pytest.mark.parametrize("kind", sorted(LAYERS))
  def test_keras_bidirectional_wraps_the_layers(self, kind):
    bi = keras.layers.Bidirectional(LAYERS[kind](return_sequences=True))
    x = inputs()
    out = bi(x)
    randomize(bi)
    out = bi(x)
    assert out.shape == (3, 5, 8)
    assert_bitwise(out[..., :4], bi.forward_layer(x))
    assert_bitwise(out[..., 4:], bi.backward_layer(x)[:, ::-1])

  def test_legacy_bidirectional_without_lengths_equals_keras_bidirectional(
      self):
    keras_bi = keras.layers.Bidirectional(LAYERS["loop"](
        return_sequences=True))
    legacy_bi = tf2.LegacyBidirectional(LAYERS["loop"](return_sequences=True))
    x = inputs()
    keras_bi(x), legacy_bi(x)
    randomize(keras_bi)
    for a, b in zip(legacy_bi.weights, keras_bi.weights):
      a.assign(b)
    assert_bitwise(legacy_bi(x), keras_bi(x))


class TestSerialization:

  @pytest.mark.parametrize("kind", sorted(LAYERS))
  def test_config_round_trip(self, kind):
    layer = LAYERS[kind](return_sequences=True, go_backwards=True,
                         dtype="float64")
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    assert clone.go_backwards and clone.dtype == "float64"

  def make_model(self):
    inputs_ = keras.Input((None, 2))
    x = keras.layers.Bidirectional(LAYERS["loop"](return_sequences=True))(
        inputs_)
    x = tf2.ScanGRU(3, return_sequences=True, mode="exact")(x)
    x = tf2.LegacyBidirectional(tf2.LoopGRU(2, reset_gate=False,
                                            return_sequences=True,
                                            mode="exact"))(x)
    x = tf2.PerSequenceDense(1)(x)
    model = keras.Model(inputs_, x)
    randomize(model)
    return model

  def test_keras_file_round_trip_is_bitwise_in_safe_mode(self, tmp_path):
    model = self.make_model()
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    x = inputs()
    assert_bitwise(loaded(x), model(x))
    # (Keras renames Bidirectional's sublayer paths on load; names and
    # values survive, in order.)
    for a, b in zip(loaded.weights, model.weights, strict=True):
      assert a.name == b.name
      assert_bitwise(a, b)

  def test_saved_model_export_serves_the_same_outputs(self, tmp_path):
    model = self.make_model()
    path = str(tmp_path / "saved")
    model.export(path, verbose=False)
    served = tf.saved_model.load(path)
    x = tf.constant(inputs())
    assert_bitwise(served.serve(x), model(x))
    assert os.path.isfile(os.path.join(path, "saved_model.pb"))


class TestBadInput:

  @pytest.mark.parametrize("make, match", [
      (lambda: tf2.ScanGRU(0), "`units` must be an integer >= 1"),
      (lambda: tf2.LoopGRU(2.5), "`units`"),
      (lambda: tf2.LoopGRU(3, reset_gate="no"), "`reset_gate` must be a bool"),
      (lambda: tf2.PerSequenceDense(0), "`units`"),
  ])
  def test_bad_constructor_arguments(self, make, match):
    with pytest.raises(ValueError, match=match):
      make()

  @pytest.mark.parametrize("call, match", [
      (lambda l: l(np.zeros((2, 3), np.float32)), "rank 3"),
      (lambda l: l(np.zeros((2, 3, 5), np.float32)), "built for 2 features"),
      (lambda l: l(np.zeros((2, 3, 2), np.int32)), "floating-point"),
      (lambda l: l(np.zeros((2, 0, 2), np.float32)), "at least one time"),
      (lambda l: l(inputs(), mask=np.ones((3, 4), bool)), "`mask` must have"),
      (lambda l: l(inputs(), mask=np.ones((3, 5), np.float32)),
       "`mask` must be boolean"),
      (lambda l: l(inputs(), sequence_lengths=[1.0, 2.0, 3.0]),
       "must hold integers"),
      (lambda l: l(inputs(), sequence_lengths=[1, 2]), "\\[batch\\] vector"),
      (lambda l: l(inputs(), sequence_lengths=[1, 2, 6]),
       "must lie in \\[0, 5\\]"),
      (lambda l: l(inputs(), sequence_lengths=[1, 2, 3],
                   mask=np.ones((3, 5), bool)), "not both"),
      (lambda l: l(inputs(), initial_state=np.zeros((3, 5), np.float32)),
       "`initial_state` must have shape"),
  ])
  def test_bad_call_arguments(self, call, match):
    layer = built("loop", return_sequences=True)
    with pytest.raises(ValueError, match=match):
      call(layer)

  @pytest.mark.parametrize("kind", ["scan", "loop"])
  def test_time_zero_and_wrong_batch_of_lengths_under_tf_function(self, kind):
    layer = built(kind, return_sequences=True)
    run = tf.function(layer, input_signature=[tf.TensorSpec((None, None, 2))])
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="needs at least one time step, got `sequences`"):
      run(np.zeros((3, 0, 2), np.float32))
    run = tf.function(lambda x, n: layer(x, sequence_lengths=n),
                      input_signature=[tf.TensorSpec((None, None, 2)),
                                       tf.TensorSpec((None,), tf.int32)])
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="`sequence_lengths` must have one length per "
                       "row of `sequences`"):
      run(inputs(), tf.constant([1, 2]))

  def test_reverse_sequence_lengths_under_tf_function(self):
    run = tf.function(
        tf2.legacy_semantics.reverse_sequence,
        input_signature=[tf.TensorSpec((None, None, 2)),
                         tf.TensorSpec((None,), tf.int32)])
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="`sequence_lengths` must have one length per "
                       "row"):
      run(inputs(), tf.constant([1, 2]))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="`sequence_lengths` must be >= 0"):
      run(inputs(), tf.constant([1, -2, 0]))

  @pytest.mark.parametrize("make", [
      lambda: tf2.ScanGRU(3, dtype="int32"),
      lambda: tf2.LoopGRU(3, dtype="int64"),
      lambda: tf2.ScanGRUCell(3, dtype="bool"),
      lambda: tf2.PerSequenceDense(1, dtype="int32"),
  ])
  def test_non_float_dtype_is_refused_by_name(self, make):
    with pytest.raises(ValueError,
                       match="`dtype` must be a floating-point dtype"):
      make()

  def test_lengths_out_of_range_at_run_time(self):
    layer = built("scan", return_sequences=True)
    run = tf.function(lambda x, n: layer(x, sequence_lengths=n),
                      input_signature=[tf.TensorSpec((None, None, 2)),
                                       tf.TensorSpec((None,), tf.int32)])
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="sequence_lengths"):
      run(inputs(), tf.constant([1, 2, 9]))
