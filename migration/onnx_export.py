"""Converted models as ONNX graphs, built with the `onnx` package.

The graph follows the description: each component's kind emits its nodes
(`Kind.onnx`) from the stock Keras model the same weights convert into, so
every weight reaches ONNX through the kinds' mapping tables. The helpers
here are the nodes kinds share:

    recurrent   a Keras GRU layer (or Bidirectional, or a stack of cells) as
                ONNX's own `GRU` operator: gate order z, r, h (Keras's);
                `linear_before_reset` 0 for reset-before GRUs, 1 for
                reset-after; `direction` "bidirectional" for a BiGRU,
                "reverse" for the backward stack of MultiRNNCells. An LSTM
                layer (stock Keras, or `tf2.TF1LSTMCell` with peepholes) as
                ONNX's `LSTM` operator: gate order i, o, f, c, the forget
                bias folded into B, the peepholes as P
    dense       `MatMul` and `Add`
    mean_over_time, gather   `ReduceMean` over time, `Gather`

    input  x               [batch, time, input_dim]  (both dynamic)
    input  sequence_lens   [batch] int32, for kinds that take lengths
                           (TF1 cells: masked; the tutorial BiGRU: its
                           backward input reversed within them),
                           optional: a default [2**31 - 1] stands for
                           "every step"
    output <component>     each component's output, by its name ("gru",
                           "rnn", "head")

Where ONNX's GRU and LSTM operators cannot compute a layer in onnxruntime
(`needs_scan`: float64, which onnxruntime's kernels lack; the tutorial GRU
without a reset gate; an LSTM's projection, cell clipping or layer norm),
it is a `Scan` of the cell's step in primitive ops instead
(`onnx_program.scan`), the reverse direction over each sequence reversed
within its length, as those operators read `sequence_lens`.

`onnx` and `onnxruntime` are optional (`pip install '.[onnx]'`); they are
imported when a function here runs.
"""

import numpy as np

from migration import description as description_lib
from migration import errors

OPSET = 17
IR_VERSION = 8
SUFFIX = ".onnx"
INPUT = "x"
LENGTHS = "sequence_lens"
ALL_STEPS = np.iinfo(np.int32).max
# The stock Keras GRU's weights as inputs of ONNX's GRU operator, one
# direction each. Keras's gate order [z, r, h] is ONNX's, so every gate
# block keeps its index: ONNX holds the kernels transposed, and one bias
# [input bias; recurrent bias] of 6u.
#   Keras weight        ONNX input   shape in ONNX (per direction)
ONNX_GRU = (
    ("kernel", "W"),            # [3u, input]       = kernel.T
    ("recurrent_kernel", "R"),  # [3u, u]           = recurrent_kernel.T
    ("bias", "B"),              # [6u]: bias, then zeros (reset_after=False)
)                               #   or bias[0], bias[1] (reset_after=True)
# Where ONNX's LSTM gate blocks i, o, f, c come from: the blocks of a stock
# Keras LSTMCell (i, f, c, o) and of TF1's kernel (i, j, f, o).
ONNX_LSTM_FROM_KERAS = (0, 3, 1, 2)
ONNX_LSTM_FROM_TF1 = (0, 3, 2, 1)
_ONNX_MISSING = ("ONNX export needs the onnx and onnxruntime packages: "
                 "pip install '.[onnx]'")


class OnnxError(errors.ConversionError):
  """A model ONNX cannot express exactly, or no onnx package."""


def _onnx():
  try:
    import onnx  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise OnnxError(_ONNX_MISSING) from e
  except AttributeError as e:
    # onnx 1.19 and later use ml_dtypes 0.5's types without requiring that
    # version; TensorFlow 2.16 and 2.17 pin older ml_dtypes.
    if "ml_dtypes" not in str(e):
      raise
    import ml_dtypes  # pylint: disable=g-import-not-at-top
    raise OnnxError(
        f"the installed onnx cannot load with ml_dtypes "
        f"{ml_dtypes.__version__} ({e}); onnx 1.19 and later need "
        "ml_dtypes >= 0.5, which TensorFlow 2.16 and 2.17 do not allow: "
        "pip install 'onnx<1.19'") from e
  return onnx


def check_exportable(description):
  """Raises OnnxError naming why `description` has no exact ONNX graph."""
  for component in description.components:
    reason = description_lib.kind_of(component).check_onnx(component)
    if reason:
      raise OnnxError(reason)


def output_names(description):
  return list(description.output_names())


