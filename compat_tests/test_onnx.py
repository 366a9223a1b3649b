"""ONNX export (`tf1-convert-checkpoint --output=FILE.onnx`): ONNX's own GRU
operator and head ops, checked by `onnx.checker` and run in onnxruntime
against the legacy graph (both seeds, float32) and TensorFlow's own TF1
cells (the goldens, with and without sequence lengths), within
`tolerances.ONNX_RUNTIME`; what ONNX's GRU cannot compute (float64, the
tutorial GRU without a reset gate) as a Scan of primitive ops.
"""


import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="pip install '.[onnx]'")
onnxruntime = pytest.importorskip("onnxruntime",
                                  reason="pip install '.[onnx]'")

# pylint: disable=g-import-not-at-top,wrong-import-position
from compat_tests.test_tf1_cells import check
from compat_tests.test_tf1_cells import golden_outputs
from compat_tests.test_tf1_cells import options
from compat_tests.test_tf1_cells import run_command
from compat_tests import tf1_cells
from gru_common import compare
from gru_common import tolerances
from migration import exporters
from migration import legacy_graph
from migration import mapping
from migration import onnx_export
from migration import tf1_checkpoint
from migration import verification

BOUND = tolerances.ONNX_RUNTIME.float32
FLOAT32_CELLS = sorted(n for n, c in tf1_cells.CASES.items()
                       if c.dtype == "float32")
FLOAT64_CELLS = sorted(n for n, c in tf1_cells.CASES.items()
                       if c.dtype == "float64")
SEEDS = ("scan_float32", "loop", "loop_classifier", "bigru")


def load(path):
  model = onnx.load(path)
  onnx.checker.check_model(model, full_check=True)
  with open(path, "rb") as f:
    return model, f.read()


def within(got, want):
  return check(got, want, BOUND)


@pytest.fixture(scope="module")
def cell_files(tmp_path_factory):
  """{golden: .onnx path}, written by the command with --verify."""
  folder = tmp_path_factory.mktemp("onnx_cells")
  out = {}
  for name in FLOAT32_CELLS:
    path = str(folder / f"{name}.onnx")
    status, stdout, err = run_command(tf1_cells.prefix(name), path,
                                      verify=True, **options(name))
    assert status == 0, err
    assert "rnn" in stdout and "ok" in stdout
    out[name] = path
  return out


class TestTF1Cells:

  @pytest.mark.parametrize("name", FLOAT32_CELLS)
  def test_reproduces_tf1_with_and_without_lengths(self, name, cell_files):
    model, data = load(cell_files[name])
    golden = golden_outputs(name)
    plain = onnx_export.run(data, golden["x"])["rnn"]
    within(plain, golden["outputs"])
    masked = onnx_export.run(data, golden["x"], golden["lengths"])["rnn"]
    within(masked, golden["outputs_with_lengths"])
    steps = np.arange(tf1_cells.TIME)[None, :] < golden["lengths"][:, None]
    assert not masked[~steps].any()
    ops = [n.op_type for n in model.graph.node]
    assert "GRU" in ops
    assert not {"MatMul", "Sigmoid", "Tanh"} & set(ops)

  def test_gru_attributes_follow_the_family(self, cell_files):
    def attributes(name):
      model, _ = load(cell_files[name])
      return [{a.name: onnx.helper.get_attribute_value(a)
               for a in n.attribute}
              for n in model.graph.node if n.op_type == "GRU"]
    assert [a["linear_before_reset"] for a in attributes("gru_cell")] == [0]
    assert [a["linear_before_reset"]
            for a in attributes("cudnn_compatible")] == [1]
    assert [a["direction"] for a in attributes("cudnn_gru_bidirectional")] \
        == [b"bidirectional"] * 2
    assert sorted(a["direction"] for a in attributes("gru_cell_bi_multi")) \
        == [b"forward", b"forward", b"reverse", b"reverse"]

  def test_dynamic_batch_and_time_and_optional_lengths(self, cell_files):
    model, data = load(cell_files["gru_cell_multi"])
    x = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in x] == ["batch", "time", 3]
    assert [i.name for i in model.graph.input] == ["x", "sequence_lens"]
    rng = np.random.RandomState(3)
    for batch, time in ((1, 1), (7, 23)):
      xs = rng.uniform(-1, 1, (batch, time, 3)).astype(np.float32)
      without = onnx_export.run(data, xs)["rnn"]
      full = onnx_export.run(data, xs, [time] * batch)["rnn"]
      assert without.shape == (batch, time, 4)
      assert compare.compare(without, full).bitwise

  @pytest.mark.parametrize("name", [
      n if k == 0 else pytest.param(n, marks=pytest.mark.slow)
      for k, n in enumerate(FLOAT64_CELLS)])
  def test_float64_runs_as_a_scan_in_double(self, name, tmp_path):
    """float64, which onnxruntime's GRU kernel lacks: a `Scan` of the
    cell's step in primitive ops, in double, reproducing TF1's outputs with
    and without lengths within the float64 bound."""
    path = str(tmp_path / "m.onnx")
    status, _, err = run_command(tf1_cells.prefix(name), path, verify=True,
                                 **options(name))
    assert status == 0, err
    model, data = load(path)
    ops = {n.op_type for n in model.graph.node}
    assert "Scan" in ops and "GRU" not in ops
    golden = golden_outputs(name)
    bound = tolerances.ONNX_RUNTIME.float64
    plain = onnx_export.run(data, golden["x"])["rnn"]
    assert plain.dtype == np.float64
    check(plain, golden["outputs"], bound)
    masked = onnx_export.run(data, golden["x"], golden["lengths"])["rnn"]
    check(masked, golden["outputs_with_lengths"], bound)


