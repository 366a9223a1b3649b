"""The tolerance policy, in one place.

Bitwise equality wherever the operations are the same operations in the same
order: the TF2 reference path (eager or `tf.function`) against the legacy
graph, outputs and gradients; `TF1Adam` against TF1's `AdamOptimizer`; the
exact training path against the legacy job; every weight conversion and
round trip (a conversion only copies, slices, concatenates and negates, all
exact).

Elsewhere the arithmetic differs, each for a stated reason, and the result
must lie within an absolute bound per dtype. The bounds hold for the shapes
the equivalence suite sweeps (batch 1 to 256, up to 300 time steps, hidden
1 to 256, inputs in [-1, 1], weights of the legacy initializers' scale or up
to N(0, 0.5)), and are set above the largest difference measured there with
headroom for accumulation over longer sequences; `scripts/verify_equivalence.py`
prints each measured difference next to its bound so drift stays visible.
"""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Bound:
  """An absolute bound per dtype, and why the results differ at all."""
  float32: float
  float64: float
  reason: str

  def for_dtype(self, dtype):
    dtype = np.dtype(dtype)
    if dtype == np.float32:
      return self.float32
    if dtype == np.float64:
      return self.float64
    raise ValueError(f"no bound for dtype {dtype}")


BITWISE = Bound(0.0, 0.0, "same operations in the same order")

# GRU outputs (hidden states, values in (-1, 1)).
FUSED = Bound(
    2e-5, 1e-13,
    "the fused path projects all inputs in one matmul with the bias folded "
    "in, and fuses the gates' recurrent matmuls: other summation orders")
XLA = Bound(
    2e-5, 1e-13,
    "XLA fuses elementwise ops and uses its own tanh/sigmoid kernels")
STOCK_KERAS = Bound(
    2e-5, 1e-13,
    "keras.layers.GRU adds the bias to the input projection first, fuses "
    "the gates' matmuls and, for the Data Blogger GRU, computes "
    "sigmoid(-a) where the legacy graph computes 1 - sigmoid(a)")

STOCK_KERAS_HEAD = Bound(
    1e-4, 1e-12,
    "as STOCK_KERAS, then scaled by the output layer's weights (logits are "
    "not bounded by 1)")

# Gradients of sum(outputs * probe) with probe ~ N(0, 1): larger magnitudes,
# summed over batch and time.
GRADIENT_FUSED = Bound(
    2e-4, 1e-11, "as FUSED, carried through the backward pass")
GRADIENT_XLA = Bound(
    2e-4, 1e-11, "as XLA, carried through the backward pass")

# Training trajectories (losses and weights of the addition job).
TRAINING_FAST = Bound(
    1e-4, 1e-10,
    "the fast path's rounding differences (~1e-16 per step) grow through "
    "Adam's normalisation over the run")
TRAINING_KERAS_ADAM = Bound(
    1e-2, 1e-4,
    "stock keras.optimizers.Adam uses float64 betas and pow(beta, t) where "
    "TF1 uses float32-rounded betas and running float32 products: a "
    "relative 2.4e-7 per update that accumulates")
