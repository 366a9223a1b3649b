"""Converted models as ONNX graphs, built with the `onnx` package.

The recurrent layers become ONNX's own `GRU` operator (gate order z, r, h,
Keras's; `linear_before_reset` 0 for the reset-before GRUs, 1 for the cuDNN
family; `direction` "bidirectional" for a BiGRU, "reverse" for the backward
stack of MultiRNNCells in a bidirectional RNN), their weights placed by
`mapping.ONNX_GRU` from the stock Keras model the same legacy weights
convert into (so the Data Blogger update gate is negated exactly as for
Keras). The heads are ONNX ops: `MatMul` and `Add` for a dense layer,
`ReduceMean` over time for the classifier's pooling.

    input  x               [batch, time, input_dim]  (both dynamic)
    input  sequence_lens   [batch] int32, TF1 cells only, optional: a
                           default [2**31 - 1] stands for "every step"
    output gru | rnn       the recurrent output [batch, time, width]
    output head            the head's output, where the model has a head

Refused, by name: a model ONNX's GRU cannot express exactly (the tutorial
GRU without a reset gate: ONNX's GRU always has one) and float64 models
(onnxruntime's CPU GRU kernel has no double implementation; exporting in
float32 would round every weight). Lengths apply to TF1 cells only: the
tutorial GRU's `sequence_length` only reverses the input and runs every
step, which ONNX's GRU, stopping at each length, does not compute.

`onnx` and `onnxruntime` are optional (`pip install '.[onnx]'`); they are
imported when a function here runs.
"""

import numpy as np

from gru_common import names
from migration import mapping
from migration import spec as spec_lib
from migration import tf1_cells

OPSET = 17
IR_VERSION = 8
SUFFIX = ".onnx"
INPUT = "x"
LENGTHS = "sequence_lens"
HEAD = "head"
ALL_STEPS = np.iinfo(np.int32).max
_ONNX_MISSING = ("ONNX export needs the onnx and onnxruntime packages: "
                 "pip install '.[onnx]'")


class OnnxError(ValueError):
  """A model ONNX's GRU operator cannot express exactly, or no onnx."""


def _onnx():
  try:
    import onnx  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise OnnxError(_ONNX_MISSING) from e
  return onnx


def check_exportable(spec):
  """Raises OnnxError naming why `spec` has no exact ONNX graph."""
  if spec.family != tf1_cells.FAMILY and not spec.reset_gate:
    raise OnnxError(
        f"{spec.describe()}: ONNX's GRU operator always has a reset gate; "
        "the tutorial's GRU without one has no exact ONNX graph")
  if spec.dtype != "float32":
    raise OnnxError(
        f"{spec.describe()}: onnxruntime's CPU GRU kernel has no float64 "
        "implementation ('GRU operator does not support double yet'), and "
        "exporting in float32 would round every weight; convert to .keras "
        "and serve it under JAX or PyTorch instead (README)")


def recurrent_output(spec):
  """The name of the recurrent output: "rnn" for TF1 cells, else "gru"."""
  return "rnn" if spec.family == tf1_cells.FAMILY else "gru"


def output_names(spec):
  head = [HEAD] if getattr(spec, "head", None) else []
  return [recurrent_output(spec)] + head


class _Graph:
  """Nodes and initializers, with fresh names."""

  def __init__(self, onnx):
    self.onnx = onnx
    self.nodes, self.initializers = [], []
    self._count = 0

  def name(self, stem):
    self._count += 1
    return f"{stem}_{self._count}"

  def constant(self, stem, array):
    name = self.name(stem)
    self.initializers.append(self.onnx.numpy_helper.from_array(
        np.ascontiguousarray(array), name))
    return name

  def op(self, op_type, inputs, stem=None, **attributes):
    out = self.name(stem or op_type.lower())
    self.nodes.append(self.onnx.helper.make_node(
        op_type, inputs, [out], name=out, **attributes))
    return out


