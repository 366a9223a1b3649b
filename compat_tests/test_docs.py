"""The Examples in the public layers' and converter functions' docstrings
run, and print what they say."""

import doctest

import pytest

from gru_commands import conversion
from gru_common import files
from migration import convert
from migration import detection
from migration import exporters
from migration import live
from migration import tf1_checkpoint
from migration import verification
from migration.kinds import seeds
from migration.kinds import tf1_gru_cells
from tf2 import exact_model
from tf2 import legacy_semantics
from tf2 import loop_gru
from tf2 import optimizers
from tf2 import per_sequence_dense
from tf2 import scan_gru
from tf2 import tf1_gru_cell

MODULES = [scan_gru, loop_gru, per_sequence_dense, legacy_semantics,
           optimizers, tf1_gru_cell, exact_model, convert, exporters,
           verification, detection, tf1_checkpoint, live, seeds,
           tf1_gru_cells, conversion, files]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_docstring_examples(module):
  result = doctest.testmod(module, optionflags=doctest.ELLIPSIS |
                           doctest.NORMALIZE_WHITESPACE)
  assert result.attempted > 0, f"{module.__name__} has no Example"
  assert result.failed == 0
