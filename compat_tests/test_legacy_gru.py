"""The legacy GRUs: variable layout, equations, variants and bad input."""

import numpy as np
import pytest
import tensorflow as tf

from compat_tests import numpy_reference
from gru_common import names
from legacy import loop_gru
from legacy import scan_gru

_v1 = tf.compat.v1

# NumPy's matmul and TensorFlow's sum products in different orders, so the
# reference can only agree to rounding: a few ulps per step, accumulated.
REFERENCE_TOL = {tf.float64: dict(rtol=1e-12, atol=1e-13),
                 tf.float32: dict(rtol=2e-5, atol=2e-6)}


def layout(variables):
  return {v.op.name: (tuple(v.shape.as_list()), v.dtype.base_dtype.name)
          for v in variables}


def run(graph, fetches, feed=None):
  with _v1.Session(graph=graph) as session:
    session.run(_v1.global_variables_initializer())
    values = session.run(fetches, feed)
    weights = {v.op.name: session.run(v) for v in _v1.global_variables()}
  return values, weights


def by_role(weights, prefix, roles):
  """{'Wi': array, ...} from checkpoint-named weights under `prefix`."""
  return {role: weights[f"{prefix}/{name}"] for role, name in roles.items()}


LOOP_ROLES = {"Wi": "input_gate_wi", "Ui": "input_gate_ui",
              "bi": "input_gate_bias", "Wf": "forget_gate_wf",
              "Uf": "forget_gate_wf_1", "bf": "forget_gate_bias",
              "Wc": "control_gate_wc", "Uc": "control_gate_uc",
              "bc": "control_gate_bias"}
NO_RESET_ROLES = {k: v for k, v in LOOP_ROLES.items()
                  if k not in ("Wi", "Ui", "bi")}


class TestScanGRU:

  def test_variable_layout(self):
    with tf.Graph().as_default():
      gru = scan_gru.GRU(input_dimensions=3, hidden_size=5)
      assert layout(_v1.global_variables()) == {
          "Wr": ((3, 5), "float64"), "Wz": ((3, 5), "float64"),
          "Wh": ((3, 5), "float64"), "Ur": ((5, 5), "float64"),
          "Uz": ((5, 5), "float64"), "Uh": ((5, 5), "float64"),
          "br": ((5,), "float64"), "bz": ((5,), "float64"),
          "bh": ((5,), "float64")}
      assert [v.op.name for v in gru.variables] == list(
          names.SCAN_GRU)
      assert gru.input_layer.shape.as_list() == [None, None, 3]
      assert gru.input_layer.op.name == "input"

  def test_source_attributes(self):
    with tf.Graph().as_default():
      gru = scan_gru.GRU(2, 4)
      for name in ("input_layer", "x_t", "h_0", "h_t_transposed", "h_t"):
        assert isinstance(getattr(gru, name), tf.Tensor), name
      assert gru.h_t.op.name == "h_t"
      assert callable(gru.forward_pass)

  @pytest.mark.parametrize("dtype", [tf.float64, tf.float32])
  def test_matches_numpy_reference(self, dtype):
    x = np.random.RandomState(0).uniform(-1, 1, (4, 7, 3)).astype(
        dtype.as_numpy_dtype)
    graph = tf.Graph()
    with graph.as_default():
      _v1.set_random_seed(1)
      # Large weights make every gate matter (the default 0.01 leaves the
      # state near zero).
      gru = scan_gru.GRU(3, 5, dtype=dtype)
      with _v1.Session() as session:
        session.run(_v1.global_variables_initializer())
        rng = np.random.RandomState(2)
        for v in gru.variables:
          v.load(rng.normal(0, 0.7, v.shape).astype(dtype.as_numpy_dtype),
                 session)
        h_t, h_0 = session.run([gru.h_t, gru.h_0], {gru.input_layer: x})
        weights = dict(zip(names.SCAN_GRU,
                           session.run(gru.variables)))
    assert h_t.dtype == dtype.as_numpy_dtype
    np.testing.assert_array_equal(h_0, np.zeros((4, 5)))
    np.testing.assert_allclose(h_t, numpy_reference.scan_gru(x, weights),
                               **REFERENCE_TOL[dtype])

  def test_initializers_are_truncated_normal_001(self):
    with tf.Graph().as_default() as graph:
      _v1.set_random_seed(0)
      scan_gru.GRU(200, 200)
      _, weights = run(graph, [])
    values = np.concatenate([weights[n].ravel()
                             for n in names.SCAN_GRU])
    # Truncated at two standard deviations; the std of N(0, 0.01)
    # truncated at +-2 sigma is 0.00880.
    assert np.abs(values).max() <= 0.02
    assert abs(values.mean()) < 1e-4
    assert 0.0086 < values.std() < 0.0090

  def test_h0_quirk_nan_in_first_step_gives_nan_state(self):
    # The source's h_0 = x_0 @ zeros: NaN in, NaN out. Kept on purpose.
    with tf.Graph().as_default() as graph:
      gru = scan_gru.GRU(2, 3)
      h_0, = run(graph, [gru.h_0],
                 {gru.input_layer: np.array([[[np.nan, 0.0]]])})[0]
    assert np.isnan(h_0).all()

  def test_builds_inside_a_graph_only(self):
    with pytest.raises(RuntimeError, match="tf.Graph"):
      scan_gru.GRU(2, 3)

  @pytest.mark.parametrize("kwargs, match", [
      (dict(input_dimensions=0, hidden_size=3), "input_dimensions"),
      (dict(input_dimensions=2, hidden_size=0), "hidden_size"),
      (dict(input_dimensions=2.5, hidden_size=3), "input_dimensions"),
      (dict(input_dimensions=2, hidden_size=3, dtype=tf.int32), "dtype"),
  ])
  def test_rejects_bad_arguments(self, kwargs, match):
    with tf.Graph().as_default():
      with pytest.raises(ValueError, match=match):
        scan_gru.GRU(**kwargs)

  def test_time_zero_at_run_time_names_the_input(self):
    with tf.Graph().as_default() as graph:
      gru = scan_gru.GRU(2, 3)
      with pytest.raises(tf.errors.InvalidArgumentError,
                         match="`input_layer` must have at least one time "
                         "step"):
        run(graph, gru.h_t, {gru.input_layer: np.zeros((2, 0, 2))})

  def test_rejects_wrong_feature_size_at_feed_time(self):
    with tf.Graph().as_default() as graph:
      gru = scan_gru.GRU(2, 3)
      with pytest.raises(ValueError, match="input"):
        run(graph, gru.h_t, {gru.input_layer: np.zeros((1, 4, 3))})


