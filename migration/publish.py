"""Safe conversion outputs: the input is never touched, and an output
appears whole or not at all.

An `Output` is the place one conversion writes: a `.keras` file, or a
checkpoint prefix (`<prefix>.index` plus `<prefix>.data-*` shards, TF1 or
TF2). It guarantees:

* **Inputs are sacred.** An output whose files (those it would replace or
  remove) include any input file, compared by device and inode (so hard
  links, symlinks and `..` are caught), is refused before anything is
  written.
* **Nothing is visible before it is complete.** A conversion writes under a
  temporary name, `.<name>.tmp-<pid>...`, in the output's folder (so every
  rename stays on one file system); only `publish` moves it into place,
  and a conversion that fails (refusal, failed verification, exception)
  removes it.
* **No-overwrite holds under races.** Without `overwrite`, files are
  published with `os.link`, which fails if the target exists: of two
  conversions to one output, exactly one succeeds.
* **A multi-file replacement survives a crash.** A checkpoint's index and
  shards cannot be swapped in one step, so a publish first writes a journal,
  `.<name>.publish` (created whole by `os.link`; it is also the lock that
  keeps two publishers of one output apart), then links or renames the
  shards and the index, then removes the journal. A process killed in
  between leaves the journal, and the next conversion in that folder
  completes the replacement (the staged files were complete, and verified
  when asked, before the journal was written) or rolls back a publish that
  had not replaced anything, and says so.
* **Temporary files of killed runs** (`.<name>.tmp-<pid>...`, files or
  folders, whose process is gone) are removed by the next conversion in
  that folder, which says so. Those of live processes are left alone.

Every file operation that changes the file system goes through this
module's `os` name, one call per operation, so a test can replace it to
interrupt the sequence after any single operation.

Errors name the function argument (`output_path`, `input_path`) as data
(`errors.PathError`); the command spells them as its flags.
"""

import contextlib
import json
import os
import re
import shutil
import signal
import time

from gru_common import files
from migration import errors

PathError = errors.PathError
OutputExistsError = errors.OutputExistsError
KERAS_SUFFIX = ".keras"
INDEX_SUFFIX = ".index"
_TEMP_TAG = ".tmp-"
_JOURNAL_SUFFIX = ".publish"
# `.<name>.tmp-<pid>` and anything after it (suffixes, `_temp` folders).
_TEMP_NAME = re.compile(r"^\.(?P<name>.+?)\.tmp-(?P<pid>\d+)(?:[^\d].*)?$")
_LOCK_WAIT_S = 30.0
_LINK, _REPLACE = "link", "replace"


def checkpoint_files(prefix):
  """The files of the checkpoint at `prefix` (index, then data shards)."""
  folder, name = os.path.split(os.path.abspath(prefix))
  try:
    entries = os.listdir(folder)
  except (FileNotFoundError, NotADirectoryError):
    return []
  index = [name + INDEX_SUFFIX] if name + INDEX_SUFFIX in entries else []
  shards = sorted(e for e in entries if e.startswith(name + ".data-"))
  return [os.path.join(folder, e) for e in index + shards]


def checkpoint_exists(prefix):
  return os.path.isfile(prefix + INDEX_SUFFIX)


def journal_path(path):
  """The journal (and lock) of a publish to `path` while one is under way."""
  folder, name = os.path.split(os.path.abspath(path))
  return os.path.join(folder, f".{name}{_JOURNAL_SUFFIX}")


def check_not_mid_publish(path, argument):
  """Refuses to read a checkpoint whose replacement was interrupted."""
  journal = journal_path(path)
  if os.path.exists(journal):
    raise PathError(argument, path, (
        f"a conversion replacing it was interrupted (journal {journal!r}); "
        "the next conversion whose output is in that folder completes it"))


def _identity(path):
  """(device, inode) of what `path` names, following links; None if none."""
  try:
    st = os.stat(path)
  except (FileNotFoundError, NotADirectoryError):
    return None
  return (st.st_dev, st.st_ino)


