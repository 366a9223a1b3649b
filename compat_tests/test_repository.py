"""The repository's promises to a new user: README commands, entry points."""

import ast
import importlib.metadata
import os
import re
import subprocess
import sys

import pytest

from compat_tests import version_matrix

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(name):
  with open(os.path.join(ROOT, name), encoding="utf-8") as f:
    return f.read()


def readme_commands():
  blocks = re.findall(r"```bash\n(.*?)```", read("README.md"), re.S)
  return [next(line for line in block.splitlines()
               if line and not line.startswith("#")) for block in blocks[:2]]


def test_readme_opens_with_two_commands_and_ci_runs_the_second():
  install_and_run, install_and_test = readme_commands()
  assert install_and_run.startswith("python3 -m venv .venv && ")
  assert install_and_test.startswith("python3 -m venv .venv && ")
  ci_lines = [l for l in read(".ci/run").splitlines()
              if l and not l.startswith("#")]
  # The README command first, verbatim; `set -e` stops CI at its failure.
  assert ci_lines[:3] == ["set -euo pipefail", 'cd "$(dirname "$0")/.."',
                          install_and_test]
  for command in (install_and_run, install_and_test):
    assert "pip install -q -c constraints.txt " in command, command


def test_setup_states_ranges_and_constraints_pin_a_point_in_them():
  from packaging import requirements  # pylint: disable=g-import-not-at-top
  from packaging import version  # pylint: disable=g-import-not-at-top
  pinned = {n: version.Version(v) for n, v in version_matrix.pins().items()}
  stated = [requirements.Requirement(r) for r in version_matrix.stated_requirements()]
  assert {r.name for r in stated} >= {"tensorflow", "keras", "tf_keras"}
  for requirement in stated:
    specifiers = {s.operator for s in requirement.specifier}
    # A lower bound and an upper one: ranges, never a pin.
    assert specifiers == {">=", "<"}, requirement
    name = version_matrix.normalized(requirement.name)
    assert name in pinned, f"constraints.txt pins no {name}"
    assert requirement.specifier.contains(pinned[name]), (
        f"constraints.txt's {name}=={pinned[name]} is outside {requirement}")


def test_setup_installs_every_package():
  listed = ast.literal_eval(re.search(r"packages=(\[.*?\])", read("setup.py"),
                                      re.S).group(1))
  found = []
  for package in PACKAGES:
    for folder, _, names in os.walk(os.path.join(ROOT, package)):
      if "__init__.py" in names:
        found.append(os.path.relpath(folder, ROOT).replace(os.sep, "."))
  assert sorted(listed) == sorted(found)


def test_console_commands_resolve():
  entries = console_entries()
  assert entries
  # Checked without importing: absl apps define their flags globally, so two
  # scripts cannot share a process. The CLI tests run each one for real.
  for command, module, function in entries:
    tree = ast.parse(read(module.replace(".", "/") + ".py"))
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert function in defined, command
  main_job = readme_commands()[0].rsplit("&& ", 1)[1].split()[0]
  assert main_job.removeprefix(".venv/bin/") in {c for c, _, _ in entries}


PACKAGES = ("legacy", "tf2", "gru_common", "migration", "proof",
            "gru_commands")


def syntax_trees(package):
  """(path relative to the root, AST) of every Python file in a package."""
  for folder, _, names in os.walk(os.path.join(ROOT, package)):
    for name in sorted(n for n in names if n.endswith(".py")):
      path = os.path.join(folder, name)
      with open(path, encoding="utf-8") as f:
        yield os.path.relpath(path, ROOT), ast.parse(f.read())


def imported_modules(package):
  """{file: {every module it imports, dotted}} for the package's files
  (`from a import b` counts as `a.b`)."""
  found = {}
  for path, tree in syntax_trees(package):
    modules = set()
    for node in ast.walk(tree):
      if isinstance(node, ast.Import):
        modules |= {a.name for a in node.names}
      elif isinstance(node, ast.ImportFrom) and node.module:
        modules |= {f"{node.module}.{a.name}" for a in node.names}
    found[path] = modules
  return found


def imported_packages(package):
  """{top-level package: [module]} that the package's modules import."""
  found = {}
  for path, modules in imported_modules(package).items():
    for top in sorted({m.split(".")[0] for m in modules}):
      found.setdefault(top, []).append(path)
  return found


