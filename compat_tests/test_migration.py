"""The migration layer: detection, exact conversion both ways, refusals."""

import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from compat_tests import legacy_checkpoints
from compat_tests import script_runner
from gru_commands import conversion
from gru_common import compare
from legacy import runtime
from migration import convert
from migration import description as description_lib
from migration import exporters
from migration.kinds import seeds
from migration import legacy_graph
from migration import live
from migration import mapping
from migration import models
from migration import optimizer_state
from migration import publish
from migration import tf1_checkpoint
from migration import verification

_v1 = tf.compat.v1
SPECS = legacy_checkpoints.SPECS
KERAS_SPECS = [n for n, s in SPECS.items()
               if models.has_target(s, mapping.KERAS)]


def assert_same_variables(a, b):
  a, b = a.to_variables(), b.to_variables()
  assert sorted(a) == sorted(b)
  for name in a:
    assert compare.bitwise_equal(np.asarray(a[name]), np.asarray(b[name])), (
        name)


class TestDetection:

  @pytest.mark.parametrize("name", sorted(SPECS))
  def test_detects_every_variant(self, checkpoints, name):
    state = tf1_checkpoint.read(checkpoints[name])
    assert state.description == SPECS[name]
    assert state.adam is not None
    assert set(state.adam.m) == set(SPECS[name].variable_names())

  def test_reads_a_folder_and_a_checkpoint_without_adam(self, tmp_path):
    prefix = legacy_checkpoints.make(SPECS["loop"], str(tmp_path / "c" / "m"),
                                     adam=False)
    state = tf1_checkpoint.read(os.path.dirname(prefix))
    assert state.description == SPECS["loop"] and state.adam is None


def variables_of(prefix):
  reader = tf.train.load_checkpoint(prefix)
  return {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()}


def save_variables(prefix, values):
  """Writes {name: array} as a TF1 checkpoint at `prefix`; returns it."""
  names = sorted(values)
  tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names,
                    shape_and_slices=[""] * len(names),
                    tensors=[tf.constant(values[n]) for n in names])
  return prefix


