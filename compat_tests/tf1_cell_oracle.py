"""Runs the TF1 programs of `compat_tests.tf1_cells` with TensorFlow's own
TF1 GRU and LSTM cells and writes their goldens. A program of its own:

  python -m compat_tests.tf1_cell_oracle --folder DIR CASE [CASE ...]

It sets TF_USE_LEGACY_KERAS=1 before importing TensorFlow, so that
`tf.compat.v1.nn.rnn_cell` is `tf_keras`'s (the TF1 cells); a process that
does so cannot also use Keras 3, hence a subprocess.

Where the cells come from:
  GRUCell, MultiRNNCell, dynamic_rnn, static_rnn, bidirectional_dynamic_rnn:
    TensorFlow's own (tf.compat.v1 with tf_keras).
  GRUBlockCell, GRUBlockCellV2: TF 1.15's contrib classes are gone; `BlockCell`
    creates their variables under TF 1.15's names and runs TensorFlow's own
    fused `GRUBlockCell` op (tf.raw_ops), as TF 1.15's `call` did. The op
    has a float32 kernel only, as in TF 1.15.
  CudnnCompatibleGRUCell: gone with contrib; `CudnnCompatibleGRUCell` below
    is TF 1.15's class (a GRUCell subclass): its variable names and its
    `call`, op for op.
  CudnnGRU: its checkpoints hold the canonical weights under the names of a
    CudnnCompatibleGRUCell stack (`rnn/multi_rnn_cell/cell_<i>/...`, or
    `stack_bidirectional_rnn/cell_<i>/bidirectional_rnn/{fw,bw}/...`) plus
    the layer's `cudnn_gru/opaque_kernel`, the same weights in a
    device-specific layout (CudnnLSTM likewise, `cudnn_lstm/opaque_kernel`
    beside a CudnnCompatibleLSTMCell stack). cuDNN is not available here, so the program is
    the CPU graph TF 1.15 documents for such checkpoints (the compatible
    cells); the opaque buffer is filled with the canonical weights
    concatenated, and is never read by the converter.
  BasicLSTMCell, LSTMCell: TensorFlow's own (tf.compat.v1 with tf_keras).
  LSTMBlockCell, CudnnCompatibleLSTMCell: TF 1.15's contrib classes are
    gone; `LSTMBlockCell` below creates TF 1.15's variables (kernel, bias,
    w_i_diag, w_f_diag, w_o_diag) and runs TensorFlow's own fused
    `LSTMBlockCell` op (tf.raw_ops) with the forget bias, cell clip and
    peephole flag as attributes, as TF 1.15's `call` did; the cuDNN cell is
    TF 1.15's subclass: forget bias 0, named `cudnn_compatible_lstm_cell`.
  LayerNormBasicLSTMCell: gone with contrib; `LayerNormBasicLSTMCell` below
    is TF 1.15's class (tensorflow/contrib/rnn/python/ops/rnn_cell.py) op
    for op, its `_norm` running TF 1.15's `tf.contrib.layers.layer_norm`
    (nn.moments, nn.batch_normalization, epsilon 1e-12) inline.
"""

import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # pylint: disable=g-import-not-at-top,wrong-import-position
import random  # pylint: disable=g-import-not-at-top,wrong-import-position
import warnings  # pylint: disable=g-import-not-at-top,wrong-import-position

import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position
import tensorflow as tf  # pylint: disable=g-import-not-at-top,wrong-import-position

from compat_tests import tf1_cells  # pylint: disable=g-import-not-at-top,wrong-import-position

v1 = tf.compat.v1
warnings.simplefilter("ignore")
GRUCell = v1.nn.rnn_cell.GRUCell