# What each package may import of this project: the layers, no exceptions.
# tf2/ stands alone (legacy/ can be deleted after migrating); the TF1 ports
# need neither TF2 nor Keras; the converter reads the ports, not their jobs,
# and nothing of the proof; the shared parts import no other package.
LAYERS = {
    "gru_common": {"gru_common"},
    "tf2": {"tf2", "gru_common"},
    "legacy": {"legacy", "gru_common"},
    "migration": {"migration", "gru_common", "legacy", "tf2"},
    "proof": {"proof", "gru_common", "legacy", "tf2", "migration"},
    "gru_commands": {"gru_commands", "gru_common", "legacy", "tf2",
                     "migration", "proof"},
}
LEGACY_JOBS = ("legacy.addition_job", "legacy.classifier_job")
# gru_common imports Keras and TensorFlow only where it must: the float64
# recipe, the start-up filter, the one sequence-length check.
GRU_COMMON_KERAS = {"gru_common/keras_precision.py"}
GRU_COMMON_TENSORFLOW = {"gru_common/tensorflow_startup.py",
                         "gru_common/sequence_lengths.py"}


def test_each_package_imports_only_what_the_layout_allows():
  for package, ok in LAYERS.items():
    used = imported_packages(package)
    wrong = {p: used[p] for p in used if p in PACKAGES and p not in ok}
    assert not wrong, f"{package}/ imports {wrong}"
  assert "keras" not in imported_packages("legacy")
  shared = imported_packages("gru_common")
  assert set(shared.get("keras", [])) <= GRU_COMMON_KERAS, shared["keras"]
  tensorflow = set(shared.get("tensorflow", []))
  assert tensorflow <= GRU_COMMON_TENSORFLOW, tensorflow
  for path, modules in imported_modules("migration").items():
    jobs = {m for m in modules if m.startswith(LEGACY_JOBS)}
    assert not jobs, f"{path} imports the legacy jobs {jobs}"


def test_every_shared_module_is_shared():
  # gru_common/ holds what several packages use; a module only one package
  # uses lives with it.
  users = {}
  for package in LAYERS:
    if package == "gru_common":
      continue
    for modules in imported_modules(package).values():
      for module in modules:
        if module.startswith("gru_common."):
          users.setdefault(module.split(".")[1], set()).add(package)
  lonely = {m: sorted(p) for m, p in users.items() if len(p) < 2}
  assert not lonely, lonely


def _kind_names(node):
  """`kind`, `family`, `x.kind`, `x.family` (not numpy's `dtype.kind`)."""
  if isinstance(node, ast.Attribute):
    return node.attr in ("kind", "family") and not (
        isinstance(node.value, ast.Attribute) and node.value.attr == "dtype")
  return isinstance(node, ast.Name) and node.id in ("kind", "family")


def _string_literals(node):
  if isinstance(node, ast.Constant):
    return isinstance(node.value, str)
  if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
    return bool(node.elts) and all(_string_literals(e) for e in node.elts)
  return False


def test_no_code_compares_a_kind_to_a_string_outside_its_own_module():
  # A component's kind is a plug-in: code branches on what the kind
  # provides, never on its name spelled out (migration/kinds/ is where each
  # kind's own module may name itself).
  found = []
  kinds_folder = os.path.join("migration", "kinds") + os.sep
  for package in LAYERS:
    for path, tree in syntax_trees(package):
      if path.startswith(kinds_folder):
        continue
      for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
          continue
        operands = [node.left] + node.comparators
        if (any(_kind_names(o) for o in operands) and
            any(_string_literals(o) for o in operands)):
          found.append(f"{path}:{node.lineno}")
  assert not found, found


