"""TensorFlow's own TF1 LSTM cells -> Keras 3 and back, proven against TF's
own TF1 code: the goldens of `compat_tests/tf1_cells.py` (`LSTM_CASES`),
written by TensorFlow's cells in a subprocess (tf_keras; never in this
process), each with its `.meta`, which holds the forget bias and clips."""

import io
import os
import shutil

import numpy as np
import pytest

from compat_tests import golden_files
from compat_tests.test_converter_safety import assert_refused
from compat_tests.test_tf1_cells import Conversions
from compat_tests.test_tf1_cells import check
from compat_tests.test_tf1_cells import check_reproduces
from compat_tests.test_tf1_cells import golden_outputs
from compat_tests.test_tf1_cells import mask
from compat_tests.test_tf1_cells import mutated
from compat_tests.test_tf1_cells import outputs
from compat_tests.test_tf1_cells import run_command
from compat_tests.test_migration import save_variables
from compat_tests.test_migration import variables_of
from compat_tests import tf1_cells
from gru_commands import conversion
from gru_common import compare
from gru_common import tf1_lstm_cells as lstm_lib
from gru_common import tolerances
from migration import convert
from migration import exporters
from migration import kinds
from migration import legacy_names
from migration import mapping
from migration import models
from migration import tf1_checkpoint
from migration.kinds import tf1_gru_cells
from migration.kinds import tf1_lstm_cells
import tf2

CASES = tf1_cells.LSTM_CASES
PLAIN = sorted(n for n, c in CASES.items() if c.stock)
WITH_OPTIONS = sorted(set(CASES) - set(PLAIN))
# One case per kind, bound and wiring family (TF1 and TF2 loops, unrolled
# steps, stacks, both dtypes): --verify rerun against each graph, and the
# round trips through the TF2 layers.
VERIFIED = ("basic_lstm_adam", "basic_lstm_float64_multi",
            "cudnn_lstm_bidirectional", "layer_norm_lstm",
            "lstm_block_cell", "lstm_cell_bidirectional",
            "lstm_cell_options_float64", "lstm_cell_static")


def options(name):
  return {"allow_unconverted": True} if CASES[name].extra_layer else {}


def graph_bound(name, state):
  """The kind's bound against TF's own cell run on this machine."""
  component = state.description.components[0]
  return kinds.get(component.kind).graph_bound(component, ()).for_dtype(
      CASES[name].dtype)


def without_meta(name, tmp_path):
  """The case's checkpoint copied without its `.meta`."""
  folder = tmp_path / name
  folder.mkdir()
  for entry in os.listdir(os.path.dirname(tf1_cells.prefix(name))):
    if entry.startswith(tf1_cells.CHECKPOINT + ".") and not entry.endswith(
        ".meta"):
      shutil.copy(os.path.join(os.path.dirname(tf1_cells.prefix(name)),
                               entry), folder)
  return str(folder / tf1_cells.CHECKPOINT)


@pytest.fixture(scope="module")
def keras_files(tmp_path_factory):
  """{(case, target): .keras path} converted by the command."""
  return Conversions(tmp_path_factory.mktemp("tf1_lstm_cells"))


class TestConvert:

  @pytest.mark.parametrize("name, target", [
      (n, t) for n in sorted(CASES) for t in (mapping.KERAS, mapping.TF2)
      if (n, t) != (n, mapping.KERAS) or n in PLAIN])
  def test_reproduces_tf1_with_and_without_lengths(self, name, target,
                                                   keras_files):
    model = exporters.load_keras_file(keras_files[name, target])
    if target == mapping.KERAS:
      assert all(type(l).__module__.startswith("keras.")
                 for l in model.layers), [type(l) for l in model.layers]
    # The stock bound for both targets: the committed goldens may come from
    # another CPU (the tf2 layers are bitwise on this machine: the slow test
    # below).
    check_reproduces(model, name, tolerances.TF1_LSTM_STOCK)

  def test_options_have_no_stock_keras_layer(self, tmp_path):
    output = str(tmp_path / "out.keras")
    status, _, err = run_command(tf1_cells.prefix("lstm_cell_options"),
                                 output, target=mapping.KERAS)
    assert_refused(status, err, "has no stock Keras layer (Keras's LSTM has "
                   "no peepholes, num_proj 3, cell_clip 0.3, proj_clip 0.2)")
    assert not os.path.exists(output)

  def test_adam_state_and_global_step_carry(self, keras_files):
    model = exporters.load_keras_file(keras_files["basic_lstm_adam",
                                                  mapping.KERAS])
    assert int(model.optimizer.iterations.numpy()) == tf1_cells.STEPS


