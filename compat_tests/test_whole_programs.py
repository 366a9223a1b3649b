"""Real TF1 programs converted whole (`tf1-convert-checkpoint --outputs`):
every program of `compat_tests/real_programs` becomes one Keras model that
computes the program's recorded outputs from its recorded inputs, verified
against the program's own graph; the stock models load and compute them
in a process without this project; bad input and damaged graphs are
refused in one line with nothing written.
"""

import gzip
import importlib.util
import io
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from compat_tests import golden_files
from compat_tests import real_programs
from compat_tests import whole_programs
from compat_tests.test_converter_safety import assert_refused
from gru_commands import conversion
from gru_common import tolerances
from migration import exporters
from migration import mapping

# The programs whose converted models do not run every op the program
# runs, and so are compared within `tolerances.PROGRAM`: DeepSpeech2's
# fused batch norms (Keras computes `tf.nn.batch_normalization`), and with
# stock Keras RNN layers (target keras) every program with a loop (two
# kernels where TF1's cells multiply [x; h] by one). Every other
# conversion runs the program's own ops in its order: bitwise.
NOT_BITWISE = {("deep_speech2", mapping.TF2), ("deep_speech2", mapping.KERAS),
               ("han", mapping.KERAS), ("text_rnn", mapping.KERAS),
               ("tied_bigru", mapping.KERAS)}
# Variables no output reads (besides optimizer state): char-rnn's learning
# rate variable.
NOT_READ = {"char_rnn": ["Variable"]}


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
  """{program: checkpoint prefix}, each beside its plain `.meta`."""
  root = str(tmp_path_factory.mktemp("whole"))
  return {name: real_programs.as_user_has_it(name, root)
          for name in real_programs.PROGRAMS}


@pytest.fixture(scope="module")
def converted(programs, tmp_path_factory):
  """converted(name, target) -> (Result, Case, the .keras path): each
  program's conversion, made once per test process."""
  folder, made = tmp_path_factory.mktemp("converted"), {}

  def get(name, target):
    if (name, target) not in made:
      path = str(folder / f"{name}_{target}.keras")
      made[name, target] = (*convert(programs, name, path, target), path)
    return made[name, target]
  return get


def convert(programs, name, path, target=mapping.TF2, **options):
  case = whole_programs.case(name)
  probe = whole_programs.write_probe(case, f"{path}.npz")
  options.setdefault("feed", case.feed or None)
  return exporters.convert_path(
      programs[name], path, target=target, verify=True, outputs=case.outputs,
      probe=probe, **options), case


def assert_reproduces(model, case, program, bitwise):
  x = [case.probe[name] for name, _, _ in program.inputs]
  got = tf.function(model)(x)
  assert_outputs(got if isinstance(got, (list, tuple)) else [got], case,
                 program, bitwise)


def assert_outputs(got, case, program, bitwise):
  """`got` (one array per program output) against the recorded outputs:
  bitwise (under another TensorFlow release than the goldens', within
  `golden_files.bound`), or floats within `tolerances.PROGRAM`; integers
  equal."""
  assert len(got) == len(case.outputs)
  for tensor, value in zip(program.outputs, got):
    want, value = case.recorded[tensor], np.asarray(value)
    assert value.dtype == want.dtype and value.shape == want.shape, tensor
    bound = 0.0 if want.dtype.kind != "f" else (
        golden_files.bound(want.dtype) if bitwise else
        tolerances.PROGRAM.for_dtype(want.dtype))
    if bound == 0.0:
      np.testing.assert_array_equal(value, want, err_msg=tensor)
    else:
      bound *= max(1.0, float(np.abs(want).max()))
      assert np.abs(value - want).max() <= bound, tensor


# The programs trained with Adam, whose state goes into the model's
# optimizer; the others' (RMSProp) is listed as not carried.
ADAM = ("char_rnn", "deep_speech2", "text_rnn", "tied_bigru")


