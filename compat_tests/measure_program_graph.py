"""Measures each converted RNN layer of the real programs against the
program's own outputs, and writes the table the README and BUILD.md cite:

  python -m compat_tests.measure_program_graph
      -> compat_tests/goldens/real_programs/RESULTS.md

Per program, layer and target: the largest |converted - program| over the
layer's forward and backward outputs on the golden's recorded inputs (with
its sequence lengths as a mask, and its initial states where the program
gave them), and the same through `--verify` against the program's own
graph where the graph can be fed (its table's largest difference).
"""

import os
import tempfile

import numpy as np

from gru_common import tensorflow_startup

tensorflow_startup.import_tensorflow_quietly()

# pylint: disable=g-import-not-at-top,wrong-import-position
import tensorflow as tf

from compat_tests import real_programs
from gru_common import tables
from migration import exporters
from migration import mapping

RESULTS = os.path.join(real_programs.FOLDER, "RESULTS.md")

# (program, what the converter is asked, the golden's layer key, options)
LAYERS = [("deep_speech2", f"--layer={i}", f"rnn_{i}", {"layer": i})
          for i in range(1, 6)] + [
              ("han", "--scope=word-encoder", "word_encoder",
               {"scope": "word-encoder"}),
              ("han", "--scope=sent-encoder", "sent_encoder",
               {"scope": "sent-encoder"}),
              ("tied_bigru", "--scope=encode/docs/bidirectional_rnn",
               "docs_encoder", {"scope": "encode/docs/bidirectional_rnn"}),
              ("tied_bigru", "--scope=encode/queries/bidirectional_rnn",
               "queries_encoder",
               {"scope": "encode/queries/bidirectional_rnn"}),
              ("seq2seq_signal", "--scope=.../rnn", "encoder",
               {"scope": "Seq2seq/basic_rnn_seq2seq/rnn"}),
              ("seq2seq_signal",
               "--scope=.../rnn_decoder --initial_state_inputs", "decoder",
               {"scope": "Seq2seq/basic_rnn_seq2seq/rnn_decoder",
                "initial_state_inputs": True}),
              ("char_rnn", "--scope=rnnlm", "rnnlm", {"scope": "rnnlm"}),
          ]
UNROLLED = ("encoder", "decoder", "rnnlm")   # time-major lists of steps


def _against_recorded(model, values, key):
  """max |model - program| on the program's recorded values of a layer,
  the model called in a `tf.function`, as `predict` and `fit` call it
  (eager calls round differently in float32: no fused kernels)."""
  call = tf.function(model.__call__)
  x = values[f"rnn.{key}.input"]
  if key in UNROLLED:
    inputs = x.transpose(1, 0, 2)
    if key == "decoder":
      inputs = {"input": inputs,
                "initial_state_0": values["rnn.encoder.final_state_0"],
                "initial_state_1": values["rnn.encoder.final_state_1"]}
    got = np.asarray(call(inputs)).transpose(1, 0, 2)
    return float(np.abs(got - values[f"rnn.{key}.output"]).max())
  mask = None
  if f"rnn.{key}.sequence_length" in values:
    lengths = values[f"rnn.{key}.sequence_length"]
    mask = np.arange(x.shape[1])[None, :] < lengths[:, None]
  got = np.asarray(call(x, mask=mask))
  width = got.shape[-1] // 2
  return max(float(np.abs(got[..., :width] -
                          values[f"rnn.{key}.output_fw"]).max()),
             float(np.abs(got[..., width:] -
                          values[f"rnn.{key}.output_bw"]).max()))


def measure():
  rows = []
  with tempfile.TemporaryDirectory() as folder:
    prefixes = {n: real_programs.as_user_has_it(n, folder)
                for n in real_programs.PROGRAMS}
    for name, asked, key, options in LAYERS:
      with np.load(os.path.join(real_programs.FOLDER, name,
                                real_programs.OUTPUTS)) as f:
        values = {k: f[k] for k in f.files}
      for target in mapping.TARGETS:
        path = os.path.join(folder, f"{name}_{key}_{target}.keras")
        report = exporters.convert_path(
            prefixes[name], path, target=target, verify=True,
            allow_unconverted=True, drop_optimizer_state=True, **options)
        graph = "the program's own graph" in report.summary
        worst = max(c.result.max_abs for c in report.checks)
        recorded = _against_recorded(exporters.load_keras_file(path),
                                     values, key)
        rows.append([name, asked, target, f"{recorded:.3e}",
                     f"{worst:.3e}" if graph else "(own reference)",
                     "yes" if report.published else "NO"])
  return rows


def main():
  rows = measure()
  table = tables.format_table(
      [("program", "<", 0), ("converted", "<", 0), ("target", "<", 0),
       ("vs recorded outputs", ">", 0), ("--verify vs its graph", ">", 0),
       ("written", "<", 0)], rows)
  tables.write_results(
      RESULTS, "Real programs: converted layers against the programs", (
          "Written by `python -m compat_tests.measure_program_graph`. The "
          "largest |converted - program| over each layer's outputs (both "
          "directions), on the golden's recorded inputs (the model "
          "compiled, as `predict` runs it) and through `--verify` against "
          "the program's own graph (probe batch; where the program "
          "unrolls its cells, every step's output but the last)."), table)


if __name__ == "__main__":
  main()