def _cell_arrays(cell):
  """(W, R, B) of one direction from a stock Keras GRUCell, per
  `mapping.ONNX_GRU`."""
  for field, value in (("activation", "tanh"),
                       ("recurrent_activation", "sigmoid")):
    got = getattr(getattr(cell, field), "__name__", None)
    if got != value:
      raise OnnxError(f"layer {cell.name!r}: {field} is {got!r}; ONNX's GRU "
                      f"here computes {value!r}")
  if not cell.use_bias:
    raise OnnxError(f"layer {cell.name!r}: use_bias=False")
  weights = {w.name: np.asarray(w.numpy()) for w in cell.weights}
  arrays = {}
  for keras_name, onnx_name in mapping.ONNX_GRU:
    value = weights[keras_name]
    if onnx_name == "B":
      value = (value.reshape(-1) if cell.reset_after else
               np.concatenate([value, np.zeros_like(value)]))
    else:
      value = value.T
    arrays[onnx_name] = value
  return arrays["W"], arrays["R"], arrays["B"]


def _gru(graph, x, cells, direction, lengths):
  """ONNX GRU over time-major x [time, batch, in] with `cells` (one per
  direction); returns its Y [time, directions, batch, units]."""
  reset_after = {bool(c.reset_after) for c in cells}
  if len(reset_after) != 1:
    raise OnnxError("a bidirectional layer mixes reset_after settings")
  w, r, b = (np.stack(a) for a in zip(*(_cell_arrays(c) for c in cells)))
  name = cells[0].name
  return graph.op(
      "GRU", [x, graph.constant(f"{name}_W", w), graph.constant(
          f"{name}_R", r), graph.constant(f"{name}_B", b), lengths or ""],
      stem="gru", hidden_size=int(cells[0].units), direction=direction,
      linear_before_reset=int(reset_after.pop()))


def _one_direction(graph, y):
  """[time, 1, batch, u] -> [time, batch, u]."""
  return graph.op("Squeeze", [y, graph.constant("axes", np.array(
      [1], np.int64))])


def _both_directions(graph, y):
  """[time, 2, batch, u] -> [time, batch, 2u] (forward, then backward)."""
  y = graph.op("Transpose", [y], perm=[0, 2, 1, 3])
  return graph.op("Reshape", [y, graph.constant("shape", np.array(
      [0, 0, -1], np.int64))])


def _cells_of(rnn):
  return list(getattr(rnn.cell, "cells", [rnn.cell]))


def _recurrent(graph, layer, x, lengths):
  """One recurrent layer of a converted stock-Keras model (see
  `models.build`) on time-major x."""
  import keras  # pylint: disable=g-import-not-at-top
  if isinstance(layer, keras.layers.Bidirectional):
    if layer.merge_mode != "concat":
      raise OnnxError(f"layer {layer.name!r}: merge_mode "
                      f"{layer.merge_mode!r}; the converter writes 'concat'")
    forward = _cells_of(layer.forward_layer)
    backward = _cells_of(layer.backward_layer)
    if len(forward) == 1:
      return _both_directions(graph, _gru(
          graph, x, forward + backward, "bidirectional", lengths))
    # MultiRNNCells in a bidirectional RNN: each direction is a stack, the
    # backward one run over the reversed steps (ONNX's "reverse").
    outputs = []
    for cells, direction in ((forward, "forward"), (backward, "reverse")):
      y = x
      for cell in cells:
        y = _one_direction(graph, _gru(graph, y, [cell], direction, lengths))
      outputs.append(y)
    return graph.op("Concat", outputs, axis=-1)
  if isinstance(layer, keras.layers.RNN):
    if layer.go_backwards or not layer.return_sequences:
      raise OnnxError(f"layer {layer.name!r}: a standalone backward or "
                      "last-step-only RNN is not what the converter writes")
    y = x
    for cell in _cells_of(layer):
      y = _one_direction(graph, _gru(graph, y, [cell], "forward", lengths))
    return y
  raise OnnxError(f"layer {layer.name!r} ({type(layer).__name__}) is not a "
                  "recurrent layer the converter writes")


