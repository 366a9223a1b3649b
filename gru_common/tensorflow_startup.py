"""Starting TensorFlow without its C++ start-up lines.

TensorFlow 2.21 logs its oneDNN and CUDA-probing lines through abseil
before abseil's logging is initialized, and abseil then ignores every
threshold, TF_CPP_MIN_LOG_LEVEL included (set before the import, in the
environment or in-process, 6 lines still appear: `compat_tests/
test_repository.py` pins this). So `import_tensorflow_quietly` captures
file descriptor 2 while TensorFlow loads and applies TF_CPP_MIN_LOG_LEVEL
(default here: 3) to the captured lines itself; everything else is written
back to stderr, all of it if the import fails. The same level applies to
TensorFlow's Python logger. Set TF_CPP_MIN_LOG_LEVEL=0 to see every line.

Importing this module does not import TensorFlow.
"""

import importlib
import os
import re
import sys
import tempfile

DEFAULT_LEVEL = "3"

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


def min_log_level():
  """TF_CPP_MIN_LOG_LEVEL as an int (this module's default when unset; 0,
  show all, when malformed)."""
  try:
    return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", DEFAULT_LEVEL))
  except ValueError:
    return 0


def import_tensorflow_quietly():
  """Imports TensorFlow, applying TF_CPP_MIN_LOG_LEVEL to all its logs."""
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", DEFAULT_LEVEL)
  min_level = min_log_level()
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
