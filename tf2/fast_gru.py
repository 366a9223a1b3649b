"""The GRU layers' fast training path: the whole sequence as one function
with its own gradient, its two loops compiled by XLA.

Backpropagation through `tf.while_loop` differentiates every op of every
step, keeping each intermediate and summing each step's gradients through
the loop's accumulators, yet only the state gradient is sequential. Here:

    forward    X_g = [x 1] @ [W_g; b_g] per gate g, one matmul over all
               steps (outside this function, so autodiff makes the input
               kernels' and biases' gradients one matmul each); per step
               z = sigmoid(X_z + h Uz), r = sigmoid(X_r + h Ur),
               c = tanh(X_c + (r h) Uc), h' mixed from h and c; the loop
               keeps what the backward pass reads: h, z, r, c
    backward   per step the gate gradients dG_g and dh_{t-1} (one matmul
               per gate, by U_g^T), and the recurrent kernels' gradients
               dU_z += h^T dZ, dU_r += h^T dR, dU_c += (r h)^T dC beside
               the sequential matmuls

Both loops run as XLA computations (`tf.function(jit_compile=True)`): XLA
fuses each step's elementwise work into a few kernels and runs a step's
independent matmuls side by side, so the kernels' gradient matmuls, which
nothing in the loop waits for, can use time the sequential ones leave (in
experiments at the benchmark's shapes: faster than the same loops under
TensorFlow's executor, and no slower overall than one matmul each after
the loop). The placement does not depend on the
thread count, so neither do the results. XLA compiles once per shape of
the sequences; a time axis unknown when traced is padded to the next power
of two (`_bucket`), so that many lengths share a few compilations.

The two seeds differ in how the state mixes (`STATE_KEEPS`: the tutorial's
h' = z h + (1 - z) c; `CANDIDATE_TAKES`: the Data Blogger's
h' = (1 - z) h + z c) and the tutorial's variant has no reset gate (r = 1).
A mask keeps the state at masked steps. The layers' outputs are the states
gated by the mask (`recurrent.GRULayer`), so this function only maps the
projected inputs to the states.

The sums run in another order than the legacy graph's and XLA has its own
tanh and sigmoid, so this path is within `tolerances.FAST_PATH` of the
exact one, not bitwise.
"""

import importlib

import tensorflow as tf

# TensorFlow's switch that stops every gradient tape on this thread (what
# `tf.custom_gradient` uses in eager mode); not public API, so its place
# is named once, here, for its canary (compat_tests/private_api.py).
_TAPE_MODULE = "tensorflow.python.eager.record"
_STOP_RECORDING = "stop_recording"

STATE_KEEPS = "state_keeps"          # h' = z h + (1 - z) c  (tutorial)
CANDIDATE_TAKES = "candidate_takes"  # h' = (1 - z) h + z c  (Data Blogger)


def states(projections, h0, recurrent, mask=None, mix=STATE_KEEPS):
  """The states [time, batch, units] of a GRU over projected inputs.

  Args:
    projections: the gates' input projections with their biases, each
      [time, batch, u]: (z, r, c), or (z, c) without a reset gate.
    h0: [batch, u], the initial state.
    recurrent: the gates' recurrent kernels [u, u], in the same order.
    mask: optional [time, batch, 1] booleans: at a False step the state is
      kept.
    mix: `STATE_KEEPS` or `CANDIDATE_TAKES`.

  Returns:
    [time, batch, u]: the state after each step.
  """
  masked = mask is not None
  if mask is None:
    mask = tf.zeros([0, 0, 1], tf.bool)
  gates = len(projections)
  time = tf.shape(projections[0])[0]
  # XLA compiles once per shape. A time axis known when traced is one
  # shape; an unknown one (sequences of many lengths) is padded to the next
  # power of two, so that n lengths cost about log2(n) compilations. The
  # loops run the real steps only; the padding is never read.
  size = None if projections[0].shape[0] is not None else _bucket(time)
  loops = _Loops(reset=gates == 3, masked=masked, mix=mix,
                 padded=size is not None)
  steps = () if size is None else (time,)
  pad = lambda a: a if size is None else tf.pad(
      a, [[0, size - time]] + [[0, 0]] * (a.shape.rank - 1))
  cut = lambda a: a if size is None else a[:time]
  padded_mask = pad(mask) if masked else mask

  @tf.custom_gradient
  def run(h0, *args):
    padded = [pad(a) for a in args[:gates]]
    saved = _undifferentiated(loops.forward, *steps, h0, padded_mask,
                              *padded, *args[gates:])

    def grad(d_states):
      dh0, *rest = _no_second_derivative(loops.backward)(
          *steps, pad(d_states), h0, padded_mask, *saved, *args[gates:])
      return (dh0, *(cut(d) for d in rest[:gates]), *rest[gates:])

    return cut(saved[0]), grad

  return run(h0, *projections, *recurrent)


