"""Runs the TF1 programs of `compat_tests.tf1_cells` with TensorFlow's own
TF1 GRU cells and writes their goldens. A program of its own:

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
    device-specific layout. cuDNN is not available here, so the program is
    the CPU graph TF 1.15 documents for such checkpoints (the compatible
    cells); the opaque buffer is filled with the canonical weights
    concatenated, and is never read by the converter.
"""

import os

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse  # pylint: disable=g-import-not-at-top,wrong-import-position
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


def _cell(case, units, dtype):
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
  graph = tf.Graph()
  with graph.as_default():
    v1.set_random_seed(0)
    time = tf1_cells.TIME if case.wiring == tf1_cells.STATIC else None
    x = v1.placeholder(dtype, (None, time, tf1_cells.INPUT), name="x")
    lengths = (v1.placeholder(tf.int32, (None,), name="lengths")
               if with_lengths else None)
    with v1.variable_scope(case.scope or v1.get_variable_scope()):
      outputs = _rnn(case, x, lengths, dtype)
      if case.cudnn_gru:
        size = sum(int(np.prod(v.shape)) for v in v1.global_variables())
        v1.get_variable("cudnn_gru/opaque_kernel", (size,), dtype)
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
  case = tf1_cells.CASES[name]
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
      for v, value in _values(graph, seed=sorted(tf1_cells.CASES).index(name)
                              ).items():
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
  parser.add_argument("cases", nargs="+", choices=sorted(tf1_cells.CASES))
  args = parser.parse_args()
  for name in args.cases:
    write(name, args.folder, meta=args.meta)


if __name__ == "__main__":
  main()