def _dense(graph, layer, x):
  import keras  # pylint: disable=g-import-not-at-top
  if layer.activation is not keras.activations.linear:
    raise OnnxError(f"layer {layer.name!r}: the converter's heads are "
                    "linear")
  kernel, bias = (np.asarray(w.numpy()) for w in layer.weights)
  y = graph.op("MatMul", [x, graph.constant(f"{layer.name}_kernel", kernel)])
  return graph.op("Add", [y, graph.constant(f"{layer.name}_bias", bias)])


def from_keras_model(model, spec, doc=""):
  """The ONNX model of a converted stock-Keras `model` of `spec` (built by
  `models.build(spec, "keras")`), checked by `onnx.checker`.

  Raises:
    OnnxError: `spec` has no exact ONNX graph (`check_exportable`), or a
      layer is not one the converter writes.
  """
  check_exportable(spec)
  onnx = _onnx()
  import keras  # pylint: disable=g-import-not-at-top
  helper = onnx.helper
  elem = helper.np_dtype_to_tensor_dtype(np.dtype(spec.dtype))
  graph = _Graph(onnx)
  inputs = [helper.make_tensor_value_info(INPUT, elem,
                                          ["batch", "time", spec.input_dim])]
  lengths = None
  if spec.family == tf1_cells.FAMILY:
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
  x = graph.op("Transpose", [INPUT], perm=[1, 0, 2])
  outputs, width = {}, None
  for layer in model.layers:
    if isinstance(layer, keras.layers.InputLayer):
      continue
    if isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional)):
      x = _recurrent(graph, layer, x, lengths)
      width = int(layer.output.shape[-1])
      outputs[recurrent_output(spec)] = graph.op(
          "Transpose", [x], stem=recurrent_output(spec), perm=[1, 0, 2])
    elif isinstance(layer, keras.layers.GlobalAveragePooling1D):
      x = graph.op("ReduceMean", [outputs[recurrent_output(spec)]], axes=[1],
                   keepdims=0)
    elif isinstance(layer, keras.layers.Dense):
      if layer.name == names.ADDITION_OUTPUT_LAYER:
        x = outputs[recurrent_output(spec)]
      x = _dense(graph, layer, x)
      outputs[HEAD] = x
    else:
      raise OnnxError(f"layer {layer.name!r} ({type(layer).__name__}) is not "
                      "one the converter writes")
  value_infos = []
  for name in output_names(spec):
    graph.nodes.append(helper.make_node("Identity", [outputs[name]], [name]))
    shape = (["batch", "time", width] if name != HEAD else
             ["batch", "time", 1] if spec.head == spec_lib.ADDITION else
             ["batch", spec.head_units])
    value_infos.append(helper.make_tensor_value_info(name, elem, shape))
  onnx_graph = helper.make_graph(graph.nodes, model.name, inputs, value_infos,
                                 graph.initializers)
  result = helper.make_model(
      onnx_graph, opset_imports=[helper.make_opsetid("", OPSET)],
      producer_name="tf1-gru-migration", doc_string=doc)
  result.ir_version = IR_VERSION
  helper.set_model_props(result, {"keras_model_name": model.name,
                                  "legacy_model": spec.describe()})
  onnx.checker.check_model(result, full_check=True)
  return result


def run(model_bytes, x, lengths=None):
  """{output name: array} of an ONNX model in onnxruntime (CPU)."""
  try:
    import onnxruntime  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise OnnxError(_ONNX_MISSING) from e
  options = onnxruntime.SessionOptions()
  options.log_severity_level = 3
  session = onnxruntime.InferenceSession(
      model_bytes, options, providers=["CPUExecutionProvider"])
  feed = {INPUT: x}
  if lengths is not None:
    feed[LENGTHS] = np.asarray(lengths, np.int32)
  names_ = [o.name for o in session.get_outputs()]
  return dict(zip(names_, session.run(names_, feed)))