class BlockCell(GRUCell):
  """TF 1.15's GRUBlockCell (names w_ru...) or GRUBlockCellV2 (gates/...):
  their variables, and TensorFlow's own fused GRUBlockCell op."""

  NAMES = {"GRUBlockCell": ("w_ru", "b_ru", "w_c", "b_c"),
           "GRUBlockCellV2": ("gates/kernel", "gates/bias",
                              "candidate/kernel", "candidate/bias")}

  def __init__(self, units, kind, name="gru_cell", **kwargs):
    super().__init__(units, name=name, **kwargs)
    self._names = self.NAMES[kind]

  def build(self, input_shape):
    depth, u = int(input_shape[-1]), self._num_units
    w_ru, b_ru, w_c, b_c = self._names
    self._gate_kernel = self.add_weight(w_ru, shape=[depth + u, 2 * u])
    self._gate_bias = self.add_weight(b_ru, shape=[2 * u])
    self._candidate_kernel = self.add_weight(w_c, shape=[depth + u, u])
    self._candidate_bias = self.add_weight(b_c, shape=[u])
    self.built = True

  def call(self, inputs, state):
    _, _, _, new_h = tf.raw_ops.GRUBlockCell(
        x=inputs, h_prev=state, w_ru=self._gate_kernel,
        w_c=self._candidate_kernel, b_ru=self._gate_bias,
        b_c=self._candidate_bias)
    return new_h, new_h


class CudnnCompatibleGRUCell(GRUCell):
  """TF 1.15's tf.contrib.cudnn_rnn.CudnnCompatibleGRUCell: names and ops."""

  def build(self, input_shape):
    depth, u = int(input_shape[-1]), self._num_units
    self._gate_kernel = self.add_weight("gates/kernel",
                                        shape=[depth + u, 2 * u])
    self._gate_bias = self.add_weight("gates/bias", shape=[2 * u])
    self._candidate_input_kernel = self.add_weight(
        "candidate/input_projection/kernel", shape=[depth, u])
    self._candidate_hidden_kernel = self.add_weight(
        "candidate/hidden_projection/kernel", shape=[u, u])
    self._candidate_input_bias = self.add_weight(
        "candidate/input_projection/bias", shape=[u])
    self._candidate_hidden_bias = self.add_weight(
        "candidate/hidden_projection/bias", shape=[u])
    self.built = True

  def call(self, inputs, state):
    gate_inputs = tf.matmul(tf.concat([inputs, state], 1), self._gate_kernel)
    gate_inputs = tf.nn.bias_add(gate_inputs, self._gate_bias)
    value = tf.sigmoid(gate_inputs)
    r, u = tf.split(value=value, num_or_size_splits=2, axis=1)
    candidate = tf.nn.bias_add(
        tf.matmul(inputs, self._candidate_input_kernel),
        self._candidate_input_bias)
    candidate += r * tf.nn.bias_add(
        tf.matmul(state, self._candidate_hidden_kernel),
        self._candidate_hidden_bias)
    candidate = self._activation(candidate)
    new_h = (1 - u) * candidate + u * state
    return new_h, new_h


LSTMCell = v1.nn.rnn_cell.LSTMCell


class LSTMBlockCell(LSTMCell):
  """TF 1.15's tf.contrib.rnn.LSTMBlockCell: its variables, and TensorFlow's
  own fused LSTMBlockCell op."""

  def __init__(self, units, forget_bias=1.0, cell_clip=None,
               use_peephole=False, name="lstm_cell", **kwargs):
    super().__init__(units, name=name, **kwargs)
    self._block_forget_bias = forget_bias
    self._block_cell_clip = cell_clip if cell_clip is not None else -1
    self._use_peephole = use_peephole

  def build(self, input_shape):
    depth, u = int(input_shape[-1]), self._num_units
    self._kernel = self.add_weight("kernel", shape=[depth + u, 4 * u])
    self._bias = self.add_weight("bias", shape=[4 * u],
                                 initializer=v1.constant_initializer(0.0))
    if self._use_peephole:
      self._w_i_diag = self.add_weight("w_i_diag", shape=[u])
      self._w_f_diag = self.add_weight("w_f_diag", shape=[u])
      self._w_o_diag = self.add_weight("w_o_diag", shape=[u])
    self.built = True

  def call(self, inputs, state):
    cs_prev, h_prev = state
    if self._use_peephole:
      wci, wcf, wco = self._w_i_diag, self._w_f_diag, self._w_o_diag
    else:
      wci = wcf = wco = tf.zeros([self._num_units], dtype=self.dtype)
    _, cs, _, _, _, _, h = tf.raw_ops.LSTMBlockCell(
        x=inputs, cs_prev=cs_prev, h_prev=h_prev, w=self._kernel, wci=wci,
        wcf=wcf, wco=wco, b=self._bias, forget_bias=self._block_forget_bias,
        cell_clip=self._block_cell_clip, use_peephole=self._use_peephole)
    return h, v1.nn.rnn_cell.LSTMStateTuple(cs, h)