class TestForgetBias:

  @pytest.mark.parametrize("name, value", [
      ("lstm_cell_bidirectional", 0.5), ("lstm_cell_static", 0.0),
      ("lstm_cell_bi_multi_float64", 0.7), ("cudnn_compatible_lstm", 0.0),
      ("lstm_block_cell", 1.0)])
  def test_read_from_the_programs_graph(self, name, value):
    state = tf1_checkpoint.read(tf1_cells.prefix(name), **options(name))
    component = state.description.components[0]
    assert kinds.get(component.kind).forget_bias(component) == value
    assert component.settings.forget_bias_from == (
        tf1_lstm_cells.FROM_GRAPH)
    assert f"forget bias {value}, from the program's graph" in (
        component.describe())

  def test_without_the_graph_the_default_is_used_and_said(self, tmp_path):
    prefix = without_meta("lstm_cell_bidirectional", tmp_path)
    status, out, err = run_command(prefix, str(tmp_path / "out.keras"))
    assert status == 0, err
    assert "(forget bias 1.0, from TF 1.15's default)" in out

  def test_the_flag_sets_it_where_the_graph_is_not_there(self, tmp_path):
    name = "lstm_cell_bidirectional"
    prefix = without_meta(name, tmp_path)
    output = str(tmp_path / "out.keras")
    status, out, err = run_command(prefix, output, target=mapping.KERAS,
                                   forget_bias=0.5)
    assert status == 0, err
    assert "(forget bias 0.5, from --forget_bias)" in out
    model = exporters.load_keras_file(output)
    golden = golden_outputs(name)
    check(outputs(model, golden)[0], golden["outputs"],
          tolerances.TF1_LSTM_STOCK.for_dtype("float32"))

  def test_a_flag_contradicting_the_graph_is_refused(self, tmp_path):
    output = str(tmp_path / "out.keras")
    status, _, err = run_command(tf1_cells.prefix("lstm_cell_bidirectional"),
                                 output, forget_bias=1.0)
    assert_refused(status, err, "--forget_bias=1.0: contradicts the "
                   "program's graph, whose LSTMCells add 0.5 to the forget "
                   "gate")
    assert not os.path.exists(output)

  def test_a_flag_for_a_gru_is_refused(self, tmp_path):
    output = str(tmp_path / "out.keras")
    status, _, err = run_command(tf1_cells.prefix("gru_cell"), output,
                                 forget_bias=1.0)
    assert_refused(status, err, "has no forget bias (only TF1 LSTM cells do)")
    assert not os.path.exists(output)


