"""Keeping float64 models float64 in Keras 3's own APIs and backends.

Keras 3 computes a float64 model's `model(x)` in float64 on TensorFlow, but
two of its defaults round data to float32 elsewhere, silently:

* `predict`, `evaluate` and `fit` pass arrays through a data adapter that
  casts every float array whose dtype is not `keras.config.floatx()` to
  floatx (keras/src/trainers/data_adapters/array_slicing.py, "Normalize
  floats to floatx"), and metrics (the loss tracker included) are created
  in floatx. With floatx float32 a float64 input loses its low bits before
  the model sees it. `floatx(dtype)` sets floatx for a block of code.
* On the JAX and PyTorch backends, Keras's type promotion maps float64 to
  float32 (`BIT64_TO_BIT32_DTYPE` in keras/src/backend/common/dtypes.py,
  "to be aligned with JAX's default behavior"), so `matmul` (PyTorch) and
  `tanh` (JAX) of float64 tensors return float32; and JAX itself is 32-bit
  unless `jax_enable_x64` is on. `enable_float64()` turns both off for the
  process.

Neither needs TensorFlow: a server running a converted stock-Keras model
under JAX or PyTorch uses this module alone.
"""

import contextlib
import importlib

FLOAT64 = "float64"
_PROMOTION_MODULE = "keras.src.backend.common.dtypes"
_PROMOTION_TABLE = "BIT64_TO_BIT32_DTYPE"


@contextlib.contextmanager
def floatx(dtype):
  """Runs a block with `keras.config.floatx()` set to `dtype` (a float
  dtype name), then restores it, so `predict`/`evaluate`/`fit` keep inputs
  of that dtype as they are."""
  import keras  # pylint: disable=g-import-not-at-top
  previous = keras.config.floatx()
  keras.config.set_floatx(dtype)
  try:
    yield
  finally:
    keras.config.set_floatx(previous)


def model_float_dtype(model):
  """The float dtype of a Keras model's inputs, or None (no float input, or
  several float dtypes)."""
  import keras  # pylint: disable=g-import-not-at-top
  dtypes = {keras.backend.standardize_dtype(t.dtype)
            for t in getattr(model, "inputs", None) or ()}
  dtypes = {d for d in dtypes if d.startswith(("float", "bfloat"))}
  return dtypes.pop() if len(dtypes) == 1 else None


def enable_float64():
  """Makes this process's Keras compute float64 as float64 on every backend.

  Sets floatx to float64 (Keras's data adapters and metrics), turns on
  JAX's 64-bit mode when the backend is JAX, and stops Keras's type
  promotion from mapping float64 to float32 on JAX and PyTorch. Call it
  before loading a float64 model. Float32 models are unaffected: their
  inputs are cast to float32 as before.

  Raises:
    RuntimeError: this Keras no longer has the promotion table this
      function edits (a Keras upgrade changed it; check float64 results on
      that backend before serving).
  """
  import keras  # pylint: disable=g-import-not-at-top
  keras.config.set_floatx(FLOAT64)
  backend = keras.backend.backend()
  if backend == "jax":
    import jax  # pylint: disable=g-import-not-at-top
    jax.config.update("jax_enable_x64", True)
  table = getattr(importlib.import_module(_PROMOTION_MODULE),
                  _PROMOTION_TABLE, None)
  if not isinstance(table, dict) or FLOAT64 not in table:
    raise RuntimeError(
        f"keras {keras.__version__}: {_PROMOTION_MODULE}.{_PROMOTION_TABLE} "
        "is not the float64 -> float32 table this function edits; float64 "
        f"models may compute in float32 on the {backend} backend")
  table[FLOAT64] = FLOAT64
