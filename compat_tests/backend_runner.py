"""Runs converted stock-Keras models under another Keras backend, in a
process where TensorFlow cannot be imported.

    KERAS_BACKEND=jax python -m compat_tests.backend_runner REQUEST.json

REQUEST.json: {"models": {name: .keras path}, "inputs": {name: .npy path},
"output": .npz path}. For each model it writes, under `name/`:

    default   predict(x) with Keras's defaults (float64 models only)
    predict   predict(x) after `keras_precision.enable_float64()`
    call      model(x), likewise

and `backend`, `keras`, `tensorflow_blocked` (the ImportError's message).
Nothing `main` runs may import TensorFlow: the test is that it runs without
it. `run_models` is the parent's side: it writes the request and starts the
runner.
"""

import builtins
import json
import os
import subprocess
import sys

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def environment(backend):
  """This process's environment with KERAS_BACKEND=`backend` and JAX's
  64-bit switch unset (the runner turns it on itself)."""
  env = dict(os.environ, KERAS_BACKEND=backend)
  env.pop("JAX_ENABLE_X64", None)
  return env


def run_models(backend, models, inputs, folder):
  """Runs {name: .keras path} on {name: input array} in a child process
  under `backend`; returns the runner's outputs (see above).

  Raises:
    RuntimeError: the runner failed (its stderr's end in the message).
  """
  import numpy as np  # pylint: disable=g-import-not-at-top
  request = {"models": models, "inputs": {},
             "output": os.path.join(folder, f"{backend}.npz")}
  for name, x in inputs.items():
    request["inputs"][name] = os.path.join(folder, f"{backend}_{name}.npy")
    np.save(request["inputs"][name], x)
  path = os.path.join(folder, f"{backend}.json")
  with open(path, "w", encoding="utf-8") as f:
    json.dump(request, f)
  result = subprocess.run(
      [sys.executable, "-m", "compat_tests.backend_runner", path],
      cwd=REPOSITORY, env=environment(backend), capture_output=True,
      text=True, check=False, timeout=600)
  if result.returncode:
    raise RuntimeError(f"the {backend} runner failed:\n"
                       f"{result.stderr[-3000:]}")
  with np.load(request["output"]) as f:
    return {k: f[k] for k in f.files}


def block_tensorflow():
  """Makes `import tensorflow` (and its submodules) raise ImportError."""
  real_import = builtins.__import__

  def guarded(name, *args, **kwargs):
    if name == "tensorflow" or name.startswith("tensorflow."):
      raise ImportError(f"{name} is blocked in this process")
    return real_import(name, *args, **kwargs)

  builtins.__import__ = guarded


def main(request_path):
  block_tensorflow()
  import keras  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from gru_common import keras_precision  # pylint: disable=g-import-not-at-top
  try:
    import tensorflow  # pylint: disable=g-import-not-at-top,unused-import
    blocked = ""
  except ImportError as e:
    blocked = str(e)
  with open(request_path, encoding="utf-8") as f:
    request = json.load(f)
  inputs = {n: np.load(p) for n, p in request["inputs"].items()}
  out = {"backend": keras.backend.backend(), "keras": keras.__version__,
         "tensorflow_blocked": blocked}

  def numpy(value):
    return np.asarray(keras.ops.convert_to_numpy(value))

  for name, path in request["models"].items():
    x = inputs[name]
    if x.dtype == np.float64:
      model = keras.saving.load_model(path)
      out[f"{name}/default"] = numpy(model.predict(x, verbose=0))
  keras_precision.enable_float64()
  for name, path in request["models"].items():
    x = inputs[name]
    model = keras.saving.load_model(path)
    out[f"{name}/predict"] = numpy(model.predict(x, verbose=0))
    out[f"{name}/call"] = numpy(model(x))
  np.savez(request["output"], **out)


if __name__ == "__main__":
  main(sys.argv[1])
