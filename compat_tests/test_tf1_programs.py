"""Checkpoints as real TF1 programs write them: GRUs under scopes, several
GRUs, global_step, other optimizers, EMA, other layers (the committed
goldens of `tf1_programs`). Each converts (or is refused as documented),
`tf1-inspect-checkpoint` describes it, and the converted model computes what
the program's own graph, restored from the golden, computes."""

import io
import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf

from compat_tests import script_runner
from compat_tests.test_converter_safety import assert_refused
from compat_tests.test_migration import save_variables
from compat_tests.test_migration import variables_of
from compat_tests import tf1_programs
from gru_commands import conversion
from gru_common import compare
from gru_common import tolerances
from legacy import scan_gru as legacy_scan_gru
from migration import convert
from migration import detection
from migration import mapping
from migration import model_names
from migration import optimizer_state
from migration import selection
from migration import tf1_checkpoint
from migration import verification

CASES = tf1_programs.CASES

# What each case needs to convert whole: its options, and the GRU's scope.
OPTIONS = {
    "scoped": {}, "nested": {}, "global_step": {}, "head_outside": {},
    "ema": {"use_ema": True},
    "rmsprop": {"drop_optimizer_state": True},
    "momentum": {"drop_optimizer_state": True},
    "extra_layer": {"allow_unconverted": True},
    "two_grus": {"allow_unconverted": True},
}
CONVERSIONS = [(name, part.scope) for name, case in CASES.items()
               for part in case.parts]


def golden(name):
  return tf1_programs.prefix(name)


def run_command(*args, **options):
  out, err = io.StringIO(), io.StringIO()
  status = conversion.command(*args, stdout=out, stderr=err, **options)
  return status, out.getvalue(), err.getvalue()


class TestInspect:

  @pytest.mark.parametrize("name", sorted(CASES))
  def test_describes_each_case(self, name):
    case = CASES[name]
    found = tf1_checkpoint.inspect(golden(name))
    assert sorted(found.scopes()) == sorted(p.scope for p in case.parts)
    for part in case.parts:
      gru = next(g for g in found.rnns if g.scope == part.scope)
      assert gru.description == part.description() and not gru.problems
      if part.seed.head:
        assert gru.head_scope == ("" if part.head_outside else part.scope)
      assert gru.optimizer == case.optimizer
      assert bool(gru.shadows) == case.ema
      if case.ema:
        assert set(gru.shadows) == gru.names
    assert (found.global_step is not None) == case.global_step
    assert found.beta_powers == (
        ["beta1_power", "beta2_power"] if case.optimizer == "Adam" else [])
    expected_other = (["aux/kernel", "aux/kernel/Adam", "aux/kernel/Adam_1"]
                      if case.extra_layer else [])
    assert found.other == expected_other

  def test_reads_no_tensor(self, monkeypatch):
    load = tf.train.load_checkpoint

    class IndexOnly:
      def __init__(self, prefix):
        self._reader = load(prefix)
        self.get_variable_to_shape_map = self._reader.get_variable_to_shape_map
        self.get_variable_to_dtype_map = self._reader.get_variable_to_dtype_map

      def get_tensor(self, name):
        raise AssertionError(f"tensor {name!r} was read")

    monkeypatch.setattr(tf.train, "load_checkpoint", IndexOnly)
    assert tf1_checkpoint.inspect(golden("ema")).rnns
    with pytest.raises(AssertionError, match="was read"):
      tf1_checkpoint.read(golden("ema"), use_ema=True)

  def test_command_text_and_json(self):
    out = io.StringIO()
    assert conversion.inspect_command(golden("two_grus"), stdout=out) == 0
    text = out.getvalue()
    assert "RNN 1 at scope 'decoder': tutorial BiGRU" in text
    assert "RNN 2 at scope 'encoder': Data Blogger GRU" in text
    assert "head: classifier (3 outputs) at scope 'decoder'" in text
    out = io.StringIO()
    assert conversion.inspect_command(golden("ema"), as_json=True,
                                   stdout=out) == 0
    facts = json.loads(out.getvalue())
    (gru,) = facts["grus"]
    assert gru["kind"] == "tutorial BiGRU" and gru["units"] == 3
    assert gru["directions"] == ["forward", "backward"]
    assert gru["head"] == {"kind": "classifier", "units": 3, "scope": ""}
    assert gru["optimizer"] == "Adam" and len(gru["ema_shadows"]) == 20
    assert facts["global_step"] == {"name": "global_step", "dtype": "int64"}

  @pytest.mark.slow  # runs the installed command in processes; CI runs it
  def test_installed_command_exits_0_on_any_checkpoint(self):
    result = script_runner.run("inspect_checkpoint",
                               f"--input={golden('extra_layer')}", "--json")
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout)
    assert [v["name"] for v in facts["other_variables"]] == [
        "aux/kernel", "aux/kernel/Adam", "aux/kernel/Adam_1"]
    result = script_runner.run("inspect_checkpoint", "--input=/nonexistent")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith(
        "tf1-inspect-checkpoint: error: ")


