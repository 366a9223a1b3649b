"""Comparing a regenerated golden file with the committed one, for the
goldens' writers (`regenerate_goldens`, `real_programs.regenerate`)."""

import filecmp
import os

import numpy as np


def same_file(a, b):
  """Whether two golden files hold the same: .npz archives array by array
  (dtype and bytes; the zip's own metadata may differ), others byte by
  byte."""
  if a.endswith(".npz"):
    with np.load(a) as x, np.load(b) as y:
      return sorted(x.files) == sorted(y.files) and all(
          x[k].tobytes() == y[k].tobytes() and x[k].dtype == y[k].dtype
          for k in x.files)
  return filecmp.cmp(a, b, shallow=False)


def status(new, old):
  """"new" (no committed file), "same" or "differs": how a regenerated
  golden file compares with the committed one."""
  if not os.path.exists(old):
    return "new"
  return "same" if same_file(new, old) else "differs"