@pytest.mark.slow
def test_tf2_runs_where_legacy_and_migration_cannot_be_imported(tmp_path):
  program = (
      "import sys\n"
      "for name in ('legacy', 'migration', 'proof', 'gru_commands'):\n"
      "  sys.modules[name] = None  # importing them raises ImportError\n"
      "from gru_common import tensorflow_startup\n"
      "tensorflow_startup.import_tensorflow_quietly()\n"
      "import numpy as np, tf2\n"
      "from tf2 import addition_job, classifier_job\n"
      "x = np.zeros((2, 5, 3), np.float32)\n"
      "for layer in (tf2.ScanGRU(4), tf2.LoopGRU(4),\n"
      "              tf2.LegacyBidirectional(tf2.LoopGRU(4,\n"
      "                                      return_sequences=True))):\n"
      "  layer(x)\n"
      "add = addition_job.train(addition_job.Config(epochs=50),\n"
      f"                        output_dir={str(tmp_path / 'add')!r},\n"
      "                        log=lambda _: None)\n"
      "cls = classifier_job.train(classifier_job.Config(epochs=1,\n"
      "                                                 verbose=0),\n"
      f"                          output_dir={str(tmp_path / 'cls')!r},\n"
      "                          log=lambda _: None)\n"
      "print('ok', len(add.train_losses), len(cls.test_accuracies))\n")
  proc = subprocess.run([sys.executable, "-c", program], cwd=ROOT,
                        capture_output=True, text=True, timeout=300,
                        check=False)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert proc.stdout.split() == ["ok", "50", "1"]
  assert os.path.isfile(tmp_path / "add" / "model.keras")


def console_entries():
  return re.findall(r'"((?:gru|tf1)-[\w-]+)=([\w.]+):(\w+)"', read("setup.py"))


def flag_names(module):
  """The flags a command module defines, and the shared ones it defines
  through `_job_flags.define_*_flags`."""
  text = read(module.replace(".", "/") + ".py")
  names = re.findall(r'DEFINE_\w+\(\s*"(\w+)"', text)
  shared = ast.parse(read("gru_commands/_job_flags.py"))
  for function in re.findall(r"_job_flags\.(define_\w+_flags)\(", text):
    body = next(n for n in shared.body if isinstance(n, ast.FunctionDef)
                and n.name == function)
    names += re.findall(r"DEFINE_\w+\(\s*'(\w+)'", ast.unparse(body))
  return names


@pytest.mark.parametrize("command, module", [e[:2] for e in console_entries()])
def test_installed_command_help_shows_its_description_and_flags(command,
                                                                module):
  path = os.path.join(os.path.dirname(sys.executable), command)
  if not os.path.exists(path):
    pytest.skip(f"{command} is not installed next to {sys.executable}")
  proc = subprocess.run([path, "--help"], capture_output=True, text=True,
                        timeout=120, check=False, cwd=ROOT)
  assert proc.returncode in (0, 1) and not proc.stderr, proc.stderr  # absl
  doc = ast.get_docstring(ast.parse(read(module.replace(".", "/") + ".py")))
  assert doc.splitlines()[0] in proc.stdout
  flags = flag_names(module)
  assert flags
  for flag in flags:
    assert re.search(rf"--(\[no\])?{flag}\b", proc.stdout), (command, flag)


def test_install_adds_no_scripts_or_benchmarks_module(tmp_path):
  probe = subprocess.run(
      [sys.executable, "-c",
       "import gru_commands; print(gru_commands.__file__)"],
      cwd=tmp_path, capture_output=True, text=True, check=False)
  if probe.stdout.strip().startswith(os.path.join(ROOT, "gru_commands")):
    pytest.skip("installed in development mode: the clone itself is on "
                "sys.path (CI installs with `pip install .`)")
  for name in ("scripts", "benchmarks"):
    proc = subprocess.run([sys.executable, "-c", f"import {name}"],
                          cwd=tmp_path, capture_output=True, text=True,
                          check=False)
    assert proc.returncode != 0 and "ModuleNotFoundError" in proc.stderr


@pytest.mark.slow
def test_tensorflow_start_up_lines_need_the_filter():
  # TF_CPP_MIN_LOG_LEVEL alone does not silence TF 2.21's start-up (its lines
  # are logged before abseil reads it); tensorflow_startup does. If the
  # first assertion fails, a TensorFlow release fixed it and the filter in
  # gru_common/tensorflow_startup.py can go.
  line = re.compile(r"^[IWEF]\d{4} |^WARNING: All log messages before",
                    re.M)
  plain = subprocess.run(
      [sys.executable, "-c", "import tensorflow as tf; tf.constant(1.0)"],
      env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), capture_output=True,
      text=True, timeout=300, check=False)
  assert plain.returncode == 0, plain.stderr
  if not line.search(plain.stderr):
    # Older releases (2.16, version matrix) honour the level at start-up;
    # the filter then has nothing to do. On the release CI pins, that
    # would mean a fix: fail, so the filter goes.
    release = importlib.metadata.version("tensorflow")
    assert release != version_matrix.pins()["tensorflow"], (
        f"TensorFlow {release} no longer logs start-up lines past "
        "TF_CPP_MIN_LOG_LEVEL=3: gru_common/tensorflow_startup.py can go")
    pytest.skip(f"TensorFlow {release} logs no start-up lines at "
                "TF_CPP_MIN_LOG_LEVEL=3: the filter is not needed on it")
  env = dict(os.environ)
  env.pop("TF_CPP_MIN_LOG_LEVEL", None)
  quiet = subprocess.run(
      [sys.executable, "-c", "from gru_common import tensorflow_startup\n"
       "tensorflow_startup.import_tensorflow_quietly()\n"
       "import tensorflow as tf; tf.constant(1.0)"],
      env=env, cwd=ROOT, capture_output=True, text=True, timeout=300,
      check=False)
  assert quiet.returncode == 0 and not line.search(quiet.stderr), (
      quiet.stderr)


