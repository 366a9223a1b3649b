"""TensorFlow's own TF1 GRU cells -> Keras 3 and back, proven against TF's
own TF1 code: the goldens of `compat_tests/tf1_cells.py`, written by
TensorFlow's cells in a subprocess (tf_keras; never in this process)."""

import io
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from compat_tests.test_converter_safety import assert_refused
from compat_tests.test_migration import save_variables
from compat_tests.test_migration import variables_of
from compat_tests import tf1_cells
from gru_commands import conversion
from gru_common import compare
from gru_common import tolerances
from migration import convert
from migration import detection
from migration import exporters
from migration.kinds import tf1_gru_cells as cells_lib
from migration import mapping
from migration import models
from migration import selection
from migration import tf1_checkpoint
from migration import tf1_graph

CASES = tf1_cells.CASES
TRAINED = sorted(n for n, c in CASES.items() if c.adam)


def options(name):
  return {"allow_unconverted": True} if CASES[name].extra_layer else {}


def run_command(*args, **kwargs):
  out, err = io.StringIO(), io.StringIO()
  status = conversion.command(*args, stdout=out, stderr=err, **kwargs)
  return status, out.getvalue(), err.getvalue()


def golden_outputs(name, folder=None):
  """A case's golden outputs (from `folder` instead: a rerun's)."""
  with np.load(os.path.join(folder or tf1_cells.folder_of(name), name,
                            tf1_cells.OUTPUTS)) as f:
    return {k: f[k] for k in f.files}


def mask(golden):
  time = golden["x"].shape[1]
  return np.arange(time)[None, :] < golden["lengths"][:, None]


def outputs(model, golden):
  """The model's outputs on the golden batch, without and with lengths
  (as a mask, which is how a user feeds TF1's sequence_length)."""
  plain = np.asarray(model.predict_on_batch(golden["x"]))
  masked = np.asarray(tf.function(model)(golden["x"], mask=mask(golden)))
  return plain, masked


def check(got, want, bound):
  """Within `bound`; bitwise where it is 0."""
  result = compare.compare(got, want)
  assert result.bitwise if bound == 0 else result.within(bound), (
      result.max_abs, bound)
  return result


class Conversions(dict):
  """{case or (case, target): .keras path}, each converted by the command
  when a test first asks for it (so an xdist worker converts only what
  its tests use)."""

  def __init__(self, folder, target=mapping.KERAS):
    super().__init__()
    self.folder, self.target = folder, target

  def __missing__(self, key):
    name, target = key if isinstance(key, tuple) else (key, self.target)
    case = tf1_cells.ALL_CASES[name]
    path = str(self.folder / f"{name}.{target}.keras")
    status, _, err = run_command(
        tf1_cells.prefix(name), path, target=target,
        **({"allow_unconverted": True} if case.extra_layer else {}))
    assert status == 0, err
    self[key] = path
    return path


def check_reproduces(model, name, bound):
  """`model` computes case `name`'s golden outputs, without and with
  lengths, within `bound` (a `tolerances.Bound`), and exactly zero past
  each length, as TF1 does."""
  golden = golden_outputs(name)
  plain, masked = outputs(model, golden)
  case = tf1_cells.ALL_CASES[name]
  check(plain, golden["outputs"], bound.for_dtype(case.dtype))
  check(masked, golden["outputs_with_lengths"], bound.for_dtype(case.dtype))
  assert not masked[~mask(golden)].any()
  assert plain.shape == (tf1_cells.BATCH, tf1_cells.TIME, case.width)


@pytest.fixture(scope="module")
def keras_files(tmp_path_factory):
  """{case: .keras path} converted by the command with --target=keras."""
  return Conversions(tmp_path_factory.mktemp("tf1_cells"))