def _bucket(time):
  """The smallest power of two >= `time` (an int32 scalar >= 1)."""
  bits = tf.reduce_sum(tf.cast(
      tf.bitwise.right_shift(time - 1, tf.range(31)) > 0, tf.int32))
  return tf.bitwise.left_shift(1, bits)


class _Loops:
  """The forward and backward loops of one GRU variant, each an XLA
  computation. The variant (reset gate, mask, mixing) is fixed here, in
  Python; the tensors are the functions' arguments, since an XLA
  computation cannot capture TensorArrays from an enclosing graph."""

  def __init__(self, reset, masked, mix, padded):
    self.reset, self.masked, self.mix = reset, masked, mix
    self.padded = padded   # the steps to run come first: fewer than the size
    compile_ = lambda f: tf.function(f, jit_compile=True, autograph=False)
    self.forward = compile_(self._forward)
    self.backward = compile_(self._backward)

  def _steps(self, args):
    """(the steps to run or None, the other arguments)."""
    return (args[0], args[1:]) if self.padded else (None, args)

  def _forward(self, *args):
    """([time,] h0, mask, projections..., kernels...) -> (states, z, r, c),
    each [size, batch, u] for projections of `size` steps, of which the
    first `time` (without it, all) are run (r empty without a reset
    gate)."""
    time, (h0, mask, *args) = self._steps(args)
    gates = 3 if self.reset else 2
    projections, kernels = args[:gates], args[gates:]
    size = tf.shape(projections[0])[0]
    time = size if time is None else time
    array = _arrays(h0, size)
    reads = [array().unstack(g) for g in projections]
    u_z, u_c = kernels[0], kernels[-1]

    def step(t, h, hs, zs, rs, cs):
      z = tf.sigmoid(reads[0].read(t) + tf.matmul(h, u_z))
      if self.reset:
        r = tf.sigmoid(reads[1].read(t) + tf.matmul(h, kernels[1]))
        c = tf.tanh(reads[2].read(t) + tf.matmul(r * h, u_c))
        rs = rs.write(t, r)
      else:
        c = tf.tanh(reads[1].read(t) + tf.matmul(h, u_c))
      new = _mix(self.mix, z, h, c)
      if self.masked:
        new = tf.where(mask[t], new, h)
      return t + 1, new, hs.write(t, new), zs.write(t, z), rs, cs.write(t, c)

    _, _, hs, zs, rs, cs = tf.while_loop(
        lambda t, *_: t < time, step,
        (tf.constant(0), h0, array(), array(), array(), array()),
        maximum_iterations=size)
    r_all = rs.stack() if self.reset else tf.zeros([0], h0.dtype)
    return hs.stack(), zs.stack(), r_all, cs.stack()

  def _backward(self, *args):
    """([time,] d_states, h0, mask, states, z, r, c, kernels...) ->
    (dh0, dG_g for each gate, dU_g for each gate), over the first `time`
    (without it, all) of the forward loop's `size` steps (the rest of dG_g
    is zero)."""
    time, (d_states, h0, mask, result, z_all, r_all, c_all, *kernels) = (
        self._steps(args))
    size = tf.shape(result)[0]
    time = size if time is None else time
    dtype = h0.dtype
    array = _arrays(h0, size)
    h_prev = tf.concat([h0[tf.newaxis], result[:-1]], 0)
    hs, zs, cs, ds = (array().unstack(a)
                      for a in (h_prev, z_all, c_all, d_states))
    rs = array().unstack(r_all) if self.reset else None
    transposed = [tf.transpose(k) for k in kernels]

    def back(s, dh, d_kernels, dzs, drs, dcs):
      t = time - 1 - s
      h, z, c = hs.read(t), zs.read(t), cs.read(t)
      dh = dh + ds.read(t)
      if self.masked:
        keep = tf.cast(mask[t], dtype)
        d_new, dh_prev = dh * keep, dh * (1 - keep)
      else:
        d_new, dh_prev = dh, None
      if self.mix == STATE_KEEPS:
        dz, dc, direct = d_new * (h - c), d_new * (1 - z), d_new * z
      else:
        dz, dc, direct = d_new * (c - h), d_new * z, d_new * (1 - z)
      dh_prev = direct if dh_prev is None else dh_prev + direct
      dc_pre = dc * (1 - c * c)
      dz_pre = dz * z * (1 - z)
      d_rh = tf.matmul(dc_pre, transposed[-1])
      dh_prev += tf.matmul(dz_pre, transposed[0])
      if self.reset:
        r = rs.read(t)
        dr_pre = d_rh * h * r * (1 - r)
        dh_prev += d_rh * r + tf.matmul(dr_pre, transposed[1])
        drs = drs.write(t, dr_pre)
        pairs = ((h, dz_pre), (h, dr_pre), (r * h, dc_pre))
      else:
        dh_prev += d_rh
        pairs = ((h, dz_pre), (h, dc_pre))
      d_kernels = [k + tf.matmul(a, d, transpose_a=True)
                   for k, (a, d) in zip(d_kernels, pairs)]
      return (s + 1, dh_prev, d_kernels, dzs.write(t, dz_pre), drs,
              dcs.write(t, dc_pre))

    _, dh0, d_kernels, dzs, drs, dcs = tf.while_loop(
        lambda s, *_: s < time, back,
        (tf.constant(0), tf.zeros_like(h0),
         [tf.zeros_like(k) for k in kernels], array(), array(), array()),
        maximum_iterations=size)
    d_gates = [dzs.stack()] + ([drs.stack()] if self.reset else []) + [
        dcs.stack()]
    return (dh0, *d_gates, *d_kernels)


