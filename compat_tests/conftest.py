"""Test-session setup: quiet TensorFlow start-up, shared fixtures."""

import scripts  # pylint: disable=unused-import  (loads TensorFlow quietly)

import pytest


@pytest.fixture
def out_dir(tmp_path):
  """A fresh folder for a job's outputs."""
  return str(tmp_path / "out")