class TestRoundTrip:

  @pytest.mark.parametrize("name", VERIFIED + ("lstm_cell_options",
                                               "layer_norm_lstm_bidirectional"
                                               "_float64"))
  def test_through_tf2_layers_is_bitwise(self, name, keras_files, tmp_path):
    self._round_trip(name, keras_files[name, mapping.TF2], tmp_path,
                     fold=False)

  @pytest.mark.parametrize("name", PLAIN)
  def test_through_stock_keras_is_bitwise_but_the_folded_forget_bias(
      self, name, keras_files, tmp_path):
    self._round_trip(name, keras_files[name, mapping.KERAS], tmp_path,
                     fold=True)

  def _round_trip(self, name, path, tmp_path, fold):
    back = str(tmp_path / "back.ckpt")
    status, _, err = run_command(path, back)
    assert status == 0, err
    source, result = variables_of(tf1_cells.prefix(name)), variables_of(back)
    _, plan = tf1_checkpoint.read_selection(tf1_cells.prefix(name),
                                            **options(name))
    assert set(result) == set(source) - set(plan.left_behind) - set(
        plan.not_read)
    component = plan.description.components[0]
    forget_bias = kinds.get(component.kind).forget_bias(component)
    for n, value in result.items():
      assert value.dtype == source[n].dtype, n
      if not (fold and n.endswith("/bias") and n in component.variables()
              and forget_bias):
        assert compare.bitwise_equal(value, source[n]), n
        continue
      # (b + forget_bias) - forget_bias: b within one ulp of the folded
      # value, in the forget gate's block only.
      units = value.shape[0] // 4
      gates = np.split(np.arange(value.shape[0]), 4)
      for block, index in enumerate(gates):
        if block != tf1_lstm_cells.FORGET_BLOCK:
          assert compare.bitwise_equal(value[index], source[n][index]), n
      forget = gates[tf1_lstm_cells.FORGET_BLOCK]
      folded = source[n][forget] + source[n].dtype.type(forget_bias)
      assert (np.abs(value[forget] - source[n][forget]) <=
              np.spacing(np.abs(folded))).all(), (n, units)


class TestInspect:

  @pytest.mark.parametrize("name, kind, written_by", [
      ("basic_lstm", "TF1 BasicLSTMCell (forget bias 1.0, from the "
       "program's graph)", "tf.nn.rnn_cell.BasicLSTMCell"),
      ("lstm_cell_options", "TF1 LSTMCell with peepholes, num_proj 3, "
       "cell_clip 0.3, proj_clip 0.2", "tf.nn.rnn_cell.LSTMCell"),
      ("lstm_block_cell", "TF1 LSTMBlockCell with peepholes",
       "tf.contrib.rnn.LSTMBlockCell"),
      ("lstm_block_cell_stack_bi", "TF1 2-layer stacked bidirectional "
       "LSTMBlockCell", "LSTMBlockCell"),
      ("cudnn_compatible_lstm", "TF1 2-layer MultiRNNCell "
       "CudnnCompatibleLSTMCell (forget bias 0.0",
       "tf.contrib.cudnn_rnn.CudnnCompatibleLSTMCell"),
      ("cudnn_lstm_bidirectional", "TF1 2-layer stacked bidirectional "
       "CudnnLSTM (forget bias 0.0", "tf.contrib.cudnn_rnn.CudnnLSTM"),
      ("layer_norm_lstm_bidirectional_float64", "TF1 bidirectional "
       "LayerNormBasicLSTMCell with layer norm (forget bias 0.5, from the "
       "program's graph)", "tf.contrib.rnn.LayerNormBasicLSTMCell"),
  ])
  def test_names_each_kind(self, name, kind, written_by):
    out = io.StringIO()
    assert conversion.inspect_command(tf1_cells.prefix(name), stdout=out) == 0
    text = out.getvalue()
    assert kind in text and written_by in text, text

  def test_finds_every_case_at_its_scope(self):
    for name, case in CASES.items():
      found = tf1_checkpoint.inspect(tf1_cells.prefix(name))
      (rnn,) = found.rnns
      assert rnn.description is not None, rnn.problems
      component = rnn.description.components[0]
      assert component.units == case.units and component.dtype == case.dtype
      assert component.kind == ("CudnnLSTM" if case.cudnn else case.cell), (
          name)
      assert rnn.scope.startswith(case.scope), (name, rnn.scope)


L = "rnn/basic_lstm_cell/"
P = "rnn/lstm_cell/"


