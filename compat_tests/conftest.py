"""Test-session setup: quiet TensorFlow start-up, shared fixtures."""

import pytest

import scripts

scripts.import_tensorflow_quietly()

import tensorflow as tf  # pylint: disable=g-import-not-at-top,g-bad-import-order

# TF2's runtime is created before any test opens a legacy Session: the first
# runtime a process creates sizes its CPU thread pools for all later ones
# (BUILD.md, Performance). So this process runs TensorFlow's default threads
# whatever order the tests run in, which the thread tests compare against.
tf.config.list_logical_devices()


@pytest.fixture
def out_dir(tmp_path):
  """A fresh folder for a job's outputs."""
  return str(tmp_path / "out")