class TestConvert:

  @pytest.mark.parametrize("target", mapping.TARGETS)
  @pytest.mark.parametrize("name, scope", CONVERSIONS)
  def test_converted_model_computes_the_programs_outputs(self, name, scope,
                                                         target):
    options = dict(OPTIONS[name], scope=scope)
    state = tf1_checkpoint.read(golden(name), **options)
    model, optimizer = convert.to_keras(state, target)
    rng = np.random.RandomState(1)
    x = {p.scope: rng.uniform(-1, 1, (3, 7, p.seed.input_dim)).astype(
        p.seed.dtype) for p in CASES[name].parts}
    want = tf1_programs.run(name, golden(name), x,
                            use_ema=options.get("use_ema", False))[scope]
    got = verification.model_outputs(model, state.description, x[scope])
    bound = (tolerances.BITWISE if target == mapping.TF2 else
             tolerances.STOCK_KERAS).for_dtype(state.description.dtype)
    assert sorted(got) == sorted(want)
    for output in want:
      comparison = compare.compare(got[output], want[output])
      if bound == 0.0:
        assert comparison.bitwise, (output, comparison)
      else:
        assert comparison.within(bound), (output, comparison)
    assert (optimizer is not None) == (CASES[name].optimizer == "Adam" and
                                       not options.get(
                                           "drop_optimizer_state"))
    if optimizer is not None and CASES[name].global_step:
      assert int(optimizer.iterations.numpy()) == tf1_programs.STEPS

  @pytest.mark.parametrize("name, scope", CONVERSIONS)
  def test_round_trip_is_bitwise_under_the_same_names(self, name, scope,
                                                      tmp_path):
    keras_file = str(tmp_path / "model.keras")
    back = str(tmp_path / "back" / "model.ckpt")
    status, out, err = run_command(golden(name), keras_file, scope=scope,
                                   **OPTIONS[name])
    assert status == 0, err
    assert f"scope {scope!r}" in out
    status, _, err = run_command(keras_file, back)
    assert status == 0, err
    original, written = (variables_of(golden(name)),
                         variables_of(back))
    state, chosen = tf1_checkpoint.read_selection(
        golden(name), scope=scope, **OPTIONS[name])
    source_of = chosen.reads
    expected = set(state.description.variable_names())
    if state.adam is not None:
      adam = chosen.adam
      expected |= (set(adam.m.values()) | set(adam.v.values()) |
                   set(adam.powers.values()))
      expected |= {chosen.global_step.name} if chosen.global_step else set()
    assert set(written) == expected
    for written_name, value in written.items():
      assert compare.bitwise_equal(
          value, original[source_of.get(written_name, written_name)]), (
              written_name)

  @pytest.mark.parametrize("name", ["scoped", "nested", "global_step",
                                    "head_outside"])
  def test_the_programs_own_saver_restores_the_round_trip(self, name,
                                                          tmp_path):
    keras_file = str(tmp_path / "model.keras")
    back = str(tmp_path / "back")
    assert run_command(golden(name), keras_file, target="keras")[0] == 0
    assert run_command(keras_file, back)[0] == 0
    (part,) = CASES[name].parts
    x = {part.scope: np.random.RandomState(2).uniform(
        -1, 1, (2, 5, part.seed.input_dim)).astype(part.seed.dtype)}
    got = tf1_programs.run(name, back, x)[part.scope]
    want = tf1_programs.run(name, golden(name), x)[part.scope]
    for output in want:
      assert compare.bitwise_equal(got[output], want[output]), output

  def test_scope_given_for_a_keras_input_moves_the_gru(self, tmp_path):
    keras_file = str(tmp_path / "model.keras")
    back = str(tmp_path / "back")
    assert run_command(golden("scoped"), keras_file)[0] == 0
    status, out, err = run_command(keras_file, back, scope="moved/here")
    assert status == 0, err
    assert "scope 'moved/here'" in out
    written = variables_of(back)
    assert "moved/here/Wz" in written and "moved/here/Variable" in written
    assert not any(n.startswith("encoder/") for n in written)