def takes_lengths(description):
  return any(description_lib.kind_of(c).onnx_lengths(c)
             for c in description.components)


class Graph:
  """Nodes and initializers with fresh names, and the nodes kinds share."""

  def __init__(self, onnx, parent=None):
    self.onnx = onnx
    self.nodes = []
    # A subgraph (a `Scan` body) shares its parent's names and
    # initializers: ONNX lets a body read the outer graph's values.
    self.initializers = parent.initializers if parent else []
    self._counter = parent._counter if parent else [0]  # pylint: disable=protected-access

  def subgraph(self):
    return Graph(self.onnx, parent=self)

  def name(self, stem):
    self._counter[0] += 1
    return f"{stem}_{self._counter[0]}"

  def op_outputs(self, op_type, inputs, count, stem=None, **attributes):
    """An op with `count` outputs; returns their names."""
    stem = stem or op_type.lower()
    outs = [self.name(stem) for _ in range(count)]
    self.nodes.append(self.onnx.helper.make_node(
        op_type, inputs, outs, name=outs[0], **attributes))
    return outs

  def constant(self, stem, array):
    name = self.name(stem)
    array = np.asarray(array)   # a scalar stays a scalar
    self.initializers.append(self.onnx.numpy_helper.from_array(
        np.ascontiguousarray(array) if array.ndim else array, name))
    return name

  def op(self, op_type, inputs, stem=None, **attributes):
    out = self.name(stem or op_type.lower())
    self.nodes.append(self.onnx.helper.make_node(
        op_type, inputs, [out], name=out, **attributes))
    return out

  def dense(self, layer, x):
    """A linear Keras Dense layer on x's last axis."""
    import keras  # pylint: disable=g-import-not-at-top
    if layer.activation is not keras.activations.linear:
      raise OnnxError(f"layer {layer.name!r}: the converter's dense layers "
                      "are linear")
    kernel, bias = (np.asarray(w.numpy()) for w in layer.weights)
    y = self.op("MatMul", [x, self.constant(f"{layer.name}_kernel", kernel)])
    return self.op("Add", [y, self.constant(f"{layer.name}_bias", bias)])

  def mean_over_time(self, x):
    """[batch, time, width] -> [batch, width]."""
    return self.op("ReduceMean", [x], axes=[1], keepdims=0)

  def gather(self, layer, ids):
    """A Keras Embedding layer on int ids [batch, time]."""
    table = np.asarray(layer.weights[0].numpy())
    return self.op("Gather", [self.constant(f"{layer.name}_embeddings",
                                            table), ids])

  def recurrent(self, layer, x, lengths):
    """One recurrent Keras layer of a converted stock-Keras model on x
    [batch, time, in]; returns [batch, time, width]."""
    import keras  # pylint: disable=g-import-not-at-top
    x = self.op("Transpose", [x], perm=[1, 0, 2])
    if isinstance(layer, keras.layers.Bidirectional):
      if layer.merge_mode != "concat":
        raise OnnxError(f"layer {layer.name!r}: merge_mode "
                        f"{layer.merge_mode!r}; the converter writes "
                        "'concat'")
      forward = _cells_of(layer.forward_layer)
      backward = _cells_of(layer.backward_layer)
      if len(forward) == 1:
        y = self._both_directions(self._cell_op(
            x, forward + backward, "bidirectional", lengths))
      else:
        # MultiRNNCells in a bidirectional RNN: each direction is a stack,
        # the backward one run over the reversed steps (ONNX's "reverse").
        outputs = []
        for cells, direction in ((forward, "forward"), (backward,
                                                        "reverse")):
          y = x
          for cell in cells:
            y = self._one_direction(self._cell_op(y, [cell], direction,
                                                  lengths))
          outputs.append(y)
        y = self.op("Concat", outputs, axis=-1)
    elif isinstance(layer, keras.layers.RNN):
      if layer.go_backwards or not layer.return_sequences:
        raise OnnxError(f"layer {layer.name!r}: a standalone backward or "
                        "last-step-only RNN is not what the converter writes")
      y = x
      for cell in _cells_of(layer):
        y = self._one_direction(self._cell_op(y, [cell], "forward",
                                              lengths))
    else:
      raise OnnxError(f"layer {layer.name!r} ({type(layer).__name__}) is "
                      "not a recurrent layer the converter writes")
    return self.op("Transpose", [y], perm=[1, 0, 2])

  def reversed_within_lengths(self, layer, x, lengths):
    """A Bidirectional layer as the tutorial's BiGRU computes it with
    lengths: the forward GRU over every step; the backward one over each
    row reversed within its length (ONNX's `ReverseSequence`), every step
    run, unmasked, its outputs reversed back the same way; concatenated on
    features. x [batch, time, in] -> [batch, time, 2u]."""
    from migration import onnx_program  # pylint: disable=g-import-not-at-top
    e = onnx_program.Emitter(self.onnx, self)
    cells = (layer.forward_layer.cell, layer.backward_layer.cell)
    dtype = np.dtype(cells[0].dtype).name
    time_major = self.op("Transpose", [x], perm=[1, 0, 2])
    lengths = self.op("Cast", [lengths], to=self.onnx.TensorProto.INT64)
    forward, _ = onnx_program.scan(e, cells[0], time_major, dtype, 0)
    flipped = self.op("ReverseSequence", [time_major, lengths], batch_axis=1,
                      time_axis=0)
    backward, _ = onnx_program.scan(e, cells[1], flipped, dtype, 0)
    backward = self.op("ReverseSequence", [backward, lengths], batch_axis=1,
                       time_axis=0)
    both = self.op("Concat", [forward, backward], axis=-1)
    return self.op("Transpose", [both], perm=[1, 0, 2])

  def _cell_op(self, x, cells, direction, lengths):
    """ONNX's GRU or LSTM operator, as the cells are GRU or LSTM cells; a
    `Scan` of the cell's step in primitive ops where those operators
    cannot compute it (`needs_scan`)."""
    if needs_scan(cells[0]):
      return self._scan(x, cells, direction, lengths)
    if hasattr(cells[0], "reset_after"):
      return self._gru(x, cells, direction, lengths)
    return self._lstm(x, cells, direction, lengths)

  def _scan(self, x, cells, direction, lengths):
    """What `_cell_op`'s operator returns, [time, directions, batch,
    units], from `onnx_program.scan` per direction: the reverse direction
    over each sequence reversed within its length (ONNX's GRU's meaning of
    `sequence_lens`), steps past a length masked (zero outputs, state
    kept)."""
    from migration import onnx_program  # pylint: disable=g-import-not-at-top
    e = onnx_program.Emitter(self.onnx, self)
    dtype = np.dtype(cells[0].dtype).name
    mask = lengths64 = None
    if lengths:
      time = self.op("Squeeze", [self.op("Slice", [
          self.op("Shape", [x]), e.ints([0]), e.ints([1])]), e.ints([0])])
      steps = self.op("Range", [e.const(0, np.int64), time,
                                e.const(1, np.int64)])
      lengths64 = self.op("Cast", [lengths], to=self.onnx.TensorProto.INT64)
      mask = self.op("Less", [self.op("Unsqueeze", [steps, e.ints([1])]),
                              self.op("Unsqueeze", [lengths64,
                                                    e.ints([0])])])
    directions = (["forward", "reverse"] if direction == "bidirectional"
                  else [direction])
    outputs = []
    for cell, way in zip(cells, directions):
      if way == "forward":
        y, _ = onnx_program.scan(e, cell, x, dtype, 0, mask=mask)
      elif lengths is None:
        y, _ = onnx_program.scan(e, cell, x, dtype, 0, backwards=True,
                                 time_order=True)
      else:
        flipped = self.op("ReverseSequence", [x, lengths64], batch_axis=1,
                          time_axis=0)
        y, _ = onnx_program.scan(e, cell, flipped, dtype, 0, mask=mask)
        y = self.op("ReverseSequence", [y, lengths64], batch_axis=1,
                    time_axis=0)
      outputs.append(self.op("Unsqueeze", [y, e.ints([1])]))
    return outputs[0] if len(outputs) == 1 else self.op(
        "Concat", outputs, axis=1)

  def _lstm(self, x, cells, direction, lengths):
    """ONNX LSTM over time-major x [time, batch, in] with `cells` (one per
    direction); returns its Y [time, directions, batch, units]."""
    arrays = [_lstm_arrays(c) for c in cells]
    w, r, b = (np.stack([a[k] for a in arrays]) for k in ("W", "R", "B"))
    name = cells[0].name
    inputs = [x, self.constant(f"{name}_W", w), self.constant(f"{name}_R", r),
              self.constant(f"{name}_B", b), lengths or "", "", ""]
    if "P" in arrays[0]:
      inputs.append(self.constant(f"{name}_P", np.stack(
          [a["P"] for a in arrays])))
    return self.op("LSTM", inputs, stem="lstm",
                   hidden_size=int(cells[0].units), direction=direction)

  def _gru(self, x, cells, direction, lengths):
    """ONNX GRU over time-major x [time, batch, in] with `cells` (one per
    direction); returns its Y [time, directions, batch, units]."""
    reset_after = {bool(c.reset_after) for c in cells}
    if len(reset_after) != 1:
      raise OnnxError("a bidirectional layer mixes reset_after settings")
    w, r, b = (np.stack(a) for a in zip(*(_cell_arrays(c) for c in cells)))
    name = cells[0].name
    return self.op(
        "GRU", [x, self.constant(f"{name}_W", w), self.constant(
            f"{name}_R", r), self.constant(f"{name}_B", b), lengths or ""],
        stem="gru", hidden_size=int(cells[0].units), direction=direction,
        linear_before_reset=int(reset_after.pop()))

  def _one_direction(self, y):
    """[time, 1, batch, u] -> [time, batch, u]."""
    return self.op("Squeeze", [y, self.constant("axes", np.array(
        [1], np.int64))])

  def _both_directions(self, y):
    """[time, 2, batch, u] -> [time, batch, 2u] (forward, then backward)."""
    y = self.op("Transpose", [y], perm=[0, 2, 1, 3])
    return self.op("Reshape", [y, self.constant("shape", np.array(
        [0, 0, -1], np.int64))])