class TestConvertToStockKeras:

  @pytest.mark.parametrize("name", sorted(CASES))
  def test_reproduces_tf1_outputs_with_and_without_lengths(self, name,
                                                          keras_files):
    check_reproduces(exporters.load_keras_file(keras_files[name]), name,
                     tolerances.TF1_CELL_STOCK)

  @pytest.mark.slow  # runs the installed command in processes; CI runs it
  def test_loads_with_stock_keras_alone(self, keras_files):
    """No project module is imported: the file is stock Keras."""
    code = ("import keras, numpy as np, sys\n"
            "m = keras.saving.load_model(sys.argv[1])\n"
            "assert not [k for k in sys.modules if k.split('.')[0] in "
            "('tf2', 'migration', 'legacy', 'gru_common')]\n"
            "print(m.predict_on_batch(np.zeros((2, 6, 3), 'float32')).shape)")
    for name in ("gru_cell_bi_multi", "cudnn_gru_bidirectional"):
      result = subprocess.run([sys.executable, "-c", code, keras_files[name]],
                              capture_output=True, text=True, check=False,
                              cwd="/")
      assert result.returncode == 0, result.stderr[-2000:]
      assert f"(2, 6, {CASES[name].width})" in result.stdout

  def test_adam_state_and_global_step_carry(self, keras_files):
    model = exporters.load_keras_file(keras_files["gru_cell_adam"])
    assert int(model.optimizer.iterations.numpy()) == tf1_cells.STEPS


class TestRoundTrip:

  @pytest.mark.parametrize("name", sorted(CASES))
  def test_tf1_keras_tf1_is_bitwise_under_the_original_names(
      self, name, keras_files, tmp_path):
    back = str(tmp_path / "back.ckpt")
    status, _, err = run_command(keras_files[name], back)
    assert status == 0, err
    source, result = variables_of(tf1_cells.prefix(name)), variables_of(back)
    _, plan = tf1_checkpoint.read_selection(tf1_cells.prefix(name),
                                            **options(name))
    assert set(result) == set(source) - set(plan.left_behind) - set(
        plan.not_read)
    for n, value in result.items():
      assert value.dtype == source[n].dtype and compare.bitwise_equal(
          value, source[n]), n

  def test_scope_moves_the_rnn(self, keras_files, tmp_path):
    back = str(tmp_path / "back.ckpt")
    status, _, err = run_command(keras_files["gru_cell_multi"], back,
                                 scope="decoder/rnn")
    assert status == 0, err
    assert sorted(variables_of(back)) == sorted(
        "decoder/rnn/" + n.split("/", 1)[1]
        for n in variables_of(tf1_cells.prefix("gru_cell_multi")))


class TestExactTF2Layer:
  """tf2.TF1GRUCell: TF1's cell op for op (target "tf2")."""

  @pytest.mark.parametrize("name", sorted(CASES))
  def test_agrees_with_the_golden(self, name):
    state = tf1_checkpoint.read(tf1_cells.prefix(name), **options(name))
    model, _ = convert.to_keras(state, mapping.TF2)
    check_reproduces(model, name, tolerances.TF1_CELL_STOCK)

  @pytest.mark.slow
  def test_bitwise_with_tensorflows_own_cells_run_now(self, tmp_path):
    """Runs the TF1 programs now, on this machine, and compares bit for bit
    (the committed goldens may come from another CPU)."""
    tf1_cells.write_all(list(CASES), str(tmp_path), meta=True)
    # The oracle reproduces the committed goldens byte for byte.
    assert not tf1_cells.unlike_committed(CASES, str(tmp_path))
    against_graph = set()
    for name, case in CASES.items():
      prefix = tf1_cells.prefix(name, str(tmp_path))
      state = tf1_checkpoint.read(prefix, **options(name))
      model, _ = convert.to_keras(state, mapping.TF2)
      with np.load(os.path.join(tmp_path, name, tf1_cells.OUTPUTS)) as f:
        live = {k: f[k] for k in f.files}
      plain, masked = outputs(model, live)
      bound = _bound_against_tf1(name, state)
      for got, want in ((plain, live["outputs"]),
                        (masked, live["outputs_with_lengths"])):
        result = compare.compare(got, want)
        assert (result.bitwise if bound == 0 else result.within(bound)), (
            name, result.max_abs)
      # --verify against the program's own graph (its .meta) demands the
      # same bound per kind, bitwise where the layers run the graph's ops.
      report = exporters.convert_path(
          prefix, str(tmp_path / f"{name}.keras"), verify=True,
          **options(name))
      assert report.published, (name, report.summary)
      if "the program's own graph" in report.summary:
        against_graph.add(name)
        assert {c.bound for c in report.checks} == {bound}, name
        # Each loop starts from one state per cell it runs (TF2 control
        # flow: the state among the While's inputs, not the captures or,
        # in a trained graph, the gradients' accumulators).
        cells = len(case.units) if case.wiring in (
            tf1_cells.MULTI, tf1_cells.BI_MULTI) else 1
        loops = tf1_graph.read(prefix + ".meta").loops()
        assert (case.wiring == tf1_cells.STATIC) == (not loops), name
        assert all(len(l.initial_state) == cells for l in loops), name
    # Every program is checked against its own graph: dynamic_rnn's loops
    # in TF2 control flow (the oracle runs on TF 2.x), static_rnn's
    # unrolled steps.
    assert against_graph == set(CASES)


