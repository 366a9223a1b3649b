"""Writing one file whole: a plot, a report, a results table.

`replacing(path)` yields a temporary name in the same folder; when the block
ends without an exception the file replaces `path` in one rename, and on an
exception it is removed. A reader sees the old file or the new one, never
half of one. (The converter's outputs, several files published together
with a journal, are `migration/publish.py`'s.)
"""

import contextlib
import os


def fsync(path):
  """Flushes a file's (or folder's) contents to disk."""
  fd = os.open(path, os.O_RDONLY)
  try:
    os.fsync(fd)
  finally:
    os.close(fd)


@contextlib.contextmanager
def replacing(path):
  """Yields a temporary path to write one file at; on success it replaces
  `path` whole (a plot, a report: what a re-run should overwrite).

  Example:

  >>> import os, tempfile
  >>> path = os.path.join(tempfile.mkdtemp(), "table.md")
  >>> with replacing(path) as tmp:
  ...   with open(tmp, "w") as f:
  ...     _ = f.write("| a |\\n")
  >>> open(path).read(), os.listdir(os.path.dirname(path))
  ('| a |\\n', ['table.md'])
  """
  path = os.path.abspath(os.fspath(path))
  folder, name = os.path.split(path)
  os.makedirs(folder, exist_ok=True)
  tmp = os.path.join(folder, f".{name}.tmp-{os.getpid()}")
  try:
    yield tmp
    fsync(tmp)
    os.replace(tmp, path)
    fsync(folder)
  finally:
    if os.path.lexists(tmp):
      os.unlink(tmp)
