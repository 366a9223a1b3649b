"""The version matrix's own logic (`version_matrix.py`): what it reads from
pytest, the report and the goldens' dry run, the verdict it gives, and
that BUILD.md's tables are what it renders from the committed results."""

import os
import re

import numpy as np
import pytest

from compat_tests import golden_files
from compat_tests import private_api
from compat_tests import version_matrix as vm
from gru_common import tolerances

ROOT = vm.ROOT
RESULTS = os.path.join(ROOT, "compat_tests", "version_matrix")

_JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="1" skipped="1"
 tests="5">
<testcase classname="compat_tests.test_a" name="test_ok" time="0.1"/>
<testcase classname="compat_tests.test_a" name="test_p[x-1]" time="0.1"/>
<testcase classname="compat_tests.test_b" name="test_bad" time="0.1">
 <failure message="assert 1 == 2">boom</failure></testcase>
<testcase classname="compat_tests.test_b" name="test_skip" time="0.0">
 <skipped message="not installed"/></testcase>
<testcase classname="compat_tests.test_c" name="test_err" time="0.0">
 <error message="fixture">boom</error></testcase>
</testsuite></testsuites>
"""


def test_junit_counts_and_outcomes(tmp_path):
  path = tmp_path / "junit.xml"
  path.write_text(_JUNIT)
  counts = vm.junit_counts(str(path))
  assert counts == {"passed": 2, "failed": 1, "errors": 1, "skipped": 1,
                    "failing": ["compat_tests/test_b.py::test_bad",
                                "compat_tests/test_c.py::test_err"]}
  outcomes = dict(vm.case_outcomes(str(path)))
  assert outcomes["compat_tests/test_a.py::test_p[x-1]"] == "passed"
  assert outcomes["compat_tests/test_b.py::test_skip"] == "skipped"
  assert outcomes["compat_tests/test_c.py::test_err"] == "errors"


def _row(name, bound, bitwise, diff, dtype="float64"):
  return {"name": name, "bound": bound, "bitwise": bitwise,
          "max_abs_diff": diff, "dtype": dtype}


def test_bitwise_claims_are_the_bound_zero_rows():
  report = {"rows": [_row("a", 0.0, True, 0.0), _row("b", 0.0, False, 3e-16),
                     _row("c", 0.0, False, 1e-7, "float32"),
                     _row("d", 1e-12, False, 5e-13)]}
  held, total, largest, broken = vm.bitwise_claims(report)
  assert (held, total, largest) == (1, 3, 1e-7)
  assert broken == ["b (float64)", "c (float32)"]
  assert vm.bitwise_claims({"rows": [_row("a", 0.0, True, 0.0)]}) == (
      1, 1, 0.0, [])


def test_golden_statuses_and_the_policy_they_are_judged_by():
  text = ("same     scan_addition/model.npz\n"
          "differs  tf1_cells/gru/outputs.npz  (largest difference "
          "1.19e-07, float32)\n"
          "differs  tf1_cells/gru/model.ckpt.meta\n"
          "new      tf1_cells/gru/extra.npz\n"
          "# dry run: 3 file(s) would change; --write to rewrite\n")
  statuses = vm.golden_statuses(text)
  assert statuses == {
      "same": 1, "differs": 2, "new": 1,
      "changed": ["tf1_cells/gru/outputs.npz", "tf1_cells/gru/model.ckpt.meta",
                  "tf1_cells/gru/extra.npz"],
      "numeric": [["tf1_cells/gru/outputs.npz", 1.19e-07, "float32"]]}
  other = {"tensorflow": "2.16.2"}
  golden = {"tensorflow": f"{tolerances.GOLDEN_RELEASE}.0"}
  # A new golden fails everywhere.
  assert not vm.goldens_hold({"row": other, "goldens": statuses})
  statuses = vm.golden_statuses(text.replace("new      tf1_cells/gru/extra."
                                             "npz\n", ""))
  # Another release: values within tolerances.GOLDEN, the graph file's
  # bytes reported only; the release that wrote them: bitwise.
  assert vm.goldens_hold({"row": other, "goldens": statuses})
  assert not vm.goldens_hold({"row": golden, "goldens": statuses})
  far = vm.golden_statuses(text.replace("1.19e-07", "3e-04").replace(
      "new      tf1_cells/gru/extra.npz\n", ""))
  assert not vm.goldens_hold({"row": other, "goldens": far})
  # An .npz that differs other than in float values.
  odd = vm.golden_statuses("same     a.npz\ndiffers  b.npz\n")
  assert not vm.goldens_hold({"row": other, "goldens": odd})
  assert not vm.goldens_hold({"row": other, "goldens": {}})


def test_largest_difference_of_two_goldens(tmp_path):
  a, b, c = (str(tmp_path / f"{n}.npz") for n in "abc")
  np.savez(a, x=np.array([1.0, 2.0], np.float32), i=np.array([1]))
  np.savez(b, x=np.array([1.0, 2.5], np.float32), i=np.array([1]))
  np.savez(c, x=np.array([1.0, 2.0], np.float32), i=np.array([2]))
  assert golden_files.largest_difference(a, b) == (0.5, "float32")
  assert golden_files.largest_difference(a, c) is None
  assert golden_files.describe(b, a, "b") == (
      "differs  b  (largest difference 0.5, float32)")
  assert golden_files.describe(a, a, "a") == "same     a"


def test_help_printed_takes_absl_exit_status_one():
  assert vm.help_printed(1, "usage ... --input: the checkpoint")
  assert vm.help_printed(0, "--input")
  assert not vm.help_printed(1, "Traceback (most recent call last):\n--input")
  assert not vm.help_printed(2, "--input")
  assert not vm.help_printed(1, "")


def _result(**changes):
  result = {"row": {"tensorflow": "2.18.1", "tf_keras": "2.18.0",
                    "python": "python3.11"},
            "install_ok": True, "python": "3.11.7", "seconds": 600,
            "date": "2026-12-05T08:00:00+00:00", "commit": "abc1234",
            "versions": {"tensorflow": "2.18.1", "keras": "3.15.1",
                         "tf-keras": "2.18.0", "numpy": "2.0.2"},
            "quick": {"passed": 10, "failed": 0, "errors": 0, "skipped": 1,
                      "failing": []},
            "canaries": {"passed": len(private_api.USES), "failed": 0,
                         "errors": 0, "skipped": 0, "failing": [],
                         "outcomes": {u.canary: "passed"
                                      for u in private_api.USES}},
            "equivalence": {m: {"held": 3, "total": 3, "largest": 0.0,
                                "broken": []} for m in vm.REPORT_MODELS},
            "goldens": {"same": 5, "differs": 0, "new": 0, "changed": [],
                        "numeric": []}}
  result.update(changes)
  return result


def test_verdict_names_every_failed_check():
  assert vm.verdict(_result()) == "supported"
  broken = _result(
      quick={"passed": 9, "failed": 1, "errors": 0, "skipped": 0,
             "failing": ["compat_tests/test_x.py::test_y"]},
      equivalence={"scan": {"held": 2, "total": 3, "largest": 2e-16,
                            "broken": ["forward (float64)"]},
                   "loop": {"held": 3, "total": 3, "largest": 0.0,
                            "broken": []}},
      goldens={"same": 4, "differs": 1, "new": 0, "changed": ["a.npz"],
               "numeric": [["a.npz", 2e-4, "float32"]]})
  assert vm.verdict(broken) == (
      "fails: quick suite, scan bitwise claims, goldens")
  assert vm.verdict(_result(install_ok=False,
                            install_problem="`pip install .` failed")) == (
      "fails: `pip install .` failed")
  # Nothing run is not a pass.
  assert vm.verdict(_result(quick={}, goldens={})) == (
      "fails: quick suite, goldens")
  table = vm.supported_table([broken])
  assert "2/3 (largest diff 2e-16)" in table[-1]
  assert "4 / 1 (largest diff 0.0002 float32)" in table[-1]
  assert vm.running_time([broken, _result(date="2026-12-06T01:00:00")]) == [
      "Measured 2026-12-05 to 2026-12-06 with Python 3.11.7, commit abc1234: "
      "20 minutes for 2 rows on a 2-core machine."]
  assert vm.failures([broken]) == [
      "- TensorFlow 2.18.1: `compat_tests/test_x.py::test_y`; "
      "`bitwise claim: forward (float64)`; `golden: a.npz`"]


def test_replace_section_needs_both_markers_once():
  text = f"a\n{vm.BEGIN.format('k')}\nold\n{vm.END.format('k')}\nb\n"
  assert vm.replace_section(text, "k", ["new", "lines"]) == (
      f"a\n{vm.BEGIN.format('k')}\nnew\nlines\n{vm.END.format('k')}\nb\n")
  with pytest.raises(ValueError, match="expected one"):
    vm.replace_section("a\nb\n", "k", ["x"])


def test_rows_are_every_minor_release_from_2_16_to_2_21():
  assert [r.minor for r in vm.ROWS] == [f"2.{m}" for m in range(16, 22)]
  for row in vm.ROWS:
    assert row.tf_keras.split(".")[:2] == row.tensorflow.split(".")[:2]


@pytest.mark.matrix_results
def test_build_md_tables_are_the_committed_results_rendered():
  # BUILD.md's tables come from the script, never by hand.
  results = vm.load_results(RESULTS)
  with open(os.path.join(ROOT, "BUILD.md"), encoding="utf-8") as f:
    text = f.read()
  rendered = vm.replace_section(text, "supported",
                                vm.rendered_supported(results))
  rendered = vm.replace_section(rendered, "private-api",
                                vm.private_api_table(results))
  assert rendered == text


@pytest.mark.matrix_results
def test_setup_py_admits_exactly_the_supported_releases():
  # A release the matrix found failing is outside setup.py's TensorFlow
  # range, and every supported one inside it.
  from packaging import requirements  # pylint: disable=g-import-not-at-top
  with open(os.path.join(ROOT, "setup.py"), encoding="utf-8") as f:
    stated = re.search(r'"(tensorflow[<>=][^"]*)"', f.read()).group(1)
  allowed = requirements.Requirement(stated).specifier
  results = vm.load_results(RESULTS)
  assert {r["row"]["tensorflow"] for r in results} == {
      r.tensorflow for r in vm.ROWS}
  for result in results:
    supported = vm.verdict(result) == "supported"
    assert allowed.contains(result["row"]["tensorflow"]) == supported, (
        result["row"]["tensorflow"], vm.verdict(result))


def test_golden_bound_is_bitwise_only_under_the_goldens_release(monkeypatch):
  monkeypatch.setattr(golden_files, "release",
                      lambda: tolerances.GOLDEN_RELEASE)
  assert golden_files.bound(np.float32) == golden_files.bound(np.float64) == 0
  monkeypatch.setattr(golden_files, "release", lambda: "2.16")
  assert golden_files.bound(np.float32) == tolerances.OTHER_RELEASE.float32
  assert golden_files.bound(np.float64) == tolerances.OTHER_RELEASE.float64


def test_the_goldens_release_is_the_one_ci_installs():
  # CI (constraints.txt) runs the release that wrote the goldens, so every
  # golden comparison there is bitwise.
  assert vm.pins()["tensorflow"].startswith(
      tolerances.GOLDEN_RELEASE + ".")


@pytest.mark.matrix_results
def test_setup_py_lower_bounds_are_the_lowest_versions_proven():
  # Each range starts at the lowest version the matrix's supported rows
  # (or CI, constraints.txt) installed: proven, not guessed.
  from packaging import requirements  # pylint: disable=g-import-not-at-top
  from packaging import version  # pylint: disable=g-import-not-at-top
  results = [r for r in vm.load_results(RESULTS)
             if vm.verdict(r) == "supported"]
  assert results
  for stated in vm.stated_requirements():
    requirement = requirements.Requirement(stated)
    name = vm.normalized(requirement.name)
    if name not in vm.REPORTED:
      continue
    seen = [version.Version(r["versions"][name]) for r in results
            if name in r.get("versions", {})]
    seen.append(version.Version(vm.pins()[name]))
    lower = next(s.version for s in requirement.specifier
                 if s.operator == ">=")
    assert version.Version(lower) == min(seen), (stated, sorted(seen))


def test_private_api_table_sorts_each_canary_by_outcome():
  uses = private_api.USES
  outcomes = {uses[0].canary: "passed", uses[1].canary: "skipped",
              uses[2].canary: "errors"}
  result = _result(canaries={"passed": 1, "failed": 0, "errors": 1,
                             "skipped": 1, "failing": [uses[2].canary],
                             "outcomes": outcomes})
  rows = vm.private_api_table([result])[2:]
  assert len(rows) == len(uses)
  label = "2.18.1 / 3.15.1"
  assert rows[0].endswith(f"| {label} | — | — |")
  assert rows[1].endswith(f"| — | {label} | — |")
  assert rows[2].endswith(f"| — | — | {label} |")
  assert rows[3].endswith("| — | — | — |")