def write_edited(name, edit, folder):
  """Golden `name`'s variables, edited, saved as a new checkpoint."""
  values = variables_of(golden(name))
  edit(values)
  prefix = os.path.join(folder, "edited", "model.ckpt")
  os.makedirs(os.path.dirname(prefix))
  return save_variables(prefix, values)


def _retype(values, name, dtype):
  values[name] = values[name].astype(dtype)


class TestRefusals:
  """Each refused through the command, its message asserted, nothing
  written."""

  @pytest.mark.parametrize("name, edit, options, match", [
      ("two_grus", None, {}, "2 RNNs in this checkpoint, at scopes "
       "['decoder', 'encoder']; pass --scope=... to pick one"),
      ("two_grus", None, {"scope": "elsewhere"},
       "--scope='elsewhere': no RNN there; RNNs found at scopes "
       "['decoder', 'encoder']"),
      ("scoped", lambda v: v.pop("encoder/Uh"), {},
       "Data Blogger GRU at scope 'encoder': it lacks ['encoder/Uh']"),
      ("global_step", lambda v: v.update(global_step=np.int64(7)), {},
       "'global_step' is 7, but the Adam beta powers count 3 updates"),
      ("scoped", lambda v: v.update({"encoder/Wr/Nadam": v["encoder/Wr"]}),
       {}, "unknown optimizer slots ['encoder/Wr/Nadam']"),
      ("scoped", lambda v: _retype(v, "encoder/bz", np.float32), {},
       "its variables disagree in dtype: ['encoder/bz'] are float32, the "
       "others float64"),
      ("momentum", None, {}, "TF1 Momentum state (['Uh/Momentum', "),
      ("rmsprop", None, {}, "only TF1 Adam state converts; pass "
       "--drop_optimizer_state"),
      ("ema", None, {}, "would leave behind ['classifier/softmax_b/"
       "ExponentialMovingAverage'"),
      ("global_step", None, {"use_ema": True}, "--use_ema: ['Uh', "),
      ("extra_layer", None, {}, "would leave behind ['aux/kernel', "
       "'aux/kernel/Adam', 'aux/kernel/Adam_1']; pass --allow_unconverted"),
      ("scoped", lambda v: v.pop("beta2_power"), {},
       "incomplete Adam state: found beta powers ['beta1_power']"),
      ("scoped", lambda v: v.pop("encoder/Wh/Adam_1"), {},
       "incomplete Adam state: variable 'encoder/Wh' has slots ['Adam']"),
      ("rmsprop", lambda v: [v.pop(n) for n in list(v) if "/RMSProp" in n],
       {}, "'global_step' has nowhere to go"),
  ])
  def test_refused_by_name_nothing_written(self, name, edit, options, match,
                                           tmp_path):
    source = (golden(name) if edit is None else
              write_edited(name, edit, str(tmp_path)))
    output = tmp_path / "out" / "model.keras"
    status, out, err = run_command(source, str(output), **options)
    assert_refused(status, err, match)
    assert out == "" and not output.parent.exists()

  def test_gradient_descent_with_global_step_converts_when_dropped(
      self, tmp_path):
    # rmsprop's golden without its slots: a slot-free optimizer's program.
    source = write_edited("rmsprop", lambda v: [
        v.pop(n) for n in list(v) if "/RMSProp" in n], str(tmp_path))
    status, out, err = run_command(source, str(tmp_path / "m.keras"),
                                   drop_optimizer_state=True)
    assert status == 0, err
    assert "dropped optimizer state (1): global_step" in out