def needs_scan(cell):
  """Whether ONNX's own GRU/LSTM operator cannot compute `cell` in
  onnxruntime: float64 (no double kernel), or a cell those operators do not
  have (the tutorial GRU without its reset gate, in its TF2 layer; an
  LSTM's projection, cell clipping or layer norm)."""
  if np.dtype(cell.dtype) != np.float32:
    return True
  if type(cell).__name__ == "TF1LSTMCell":
    # ONNX's LSTM has peepholes, but no projection or layer norm, and its
    # `clip` clips the gates, not the cell state.
    return bool(cell.num_proj is not None or cell.cell_clip is not None or
                cell.layer_norm)
  return type(cell).__name__ not in ("GRUCell", "LSTMCell")


def _check_stock_cell(cell, operator):
  """Refuses a stock Keras cell that ONNX's `operator` (GRU, LSTM), with
  its default activations, does not compute."""
  for field, value in (("activation", "tanh"),
                       ("recurrent_activation", "sigmoid")):
    got = getattr(getattr(cell, field), "__name__", None)
    if got != value:
      raise OnnxError(f"layer {cell.name!r}: {field} is {got!r}; ONNX's "
                      f"{operator} here computes {value!r}")
  if not cell.use_bias:
    raise OnnxError(f"layer {cell.name!r}: use_bias=False")


