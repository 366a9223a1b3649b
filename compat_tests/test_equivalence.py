"""The proof: legacy and TF2 compute the same thing.

Reference path bitwise on every standard case (outputs, weight and input
gradients, eager and tf.function); XLA and stock Keras within
the tolerance policy; training for 500 epochs bitwise on the exact path;
resumption across a TF1 checkpoint bitwise; property-based sweeps; golden
checkpoints; and the harness checks the TF2 migration guide recommends.

More hypothesis examples: HYPOTHESIS_PROFILE=thorough pytest -k property
"""

import json
import os
import subprocess
import sys

import hypothesis
from hypothesis import strategies as st
import numpy as np
import pytest
import tensorflow as tf

from compat_tests import goldens
from compat_tests import script_runner
from gru_common import compare
from gru_common import job_configs
from gru_common import names
from gru_common import tolerances
from legacy import scan_gru
from migration import convert
from migration.kinds import seeds
from migration import legacy_graph
from migration import mapping
from migration import models
from migration import tf1_checkpoint
from migration import verification
from proof import equivalence
from proof import report as report_lib
import tf2

_v1 = tf.compat.v1
GOLDEN_FOLDER = goldens.FOLDER

CASES = (equivalence.standard_cases(seeds.SCAN) +
         equivalence.standard_cases(seeds.LOOP))


def case_id(case):
  return f"{case.describe()}-{case.dtype}".replace(" ", "")


def assert_rows_pass(rows):
  failed = [r for r in rows if not r.passed]
  assert not failed, "\n".join(equivalence.format_table(failed))


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_reference_path_is_bitwise_legacy(case):
  rows = equivalence.forward_and_gradients(
      case, modes=("eager", "function", "predict", "keras"))
  reference = [r for r in rows if "TF2 eager" in r.name or
               "tf.function" in r.name or "predict vs" in r.name
               and "TF2" in r.name]
  assert len(reference) == 7 and all(r.exact for r in reference)
  assert_rows_pass(rows)


@pytest.mark.parametrize("case", [CASES[0], CASES[3], CASES[6 + 6],
                                  CASES[-1]], ids=case_id)
def test_xla_within_bounds(case):
  rows = equivalence.forward_and_gradients(case, modes=("xla",))
  assert len(rows) == 3
  assert_rows_pass(rows)