class LayerNormBasicLSTMCell(v1.nn.rnn_cell.RNNCell):
  """TF 1.15's tf.contrib.rnn.LayerNormBasicLSTMCell (no dropout)."""

  def __init__(self, num_units, forget_bias=1.0, layer_norm=True,
               norm_gain=1.0, norm_shift=0.0, **kwargs):
    super().__init__(**kwargs)
    self._num_units = num_units
    self._forget_bias = forget_bias
    self._layer_norm = layer_norm
    self._norm_gain = norm_gain
    self._norm_shift = norm_shift

  @property
  def state_size(self):
    return v1.nn.rnn_cell.LSTMStateTuple(self._num_units, self._num_units)

  @property
  def output_size(self):
    return self._num_units

  def _norm(self, inp, scope, dtype=tf.float32):
    shape = inp.get_shape()[-1:]
    gamma_init = v1.constant_initializer(self._norm_gain)
    beta_init = v1.constant_initializer(self._norm_shift)
    with v1.variable_scope(scope):
      # Initialize beta and gamma for use by layer_norm.
      gamma = v1.get_variable("gamma", shape=shape, initializer=gamma_init,
                              dtype=dtype)
      beta = v1.get_variable("beta", shape=shape, initializer=beta_init,
                             dtype=dtype)
      # tf.contrib.layers.layer_norm(inp, reuse=True, scope=scope), TF 1.15.
      mean, variance = v1.nn.moments(inp, [1], keep_dims=True)
      return v1.nn.batch_normalization(inp, mean, variance, offset=beta,
                                       scale=gamma, variance_epsilon=1e-12)

  def _linear(self, args):
    out_size = 4 * self._num_units
    proj_size = args.get_shape()[-1]
    dtype = args.dtype
    weights = v1.get_variable("kernel", [proj_size, out_size], dtype=dtype)
    out = tf.matmul(args, weights)
    if not self._layer_norm:
      bias = v1.get_variable("bias", [out_size], dtype=dtype)
      out = tf.nn.bias_add(out, bias)
    return out

  def call(self, inputs, state):
    c, h = state
    args = tf.concat([inputs, h], 1)
    concat = self._linear(args)
    dtype = args.dtype
    i, j, f, o = tf.split(value=concat, num_or_size_splits=4, axis=1)
    if self._layer_norm:
      i = self._norm(i, "input", dtype=dtype)
      j = self._norm(j, "transform", dtype=dtype)
      f = self._norm(f, "forget", dtype=dtype)
      o = self._norm(o, "output", dtype=dtype)
    g = tf.tanh(j)
    new_c = (c * tf.sigmoid(f + self._forget_bias) + tf.sigmoid(i) * g)
    if self._layer_norm:
      new_c = self._norm(new_c, "state", dtype=dtype)
    new_h = tf.tanh(new_c) * tf.sigmoid(o)
    new_state = v1.nn.rnn_cell.LSTMStateTuple(new_c, new_h)
    return new_h, new_state


