"""The version matrix: the project under every TensorFlow release it supports.

For each row of `ROWS` (a TensorFlow minor release with its tf_keras), in a
venv of its own made from a copy of this clone's files:

1. install TensorFlow alone, as a user's environment has it;
2. `pip install .` (setup.py's ranges, no constraints file): TensorFlow and
   Keras must stay as they were, and `tf1-convert-checkpoint --help` must
   work;
3. `pip install '.[test]'` with the row's tf_keras;
4. the quick suite (`pytest -n 2 -m "not slow"`, less the tests of the
   matrix's own committed results, which it is producing);
5. every private-API canary (`private_api.USES`, slow ones included);
6. the equivalence report of both seed GRUs (`gru-verify-equivalence`):
   its bitwise claims (the comparisons whose bound is 0);
7. the goldens' dry run (`python -m compat_tests.regenerate_goldens`): every
   golden, the TF1 cells' included (their oracle runs with this row's
   tf_keras), regenerated and compared with the committed file.

Writes one JSON file per row into --results_dir (--norerun keeps a row
whose file is there), then BUILD.md's "Supported versions" and "Private
API" tables from all of them. Too slow for every push (minutes per row in
that table, most of them the quick suite and the reports); run it before
changing setup.py's ranges:

  python -m compat_tests.version_matrix                   # every row
  python -m compat_tests.version_matrix --rows=2.18,2.21  # some rows
  python -m compat_tests.version_matrix --render_only     # tables only
"""

import ast
import dataclasses
import datetime
import json
import os
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET

from absl import app
from absl import flags

from compat_tests import private_api
from gru_common import tolerances

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclasses.dataclass(frozen=True)
class Row:
  tensorflow: str          # the exact release a user has installed
  tf_keras: str            # the test extra's TF1-cell oracle for it
  python: str = "python3.11"
  extra: tuple = ()        # requirements the test extra needs beside it

  @property
  def minor(self):
    return ".".join(self.tensorflow.split(".")[:2])


# The newest patch release of each TensorFlow minor release with Keras 3,
# and the tf_keras of the same minor release (tf_keras pins it).
# onnx 1.19 and later need ml_dtypes >= 0.5 without saying so; TensorFlow
# 2.16 and 2.17 pin older ml_dtypes (migration/onnx_export.py says so to a
# user whose install picked such an onnx).
_OLD_ML_DTYPES = ("onnx<1.19",)
ROWS = (
    Row("2.16.2", "2.16.0", extra=_OLD_ML_DTYPES),
    Row("2.17.1", "2.17.0", extra=_OLD_ML_DTYPES),
    Row("2.18.1", "2.18.0"),
    Row("2.19.1", "2.19.0"),
    Row("2.20.0", "2.20.1"),
    Row("2.21.0", "2.21.0"),
)

# The installed versions each row reports (pip's names, normalized).
REPORTED = ("tensorflow", "keras", "tf-keras", "numpy", "ml-dtypes",
            "protobuf", "absl-py", "matplotlib", "scikit-learn",
            "tensorboard", "jax", "onnx", "onnxruntime", "pytest",
            "hypothesis")

REPORT_MODELS = ("scan", "loop")
BEGIN = "<!-- version-matrix:{} begin -->"
END = "<!-- version-matrix:{} end -->"


def normalized(name):
  """A distribution name as pip compares them (PEP 503)."""
  return re.sub(r"[-_.]+", "-", name).lower()


def _read(name):
  with open(os.path.join(ROOT, name), encoding="utf-8") as f:
    return f.read()


def pins():
  """{normalized distribution name: version} that constraints.txt pins."""
  found = {}
  for line in _read("constraints.txt").splitlines():
    if line and not line.startswith("#"):
      name, pinned = line.split("==")
      found[normalized(name)] = pinned
  return found


def stated_requirements():
  """Every requirement setup.py states, extras included (its lists may name
  a module-level constant and add lists: `ONNX + [...]`)."""
  tree = ast.parse(_read("setup.py"))
  constants = {t.id: n.value for n in tree.body if isinstance(n, ast.Assign)
               for t in n.targets if isinstance(t, ast.Name)}

  def value(node):
    if isinstance(node, ast.Name):
      return value(constants[node.id])
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
      return value(node.left) + value(node.right)
    return ast.literal_eval(node)

  call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call)
              and getattr(n.func, "attr", "") == "setup")
  keywords = {k.arg: k.value for k in call.keywords}
  found = value(keywords["install_requires"])
  for extra in keywords["extras_require"].values:
    found += value(extra)
  return found