def _cell_arrays(cell):
  """(W, R, B) of one direction from a stock Keras GRUCell, per
  `ONNX_GRU`."""
  _check_stock_cell(cell, "GRU")
  weights = {w.name: np.asarray(w.numpy()) for w in cell.weights}
  arrays = {}
  for keras_name, onnx_name in ONNX_GRU:
    value = weights[keras_name]
    if onnx_name == "B":
      value = (value.reshape(-1) if cell.reset_after else
               np.concatenate([value, np.zeros_like(value)]))
    else:
      value = value.T
    arrays[onnx_name] = value
  return arrays["W"], arrays["R"], arrays["B"]


def _lstm_arrays(cell):
  """{"W", "R", "B"[, "P"]} of one direction, in ONNX's gate order, from a
  stock Keras LSTMCell or a `tf2.TF1LSTMCell` (its forget bias folded into
  B, its peepholes as P: i, o, f)."""
  units = int(cell.units)

  def blocks(array, order):
    return np.concatenate([array[..., k * units:(k + 1) * units]
                           for k in order], axis=-1)

  weights = {w.name: np.asarray(w.numpy()) for w in cell.weights}
  if hasattr(cell, "forget_bias"):    # tf2.TF1LSTMCell
    if cell.num_proj is not None or cell.cell_clip is not None:
      raise OnnxError(f"layer {cell.name!r}: ONNX's LSTM has no projection "
                      "and clips gates, not the cell state")
    kernel, bias = weights["kernel"], weights["bias"].copy()
    f = slice(2 * units, 3 * units)
    bias[f] = bias[f] + bias.dtype.type(cell.forget_bias)
    input_dim = kernel.shape[0] - units
    arrays = {"W": blocks(kernel[:input_dim], ONNX_LSTM_FROM_TF1).T,
              "R": blocks(kernel[input_dim:], ONNX_LSTM_FROM_TF1).T,
              "B": np.concatenate([blocks(bias, ONNX_LSTM_FROM_TF1),
                                   np.zeros_like(bias)])}
    if cell.use_peepholes:
      arrays["P"] = np.concatenate([weights["w_i_diag"], weights["w_o_diag"],
                                    weights["w_f_diag"]])
    return arrays
  _check_stock_cell(cell, "LSTM")
  bias = blocks(weights["bias"], ONNX_LSTM_FROM_KERAS)
  return {"W": blocks(weights["kernel"], ONNX_LSTM_FROM_KERAS).T,
          "R": blocks(weights["recurrent_kernel"], ONNX_LSTM_FROM_KERAS).T,
          "B": np.concatenate([bias, np.zeros_like(bias)])}