class TestLoopGRU:

  def test_variable_layout_keeps_duplicated_name(self):
    with tf.Graph().as_default():
      loop_gru.GRU(_v1.placeholder(tf.float32, (None, None, 3)), 3, 5)
      assert layout(_v1.global_variables()) == {
          "gru_init/input_gate_wi": ((3, 5), "float32"),
          "gru_init/input_gate_ui": ((5, 5), "float32"),
          "gru_init/input_gate_bias": ((5,), "float32"),
          "gru_init/forget_gate_wf": ((3, 5), "float32"),
          "gru_init/forget_gate_wf_1": ((5, 5), "float32"),
          "gru_init/forget_gate_bias": ((5,), "float32"),
          "gru_init/control_gate_wc": ((3, 5), "float32"),
          "gru_init/control_gate_uc": ((5, 5), "float32"),
          "gru_init/control_gate_bias": ((5,), "float32")}

  def test_no_reset_gate_variant_layout(self):
    with tf.Graph().as_default():
      loop_gru.GRUNoResetGate(_v1.placeholder(tf.float32, (None, None, 3)),
                              3, 5)
      assert layout(_v1.global_variables()) == {
          "gru_init/forget_gate_wf": ((3, 5), "float32"),
          "gru_init/forget_gate_wf_1": ((5, 5), "float32"),
          "gru_init/forget_gate_bias": ((5,), "float32"),
          "gru_init/control_gate_wc": ((3, 5), "float32"),
          "gru_init/control_gate_uc": ((5, 5), "float32"),
          "gru_init/control_gate_bias": ((5,), "float32")}

  def test_bigru_layout_uses_next_scope_for_backward(self):
    with tf.Graph().as_default():
      bi = loop_gru.BiGRU(_v1.placeholder(tf.float32, (None, None, 2)), 2, 3)
      names = [v.op.name for v in _v1.global_variables()]
    assert names == ([f"gru_init/{n}" for n in LOOP_ROLES.values()] +
                     [f"gru_init_1/{n}" for n in LOOP_ROLES.values()])
    assert bi.output().shape.as_list() == [None, None, 6]

  def test_initializers(self):
    with tf.Graph().as_default() as graph:
      _v1.set_random_seed(0)
      loop_gru.GRU(_v1.placeholder(tf.float32, (None, None, 300)), 300, 300)
      _, weights = run(graph, [])
    matrices = np.concatenate([w.ravel() for n, w in weights.items()
                               if not n.endswith("bias")])
    assert abs(matrices.std() - 0.1) < 0.001
    assert abs(matrices.mean()) < 0.001
    for n, w in weights.items():
      if n.endswith("bias"):
        np.testing.assert_array_equal(w, 0)

  @pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
  @pytest.mark.parametrize("variant", ["gru", "no_reset"])
  @pytest.mark.parametrize("revers, lengths", [
      (False, None), (False, [7, 3, 0, 1]), (True, None),
      (True, [7, 3, 0, 1]), (True, [1, 7, 7, 2])])
  def test_matches_numpy_reference(self, dtype, variant, revers, lengths):
    x = np.random.RandomState(0).uniform(-1, 1, (4, 7, 3)).astype(
        dtype.as_numpy_dtype)
    cls = loop_gru.GRU if variant == "gru" else loop_gru.GRUNoResetGate
    with tf.Graph().as_default() as graph:
      _v1.set_random_seed(1)
      inputs = _v1.placeholder(dtype, (None, None, 3))
      lengths_ph = _v1.placeholder(tf.int32, (None,))
      gru = cls(inputs, 3, 5, sequence_length=(
          lengths_ph if lengths is not None else None), revers=revers)
      feed = {inputs: x}
      if lengths is not None:
        feed[lengths_ph] = lengths
      out, weights = run(graph, gru.output(), feed)
    roles = LOOP_ROLES if variant == "gru" else NO_RESET_ROLES
    expected_in = (numpy_reference.reverse_sequence(x, lengths) if revers
                   else x)
    expected = numpy_reference.loop_gru(
        expected_in, by_role(weights, "gru_init", roles),
        reset_gate=variant == "gru")
    assert out.dtype == dtype.as_numpy_dtype
    np.testing.assert_allclose(out, expected, **REFERENCE_TOL[dtype])

  @pytest.mark.parametrize("lengths", [None, [5, 2, 0]])
  def test_bigru_matches_numpy_reference(self, lengths):
    x = np.random.RandomState(3).uniform(-1, 1, (3, 5, 2)).astype(np.float32)
    with tf.Graph().as_default() as graph:
      _v1.set_random_seed(4)
      bi = loop_gru.BiGRU(tf.constant(x), 2, 4, sequence_length=lengths)
      out, weights = run(graph, bi.output())
    expected = numpy_reference.loop_bigru(
        x, by_role(weights, "gru_init", LOOP_ROLES),
        by_role(weights, "gru_init_1", LOOP_ROLES), lengths)
    np.testing.assert_allclose(out, expected, **REFERENCE_TOL[tf.float32])

  def test_padding_is_not_masked(self):
    # Past a row's length the source keeps running over the padding.
    x = np.ones((1, 4, 2), np.float32)
    with tf.Graph().as_default() as graph:
      gru = loop_gru.GRU(tf.constant(x), 2, 3, sequence_length=[2])
      out, _ = run(graph, gru.output())
    assert not np.allclose(out[0, 2], out[0, 1])

  def test_builds_inside_a_graph_only(self):
    with pytest.raises(RuntimeError, match="tf.Graph"):
      loop_gru.GRU(np.zeros((1, 2, 3), np.float32), 3, 4)

  @pytest.mark.parametrize("inputs, kwargs, match", [
      (np.zeros((2, 3), np.float32), {}, "`inputs` must have rank 3"),
      (np.zeros((2, 3, 4), np.float32), {}, "`inputs` must have 3 features"),
      (np.zeros((2, 3, 3), np.int32), {}, "`inputs` must be a floating"),
      (np.zeros((2, 3, 3), np.float32), dict(hidden_dim=0), "hidden_dim"),
      (np.zeros((2, 3, 3), np.float32), dict(emb_dim=-1), "emb_dim"),
      (np.zeros((2, 3, 3), np.float32), dict(sequence_length=[1.0, 2.0]),
       "`sequence_length` must hold integers"),
      (np.zeros((2, 3, 3), np.float32), dict(sequence_length=[[1, 2]]),
       "`sequence_length` must be a \\[batch\\] vector"),
      (np.zeros((2, 3, 3), np.float32), dict(sequence_length=[1, 2, 3]),
       "one length per row"),
      (np.zeros((2, 3, 3), np.float32), dict(sequence_length=[1, 4]),
       "must lie in \\[0, 3\\]"),
      (np.zeros((2, 3, 3), np.float32), dict(sequence_length=[-1, 2]),
       "must lie in \\[0, 3\\]"),
      (np.zeros((2, 0, 3), np.float32), {},
       "`inputs` must have at least one time step"),
  ])
  def test_rejects_bad_input_at_build_time(self, inputs, kwargs, match):
    args = dict(emb_dim=3, hidden_dim=4, revers=True)
    args.update(kwargs)
    with tf.Graph().as_default():
      with pytest.raises(ValueError, match=match):
        loop_gru.GRU(tf.constant(inputs), **args)

  @pytest.mark.parametrize("feed_x, feed_len, match", [
      (np.zeros((2, 3, 4), np.float32), [1, 1], "must have 3 features"),
      (np.zeros((2, 3, 3), np.float32), [1, 4], "<= the time axis"),
      (np.zeros((2, 3, 3), np.float32), [-1, 1], ">= 0"),
      (np.zeros((2, 3, 3), np.float32), [1, 1, 1], "one length per row"),
      (np.zeros((2, 0, 3), np.float32), [0, 0],
       "`inputs` must have at least one time step"),
  ])
  def test_rejects_bad_input_at_run_time(self, feed_x, feed_len, match):
    with tf.Graph().as_default() as graph:
      inputs = _v1.placeholder(tf.float32, (None, None, None))
      lengths = _v1.placeholder(tf.int32, (None,))
      gru = loop_gru.GRU(inputs, 3, 4, sequence_length=lengths, revers=True)
      with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        run(graph, gru.output(), {inputs: feed_x, lengths: feed_len})