class TestInventoryRules:
  """Recognition rules on names and shapes alone."""

  @staticmethod
  def inventory_of(values):
    return detection.inspect({n: np.shape(v) for n, v in values.items()},
                             {n: np.asarray(v).dtype for n, v in
                              values.items()})

  def test_a_head_two_gru_scopes_could_own_belongs_to_neither(self):
    state = tf1_checkpoint.LegacyState.example()
    values = {}
    for scope in ("a", "b"):
      values.update({f"{scope}/{n}": v for n, v in state.values.items()})
    values["Variable"] = np.zeros((4, 1))
    values["Variable_1"] = np.zeros((1,))
    found = self.inventory_of(values)
    assert [len(g.description.components) for g in found.rnns] == [1, 1]
    assert found.other == ["Variable", "Variable_1"]

  def test_the_nearer_head_wins(self):
    state = tf1_checkpoint.LegacyState.example()
    values = {f"a/{n}": v for n, v in state.values.items()}
    for scope in ("", "a/"):
      values[f"{scope}Variable"] = np.zeros((4, 1))
      values[f"{scope}Variable_1"] = np.zeros((1,))
    found = self.inventory_of(values)
    assert found.rnns[0].head_scope == "a"
    assert found.other == ["Variable", "Variable_1"]

  def test_a_few_data_blogger_names_are_another_layers(self):
    found = self.inventory_of({"enc/Wr": np.zeros((2, 3)),
                               "enc/Wz": np.zeros((2, 3))})
    assert found.rnns == [] and found.other == ["enc/Wr", "enc/Wz"]
    with pytest.raises(selection.SelectionError,
                       match="not one of this project's legacy models"):
      selection.select(found)

  def test_slots_under_a_minimize_scope(self):
    state = tf1_checkpoint.LegacyState.example()
    values = {f"enc/{n}": v for n, v in state.values.items()}
    for n, v in state.values.items():
      values[f"train/enc/{n}/Momentum"] = v
    found = self.inventory_of(values)
    (gru,) = found.rnns
    assert gru.optimizer == "Momentum" and gru.optimizer_scope == "train"
    assert found.other == []


# Every TF1 optimizer, as TensorFlow builds it (its slots by their TF1 names),
# and the name the inventory gives its state.
TF1_OPTIMIZERS = {
    "Adam": lambda step: tf.compat.v1.train.AdamOptimizer(0.01),
    "Momentum": lambda step: tf.compat.v1.train.MomentumOptimizer(0.01, 0.9),
    "RMSProp": lambda step: tf.compat.v1.train.RMSPropOptimizer(0.01),
    "RMSProp (centered)": lambda step: tf.compat.v1.train.RMSPropOptimizer(
        0.01, centered=True),
    "Adagrad": lambda step: tf.compat.v1.train.AdagradOptimizer(0.01),
    "AdagradDA": lambda step: tf.compat.v1.train.AdagradDAOptimizer(
        0.01, global_step=step),
    "Adadelta": lambda step: tf.compat.v1.train.AdadeltaOptimizer(0.01),
    "Ftrl": lambda step: tf.compat.v1.train.FtrlOptimizer(0.01),
    "ProximalAdagrad": lambda step: tf.compat.v1.train.ProximalAdagradOptimizer(
        0.01),
    detection.NO_SLOTS: lambda step: (
        tf.compat.v1.train.GradientDescentOptimizer(0.01)),
}