def case_outcomes(path):
  """[(node id, passed|failed|errors|skipped)] per <testcase> of a pytest
  JUnit XML file, in its order."""
  found = []
  for case in ET.parse(path).getroot().iter("testcase"):
    tags = {child.tag for child in case}
    found.append((node_id(case), "failed" if "failure" in tags else
                  "errors" if "error" in tags else
                  "skipped" if "skipped" in tags else "passed"))
  return found


def junit_counts(path):
  """Counts of a pytest JUnit XML file: passed, failed, errors, skipped,
  and the node ids that failed or errored ("file.py::test")."""
  counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
  failing = []
  for case, outcome in case_outcomes(path):
    counts[outcome] += 1
    if outcome in ("failed", "errors"):
      failing.append(case)
  counts["failing"] = sorted(failing)
  return counts


def node_id(case):
  """The pytest node id of a JUnit <testcase> (classname "a.b.test_x",
  name "test_y[p]") as "a/b/test_x.py::test_y[p]"."""
  return (case.get("classname").replace(".", "/") + ".py::" +
          case.get("name"))


def bitwise_claims(report):
  """The bitwise claims of a `gru-verify-equivalence` report.json payload:
  every comparison whose bound is 0. Returns (held, total, largest
  difference among those that do not hold, their names)."""
  claims = [r for r in report["rows"] if r["bound"] == 0]
  broken = [r for r in claims if not r["bitwise"]]
  largest = max((r["max_abs_diff"] for r in broken), default=0.0)
  return (len(claims) - len(broken), len(claims), largest,
          [f"{r['name']} ({r['dtype']})" for r in broken])


_GOLDEN_LINE = re.compile(
    r"^(same|differs|new) +(\S+)(?:  \(largest difference (\S+), (\w+)\))?$")


def golden_statuses(text):
  """What `regenerate_goldens`' dry run printed: {"same": n, "differs": n,
  "new": n, "changed": [paths], "numeric": [[path, largest difference,
  dtype]] for the .npz files that differ only in float values}."""
  counts = {"same": 0, "differs": 0, "new": 0, "changed": [], "numeric": []}
  for line in text.splitlines():
    match = _GOLDEN_LINE.match(line.strip())
    if match:
      state, path, diff, dtype = match.groups()
      counts[state] += 1
      if state != "same":
        counts["changed"].append(path)
      if diff is not None:
        counts["numeric"].append([path, float(diff), dtype])
  return counts


def golden_problems(result):
  """The regenerated goldens that break the tolerance policy: under
  `tolerances.GOLDEN_RELEASE` every file that is not the same; under
  another release every .npz not within `tolerances.OTHER_RELEASE` in its
  float values (checkpoint and graph files, which record the release that
  wrote them, are reported, not judged). ["(not run)"] without a dry run."""
  goldens = result.get("goldens") or {}
  if not goldens.get("same"):
    return ["(not run)"]
  release = ".".join(result["row"]["tensorflow"].split(".")[:2])
  if release == tolerances.GOLDEN_RELEASE:
    return list(goldens.get("changed", []))
  numeric = {path: (diff, dtype) for path, diff, dtype in
             goldens.get("numeric", [])}
  problems = ([f"{goldens['new']} new file(s)"] if goldens.get("new")
              else [])
  for path in goldens.get("changed", []):
    if path.endswith(".npz"):
      diff, dtype = numeric.get(path, (None, None))
      if diff is None or diff > tolerances.OTHER_RELEASE.for_dtype(dtype):
        problems.append(path)
  return problems


def goldens_hold(result):
  return not golden_problems(result)


def help_printed(status, output):
  """Whether an absl command's `--help` worked: absl exits with status 1
  after printing the usage, so the text is what tells."""
  return status in (0, 1) and "--input" in output and "Traceback" not in output


