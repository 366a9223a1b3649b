"""Atomic outputs: a conversion writes all of its output or none of it.

Everything is first written under a temporary name in the output's folder
(so the final rename stays on one file system), then renamed into place:

* a `.keras` file is one file: `os.replace` publishes it at once;
* a checkpoint (TF1 or TF2) is `<prefix>.index` plus data shards. The shards
  are renamed first and the index last: TensorFlow finds a checkpoint
  through its index, so until that rename there is no checkpoint at the
  output path. On overwrite, stale shards of the old checkpoint are removed
  after the new index is in place.

A failure (an exception) removes the temporary files. A process killed
between writing and renaming leaves only `.<name>.tmp-<pid>*` files, never a
partial output.

The test suite kills a converter while its output is written; to make that
moment wide enough to hit, it sets MIGRATION_PAUSE_BEFORE_PUBLISH_S, which
makes the writers sleep between writing the temporary files and publishing
them. Nothing else reads it.
"""

import contextlib
import glob
import os
import time

PAUSE_ENV = "MIGRATION_PAUSE_BEFORE_PUBLISH_S"


def _pause_for_tests():
  seconds = float(os.environ.get(PAUSE_ENV, "0") or 0)
  if seconds > 0:
    time.sleep(seconds)

KERAS_SUFFIX = ".keras"


def checkpoint_exists(prefix):
  return os.path.exists(prefix + ".index")


def checkpoint_files(prefix):
  """The files of the checkpoint at `prefix` (index and data shards)."""
  return sorted(glob.glob(glob.escape(prefix) + ".index") +
                glob.glob(glob.escape(prefix) + ".data-*"))


def check_output(path, overwrite, is_checkpoint, inputs=()):
  """Refuses an output that exists (unless `overwrite`) or is an input."""
  exists = checkpoint_exists(path) if is_checkpoint else os.path.exists(path)
  if exists and not overwrite:
    raise FileExistsError(f"--output: {path!r} exists; pass --overwrite to "
                          "replace it")
  real = os.path.realpath(path)
  for source in inputs:
    if real == os.path.realpath(source):
      raise ValueError(f"--output {path!r} is the input; a conversion never "
                       "touches its input")
  folder = os.path.dirname(os.path.abspath(path))
  if not os.path.isdir(folder):
    raise FileNotFoundError(f"--output: folder {folder!r} does not exist")


def _temporary_name(path):
  folder, name = os.path.split(os.path.abspath(path))
  return os.path.join(folder, f".{name}.tmp-{os.getpid()}")


@contextlib.contextmanager
def atomic_file(path):
  """Yields a temporary path to write; publishes it at `path` on success."""
  suffix = KERAS_SUFFIX if path.endswith(KERAS_SUFFIX) else ""
  tmp = _temporary_name(path) + suffix
  try:
    yield tmp
    _pause_for_tests()
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


@contextlib.contextmanager
def atomic_checkpoint(prefix):
  """Yields a temporary prefix to write a checkpoint at; publishes it."""
  tmp = _temporary_name(prefix)
  try:
    yield tmp
    written = checkpoint_files(tmp)
    if tmp + ".index" not in written:
      raise RuntimeError(f"no checkpoint was written at {tmp!r}")
    _pause_for_tests()
    new = []
    for name in written:
      if not name.endswith(".index"):
        final = prefix + name[len(tmp):]
        os.replace(name, final)
        new.append(final)
    os.replace(tmp + ".index", prefix + ".index")  # The commit point.
    for stale in set(checkpoint_files(prefix)) - set(new) - {
        prefix + ".index"}:
      os.remove(stale)
  finally:
    for leftover in checkpoint_files(tmp):
      os.remove(leftover)