def _bound_against_tf1(name, state):
  """Bitwise, but for float32 cuDNN-compatible cells and GRUBlockCellV2
  (`tolerances.TF1_CELL_FLOAT32_NOT_BITWISE`)."""
  case = CASES[name]
  not_bitwise = case.dtype == "float32" and (
      cells_lib.RESET_AFTER[state.description.components[0].kind] or
      case.cell == "GRUBlockCellV2")
  return (tolerances.TF1_CELL_FLOAT32_NOT_BITWISE if not_bitwise else
          tolerances.BITWISE).for_dtype(case.dtype)


class TestInspect:

  @pytest.mark.parametrize("name, kind, written_by", [
      ("gru_cell", "TF1 GRUCell", "tf.nn.rnn_cell.GRUCell"),
      ("gru_block_cell", "TF1 GRUBlockCell", "tf.contrib.rnn.GRUBlockCell"),
      ("gru_block_cell_v2", "TF1 GRUCell", "GRUBlockCellV2"),
      ("cudnn_compatible", "TF1 CudnnCompatibleGRUCell",
       "CudnnCompatibleGRUCell"),
      ("cudnn_gru", "TF1 2-layer MultiRNNCell CudnnGRU",
       "tf.contrib.cudnn_rnn.CudnnGRU"),
      ("gru_cell_bidirectional", "TF1 bidirectional GRUCell", "GRUCell"),
      ("cudnn_gru_bidirectional",
       "TF1 2-layer stacked bidirectional CudnnGRU", "CudnnGRU"),
  ])
  def test_names_each_kind(self, name, kind, written_by):
    out = io.StringIO()
    assert conversion.inspect_command(tf1_cells.prefix(name), stdout=out) == 0
    text = out.getvalue()
    assert f": {kind}\n" in text and written_by in text, text

  def test_finds_every_case_at_its_scope(self):
    for name, case in CASES.items():
      found = tf1_checkpoint.inspect(tf1_cells.prefix(name))
      (gru,) = found.rnns
      assert gru.description is not None, gru.problems
      rnn = gru.description.components[0]
      assert rnn.units == case.units and rnn.dtype == case.dtype
      assert gru.scope.startswith(case.scope), (name, gru.scope)


def mutated(tmp_path, name, edit):
  """Case `name`'s checkpoint, its {name: array} changed by `edit`, written
  at tmp_path/mutated.ckpt (without a `.meta`)."""
  values = variables_of(tf1_cells.prefix(name))
  edit(values)
  return save_variables(str(tmp_path / "mutated.ckpt"), values)


G = "rnn/gru_cell/"


