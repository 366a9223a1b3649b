"""Runs the project's scripts as a user would: a fresh Python process."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _environment(env):
  full_env = dict(os.environ)
  full_env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the scripts choose theirs
  full_env["PYTHONPATH"] = ROOT + os.pathsep + full_env.get("PYTHONPATH", "")
  full_env.update(env or {})
  return full_env


def run(script, *args, timeout=300, env=None):
  """Runs `python -m gru_commands.<script> args...` (the installed command's
  module), with `env` added to the environment; returns the
  CompletedProcess."""
  return subprocess.run(
      [sys.executable, "-m", f"gru_commands.{script}", *args], cwd=ROOT,
      env=_environment(env), capture_output=True, text=True,
      timeout=timeout, check=False)


def start(script, *args, env=None):
  """Starts `python -m gru_commands.<script> args...`; returns the Popen."""
  return subprocess.Popen(
      [sys.executable, "-m", f"gru_commands.{script}", *args], cwd=ROOT,
      env=_environment(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
      text=True)