class TestRefusals:

  @pytest.mark.parametrize("edit, error, match", [
      (lambda v: v.pop("Uz"), description_lib.SpecError, "lacks \\['Uz'\\]"),
      (lambda v: v.update(extra=np.zeros(3)), description_lib.SpecError,
       "would leave behind \\['extra'\\]; pass allow_unconverted=True"),
      (lambda v: v.update(Ur=np.zeros((6, 4))), description_lib.SpecError,
       "'Ur' has shape \\(6, 4\\)"),
      (lambda v: v.update(br=v["br"].astype(np.float32)),
       description_lib.SpecError,
       "disagree in dtype: \\['br'\\] are float32, the others float64"),
      (lambda v: v.update({n: x.astype(np.float16) for n, x in v.items()
                           if "power" not in n}), description_lib.SpecError,
       "dtype must be one of \\('float32', 'float64'\\)"),
      (lambda v: v.pop("Wh/Adam_1"), description_lib.SpecError,
       "incomplete Adam state: variable 'Wh'"),
      (lambda v: v.pop("beta2_power"), description_lib.SpecError,
       "incomplete Adam state"),
      (lambda v: v["Wr"].__setitem__((0, 0), np.nan),
       tf1_checkpoint.CheckpointError, "'Wr' holds 1 NaN or Inf"),
      (lambda v: v["bh/Adam"].__setitem__(0, np.inf),
       tf1_checkpoint.CheckpointError, "'bh/Adam' holds 1 NaN or Inf"),
  ])
  def test_refuses_bad_variables_naming_them(self, checkpoints, edit, error,
                                             match):
    values = variables_of(checkpoints["scan_addition"])
    edit(values)
    with pytest.raises(error, match=match):
      tf1_checkpoint.LegacyState.from_variables(values)

  def test_refuses_another_models_checkpoint(self, tmp_path):
    prefix = str(tmp_path / "other")
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=["dense/kernel",
                                                   "dense/bias"],
                      shape_and_slices=["", ""],
                      tensors=[tf.zeros((3, 2)), tf.zeros((2,))])
    with pytest.raises(description_lib.SpecError,
                       match="not one of this project"):
      tf1_checkpoint.read(prefix)

  def test_refuses_missing_truncated_and_corrupted_files(self, checkpoints,
                                                         tmp_path):
    with pytest.raises(FileNotFoundError, match="no TF1 checkpoint at"):
      tf1_checkpoint.read(str(tmp_path / "absent"))
    source = checkpoints["loop"]
    for damage in ("truncate_data", "flip_data", "truncate_index"):
      folder = tmp_path / damage
      folder.mkdir()
      for f in publish.checkpoint_files(source):
        shutil.copy(f, folder)
      prefix = str(folder / os.path.basename(source))
      data = publish.checkpoint_files(prefix)[0]
      index = prefix + ".index"
      if damage == "truncate_data":
        os.truncate(data, os.path.getsize(data) // 2)
      elif damage == "flip_data":
        with open(data, "r+b") as f:
          f.seek(os.path.getsize(data) // 2)
          byte = f.read(1)
          f.seek(-1, 1)
          f.write(bytes([byte[0] ^ 0xFF]))
      else:
        os.truncate(index, os.path.getsize(index) // 2)
      with pytest.raises(tf1_checkpoint.CheckpointError,
                         match="truncated or corrupted"):
        tf1_checkpoint.read(prefix)

  def test_refuses_a_tf2_checkpoint_as_tf1_input(self, tmp_path):
    prefix = tf.train.Checkpoint(v=tf.Variable(1.0)).write(
        str(tmp_path / "tf2"))
    with pytest.raises(tf1_checkpoint.CheckpointError,
                       match="TF2 object-based checkpoint"):
      tf1_checkpoint.read(prefix)

  def test_refuses_a_tf2_model_of_the_wrong_size(self, checkpoints):
    state = tf1_checkpoint.read(checkpoints["scan_float32"])
    other = seeds.model("scan", 6, 3, "float32")
    model = models.build(other, mapping.TF2)
    with pytest.raises(mapping.MappingError, match="does not fit"):
      mapping.placements(state.description, model, mapping.TF2)

  def test_refuses_beta_powers_of_unknown_betas(self, checkpoints):
    state = tf1_checkpoint.read(checkpoints["scan_float32"])
    state.adam.beta1_power = np.float32(0.5)
    with pytest.raises(optimizer_state.OptimizerStateError,
                       match="other betas"):
      convert.to_keras(state)

  def test_stock_keras_has_no_gru_without_reset_gate(self, checkpoints):
    state = tf1_checkpoint.read(checkpoints["loop_no_reset"])
    with pytest.raises(mapping.MappingError,
                       match="always has a reset gate"):
      convert.to_keras(state, mapping.KERAS)


class TestRoundTrips:

  @pytest.mark.parametrize("name", sorted(SPECS))
  def test_tf2_target_round_trip_is_bitwise(self, checkpoints, name):
    state = tf1_checkpoint.read(checkpoints[name])
    model, optimizer = convert.to_keras(state, mapping.TF2)
    assert isinstance(optimizer, keras.optimizers.Optimizer)
    assert_same_variables(convert.from_keras(model, optimizer), state)

  @pytest.mark.parametrize("name", KERAS_SPECS)
  def test_keras_target_round_trip_is_bitwise(self, checkpoints, name):
    state = tf1_checkpoint.read(checkpoints[name])
    model, optimizer = convert.to_keras(state, mapping.KERAS)
    assert type(optimizer) is keras.optimizers.Adam
    assert int(optimizer.iterations.numpy()) == 2
    assert_same_variables(convert.from_keras(model, optimizer), state)

  def test_data_blogger_update_gate_is_negated_in_stock_keras(self,
                                                              checkpoints):
    state = tf1_checkpoint.read(checkpoints["scan_float32"])
    model, optimizer = convert.to_keras(state, mapping.KERAS)
    cell = model.get_layer("gru").cell
    u = state.description.components[0].units[0]
    assert compare.bitwise_equal(cell.kernel.numpy()[:, :u],
                                 -state.values["Wz"])
    assert compare.bitwise_equal(cell.kernel.numpy()[:, u:2 * u],
                                 state.values["Wr"])
    assert compare.bitwise_equal(cell.bias.numpy()[:u], -state.values["bz"])
    index = optimizer._get_variable_index(cell.kernel)  # pylint: disable=protected-access
    m = optimizer._momentums[index].numpy()  # pylint: disable=protected-access
    v = optimizer._velocities[index].numpy()  # pylint: disable=protected-access
    assert compare.bitwise_equal(m[:, :u], -state.adam.m["Wz"])
    assert compare.bitwise_equal(v[:, :u], state.adam.v["Wz"])

  @pytest.mark.parametrize("name", sorted(SPECS))
  def test_files_round_trip_is_bitwise(self, checkpoints, name, tmp_path):
    target = mapping.KERAS if name in KERAS_SPECS else mapping.TF2
    source = publish.checkpoint_files(checkpoints[name])
    before = legacy_checkpoints.digest(source)
    path = str(tmp_path / "m.keras")
    state, _ = exporters.tf1_to_keras_file(checkpoints[name], path, target)
    back = str(tmp_path / "back" / "model.ckpt")
    os.makedirs(os.path.dirname(back))
    again, _ = exporters.keras_file_to_tf1(path, back)
    assert_same_variables(tf1_checkpoint.read(back), state)
    assert_same_variables(again, state)
    assert legacy_checkpoints.digest(source) == before


class TestConvertedModels:

  @pytest.mark.parametrize("name", sorted(SPECS))
  def test_tf2_target_outputs_are_bitwise(self, checkpoints, name):
    state = tf1_checkpoint.read(checkpoints[name])
    model, _ = convert.to_keras(state, mapping.TF2)
    checks = verification.verify_outputs(state, model, mapping.TF2,
                                    prefix=checkpoints[name])
    assert {c.name for c in checks} == (
        {"gru", "head"} if len(state.description.components) == 2 else
        {"gru"})
    for c in checks:
      assert c.result.bitwise, c

  @pytest.mark.parametrize("name", KERAS_SPECS)
  def test_keras_target_outputs_within_bound(self, checkpoints, name):
    state = tf1_checkpoint.read(checkpoints[name])
    model, _ = convert.to_keras(state, mapping.KERAS)
    for c in verification.verify_outputs(state, model, mapping.KERAS,
                                    prefix=checkpoints[name]):
      assert c.passed, c

  def test_tf2_checkpoint_target(self, checkpoints, tmp_path):
    prefix = str(tmp_path / "tf2")
    state, _ = exporters.tf1_to_tf2_checkpoint(checkpoints["scan_addition"],
                                             prefix)
    model = exporters.read_tf2_checkpoint(prefix, state)
    for c in verification.verify_outputs(state, model, mapping.TF2):
      assert c.result.bitwise
    names = [n for n, _ in tf.train.list_variables(prefix)]
    assert any("beta1_power" in n for n in names)

  @pytest.mark.slow  # a process of its own; CI runs it
  def test_stock_keras_file_loads_without_this_projects_code(
      self, checkpoints, tmp_path):
    path = str(tmp_path / "stock.keras")
    state, _ = exporters.tf1_to_keras_file(checkpoints["bigru"], path,
                                         mapping.KERAS)
    x = verification.probe_inputs(state.description)
    np.save(tmp_path / "x.npy", x)
    expected = np.asarray(exporters.load_keras_file(path)(x))
    program = (
        "import sys\n"
        "for name in ('tf2', 'legacy', 'migration', 'scripts'):\n"
        "  sys.modules[name] = None  # any import of them fails\n"
        "import numpy as np, keras\n"
        f"m = keras.saving.load_model({path!r}, safe_mode=True)\n"
        f"np.save({str(tmp_path / 'y.npy')!r}, "
        f"np.asarray(m(np.load({str(tmp_path / 'x.npy')!r}))))\n")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([sys.executable, "-c", program], cwd=tmp_path,
                          env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert compare.bitwise_equal(np.load(tmp_path / "y.npy"), expected)


class TestFilesAndCli:

  def test_refuses_existing_output_unless_overwrite(self, checkpoints,
                                                    tmp_path):
    path = str(tmp_path / "m.keras")
    exporters.convert_path(checkpoints["loop"], path)
    with pytest.raises(FileExistsError, match="pass overwrite=True"):
      exporters.convert_path(checkpoints["loop"], path)
    exporters.convert_path(checkpoints["loop"], path, overwrite=True)

  def test_refuses_output_equal_to_input(self, checkpoints):
    with pytest.raises(ValueError, match="never touches its input"):
      exporters.convert_path(checkpoints["loop"], checkpoints["loop"],
                           overwrite=True)

  def test_failed_conversion_writes_nothing(self, checkpoints, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in publish.checkpoint_files(checkpoints["loop"]):
      shutil.copy(f, bad)
    prefix = str(bad / "model.ckpt")
    os.truncate(publish.checkpoint_files(prefix)[0], 10)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(tf1_checkpoint.CheckpointError):
      exporters.convert_path(prefix, str(out / "m.keras"))
    with pytest.raises(mapping.MappingError):
      exporters.convert_path(checkpoints["loop_no_reset"], str(out / "k.keras"),
                           target=mapping.KERAS)
    assert os.listdir(out) == []

  def test_verify_reports_every_output(self, checkpoints, tmp_path):
    report = exporters.convert_path(checkpoints["loop_classifier"],
                                  str(tmp_path / "c.keras"),
                                  target=mapping.KERAS, verify=True)
    assert report.ok and [c.name for c in report.checks] == ["gru", "head"]
    lines = conversion.format_checks(report.checks)
    assert lines[0].split() == ["output", "max", "abs", "diff", "max", "ulp",
                                "bitwise", "bound", "result"]
    back = str(tmp_path / "back")
    report = exporters.convert_path(str(tmp_path / "c.keras"), back,
                                  verify=True)
    assert report.ok and publish.checkpoint_exists(back)

  @pytest.mark.slow  # a process of its own; CI runs it
  def test_cli_converts_and_verifies(self, checkpoints, tmp_path):
    # (Refusals are tested through convert_path above; the CLI prints them.)
    out = str(tmp_path / "a.keras")
    proc = script_runner.run("convert_checkpoint",
                             f"--input={checkpoints['scan_addition']}",
                             f"--output={out}", "--target=keras", "--verify")
    assert proc.returncode == 0, proc.stderr
    assert "gru " in proc.stdout and "head " in proc.stdout
    assert "FAIL" not in proc.stdout
    assert os.path.isfile(out)


class TestLiveTransfer:

  @pytest.mark.parametrize("target", [mapping.TF2, mapping.KERAS])
  def test_session_to_keras_and_back(self, checkpoints, target):
    spec = SPECS["bigru"]
    legacy = legacy_graph.build(spec)
    with legacy.graph.as_default(), runtime.tf1_control_flow():
      loss = tf.reduce_sum(tf.square(legacy.outputs["gru"]))
      _v1.train.AdamOptimizer(0.01).minimize(loss)
      saver = _v1.train.Saver()
    session = _v1.Session(graph=legacy.graph)
    x = verification.probe_inputs(spec)
    # Inside a TF1 user's `with` block (graph mode): the transfer still
    # builds an eager Keras model.
    with session.as_default(), legacy.graph.as_default():
      saver.restore(session, checkpoints["bigru"])
      before = live.session_state(session)
      model, optimizer = live.session_to_keras(session, target)
      legacy_out = session.run(legacy.outputs["gru"], {legacy.inputs: x})
    c = compare.compare(np.asarray(model(x)), legacy_out)
    assert c.bitwise if target == mapping.TF2 else c.max_abs < 1e-5
    with legacy.graph.as_default():
      session.run(_v1.global_variables_initializer())  # scramble
    live.keras_to_session(model, session, optimizer)
    assert_same_variables(live.session_state(session), before)
    session.close()

  def test_refuses_a_model_of_another_size(self, checkpoints):
    spec = SPECS["loop"]
    legacy = legacy_graph.build(spec)
    other = seeds.model("loop", 7, 3, "float32")
    model, _ = convert.to_keras(tf1_checkpoint.LegacyState(
        other, {n: np.zeros(s, np.float32) for n, s in
                other.shapes().items()}))
    with _v1.Session(graph=legacy.graph) as session:
      with legacy.graph.as_default():
        session.run(_v1.global_variables_initializer())
      with pytest.raises(mapping.MappingError, match="the session holds"):
        live.keras_to_session(model, session)