@pytest.mark.slow  # 500 epochs of both paths; CI runs it
def test_training_500_epochs_exact_path_is_bitwise(tmp_path):
  rows, curves, timings = equivalence.training(
      job_configs.AdditionConfig(epochs=500),
      runs=("TF2 exact path", "TF2 fast path"), log=lambda _: None)
  exact = [r for r in rows if "exact path" in r.name]
  assert len(exact) == 4 and all(r.exact for r in exact)
  assert_rows_pass(rows)
  assert len(curves.runs["TF2 exact path"][0]) == 500
  # The report's files, from the same run.
  report = report_lib.Report(rows, curves, timings)
  path = report_lib.write_json(report, str(tmp_path / "report.json"),
                               {"epochs": 500})
  with open(path, encoding="utf-8") as f:
    payload = json.load(f)
  assert payload["passed"] and payload["counts"]["rows"] == len(rows)
  assert payload["counts"]["bitwise"] == sum(r.result.bitwise for r in rows)
  assert [compare.Check.from_dict(r) for r in payload["rows"]] == rows
  assert "BITWISE" in payload["tolerance_policy"]
  assert not os.path.exists(path + ".tmp")
  with open(report_lib.plot_training(curves, str(tmp_path / "t.png")),
            "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_verification_script_rejects_a_bad_resume_flag():
  proc = script_runner.run("verify_equivalence", "--resume=5")
  assert proc.returncode == 1
  assert "--resume takes two positive integers" in proc.stderr
  assert "Traceback" not in proc.stderr


def test_resumption_in_tf2_continues_the_legacy_run_bitwise():
  assert_rows_pass(equivalence.resumption(60, 40, log=lambda _: None))


@st.composite
def cases(draw):
  family = draw(st.sampled_from(seeds.FAMILIES))
  batch = draw(st.integers(1, 4))
  time = draw(st.integers(1, 10))
  kwargs = dict(
      family=family, dtype=draw(st.sampled_from(["float32", "float64"])),
      batch=batch, time=time, input_dim=draw(st.integers(1, 4)),
      units=draw(st.integers(1, 8)), seed=draw(st.integers(0, 2**16)),
      scale=draw(st.sampled_from([0.01, 0.1, 0.5, 1.0])))
  if family == seeds.LOOP:
    kwargs["reset_gate"] = draw(st.booleans())
    variant = draw(st.sampled_from(["plain", "revers", "bigru"]))
    kwargs["revers"] = variant == "revers"
    kwargs["bidirectional"] = variant == "bigru"
    if draw(st.booleans()):
      kwargs["lengths"] = tuple(draw(st.lists(
          st.integers(0, time), min_size=batch, max_size=batch)))
  return equivalence.Case(**kwargs)


@pytest.mark.slow  # every hypothesis example builds graphs; CI runs it
@hypothesis.given(cases())
def test_property_reference_path_is_bitwise_and_keras_within_bound(case):
  assert_rows_pass(equivalence.forward_and_gradients(
      case, modes=("function", "predict", "keras")))


class TestDomain:
  """The bitwise claim is for finite inputs; what non-finite ones do is
  pinned here (README, "Proof of equivalence")."""

  @staticmethod
  def outputs(spec, x):
    rng = np.random.RandomState(3)
    values = {n: rng.normal(0, 0.5, s).astype(spec.dtype)
              for n, s in spec.shapes().items()}
    legacy = legacy_graph.run(legacy_graph.build(spec), x, values=values)
    model = models.build(spec, mapping.TF2)
    mapping.to_model(values, mapping.placements(spec, model, mapping.TF2))
    return legacy["gru"], np.asarray(model(x))

  def test_data_blogger_gru_non_finite_inputs(self):
    spec = seeds.model(seeds.SCAN, 3, 2, "float64")
    x = np.random.RandomState(0).uniform(-1, 1, (4, 5, 2))
    x[0, 0, 0] = np.inf       # in the first step
    x[1, 3, 1] = np.nan       # later on
    legacy, tf2_out = self.outputs(spec, x)
    # Finite rows: bitwise, as everywhere.
    assert compare.bitwise_equal(tf2_out[2:], legacy[2:])
    # A non-finite value after the first step: bitwise before it, NaN from
    # it on, in both.
    assert compare.bitwise_equal(tf2_out[1, :3], legacy[1, :3])
    assert np.isnan(legacy[1, 3:]).all() and np.isnan(tf2_out[1, 3:]).all()
    # In the first step: the legacy h_0 = x_0 @ zeros is NaN (inf * 0), so
    # the whole row is NaN; the TF2 layer starts from zeros, as the source
    # meant, and here stays finite.
    assert np.isnan(legacy[0]).all()
    assert np.isfinite(tf2_out[0]).all()

  def test_tutorial_gru_non_finite_inputs_are_bitwise(self):
    # Its initial state is zeros in both: non-finite values propagate
    # through the same operations.
    spec = seeds.model(seeds.LOOP, 3, 2, "float32")
    x = np.random.RandomState(0).uniform(-1, 1, (3, 5, 2)).astype(np.float32)
    x[0, 0, 0], x[1, 2, 1] = np.inf, np.nan
    legacy, tf2_out = self.outputs(spec, x)
    assert not np.isfinite(legacy[:2]).all()
    assert compare.bitwise_equal(tf2_out, legacy)


class TestGoldens:

  @pytest.mark.slow
  def test_the_generator_reproduces_the_committed_goldens(self):
    # The TF1 cells' goldens are compared by the tests that rerun their
    # oracle (test_tf1_cells.py, test_tf1_lstm_cells.py).
    proc = subprocess.run(
        [sys.executable, "-m", "compat_tests.regenerate_goldens",
         "--nocells"],
        cwd=script_runner.ROOT, capture_output=True, text=True, timeout=300,
        check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == (
        "# dry run: 0 file(s) would change; --write to rewrite")

  @pytest.mark.parametrize("name", sorted(goldens.GOLDENS))
  def test_golden_holds_the_traceable_values(self, name):
    state = tf1_checkpoint.read(os.path.join(GOLDEN_FOLDER, name,
                                             goldens.CHECKPOINT))
    spec = goldens.GOLDENS[name]
    assert state.description == spec and state.adam is None
    expected = goldens.traceable_values(spec)
    assert list(state.values) == list(expected)
    for n, value in expected.items():
      assert compare.bitwise_equal(state.values[n], value), n

  @pytest.mark.parametrize("name", sorted(goldens.GOLDENS))
  def test_golden_restores_strictly_and_reproduces_its_outputs(self, name):
    spec = goldens.GOLDENS[name]
    prefix = os.path.join(GOLDEN_FOLDER, name, goldens.CHECKPOINT)
    graph = legacy_graph.build(spec)
    # Strict both ways: every checkpoint variable is restored, every graph
    # variable comes from the checkpoint.
    assert set(graph.variables) == {
        n for n, _ in tf.train.list_variables(prefix)}
    outputs = legacy_graph.run(graph, goldens.probe_inputs(spec),
                               prefix=prefix)
    with np.load(os.path.join(GOLDEN_FOLDER, name, goldens.EXPECTED)) as f:
      assert sorted(f.files) == sorted(outputs)
      for key in f.files:
        # Written on this project's CI machine type, where they match
        # bitwise; another CPU's kernels may round float32 differently.
        c = compare.compare(outputs[key], f[key])
        assert c.within(tolerances.GOLDEN.for_dtype(spec.dtype)), (key, c)
    for target in mapping.TARGETS:
      if not models.has_target(spec, target):
        continue
      state = tf1_checkpoint.read(prefix)
      model, _ = convert.to_keras(state, target)
      for check in verification.verify_outputs(
          state, model, target, x=goldens.probe_inputs(spec), prefix=prefix):
        assert check.passed, (target, check)


class TestHarness:
  """Checks the TF2 migration guide recommends and Keras 3 does not ship."""

  def count_variable_creations(self, fn):
    created = []

    def creator(next_creator, **kwargs):
      created.append(kwargs.get("name"))
      return next_creator(**kwargs)

    with tf.variable_creator_scope(creator):
      fn()
    return created

  def test_no_variable_is_created_twice(self):
    layer = tf2.ScanGRU(4, return_sequences=True, dtype="float64",
                        mode="exact")
    x = np.zeros((2, 3, 2))
    first = self.count_variable_creations(lambda: layer(x))
    assert len(first) == 9
    again = self.count_variable_creations(lambda: (
        layer(x), layer(np.zeros((5, 7, 2))),
        tf.function(layer)(tf.constant(x)),
        tf.function(layer, jit_compile=True)(tf.constant(x))))
    assert again == []
    bi = tf2.LegacyBidirectional(tf2.LoopGRU(3, return_sequences=True,
                                             mode="exact"))
    assert len(self.count_variable_creations(
        lambda: bi(np.zeros((2, 3, 2), np.float32)))) == 18
    assert self.count_variable_creations(
        lambda: bi(np.zeros((1, 9, 2), np.float32),
                   sequence_lengths=[4])) == []

  def test_legacy_graph_creates_each_variable_once(self):
    with tf.Graph().as_default():
      gru = scan_gru.GRU(2, 4)
      # tf.scan called forward_pass once per step: no variables from it.
      assert [v.op.name for v in _v1.global_variables()] == list(
          names.SCAN_GRU)
      assert gru.h_t is not None

  @pytest.mark.parametrize("name", sorted(goldens.GOLDENS))
  def test_legacy_and_tf2_variables_correspond_one_to_one(self, name):
    spec = goldens.GOLDENS[name]
    legacy = {n: (tuple(v.shape.as_list()), v.dtype.base_dtype.name)
              for n, v in legacy_graph.build(spec).variables.items()}
    model = models.build(spec, mapping.TF2)
    places = mapping.placements(spec, model, mapping.TF2)
    tf2_side = {p.legacy: (tuple(p.variable.shape), p.variable.dtype)
                for p in places}
    assert tf2_side == legacy
    assert len({id(p.variable) for p in places}) == len(places) == len(
        model.weights)