def _process_alive(pid):
  if pid == os.getpid():
    return True
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    return True  # Someone else's process.
  return True


def _check_path(path, argument):
  """The absolute output path; refuses ones that name no file."""
  if not isinstance(path, (str, os.PathLike)):
    raise PathError(argument, path, "expected a path (str)")
  path = os.fspath(path)
  if not path:
    raise PathError(argument, path, "is empty; give a file name (a .keras "
                    "file or a checkpoint prefix)")
  separators = tuple(s for s in (os.sep, os.altsep) if s)
  if path.endswith(separators) or os.path.basename(path) in ("", ".", ".."):
    raise PathError(argument, path, "names a folder; give a file name in it "
                    "(a .keras file or a checkpoint prefix)")
  if os.path.isdir(path):
    raise PathError(argument, path, "is an existing folder; give a file name "
                    "in it (a .keras file or a checkpoint prefix)")
  return os.path.abspath(path)


def _existing_ancestor(folder, argument, path):
  """The nearest existing folder above `folder`; refuses a file in the way."""
  current = folder
  while not os.path.exists(current):
    parent = os.path.dirname(current)
    if parent == current:
      break
    current = parent
  if not os.path.isdir(current):
    raise PathError(argument, path, f"{current!r} is a file, not a folder")
  return current


class Output:
  """Where one conversion writes (see the module docstring).

  Construction checks the path, completes or rolls back interrupted
  publishes and removes stale temporary files in its folder (reported
  through `log`), and refuses an output that exists (unless `overwrite`) or
  that would replace or remove an input file. Nothing is written until
  `stage`.

  Args:
    path: a `.keras` file, or a checkpoint prefix.
    is_checkpoint: whether `path` is a checkpoint prefix.
    overwrite: replace an existing output.
    inputs: the files the conversion reads.
    log: called with one line per thing done besides the conversion.
    argument: the path's argument name, for errors.
  """

  def __init__(self, path, is_checkpoint, overwrite=False, inputs=(),
               log=None, argument="output_path"):
    self.argument = argument
    self.given = path
    self.path = _check_path(path, argument)
    self.is_checkpoint = is_checkpoint
    self.overwrite = overwrite
    self.log = log or (lambda line: None)
    self.folder = os.path.dirname(self.path)
    self._inputs = {}
    for source in inputs:
      identity = _identity(source)
      if identity is not None:
        self._inputs[identity] = source
    if os.path.isdir(self.folder):
      tidy(self.folder, self.log, keep=self._inputs)
    else:
      _existing_ancestor(self.folder, argument, path)
    self._check_inputs_untouched(self.existing_files())
    existing = self.existing_files()
    if existing and not overwrite:
      raise OutputExistsError(argument, path, existing[0])

  def existing_files(self):
    """The files now at the output (which a publish replaces or removes)."""
    if self.is_checkpoint:
      return checkpoint_files(self.path)
    return [self.path] if os.path.lexists(self.path) else []

  def _check_inputs_untouched(self, paths):
    for path in paths:
      source = self._inputs.get(_identity(path))
      if source is not None:
        raise PathError(self.argument, self.given, (
            f"writing it would replace or remove {path!r}, which is the "
            f"input {source!r}; a conversion never touches its input"))

  @contextlib.contextmanager
  def stage(self):
    """Yields a temporary path to write the output at; see `publish`.

    Missing folders above the output are created (as TensorFlow's `Saver`
    does) and removed again if nothing is published. Whatever is left
    under the temporary name is removed on the way out.
    """
    created = []
    folder = self.folder
    while not os.path.isdir(folder):
      created.append(folder)
      folder = os.path.dirname(folder)
    for path in reversed(created):
      os.mkdir(path)
    name = os.path.basename(self.path)
    tmp = os.path.join(self.folder, f".{name}{_TEMP_TAG}{os.getpid()}")
    if not self.is_checkpoint and name.endswith(KERAS_SUFFIX):
      tmp += KERAS_SUFFIX  # Keras saves only to names ending in .keras.
    self._published = False
    try:
      yield tmp
    finally:
      _remove_temporaries(self.folder, name, os.getpid())
      if not self._published:
        for path in created:
          with contextlib.suppress(OSError):
            os.rmdir(path)

  def publish(self, tmp):
    """Moves the staged output at `tmp` into place (see module docstring).

    Raises:
      OutputExistsError: without `overwrite`, when the output appeared
        meanwhile (another conversion published first); nothing changed.
    """
    if self.is_checkpoint:
      staged = checkpoint_files(tmp)
      if tmp + INDEX_SUFFIX not in staged:
        raise RuntimeError(f"no checkpoint was written at {tmp!r}")
      # Shards first, the index last: TensorFlow finds a checkpoint through
      # its index.
      pairs = [(s, self.path + s[len(tmp):]) for s in staged[1:]]
      pairs.append((staged[0], self.path + INDEX_SUFFIX))
    else:
      pairs = [(tmp, self.path)]
    for source, _ in pairs:
      files.fsync(source)
    with _signals_held():
      if not self.is_checkpoint:
        _publish_file(tmp, self.path, self.overwrite, self.argument,
                      self.given)
      else:
        stale = []
        if self.overwrite:
          stale = sorted(set(self.existing_files()) -
                         {final for _, final in pairs})
          self._check_inputs_untouched(self.existing_files())
        journal = {"pid": os.getpid(), "mode": (_REPLACE if self.overwrite
                                                else _LINK),
                   "target": self.path, "pairs": pairs, "stale": stale}
        path = _take_journal(self.path, journal, self.log)
        _apply(path, journal, self.argument, self.given)
      files.fsync(self.folder)
      self._published = True


