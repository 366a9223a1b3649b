"""Test-session setup: quiet TensorFlow start-up, shared fixtures."""

import os

import hypothesis
import pytest

from gru_common import tensorflow_startup

tensorflow_startup.import_tensorflow_quietly()

import tensorflow as tf  # pylint: disable=g-import-not-at-top,g-bad-import-order

# TF2's runtime is created before any test opens a legacy Session: the first
# runtime a process creates sizes its CPU thread pools for all later ones
# (BUILD.md, Performance). So this process runs TensorFlow's default threads
# whatever order the tests run in, which the thread tests compare against.
tf.config.list_logical_devices()

from compat_tests import legacy_checkpoints  # pylint: disable=g-import-not-at-top,g-bad-import-order,wrong-import-position

# Property-based tests: a few derandomized examples in CI, many more with
# HYPOTHESIS_PROFILE=thorough.
hypothesis.settings.register_profile(
    "ci", max_examples=8, deadline=None, derandomize=True,
    suppress_health_check=[hypothesis.HealthCheck.too_slow])
hypothesis.settings.register_profile(
    "thorough", max_examples=400, deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.too_slow])
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory):
  """{variant: prefix} of real legacy checkpoints with Adam state, made once
  per test run (pytest-xdist workers share one folder; tests must not
  change them)."""
  root = tmp_path_factory.getbasetemp()
  if os.environ.get("PYTEST_XDIST_WORKER"):
    root = root.parent
  return legacy_checkpoints.make_all(str(root / "legacy_checkpoints"))


@pytest.fixture
def out_dir(tmp_path):
  """A fresh folder for a job's outputs."""
  return str(tmp_path / "out")