def verdict(result):
  """"supported" when every check passed, else what failed."""
  problems = []
  if not result.get("install_ok"):
    problems.append(result.get("install_problem") or "install failed")
  quick = result.get("quick") or {}
  if quick.get("failed") or quick.get("errors") or not quick.get("passed"):
    problems.append("quick suite")
  canaries = result.get("canaries") or {}
  if canaries.get("failed") or canaries.get("errors"):
    problems.append("canaries")
  for model in REPORT_MODELS:
    claims = (result.get("equivalence") or {}).get(model)
    if not claims or claims["held"] != claims["total"]:
      problems.append(f"{model} bitwise claims")
  if not goldens_hold(result):
    problems.append("goldens")
  return "supported" if not problems else "fails: " + ", ".join(problems)


def _claim_cell(claims):
  if not claims:
    return "not run"
  text = f"{claims['held']}/{claims['total']}"
  if claims["held"] != claims["total"]:
    text += f" (largest diff {claims['largest']:.2g})"
  return text


def _golden_cell(goldens):
  if not goldens:
    return "not run"
  text = (f"{goldens['same']} / {goldens['differs'] + goldens['new']}")
  largest = {}
  for _, diff, dtype in goldens.get("numeric", []):
    largest[dtype] = max(diff, largest.get(dtype, 0.0))
  if largest:
    text += " (largest diff " + ", ".join(
        f"{d:.2g} {t}" for t, d in sorted(largest.items())) + ")"
  return text


def _version(result, name):
  return result.get("versions", {}).get(normalized(name), "—")


def by_release(results):
  """Results in TensorFlow release order."""
  return sorted(results, key=lambda r: [
      int(p) for p in r["row"]["tensorflow"].split(".")])


def supported_table(results):
  """BUILD.md's "Supported versions" table: one line per row measured."""
  lines = [
      "| TensorFlow | Keras | tf_keras | NumPy | Python | `pip install .` "
      "keeps TF, Keras; converter runs | quick suite passed / failed / "
      "skipped | canaries | bitwise claims held: scan, loop | goldens same "
      "/ differ (largest) | minutes | verdict |",
      "|" + "---|" * 12]
  for r in by_release(results):
    quick, canaries = r.get("quick") or {}, r.get("canaries") or {}
    goldens = r.get("goldens") or {}
    equivalence = r.get("equivalence") or {}
    extra = r["row"].get("extra") or []
    cells = [
        _version(r, "tensorflow") + (f" (with `{'`, `'.join(extra)}`)"
                                     if extra else ""), _version(r, "keras"),
        _version(r, "tf_keras"), _version(r, "numpy"), r.get("python", "—"),
        "yes" if r.get("install_ok") else r.get("install_problem", "no"),
        (f"{quick.get('passed', 0)} / "
         f"{quick.get('failed', 0) + quick.get('errors', 0)} / "
         f"{quick.get('skipped', 0)}" if quick else "not run"),
        (f"{canaries.get('passed', 0)}/{len(private_api.USES)}" +
         (f" ({canaries['skipped']} skipped)" if canaries.get("skipped")
          else "") if canaries else "not run"),
        ", ".join(_claim_cell(equivalence.get(m)) for m in REPORT_MODELS),
        _golden_cell(goldens),
        f"{r.get('seconds', 0) / 60:.0f}", verdict(r)]
    lines.append("| " + " | ".join(str(c) for c in cells) + " |")
  return lines


def running_time(results):
  """One line: when the rows were measured and how long they took."""
  if not results:
    return []
  dates = sorted(r["date"][:10] for r in results)
  total = sum(r.get("seconds", 0) for r in results) / 60
  python = sorted({r.get("python", "?") for r in results})
  commits = sorted({r.get("commit", "?") for r in results})
  return [f"Measured {dates[0]}" + (f" to {dates[-1]}" if dates[-1] !=
                                    dates[0] else "") +
          f" with Python {', '.join(python)}, commit "
          f"{', '.join(commits)}: {total:.0f} minutes for "
          f"{len(results)} rows on a 2-core machine."]


def failures(results):
  """Per row: every failing test, broken bitwise claim and golden that
  breaks the policy, and how many goldens differ within it."""
  lines = []
  for r in by_release(results):
    named = ((r.get("quick") or {}).get("failing", []) +
             (r.get("canaries") or {}).get("failing", []) +
             [f"bitwise claim: {c}" for m in REPORT_MODELS for c in
              ((r.get("equivalence") or {}).get(m) or {}).get("broken", [])]
             + [f"golden: {g}" for g in golden_problems(r)])
    goldens = r.get("goldens") or {}
    within = len(goldens.get("numeric", []))
    other = len(goldens.get("changed", [])) - within
    notes = []
    if within and not golden_problems(r):
      notes.append(f"{within} .npz goldens differ within `OTHER_RELEASE`")
    if other and not golden_problems(r):
      notes.append(f"{other} checkpoint and graph files differ in bytes")
    if named or notes:
      lines.append(f"- TensorFlow {r['row']['tensorflow']}: " + "; ".join(
          [f"`{n}`" for n in named] + notes))
  return lines


