"""The project's commands: absl apps over the library's job functions.

Each module but `conversion` is a console command (setup.py): `gru-*` for
the seed jobs, the demo and the proof, `tf1-*` for the converter, which
serves every RNN kind. Each runs from a clone as `python scripts/NAME.py`
(a launcher) or `python -m gru_commands.NAME`. `conversion` holds what the
converter's commands print and how they spell the library's arguments as
flags.

Scripts define their flags without importing TensorFlow, so `--help` and
flag errors answer at once; `run(main)` then loads TensorFlow quietly
(`gru_common.tensorflow_startup`) before `main` runs.
"""

import sys


def run(main, prepare=None):
  """`absl.app.run(main)`: help from `main`'s module, absl logging quiet.

  `prepare(argv)`, if given, runs after flag parsing and before TensorFlow
  loads: to check what must be checked first, or to do work that needs no
  TensorFlow. If it returns an exit status, the command ends with it and
  `main` does not run.

  A console command's `__main__` is a generated wrapper without a docstring
  or flags, and absl's `--help` shows only those of `__main__`. So the
  wrapper takes the command module's docstring and key flags first.

  absl apps raise `--verbosity` to INFO after parsing flags unless the flag
  was set; TensorFlow logs routine INFO lines through absl (checkpoint
  writes, for one). Setting the flag beforehand to the level that
  TF_CPP_MIN_LOG_LEVEL asks for keeps those quiet; `--verbosity=0` on the
  command line still shows them.
  """
  from absl import app  # pylint: disable=g-import-not-at-top
  from absl import flags  # pylint: disable=g-import-not-at-top
  from gru_common import tensorflow_startup  # pylint: disable=g-import-not-at-top
  command = sys.modules[main.__module__]
  entry = sys.modules["__main__"]
  if entry is not command:
    entry.__doc__ = command.__doc__
    for flag in flags.FLAGS.get_key_flags_for_module(command.__name__):
      flags.FLAGS.register_key_flag_for_module(sys.argv[0], flag)
  min_level = tensorflow_startup.min_log_level()
  if min_level >= 1:
    flags.FLAGS.verbosity = -min(min_level, 3)  # -1 WARNING ... -3 FATAL

  def main_with_tensorflow(argv):
    if prepare is not None:
      status = prepare(argv)
      if status is not None:
        return status
    tensorflow_startup.import_tensorflow_quietly()
    return main(argv)

  app.run(main_with_tensorflow)
