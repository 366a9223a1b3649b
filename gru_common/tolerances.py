"""The tolerance policy, in one place.

Bitwise equality wherever the operations are the same operations in the same
order: the TF2 reference path (eager or `tf.function`) against the legacy
graph, outputs and gradients; `TF1Adam` against TF1's `AdamOptimizer`; the
exact training path against the legacy job; every weight conversion and
round trip (a conversion only copies, slices, concatenates and negates, all
exact).

Elsewhere the arithmetic differs, each for a stated reason, and a result
must satisfy max |ours - reference| <= bound * max(1, max |reference|): an
absolute bound for GRU states (within [-1, 1]), a relative one for
gradients and logits, whose rounding grows with their size.

The bounds were set from `equivalence.standard_cases` (batch 1 to 4, time 1
to 250, input 1 to 4, hidden 1 to 256, lengths 0, 1 and T; weights
N(0, 0.5), N(0, 0.1) at hidden 256), where the largest measured relative
differences were, float32 / float64:

    outputs, XLA               2.4e-7 / 2.8e-16
    outputs, stock Keras       2.7e-7 / 2.2e-16
    gradients, XLA             4.4e-7 / 5.6e-16

and each bound sits 25 to 45 times above them, to absorb longer sequences
and other weights. `gru-verify-equivalence` prints every measured difference
next to its bound, so drift shows before it fails.
"""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Bound:
  """An absolute bound per dtype, and why the results differ at all."""
  float32: float       # None: not measured (the addition job is float64)
  float64: float
  reason: str

  def for_dtype(self, dtype):
    dtype = np.dtype(dtype)
    value = {np.dtype(np.float32): self.float32,
             np.dtype(np.float64): self.float64}.get(dtype)
    if value is None:
      raise ValueError(f"no bound measured for {dtype}: {self.reason}")
    return value


BITWISE = Bound(0.0, 0.0, "same operations in the same order")

# GRU outputs (hidden states, values in (-1, 1)).
XLA = Bound(
    1e-5, 1e-14,
    "XLA fuses elementwise ops and uses its own tanh/sigmoid kernels")
# The layers' sequence-level mode (`mode="fast"`, tf2/fast_gru.py) against
# the exact one, outputs and every gradient: the input kernels' gradients
# are one matmul over every step instead of a sum of per-step ones, the
# input projection one matmul, the gate derivatives are written out by hand
# and XLA (which runs the loops) has its own tanh and sigmoid, so the sums
# and the nonlinearities round differently. Measured up to 9.5e-7 (float32)
# and 9e-16 (float64) on unit-scale values (compat_tests/test_fast_mode.py);
# the bounds leave a margin of 10x and 100x for longer sequences.
FAST_PATH = Bound(
    1e-5, 1e-13,
    "input kernels' gradients one matmul over every step, not step by "
    "step; the input projection one matmul; hand-written gate derivatives "
    "and XLA's tanh/sigmoid")
STOCK_KERAS = Bound(
    1e-5, 1e-14,
    "keras.layers.GRU adds the bias to the input projection first, fuses "
    "the gates' matmuls and, for the Data Blogger GRU, computes "
    "sigmoid(-a) where the legacy graph computes 1 - sigmoid(a)")

# TensorFlow's own TF1 GRU cells (migration/tf1_cells.py) against a stock
# keras.layers.GRU: TF1 multiplies [x; h] by one kernel, Keras multiplies x
# and h by two and adds the products, so sums round differently.
TF1_CELL_STOCK = Bound(
    1e-5, 1e-14,
    "TF1's cells multiply [x; h] by one kernel; keras.layers.GRU by two, "
    "adding the products")

# TensorFlow's own TF1 LSTM cells against a stock keras.layers.LSTM: as for
# the GRU cells, and the forget bias is added to the gate's bias once, in
# the weights, where TF1 adds it to the gate's pre-activation at every step.
TF1_LSTM_STOCK = Bound(
    1e-5, 1e-14,
    "TF1's LSTM cells multiply [x; h] by one kernel and add the forget bias "
    "at every step; keras.layers.LSTM multiplies by two kernels, adding the "
    "products, and holds the forget bias folded into its bias")

# tf2.TF1GRUCell (TF1's cell op for op) against TF's own TF1 programs, in
# float32, where it is not bitwise: the cuDNN-compatible cell (the same ops,
# up to a few ulps apart; the graphs are optimized differently), and
# GRUBlockCellV2, whose checkpoint names are GRUCell's, so it converts to
# GRUCell's ops rather than the fused GRUBlockCell op; likewise
# tf2.TF1LSTMCell against LSTMBlockCell and the cuDNN LSTM cell, which run
# the fused LSTMBlockCell op. Every other kind, and every kind in float64,
# is bitwise.
TF1_CELL_FLOAT32_NOT_BITWISE = Bound(
    1e-6, 0.0,
    "float32 cuDNN-compatible cells (differently optimized graphs), "
    "GRUBlockCellV2 (converted to GRUCell's ops, not the fused op) and "
    "LSTMBlockCell (its fused op)")