@pytest.mark.parametrize("name", real_programs.PROGRAMS)
def test_every_program_converts_whole_and_reproduces_its_outputs(
    converted, name):
  result, case, path = converted(name, mapping.TF2)
  assert result.published and result.ok, result.summary
  assert [c.name for c in result.checks] == case.outputs
  program = result.program
  # Every variable is converted, optimizer state, or listed as not read.
  assert f"{len(NOT_READ.get(name, []))} not read" in result.summary
  for variable in NOT_READ.get(name, []):
    assert f"not read: {variable}" in result.summary
  assert set(program.converted()).isdisjoint(program.unused)
  assert ("Adam, carried into the model" in result.summary) == (name in ADAM)
  assert ("(not carried)" in result.summary) == (name not in ADAM)
  assert_reproduces(exporters.load_keras_file(path), case, program,
                    (name, mapping.TF2) not in NOT_BITWISE)


# (deep_speech2's stock model: the JAX and round-trip tests below.)
@pytest.mark.parametrize("name", ["text_rnn", "han"])
def test_stock_keras_target_reproduces_within_the_bound(converted, name):
  result, case, path = converted(name, mapping.KERAS)
  assert result.published and result.ok, result.summary
  assert_reproduces(exporters.load_keras_file(path), case, result.program,
                    (name, mapping.KERAS) not in NOT_BITWISE)


_RELOAD = """
import builtins
import sys
backend, args = sys.argv[1], sys.argv[2:]
split = args.index("--with-tf2")
stock, project = args[:split], args[split + 1:]
real_import = builtins.__import__
def guarded(name, *args, **kwargs):
  if name.split(".")[0] == "tensorflow":
    raise ImportError(name + " is blocked in this process")
  return real_import(name, *args, **kwargs)
builtins.__import__ = guarded
import numpy as np
import keras
assert keras.backend.backend() == backend, keras.backend.backend()
# The float64 recipe (docs/serving.md); float32 models are unaffected.
keras.config.set_floatx("float64")
if backend == "jax":
  import jax
  jax.config.update("jax_enable_x64", True)
from keras.src.backend.common import dtypes
dtypes.BIT64_TO_BIT32_DTYPE["float64"] = "float64"
def check(arguments):
  for path, probe, recorded, bound in zip(*[iter(arguments)] * 4):
    model = keras.saving.load_model(path, safe_mode=True, compile=False)
    with np.load(probe) as p, np.load(recorded) as r:
      names = [i.name for i in model.inputs]
      got = model.predict([p[n] for n in names], verbose=0,
                          batch_size=len(p[names[0]]))
      got = got if isinstance(got, list) else [got]
      for k, value in enumerate(got):
        want = r[f"output_{k}"]
        assert value.dtype == want.dtype, (path, k, value.dtype, want.dtype)
        diff = np.abs(np.asarray(value, np.float64) - want).max()
        assert diff <= float(bound) * max(1.0, np.abs(want).max()), (
            path, k, diff)
check(stock)
ours = [m for m in sys.modules if m.split(".")[0] in
        ("migration", "tf2", "gru_common", "legacy", "compat_tests",
         "tensorflow")]
assert not ours, ours
builtins.__import__ = real_import
import tf2   # registers this project's layers
check(project)
print("ok")
"""


def _float64_lstm_program(folder):
  """(.keras path of the stock model, probe, recorded) of a float64 TF1
  program of TF's own BasicLSTMCells (a MultiRNNCell stack)."""
  from compat_tests import tf1_cells  # pylint: disable=g-import-not-at-top
  name = "basic_lstm_float64_multi"
  shutil.copytree(os.path.join(tf1_cells.LSTM_FOLDER, name), folder)
  with np.load(folder / tf1_cells.OUTPUTS) as f:
    x, want = f["x"], f["outputs"]
  path = str(folder / "model.keras")
  result = exporters.convert_path(
      str(folder / tf1_cells.CHECKPOINT), path, target=mapping.KERAS,
      outputs=[LSTM_PROGRAMS[name]])
  assert result.published and not result.program.not_stock
  return path, {"x": x}, [want]


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_keras_target_models_run_on_jax_and_torch(converted, tmp_path,
                                                  backend):
  """On Keras's JAX or PyTorch backend with the float64 recipe, in one
  process: the keras-target models that are all stock Keras (an unrolled
  LSTM op by op; conv, batch norms and GRU layers; a float64 LSTM stack),
  loaded while that process cannot import TensorFlow and has imported no
  module of this project; then one holding this project's layers (the
  attention reader: `ReverseSequence` and `Weight`, keras.ops there) after
  `import tf2`. Each computes the program's outputs within the bound
  (`predict`; float32 within 1e-5, float64 within 1e-12), in the
  program's dtype."""
  argv = _programs_on(backend, converted, ("char_rnn", "deep_speech2"),
                      stock=True)
  path, probe, recorded = _float64_lstm_program(tmp_path / "lstm")
  argv += _reload_arguments(path, probe, recorded, np.float64)
  argv.append("--with-tf2")
  argv += _programs_on(backend, converted, ("tied_bigru",), stock=False)
  env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
  env["PYTHONPATH"] = os.path.dirname(os.path.dirname(
      os.path.abspath(__file__)))
  env["KERAS_BACKEND"] = backend
  proc = subprocess.run([sys.executable, "-c", _RELOAD, backend, *argv],
                        capture_output=True, text=True, timeout=300,
                        cwd=str(tmp_path), env=env, check=False)
  assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-3000:]