class TestRefusals:

  @pytest.mark.parametrize("name, edit, match", [
      ("basic_lstm", lambda v: v.update({L + "kernel": np.zeros(
          (8, 18), np.float32), L + "bias": np.zeros(18, np.float32)}),
       "are not an LSTM's [in+u, 4u] and [4u]: the kernel's width is not 4 "
       "units"),
      ("basic_lstm", lambda v: v.update({L + "w_f_diag": np.zeros(
          5, np.float32), L + "w_i_diag": np.zeros(5, np.float32),
                                          L + "w_o_diag": np.zeros(
                                              5, np.float32)}),
       "it has peephole variables, which a BasicLSTMCell has none of"),
      ("lstm_cell_options", lambda v: v.pop(P + "w_o_diag"),
       "has some of the peepholes"),
      ("layer_norm_lstm", lambda v: v.pop(
          "rnn/layer_norm_basic_lstm_cell/state/beta"),
       "or layer-norm variables, not all"),
      # A projection that does not start from the cell's units.
      ("lstm_cell_options", lambda v: v.update({
          P + "projection/kernel": np.zeros((4, 3), np.float32)}),
       "'rnn/lstm_cell/projection/kernel' has shape (4, 3); with its bias "
       "[4 x 5] and projection to 3 the cell needs (5, 3)"),
  ])
  def test_refused_by_name_and_nothing_written(self, tmp_path, name, edit,
                                               match):
    prefix = mutated(tmp_path, name, edit)
    output = str(tmp_path / "out.keras")
    status, _, err = run_command(prefix, output, target=mapping.TF2)
    assert_refused(status, err, match)
    assert not os.path.exists(output)


  @pytest.mark.parametrize("field, value, match", [
      ("recurrent_activation", "hard_sigmoid",
       "recurrent_activation='hard_sigmoid', but the legacy TF1 "
       "BasicLSTMCell (forget bias 1.0, from the converted model) uses "
       "sigmoid for the gates"),
      ("unit_forget_bias", False, "unit_forget_bias=False"),
  ])
  def test_a_keras_lstm_tf1_cannot_compute_is_refused_going_back(
      self, keras_files, tmp_path, field, value, match):
    import keras  # pylint: disable=g-import-not-at-top
    model = keras.saving.load_model(keras_files["basic_lstm", mapping.KERAS])
    config = model.get_config()
    for layer in config["layers"]:
      if layer["class_name"] == "LSTM":
        layer["config"][field] = value
    edited = keras.Model.from_config(config)
    edited.set_weights(model.get_weights())
    path = str(tmp_path / "edited.keras")
    edited.save(path)
    status, _, err = run_command(path, str(tmp_path / "back" / "model.ckpt"))
    assert_refused(status, err, match)
    assert os.listdir(tmp_path) == ["edited.keras"]