class TestRefusals:

  @pytest.mark.parametrize("edit, match", [
      # A kernel whose shape disagrees with its bias.
      (lambda v: v.update({G + "candidate/kernel": np.zeros((8, 4),
                                                          np.float32)}),
       "'rnn/gru_cell/candidate/kernel' has shape (8, 4); with its bias it "
       "needs (8, 5)"),
      # gates/bias of the wrong size.
      (lambda v: v.update({G + "gates/bias": np.zeros(9, np.float32)}),
       "'rnn/gru_cell/gates/bias' has shape (9,); with its kernels it needs "
       "(10,)"),
      # A half-present cell.
      (lambda v: [v.pop(G + "candidate/kernel"), v.pop(G + "candidate/bias")],
       "it lacks ['rnn/gru_cell/candidate/bias', "
       "'rnn/gru_cell/candidate/kernel']"),
      (lambda v: v.update({G + "gates/bias": v[G + "gates/bias"].astype(
          np.float64)}), "its variables disagree in dtype"),
  ])
  def test_refused_by_name_and_nothing_written(self, tmp_path, edit, match):
    prefix = mutated(tmp_path, "gru_cell", edit)
    output = str(tmp_path / "out.keras")
    status, _, err = run_command(prefix, output, target=mapping.KERAS)
    assert_refused(status, err, match)
    assert not os.path.exists(output)

  def test_a_nonzero_recurrent_gate_bias_does_not_fold_into_tf1(
      self, keras_files, tmp_path):
    import keras  # pylint: disable=g-import-not-at-top
    model = keras.saving.load_model(keras_files["cudnn_compatible"])
    bias = model.get_layer("cudnn_compatible_gru_cell").cell.bias
    value = np.asarray(bias.numpy())
    value[1, 0] = 0.5
    bias.assign(value)
    path = str(tmp_path / "trained.keras")
    model.save(path)
    status, _, err = run_command(path, str(tmp_path / "back.ckpt"))
    assert_refused(status, err, "holds nonzero values, but the TF1 cell has "
                   "no variable for them")
    assert os.listdir(tmp_path) == ["trained.keras"]

  def test_cudnn_gru_optimizer_slots_need_the_flag(self):
    shapes = {"rnn/" + n: s for n, s in cells_lib.model(
                  cells_lib.CUDNN_COMPATIBLE, cells_lib.MULTI, (2,), 3,
                  "float32", ("cudnn_compatible_gru_cell",)).shapes().items()}
    size = sum(int(np.prod(s)) for s in shapes.values())
    shapes.update({cells_lib.OPAQUE_KERNEL: (size,),
                   cells_lib.OPAQUE_KERNEL + "/Adam": (size,),
                   cells_lib.OPAQUE_KERNEL + "/Adam_1": (size,)})
    found = detection.inspect(shapes, {n: "float32" for n in shapes})
    (gru,) = found.rnns
    assert gru.description.components[0].kind == cells_lib.CUDNN_GRU
    assert not found.other
    with pytest.raises(selection.SelectionError,
                       match="cuDNN's and device-specific"):
      selection.select(found)
    plan = selection.select(found, drop_optimizer_state=True)
    assert plan.not_read == [cells_lib.OPAQUE_KERNEL]
    assert plan.dropped == [cells_lib.OPAQUE_KERNEL + "/Adam",
                            cells_lib.OPAQUE_KERNEL + "/Adam_1"]


class TestMappingTable:

  @pytest.mark.parametrize("kind", cells_lib.KINDS)
  def test_every_element_placed_once_both_ways(self, kind):
    spec = cells_lib.model(kind, cells_lib.STACK_BI, (3, 2), 4, "float64",
                           ("c",) * 4)
    model = models.build(spec, mapping.KERAS)
    places = mapping.placements(spec, model, mapping.KERAS)  # checks cover
    rng = np.random.RandomState(0)
    values = {n: rng.uniform(-1, 1, s) for n, s in spec.shapes().items()}
    mapping.to_model(values, places)
    back = mapping.from_model(places)
    assert sorted(back) == sorted(values)
    for n, v in values.items():
      assert compare.bitwise_equal(back[n], v), n