def _exported(prefix, folder):
  """(the checkpoint's state, the ONNX model, its bytes) of the command's
  verified export of `prefix`."""
  path = str(folder / "m.onnx")
  status, _, err = run_command(prefix, path, verify=True)
  assert status == 0, err
  return (tf1_checkpoint.read(prefix), *load(path))


def _weights(values):
  """The sorted magnitudes of every nonzero weight element."""
  flat = np.concatenate([np.abs(np.asarray(v, np.float64)).ravel()
                         for v in values])
  return np.sort(flat[flat != 0])


class TestSeeds:

  @pytest.mark.parametrize("variant", SEEDS)
  def test_from_tf1_and_from_keras_files(self, variant, checkpoints,
                                         tmp_path):
    """From the TF1 checkpoint and from both .keras targets: the same ONNX
    outputs, within the bound of the legacy graph, with every weight there
    exactly once (negated for the Data Blogger update gate)."""
    prefix = checkpoints[variant]
    state = tf1_checkpoint.read(prefix)
    path = str(tmp_path / "m.onnx")
    status, stdout, err = run_command(prefix, path, verify=True)
    assert status == 0, err
    assert "not exported: the optimizer state" in stdout
    model, data = load(path)
    x = verification.probe_inputs(state.description, batch=5, time=9, seed=4)
    want = legacy_graph.run(legacy_graph.build(state.description), x,
                            prefix=prefix)
    got = onnx_export.run(data, x)
    assert sorted(got) == sorted(want)
    for name in want:
      within(got[name], want[name])
    # Every float tensor initializer is a weight; scalars are operators'
    # constants (the 1 of a Scan step's 1 - z).
    floats = [onnx.numpy_helper.to_array(t) for t in model.graph.initializer
              if t.data_type == onnx.TensorProto.FLOAT and t.dims]
    assert np.array_equal(_weights(floats), _weights(state.values.values()))
    for target in mapping.TARGETS:
      keras_path = str(tmp_path / f"{target}.keras")
      assert run_command(prefix, keras_path, target=target)[0] == 0
      again = str(tmp_path / f"{target}.onnx")
      status, _, err = run_command(keras_path, again, verify=True)
      assert status == 0, err
      with open(again, "rb") as f:
        assert f.read() != b""
      for name, value in onnx_export.run(load(again)[1], x).items():
        assert compare.compare(value, got[name]).bitwise

  @pytest.mark.parametrize("variant", [
      "loop_no_reset",
      pytest.param("bigru_no_reset_classifier", marks=pytest.mark.slow),
      pytest.param("scan_addition", marks=pytest.mark.slow)])
  def test_what_onnx_gru_cannot_compute_runs_as_a_scan(
      self, variant, checkpoints, tmp_path):
    """The tutorial GRU without a reset gate (ONNX's GRU always has one)
    and the float64 Data Blogger GRU (no double GRU kernel): a `Scan` of
    the cell's step, verified against the legacy graph and within the
    bound of it here."""
    prefix = checkpoints[variant]
    state, model, data = _exported(prefix, tmp_path)
    ops = {n.op_type for n in model.graph.node}
    assert "Scan" in ops and "GRU" not in ops
    x = verification.probe_inputs(state.description, batch=5, time=9, seed=4)
    want = legacy_graph.run(legacy_graph.build(state.description), x,
                            prefix=prefix)
    got = onnx_export.run(data, x)
    bound = tolerances.ONNX_RUNTIME.for_dtype(state.description.dtype)
    assert sorted(got) == sorted(want)
    for name in want:
      assert got[name].dtype == want[name].dtype
      check(got[name], want[name], bound)


