"""Regenerates the golden checkpoints in compat_tests/goldens/: the legacy
models with traceable values (`goldens`), the TF1 programs users wrote
around the seed GRUs (`tf1_programs`, in goldens/tf1_programs/), and TF1
programs of TensorFlow's own GRU and LSTM cells with their outputs
(`tf1_cells`, in goldens/tf1_cells/ and goldens/tf1_lstm_cells/, run in a
subprocess with tf_keras).

Run from a clone of the repository (the goldens are test data, not part of
the installed project):

By default a dry run: writes every golden to a temporary folder and reports,
file by file, whether it differs from the committed one. --write replaces
the committed files.

  python -m compat_tests.regenerate_goldens            # dry run
  python -m compat_tests.regenerate_goldens --write    # rewrite them
"""

import os
import tempfile

from absl import app
from absl import flags

from compat_tests import golden_files
from gru_common import tensorflow_startup

_WRITE = flags.DEFINE_bool("write", False, "Replace the committed goldens "
                           "(default: dry run).")
_CELLS = flags.DEFINE_bool(
    "cells", True, "Also the TF1 cells' goldens (one subprocess with "
    "tf_keras per family); --nocells leaves them out (their tests rerun "
    "the same oracle and compare with the committed files).")
_FOLDER = flags.DEFINE_string("folder", None, "Where the goldens live "
                              "(default: compat_tests/goldens); the TF1 "
                              "programs' go in its tf1_programs/.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  # Imported after flag parsing: --help and flag errors stay instant.
  tensorflow_startup.import_tensorflow_quietly()
  from compat_tests import goldens  # pylint: disable=g-import-not-at-top
  from compat_tests import tf1_cells  # pylint: disable=g-import-not-at-top
  from compat_tests import tf1_programs  # pylint: disable=g-import-not-at-top
  folder = _FOLDER.value or goldens.FOLDER
  sets = [(goldens, goldens.GOLDENS, folder),
          (tf1_programs, tf1_programs.CASES,
           os.path.join(folder, os.path.basename(tf1_programs.FOLDER))),
          (tf1_cells, tf1_cells.CASES,
           os.path.join(folder, os.path.basename(tf1_cells.FOLDER))),
          (tf1_cells, tf1_cells.LSTM_CASES,
           os.path.join(folder, os.path.basename(tf1_cells.LSTM_FOLDER)))]
  if not _CELLS.value:
    sets = sets[:2]
  lstm_files = tf1_cells.LSTM_FILES
  changed = 0
  with tempfile.TemporaryDirectory() as scratch:
    if _CELLS.value:   # one subprocess per family
      tf1_cells.write_all(list(tf1_cells.CASES), scratch)
      tf1_cells.write_all(list(tf1_cells.LSTM_CASES), scratch, meta=True)
    for module, names, committed in sets:
      for name in names:
        written = (lstm_files if names is tf1_cells.LSTM_CASES else
                   tf1_cells.FILES if module is tf1_cells else
                   module.write(name, scratch))
        for file in written:
          new = os.path.join(scratch, name, file)
          old = os.path.join(committed, name, file)
          line = golden_files.describe(new, old,
                                       os.path.relpath(old, folder))
          changed += not line.startswith("same")
          print(line)
  if not _WRITE.value:
    print(f"# dry run: {changed} file(s) would change; --write to rewrite")
    return 0
  for module, names, committed in sets:
    if module is tf1_cells:
      tf1_cells.write_all(list(names), committed,
                          meta=names is tf1_cells.LSTM_CASES)
      continue
    for name in names:
      module.write(name, committed)
  print(f"# rewrote {sum(len(n) for _, n, _ in sets)} goldens in {folder}")
  return 0


if __name__ == "__main__":
  app.run(main)