def _reload_arguments(path, probe, recorded, dtype):
  np.savez(f"{path}.in.npz", **probe)
  np.savez(f"{path}.out.npz", **{f"output_{k}": v
                                 for k, v in enumerate(recorded)})
  return [path, f"{path}.in.npz", f"{path}.out.npz",
          str(tolerances.PROGRAM.for_dtype(np.dtype(dtype)))]


def _programs_on(backend, converted, names, stock):
  """The runner's arguments for the keras-target models of `names`
  (skipping when `backend` is not installed); `stock`: whether each must
  be all stock Keras, or hold this project's layers."""
  if importlib.util.find_spec(backend) is None:
    pytest.skip(f"{backend} is not installed (pip install "
                f"'.[{'test' if backend == 'jax' else 'backends'}]')")
  argv = []
  for name in names:
    result, case, path = converted(name, mapping.KERAS)
    assert (not result.program.not_stock) == stock, result.program.not_stock
    probe = {n.replace("/", ">"): v for n, v in case.probe.items()}
    recorded = [case.recorded[t] for t in result.program.outputs]
    argv += _reload_arguments(path, probe, recorded, np.float32)
  return argv


def _onnx_packages():
  pytest.importorskip("onnx", reason="pip install '.[onnx]'")
  pytest.importorskip("onnxruntime", reason="pip install '.[onnx]'")


# The quick loop exports two programs (the recurrent loops, conv and batch
# norm among them); the full suite every one.
QUICK_ONNX = ("char_rnn", "deep_speech2")


@pytest.mark.parametrize("name", [
    n if n in QUICK_ONNX else pytest.param(n, marks=pytest.mark.slow)
    for n in real_programs.PROGRAMS])
def test_every_program_exports_to_onnx_and_reproduces_its_outputs(
    programs, tmp_path, name):
  """`--output=FILE.onnx`: the program's ONNX graph, checked, verified in
  onnxruntime against the program's own graph, with the placeholders as
  inputs and the program's tensors as outputs, computes the recorded
  outputs within the bound."""
  _onnx_packages()
  import onnx  # pylint: disable=g-import-not-at-top
  from migration import onnx_program  # pylint: disable=g-import-not-at-top
  path = str(tmp_path / f"{name}.onnx")
  result, case = convert(programs, name, path)
  assert result.published and result.ok, result.summary
  assert "verified in onnxruntime" in result.summary
  exported = onnx.load(path)
  onnx.checker.check_model(exported, full_check=True)
  program = result.program
  assert [i.name for i in exported.graph.input] == [
      n for n, _, _ in program.inputs]
  assert [o.name for o in exported.graph.output] == program.outputs
  with open(path, "rb") as f:
    got = onnx_program.run(f.read(), case.probe)
  assert_outputs(got, case, program, bitwise=False)


