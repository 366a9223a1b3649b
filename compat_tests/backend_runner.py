"""Runs converted stock-Keras models under another Keras backend, in a
process where TensorFlow cannot be imported.

    KERAS_BACKEND=jax python -m compat_tests.backend_runner REQUEST.json

REQUEST.json: {"models": {name: .keras path}, "inputs": {name: .npy path},
"output": .npz path}. For each model it writes, under `name/`:

    default   predict(x) with Keras's defaults (float64 models only)
    predict   predict(x) after `keras_precision.enable_float64()`
    call      model(x), likewise

and `backend`, `keras`, `tensorflow_blocked` (the ImportError's message).
Nothing here may import TensorFlow: the test is that this runs without it.
"""

import builtins
import json
import sys


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