def _publish_file(tmp, path, overwrite, argument, given):
  """One file: os.replace, or os.link (fails if `path` exists)."""
  if overwrite:
    os.replace(tmp, path)
    return
  try:
    os.link(tmp, path)
  except FileExistsError:
    raise OutputExistsError(argument, given, path) from None
  os.unlink(tmp)


def _take_journal(target, journal, log):
  """Creates the journal of a publish to `target`, whole, or waits.

  A journal left by a dead process is recovered first; one held by a live
  process is waited for (publishing takes milliseconds), up to a limit.
  """
  path = journal_path(target)
  tmp = f"{path}{_TEMP_TAG}{os.getpid()}"
  data = json.dumps(journal, indent=1).encode()
  fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
  try:
    os.write(fd, data)
    os.fsync(fd)
  finally:
    os.close(fd)
  deadline = time.monotonic() + _LOCK_WAIT_S
  try:
    while True:
      try:
        os.link(tmp, path)
        return path
      except FileExistsError:
        pass
      holder = _read_journal(path)
      if holder is not None and not _process_alive(holder["pid"]):
        recover(path, log)
        continue
      if time.monotonic() > deadline:
        raise PathError("output_path", target, (
            f"another conversion (journal {path!r}) has been publishing to "
            f"it for over {_LOCK_WAIT_S:.0f} s"))
      time.sleep(0.01)
  finally:
    os.unlink(tmp)


def _read_journal(path):
  try:
    with open(path, "rb") as f:
      journal = json.loads(f.read().decode())
  except FileNotFoundError:
    return None
  except (OSError, ValueError) as e:
    raise PathError("output_path", path, f"unreadable publish journal "
                    f"({e}); remove it by hand after checking the "
                    "checkpoint next to it") from e
  if not (isinstance(journal, dict) and isinstance(journal.get("pid"), int)
          and journal.get("mode") in (_LINK, _REPLACE)):
    raise PathError("output_path", path, "not a publish journal of this "
                    "tool; remove it by hand after checking the checkpoint "
                    "next to it")
  return journal