class TestNamesBeforeTF12:
  """Checkpoints written before TF 1.2 (`weights`/`biases`; TF 0.x's
  `MultiRNNCell/Cell<i>/BasicLSTMCell/Linear/Matrix`), read under today's
  names as TF's checkpoint_convert.py renames them."""

  @pytest.mark.parametrize("name, rename", [
      ("basic_lstm_float64_multi", lambda n: n.replace(
          "/kernel", "/weights").replace("/bias", "/biases")),
      ("basic_lstm_float64_multi", lambda n: n.replace("rnn/", "RNN/").replace(
          "multi_rnn_cell/cell_", "MultiRNNCell/Cell").replace(
              "basic_lstm_cell/kernel", "BasicLSTMCell/Linear/Matrix").replace(
                  "basic_lstm_cell/bias", "BasicLSTMCell/Linear/Bias")),
      ("gru_cell", lambda n: n.replace("/kernel", "/weights").replace(
          "/bias", "/biases")),
  ], ids=["lstm-tf1.0", "lstm-tf0.x", "gru-tf1.0"])
  def test_convert_as_renamed_and_say_so(self, tmp_path, name, rename):
    source = variables_of(tf1_cells.prefix(name))
    old = {rename(n): v for n, v in source.items()}
    prefix = save_variables(str(tmp_path / "old.ckpt"), old)
    names = sorted(old)
    output = str(tmp_path / "lstm.keras")
    status, out, err = run_command(prefix, output, verify=True)
    assert status == 0, err
    assert "read under TF 1.2's names" in out and names[0] in out
    golden = golden_outputs(name)
    model = exporters.load_keras_file(output)
    check(outputs(model, golden)[0], golden["outputs"],
          golden_files.bound(golden["outputs"].dtype))
    back = str(tmp_path / "back.ckpt")
    status, _, err = run_command(output, back)
    assert status == 0, err
    # Back under TF 1.2's names (TF 0.x's scope `RNN` is a scope name).
    result = variables_of(back)
    want = {legacy_names.current_name(n): v for n, v in old.items()}
    assert sorted(result) == sorted(want)
    for n, value in result.items():
      assert compare.bitwise_equal(value, want[n]), n

  def test_an_old_and_a_new_name_of_one_variable_are_refused(self, tmp_path):
    values = variables_of(tf1_cells.prefix("basic_lstm"))
    values[L + "weights"] = values[L + "kernel"]
    prefix = save_variables(str(tmp_path / "both.ckpt"), values)
    status, _, err = run_command(prefix, str(tmp_path / "out.keras"))
    assert_refused(status, err, "'rnn/basic_lstm_cell/weights' and "
                   "'rnn/basic_lstm_cell/kernel' are both "
                   "'rnn/basic_lstm_cell/kernel' under TF 1.2's names")


class TestMappingTable:

  @pytest.mark.parametrize("forget_bias", [0.0, 1.0, 0.7])
  def test_every_element_placed_once_both_ways(self, forget_bias):
    spec = tf1_gru_cells.model(lstm_lib.LSTM_CELL, tf1_gru_cells.STACK_BI,
                               (3, 2), 4, "float64", ("c",) * 4)
    component = spec.components[0]
    spec = type(spec)((type(component)(**{
        **component.__dict__, "settings": type(component.settings)(
            component.settings.paths, forget_bias=forget_bias)}),))
    model = models.build(spec, mapping.KERAS)
    places = mapping.placements(spec, model, mapping.KERAS)  # checks cover
    rng = np.random.RandomState(0)
    values = {n: rng.uniform(-1, 1, s) for n, s in spec.shapes().items()}
    mapping.to_model(values, places)
    cell = model.get_layer("cell_0>bidirectional_rnn").forward_layer.cell
    keras_bias = np.asarray(cell.bias.numpy())
    tf1_bias = values["cell_0/bidirectional_rnn/fw/c/bias"]
    assert compare.bitwise_equal(keras_bias[3:6], tf1_bias[6:9] + forget_bias)
    back = mapping.from_model(places)
    assert sorted(back) == sorted(values)
    for n, v in values.items():
      if forget_bias == 0.0 or not n.endswith("/bias"):
        assert compare.bitwise_equal(back[n], v), n
      else:
        assert np.abs(back[n] - v).max() <= np.spacing(2.0), n


# One per thing ONNX's LSTM operator is given: a stock LSTM with a forget
# bias folded into B, peepholes as P (from the TF2 layers), a stacked
# bidirectional stack, a forget bias of 0.
ONNX_CELLS = ("basic_lstm", "cudnn_lstm_bidirectional", "lstm_cell_peepholes",
              "lstm_cell_static")


