"""Command-line entry points (absl apps) over the library's job functions.

Scripts define their flags without importing TensorFlow, so `--help` and
flag errors answer at once; `run(main)` then loads TensorFlow with its C++
start-up noise filtered (oneDNN and CUDA probing lines) before `main` runs.
TensorFlow 2.21 logs those lines through abseil before abseil's logging is
initialized, and abseil then ignores every threshold, TF_CPP_MIN_LOG_LEVEL
included. So the package captures file descriptor 2 while TensorFlow loads
and applies TF_CPP_MIN_LOG_LEVEL (default here: 3) to the captured lines
itself; everything else is written back to stderr, all of it if the import
fails. The same level applies to TensorFlow's Python logger (absl apps would
otherwise print its INFO lines). Set TF_CPP_MIN_LOG_LEVEL=0 to see every
line.
"""

import importlib
import os
import re
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# abseil's line prefixes: I(nfo)=0, W(arning)=1, E(rror)=2, F(atal)=3.
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}
_LOG_LINE = re.compile(r"^([IWEF])\d{4} [\d:.]+ +\d+ \S+:\d+\] ")
_PREINIT_WARNING = ("WARNING: All log messages before absl::InitializeLog() "
                    "is called are written to STDERR")


def _keep(line, min_level):
  if line.rstrip("\n") == _PREINIT_WARNING:
    return min_level < 1
  match = _LOG_LINE.match(line)
  return not match or _SEVERITY[match.group(1)] >= min_level


def _min_log_level():
  """TF_CPP_MIN_LOG_LEVEL as an int; 0 (show all) when unset or malformed."""
  try:
    return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
  except ValueError:
    return 0


def import_tensorflow_quietly():
  """Imports TensorFlow, applying TF_CPP_MIN_LOG_LEVEL to all its logs."""
  min_level = _min_log_level()
  if min_level < 1 or "tensorflow" in sys.modules:
    importlib.import_module("tensorflow")
    return
  _import_with_stderr_filtered(min_level)
  python_levels = ["INFO", "WARNING", "ERROR", "CRITICAL"]
  sys.modules["tensorflow"].get_logger().setLevel(
      python_levels[min(min_level, 3)])


def _import_with_stderr_filtered(min_level):
  """Imports TensorFlow with fd 2 captured; writes back what passes."""
  sys.stderr.flush()
  saved = os.dup(2)
  with tempfile.TemporaryFile(mode="w+b") as captured:
    os.dup2(captured.fileno(), 2)
    failed = True
    try:
      importlib.import_module("tensorflow")
      failed = False
    finally:
      sys.stderr.flush()
      os.dup2(saved, 2)
      os.close(saved)
      captured.seek(0)
      lines = captured.read().decode("utf-8", "replace").splitlines(True)
      kept = [l for l in lines if failed or _keep(l, min_level)]
      if kept:
        sys.stderr.write("".join(kept))
        sys.stderr.flush()


def run(main):
  """`absl.app.run(main)`, with absl's own logging at the same level.

  absl apps raise `--verbosity` to INFO after parsing flags unless the flag
  was set; TensorFlow logs routine INFO lines through absl (checkpoint
  writes, for one). Setting the flag beforehand to the level that
  TF_CPP_MIN_LOG_LEVEL asks for keeps those quiet; `--verbosity=0` on the
  command line still shows them.
  """
  from absl import app  # pylint: disable=g-import-not-at-top
  from absl import flags  # pylint: disable=g-import-not-at-top
  min_level = _min_log_level()
  if min_level >= 1:
    flags.FLAGS.verbosity = -min(min_level, 3)  # -1 WARNING ... -3 FATAL

  def main_with_tensorflow(argv):
    import_tensorflow_quietly()
    return main(argv)

  app.run(main_with_tensorflow)