def _cells_of(rnn):
  return list(getattr(rnn.cell, "cells", [rnn.cell]))


def from_keras_model(model, description, doc=""):
  """The ONNX model of a converted stock-Keras `model` of `description`
  (built by `models.build(description, "keras")`), checked by
  `onnx.checker`.

  Raises:
    OnnxError: `description` has no exact ONNX graph (`check_exportable`),
      or a layer is not one the converter writes.
  """
  check_exportable(description)
  onnx = _onnx()
  helper = onnx.helper
  elem = helper.np_dtype_to_tensor_dtype(np.dtype(description.dtype))
  graph = Graph(onnx)
  first = description.inputs[0]
  inputs = [helper.make_tensor_value_info(
      INPUT, elem if first.features is not None else
      helper.np_dtype_to_tensor_dtype(np.dtype(first.dtype)),
      ["batch", "time"] + ([first.features] if first.features else []))]
  values = {first.name: INPUT}
  lengths = None
  if takes_lengths(description):
    inputs.append(helper.make_tensor_value_info(
        LENGTHS, onnx.TensorProto.INT32, ["lengths"]))
    graph.initializers.append(onnx.numpy_helper.from_array(
        np.array([ALL_STEPS], np.int32), LENGTHS))
    shape = graph.op("Cast", [graph.op("Shape", [INPUT])],
                     to=onnx.TensorProto.INT32)
    batch = graph.op("Slice", [shape, graph.constant("start", np.array(
        [0], np.int64)), graph.constant("end", np.array([1], np.int64))])
    time = graph.op("Slice", [shape, graph.constant("start", np.array(
        [1], np.int64)), graph.constant("end", np.array([2], np.int64))])
    widened = graph.op("Expand", [LENGTHS, graph.op(
        "Cast", [batch], to=onnx.TensorProto.INT64)])
    lengths = graph.op("Min", [widened, time], stem="lengths")
  value_infos = []
  for component in description.components:
    kind = description_lib.kind_of(component)
    out = kind.onnx(graph, component, model, values[component.wiring.source],
                    lengths)
    values[component.name] = out
    graph.nodes.append(helper.make_node("Identity", [out], [component.name]))
    shape = (["batch", "time", component.width] if kind.keeps_time else
             ["batch", component.width])
    value_infos.append(helper.make_tensor_value_info(component.name, elem,
                                                     shape))
  onnx_graph = helper.make_graph(graph.nodes, model.name, inputs, value_infos,
                                 graph.initializers)
  result = helper.make_model(
      onnx_graph, opset_imports=[helper.make_opsetid("", OPSET)],
      producer_name="tf1-gru-migration", doc_string=doc)
  result.ir_version = IR_VERSION
  helper.set_model_props(result, {"keras_model_name": model.name,
                                  "legacy_model": description.describe()})
  onnx.checker.check_model(result, full_check=True)
  return result


def session(model_bytes):
  """An onnxruntime CPU session of an ONNX model, its logging quiet."""
  try:
    import onnxruntime  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise OnnxError(_ONNX_MISSING) from e
  options = onnxruntime.SessionOptions()
  options.log_severity_level = 3
  return onnxruntime.InferenceSession(
      model_bytes, options, providers=["CPUExecutionProvider"])


def run(model_bytes, x, lengths=None):
  """{output name: array} of an ONNX model in onnxruntime (CPU)."""
  runner = session(model_bytes)
  feed = {INPUT: x}
  if lengths is not None:
    feed[LENGTHS] = np.asarray(lengths, np.int32)
  names_ = [o.name for o in runner.get_outputs()]
  return dict(zip(names_, runner.run(names_, feed)))