def rendered_supported(results):
  """What goes between the "supported" markers."""
  return (supported_table(results) + [""] + running_time(results) + [""] +
          failures(results))


def private_api_table(results):
  """BUILD.md's "Private API" table: each use, where, and the TensorFlow /
  Keras releases on which its canary passed, was skipped or failed."""
  lines = ["| use | what | used in | canary | passes on (TF / Keras) | "
           "skipped on | fails on |", "|---|---|---|---|---|---|---|"]
  for use in private_api.USES:
    seen = {"passed": [], "skipped": [], "failed": []}
    for r in by_release(results):
      outcome = (r.get("canaries") or {}).get("outcomes", {}).get(use.canary)
      if outcome:
        seen["failed" if outcome == "errors" else outcome].append(
            f"{_version(r, 'tensorflow')} / {_version(r, 'keras')}")
    lines.append(f"| {use.name} | {use.detail} | {use.used_in} | "
                 f"`{use.canary.split('::')[1]}` | " + " | ".join(
                     ", ".join(v) or "—" for v in seen.values()) + " |")
  return lines


def replace_section(text, key, body):
  """`text` with the lines between BEGIN/END markers for `key` replaced."""
  begin, end = BEGIN.format(key), END.format(key)
  if text.count(begin) != 1 or text.count(end) != 1:
    raise ValueError(f"expected one {begin!r} and one {end!r} in the text")
  head, rest = text.split(begin)
  _, tail = rest.split(end)
  return head + begin + "\n" + "\n".join(body) + "\n" + end + tail


# --- running a row ---------------------------------------------------------


def source_files(source):
  """The clone's files as git sees them: tracked, and untracked ones that
  are not ignored (so uncommitted work is measured too)."""
  out = subprocess.run(
      ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
      cwd=source, capture_output=True, check=True).stdout
  return [p for p in out.decode().split("\0")
          if p and os.path.isfile(os.path.join(source, p))]


def source_commit(source):
  """The clone's HEAD commit, with "+changes" when files differ from it."""
  head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=source,
                        capture_output=True, text=True,
                        check=False).stdout.strip()
  dirty = subprocess.run(["git", "status", "--porcelain"], cwd=source,
                         capture_output=True, text=True,
                         check=False).stdout.strip()
  return head + ("+changes" if dirty else "")


def copy_source(source, destination):
  for path in source_files(source):
    target = os.path.join(destination, path)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copy2(os.path.join(source, path), target)


class _Steps:
  """Runs a row's commands, each logged whole to `log`."""

  def __init__(self, log, env):
    self.log, self.env = log, env

  def __call__(self, command, cwd, timeout=3600):
    start = time.time()
    with open(self.log, "a", encoding="utf-8") as f:
      f.write(f"\n$ {' '.join(command)}   # in {cwd}\n")
      f.flush()
      try:
        proc = subprocess.run(command, cwd=cwd, env=self.env, stdout=f,
                              stderr=subprocess.STDOUT, timeout=timeout,
                              check=False)
        status = proc.returncode
      except subprocess.TimeoutExpired:
        status = "timeout"
      f.write(f"# exit {status} after {time.time() - start:.0f} s\n")
    return status

  def output(self, command, cwd):
    proc = subprocess.run(command, cwd=cwd, env=self.env, capture_output=True,
                          text=True, check=False)
    with open(self.log, "a", encoding="utf-8") as f:
      f.write(f"\n$ {' '.join(command)}\n{proc.stdout}{proc.stderr}"
              f"# exit {proc.returncode}\n")
    return proc.returncode, proc.stdout


def _versions(steps, python, cwd):
  status, out = steps.output([python, "-m", "pip", "list", "--format=json"],
                             cwd)
  if status != 0:
    return {}
  listed = {normalized(p["name"]): p["version"] for p in json.loads(out)}
  return {name: listed[name] for name in REPORTED if name in listed}