def _legacy_bigru_with_lengths(state, prefix, x, lengths):
  """The tutorial BiGRU's legacy graph (`legacy.loop_gru.BiGRU`) run with
  `sequence_length`, restored from the checkpoint."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from legacy import loop_gru  # pylint: disable=g-import-not-at-top
  from legacy import runtime  # pylint: disable=g-import-not-at-top
  v1 = tf.compat.v1
  gru = state.description.components[0]
  root = state.description.with_scopes(
      {c.name: "" for c in state.description.components})
  graph = tf.Graph()
  with graph.as_default(), runtime.tf1_control_flow():
    inputs = v1.placeholder(gru.dtype, (None, None, gru.input_dim))
    lengths_t = v1.placeholder(tf.int32, (None,))
    cls = (loop_gru.GRU if gru.settings.reset_gate else
           loop_gru.GRUNoResetGate)
    output = loop_gru.BiGRU(inputs, gru.input_dim, gru.units[0],
                            sequence_length=lengths_t,
                            gru_class=cls).output()
    names = dict(zip(root.components[0].variables(), gru.variables()))
    saver = v1.train.Saver({names[v.op.name]: v
                            for v in v1.global_variables()})
    with v1.Session(graph=graph) as session:
      saver.restore(session, prefix)
      return session.run(output, {inputs: x, lengths_t: lengths})


@pytest.mark.parametrize("variant", [
    "bigru",
    pytest.param("bigru_no_reset_classifier", marks=pytest.mark.slow)])
def test_tutorial_bigru_reverses_within_the_lengths_it_is_fed(
    variant, checkpoints, tmp_path):
  """The tutorial BiGRU's ONNX file takes `sequence_lens`: its backward GRU
  reads each row reversed within its length and runs every step (no mask),
  as the legacy BiGRU does with `sequence_length`; without lengths, the
  whole row is reversed."""
  prefix = checkpoints[variant]
  state, model, data = _exported(prefix, tmp_path)
  assert [i.name for i in model.graph.input] == ["x", "sequence_lens"]
  x = verification.probe_inputs(state.description, batch=4, time=7, seed=5)
  lengths = np.array([7, 3, 1, 5], np.int32)
  got = onnx_export.run(data, x, lengths)["gru"]
  bound = tolerances.ONNX_RUNTIME.for_dtype(state.description.dtype)
  check(got, _legacy_bigru_with_lengths(state, prefix, x, lengths), bound)
  whole = onnx_export.run(data, x)["gru"]
  check(whole, _legacy_bigru_with_lengths(state, prefix, x, [7] * 4), bound)
  assert not compare.compare(got, whole).within(bound)


def test_onnxruntime_still_has_no_float64_gru():
  """Why float64 runs as a Scan of primitive ops. (If onnxruntime gains a
  double GRU kernel, this fails, and float64 can use ONNX's GRU.)"""
  helper = onnx.helper
  t = onnx.TensorProto.DOUBLE
  w = onnx.numpy_helper.from_array(np.ones((1, 3, 1)), "W")
  r = onnx.numpy_helper.from_array(np.ones((1, 3, 1)), "R")
  graph = helper.make_graph(
      [helper.make_node("GRU", ["x", "W", "R"], ["y"], hidden_size=1)], "g",
      [helper.make_tensor_value_info("x", t, [1, 1, 1])],
      [helper.make_tensor_value_info("y", t, [1, 1, 1, 1])], [w, r])
  model = helper.make_model(graph, opset_imports=[
      helper.make_opsetid("", onnx_export.OPSET)])
  model.ir_version = onnx_export.IR_VERSION
  session = onnxruntime.InferenceSession(model.SerializeToString(),
                                         providers=["CPUExecutionProvider"])
  with pytest.raises(Exception, match="does not support double"):
    session.run(None, {"x": np.ones((1, 1, 1))})


def test_onnx_output_with_to_keras_file_refused(tmp_path):
  prefix = tf1_checkpoint.LegacyState.example("loop").write_example()
  with pytest.raises(ValueError, match="must end in .keras"):
    exporters.convert_path(prefix, str(tmp_path / "m.onnx"),
                         to_keras_file=True)


def test_an_onnx_too_new_for_the_installed_ml_dtypes_is_named(monkeypatch):
  # TensorFlow 2.16 and 2.17 pin ml_dtypes < 0.5; onnx 1.19 and later fail
  # at import there. The exporter says what to install instead.
  import builtins  # pylint: disable=g-import-not-at-top
  real_import = builtins.__import__

  def importing(name, *args, **kwargs):
    if name == "onnx":
      raise AttributeError(
          "module 'ml_dtypes' has no attribute 'float4_e2m1fn'")
    return real_import(name, *args, **kwargs)

  monkeypatch.setattr(builtins, "__import__", importing)
  with pytest.raises(onnx_export.OnnxError,
                     match=r"ml_dtypes >= 0.5.*pip install 'onnx<1.19'"):
    onnx_export._onnx()  # pylint: disable=protected-access
