"""The GRU layers' fast training path: the whole sequence as one function
with its own gradient.

Backpropagation through `tf.while_loop` computes every step's weight
gradients as small matmuls and sums them, yet only the state gradient is
sequential. Here (as cuDNN and oneDNN do):

    forward    X_g = [x 1] @ [W_g; b_g] per gate g, one matmul over all
               steps (outside the loop, so autodiff makes its gradients,
               the bias's included, one matmul each); per step
               z = sigmoid(X_z + h Uz), r = sigmoid(X_r + h Ur),
               c = tanh(X_c + (r h) Uc), h' mixed from h and c; the loop
               keeps what the backward pass reads: h, z, r, c
    backward   per step only the gate gradients and dh_{t-1} (one matmul
               per gate, by U_g^T); after the loop
               dU_z = H_prev^T dZ, dU_r = H_prev^T dR, dU_c = (R H_prev)^T
               dC, one matmul each over every step

The two seeds differ in how the state mixes (`STATE_KEEPS`: the tutorial's
h' = z h + (1 - z) c; `CANDIDATE_TAKES`: the Data Blogger's
h' = (1 - z) h + z c) and the tutorial's variant has no reset gate (r = 1).
A mask keeps the state at masked steps. The layers' outputs are the states
gated by the mask (`recurrent.GRULayer`), so this function only maps the
projected inputs to the states.

The sums run in another order than the legacy graph's, so this path is
within `tolerances.FAST_PATH` of the exact one, not bitwise.
"""

import tensorflow as tf

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
  reset = len(projections) == 3
  keep_mask = mask is not None
  if mask is None:
    mask = tf.zeros([0, 0, 1], tf.bool)

  @tf.custom_gradient
  def run(h0, *args):
    gates, kernels = args[:len(projections)], args[len(projections):]
    time = tf.shape(gates[0])[0]
    dtype = h0.dtype

    def array():
      return tf.TensorArray(dtype, size=time, element_shape=h0.shape)

    reads = [array().unstack(g) for g in gates]
    u_z, u_c = kernels[0], kernels[-1]

    def step(t, h, hs, zs, rs, cs):
      z = tf.sigmoid(reads[0].read(t) + tf.matmul(h, u_z))
      if reset:
        r = tf.sigmoid(reads[1].read(t) + tf.matmul(h, kernels[1]))
        c = tf.tanh(reads[2].read(t) + tf.matmul(r * h, u_c))
        rs = rs.write(t, r)
      else:
        c = tf.tanh(reads[1].read(t) + tf.matmul(h, u_c))
      new = _mix(mix, z, h, c)
      if keep_mask:
        new = tf.where(mask[t], new, h)
      return t + 1, new, hs.write(t, new), zs.write(t, z), rs, cs.write(t, c)

    _, _, hs, zs, rs, cs = tf.while_loop(
        lambda t, *_: t < time, step,
        (tf.constant(0), h0, array(), array(), array(), array()),
        maximum_iterations=time)
    result = hs.stack()

    def grad(d_states):
      h_prev = tf.concat([h0[tf.newaxis], result[:-1]], 0)
      h_arr = array().unstack(h_prev)
      d_arr = array().unstack(d_states)
      transposed = [tf.transpose(k) for k in kernels]

      def back(s, dh, dzs, drs, dcs):
        t = time - 1 - s
        h, z, c = h_arr.read(t), zs.read(t), cs.read(t)
        dh = dh + d_arr.read(t)
        if keep_mask:
          keep = tf.cast(mask[t], dtype)
          d_new, dh_prev = dh * keep, dh * (1 - keep)
        else:
          d_new, dh_prev = dh, None
        if mix == STATE_KEEPS:
          dz, dc, direct = d_new * (h - c), d_new * (1 - z), d_new * z
        else:
          dz, dc, direct = d_new * (c - h), d_new * z, d_new * (1 - z)
        dh_prev = direct if dh_prev is None else dh_prev + direct
        dc_pre = dc * (1 - c * c)
        dz_pre = dz * z * (1 - z)
        d_rh = tf.matmul(dc_pre, transposed[-1])
        dh_prev += tf.matmul(dz_pre, transposed[0])
        if reset:
          r = rs.read(t)
          dr_pre = d_rh * h * r * (1 - r)
          dh_prev += d_rh * r + tf.matmul(dr_pre, transposed[1])
          drs = drs.write(t, dr_pre)
        else:
          dh_prev += d_rh
        return s + 1, dh_prev, dzs.write(t, dz_pre), drs, dcs.write(t, dc_pre)

      _, dh0, dzs, drs, dcs = tf.while_loop(
          lambda s, *_: s < time, back,
          (tf.constant(0), tf.zeros_like(h0), array(), array(), array()),
          maximum_iterations=time)
      d_gates = [dzs.stack()] + ([drs.stack()] if reset else []) + [
          dcs.stack()]
      flat = lambda a: tf.reshape(a, [-1, a.shape[-1]])
      h_flat = flat(h_prev)
      d_kernels = [tf.matmul(h_flat, flat(d), transpose_a=True)
                   for d in d_gates[:-1]]
      rh = flat(rs.stack() * h_prev) if reset else h_flat
      d_kernels.append(tf.matmul(rh, flat(d_gates[-1]), transpose_a=True))
      return (dh0, *d_gates, *d_kernels)

    return result, grad

  return run(h0, *projections, *recurrent)


def _mix(mix, z, h, c):
  if mix == STATE_KEEPS:
    return z * h + (1 - z) * c
  return (1 - z) * h + z * c