def _install(row, steps, python, pip, src, result):
  """Steps 1-3; True when the row can go on to its tests."""
  if steps(pip + [f"tensorflow=={row.tensorflow}"], src) != 0:
    result["install_problem"] = f"tensorflow=={row.tensorflow} did not install"
    return False
  before = _versions(steps, python, src)
  if steps(pip + ["."], src) != 0:
    result["install_problem"] = "`pip install .` failed"
    return False
  after = _versions(steps, python, src)
  moved = [f"{n} {before.get(n)} -> {after.get(n)}"
           for n in ("tensorflow", "keras") if before.get(n) != after.get(n)]
  if moved:
    result["install_problem"] = "`pip install .` replaced " + ", ".join(moved)
    return False
  command = os.path.join(os.path.dirname(python), "tf1-convert-checkpoint")
  status, out = steps.output([command, "--help"], src)
  if not help_printed(status, out):
    result["install_problem"] = "tf1-convert-checkpoint --help failed"
    return False
  if steps(pip + [".[test]", f"tf_keras=={row.tf_keras}", *row.extra],
           src) != 0:
    result["install_problem"] = "`pip install '.[test]'` failed"
    return False
  result["versions"] = _versions(steps, python, src)
  if result["versions"].get("tensorflow") != row.tensorflow:
    result["install_problem"] = "`pip install '.[test]'` replaced tensorflow"
    return False
  result["install_ok"] = True
  return True