# TF's own TF1 LSTM cells (the goldens of `compat_tests.tf1_cells`, each
# saved with its `.meta`) and the tensor each program's outputs are.
# (Their float32 variants' ONNX files are test_tf1_lstm_cells.py's.)
LSTM_PROGRAMS = {
    "basic_lstm_float64_multi": "model/rnn/transpose_1",
    "layer_norm_lstm_bidirectional_float64": "concat",
    "lstm_cell_options_float64": "rnn/transpose_1",
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(LSTM_PROGRAMS))
def test_tf1_lstm_programs_export_to_onnx_in_their_dtype(tmp_path, name):
  """Float64 programs of TF's own LSTM cells, with what ONNX's LSTM
  operator cannot express (projection, cell clipping, layer norm): whole
  to ONNX, verified against their graph, and to `.keras`;
  both compute the outputs TF1 recorded, in the program's dtype, within
  the bound (float64: 1e-12)."""
  _onnx_packages()
  from compat_tests import tf1_cells  # pylint: disable=g-import-not-at-top
  from migration import onnx_program  # pylint: disable=g-import-not-at-top
  folder = tmp_path / name
  shutil.copytree(os.path.join(tf1_cells.LSTM_FOLDER, name), folder)
  with np.load(folder / tf1_cells.OUTPUTS) as f:
    x, want = f["x"], f["outputs"]
  np.savez(folder / "probe.npz", x=x)
  bound = tolerances.PROGRAM.for_dtype(want.dtype) * max(
      1.0, float(np.abs(want).max()))
  for suffix in (".onnx", ".keras"):
    path = str(folder / f"model{suffix}")
    result = exporters.convert_path(
        str(folder / tf1_cells.CHECKPOINT), path, verify=True,
        outputs=[LSTM_PROGRAMS[name]], probe=str(folder / "probe.npz"))
    assert result.published and result.ok, result.summary
    if suffix == ".onnx":
      with open(path, "rb") as f:
        got = onnx_program.run(f.read(), {"x": x})[0]
    else:
      got = np.asarray(tf.function(exporters.load_keras_file(path))(x))
    assert got.dtype == want.dtype
    assert np.abs(got - want).max() <= bound, (suffix, np.abs(got - want).max())


# --- Bad input: one line, nothing written ------------------------------------


def command(prefix, output, **options):
  err = io.StringIO()
  status = conversion.command(prefix, output, verify=True, stdout=io.StringIO(),
                              stderr=err, **options)
  return status, err.getvalue()


def refused(prefix, output, match, **options):
  status, err = command(prefix, output, **options)
  assert_refused(status, err, match)
  assert not os.path.exists(output)


def test_an_output_not_in_the_graph_is_refused(programs, tmp_path):
  refused(programs["char_rnn"], str(tmp_path / "m.keras"),
          "'logits:0' is not a tensor of", outputs=["logits"])


def test_a_placeholder_without_a_value_is_refused(programs, tmp_path):
  refused(programs["text_rnn"], str(tmp_path / "m.keras"),
          "placeholder 'keep_prob'", outputs=["score/ArgMax"])


def test_outputs_without_the_graph_are_refused(programs, tmp_path):
  folder = tmp_path / "no_meta"
  shutil.copytree(os.path.dirname(programs["char_rnn"]), folder)
  os.remove(folder / "model.ckpt.meta")
  refused(str(folder / "model.ckpt"), str(tmp_path / "m.keras"),
          "there is no .meta", outputs=["Softmax"])


def test_variables_the_checkpoint_lacks_are_refused(programs, tmp_path):
  refused(programs["text_rnn"], str(tmp_path / "m.keras"),
          "which the checkpoint does not hold", outputs=["Softmax"],
          meta=programs["char_rnn"] + ".meta")


def test_feed_without_outputs_is_refused(programs, tmp_path):
  refused(programs["char_rnn"], str(tmp_path / "m.keras"), "--outputs",
          feed="keep_prob=1.0")


def test_a_feed_that_is_not_a_scalar_placeholder_is_refused(programs,
                                                            tmp_path):
  refused(programs["text_rnn"], str(tmp_path / "m.keras"),
          "'input_x' has shape", outputs=["score/ArgMax"],
          feed="input_x=1")
  refused(programs["text_rnn"], str(tmp_path / "m.keras"),
          "'keep_prob' is a float32 placeholder", outputs=["score/ArgMax"],
          feed="keep_prob=yes")


