"""Measures how far each runtime a user serves on is from the legacy graph.

    python -m compat_tests.measure_runtimes    # writes compat_tests/RUNTIMES.md

Three converted models: the Data Blogger GRU with its addition head
(float64), the tutorial BiGRU with its classifier head (float32), and
TensorFlow's own GRUCell (the `gru_cell` golden, float32, against the
outputs TF's own TF1 cell wrote). Each runs on every path: this project's
layers (`model(x)`, `predict`), stock Keras on TensorFlow (`predict` with
and without floatx float64), stock Keras under the JAX and PyTorch backends
in a process where TensorFlow cannot be imported (with and without
`keras_precision.enable_float64()`), and ONNX Runtime. The figure is the
max abs difference over the model's output on a probe batch. A path a
package is missing for is reported as such.
"""

import importlib.util
import os
import tempfile

import numpy as np

from compat_tests import backend_runner
from compat_tests import legacy_checkpoints
from compat_tests import tf1_cells
from gru_common import keras_precision
from migration import convert
from migration.kinds import seeds
from migration import legacy_graph
from migration import mapping
from migration import onnx_export
from migration import tf1_checkpoint
from migration import verification

OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "RUNTIMES.md")
MODELS = {
    "Data Blogger GRU + addition head, float64": seeds.model(
        seeds.SCAN, 16, 2, "float64", head=seeds.ADDITION,
        head_units=1),
    "tutorial BiGRU + classifier, float32": seeds.model(
        seeds.LOOP, 32, 8, "float32", bidirectional=True,
        head=seeds.CLASSIFIER, head_units=10),
    "TF1 GRUCell (TF's own), float32": "gru_cell",
}
PATHS = (
    ("tf2_call", "this project's layers, `model(x)`"),
    ("tf2_predict", "this project's layers, `predict`"),
    ("keras_predict", "stock Keras, `predict`, floatx float64 (README)"),
    ("keras_predict_default", "stock Keras, `predict`, default floatx"),
    ("jax", "stock Keras on JAX, `enable_float64()`"),
    ("jax_default", "stock Keras on JAX, defaults"),
    ("torch", "stock Keras on PyTorch, `enable_float64()`"),
    ("torch_default", "stock Keras on PyTorch, defaults"),
    ("onnx", "ONNX Runtime (`--output=FILE.onnx`)"),
)


def _model(label, spec_or_golden):
  """(state, x, legacy output) of a row's model."""
  if isinstance(spec_or_golden, str):
    state = tf1_checkpoint.read(tf1_cells.prefix(spec_or_golden))
    with np.load(os.path.join(tf1_cells.FOLDER, spec_or_golden,
                              tf1_cells.OUTPUTS)) as golden:
      return state, golden["x"], golden["outputs"]
  del label
  state = legacy_checkpoints.random_state(spec_or_golden)
  x = verification.probe_inputs(state.description, batch=16, time=20)
  out = legacy_graph.run(legacy_graph.build(state.description), x,
                         values=state.values)
  return state, x, out[state.description.output_names()[-1]]


def _diff(got, want):
  return float(np.max(np.abs(np.asarray(got, np.float64) - want)))


def _backend(backend, models, inputs, folder):
  if importlib.util.find_spec(backend) is None:
    return None
  return backend_runner.run_models(backend, models, inputs, folder)


def measure():
  """{model label: {path key: max abs diff, or a reason string}}."""
  results = {}
  with tempfile.TemporaryDirectory() as folder:
    files_, inputs, wants = {}, {}, {}
    for i, (label, what) in enumerate(MODELS.items()):
      state, x, want = _model(label, what)
      row = results[label] = {}
      wants[label] = want
      dtype = state.description.dtype
      tf2_model, _ = convert.to_keras(state, mapping.TF2)
      row["tf2_call"] = _diff(np.asarray(tf2_model(x)), want)
      row["tf2_predict"] = _diff(tf2_model.predict(x, verbose=0), want)
      stock, _ = convert.to_keras(state, mapping.KERAS)
      with keras_precision.floatx(dtype):
        row["keras_predict"] = _diff(stock.predict(x, verbose=0), want)
      row["keras_predict_default"] = (
          _diff(stock.predict(x, verbose=0), want) if dtype == "float64"
          else "same as above (float32 model)")
      path = os.path.join(folder, f"m{i}.keras")
      stock.save(path)
      files_[label] = path
      inputs[label] = x
      try:
        proto = onnx_export.from_keras_model(stock, state.description)
        got = onnx_export.run(proto.SerializeToString(), x)
        last = onnx_export.output_names(state.description)[-1]
        row["onnx"] = _diff(got[last],
                            want)
      except onnx_export.OnnxError as e:
        row["onnx"] = f"refused: {e}"
    for backend in ("jax", "torch"):
      out = _backend(backend, files_, inputs, folder)
      for label in MODELS:
        row = results[label]
        if out is None:
          row[backend] = row[f"{backend}_default"] = f"{backend} not installed"
          continue
        row[backend] = _diff(out[f"{label}/predict"], wants[label])
        row[f"{backend}_default"] = (
            _diff(out[f"{label}/default"], wants[label])
            if f"{label}/default" in out else "same as above (float32 model)")
  return results


def _cell(value):
  return f"{value:.1e}" if isinstance(value, float) else value


def markdown(results):
  labels = list(MODELS)
  lines = ["# Runtimes against the legacy graph", "",
           "Written by `python -m compat_tests.measure_runtimes`: max abs "
           "difference of each model's output from the legacy graph (for "
           "TF1 cells, from TensorFlow's own cell) on a probe batch. Bounds: "
           "float64 1e-14, float32 1e-5 (ONNX Runtime: float32 1e-5, float64 "
           "1e-12).", "",
           "| path | " + " | ".join(labels) + " |",
           "|---|" + "---|" * len(labels)]
  for key, title in PATHS:
    lines.append(f"| {title} | " + " | ".join(
        _cell(results[l][key]) for l in labels) + " |")
  return "\n".join(lines) + "\n"


def main():
  text = markdown(measure())
  with open(OUTPUT, "w", encoding="utf-8") as f:
    f.write(text)
  print(text)
  print(f"# wrote {OUTPUT}")


if __name__ == "__main__":
  main()