class TestOnnx:
  """ONNX's LSTM operator, peepholes as P, the forget bias folded into B;
  run in onnxruntime against TensorFlow's own outputs."""

  @pytest.mark.parametrize("name", ONNX_CELLS)
  def test_reproduces_tf1_with_and_without_lengths(self, name, tmp_path):
    onnx = pytest.importorskip("onnx", reason="pip install '.[onnx]'")
    pytest.importorskip("onnxruntime", reason="pip install '.[onnx]'")
    from migration import onnx_export  # pylint: disable=g-import-not-at-top
    path = str(tmp_path / f"{name}.onnx")
    status, out, err = run_command(tf1_cells.prefix(name), path, verify=True,
                                   **options(name))
    assert status == 0, err
    assert "the program's own graph" in out
    model = onnx.load(path)
    assert {n.op_type for n in model.graph.node} & {"LSTM", "MatMul"} == {
        "LSTM"}
    peepholes = [len(n.input) == 8 for n in model.graph.node
                 if n.op_type == "LSTM"]
    assert peepholes and all(p == CASES[name].use_peepholes
                             for p in peepholes)
    with open(path, "rb") as f:
      data = f.read()
    golden = golden_outputs(name)
    bound = tolerances.ONNX_RUNTIME.float32
    check(onnx_export.run(data, golden["x"])["rnn"], golden["outputs"], bound)
    masked = onnx_export.run(data, golden["x"], golden["lengths"])["rnn"]
    check(masked, golden["outputs_with_lengths"], bound)
    assert not masked[~mask(golden)].any()

  @pytest.mark.parametrize("name", [
      "lstm_cell_options",
      pytest.param("lstm_block_cell", marks=pytest.mark.slow),
      pytest.param("basic_lstm_float64_multi", marks=pytest.mark.slow),
      pytest.param("layer_norm_lstm", marks=pytest.mark.slow)])
  def test_what_onnx_lstm_cannot_compute_runs_as_a_scan(self, name,
                                                         tmp_path):
    """Projection, cell clipping (ONNX's clip clips the gates), layer norm
    and float64 (no double LSTM kernel): a `Scan` of the cell's step in
    primitive ops, verified, reproducing TF1 with and without lengths."""
    onnx = pytest.importorskip("onnx", reason="pip install '.[onnx]'")
    from migration import onnx_export  # pylint: disable=g-import-not-at-top
    path = str(tmp_path / f"{name}.onnx")
    status, _, err = run_command(tf1_cells.prefix(name), path, verify=True,
                                 **options(name))
    assert status == 0, err
    ops = {n.op_type for n in onnx.load(path).graph.node}
    assert "Scan" in ops and "LSTM" not in ops
    with open(path, "rb") as f:
      data = f.read()
    golden = golden_outputs(name)
    bound = tolerances.ONNX_RUNTIME.for_dtype(CASES[name].dtype)
    check(onnx_export.run(data, golden["x"])["rnn"], golden["outputs"], bound)
    masked = onnx_export.run(data, golden["x"], golden["lengths"])["rnn"]
    check(masked, golden["outputs_with_lengths"], bound)
    assert not masked[~mask(golden)].any()


class TestTF1LSTMCell:

  def test_saves_and_loads_in_safe_mode(self, tmp_path):
    import keras  # pylint: disable=g-import-not-at-top
    cell = tf2.TF1LSTMCell(3, "LSTMCell", forget_bias=0.25,
                           use_peepholes=True, num_proj=2, cell_clip=0.5,
                           proj_clip=0.4, dtype="float64")
    inputs = keras.Input((5, 4), dtype="float64")
    model = keras.Model(inputs, keras.layers.RNN(
        cell, return_sequences=True, dtype="float64")(inputs))
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    x = np.random.RandomState(0).uniform(-1, 1, (2, 5, 4))
    assert compare.bitwise_equal(np.asarray(loaded(x)), np.asarray(model(x)))
    config = loaded.layers[-1].cell.get_config()
    assert (config["forget_bias"], config["num_proj"], config["cell_clip"],
            config["proj_clip"]) == (0.25, 2, 0.5, 0.4)

  @pytest.mark.parametrize("kwargs, match", [
      ({"kind": "GRUCell"}, "`kind` must be one of"),
      ({"kind": "BasicLSTMCell", "use_peepholes": True},
       "`use_peepholes`: a BasicLSTMCell has no peepholes"),
      ({"kind": "LSTMBlockCell", "num_proj": 2},
       "`num_proj`: a LSTMBlockCell has no projection"),
      ({"proj_clip": 1.0}, "`proj_clip` needs `num_proj`"),
      ({"cell_clip": -1.0}, "`cell_clip` must be None or a number > 0"),
      ({"activation": "relu"}, "`activation` must be one of"),
      ({"forget_bias": "1"}, "`forget_bias` must be a number"),
  ])
  def test_bad_arguments_are_named(self, kwargs, match):
    with pytest.raises(ValueError, match=match):
      tf2.TF1LSTMCell(3, **kwargs)


