"""The converter does no harm: inputs are never touched, nothing that
computes otherwise is written, and an output appears whole or not at all,
through failures, races and kills.

Kills and races run the publish sequence in small processes that import
only `migration.publish` (no TensorFlow), with the module's `os` replaced
from outside by a proxy that kills the process after its N-th file-system
change.

More fuzz examples: HYPOTHESIS_PROFILE=thorough pytest -k fuzz
"""

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

import hypothesis
from hypothesis import strategies as st
import keras
import numpy as np
import pytest
import tensorflow as tf

from compat_tests import legacy_checkpoints
from compat_tests import script_runner
from gru_commands import conversion
from gru_common import compare
from migration import convert
from migration import exporters
from migration import legacy_graph
from migration import mapping
from migration import publish
from migration import tf1_checkpoint
from migration import verification

_v1 = tf.compat.v1
SPECS = legacy_checkpoints.SPECS
ERROR = f"{conversion.COMMAND}: error: "


def run_command(input_path, output_path, **kwargs):
  """(status, stdout, stderr) of the command, run in this process."""
  out, err = io.StringIO(), io.StringIO()
  status = conversion.command(input_path, output_path, stdout=out, stderr=err,
                           **kwargs)
  return status, out.getvalue(), err.getvalue()


def assert_refused(status, stderr, match=None):
  """Exit 1 with exactly one error line (and no traceback)."""
  assert status == 1, stderr
  lines = stderr.splitlines()
  assert len(lines) == 1 and lines[0].startswith(ERROR), stderr
  if match is not None:
    assert match in lines[0], lines[0]


def listing(folder):
  return sorted(os.listdir(folder)) if os.path.isdir(folder) else None


@pytest.fixture(scope="module")
def keras_files(checkpoints, tmp_path_factory):
  """{name: path} of .keras files the converter wrote (both targets)."""
  folder = tmp_path_factory.mktemp("keras_files")
  out = {}
  for name, target in (("scan_addition", mapping.KERAS),
                       ("scan_addition", mapping.TF2),
                       ("bigru", mapping.KERAS),
                       ("loop_classifier", mapping.KERAS)):
    path = str(folder / f"{name}_{target}.keras")
    exporters.tf1_to_keras_file(checkpoints[name], path, target)
    out[f"{name}_{target}"] = path
  return out


# --- 1. Inputs are sacred ---------------------------------------------------


class TestInputsAreSacred:

  def test_input_folder_and_its_own_prefix_as_output(self, checkpoints,
                                                     tmp_path):
    # Reproduces the reported case: --input=DIR --output=DIR/model.ckpt
    # --overwrite replaced the input.
    folder = tmp_path / "ckpt"
    shutil.copytree(os.path.dirname(checkpoints["scan_addition"]), folder)
    (folder / "checkpoint").write_text('model_checkpoint_path: "model.ckpt"\n')
    before = legacy_checkpoints.digest(
        [str(folder / n) for n in os.listdir(folder)])
    status, _, err = run_command(str(folder), str(folder / "model.ckpt"),
                                 overwrite=True)
    assert_refused(status, err, "never touches its input")
    assert legacy_checkpoints.digest(
        [str(folder / n) for n in os.listdir(folder)]) == before

  @pytest.mark.parametrize("alias", ["dotdot", "symlinked_folder",
                                     "hard_link", "symlinked_index"])
  def test_aliases_of_the_input_are_caught(self, checkpoints, tmp_path,
                                           alias):
    folder = tmp_path / "ckpt"
    shutil.copytree(os.path.dirname(checkpoints["loop"]), folder)
    prefix = str(folder / "model.ckpt")
    if alias == "dotdot":
      output = str(folder / ".." / "ckpt" / "model.ckpt")
    elif alias == "symlinked_folder":
      os.symlink(folder, tmp_path / "link")
      output = str(tmp_path / "link" / "model.ckpt")
    else:
      (tmp_path / "other").mkdir()
      output = str(tmp_path / "other" / "model.ckpt")
      make = os.link if alias == "hard_link" else os.symlink
      make(prefix + ".index", output + ".index")
    before = legacy_checkpoints.digest(publish.checkpoint_files(prefix))
    with pytest.raises(publish.PathError, match="never touches its input"):
      exporters.convert_path(prefix, output, overwrite=True)
    assert legacy_checkpoints.digest(publish.checkpoint_files(prefix)) == before

  def test_a_keras_input_behind_the_output_is_caught(self, keras_files,
                                                     tmp_path):
    source = str(tmp_path / "m.keras")
    shutil.copy(keras_files["scan_addition_keras"], source)
    os.symlink(source, tmp_path / "out.index")
    with pytest.raises(publish.PathError, match="never touches its input"):
      exporters.convert_path(source, str(tmp_path / "out"), overwrite=True)
    assert os.path.islink(tmp_path / "out.index")


# --- 2. Never write what does not compute the same --------------------------