# tf2.TF1LSTMCell against TF1's LSTMCell with peepholes, a projection or
# clipping, and against LayerNormBasicLSTMCell: the same ops, but TensorFlow's
# graph optimizer rewrites the chains of additions (and the layer norm's
# arithmetic) differently in the two graphs, so results are a few ulps
# apart, in float64 too (measured up to 1.8e-7 in float32 and 1.1e-16 in
# float64: compat_tests/goldens/tf1_lstm_cells/RESULTS.md).
TF1_LSTM_OPTIONS = Bound(
    1e-6, 1e-14,
    "LSTMCell with peepholes, projection or clipping, LayerNormBasicLSTMCell:"
    " the same ops, which TensorFlow's graph optimizer rewrites differently")

# ONNX models (migration/onnx_export.py) in onnxruntime's CPU GRU kernel,
# which computes the gates with its own matmuls and activation kernels.
# float64, which that kernel lacks, runs as a Scan of the cell's step in
# onnxruntime's primitive ops (migration/onnx_program.py): the same math
# in another order of additions, so a few ulps (measured up to 4e-16 in
# the tests), bounded as a whole program's float64 is.
ONNX_RUNTIME = Bound(
    1e-5, 1e-12,
    "onnxruntime's GRU kernel: its own gate matmuls and activations; "
    "float64 as a Scan of primitive ops, another order of additions")

# A whole TF1 program's Keras model (migration/tf1_program.py) against the
# program's own graph: the same ops wherever the layers run them, and then
# bitwise; otherwise TF1's fused batch-norm kernel against Keras's
# `tf.nn.batch_normalization`, and stock Keras RNN layers' two kernels, round
# differently. The bound the converter's issue set: 1e-5 / 1e-12, relative
# to max(1, max |output|) as every bound here.
PROGRAM = Bound(
    1e-5, 1e-12,
    "the same ops where the Keras layers run them; TF1's fused batch norm "
    "and stock Keras RNN layers round differently")

GOLDEN = Bound(
    1e-6, 1e-14,
    "golden outputs were written on this project's CI machine type, where "
    "they match bitwise; another CPU's kernels (oneDNN picks them by "
    "instruction set) may round differently")
# Goldens written under GOLDEN_RELEASE, computed under another supported
# TensorFlow release: its kernels round differently. The version matrix
# (BUILD.md, "Supported versions") measured, largest absolute difference
# of a regenerated golden: 3.8e-6 float32 (the BiGRU classifier's logits)
# and 1.4e-14 float64 under TensorFlow 2.16.
OTHER_RELEASE = Bound(
    2e-5, 1e-13,
    "goldens written under TensorFlow GOLDEN_RELEASE, computed under "
    "another release whose kernels round differently")
# The TensorFlow minor release that wrote the committed goldens
# (compat_tests/goldens): under it they are reproduced bitwise, under
# another supported release within GOLDEN. What a conversion claims
# bitwise is checked in-process against the program or cell run under the
# same release, on every release.
GOLDEN_RELEASE = "2.21"

# Gradients of sum(outputs * probe), probe ~ N(0, 1), w.r.t. every weight
# and the inputs: sums over batch and time.
GRADIENT_XLA = Bound(
    2e-5, 2e-14, "as XLA, carried through the backward pass")

# Training the addition job (float64 only), for runs of at most N epochs.
# The fast path's per-step rounding differences (its Dense head, XLA and
# the GRU's sequence-level gradient) stay at ~1e-15 for about 2000 epochs,
# then grow once the loss is tiny and Adam's scale-invariant steps turn
# them into different directions. Measured, relative to the largest value
# (final weights; losses alike):
#                     500 epochs  1000     2000     5000
#   fast path         3.3e-16     1.7e-15  2.2e-14  1.2e-4
#   (since the fast path's loops run under XLA, 5000 epochs measured
#   3.6e-6: `gru-verify-equivalence`, docs/proof.md)
#   stock Keras Adam  4.6e-6      9.8e-6   1.9e-5   1.6e-4
TRAINING_FAST = {
    500: Bound(None, 1e-12, "fast path (Dense head, XLA) vs "
               "legacy: rounding differences, not yet amplified"),
    5000: Bound(None, 1e-3, "fast path vs legacy: rounding differences "
                "amplified by Adam late in training"),
}
TRAINING_KERAS_ADAM = {
    500: Bound(None, 1e-4, "stock keras.optimizers.Adam uses float64 betas "
               "and pow(beta, t) where TF1 uses float32-rounded betas and "
               "running float32 products: a relative 2.4e-7 per update"),
    5000: Bound(None, 2e-3, "as above, accumulated over 5000 updates"),
}


def for_horizon(bounds, epochs):
  """The bound of a {max epochs: Bound} table for a run of `epochs`."""
  for horizon in sorted(bounds):
    if epochs <= horizon:
      return bounds[horizon]
  raise ValueError(f"no bound measured for runs longer than {max(bounds)} "
                   f"epochs (asked {epochs})")
