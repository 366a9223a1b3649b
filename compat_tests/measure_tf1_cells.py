"""Measures every TF1-cell golden against its conversions; writes the tables
README.md quotes (compat_tests/goldens/tf1_cells/RESULTS.md for the GRU
cells, compat_tests/goldens/tf1_lstm_cells/RESULTS.md for the LSTM cells).

Each case's TF1 checkpoint is converted to stock Keras (`--target=keras`,
where Keras has the layer) and to this project's TF1 cells (`--target=tf2`);
both run the golden probe batch without and with sequence lengths (as a
mask), and the largest absolute difference from TensorFlow's own TF1
outputs is reported. For the LSTM cells it also measures what folding the
forget bias into Keras's bias rounds: the gates' pre-activation summed as
TF1 does, (x K + b) + forget_bias, against x K + (b + forget_bias), and the
round trip (b + forget_bias) - forget_bias against b, in ulps of the
folded value.

  python -m compat_tests.measure_tf1_cells [--results_folder DIR]
"""

import os

from absl import app
from absl import flags
import numpy as np

from gru_common import tables
from gru_common import tensorflow_startup

_RESULTS = flags.DEFINE_string(
    "results_folder", None, "Where to write RESULTS.md for each family "
    "(default: beside the goldens); '-' prints them only.")


def measure(cases, folder):
  """[(case, kind, dtype, stock plain, stock lengths, tf2 plain, tf2
  lengths)] for every golden case; None where stock Keras has no layer."""
  # pylint: disable=g-import-not-at-top
  from compat_tests import test_tf1_cells
  from migration import convert
  from migration import mapping
  from migration import tf1_checkpoint
  from migration import models
  rows = []
  for name, case in cases.items():
    state = tf1_checkpoint.read(
        os.path.join(folder, name, "model.ckpt"),
        **({"allow_unconverted": True} if case.extra_layer else {}))
    with np.load(os.path.join(folder, name, "outputs.npz")) as f:
      golden = {k: f[k] for k in f.files}
    row = [name, state.description.components[0].describe()[4:], case.dtype]
    for target in (mapping.KERAS, mapping.TF2):
      if not models.has_target(state.description, target):
        row += [None, None]
        continue
      model, _ = convert.to_keras(state, target)
      plain, masked = test_tf1_cells.outputs(model, golden)
      row += [float(np.abs(plain - golden["outputs"]).max()),
              float(np.abs(masked - golden["outputs_with_lengths"]).max())]
    rows.append(row)
  return rows


def folding(cases, folder):
  """[(case, dtype, forget bias, addition order max |diff|, round trip
  max ulps)] of the plain LSTM cases: what folding the forget bias
  rounds."""
  # pylint: disable=g-import-not-at-top
  from migration import kinds
  from migration import tf1_checkpoint
  rows = []
  for name, case in cases.items():
    state = tf1_checkpoint.read(
        os.path.join(folder, name, "model.ckpt"),
        **({"allow_unconverted": True} if case.extra_layer else {}))
    component = state.description.components[0]
    kind = kinds.get(component.kind)
    if component.settings.options():
      continue
    dtype = np.dtype(case.dtype)
    forget_bias = dtype.type(kind.forget_bias(component))
    with np.load(os.path.join(folder, name, "outputs.npz")) as f:
      x = f["x"]
    order, ulps = 0.0, 0.0
    layer_input = component.input_dim
    for prefix, (variable, value) in _first_cells(state, layer_input):
      del prefix
      kernel, bias = value
      z = np.concatenate([x[:, 0], np.zeros((x.shape[0], kernel.shape[0] -
                                              x.shape[2]), dtype)], 1)
      z = (z @ kernel).astype(dtype)
      f = slice(2 * bias.shape[0] // 4, 3 * bias.shape[0] // 4)
      tf1 = (z[:, f] + bias[f]) + forget_bias
      folded = z[:, f] + (bias[f] + forget_bias)
      order = max(order, float(np.abs(tf1 - folded).max()))
      back = (bias[f] + forget_bias) - forget_bias
      ulps = max(ulps, float((np.abs(back - bias[f]) / np.spacing(
          np.abs(bias[f] + forget_bias))).max()))
      del variable
    rows.append([name, case.dtype, float(forget_bias), order, ulps])
  return rows


def _first_cells(state, input_dim):
  """((prefix, (kernel name, (kernel, bias)))) of the first layer's
  cells."""
  kernels = sorted(n for n in state.values if n.endswith("/kernel") and
                   state.values[n].shape[0] > input_dim and
                   "projection" not in n)
  for name in kernels:
    prefix = name[:-len("/kernel")]
    bias = state.values.get(prefix + "/bias")
    if bias is not None and state.values[name].shape[0] - input_dim == (
        bias.shape[0] // 4):
      yield prefix, (name, (state.values[name], bias))


def _text(title, rows, tf2_name, extra=()):
  lines = tables.format_table(
      [("case", "<", 26), ("TF1 cells", "<", 44), ("dtype", "<", 8),
       ("stock Keras", ">", 12), ("with lengths", ">", 13),
       (tf2_name, ">", 11), ("with lengths", ">", 13)],
      [[r[0], r[1], r[2]] + ["-" if v is None else f"{v:.1e}"
                             for v in r[3:]] for r in rows])
  return "\n".join([
      f"# {title}: converted models vs TensorFlow's own TF1 outputs", "",
      "Written by `python -m compat_tests.measure_tf1_cells`: the largest "
      "absolute difference on each golden's probe batch [4, 6, 3], without "
      "and with `sequence_length` (a mask in Keras). " + tf2_name +
      " is target 'tf2'; '-': stock Keras has no such layer. Measured on "
      "this machine against the committed goldens.", "",
      "```text", *lines, "```", "", *extra])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  tensorflow_startup.import_tensorflow_quietly()
  from compat_tests import tf1_cells  # pylint: disable=g-import-not-at-top
  gru = _text("TF1 GRU cells", measure(tf1_cells.CASES, tf1_cells.FOLDER),
              "TF1GRUCell")
  fold = folding(tf1_cells.LSTM_CASES, tf1_cells.LSTM_FOLDER)
  lstm = _text(
      "TF1 LSTM cells", measure(tf1_cells.LSTM_CASES, tf1_cells.LSTM_FOLDER),
      "TF1LSTMCell", [
          "## Folding the forget bias into stock Keras's bias", "",
          "On each plain case's first step (first layer, zero state): the "
          "largest absolute difference between TF1's (x K + b) + "
          "forget_bias and x K + (b + forget_bias), and the round trip "
          "(b + forget_bias) - forget_bias against b in ulps of the folded "
          "value (at most 1 is the stated bound).", "",
          "```text", *tables.format_table(
              [("case", "<", 26), ("dtype", "<", 8), ("forget bias", ">", 12),
               ("order", ">", 9), ("round trip (ulps)", ">", 18)],
              [[r[0], r[1], f"{r[2]}", f"{r[3]:.1e}", f"{r[4]:.2f}"]
               for r in fold]), "```", ""])
  for text, folder in ((gru, tf1_cells.FOLDER), (lstm, tf1_cells.LSTM_FOLDER)):
    print(text)
    if _RESULTS.value != "-":
      path = os.path.join(_RESULTS.value or folder, "RESULTS.md")
      if _RESULTS.value:
        path = os.path.join(_RESULTS.value,
                            f"{os.path.basename(folder)}.RESULTS.md")
      with open(path, "w", encoding="utf-8") as f:
        f.write(text)
  return 0


if __name__ == "__main__":
  app.run(main)