def _copy_weights(source, model):
  for layer in model.layers:
    try:
      match = source.get_layer(layer.name)
    except ValueError:
      continue
    if [w.shape for w in match.weights] == [w.shape for w in layer.weights]:
      layer.set_weights(match.get_weights())


def edit(layer_name, **fields):
  """A variant with `fields` set in one layer's config (or in a
  Bidirectional's wrapped layer, for `bigru.forward`)."""
  return edits({layer_name: fields})


def edits(changes):
  """A variant with {layer name: {field: value}} set in its config."""
  def make(base):
    config = base.get_config()
    for layer in config["layers"]:
      for layer_name, fields in changes.items():
        if layer["name"] == layer_name.split(".")[0]:
          target = layer["config"]
          if layer_name.endswith(".forward"):
            target = target["layer"]["config"]
          target.update(fields)
    model = keras.Model.from_config(config)
    _copy_weights(base, model)
    return model
  return make


def all_dtypes(dtype, input_too=True):
  def make(base):
    config = base.get_config()
    for layer in config["layers"]:
      if layer["class_name"] != "InputLayer" or input_too:
        layer["config"]["dtype"] = dtype
    return keras.Model.from_config(config)
  return make


def extra_layer(where):
  """A Dense layer before the GRU, or an Activation after the head."""
  def make(base):
    x = inputs = keras.Input(base.inputs[0].shape[1:], dtype="float64",
                             name="input")
    if where == "before":
      x = keras.layers.Dense(base.inputs[0].shape[-1], dtype="float64",
                             name="pre")(x)
    x = base.get_layer("output")(base.get_layer("gru")(x))
    if where == "after":
      x = keras.layers.Activation("sigmoid", dtype="float64", name="post")(x)
    return keras.Model(inputs, x, name=base.name)
  return make


def skipping_the_gru(base):
  inputs = keras.Input(base.inputs[0].shape[1:], dtype="float64",
                       name="input")
  gru = base.get_layer("gru")(inputs)
  head = keras.layers.Dense(1, dtype="float64", name="output")
  out = head(keras.layers.Concatenate(dtype="float64", name="cat")(
      [gru, inputs]))
  return keras.Model(inputs, out, name=base.name)


def stateful_gru(base):
  """The same model over a fixed batch of 4, its GRU stateful."""
  gru = base.get_layer("gru")
  config = dict(gru.get_config(), stateful=True)
  stateful = type(gru).from_config(config)
  inputs = keras.Input(batch_shape=(4, None, 2), dtype="float64",
                       name="input")
  out = base.get_layer("output")(stateful(inputs))
  stateful.set_weights(gru.get_weights())
  return keras.Model(inputs, out, name=base.name)


def zero_input_gru(base):
  del base
  inputs = keras.Input((None, 0), dtype="float64", name="input")
  out = keras.layers.GRU(3, reset_after=False, return_sequences=True,
                         dtype="float64", name="gru")(inputs)
  return keras.Model(inputs, out, name="legacy_scan_gru")