def _mutated_meta(prefix, folder, mutate):
  """A copy of the program's folder whose .meta `mutate(graph_def)`
  changed."""
  shutil.copytree(os.path.dirname(prefix), folder)
  meta = tf.compat.v1.MetaGraphDef()
  with open(os.path.join(folder, "model.ckpt.meta"), "rb") as f:
    meta.ParseFromString(f.read())
  mutate({n.name: n for n in meta.graph_def.node})
  with open(os.path.join(folder, "model.ckpt.meta"), "wb") as f:
    f.write(meta.SerializeToString())
  return os.path.join(folder, "model.ckpt")


def test_an_op_without_a_translation_is_named(programs, tmp_path):
  def mutate(nodes):
    nodes["Softmax"].op = "Softsign"
  prefix = _mutated_meta(programs["char_rnn"], tmp_path / "p", mutate)
  refused(prefix, str(tmp_path / "m.keras"),
          "have no translation: Softsign (Softmax)", outputs=["Softmax"])


def test_a_graph_needing_an_op_tensorflow_lacks_names_it(programs, tmp_path):
  def mutate(nodes):
    nodes["Softmax"].op = "GatherTree"
  prefix = _mutated_meta(programs["char_rnn"], tmp_path / "p", mutate)
  refused(prefix, str(tmp_path / "m.keras"), "GatherTree",
          outputs=["Softmax"])


def test_a_loop_whose_cell_the_kit_does_not_know_names_its_variables(
    programs, tmp_path):
  """The LSTM's kernels renamed in the checkpoint: no cell of a known kind
  is there, and the loop's refusal lists what it reads."""
  source = tf.train.load_checkpoint(programs["text_rnn"])
  names = sorted(source.get_variable_to_shape_map())
  renamed = [n.replace("basic_lstm_cell/kernel", "basic_lstm_cell/weights")
             for n in names]
  folder = tmp_path / "renamed"
  shutil.copytree(os.path.dirname(programs["text_rnn"]), folder)
  for f in os.listdir(folder):
    if f.startswith("model.ckpt.") and not f.endswith(".meta"):
      os.remove(folder / f)
  tf.raw_ops.SaveV2(prefix=str(folder / "model.ckpt"), tensor_names=renamed,
                    shape_and_slices=[""] * len(names),
                    tensors=[source.get_tensor(n) for n in names])
  refused(str(folder / "model.ckpt"), str(tmp_path / "m.keras"),
          "runs a cell that is not one the kit knows; it reads",
          outputs=["score/ArgMax"], feed="keep_prob=1.0")


def test_dropout_inside_a_loop_must_be_fed_off(programs, tmp_path):
  refused(programs["text_rnn"], str(tmp_path / "m.keras"),
          "drops out inside its cell", outputs=["score/ArgMax"],
          feed="keep_prob=0.5")


_MUTATIONS = ("op", "input", "swap", "drop", "attr", "const")


@pytest.mark.parametrize("seed", range(8))
def test_fuzzed_graphs_convert_and_verify_or_are_refused_in_one_line(
    programs, tmp_path, seed):
  """A seeded mutation of char-rnn's `.meta` on the outputs' path: the
  command either writes a verified model or refuses in one line, writing
  nothing; never a traceback."""
  rng = np.random.default_rng(seed)
  kind = _MUTATIONS[seed % len(_MUTATIONS)]

  def mutate(nodes):
    path = sorted(n for n in nodes if n.startswith(("rnnlm/", "add",
                                                    "Softmax", "embedding")))
    node = nodes[path[int(rng.integers(len(path)))]]
    if kind == "op":
      node.op = str(rng.choice(["Tanh", "NoSuchOp", "Relu", "Neg"]))
    elif kind == "input" and node.input:
      node.input[0] = path[int(rng.integers(len(path)))]
    elif kind == "swap" and len(node.input) > 1:
      node.input[0], node.input[1] = node.input[1], node.input[0]
    elif kind == "drop":
      del node.input[:]
    elif kind == "attr" and node.attr:
      del node.attr[sorted(node.attr)[0]]
    elif kind == "const":
      node.op = "Const"
      del node.input[:]
  prefix = _mutated_meta(programs["char_rnn"], tmp_path / "p", mutate)
  output = str(tmp_path / "m.keras")
  status, err = command(prefix, output, outputs=["add", "Softmax"])
  assert "Traceback" not in err
  if status == 0:
    assert os.path.exists(output)
  else:
    assert_refused(status, err)
    assert not os.path.exists(output)
  with open(prefix + ".meta", "rb") as f:
    assert f.read()        # the input is never touched