def _apply(path, journal, argument, given):
  """Carries out a journal's publish, then removes the journal."""
  pairs = journal["pairs"]
  if journal["mode"] == _REPLACE:
    for source, final in pairs:
      os.replace(source, final)
    for stale in journal["stale"]:
      if os.path.lexists(stale):
        os.unlink(stale)
  else:
    linked = []
    try:
      for source, final in pairs:
        os.link(source, final)
        linked.append(final)
    except FileExistsError:
      for final in linked:
        os.unlink(final)
      os.unlink(path)
      raise OutputExistsError(argument, given, final) from None
    for source, _ in pairs:
      os.unlink(source)
  os.unlink(path)


def _same_file(a, b):
  ia = _identity(a)
  return ia is not None and ia == _identity(b)


def recover(path, log):
  """Completes (or rolls back) the publish whose journal is at `path`."""
  journal = _read_journal(path)
  if journal is None:
    return
  target, pid = journal["target"], journal["pid"]
  pairs = journal["pairs"]
  done = all(os.path.lexists(final) and (not os.path.lexists(source) or
                                         _same_file(source, final))
             for source, final in pairs)
  if journal["mode"] == _REPLACE or done:
    for source, final in pairs:
      if os.path.lexists(source):
        if journal["mode"] == _REPLACE:
          os.replace(source, final)
        else:
          os.unlink(source)
    for stale in journal["stale"]:
      if os.path.lexists(stale):
        os.unlink(stale)
    outcome = "completed"
  else:
    for source, final in pairs:
      if os.path.lexists(source) and _same_file(source, final):
        os.unlink(final)
    for source, _ in pairs:
      if os.path.lexists(source):
        os.unlink(source)
    outcome = "rolled back"
  os.unlink(path)
  log(f"{outcome} the interrupted publish of {target!r} left by a killed "
      f"conversion (pid {pid})")


def tidy(folder, log, keep=None):
  """Recovers interrupted publishes and removes dead runs' temporary files.

  Args:
    folder: the folder to tidy.
    log: called with one line per thing done.
    keep: {(device, inode): path} of files never to remove (the inputs).
  """
  keep = keep or {}
  entries = sorted(os.listdir(folder))
  for entry in entries:
    if entry.startswith(".") and entry.endswith(_JOURNAL_SUFFIX):
      path = os.path.join(folder, entry)
      journal = _read_journal(path)
      if journal is not None and not _process_alive(journal["pid"]):
        recover(path, log)
  removed = []
  for entry in sorted(os.listdir(folder)):
    match = _TEMP_NAME.match(entry)
    if not match or _process_alive(int(match.group("pid"))):
      continue
    path = os.path.join(folder, entry)
    if _identity(path) in keep:
      continue
    _remove(path)
    removed.append(entry)
  if removed:
    log(f"removed {len(removed)} temporary file(s) of killed conversions "
        f"from {folder!r}: {', '.join(removed)}")


def _remove(path):
  if os.path.isdir(path) and not os.path.islink(path):
    shutil.rmtree(path)
  else:
    os.unlink(path)


def _remove_temporaries(folder, name, pid):
  """Removes what is left under this process's temporary names for `name`."""
  with contextlib.suppress(FileNotFoundError):
    for entry in os.listdir(folder):
      match = _TEMP_NAME.match(entry)
      if (match and match.group("name") in (name, name + _JOURNAL_SUFFIX)
          and int(match.group("pid")) == pid):
        _remove(os.path.join(folder, entry))


@contextlib.contextmanager
def _signals_held():
  """Holds SIGINT and SIGTERM back while a publish runs, so that neither
  splits it; they are delivered when it is done."""
  if not hasattr(signal, "pthread_sigmask"):  # Not on this platform.
    yield
    return
  held = {signal.SIGINT, signal.SIGTERM}
  previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
  try:
    yield
  finally:
    signal.pthread_sigmask(signal.SIG_SETMASK, previous)