MUTATIONS = [
    # (id, source .keras, mutation, message)
    ("go_backwards", "scan_addition_keras", edit("gru", go_backwards=True),
     "gru: go_backwards=True, but the legacy Data Blogger GRU runs forward"),
    ("tf2_go_backwards", "scan_addition_tf2", edit("gru", go_backwards=True),
     "gru: go_backwards=True, but the legacy Data Blogger GRU runs forward"),
    ("head_sigmoid", "scan_addition_keras",
     edit("output", activation="sigmoid"),
     "output: activation='sigmoid', but the legacy addition output layer "
     "applies no activation here"),
    ("head_no_bias", "scan_addition_keras", edit("output", use_bias=False),
     "output: use_bias=False, but the legacy addition output layer adds a "
     "bias"),
    ("extra_layer_before", "scan_addition_keras", extra_layer("before"),
     "is pre (Dense) -> gru (GRU) -> output (Dense), but the legacy"),
    ("extra_layer_after", "scan_addition_keras", extra_layer("after"),
     "gru (GRU) -> output (Dense) -> post (Activation), but the legacy"),
    ("rewired", "scan_addition_keras", skipping_the_gru, "cat (Concatenate)"),
    ("return_sequences", "scan_addition_keras",
     edit("gru", return_sequences=False),
     "gru: return_sequences=False, but the legacy Data Blogger GRU returns "
     "the whole output sequence"),
    ("activation", "scan_addition_keras", edit("gru", activation="relu"),
     "gru: activation='relu', but the legacy Data Blogger GRU uses tanh"),
    ("recurrent_activation", "scan_addition_keras",
     edit("gru", recurrent_activation="hard_sigmoid"),
     "gru: recurrent_activation='hard_sigmoid', but the legacy Data Blogger "
     "GRU uses sigmoid for the gates"),
    ("gru_no_bias", "scan_addition_keras", edit("gru", use_bias=False),
     "gru: use_bias=False, but the legacy Data Blogger GRU adds a bias"),
    ("reset_after", "scan_addition_keras", edit("gru", reset_after=True),
     "gru: reset_after=True, but the legacy Data Blogger GRU applies the "
     "reset gate before the recurrent matmul"),
    ("dropout", "scan_addition_keras", edit("gru", dropout=0.5),
     "gru: dropout=0.5, but the legacy Data Blogger GRU has no dropout"),
    ("recurrent_dropout", "scan_addition_keras",
     edit("gru", recurrent_dropout=0.25),
     "gru: recurrent_dropout=0.25, but the legacy Data Blogger GRU has no "
     "dropout"),
    ("stateful", "scan_addition_keras",
     stateful_gru,
     "gru: stateful=True, but the legacy Data Blogger GRU starts every batch "
     "from a zero state"),
    ("float16", "scan_addition_keras", all_dtypes("float16"),
     "dtype float16, but the legacy graphs compute in float32 or float64"),
    ("bfloat16_gru", "scan_addition_keras",
     # (Keras's default Orthogonal initializer has no bfloat16 kernel.)
     edit("gru", dtype="bfloat16", recurrent_initializer="zeros"),
     "gru: dtype bfloat16, but the legacy graphs compute in float32 or "
     "float64"),
    ("mixed_precision", "scan_addition_keras",
     all_dtypes("mixed_float16", input_too=False),
     "gru: dtype mixed_float16, but the legacy graphs compute in float32 or "
     "float64"),
    ("input_dtype", "scan_addition_keras",
     lambda base: edit("input", dtype="float32")(base),
     "input: dtype float32, but the legacy Data Blogger GRU here is float64"),
    ("merge_mode", "bigru_keras", edit("bigru", merge_mode="sum"),
     "bigru: merge_mode='sum', but the legacy tutorial BiGRU concatenates the "
     "two directions"),
    ("bigru_activation", "bigru_keras",
     edit("bigru.forward", activation="relu"),
     "forward_gru: activation='relu', but the legacy tutorial BiGRU uses "
     "tanh for the candidate state"),
    ("classifier_activation", "loop_classifier_keras",
     edit("classifier", activation="softmax"),
     "classifier: activation='softmax', but the legacy tutorial GRU's "
     "classifier head applies no activation here"),
    ("pooling", "loop_classifier_keras",
     edit("mean_over_time", keepdims=True), "mean_over_time: keepdims=True"),
    ("zero_inputs", "scan_addition_keras", zero_input_gru,
     "`input_dim` must be an integer >= 1, got 0."),
]


class TestNeverWriteWhatComputesOtherwise:

  @pytest.mark.parametrize("source, mutate, message",
                           [m[1:] for m in MUTATIONS],
                           ids=[m[0] for m in MUTATIONS])
  def test_mutated_keras_model_is_refused_naming_the_field(
      self, keras_files, tmp_path, source, mutate, message):
    path = str(tmp_path / "variant.keras")
    mutate(keras.saving.load_model(keras_files[source])).save(path)
    out = tmp_path / "out"
    status, _, err = run_command(path, str(out / "model.ckpt"))
    assert_refused(status, err, message)
    assert not out.exists()

  def test_frozen_layer_without_optimizer_state_is_refused(self, keras_files,
                                                           tmp_path):
    # Found by the config fuzz: a layer frozen after training has no Adam
    # slots in the saved optimizer.
    def freeze(config):
      for layer in config["config"]["layers"]:
        if layer["name"] == "gru":
          layer["config"]["trainable"] = False
    path = str(tmp_path / "frozen.keras")
    rewrite_config(keras_files["scan_addition_tf2"], path, freeze)
    status, _, err = run_command(path, str(tmp_path / "out" / "model.ckpt"))
    assert_refused(status, err, "holds no Adam state for 'gru/")
    assert listing(tmp_path) == ["frozen.keras"]

  def test_unchanged_models_still_convert(self, keras_files, tmp_path):
    for name, path in sorted(keras_files.items()):
      status, _, err = run_command(path, str(tmp_path / name / "model.ckpt"),
                                   verify=True)
      assert status == 0, err

  def test_a_model_that_computes_otherwise_unseen_by_its_config(
      self, keras_files, tmp_path, monkeypatch):
    # Defence in depth: the outputs are compared with the rebuilt model's.
    del monkeypatch
    model = keras.saving.load_model(keras_files["scan_addition_keras"])
    head = model.get_layer("output")
    call = head.call
    head.call = lambda *a, **k: call(*a, **k) * 1.5  # This instance only.
    with pytest.raises(mapping.MappingError,
                       match="computes other outputs than the legacy"):
      convert.from_keras(model)


# --- 3. A failing run leaves nothing behind ---------------------------------


