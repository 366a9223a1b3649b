"""Comparing a regenerated golden file with the committed one, for the
goldens' writers (`regenerate_goldens`, `real_programs.regenerate`)."""

import filecmp
import importlib.metadata
import os

import numpy as np

from gru_common import tolerances


def release():
  """The installed TensorFlow's minor release, "2.21"."""
  return ".".join(importlib.metadata.version("tensorflow").split(".")[:2])


def bound(dtype):
  """How far a value computed now may be from a committed golden of
  `dtype`: 0 (bitwise) under the release that wrote the goldens
  (`tolerances.GOLDEN_RELEASE`), `tolerances.OTHER_RELEASE` under
  another."""
  if release() == tolerances.GOLDEN_RELEASE:
    return 0.0
  return tolerances.OTHER_RELEASE.for_dtype(dtype)


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


def largest_difference(a, b):
  """For two .npz archives that differ: (largest |a - b| over their float
  arrays, the dtype of the array where it is), or None when they differ
  other than in float values (names, dtypes, shapes or other arrays) or
  are not .npz files."""
  if not a.endswith(".npz"):
    return None
  with np.load(a) as x, np.load(b) as y:
    if sorted(x.files) != sorted(y.files):
      return None
    largest = (0.0, None)
    for k in x.files:
      if x[k].dtype != y[k].dtype or x[k].shape != y[k].shape:
        return None
      if x[k].tobytes() == y[k].tobytes():
        continue
      if x[k].dtype.kind != "f":
        return None
      diff = float(np.max(np.abs(x[k].astype(np.float64) -
                                 y[k].astype(np.float64))))
      if diff >= largest[0]:
        largest = (diff, x[k].dtype.name)
    return largest


def describe(new, old, shown):
  """A dry run's line for one golden (`shown`: its name in the line): its
  status, and for a differing .npz the largest difference and its dtype."""
  state = status(new, old)
  line = f"{state:8} {shown}"
  if state == "differs":
    found = largest_difference(new, old)
    if found:
      line += f"  (largest difference {found[0]:.3g}, {found[1]})"
  return line