def test_the_goldens_table_lists_every_program():
  with open(os.path.join(real_programs.FOLDER, "WHOLE_PROGRAMS.md")) as f:
    text = f.read()
  for name in real_programs.PROGRAMS:
    for target in mapping.TARGETS:
      assert f"\n{name} " in text and f" {target} " in text
  assert " NO " not in text


def test_meta_files_are_only_read(programs):
  with gzip.open(os.path.join(real_programs.FOLDER, "char_rnn",
                              real_programs.META_GRAPH)) as f, open(
                                  programs["char_rnn"] + ".meta", "rb") as g:
    assert f.read() == g.read()


def test_a_loop_reading_more_than_its_cell_is_refused(programs):
  """A loop that also reads variables no cell of it holds (an attention
  mechanism, a projection inside the loop) computes more than the cell's
  layer would: refused, naming them."""
  import dataclasses  # pylint: disable=g-import-not-at-top
  from migration import tf1_graph, tf1_program, tf1_program_rnn  # pylint: disable=g-import-not-at-top
  graph = tf1_graph.read(programs["text_rnn"] + ".meta")
  translator = tf1_program._Translator(  # pylint: disable=protected-access
      graph, tf.train.load_checkpoint(programs["text_rnn"]),
      {"keep_prob": np.float32(1.0)}, mapping.TF2)
  (loop,) = graph.loops()
  loop = dataclasses.replace(
      loop, variables=loop.variables | {"attention/memory_layer/kernel"})
  with pytest.raises(tf1_program.ProgramError,
                     match="reads variables beyond its cells'.*memory_layer"):
    tf1_program_rnn.loop_layer(translator, loop, [None])


@pytest.mark.parametrize("name, target", [("tied_bigru", mapping.TF2),
                                          ("deep_speech2", mapping.KERAS)])
def test_a_trained_whole_model_goes_back_to_the_programs_checkpoint(
    programs, tmp_path, name, target):
  """Translate, change every weight (as training would), write back under
  the program's own names: the program's graph, restored by its own Saver,
  computes what the Keras model computes; with the weights unchanged, the
  checkpoint comes back bit for bit."""
  from migration import tf1_graph, tf1_program, whole_program  # pylint: disable=g-import-not-at-top
  case = whole_programs.case(name)
  graph = tf1_graph.read(programs[name] + ".meta")
  reader = tf.train.load_checkpoint(programs[name])
  program = tf1_program.translate(
      graph, reader, case.outputs,
      tf1_program.parse_feed(graph, case.feed), target)
  same = whole_program.model_values(program)
  for variable, value in same.items():
    np.testing.assert_array_equal(value, reader.get_tensor(variable))
  rng = np.random.default_rng(0)
  for weight in program.model.weights:
    value = np.asarray(weight.numpy())
    weight.assign(value + (rng.standard_normal(value.shape) * 1e-2).astype(
        value.dtype))
  prefix = whole_program.write_tf1(program, reader,
                                   str(tmp_path / "back" / "model.ckpt"))
  x = [case.probe[n] for n, _, _ in program.inputs]
  want = tf.function(program.model)(x)
  want = want if isinstance(want, (list, tuple)) else [want]
  restored = tf.Graph()
  with restored.as_default():
    saver = tf.compat.v1.train.import_meta_graph(programs[name] + ".meta")
    feeds = {f"{n}:0": v for n, v in zip([i[0] for i in program.inputs], x)}
    feeds.update({f"{n}:0": v for n, v in program.feeds.items()})
    with tf.compat.v1.Session(graph=restored) as session:
      saver.restore(session, prefix)
      got = session.run(case.outputs, feeds)
  changed = 0
  for tensor, ours, theirs in zip(case.outputs, want, got):
    ours = np.asarray(ours)
    changed += not np.array_equal(theirs, case.recorded[tensor])
    if theirs.dtype.kind == "f":
      bound = tolerances.PROGRAM.for_dtype(theirs.dtype) * max(
          1.0, float(np.abs(theirs).max()))
      assert np.abs(ours - theirs).max() <= bound, tensor
    else:
      np.testing.assert_array_equal(ours, theirs)
  assert changed     # the new weights reached the program's graph