class TestFailuresLeaveNothing:

  @pytest.mark.parametrize("direction", ["tf1_to_keras", "keras_to_tf1",
                                         "tf1_to_tf2"])
  def test_failed_verification_publishes_nothing(
      self, checkpoints, keras_files, tmp_path, monkeypatch, direction):
    real_run = legacy_graph.run
    monkeypatch.setattr(legacy_graph, "run", lambda *a, **k: {
        name: value + 1e-3 for name, value in real_run(*a, **k).items()})
    source, output = {
        "tf1_to_keras": (checkpoints["scan_addition"], "m.keras"),
        "keras_to_tf1": (keras_files["scan_addition_keras"], "model.ckpt"),
        "tf1_to_tf2": (checkpoints["scan_addition"], "tf2_ckpt"),
    }[direction]
    out = tmp_path / "out"
    status, stdout, err = run_command(source, str(out / output), verify=True)
    assert_refused(status, err, "verification failed")
    assert "FAIL" in stdout and "Did not write" in stdout
    assert not out.exists()

  def test_existing_output_is_kept_when_verification_fails(
      self, checkpoints, tmp_path, monkeypatch):
    output = str(tmp_path / "m.keras")
    exporters.convert_path(checkpoints["loop"], output)
    before = legacy_checkpoints.digest([output])
    monkeypatch.setattr(verification, "verify_outputs", lambda *a, **k: [
        compare.Check("gru", "float64", compare.compare(np.ones(2),
                                                        np.zeros(2)), 0.0)])
    report = exporters.convert_path(checkpoints["loop"], output, verify=True,
                                  overwrite=True)
    assert not report.published
    assert legacy_checkpoints.digest([output]) == before
    assert listing(tmp_path) == ["m.keras"]


# --- 4./8. Crash-safe publishing --------------------------------------------

KILLER = r"""
import os, shutil, signal, sys
sys.path.insert(0, {root!r})
from migration import publish

class KillAfter:
  '''`os`, but the process is killed after its N-th file-system change.'''
  CHANGES = {{"link", "replace", "rename", "unlink", "remove", "rmdir",
              "mkdir", "write"}}

  def __init__(self, after):
    self.after, self.count = after, 0

  def __getattr__(self, name):
    real = getattr(os, name)
    if name not in self.CHANGES and name != "open":
      return real
    def operation(*args, **kwargs):
      result = real(*args, **kwargs)
      if name != "open" or args[1] & os.O_CREAT:
        self.count += 1
        if self.count == self.after:
          os.kill(os.getpid(), signal.SIGKILL)
      return result
    return operation

source, output, is_checkpoint, overwrite, after = sys.argv[1:6]
is_checkpoint, overwrite = is_checkpoint == "1", overwrite == "1"
out = publish.Output(output, is_checkpoint=is_checkpoint, overwrite=overwrite)
with out.stage() as tmp:
  names = publish.checkpoint_files(source) if is_checkpoint else [source]
  for name in names:
    shutil.copy(name, tmp + name[len(source):])
  if len(sys.argv) > 6:  # A barrier: wait for the go file.
    open(sys.argv[6] + "." + str(os.getpid()), "w").close()
    while not os.path.exists(sys.argv[6]):
      pass
  publish.os = KillAfter(int(after))
  try:
    out.publish(tmp)
  except publish.OutputExistsError:
    print("exists")
    sys.exit(3)
print(publish.os.count)
"""


