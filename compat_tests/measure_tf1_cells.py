"""Measures every TF1-cell golden against its conversions; writes the table
README.md quotes (compat_tests/goldens/tf1_cells/RESULTS.md).

Each case's TF1 checkpoint is converted to stock Keras (`--target=keras`)
and to this project's TF1GRUCell (`--target=tf2`); both run the golden
probe batch without and with sequence lengths (as a mask), and the largest
absolute difference from TensorFlow's own TF1 outputs is reported.

  python -m compat_tests.measure_tf1_cells [--results_file PATH]
"""

import os

from absl import app
from absl import flags
import numpy as np

from gru_common import tables
from gru_common import tensorflow_startup

_RESULTS = flags.DEFINE_string(
    "results_file", None, "Where to write the table (default: RESULTS.md "
    "beside the goldens); '-' prints it only.")


def measure():
  """[(case, kind, dtype, stock plain, stock lengths, tf2 plain, tf2
  lengths)] for every golden case."""
  # pylint: disable=g-import-not-at-top
  from compat_tests import tf1_cells
  from compat_tests import test_tf1_cells
  from migration import convert
  from migration import tf1_checkpoint
  rows = []
  for name, case in tf1_cells.CASES.items():
    state = tf1_checkpoint.read(tf1_cells.prefix(name),
                                **test_tf1_cells.options(name))
    golden = test_tf1_cells.golden_outputs(name)
    row = [name, state.description.components[0].describe()[4:], case.dtype]
    for target in ("keras", "tf2"):
      model, _ = convert.to_keras(state, target)
      plain, masked = test_tf1_cells.outputs(model, golden)
      row += [float(np.abs(plain - golden["outputs"]).max()),
              float(np.abs(masked - golden["outputs_with_lengths"]).max())]
    rows.append(row)
  return rows


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  tensorflow_startup.import_tensorflow_quietly()
  from compat_tests import tf1_cells  # pylint: disable=g-import-not-at-top
  rows = measure()
  lines = tables.format_table(
      [("case", "<", 26), ("TF1 cells", "<", 44), ("dtype", "<", 8),
       ("stock Keras", ">", 12), ("with lengths", ">", 13),
       ("TF1GRUCell", ">", 11), ("with lengths", ">", 13)],
      [[r[0], r[1], r[2]] + [f"{v:.1e}" for v in r[3:]] for r in rows])
  text = "\n".join([
      "# TF1 cells: converted models vs TensorFlow's own TF1 outputs", "",
      "Written by `python -m compat_tests.measure_tf1_cells`: the largest "
      "absolute difference on each golden's probe batch [4, 6, 3], without "
      "and with `sequence_length` (a mask in Keras). TF1GRUCell is target "
      "'tf2'. Measured on this machine against the committed goldens.", "",
      "```text", *lines, "```", ""])
  path = _RESULTS.value or os.path.join(tf1_cells.FOLDER, "RESULTS.md")
  print(text)
  if path != "-":
    with open(path, "w", encoding="utf-8") as f:
      f.write(text)
  return 0


if __name__ == "__main__":
  app.run(main)