_BACKEND_SCRIPT = """
import sys
import numpy as np
import keras
from gru_common import keras_precision
import tf2  # registers TF1LSTMCell
keras_precision.enable_float64()
out = {"backend": np.array(keras.backend.backend())}
for name, path, x in zip(sys.argv[2::3], sys.argv[3::3], sys.argv[4::3]):
  model = keras.saving.load_model(path)
  out[name] = np.asarray(keras.ops.convert_to_numpy(
      model.predict(np.load(x), verbose=0)))
np.savez(sys.argv[1], **out)
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_tf2_layers_run_on_jax_and_pytorch(backend, keras_files, tmp_path):
  """The --target=tf2 files (TF1LSTMCell, in keras.ops) of the kinds stock
  Keras has no layer for (test_backends.py runs the stock ones) under
  Keras's JAX and PyTorch backends with the float64 recipe: within the
  stock bounds of TensorFlow's own outputs (1e-5 float32, 1e-14 float64)."""
  import importlib.util  # pylint: disable=g-import-not-at-top
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  from compat_tests import backend_runner  # pylint: disable=g-import-not-at-top
  if importlib.util.find_spec(backend) is None:
    pytest.skip(f"{backend} is not installed (pip install "
                f"'.[{'test' if backend == 'jax' else 'backends'}]')")
  args = [str(tmp_path / "out.npz")]
  for name in WITH_OPTIONS:
    x = str(tmp_path / f"{name}.npy")
    np.save(x, golden_outputs(name)["x"])
    args += [name, keras_files[name, mapping.TF2], x]
  result = subprocess.run(
      [sys.executable, "-c", _BACKEND_SCRIPT, *args],
      cwd=backend_runner.REPOSITORY, env=backend_runner.environment(backend),
      capture_output=True, text=True, check=False, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  with np.load(tmp_path / "out.npz") as f:
    out = {k: f[k] for k in f.files}
  assert str(out["backend"]) == backend
  for name in WITH_OPTIONS:
    case = CASES[name]
    assert out[name].dtype == np.dtype(case.dtype), name
    check(out[name], golden_outputs(name)["outputs"],
          tolerances.TF1_LSTM_STOCK.for_dtype(case.dtype))


@pytest.mark.slow
def test_bitwise_with_tensorflows_own_cells_run_now(tmp_path):
  """Runs the TF1 programs now, on this machine: the tf2 layers match them
  bit for bit where the kind's bound says so, and --verify against each
  program's own graph passes with that bound."""
  tf1_cells.write_all(list(CASES), str(tmp_path), meta=True)
  # The oracle reproduces the committed goldens byte for byte.
  assert not tf1_cells.unlike_committed(CASES, str(tmp_path))
  for name in CASES:
    prefix = tf1_cells.prefix(name, str(tmp_path))
    state = tf1_checkpoint.read(prefix, **options(name))
    model, _ = convert.to_keras(state, mapping.TF2)
    live = golden_outputs(name, str(tmp_path))
    plain, masked = outputs(model, live)
    bound = graph_bound(name, state)
    check(plain, live["outputs"], bound)
    check(masked, live["outputs_with_lengths"], bound)
    if name in VERIFIED:
      report = exporters.convert_path(
          prefix, str(tmp_path / f"{name}.keras"), verify=True,
          **options(name))
      assert report.published, (name, report.summary)
      assert "the program's own graph" in report.summary, name
      assert {c.bound for c in report.checks} == {bound}, name
