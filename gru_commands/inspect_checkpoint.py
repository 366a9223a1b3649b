"""Lists what a TF1 checkpoint holds, as the converter sees it.

For every RNN found (the seed GRUs and TensorFlow's TF1 GRU cells, under
any variable scope; several layers under one scope each on its own), in a
stable order and numbered for --layer: its kind, scope, cells, units,
input size, dtype, direction(s), initial states and head, its optimizer's
slots and EMA shadows, and what keeps it from converting, if anything.
Then the bookkeeping variables (the step counter, Adam's beta powers) and
every variable that belongs to no RNN. Reads the checkpoint's index with
TensorFlow's own reader, and the program's graph (the .meta beside it, or
--meta) without running it; no tensor is loaded. Exit status 0, or 1 (one
line on stderr) when there is no readable TF1 checkpoint.

  tf1-inspect-checkpoint --input=runs/legacy_addition/model.ckpt
  tf1-inspect-checkpoint --input=runs/legacy_addition --json
"""

import sys

from absl import app
from absl import flags

import gru_commands

_INPUT = flags.DEFINE_string("input", None, "A TF1 checkpoint prefix, or a "
                             "folder whose `checkpoint` file names one.",
                             required=True)
_JSON = flags.DEFINE_bool("json", False, "Print the same facts as JSON.")
_META = flags.DEFINE_string(
    "meta", None, "The program's graph (the .meta TF1's Saver writes, also "
    "gzipped), when it is not PREFIX.meta beside the checkpoint: it tells "
    "what names cannot (a cell both directions share, learned initial "
    "states, the step counter).")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  # Imported after flag parsing: --help and flag errors stay instant.
  from gru_commands import conversion  # pylint: disable=g-import-not-at-top
  return conversion.inspect_command(_INPUT.value, as_json=_JSON.value,
                                    stdout=sys.stdout, stderr=sys.stderr,
                                    meta=_META.value)


def run():
  gru_commands.run(main)


if __name__ == "__main__":
  run()