def _lstm_cell(case, units, dtype):
  """The case's TF1 LSTM cell, with its arguments (None: TF's default)."""
  given = {k: v for k, v in (("forget_bias", case.forget_bias),) if
           v is not None}
  if case.cell == "BasicLSTMCell":
    return v1.nn.rnn_cell.BasicLSTMCell(units, name=case.cell_name,
                                        dtype=dtype, **given)
  if case.cell == "LSTMCell":
    return LSTMCell(units, use_peepholes=case.use_peepholes,
                    cell_clip=case.cell_clip, num_proj=case.num_proj,
                    proj_clip=case.proj_clip, name=case.cell_name,
                    dtype=dtype, **given)
  if case.cell == "LayerNormBasicLSTMCell":
    return LayerNormBasicLSTMCell(units, dtype=dtype, **given)
  if case.cell == "LSTMBlockCell":
    return LSTMBlockCell(units, cell_clip=case.cell_clip,
                         use_peephole=case.use_peepholes, dtype=dtype,
                         **given)
  assert case.cell == "CudnnCompatibleLSTMCell", case.cell
  return LSTMBlockCell(units, forget_bias=0.0,
                       name="cudnn_compatible_lstm_cell", dtype=dtype)


def _cell(case, units, dtype):
  if case.lstm:
    return _lstm_cell(case, units, dtype)
  if case.cell == "GRUCell":
    return GRUCell(units, name=case.cell_name, dtype=dtype)
  if case.cell in BlockCell.NAMES:
    return BlockCell(units, case.cell, dtype=dtype)
  return CudnnCompatibleGRUCell(units, dtype=dtype)


def _rnn(case, x, lengths, dtype):
  """The case's RNN over x: its [batch, time, width] outputs."""
  new = lambda units: _cell(case, units, dtype)  # pylint: disable=unnecessary-lambda-assignment
  w = case.wiring
  if w == tf1_cells.DYNAMIC:
    return v1.nn.dynamic_rnn(new(case.units[0]), x, sequence_length=lengths,
                             dtype=dtype, scope=case.rnn_scope)[0]
  if w == tf1_cells.MULTI:
    cell = v1.nn.rnn_cell.MultiRNNCell([new(u) for u in case.units])
    return v1.nn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=dtype,
                             scope=case.rnn_scope)[0]
  if w == tf1_cells.STATIC:
    outputs, _ = v1.nn.static_rnn(new(case.units[0]), tf.unstack(x, axis=1),
                                  sequence_length=lengths, dtype=dtype,
                                  scope=case.rnn_scope)
    return tf.stack(outputs, axis=1)
  if w in (tf1_cells.BIDIRECTIONAL, tf1_cells.BI_MULTI):
    if w == tf1_cells.BIDIRECTIONAL:
      fw, bw = new(case.units[0]), new(case.units[0])
    else:
      fw, bw = (v1.nn.rnn_cell.MultiRNNCell([new(u) for u in case.units])
                for _ in range(2))
    outputs, _ = v1.nn.bidirectional_dynamic_rnn(
        fw, bw, x, sequence_length=lengths, dtype=dtype, scope=case.rnn_scope)
    return tf.concat(outputs, 2)
  # tf.contrib.rnn.stack_bidirectional_dynamic_rnn, as TF 1.15 wrote it.
  assert w == tf1_cells.STACK_BI, w
  layer = x
  with v1.variable_scope(case.rnn_scope or "stack_bidirectional_rnn"):
    for i, units in enumerate(case.units):
      with v1.variable_scope(f"cell_{i}"):
        outputs, _ = v1.nn.bidirectional_dynamic_rnn(
            new(units), new(units), layer, sequence_length=lengths,
            dtype=dtype)
        layer = tf.concat(outputs, 2)
  return layer