def _undifferentiated(loop, *args):
  """`loop(*args)`, unseen by any gradient tape.

  A tape that sees a call of a compiled function asks TensorFlow for a
  variant that also returns what the function's own gradient would need:
  for a while loop, TensorLists, which cannot leave an XLA computation.
  A persistent or nested tape sees every call, the gradient's too, and asks
  for the gradient of everything a gradient reads. Neither loop needs
  TensorFlow's gradient (`states` gives the forward loop its own;
  `_no_second_derivative` refuses the backward loop's), so the call runs
  with the tapes stopped (`private_api.py` lists this use) and its
  results are cut off from them.
  """
  stop_recording = getattr(importlib.import_module(_TAPE_MODULE),
                           _STOP_RECORDING)
  with stop_recording():
    results = loop(*args)
  return [tf.stop_gradient(r) for r in results]


def _no_second_derivative(backward):
  """`backward`, refusing with a clear error to be differentiated.

  The fast path's gradient is not itself differentiable, and a tape must
  not read it as a constant. A nested tape asks for the gradient's gradient
  as soon as the gradient is computed, so under one the fast path raises
  then (use the exact mode for second derivatives); a persistent tape does
  not ask, and works.
  """

  @tf.custom_gradient
  def call(*args):
    def refuse(*unused):
      raise NotImplementedError(
          "The GRU layers' fast mode (`mode=\"fast\"`) has no second "
          "derivative (its gradient was taken under a nested GradientTape); "
          "use `mode=\"exact\"` to differentiate a gradient.")
    return _undifferentiated(backward, *args), refuse

  return call


def _arrays(h0, size):
  """A maker of [size, *h0.shape] TensorArrays."""
  return lambda: tf.TensorArray(h0.dtype, size=size, element_shape=h0.shape)


def _mix(mix, z, h, c):
  if mix == STATE_KEEPS:
    return z * h + (1 - z) * c
  return (1 - z) * h + z * c
