"""The recurrence shared by the TF2 GRU layers.

`GRULayer` is a `keras.layers.RNN` whose loop is this project's own: the
Keras RNN API (return_sequences, return_state, go_backwards, initial_state,
stateful, masks, `keras.layers.Bidirectional`) around one of two loops,
chosen by `mode`:

  "fast" (the default)  the whole sequence as one function with its own
                        gradient, its loops compiled by XLA
                        (`tf2/fast_gru.py`), within
                        `gru_common/tolerances.FAST_PATH` of the exact mode;
                        each new shape of the sequences costs one XLA
                        compilation (a time axis unknown when traced is
                        padded to a power of two, so many lengths share
                        one), and it has no second derivative (under a
                        nested tape it raises, naming the exact mode);
  "exact"               the cell's `step`, which performs the legacy graph's
                        operations in the legacy graph's order, one time
                        step at a time, with the same matmul shapes: outputs
                        and gradients bitwise identical to the legacy
                        graph's. Called eagerly, the loop still runs as a
                        traced function (see `tf2/_tracing.py`). Under
                        `tf.function(jit_compile=True)` XLA compiles it,
                        which changes rounding within
                        `gru_common/tolerances.XLA`. On a CPU it trains
                        about as fast as the fast mode at large batches
                        and faster at small ones, and inference is fastest
                        with it under XLA (docs/performance.md).

The exact mode deliberately has no "fused" variant (all time steps' inputs
projected in one matmul before the loop, the gates' matmuls concatenated):
on CPU it measured slower to train, its column slices and their gradients
costing more than the matmul launches it saves (`gru-benchmark`'s
`fused_experiment` row keeps the measurement reproducible).

Masking follows Keras exactly: at a masked step the state is carried over
and the output repeats the previous output (zeros with
`zero_output_for_mask`, which `Bidirectional` sets). The legacy GRUs never
mask; see `tf2/legacy_semantics.py` for reproducing them exactly.
"""

import keras
import tensorflow as tf

from gru_common import sequence_lengths as lengths_lib
from tf2 import fast_gru
from tf2 import validation
from tf2 import _tracing


# The layers' modes: the legacy graph's operations step by step, bitwise
# (`_loop`), or the sequence-level path (`tf2/fast_gru.py`), within
# `tolerances.FAST_PATH`. The default is the fast one, which `gru-benchmark`
# measures the faster on most of its workloads (docs/performance.md says
# which, and where the exact mode is faster); what claims to be bitwise with
# a legacy graph (the converter's models, the equivalence proof, the jobs'
# exact paths) asks for the exact one by name.
EXACT = "exact"
FAST = "fast"
MODES = (EXACT, FAST)
DEFAULT_MODE = FAST


def _as_bool_mask(mask):
  mask = tf.convert_to_tensor(mask)
  if mask.dtype != tf.bool:
    mask = tf.cast(mask, tf.bool)
  return mask