def test_every_reference_to_a_project_module_resolves():
  # `module.name` for every project module a file imports: a rename that
  # missed a use fails here, not on the user's first run of that path.
  import importlib  # pylint: disable=g-import-not-at-top
  missing = []
  for package in PACKAGES + ("compat_tests",):
    for folder, _, names in os.walk(os.path.join(ROOT, package)):
      for name in sorted(n for n in names if n.endswith(".py")):
        path = os.path.join(folder, name)
        with open(path, encoding="utf-8") as f:
          tree = ast.parse(f.read())
        modules = {}
        for node in ast.walk(tree):
          if (isinstance(node, ast.ImportFrom) and node.module
              and node.module.split(".")[0] in PACKAGES + ("compat_tests",)):
            for alias in node.names:
              modules[alias.asname or alias.name] = (
                  f"{node.module}.{alias.name}")
        for node in ast.walk(tree):
          if (isinstance(node, ast.Attribute)
              and isinstance(node.value, ast.Name)
              and node.value.id in modules):
            try:
              module = importlib.import_module(modules[node.value.id])
            except ImportError:
              continue  # a class or function, not a module
            if not hasattr(module, node.attr):
              missing.append(f"{os.path.relpath(path, ROOT)}:{node.lineno}: "
                             f"{node.value.id}.{node.attr}")
  assert not missing, missing


# README's commands after the two first ones: the converter's are run here
# (from the repository root, as a user reading README would, with `runs/`
# moved to a temporary folder); the seed jobs' default runs are each pinned
# by a test of their own.
SEED_JOB_TESTS = {
    "gru-tf2-addition": ("test_tf2_jobs.py",
                         "test_default_tf2_addition_job_answers_1040"),
    "gru-legacy-classifier": (
        "test_legacy_jobs.py",
        "test_default_classifier_reaches_90_percent_on_digits"),
    "gru-tf2-classifier": (
        "test_tf2_jobs.py",
        "test_default_tf2_classifier_reaches_90_percent_on_digits"),
}
CONVERTER_MODULES = {"tf1-convert-checkpoint": "convert_checkpoint",
                     "tf1-inspect-checkpoint": "inspect_checkpoint"}


def readme_example_commands():
  """Every command of README's bash blocks after the first two, its
  continuation lines joined."""
  blocks = re.findall(r"```bash\n(.*?)```", read("README.md"), re.S)[2:]
  commands = []
  for block in blocks:
    for line in block.replace("\\\n", " ").splitlines():
      line = line.split("#", 1)[0].strip()
      if line:
        commands.append(line.split())
  return commands


def test_readme_seed_commands_are_each_run_by_a_test():
  seeds = [c for c in readme_example_commands()
           if c[0] not in CONVERTER_MODULES]
  assert seeds
  for command in seeds:
    assert command[1:] == [], command     # the default run
    file, test = SEED_JOB_TESTS[command[0]]
    assert f"def {test}(" in read(os.path.join("compat_tests", file))


@pytest.mark.slow
def test_readme_converter_commands_run(tmp_path):
  commands = [c for c in readme_example_commands()
              if c[0] in CONVERTER_MODULES]
  assert len(commands) >= 3
  for command in commands:
    args = [a.replace("=runs/", f"={tmp_path}/") for a in command[1:]]
    proc = subprocess.run(
        [sys.executable, "-m",
         f"gru_commands.{CONVERTER_MODULES[command[0]]}", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, (command, proc.stderr[-2000:])
    assert "FAIL" not in proc.stdout