@pytest.mark.parametrize("name, target", [
    ("tied_bigru", mapping.TF2), ("deep_speech2", mapping.KERAS)])
def test_adam_state_goes_into_the_models_optimizer(programs, converted, name,
                                                   target):
  """TF1 Adam's slots and beta powers go into the written model's optimizer
  (TF1Adam for tf2, Keras's Adam for keras), exactly."""
  from migration import optimizer_state, tf1_graph, tf1_program, whole_program  # pylint: disable=g-import-not-at-top
  result, case, path = converted(name, target)
  assert result.published and "Adam, carried into the model" in result.summary
  reader = tf.train.load_checkpoint(programs[name])
  model = exporters.load_keras_file(path)
  # The loaded file's optimizer, through the same translation's placements.
  graph = tf1_graph.read(programs[name] + ".meta")
  program = tf1_program.translate(
      graph, reader, case.outputs, tf1_program.parse_feed(graph, case.feed),
      target)
  for ours, loaded in zip(program.model.weights, model.weights):
    ours.assign(loaded)
  state = whole_program.adam_state(program, reader)
  places = [p for p in program.placements if p.variable.trainable]
  # Build the translated model's optimizer like the loaded one, then copy.
  whole_program.carry_adam(program, reader, target)
  for ours, loaded in zip(program.model.optimizer.variables,
                          model.optimizer.variables):
    ours.assign(loaded)
  back = optimizer_state.from_optimizer(program.model.optimizer, places,
                                        state.scope, state.powers_scope)
  for variable, value in back.to_variables().items():
    np.testing.assert_array_equal(value, reader.get_tensor(variable),
                                  err_msg=variable)
  assert int(model.optimizer.iterations.numpy()) == state.steps()


def test_a_model_trained_in_keras_goes_back_from_its_file(programs, converted,
                                                         tmp_path):
  """The CLI's way back: `--input=tuned.keras --outputs=... --meta=PREFIX.meta
  --output=NEW_PREFIX --verify` writes the program's checkpoint, which its
  own graph restores to compute what the tuned model computes; a model of
  another program is refused, writing nothing."""
  result, case, path = converted("tied_bigru", mapping.TF2)
  assert result.published
  model = exporters.load_keras_file(path)
  rng = np.random.default_rng(1)
  for weight in model.weights:
    value = np.asarray(weight.numpy())
    weight.assign(value + (rng.standard_normal(value.shape) * 1e-2).astype(
        value.dtype))
  tuned = str(tmp_path / "tuned.keras")
  model.save(tuned)
  back = str(tmp_path / "back" / "model.ckpt")
  report = exporters.convert_path(
      tuned, back, verify=True, outputs=case.outputs, feed=case.feed,
      meta=programs["tied_bigru"] + ".meta")
  assert report.published and report.ok, report.summary
  assert "Adam state from its optimizer" in report.summary
  restored = tf.train.load_checkpoint(back)
  original = tf.train.load_checkpoint(programs["tied_bigru"])
  assert sorted(restored.get_variable_to_shape_map()) == sorted(
      original.get_variable_to_shape_map())
  kernel = "encode/docs/bidirectional_rnn/fw/gru_cell/gates/kernel"
  assert not np.array_equal(restored.get_tensor(kernel),
                            original.get_tensor(kernel))
  # Another program's model: refused, nothing written.
  other = converted("text_rnn", mapping.TF2)[2]
  refused(other, str(tmp_path / "none" / "model.ckpt"),
          "is not the translation of these outputs", outputs=case.outputs,
          feed=case.feed, meta=programs["tied_bigru"] + ".meta")
