"""Regenerates the golden legacy checkpoints in compat_tests/goldens/.

By default a dry run: writes every golden to a temporary folder and reports,
file by file, whether it differs from the committed one. --write replaces
the committed files.

  gru-regenerate-goldens            # dry run: what would change
  gru-regenerate-goldens --write    # rewrite compat_tests/goldens/
"""

import filecmp
import os
import tempfile

import numpy as np
from absl import app
from absl import flags

import scripts

_WRITE = flags.DEFINE_bool("write", False, "Replace the committed goldens "
                           "(default: dry run).")
_FOLDER = flags.DEFINE_string("folder", "compat_tests/goldens",
                              "Where the goldens live (run from the "
                              "repository root).")


def _same(a, b):
  if a.endswith(".npz"):
    with np.load(a) as x, np.load(b) as y:
      return sorted(x.files) == sorted(y.files) and all(
          x[k].tobytes() == y[k].tobytes() and x[k].dtype == y[k].dtype
          for k in x.files)
  return filecmp.cmp(a, b, shallow=False)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  # Imported after flag parsing: --help and flag errors stay instant.
  from migration import goldens  # pylint: disable=g-import-not-at-top
  changed = 0
  with tempfile.TemporaryDirectory() as scratch:
    for name in goldens.GOLDENS:
      for file in goldens.write(name, scratch):
        new = os.path.join(scratch, name, file)
        old = os.path.join(_FOLDER.value, name, file)
        status = ("new" if not os.path.exists(old) else
                  "same" if _same(new, old) else "differs")
        changed += status != "same"
        print(f"{status:8} {os.path.join(name, file)}")
  if not _WRITE.value:
    print(f"# dry run: {changed} file(s) would change; --write to rewrite")
    return 0
  for name in goldens.GOLDENS:
    goldens.write(name, _FOLDER.value)
  print(f"# rewrote {len(goldens.GOLDENS)} goldens in {_FOLDER.value}")
  return 0


def run():
  scripts.run(main)


if __name__ == "__main__":
  run()