def _graph(case, with_lengths):
  """(graph, x, lengths or None, outputs, train op or None)."""
  dtype = tf.as_dtype(case.dtype)
  # tf_keras's cells draw their initializers' seeds from Python's `random`,
  # and the graph (its `.meta`) holds them: seeded, a rerun writes the same
  # bytes.
  random.seed(0)
  graph = tf.Graph()
  with graph.as_default():
    v1.set_random_seed(0)
    time = tf1_cells.TIME if case.wiring == tf1_cells.STATIC else None
    x = v1.placeholder(dtype, (None, time, tf1_cells.INPUT), name="x")
    lengths = (v1.placeholder(tf.int32, (None,), name="lengths")
               if with_lengths else None)
    with v1.variable_scope(case.scope or v1.get_variable_scope()):
      outputs = _rnn(case, x, lengths, dtype)
      if case.cudnn:
        size = sum(int(np.prod(v.shape)) for v in v1.global_variables())
        v1.get_variable("cudnn_lstm/opaque_kernel" if case.lstm else
                        "cudnn_gru/opaque_kernel", (size,), dtype)
      train = None
      if case.extra_layer:
        head = v1.layers.dense(outputs, 2, name="head")
    if case.adam:
      step = v1.train.get_or_create_global_step()
      loss = tf.reduce_mean(tf.square(head))
      with v1.variable_scope("train"):
        train = v1.train.AdamOptimizer(0.05).minimize(loss, global_step=step)
  return graph, x, lengths, outputs, train


def _values(graph, seed):
  """Seeded random values for every model variable (gates biases
  included), and the opaque buffer as the canonical weights concatenated.
  Optimizer state starts as TF1 makes it."""
  rng = np.random.RandomState(seed)
  values = {}
  with graph.as_default():
    variables = v1.trainable_variables()
  for v in variables:
    if "opaque_kernel" not in v.name:
      values[v] = rng.uniform(-0.6, 0.6, v.shape).astype(
          v.dtype.base_dtype.as_numpy_dtype)
  for v in variables:
    if "opaque_kernel" in v.name:
      values[v] = np.concatenate([a.ravel() for a in values.values()])
  return values


def write(name, folder, meta=False):
  """Runs case `name` into `folder`/<name>/; `meta`: also the Saver's
  `.meta` (the program's graph), which the goldens do not keep."""
  case = tf1_cells.ALL_CASES[name]
  out = os.path.join(folder, name)
  os.makedirs(out, exist_ok=True)
  prefix = os.path.join(out, tf1_cells.CHECKPOINT)
  rng = np.random.RandomState(1)
  x = rng.uniform(-1, 1, (tf1_cells.BATCH, tf1_cells.TIME,
                          tf1_cells.INPUT)).astype(case.dtype)
  lengths = np.array(tf1_cells.LENGTHS, np.int32)
  graph, x_t, _, outputs_t, train = _graph(case, with_lengths=False)
  with v1.Session(graph=graph) as sess:
    with graph.as_default():
      sess.run(v1.global_variables_initializer())
      seeds = tf1_cells.LSTM_CASES if case.lstm else tf1_cells.CASES
      for v, value in _values(graph, seed=sorted(seeds).index(name)).items():
        v.load(value, sess)
      for _ in range(tf1_cells.STEPS if train is not None else 0):
        sess.run(train, {x_t: x})
      outputs = sess.run(outputs_t, {x_t: x})
      v1.train.Saver().save(sess, prefix, write_meta_graph=meta,
                            write_state=False)
  graph, x_t, lengths_t, outputs_t, _ = _graph(case, with_lengths=True)
  with v1.Session(graph=graph) as sess:
    with graph.as_default():
      v1.train.Saver().restore(sess, prefix)
      with_lengths = sess.run(outputs_t, {x_t: x, lengths_t: lengths})
  np.savez(os.path.join(out, tf1_cells.OUTPUTS), x=x, lengths=lengths,
           outputs=outputs, outputs_with_lengths=with_lengths)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--folder", required=True)
  parser.add_argument("--meta", action="store_true",
                      help="also write each program's .meta")
  parser.add_argument("cases", nargs="+",
                      choices=sorted(tf1_cells.ALL_CASES))
  args = parser.parse_args()
  for name in args.cases:
    write(name, args.folder, meta=args.meta)


if __name__ == "__main__":
  main()
