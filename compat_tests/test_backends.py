"""The converter's stock-Keras files under Keras's JAX and PyTorch backends,
in a process where TensorFlow cannot be imported (compat_tests/
backend_runner.py), against the legacy graph (both seeds) and TensorFlow's
own TF1 cells (the goldens).

With `keras_precision.enable_float64()` (the README's recipe), float64
models are within 1e-14 and float32 models within the stock bound; without
it, float64 models compute in float32 on both backends, which a test pins.
JAX is in the test extra; PyTorch is in the `backends` extra, and its tests
are skipped, saying so, where it is not installed.
"""

import importlib.util
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from compat_tests import backend_runner
from compat_tests import legacy_checkpoints
from compat_tests import tf1_cells
from gru_common import compare
from gru_common import tolerances
from migration import convert
from migration import exporters
from migration.kinds import seeds
from migration import legacy_graph
from migration import mapping
from migration import verification

SERVING = os.path.join(backend_runner.REPOSITORY, "docs", "serving.md")
SEEDS = {
    "scan_float64_addition": seeds.model(
        seeds.SCAN, 6, 3, "float64", head=seeds.ADDITION, head_units=1),
    "loop_float32": seeds.model(seeds.LOOP, 6, 3, "float32"),
    "loop_float64": seeds.model(seeds.LOOP, 5, 2, "float64"),
    "loop_float32_bigru_classifier": seeds.model(
        seeds.LOOP, 5, 3, "float32", bidirectional=True,
        head=seeds.CLASSIFIER, head_units=4),
}
# The GRU cells, and LSTM cells stock Keras has a layer for: one per
# wiring and dtype (test_tf1_lstm_cells.py covers every LSTM kind).
CELLS = sorted(tf1_cells.CASES) + ["basic_lstm_float64_multi",
                                   "cudnn_lstm_bidirectional",
                                   "lstm_cell_bi_multi_float64"]


def _skip_unless_installed(module, extra):
  if importlib.util.find_spec(module) is None:
    pytest.skip(f"{module} is not installed (pip install '.[{extra}]')")


BACKENDS = [pytest.param("jax", id="jax"), pytest.param("torch", id="torch")]
EXTRAS = {"jax": "test", "torch": "backends"}


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
  """{name: (.keras path, inputs, legacy outputs, bound)}: stock-Keras
  conversions of both seeds and of every TF1-cell golden."""
  folder = tmp_path_factory.mktemp("backends")
  result = {}
  for name, spec in SEEDS.items():
    state = legacy_checkpoints.random_state(spec)
    model, _ = convert.to_keras(state, mapping.KERAS)
    path = str(folder / f"{name}.keras")
    model.save(path)
    x = verification.probe_inputs(spec, batch=5, time=7)
    out = legacy_graph.run(legacy_graph.build(spec), x, values=state.values)
    result[name] = (path, x, out[spec.output_names()[-1]],
                    tolerances.STOCK_KERAS.for_dtype(spec.dtype))
  for name in CELLS:
    path = str(folder / f"{name}.keras")
    case = tf1_cells.ALL_CASES[name]
    exporters.convert_path(tf1_cells.prefix(name), path, mapping.KERAS,
                           **({"allow_unconverted": True}
                              if case.extra_layer else {}))
    with np.load(os.path.join(tf1_cells.folder_of(name), name,
                              tf1_cells.OUTPUTS)) as golden:
      result[name] = (path, golden["x"], golden["outputs"],
                      (tolerances.TF1_LSTM_STOCK if case.lstm else
                       tolerances.TF1_CELL_STOCK).for_dtype(case.dtype))
  return result


def _run(backend, cases, folder):
  """The runner's outputs for `cases` under `backend`."""
  return backend_runner.run_models(
      backend, {n: c[0] for n, c in cases.items()},
      {n: c[1] for n, c in cases.items()}, str(folder))


@pytest.fixture(scope="module", params=BACKENDS)
def backend_outputs(request, cases, tmp_path_factory):
  backend = request.param
  _skip_unless_installed(backend, EXTRAS[backend])
  return backend, _run(backend, cases, tmp_path_factory.mktemp(backend))


@pytest.mark.slow
class TestStockKerasWithoutTensorFlow:

  def test_tensorflow_was_blocked(self, backend_outputs):
    backend, out = backend_outputs
    assert str(out["backend"]) == backend
    assert "tensorflow is blocked" in str(out["tensorflow_blocked"])

  @pytest.mark.parametrize("name", sorted(SEEDS) + CELLS)
  def test_within_bound_of_the_legacy_graph(self, backend_outputs, cases,
                                            name):
    """predict and model(x), float64 within 1e-14, float32 within 1e-5."""
    _, out = backend_outputs
    _, x, want, bound = cases[name]
    assert bound == (1e-14 if x.dtype == np.float64 else 1e-5)
    for api in ("predict", "call"):
      got = out[f"{name}/{api}"]
      assert got.dtype == x.dtype, (api, got.dtype)
      result = compare.compare(got, want)
      assert result.within(bound), (api, result.max_abs, bound)

  def test_float64_is_float32_without_the_recipe(self, backend_outputs,
                                                 cases):
    """Why `enable_float64` exists: by default Keras computes these float64
    models in float32 on JAX and PyTorch. (If a release stops doing so,
    this fails, and the recipe can go.)"""
    _, out = backend_outputs
    float64 = [n for n, c in cases.items() if c[1].dtype == np.float64]
    assert len(float64) >= 4
    errors = [compare.compare(out[f"{n}/default"].astype(np.float64),
                              cases[n][2]).max_abs for n in float64]
    assert min(errors) > 1e3 * tolerances.STOCK_KERAS.float64, errors


def readme_serving_snippet():
  """The Python code of docs/serving.md, "Serve the migrated model without
  TensorFlow" (the README links it)."""
  with open(SERVING, encoding="utf-8") as f:
    text = f.read()
  return re.search(r"```python\n(.*?)```", text, re.S).group(1)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_readme_serving_recipe_is_float64_exact(backend, cases, tmp_path):
  """README's snippet, as written, with TensorFlow blocked, on the float64
  Data Blogger model: within 1e-14 of the legacy graph."""
  _skip_unless_installed(backend, EXTRAS[backend])
  path, x, want, _ = cases["scan_float64_addition"]
  np.save(tmp_path / "x.npy", x)
  snippet = readme_serving_snippet()
  assert "MODEL.keras" in snippet and "INPUTS.npy" in snippet
  snippet = snippet.replace("MODEL.keras", path).replace(
      "INPUTS.npy", str(tmp_path / "x.npy"))
  script = ("from compat_tests import backend_runner\n"
            "backend_runner.block_tensorflow()\n" + snippet +
            f"\nimport numpy\nnumpy.save({str(tmp_path / 'y.npy')!r}, y)\n")
  result = subprocess.run([sys.executable, "-c", script],
                          cwd=backend_runner.REPOSITORY,
                          env=backend_runner.environment(backend),
                          capture_output=True, text=True, check=False,
                          timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  got = np.load(tmp_path / "y.npy")
  assert got.dtype == np.float64
  assert compare.compare(got, want).within(1e-14)