class TestEveryTF1Optimizer:

  @pytest.mark.parametrize("optimizer", sorted(TF1_OPTIMIZERS))
  def test_slots_as_tensorflow_names_them(self, optimizer, tmp_path):
    """The optimizer's own slots, made under a `minimize` scope, are found
    and named; only Adam's convert, the rest with --drop_optimizer_state."""
    v1 = tf.compat.v1
    spec = tf1_programs.ADDITION
    graph = tf.Graph()
    with graph.as_default():
      with v1.variable_scope("encoder"):
        # float32: TF1's ProximalAdagrad cannot train float64 variables.
        gru = legacy_scan_gru.GRU(spec.input_dim, spec.units, tf.float32)
      step = v1.train.get_or_create_global_step()
      loss = tf.reduce_sum(tf.square(gru.h_t))
      with v1.variable_scope("train"):
        v1_optimizer = TF1_OPTIMIZERS[optimizer](step)
        v1_optimizer.minimize(loss, global_step=step)
      with v1.Session() as session:
        session.run(v1.global_variables_initializer())
        prefix = v1.train.Saver().save(session, str(tmp_path / "m"),
                                       write_meta_graph=False)
    (found,) = tf1_checkpoint.inspect(prefix).rnns
    assert found.scope == "encoder" and found.optimizer == optimizer
    assert found.optimizer_scope == ("train" if found.slots else "")
    if optimizer == "Adam":
      state = tf1_checkpoint.read(prefix)
      assert state.global_step.value == 0 and state.adam.scope == "train"
      return
    with pytest.raises(selection.SelectionError,
                       match="drop_optimizer_state=True"):
      tf1_checkpoint.read(prefix)
    state, chosen = tf1_checkpoint.read_selection(prefix,
                                                  drop_optimizer_state=True)
    assert state.adam is None and "global_step" in chosen.dropped
    assert len(chosen.dropped) == 1 + sum(
        len(s) for s in found.slots.values())


def test_int32_global_step_round_trips_as_int32():
  state = tf1_checkpoint.LegacyState.example()
  values = dict(state.values)
  values.update({f"{n}/Adam": v for n, v in state.values.items()})
  values.update({f"{n}/Adam_1": v * v for n, v in state.values.items()})
  values["beta1_power"] = optimizer_state.beta_power(0.9, 2)
  values["beta2_power"] = optimizer_state.beta_power(0.999, 2)
  values["global_step"] = np.int32(2)
  read = tf1_checkpoint.LegacyState.from_variables(values)
  assert read.global_step.dtype == "int32" and read.global_step.value == 2
  model, _ = convert.to_keras(read, mapping.KERAS)
  back = convert.from_keras(model)
  written = back.to_variables()
  assert written["global_step"].dtype == np.int32
  assert sorted(written) == sorted(values)
  for name, value in written.items():
    assert compare.bitwise_equal(np.asarray(value), np.asarray(values[name])
                                 ), name


class TestModelName:
  """The converted model's name records where its variables came from."""

  @pytest.mark.parametrize("layout", [
      model_names.Layout(),
      model_names.Layout("model/encoder", "", "train", "int32"),
      model_names.Layout("a.b-c_1", None, "", "int64"),
  ])
  def test_round_trips(self, layout):
    name = model_names.name("loop", layout)
    # A valid TensorFlow root scope name, or predict and fit fail.
    assert re.fullmatch(r"[A-Za-z0-9.][A-Za-z0-9_.\\/>-]*", name)
    assert "/" not in name
    assert model_names.parse(name) == ("loop", layout)

  def test_reads_the_earlier_form(self):
    assert model_names.parse(
        "legacy_loop_gru@scope=model:encoder@global_step=int32") == (
            "loop", model_names.Layout("model/encoder", global_step="int32"))

  @pytest.mark.parametrize("name, match", [
      ("legacy_scan_gru-colour-red", "'colour' is not a layout field"),
      ("legacy_scan_gru@colour=red", "'colour' is not a layout field"),
      ("legacy_scan_gru-scope", "'scope' is not a layout field"),
      ("legacy_scan_gru@scope", "'scope' is not a layout field"),
      ("legacy_scan_gru-global_step-float32",
       "global_step must be one of \\('int64', 'int32'\\)"),
  ])
  def test_refuses_what_it_did_not_write(self, name, match):
    with pytest.raises(mapping.MappingError, match=match):
      model_names.parse(name)