class GRULayer(keras.layers.RNN):
  """Base of `ScanGRU` and `LoopGRU`: a Keras RNN with an exact loop.

  Subclasses build their cell and pass it here; the cell provides
  `step(x_t, h)`, one step in the legacy order of operations.
  """

  def __init__(self, cell, return_sequences=False, return_state=False,
               go_backwards=False, stateful=False, zero_output_for_mask=False,
               mode=DEFAULT_MODE, **kwargs):
    if mode not in MODES:
      raise ValueError(f"`mode` must be one of {MODES}, got {mode!r}.")
    self.mode = mode
    super().__init__(cell, return_sequences=return_sequences,
                     return_state=return_state, go_backwards=go_backwards,
                     stateful=stateful, unroll=False,
                     zero_output_for_mask=zero_output_for_mask, **kwargs)
    validation.check_float_dtype(self)

  @property
  def units(self):
    return self.cell.units

  def build(self, sequences_shape, initial_state_shape=None):
    sequences_shape = tuple(sequences_shape)
    if len(sequences_shape) != 3:
      raise ValueError(
          f"{type(self).__name__} expects `sequences` of rank 3 [batch, time, "
          f"features], got shape {sequences_shape}.")
    if sequences_shape[-1] is None:
      raise ValueError(
          f"{type(self).__name__} needs the feature size (the last axis of "
          f"`sequences`) to be known, got shape {sequences_shape}.")
    super().build(sequences_shape, initial_state_shape)

  def call(self, sequences, initial_state=None, mask=None, training=False,
           sequence_lengths=None):
    """Runs the GRU over `sequences`.

    Args:
      sequences: float tensor [batch, time, features].
      initial_state: optional [batch, units] tensor (or a list of one).
      mask: optional [batch, time] boolean mask (Keras masking).
      training: unused (no dropout); accepted for the Keras API.
      sequence_lengths: optional int vector [batch] with values in
        [0, time]; a shorthand for `mask=tf.sequence_mask(lengths, time)`.
        Give a mask or lengths, not both.

    Returns:
      As `keras.layers.RNN`: the output sequence [batch, time, units] or the
      last output [batch, units], then the final state if `return_state`.
    """
    sequences = self._check_sequences(sequences)
    if sequence_lengths is not None:
      if mask is not None:
        raise ValueError("Give either `mask` or `sequence_lengths`, not both.")
      mask = self._lengths_to_mask(sequence_lengths, sequences)
    elif mask is not None:
      mask = self._check_mask(mask, sequences)
    if initial_state is not None:
      initial_state = self._check_initial_state(initial_state, sequences)
    return super().call(sequences, initial_state=initial_state, mask=mask,
                        training=training)

  def inner_loop(self, sequences, initial_state, mask, training=False):
    del training  # No dropout.
    h0 = initial_state[0] if isinstance(initial_state, (list, tuple)) else (
        initial_state)
    loop = self._fast_loop if self.mode == FAST else self._loop
    if mask is None:
      return _tracing.call_traced(self, loop, sequences, h0)
    return _tracing.call_traced(self, loop, sequences, h0, mask)

  def _time_major(self, sequences, mask):
    """(x [time, batch, in], mask [time, batch, 1] or None), in the order
    the loop runs (reversed with `go_backwards`), as the legacy graphs."""
    x = tf.transpose(sequences, [1, 0, 2])
    if mask is not None:
      mask = tf.transpose(_as_bool_mask(mask))[:, :, tf.newaxis]
    if self.go_backwards:
      x = tf.reverse(x, [0])
      if mask is not None:
        mask = tf.reverse(mask, [0])
    return x, mask

  def _fast_loop(self, sequences, h0, mask=None):
    """The sequence-level path (`tf2/fast_gru.py`). Returns what `_loop`
    returns. Outputs are the states gated by the mask: zero at masked
    steps with `zero_output_for_mask`, else the last unmasked output (zero
    before the first), which is the carried state."""
    x, mask = self._time_major(sequences, mask)
    kernels, biases, recurrent, mix = self.cell.fast_weights()
    time, batch = tf.shape(x)[0], tf.shape(x)[1]
    # [x 1] @ [W; b]: the bias's gradient is part of the kernel's matmul.
    flat = tf.reshape(x, [-1, x.shape[-1]])
    flat = tf.concat([flat, tf.ones_like(flat[:, :1])], 1)
    projections = [
        tf.reshape(tf.matmul(flat, tf.concat([w, b[tf.newaxis]], 0)),
                   [time, batch, self.units])
        for w, b in zip(kernels, biases)]
    states = fast_gru.states(projections, h0, recurrent, mask, mix)
    outputs = states
    if mask is not None:
      shown = mask if self.zero_output_for_mask else tf.math.cumsum(
          tf.cast(mask, tf.int32), axis=0) > 0
      outputs = tf.where(shown, states, tf.zeros_like(states))
    return (outputs[-1], tf.transpose(outputs, [1, 0, 2]), [states[-1]])

  def _loop(self, sequences, h0, mask=None):
    """The time loop. Returns (last_output, outputs, [final_state])."""
    x, mask = self._time_major(sequences, mask)
    step = self.cell.step
    time_steps = tf.shape(x)[0]
    # Per-step inputs through a TensorArray, not x[t]: the gradient of a
    # slice of a tensor captured by the loop is a dense, zero-padded tensor
    # per step, summed over the steps (quadratic in time); a TensorArray
    # read's gradient writes each step's slice once. Same values either way.
    inputs = tf.TensorArray(x.dtype, size=time_steps,
                            element_shape=x.shape[1:]).unstack(x)
    outputs = tf.TensorArray(h0.dtype, size=time_steps,
                             element_shape=h0.shape)
    zeros = tf.zeros_like(h0)

    def body(t, h, previous_output, outputs):
      h_new = step(inputs.read(t), h)
      if mask is None:
        output = h_new
      else:
        keep = mask[t]
        h_new = tf.where(keep, h_new, h)
        output = tf.where(keep, h_new, zeros if self.zero_output_for_mask
                          else previous_output)
      return t + 1, h_new, output, outputs.write(t, output)

    # maximum_iterations lets XLA size the loop's accumulators.
    _, h_last, last_output, outputs = tf.while_loop(
        lambda t, *_: t < time_steps, body,
        (tf.constant(0), h0, zeros, outputs), maximum_iterations=time_steps)
    outputs = tf.transpose(outputs.stack(), [1, 0, 2])
    return last_output, outputs, [h_last]

  def _check_sequences(self, sequences):
    sequences = tf.convert_to_tensor(sequences)
    name = type(self).__name__
    if not sequences.dtype.is_floating:
      raise ValueError(f"{name} expects floating-point `sequences`, got "
                       f"dtype {sequences.dtype.name}.")
    if sequences.shape.rank != 3:
      raise ValueError(f"{name} expects `sequences` of rank 3 [batch, time, "
                       f"features], got shape {sequences.shape}.")
    if sequences.shape[-1] != self.cell.input_dim:
      raise ValueError(
          f"{name} was built for {self.cell.input_dim} features (the last "
          f"axis of `sequences`), got shape {sequences.shape}.")
    return validation.check_time_steps(name, sequences)

  def _check_mask(self, mask, sequences):
    mask = tf.convert_to_tensor(mask)
    if mask.dtype != tf.bool and not mask.dtype.is_integer:
      raise ValueError(f"`mask` must be boolean (or 0/1 integers), got dtype "
                       f"{mask.dtype.name}.")
    if not mask.shape.is_compatible_with(sequences.shape[:2]):
      raise ValueError(f"`mask` must have shape [batch, time] = "
                       f"{sequences.shape[:2]}, got {mask.shape}.")
    return mask

  def _lengths_to_mask(self, lengths, sequences):
    lengths = lengths_lib.check(lengths, sequences)
    return tf.sequence_mask(lengths, tf.shape(sequences,
                                              out_type=lengths.dtype)[1])

  def _check_initial_state(self, initial_state, sequences):
    states = (list(initial_state) if isinstance(initial_state, (list, tuple))
              else [initial_state])
    if len(states) != 1:
      raise ValueError(f"`initial_state` must be one [batch, {self.units}] "
                       f"tensor, got {len(states)}.")
    state = tf.convert_to_tensor(states[0])
    expected = tf.TensorShape([sequences.shape[0], self.units])
    if not state.shape.is_compatible_with(expected):
      raise ValueError(f"`initial_state` must have shape {expected}, got "
                       f"{state.shape}.")
    return [state]

  def get_config(self):
    config = super().get_config()
    del config["cell"], config["unroll"]
    config.update(self.cell.get_config_for_layer())
    config["mode"] = self.mode
    return config

  @classmethod
  def from_config(cls, config, custom_objects=None):
    # A file written before the layers had modes holds an exact layer.
    return cls(**{"mode": EXACT, **config})
