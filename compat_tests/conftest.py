"""Test-session setup: quiet TensorFlow start-up, shared fixtures."""

import pytest

import scripts

scripts.import_tensorflow_quietly()


@pytest.fixture
def out_dir(tmp_path):
  """A fresh folder for a job's outputs."""
  return str(tmp_path / "out")
