"""Converts each real program whole (`tf1-convert-checkpoint --outputs`)
and writes the table the README and the closing notes cite:

  python -m compat_tests.measure_whole_programs
      -> compat_tests/goldens/real_programs/WHOLE_PROGRAMS.md

Per program and target (`.keras` with either target, and `.onnx`): its
outputs, the share of its model variables converted (optimizer state
aside), the largest |converted - program| on the golden's recorded inputs
(the written model loaded back and called in a `tf.function`, as `predict`
runs it; the ONNX model in onnxruntime) and through `--verify` against the
program's own graph, and the layers that are not stock Keras.
"""

import os
import tempfile

import numpy as np

from gru_common import tensorflow_startup

tensorflow_startup.import_tensorflow_quietly()

# pylint: disable=g-import-not-at-top,wrong-import-position
import tensorflow as tf

from compat_tests import real_programs
from compat_tests import whole_programs
from gru_common import tables
from migration import exporters
from migration import mapping
from migration import onnx_program
from migration import whole_program

RESULTS = os.path.join(real_programs.FOLDER, "WHOLE_PROGRAMS.md")


def against_recorded(path, case, program):
  """max |written model - program| over every output, on the recorded
  inputs: a .keras file loaded back and called in a `tf.function`, an
  .onnx file in onnxruntime."""
  if path.endswith(".onnx"):
    with open(path, "rb") as f:
      got = onnx_program.run(f.read(), case.probe)
  else:
    x = [case.probe[name] for name, _, _ in program.inputs]
    got = tf.function(exporters.load_keras_file(path))(x)
    got = got if isinstance(got, (list, tuple)) else [got]
  return max(float(np.abs(np.asarray(g, np.float64) -
                          case.recorded[t].astype(np.float64)).max())
             for g, t in zip(got, program.outputs))


# The rows: each target's .keras file, and the .onnx file.
ONNX = "onnx"
ROWS = (*mapping.TARGETS, ONNX)


def convert(name, row, folder, prefix):
  """(Result, the written file, Case) of one program's conversion."""
  case = whole_programs.case(name)
  path = os.path.join(folder, f"{name}_{row}." + (
      "onnx" if row == ONNX else "keras"))
  probe = whole_programs.write_probe(case, os.path.join(folder,
                                                        f"{name}.npz"))
  target = mapping.TF2 if row == ONNX else row
  result = exporters.convert_path(
      prefix, path, target=target, verify=True, overwrite=True,
      outputs=case.outputs, feed=case.feed or None, probe=probe)
  return result, path, case


def measure():
  rows = []
  with tempfile.TemporaryDirectory() as folder:
    for name in real_programs.PROGRAMS:
      prefix = real_programs.as_user_has_it(name, folder)
      for target in ROWS:
        result, path, case = convert(name, target, folder, prefix)
        program = result.program
        converted = len(program.converted())
        optimizer, unused = whole_program.classify(
            program.unused, program.converted(),
            tf.train.load_checkpoint(prefix), result.graph)
        verified = max(c.result.max_abs for c in result.checks)
        rows.append([
            name, target, str(len(program.outputs)),
            f"{converted}/{converted + len(unused)}",
            f"{against_recorded(path, case, program):.3e}",
            f"{verified:.3e}", "yes" if result.published else "NO",
            _listing(program.not_stock)])
  return rows


def _listing(layers):
  """Layer names by their last part, each once, with a count."""
  counts = {}
  for layer in layers:
    short = layer.rsplit(">", 1)[-1]
    counts[short] = counts.get(short, 0) + 1
  return ", ".join(f"{n} x{k}" if k > 1 else n
                   for n, k in sorted(counts.items())) or "none"


def main():
  rows = measure()
  table = tables.format_table(
      [("program", "<", 0), ("target", "<", 0), ("outputs", ">", 0),
       ("variables converted", ">", 0), ("vs recorded", ">", 0),
       ("--verify vs its graph", ">", 0), ("written", "<", 0),
       ("not stock Keras", "<", 0)], rows)
  tables.write_results(RESULTS, "Real programs converted whole", (
          "Written by `python -m compat_tests.measure_whole_programs`. Each "
          "program converted by `tf1-convert-checkpoint --outputs=<every "
          "output the golden recorded> --feed=<its fixed placeholders> "
          "--verify --probe=<its recorded inputs>`. Variables converted: "
          "of the checkpoint's variables that are not optimizer state "
          "(slots, Adam's powers, the step counter). The largest "
          "|converted - program| over every output: on the recorded "
          "inputs against the recorded outputs (the written model loaded "
          "back, in a `tf.function` as `predict` runs it; target onnx: the "
          "`.onnx` file in onnxruntime), and through "
          "`--verify` against the program's own graph; the bound is "
          "`tolerances.PROGRAM` (1e-5 float32). Not stock Keras: this "
          "project's layers in the model (the `tf2` target's exact RNN "
          "cells; `ReverseSequence`; `Weight` for a variable the program "
          "uses in its own arithmetic); for onnx, in the Keras model the "
          "ONNX graph is built from (`migration/onnx_program.py` translates "
          "them too)."), table)


if __name__ == "__main__":
  main()