def publish_in_process(source, output, is_checkpoint, overwrite, after=0,
                       barrier=None, wait=True):
  """Runs one publish of `source`'s files to `output` in a fresh process."""
  program = KILLER.format(root=script_runner.ROOT)
  args = [sys.executable, "-c", program, source, output,
          "1" if is_checkpoint else "0", "1" if overwrite else "0",
          str(after)] + ([barrier] if barrier else [])
  proc = subprocess.Popen(args, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
  if not wait:
    return proc
  out, err = proc.communicate(timeout=60)
  return proc.returncode, out, err


def restored_values(prefix, spec):
  """The model variables a plain tf.compat.v1.train.Saver restores."""
  legacy = legacy_graph.build(spec)
  with legacy.graph.as_default(), _v1.Session(graph=legacy.graph) as session:
    _v1.train.Saver(var_list=legacy.variables).restore(session, prefix)
    return session.run(legacy.variables)


def same_values(a, b):
  return sorted(a) == sorted(b) and all(
      compare.bitwise_equal(a[n], b[n]) for n in a)


@pytest.fixture(scope="module")
def two_checkpoints(checkpoints, tmp_path_factory):
  """(old, new): two checkpoints of one spec with different values."""
  folder = tmp_path_factory.mktemp("new")
  new = legacy_checkpoints.make(SPECS["scan_float32"],
                                str(folder / "model.ckpt"), seed=1)
  return checkpoints["scan_float32"], new


class TestCrashSafePublish:

  @pytest.mark.parametrize("overwrite", [True, False],
                           ids=["overwrite", "new"])
  def test_checkpoint_survives_a_kill_after_every_operation(
      self, two_checkpoints, tmp_path, overwrite):
    old, new = two_checkpoints
    spec = SPECS["scan_float32"]
    old_values, new_values = (restored_values(old, spec),
                              restored_values(new, spec))
    status, out, err = publish_in_process(new, str(tmp_path / "count" / "m"),
                                          True, overwrite)
    assert status == 0, err
    operations = int(out)
    assert operations >= (7 if overwrite else 9)
    for after in range(1, operations + 1):
      folder = tmp_path / f"kill_after_{after}"
      folder.mkdir()
      output = str(folder / "model.ckpt")
      if overwrite:
        for name in publish.checkpoint_files(old):
          shutil.copy(name, output + name[len(old):])
      status, _, err = publish_in_process(new, output, True, overwrite,
                                          after=after)
      assert status == -9, (after, err)
      notes = []
      publish.tidy(str(folder), notes.append)  # What the next run does first.
      if os.path.exists(publish.journal_path(output)):
        pytest.fail(f"journal left after a kill after operation {after}")
      assert listing(folder) == (
          sorted(os.path.basename(f) for f in publish.checkpoint_files(output)))
      if publish.checkpoint_exists(output):
        values = restored_values(output, spec)
        assert (same_values(values, new_values) or
                (overwrite and same_values(values, old_values))), after
      else:
        assert not overwrite and listing(folder) == [], after
      interrupted = [n for n in notes if "interrupted publish" in n]
      assert len(interrupted) <= 1

  @pytest.mark.parametrize("overwrite", [True, False],
                           ids=["overwrite", "new"])
  def test_keras_file_survives_a_kill_after_every_operation(
      self, keras_files, tmp_path, overwrite):
    old, new = keras_files["scan_addition_keras"], keras_files[
        "scan_addition_tf2"]
    status, out, err = publish_in_process(new, str(tmp_path / "count.keras"),
                                          False, overwrite)
    assert status == 0, err
    for after in range(1, int(out) + 1):
      folder = tmp_path / f"kill_after_{after}"
      folder.mkdir()
      output = str(folder / "m.keras")
      if overwrite:
        shutil.copy(old, output)
      status, _, err = publish_in_process(new, output, False, overwrite,
                                          after=after)
      assert status == -9, (after, err)
      publish.tidy(str(folder), lambda line: None)
      assert listing(folder) == ["m.keras"]
      assert legacy_checkpoints.digest([output]) in (
          legacy_checkpoints.digest([new]), legacy_checkpoints.digest([old]))

  @pytest.mark.parametrize("is_checkpoint", [True, False],
                           ids=["checkpoint", "keras"])
  def test_concurrent_publishers_without_overwrite_exactly_one_wins(
      self, two_checkpoints, keras_files, tmp_path, is_checkpoint):
    sources = (two_checkpoints if is_checkpoint else
               (keras_files["scan_addition_keras"],
                keras_files["scan_addition_tf2"]))
    output = str(tmp_path / ("model.ckpt" if is_checkpoint else "m.keras"))
    go = str(tmp_path / "go")
    procs = [publish_in_process(s, output, is_checkpoint, False,
                                barrier=go, wait=False) for s in sources]
    deadline = time.monotonic() + 60
    while len([n for n in os.listdir(tmp_path)
               if n.startswith("go.")]) < 2:
      assert time.monotonic() < deadline, "the publishers never got ready"
      time.sleep(0.01)
    open(go, "w").close()  # Both have checked that the output is absent.
    results = [p.communicate(timeout=60) + (p.returncode,) for p in procs]
    statuses = sorted(r[2] for r in results)
    assert statuses == [0, 3], results
    winner = sources[[r[2] for r in results].index(0)]
    written = (publish.checkpoint_files(output) if is_checkpoint else
               [output])
    expected = (publish.checkpoint_files(winner) if is_checkpoint else
                [winner])
    assert legacy_checkpoints.digest(written) == legacy_checkpoints.digest(
        expected)
    assert not [n for n in os.listdir(tmp_path)
                if n.startswith(".")]

  @pytest.mark.slow
  def test_killed_command_is_completed_by_the_next_run(
      self, two_checkpoints, tmp_path):
    # End to end: the real command, killed after its journal is in place,
    # then run again; it completes the replacement and says so.
    old, new = two_checkpoints
    output = str(tmp_path / "model.ckpt")
    for name in publish.checkpoint_files(old):
      shutil.copy(name, output + name[len(old):])
    source = str(tmp_path / "new.keras")
    exporters.tf1_to_keras_file(new, source)
    program = KILLER.split("source, output")[0] + (
        "_real_publish = publish.Output.publish\n"
        "def publish_and_die(self, tmp):\n"
        "  publish.os = KillAfter(5)  # journal in place, one shard renamed\n"
        "  _real_publish(self, tmp)\n"
        "publish.Output.publish = publish_and_die\n"
        "from gru_commands import convert_checkpoint\n"
        "sys.argv = ['tf1-convert-checkpoint'] + sys.argv[1:]\n"
        "convert_checkpoint.run()\n")
    program = program.format(root=script_runner.ROOT)
    proc = subprocess.run(
        [sys.executable, "-c", program, f"--input={source}",
         f"--output={output}", "--overwrite"], capture_output=True,
        text=True, timeout=300, check=False, cwd=script_runner.ROOT)
    assert proc.returncode == -9, proc.stderr
    assert os.path.exists(publish.journal_path(output))
    with pytest.raises(publish.PathError, match="was interrupted"):
      exporters.convert_path(output, str(tmp_path / "x.keras"))
    proc = script_runner.run("convert_checkpoint", f"--input={source}",
                             f"--output={output}", "--overwrite", "--verify")
    assert proc.returncode == 0, proc.stderr
    assert "note: completed the interrupted publish" in proc.stderr
    assert same_values(restored_values(output, SPECS["scan_float32"]),
                       restored_values(new, SPECS["scan_float32"]))
    assert sorted(os.listdir(tmp_path)) == [
        "model.ckpt.data-00000-of-00001", "model.ckpt.index", "new.keras"]

  @pytest.mark.slow
  def test_two_commands_without_overwrite_exactly_one_wins(
      self, checkpoints, tmp_path):
    output = str(tmp_path / "out" / "model.ckpt")
    go = str(tmp_path / "go")
    program = (
        "import os, sys\n"
        f"sys.path.insert(0, {script_runner.ROOT!r})\n"
        "from migration import publish\n"
        "_real_publish = publish.Output.publish\n"
        "def publish_together(self, tmp):\n"
        f"  open({go!r} + '.' + str(os.getpid()), 'w').close()\n"
        f"  while not os.path.exists({go!r}):\n"
        "    pass\n"
        "  _real_publish(self, tmp)\n"
        "publish.Output.publish = publish_together\n"
        "from gru_commands import convert_checkpoint\n"
        "sys.argv = ['tf1-convert-checkpoint'] + sys.argv[1:]\n"
        "convert_checkpoint.run()\n")
    sources = [checkpoints["scan_float32"], checkpoints["scan_addition"]]
    keras_sources = []
    for i, source in enumerate(sources):
      keras_sources.append(str(tmp_path / f"{i}.keras"))
      exporters.tf1_to_keras_file(source, keras_sources[-1])
    procs = [subprocess.Popen(
        [sys.executable, "-c", program, f"--input={s}", f"--output={output}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=script_runner.ROOT) for s in keras_sources]
    deadline = time.monotonic() + 240
    while len([n for n in os.listdir(tmp_path) if n.startswith("go.")]) < 2:
      assert time.monotonic() < deadline, [p.poll() for p in procs]
      time.sleep(0.05)
    open(go, "w").close()
    results = [p.communicate(timeout=120) + (p.returncode,) for p in procs]
    assert sorted(r[2] for r in results) == [0, 1], results
    loser = [r for r in results if r[2] == 1][0]
    assert_refused(1, loser[1], "exists; pass --overwrite to replace it")
    winner = [r for r in results if r[2] == 0][0]
    state = tf1_checkpoint.read(output)
    assert state.description == SPECS["scan_float32" if "4 units" in winner[0]
                               else "scan_addition"]


# --- 5./7. Path checks, one error line --------------------------------------


def corrupt_zip_member(path, member):
  """Flips a byte inside `member`'s stored data (its CRC then fails)."""
  with zipfile.ZipFile(path) as z:
    info = z.getinfo(member)
  with open(path, "r+b") as f:
    f.seek(info.header_offset + 26)
    name_len, extra_len = np.frombuffer(f.read(4), "<u2")
    f.seek(info.header_offset + 30 + int(name_len) + int(extra_len) +
           info.compress_size // 2)
    byte = f.read(1)
    f.seek(-1, 1)
    f.write(bytes([byte[0] ^ 0xFF]))


def rewrite_config(path, out, change):
  with zipfile.ZipFile(path) as z:
    members = {n: z.read(n) for n in z.namelist()}
  config = json.loads(members["config.json"])
  change(config)
  members["config.json"] = json.dumps(config).encode()
  with zipfile.ZipFile(out, "w") as z:
    for name, data in members.items():
      z.writestr(name, data)


def _set_gru_class(module, name):
  def change(config):
    for layer in config["config"]["layers"]:
      if layer["name"] == "gru":
        layer["module"], layer["class_name"] = module, name
  return change


class TestOneErrorLine:

  @pytest.mark.parametrize("output, match", [
      ("", "--output '': is empty"),
      ("out/", "names a folder"),
      (".", "names a folder"),
      ("existing_folder", "is an existing folder"),
      ("a_file/model.ckpt", "is a file, not a folder"),
  ])
  def test_outputs_that_name_no_file_are_refused(self, checkpoints, tmp_path,
                                                 monkeypatch, output, match):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "existing_folder").mkdir()
    (tmp_path / "a_file").write_text("x")
    before = listing(tmp_path)
    status, _, err = run_command(checkpoints["loop"], output)
    assert_refused(status, err, match)
    assert listing(tmp_path) == before

  def test_missing_folders_are_created_and_removed_on_failure(
      self, checkpoints, tmp_path, monkeypatch):
    status, _, err = run_command(checkpoints["loop"],
                                 str(tmp_path / "a" / "b" / "m.keras"))
    assert status == 0, err
    assert listing(tmp_path / "a" / "b") == ["m.keras"]
    monkeypatch.setattr(keras.Model, "save", _raise(RuntimeError("boom")))
    status, _, err = run_command(checkpoints["loop"],
                                 str(tmp_path / "c" / "d" / "m.keras"))
    assert_refused(status, err, "unexpected RuntimeError: boom")
    assert listing(tmp_path) == ["a"]

  @pytest.mark.parametrize("damage, match", [
      ("unregistered", "names class 'NoSuchLayer', which is not a "
       "registered Keras object"),
      ("os_system", "names class 'system', which is not a registered Keras "
       "object"),
      ("bad_crc", "BadZipFile"),
      ("not_a_zip", "cannot load .keras file"),
  ])
  def test_damaged_keras_files(self, keras_files, tmp_path, damage, match):
    path = str(tmp_path / "m.keras")
    source = keras_files["scan_addition_keras"]
    if damage == "unregistered":
      rewrite_config(source, path, _set_gru_class("foo", "NoSuchLayer"))
    elif damage == "os_system":
      rewrite_config(source, path, _set_gru_class("os", "system"))
    elif damage == "bad_crc":
      shutil.copy(source, path)
      corrupt_zip_member(path, "model.weights.h5")
    else:
      with open(path, "wb") as f:
        f.write(b"not a zip file")
    status, _, err = run_command(path, str(tmp_path / "out" / "model.ckpt"))
    assert_refused(status, err, match)
    assert listing(tmp_path) == ["m.keras"]

  @pytest.mark.parametrize("error, match", [
      (PermissionError(13, "Permission denied"),
       "cannot be written (Permission denied)"),
      (tf.errors.PermissionDeniedError(None, None, "read-only file system"),
       "cannot be written (read-only file system)"),
      (IsADirectoryError(21, "Is a directory"),
       "cannot be written (Is a directory)"),
  ])
  def test_unwritable_output_folder(self, checkpoints, tmp_path, monkeypatch,
                                    error, match):
    # (As root a read-only folder is still writable, so the writer's error
    # is raised where TensorFlow or the file system would raise it.)
    monkeypatch.setattr(tf1_checkpoint, "save", _raise(error))
    source = str(tmp_path / "m.keras")
    exporters.tf1_to_keras_file(checkpoints["scan_addition"], source)
    status, _, err = run_command(source, str(tmp_path / "out" / "model.ckpt"))
    assert_refused(status, err, match)
    assert listing(tmp_path) == ["m.keras"]

  @pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
  def test_read_only_folder(self, checkpoints, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    status, _, err = run_command(checkpoints["loop"], str(folder / "m.keras"))
    assert_refused(status, err, "cannot be written")
    assert listing(folder) == []

  @pytest.mark.slow  # runs the installed command in processes; CI runs it
  def test_the_installed_command_prints_one_line(self, keras_files,
                                                 tmp_path):
    path = str(tmp_path / "m.keras")
    rewrite_config(keras_files["scan_addition_keras"], path,
                   _set_gru_class("os", "system"))
    proc = script_runner.run("convert_checkpoint", f"--input={path}",
                             f"--output={tmp_path / 'out'}")
    assert_refused(proc.returncode, proc.stderr, "names class 'system'")
    assert proc.stdout == ""


def _raise(error):
  def fail(*args, **kwargs):
    raise error
  return fail


# --- 8. Temporary files of killed runs --------------------------------------


class TestTemporaryFiles:

  def test_stale_ones_are_removed_and_live_ones_kept(self, checkpoints,
                                                     tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = subprocess.Popen([sys.executable, "-c",
                             "import time; time.sleep(60)"])
    try:
      stale = [f".model.ckpt.tmp-{dead.pid}.index",
               f".model.ckpt.tmp-{dead.pid}.data-00000-of-00001",
               f".m.keras.tmp-{dead.pid}.keras",
               f".model.ckpt.publish.tmp-{dead.pid}"]
      kept = [f".m.keras.tmp-{live.pid}.keras", ".hidden", "notes.txt"]
      for name in stale + kept:
        (tmp_path / name).write_text("x")
      (tmp_path / f".x.tmp-{dead.pid}_temp").mkdir()
      (tmp_path / f".x.tmp-{dead.pid}_temp" / "part").write_text("x")
      stale.append(f".x.tmp-{dead.pid}_temp")
      status, _, err = run_command(checkpoints["loop"],
                                   str(tmp_path / "out.keras"))
      assert status == 0, err
      assert err.splitlines() == [
          f"{conversion.COMMAND}: note: removed {len(stale)} temporary file(s) "
          f"of killed conversions from {str(tmp_path)!r}: "
          f"{', '.join(sorted(stale))}"]
      assert listing(tmp_path) == sorted(kept + ["out.keras"])
    finally:
      live.kill()
      live.wait()


# --- Property-based fuzz -----------------------------------------------------


def assert_safe(status, stdout, stderr, output_folder, inputs, before):
  """The invariant: refused with one line and nothing written, or written
  and verified; never a traceback, a temporary file or a changed input."""
  assert "Traceback" not in stderr
  hypothesis.event("written and verified" if status == 0 else "refused: " +
                   re.sub(r"'[^']*'", "...", stderr.split(": ", 2)[2])[:50])
  assert legacy_checkpoints.digest(inputs) == before
  if status == 0:
    assert "FAIL" not in stdout and " ok" in stdout, stdout
    assert listing(output_folder) and not [
        n for n in listing(output_folder) if n.startswith(".")]
  else:
    assert_refused(status, stderr)
    # Every refusal is a named check, not an error the converter did not
    # foresee.
    assert ": unexpected " not in stderr, stderr
    assert listing(output_folder) is None


damage = st.one_of(
    st.tuples(st.just("flip"), st.lists(
        st.tuples(st.floats(0, 1, exclude_max=True),
                  st.integers(1, 255)), min_size=1, max_size=4)),
    st.tuples(st.just("truncate"), st.floats(0, 1, exclude_max=True)))


def apply_damage(path, how):
  kind, arg = how
  size = os.path.getsize(path)
  if kind == "truncate":
    os.truncate(path, int(arg * size))
    return
  with open(path, "r+b") as f:
    for where, mask in arg:
      f.seek(int(where * size))
      byte = f.read(1)
      f.seek(-1, 1)
      f.write(bytes([byte[0] ^ mask]))


@pytest.mark.slow
class TestFuzz:

  @hypothesis.given(which=st.sampled_from(["index", "data"]), how=damage)
  def test_fuzz_tf1_checkpoint_bytes(self, checkpoints, which, how):
    with tempfile.TemporaryDirectory() as folder:
      source = os.path.dirname(checkpoints["scan_addition"])
      shutil.copytree(source, os.path.join(folder, "in"))
      prefix = os.path.join(folder, "in", "model.ckpt")
      apply_damage(publish.checkpoint_files(prefix)[which == "data"], how)
      inputs = publish.checkpoint_files(prefix)
      before = legacy_checkpoints.digest(inputs)
      out = os.path.join(folder, "out")
      result = run_command(prefix, os.path.join(out, "m.keras"), verify=True)
      assert_safe(*result, out, inputs, before)

  @hypothesis.given(how=damage)
  def test_fuzz_keras_file_bytes(self, keras_files, how):
    with tempfile.TemporaryDirectory() as folder:
      path = os.path.join(folder, "m.keras")
      shutil.copy(keras_files["scan_addition_keras"], path)
      apply_damage(path, how)
      before = legacy_checkpoints.digest([path])
      out = os.path.join(folder, "out")
      result = run_command(path, os.path.join(out, "model.ckpt"),
                           verify=True)
      assert_safe(*result, out, [path], before)

  @hypothesis.given(data=st.data())
  def test_fuzz_keras_config(self, keras_files, data):
    source = keras_files[data.draw(st.sampled_from(
        ["scan_addition_keras", "scan_addition_tf2", "bigru_keras"]))]
    with zipfile.ZipFile(source) as z:
      layers = json.loads(z.read("config.json"))["config"]["layers"]
    edits = []
    for _ in range(data.draw(st.integers(1, 3))):
      index = data.draw(st.integers(0, len(layers) - 1))
      fields = layers[index]["config"]
      key = data.draw(st.sampled_from(sorted(fields)))
      edits.append((index, key, data.draw(config_value(fields[key]))))

    def change(config):
      for index, key, value in edits:
        config["config"]["layers"][index]["config"][key] = value

    with tempfile.TemporaryDirectory() as folder:
      path = os.path.join(folder, "m.keras")
      rewrite_config(source, path, change)
      before = legacy_checkpoints.digest([path])
      out = os.path.join(folder, "out")
      result = run_command(path, os.path.join(out, "model.ckpt"),
                           verify=True)
      assert_safe(*result, out, [path], before)


def config_value(current):
  """Another value for a config field: mostly of its own type (so that Keras
  loads the model and the converter's checks decide), sometimes anything."""
  anything = st.sampled_from([True, False, None, 0, 1, 2, -1, 0.5, "x",
                              "float16", [], {}])
  if isinstance(current, bool):
    typed = st.booleans()
  elif isinstance(current, float):
    typed = st.sampled_from([0.0, 0.1, 0.5])
  elif isinstance(current, int):
    typed = st.sampled_from([current, current + 1, 1])
  elif isinstance(current, str):
    typed = st.sampled_from([current, "sigmoid", "tanh", "relu", "linear",
                             "float32", "float64", "sum", "concat"])
  else:
    typed = st.just(current)
  return st.one_of(typed, typed, anything)
