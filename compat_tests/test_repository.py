"""The repository's promises to a new user: README commands, entry points."""

import ast
import os
import re

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
  ci_lines = read(".ci/run").splitlines()
  assert ci_lines[-1] == install_and_test


def test_console_commands_resolve():
  entries = re.findall(r'"(gru-[\w-]+)=([\w.]+):(\w+)"', read("setup.py"))
  assert entries
  # Checked without importing: absl apps define their flags globally, so two
  # scripts cannot share a process. The CLI tests run each one for real.
  for command, module, function in entries:
    tree = ast.parse(read(module.replace(".", "/") + ".py"))
    defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert function in defined, command
  main_job = readme_commands()[0].rsplit("&& ", 1)[1].split()[0]
  assert main_job.removeprefix(".venv/bin/") in {c for c, _, _ in entries}