def run_row(row, workdir, snapshot, keep=False, install_only=False):
  """Runs every step of one row (steps 1-3 only if `install_only`) on a
  copy of `snapshot` (the clone's files, `copy_source`); returns its result
  (a JSON-able dict)."""
  start = time.time()
  base = os.path.join(workdir, row.minor)
  shutil.rmtree(base, ignore_errors=True)
  src, venv = os.path.join(base, "src"), os.path.join(base, "venv")
  os.makedirs(base)
  shutil.copytree(snapshot, src)
  env = {k: v for k, v in os.environ.items()
         if k not in ("PYTHONPATH", "VIRTUAL_ENV", "TF_USE_LEGACY_KERAS")}
  steps = _Steps(os.path.join(base, "log.txt"), env)
  result = {"row": dataclasses.asdict(row), "install_ok": False,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds")}
  try:
    if steps([row.python, "-m", "venv", venv], base) != 0:
      result["install_problem"] = f"{row.python} -m venv failed"
      return result
    python = os.path.join(venv, "bin", "python")
    result["python"] = subprocess.run(
        [python, "-c", "import platform; print(platform.python_version())"],
        capture_output=True, text=True, check=False).stdout.strip()
    pip = [python, "-m", "pip", "install", "-q"]
    if not _install(row, steps, python, pip, src, result) or install_only:
      return result
    junit = os.path.join(base, "quick.xml")
    steps([python, "-m", "pytest", "-n", "2", "-m",
           "not slow and not matrix_results", "-q",
           "-p", "no:cacheprovider", f"--junitxml={junit}"], src)
    if os.path.exists(junit):
      result["quick"] = junit_counts(junit)
    junit = os.path.join(base, "canaries.xml")
    steps([python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
           f"--junitxml={junit}"] + [u.canary for u in private_api.USES], src)
    if os.path.exists(junit):
      counts = junit_counts(junit)
      counts["outcomes"] = dict(case_outcomes(junit))
      result["canaries"] = counts
    result["equivalence"] = {}
    for model in REPORT_MODELS:
      out = os.path.join(base, f"verify_{model}")
      steps([os.path.join(venv, "bin", "gru-verify-equivalence"),
             f"--model={model}", f"--output_dir={out}"], src)
      path = os.path.join(out, "report.json")
      if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
          held, total, largest, broken = bitwise_claims(json.load(f))
        result["equivalence"][model] = {"held": held, "total": total,
                                        "largest": largest, "broken": broken}
    status, out = steps.output(
        [python, "-m", "compat_tests.regenerate_goldens"], src)
    result["goldens"] = golden_statuses(out) if status == 0 else {}
    return result
  finally:
    result["seconds"] = round(time.time() - start)
    if not keep:
      shutil.rmtree(venv, ignore_errors=True)


def load_results(folder):
  results = []
  for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else ():
    if name.startswith("tf-") and name.endswith(".json"):
      with open(os.path.join(folder, name), encoding="utf-8") as f:
        results.append(json.load(f))
  return results


def write_build_md(results, path):
  with open(path, encoding="utf-8") as f:
    text = f.read()
  text = replace_section(text, "supported", rendered_supported(results))
  text = replace_section(text, "private-api", private_api_table(results))
  with open(path, "w", encoding="utf-8") as f:
    f.write(text)


_ROWS = flags.DEFINE_list(
    "rows", [r.minor for r in ROWS],
    "TensorFlow minor releases to measure (of: "
    f"{', '.join(r.minor for r in ROWS)}).")
_WORKDIR = flags.DEFINE_string(
    "workdir", os.path.join("/tmp", "version_matrix"),
    "Scratch folder for each row's copy, venv and logs.")
_RESULTS_DIR = flags.DEFINE_string(
    "results_dir", os.path.join(ROOT, "compat_tests", "version_matrix"),
    "One tf-<minor>.json per row measured.")
_PYTHON = flags.DEFINE_string(
    "python", None, "Interpreter for the venvs (default: each row's, "
    "python3.11).")
_RERUN = flags.DEFINE_bool("rerun", True, "Measure a row again even if its "
                           "JSON exists; --norerun keeps it.")
_RENDER_ONLY = flags.DEFINE_bool("render_only", False, "Only rewrite "
                                 "BUILD.md's tables from --results_dir.")
_KEEP = flags.DEFINE_bool("keep_venvs", False, "Keep each row's venv.")
_INSTALL_ONLY = flags.DEFINE_bool(
    "install_only", False, "Only steps 1-3 (install, keep TensorFlow and "
    "Keras, the converter's --help), for CI: writes no results and no "
    "BUILD.md; exits 1 if a row fails them.")


def _install_only(rows):
  snapshot = os.path.join(_WORKDIR.value, "source")
  shutil.rmtree(snapshot, ignore_errors=True)
  copy_source(ROOT, snapshot)
  failed = 0
  for row in rows:
    if _PYTHON.value:
      row = dataclasses.replace(row, python=_PYTHON.value)
    result = run_row(row, _WORKDIR.value, snapshot, install_only=True)
    versions = ", ".join(f"{k} {v}" for k, v in result.get("versions",
                                                           {}).items()
                         if k in ("tensorflow", "keras", "tf-keras"))
    print(f"# TensorFlow {row.tensorflow}: " +
          ("`pip install .` kept TensorFlow and Keras, "
           "tf1-convert-checkpoint --help works; with the test extra: "
           f"{versions}" if result["install_ok"] else
           f"FAILED: {result.get('install_problem')} (log: "
           f"{_WORKDIR.value}/{row.minor}/log.txt)"), flush=True)
    failed += not result["install_ok"]
  return 1 if failed else 0


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  known = {r.minor: r for r in ROWS}
  unknown = [m for m in _ROWS.value if m not in known]
  if unknown:
    raise app.UsageError(f"--rows: {unknown} not among {sorted(known)}")
  if _INSTALL_ONLY.value:
    return _install_only([known[m] for m in _ROWS.value])
  os.makedirs(_RESULTS_DIR.value, exist_ok=True)
  if not _RENDER_ONLY.value:
    # Every row measures the files as they were at the start.
    snapshot = os.path.join(_WORKDIR.value, "source")
    shutil.rmtree(snapshot, ignore_errors=True)
    copy_source(ROOT, snapshot)
    commit = source_commit(ROOT)
    for minor in _ROWS.value:
      row = known[minor]
      if _PYTHON.value:
        row = dataclasses.replace(row, python=_PYTHON.value)
      path = os.path.join(_RESULTS_DIR.value, f"tf-{minor}.json")
      if os.path.exists(path) and not _RERUN.value:
        continue
      print(f"# TensorFlow {row.tensorflow}: {_WORKDIR.value}/{minor}/log.txt",
            flush=True)
      result = run_row(row, _WORKDIR.value, snapshot, keep=_KEEP.value)
      result["commit"] = commit
      with open(path, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1, sort_keys=True)
      print(f"# TensorFlow {row.tensorflow}: {verdict(result)} "
            f"({result['seconds']} s)", flush=True)
  results = load_results(_RESULTS_DIR.value)
  write_build_md(results, os.path.join(ROOT, "BUILD.md"))
  for line in rendered_supported(results):
    print(line)
  return 0


if __name__ == "__main__":
  app.run(main)
