"""A whole program's Keras model (`tf1_program`, stock-Keras target) as an
ONNX graph, built with the `onnx` package.

The functional model is walked node by node, and each operation becomes
ONNX nodes from one table (`EMITTERS`, keyed by the operation's class):

    keras.ops calls     the matching ONNX operator (Add, MatMul, Gather,
                        Where, CumSum, ReduceSum, Split, Slice, ...), with
                        Keras's dtype rules made explicit by Casts
    stock layers        Embedding -> Gather, Dense -> MatMul + Add,
                        Conv2D and pooling -> Conv / MaxPool / AveragePool
                        (NCHW between two Transposes), BatchNormalization
                        (inference) -> Mul + Add with TF's rsqrt
    recurrent layers    GRU and LSTM (stock Keras) -> `Scan` over time whose
                        body is the cell's step in primitive ops: masks,
                        initial and final states and `go_backwards` as the
                        layer has them, in the model's own dtype (float64
                        too: onnxruntime's `GRU`/`LSTM` kernels have none,
                        its primitive ops do)
    this project's      `ReverseSequence` -> ONNX's ReverseSequence,
    layers              `program_layers.Weight` -> an initializer

An operation with no entry is refused by name, every such operation listed
at once, before anything is built. The graph's inputs are the program's
placeholders, by name; its outputs the program's tensors, by name
(`Program.inputs`, `Program.outputs`).

`onnx` is optional (`pip install '.[onnx]'`), imported when a function here
runs.
"""

import numpy as np

from migration import onnx_export

OnnxError = onnx_export.OnnxError


class Sym:
  """A value of the ONNX graph: its name and the Keras tensor's dtype and
  shape."""

  def __init__(self, name, dtype, shape):
    self.name, self.dtype, self.shape = name, str(dtype), tuple(shape)


class Emitter:
  """The graph being built and the conversions every emitter needs."""

  def __init__(self, onnx, graph):
    self.onnx, self.graph = onnx, graph

  def elem(self, dtype):
    return self.onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))

  def op(self, op_type, inputs, **attributes):
    return self.graph.op(op_type, inputs, **attributes)

  def const(self, value, dtype):
    return self.graph.constant("c", np.asarray(value, dtype=dtype))

  def ints(self, values):
    return self.graph.constant("i", np.asarray(values, np.int64).reshape(-1))

  def operand(self, value, dtype):
    """`value` (a Sym or a constant) as an ONNX name of `dtype`."""
    if isinstance(value, Sym):
      if value.dtype == dtype:
        return value.name
      return self.op("Cast", [value.name], to=self.elem(dtype))
    return self.const(value, dtype)

  def shape_of(self, value):
    return self.op("Shape", [value.name])


def _promoted(*values):
  import keras  # pylint: disable=g-import-not-at-top
  return keras.backend.result_type(*[
      v.dtype if isinstance(v, Sym) else
      (type(v) if isinstance(v, (bool, int, float)) else
       np.asarray(v).dtype.name)
      for v in values])


def _info(helper, name, elem, shape):
  """A value's type: its dtype and rank, unknown sizes left symbolic."""
  return helper.make_tensor_value_info(
      name, elem, [d if d is not None else f"{name}_{i}"
                   for i, d in enumerate(shape)])


def _axes(axis, rank):
  if axis is None:
    return list(range(rank))
  return [int(a) for a in np.atleast_1d(axis)]


# --- keras.ops ---------------------------------------------------------------


def _same_float(x, out):
  """The dtype of a float-preserving op on x: x's own when it is a float
  (Keras's symbolic dtype for some, `reciprocal` among them, says float32
  whatever the input), else the output's."""
  if isinstance(x, Sym) and np.issubdtype(np.dtype(x.dtype), np.floating):
    return x.dtype
  return out.dtype


def _float_op(build):
  """An elementwise op that keeps a float input's dtype:
  build(emitter, operation, x, dtype) -> the output's name."""
  def emit(e, op, args, kwargs, outs):
    del kwargs
    dtype = _same_float(args[0], outs[0])
    return [Sym(build(e, op, e.operand(args[0], dtype), dtype), dtype,
                outs[0].shape)]
  return emit


def _unary(onnx_op):
  return _float_op(lambda e, op, x, dtype: e.op(onnx_op, [x]))


_relu6 = _float_op(lambda e, op, x, dtype: e.op(
    "Clip", [x, e.const(0, dtype), e.const(6, dtype)]))
_clip = _float_op(lambda e, op, x, dtype: e.op(
    "Clip", [x, e.const(op.x_min, dtype), e.const(op.x_max, dtype)]))
_elu = _float_op(lambda e, op, x, dtype: _elu_of(e, x, float(op.alpha),
                                                 dtype))
# Keras's constants (keras.activations.selu).
_selu = _float_op(lambda e, op, x, dtype: e.op("Mul", [
    e.const(1.0507009873554805, dtype),
    _elu_of(e, x, 1.6732632423543772, dtype)]))
_square = _float_op(lambda e, op, x, dtype: e.op("Mul", [x, x]))
_rsqrt = _float_op(lambda e, op, x, dtype: e.op("Reciprocal", [
    e.op("Sqrt", [x])]))
_softmax = _float_op(lambda e, op, x, dtype: e.op("Softmax", [x],
                                                  axis=int(op.axis)))
_log_softmax = _float_op(lambda e, op, x, dtype: e.op(
    "LogSoftmax", [x], axis=int(op.axis)))


def _elu_of(e, x, alpha, dtype):
  """where(x > 0, x, alpha * (exp(x) - 1)) in primitive ops: onnxruntime
  has no float64 Elu or Selu."""
  negative = e.op("Mul", [e.const(alpha, dtype), e.op(
      "Sub", [e.op("Exp", [x]), e.const(1, dtype)])])
  return e.op("Where", [e.op("Greater", [x, e.const(0, dtype)]), x,
                        negative])


def _softplus_of(e, x, dtype):
  """max(x, 0) + log(1 + exp(-|x|)): onnxruntime has no float64
  Softplus, and this form does not overflow."""
  tail = e.op("Log", [e.op("Add", [e.const(1, dtype), e.op("Exp", [
      e.op("Neg", [e.op("Abs", [x])])])])])
  return e.op("Add", [e.op("Relu", [x]), tail])


_softplus = _float_op(lambda e, op, x, dtype: _softplus_of(e, x, dtype))

def _arithmetic(onnx_op):
  """Binary math in the output's dtype (Keras's promotion, python scalars
  taking the tensor's type)."""
  def emit(e, op, args, kwargs, outs):
    del op, kwargs
    dtype = outs[0].dtype
    return [e.op(onnx_op, [e.operand(a, dtype) for a in args[:2]])]
  return emit


def _comparison(onnx_op):
  def emit(e, op, args, kwargs, outs):
    del op, kwargs, outs
    dtype = _promoted(*args[:2])
    return [e.op(onnx_op, [e.operand(a, dtype) for a in args[:2]])]
  return emit


def _floor_divide(e, op, args, kwargs, outs):
  del kwargs
  dtype = outs[0].dtype
  if not np.issubdtype(np.dtype(dtype), np.floating):
    raise OnnxError(f"operation {op.name!r}: integer floor division (ONNX's "
                    "Div truncates)")
  return [e.op("Floor", [e.op("Div", [e.operand(a, dtype)
                                      for a in args[:2]])])]


def _not_equal(e, op, args, kwargs, outs):
  return [e.op("Not", _comparison("Equal")(e, op, args, kwargs, outs))]


def _where(e, op, args, kwargs, outs):
  del op, kwargs
  dtype = outs[0].dtype
  return [e.op("Where", [e.operand(args[0], "bool"), e.operand(args[1], dtype),
                         e.operand(args[2], dtype)])]


def _cast(e, op, args, kwargs, outs):
  del op, kwargs
  return [e.operand(args[0], outs[0].dtype)]


def _split(e, op, args, kwargs, outs):
  del kwargs
  x = args[0]
  axis = int(op.axis) % len(x.shape)
  sections = op.indices_or_sections
  if isinstance(sections, int):
    sizes = [int(o.shape[axis]) if o.shape[axis] is not None else None
             for o in outs]
  else:
    bounds = [0, *[int(i) for i in sections], x.shape[axis]]
    sizes = [None if b is None else b - a for a, b in zip(bounds, bounds[1:])]
  if None in sizes:
    raise OnnxError(f"operation {op.name!r}: a split of an axis whose size "
                    "is known only at run time")
  return e.graph.op_outputs("Split", [x.name, e.ints(sizes)], len(outs),
                            axis=axis)


def _squeeze(e, op, args, kwargs, outs):
  del kwargs, outs
  x = args[0]
  axes = (_axes(op.axis, len(x.shape)) if op.axis is not None else
          [i for i, d in enumerate(x.shape) if d == 1])
  return [e.op("Squeeze", [x.name, e.ints(axes)])]


def _expand_dims(e, op, args, kwargs, outs):
  del kwargs, outs
  return [e.op("Unsqueeze", [args[0].name, e.ints(_axes(op.axis, 0))])]


def _concatenate(e, op, args, kwargs, outs):
  del kwargs
  dtype = outs[0].dtype
  return [e.op("Concat", [e.operand(a, dtype) for a in args[0]],
               axis=int(op.axis))]


def _reshape(e, op, args, kwargs, outs):
  del kwargs, outs
  shape = [int(d) for d in np.atleast_1d(op.newshape)]
  if 0 in shape:
    raise OnnxError(f"operation {op.name!r}: a reshape to an empty axis")
  return [e.op("Reshape", [args[0].name, e.ints(shape)])]


def _take(e, op, args, kwargs, outs):
  del kwargs
  x, indices = args[0], args[1]
  if op.axis is None:
    raise OnnxError(f"operation {op.name!r}: take without an axis")
  table = e.operand(x, outs[0].dtype)
  if isinstance(indices, Sym):
    ids = indices.name
  else:
    ids = e.const(indices, np.asarray(indices).dtype if
                  np.asarray(indices).dtype.kind == "i" else np.int64)
  return [e.op("Gather", [table, ids], axis=int(op.axis))]


def _tile(e, op, args, kwargs, outs):
  del kwargs, outs
  x = args[0]
  repeats = [int(r) for r in np.atleast_1d(op.repeats)]
  if len(repeats) > len(x.shape):
    raise OnnxError(f"operation {op.name!r}: tiling into more axes than "
                    "the tensor has")
  repeats = [1] * (len(x.shape) - len(repeats)) + repeats
  return [e.op("Tile", [x.name, e.ints(repeats)])]


def _filled(value):
  def emit(e, op, args, kwargs, outs):
    del op, kwargs
    dtype = outs[0].dtype
    fill = value if value is not None else args[1]
    if isinstance(fill, Sym):
      zeros = e.op("ConstantOfShape", [e.shape_of(args[0])],
                   value=e.onnx.numpy_helper.from_array(
                       np.zeros((1,), dtype)))
      return [e.op("Add", [zeros, e.operand(fill, dtype)])]
    return [e.op("ConstantOfShape", [e.shape_of(args[0])],
                 value=e.onnx.numpy_helper.from_array(
                     np.full((1,), fill, dtype)))]
  return emit


def _reduce(onnx_op):
  def emit(e, op, args, kwargs, outs):
    del kwargs
    x = args[0]
    if getattr(op, "initial", None) is not None:
      raise OnnxError(f"operation {op.name!r}: a reduction with an initial "
                      "value")
    axes = _axes(op.axis, len(x.shape))
    value = e.operand(x, outs[0].dtype)
    keepdims = int(bool(op.keepdims))
    if onnx_op == "ReduceSum":   # axes an input since opset 13
      return [e.op(onnx_op, [value, e.ints(axes)], keepdims=keepdims)]
    return [e.op(onnx_op, [value], axes=axes, keepdims=keepdims)]
  return emit


def _arg(onnx_op):
  def emit(e, op, args, kwargs, outs):
    del kwargs
    x = args[0]
    if op.axis is None:
      raise OnnxError(f"operation {op.name!r}: an arg-reduction over all "
                      "axes")
    index = e.op(onnx_op, [x.name], axis=int(op.axis),
                 keepdims=int(bool(op.keepdims)))
    return [e.op("Cast", [index], to=e.elem(outs[0].dtype))]
  return emit


def _cumsum(e, op, args, kwargs, outs):
  del kwargs
  axis = 0 if op.axis is None else int(op.axis)
  x = args[0]
  if op.axis is None and len(x.shape) != 1:
    raise OnnxError(f"operation {op.name!r}: a cumulative sum of the "
                    "flattened tensor")
  return [e.op("CumSum", [e.operand(x, outs[0].dtype),
                          e.const(axis, np.int64)])]


def _transpose(e, op, args, kwargs, outs):
  del kwargs, outs
  x = args[0]
  perm = (list(range(len(x.shape)))[::-1] if op.axes is None else
          [int(a) % len(x.shape) for a in op.axes])
  return [e.op("Transpose", [x.name], perm=perm)]


def _swapaxes(e, op, args, kwargs, outs):
  del kwargs, outs
  x = args[0]
  perm = list(range(len(x.shape)))
  a, b = int(op.axis1) % len(perm), int(op.axis2) % len(perm)
  perm[a], perm[b] = perm[b], perm[a]
  return [e.op("Transpose", [x.name], perm=perm)]


def _stack(e, op, args, kwargs, outs):
  del kwargs
  dtype = outs[0].dtype
  axis = e.ints([int(op.axis)])
  return [e.op("Concat", [e.op("Unsqueeze", [e.operand(a, dtype), axis])
                          for a in args[0]], axis=int(op.axis))]


def _unstack(e, op, args, kwargs, outs):
  del kwargs
  x = args[0]
  axis = int(op.axis) % len(x.shape)
  parts = e.graph.op_outputs("Split", [x.name, e.ints([1] * len(outs))],
                             len(outs), axis=axis)
  return [e.op("Squeeze", [p, e.ints([axis])]) for p in parts]


def _reversed(e, x, axes):
  """x reversed along `axes` (one Slice with step -1)."""
  big = np.iinfo(np.int64).max
  return e.op("Slice", [x.name, e.ints([-1] * len(axes)),
                        e.ints([-big] * len(axes)), e.ints(axes),
                        e.ints([-1] * len(axes))])


def _flip(e, op, args, kwargs, outs):
  del kwargs, outs
  return [_reversed(e, args[0], _axes(op.axis, len(args[0].shape)))]

def _pad(e, op, args, kwargs, outs):
  x = args[0]
  if op.mode != "constant":
    raise OnnxError(f"operation {op.name!r}: padding mode {op.mode!r}")
  width = np.asarray(op.pad_width, np.int64).reshape(len(x.shape), 2)
  value = kwargs.get("constant_values")
  value = 0 if value is None else value
  return [e.op("Pad", [x.name, e.ints(np.concatenate([width[:, 0],
                                                      width[:, 1]])),
                       e.const(value, outs[0].dtype)])]


def _matmul(e, op, args, kwargs, outs):
  del op, kwargs
  dtype = outs[0].dtype
  return [e.op("MatMul", [e.operand(a, dtype) for a in args[:2]])]


def _get_item(e, op, args, kwargs, outs):
  del kwargs, outs
  x, key = args[0], args[1]
  key = key if isinstance(key, tuple) else (key,)
  starts, ends, axes, steps, drop = [], [], [], [], []
  big = np.iinfo(np.int64).max
  for axis, k in enumerate(key):
    if isinstance(k, (int, np.integer)):
      starts.append(int(k))
      ends.append(int(k) + 1 if int(k) != -1 else big)
      steps.append(1)
      drop.append(axis)
    elif isinstance(k, slice):
      step = 1 if k.step is None else int(k.step)
      starts.append(int(k.start) if k.start is not None else
                    (0 if step > 0 else -1))
      ends.append(int(k.stop) if k.stop is not None else
                  (big if step > 0 else -big))
      steps.append(step)
    else:
      raise OnnxError(f"operation {op.name!r}: an index {k!r} that is not an "
                      "integer or a slice")
    axes.append(axis)
  y = e.op("Slice", [x.name, e.ints(starts), e.ints(ends), e.ints(axes),
                     e.ints(steps)])
  return [e.op("Squeeze", [y, e.ints(drop)]) if drop else y]


# --- Layers ------------------------------------------------------------------


def _activation(e, function, x, dtype, where):
  """ONNX nodes of a Keras activation function on x."""
  name = getattr(function, "__name__", str(function))
  if name == "linear":
    return x
  if name in ("relu", "tanh", "sigmoid"):
    return e.op({"relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid"}[name],
                [x])
  if name == "softmax":
    return e.op("Softmax", [x], axis=-1)
  if name == "relu6":
    return e.op("Clip", [x, e.const(0, dtype), e.const(6, dtype)])
  raise OnnxError(f"{where}: activation {name!r} has no ONNX translation")


def _weights(layer):
  return {w.path.split("/")[-1]: np.asarray(w.numpy()) for w in layer.weights}


def _embedding(e, layer, args, kwargs, outs):
  del kwargs
  table = _weights(layer)["embeddings"]
  return [e.op("Gather", [e.graph.constant(f"{layer.name}_embeddings",
                                           table.astype(outs[0].dtype)),
                          args[0].name], axis=0)]


def _dense(e, layer, args, kwargs, outs):
  del kwargs
  dtype = outs[0].dtype
  weights = _weights(layer)
  y = e.op("MatMul", [e.operand(args[0], dtype), e.graph.constant(
      f"{layer.name}_kernel", weights["kernel"])])
  if layer.use_bias:
    y = e.op("Add", [y, e.graph.constant(f"{layer.name}_bias",
                                         weights["bias"])])
  return [_activation(e, layer.activation, y, dtype, f"layer {layer.name!r}")]


def _channels_last(layer):
  if layer.data_format != "channels_last":
    raise OnnxError(f"layer {layer.name!r}: data_format "
                    f"{layer.data_format!r}; the converter writes "
                    "'channels_last'")


def _pad_mode(layer):
  if layer.padding == "same":
    return {"auto_pad": "SAME_UPPER"}
  if layer.padding == "valid":
    return {"auto_pad": "VALID"}
  raise OnnxError(f"layer {layer.name!r}: padding {layer.padding!r}")


def _in_nchw(e, x, build):
  """build(NCHW name) -> NCHW name, between NHWC <-> NCHW transposes."""
  y = build(e.op("Transpose", [x], perm=[0, 3, 1, 2]))
  return e.op("Transpose", [y], perm=[0, 2, 3, 1])


def _same_padded(e, x, kernel, strides, dilations, value=0.0, dtype=None):
  """x [batch, h, w, c] padded as TensorFlow pads for 'same' (the extra
  row or column at the end), from x's run-time shape."""
  shape = e.op("Shape", [x])
  before, after = [], []
  for axis, k, s, d in zip((1, 2), kernel, strides, dilations):
    size = e.op("Slice", [shape, e.ints([axis]), e.ints([axis + 1])])
    out = e.op("Div", [e.op("Add", [size, e.ints([s - 1])]), e.ints([s])])
    needed = e.op("Add", [e.op("Mul", [e.op("Sub", [out, e.ints([1])]),
                                       e.ints([s])]),
                          e.ints([(k - 1) * d + 1])])
    total = e.op("Max", [e.op("Sub", [needed, size]), e.ints([0])])
    first = e.op("Div", [total, e.ints([2])])
    before.append(first)
    after.append(e.op("Sub", [total, first]))
  zero = e.ints([0])
  pads = e.op("Concat", [zero, *before, zero, zero, *after, zero], axis=0)
  return e.op("Pad", [x, pads, e.const(value, dtype)])


def _patches(e, x, kernel, strides, dilations):
  """[x[:, i*dh::sh, j*dw::sw] for each kernel tap (i, j)], each cut to
  the output's size: what a 'valid' window reads, tap by tap."""
  big = np.iinfo(np.int64).max
  taps = []
  for i in range(kernel[0]):
    for j in range(kernel[1]):
      ends = []
      for offset, k, d in ((i, kernel[0], dilations[0]),
                           (j, kernel[1], dilations[1])):
        rest = (k - 1 - offset) * d
        ends.append(-rest if rest else big)
      taps.append(e.op("Slice", [
          x, e.ints([i * dilations[0], j * dilations[1]]), e.ints(ends),
          e.ints([1, 2]), e.ints(list(strides))]))
  return taps


def _conv2d(e, layer, args, kwargs, outs):
  """ONNX's Conv in float32; in float64 (which onnxruntime's Conv lacks)
  the window's taps concatenated and multiplied by the kernel, one
  MatMul."""
  del kwargs
  _channels_last(layer)
  _pad_mode(layer)
  dtype = outs[0].dtype
  weights = _weights(layer)
  kernel = weights["kernel"]
  where = f"layer {layer.name!r}"
  if np.dtype(dtype) == np.float32:
    inputs = [e.graph.constant(f"{layer.name}_kernel",
                               kernel.transpose(3, 2, 0, 1))]
    if layer.use_bias:
      inputs.append(e.graph.constant(f"{layer.name}_bias", weights["bias"]))
    y = _in_nchw(e, args[0].name, lambda x: e.op(
        "Conv", [x, *inputs], strides=list(layer.strides),
        dilations=list(layer.dilation_rate), group=int(layer.groups),
        **_pad_mode(layer)))
    return [_activation(e, layer.activation, y, dtype, where)]
  if int(layer.groups) != 1:
    raise OnnxError(f"{where}: a grouped convolution in {dtype}")
  size = tuple(kernel.shape[:2])
  x = args[0].name
  if layer.padding == "same":
    x = _same_padded(e, x, size, layer.strides, layer.dilation_rate,
                     dtype=dtype)
  taps = _patches(e, x, size, layer.strides, layer.dilation_rate)
  y = e.op("MatMul", [e.op("Concat", taps, axis=-1), e.graph.constant(
      f"{layer.name}_kernel", kernel.reshape(-1, kernel.shape[-1]))])
  if layer.use_bias:
    y = e.op("Add", [y, e.graph.constant(f"{layer.name}_bias",
                                         weights["bias"])])
  return [_activation(e, layer.activation, y, dtype, where)]


def _max_pooling(e, layer, args, kwargs, outs):
  del kwargs, outs
  _channels_last(layer)
  return [_in_nchw(e, args[0].name, lambda x: e.op(
      "MaxPool", [x], kernel_shape=list(layer.pool_size),
      strides=list(layer.strides), **_pad_mode(layer)))]


def _average_pooling(e, layer, args, kwargs, outs):
  """ONNX's AveragePool in float32 ('same' windows averaged over the
  inputs they cover, as TensorFlow does); in float64 (which onnxruntime's
  AveragePool lacks) the taps summed and divided by the count of inputs
  each window covers."""
  del kwargs
  _channels_last(layer)
  dtype = outs[0].dtype
  if np.dtype(dtype) == np.float32:
    return [_in_nchw(e, args[0].name, lambda x: e.op(
        "AveragePool", [x], kernel_shape=list(layer.pool_size),
        strides=list(layer.strides), **_pad_mode(layer)))]
  _pad_mode(layer)
  size, ones = tuple(layer.pool_size), (1, 1)
  x = args[0].name
  count = e.op("ConstantOfShape", [e.op("Shape", [x])],
               value=e.onnx.numpy_helper.from_array(np.ones((1,), dtype)))
  if layer.padding == "same":
    x = _same_padded(e, x, size, layer.strides, ones, dtype=dtype)
    count = _same_padded(e, count, size, layer.strides, ones, dtype=dtype)
  total = e.op("Sum", _patches(e, x, size, layer.strides, ones))
  covered = e.op("Sum", _patches(e, count, size, layer.strides, ones))
  return [e.op("Div", [total, covered])]


def _batch_normalization(e, layer, args, kwargs, outs):
  """Inference: x * inv + (beta - mean * inv), inv = rsqrt(var + eps) *
  gamma, as `tf.nn.batch_normalization` computes it."""
  del kwargs
  x = args[0]
  dtype = np.dtype(outs[0].dtype)
  w = _weights(layer)
  axis = int(layer.axis) % len(x.shape)
  if axis != len(x.shape) - 1:
    raise OnnxError(f"layer {layer.name!r}: batch norm over axis {axis}, "
                    "not the last")
  inv = (np.float64(1) / np.sqrt(w["moving_variance"].astype(np.float64) +
                                 layer.epsilon)).astype(dtype)
  if layer.scale:
    inv = (inv * w["gamma"]).astype(dtype)
  shift = -w["moving_mean"] * inv
  if layer.center:
    shift = (w["beta"] + shift).astype(dtype)
  y = e.op("Mul", [x.name, e.graph.constant(f"{layer.name}_inv", inv)])
  return [e.op("Add", [y, e.graph.constant(f"{layer.name}_shift",
                                           shift.astype(dtype))])]


def _reshape_layer(e, layer, args, kwargs, outs):
  del kwargs, outs
  shape = [int(d) for d in layer.target_shape]
  return [e.op("Reshape", [args[0].name, e.ints([0, *shape])])]


def _reverse_sequence(e, layer, args, kwargs, outs):
  del layer, outs
  x = args[0]
  lengths = kwargs.get("sequence_lengths")
  if lengths is None:
    return [_reversed(e, x, [1])]
  lengths = e.operand(lengths, "int64")
  return [e.op("ReverseSequence", [x.name, lengths], batch_axis=0,
               time_axis=1)]


def _weight(e, layer, args, kwargs, outs):
  del args, kwargs, outs
  return [e.graph.constant(layer.name, _weights(layer)["weight"])]


# --- Recurrent layers: Scan over time ----------------------------------------


def _gru_step(e, body, cell, xw_t, states, dtype):
  """Keras's GRUCell on one step's input projection (x @ kernel + input
  bias, computed before the loop)."""
  units = int(cell.units)
  w = _weights(cell)
  h = states[0]
  recurrent = w["recurrent_kernel"]
  sizes = e.ints([units] * 3)
  xz, xr, xh = body.op_outputs("Split", [xw_t, sizes], 3, axis=1)
  gate = lambda v: _activation(_body_emitter(body), cell.recurrent_activation, v,
                               dtype, f"layer {cell.name!r}")
  act = lambda v: _activation(_body_emitter(body), cell.activation, v, dtype,
                              f"layer {cell.name!r}")
  if cell.reset_after:
    inner = body.op("MatMul", [h, body.constant(f"{cell.name}_U", recurrent)])
    if cell.use_bias:
      inner = body.op("Add", [inner, body.constant(f"{cell.name}_b_rec",
                                                   w["bias"][1])])
    hz, hr, hh_ = body.op_outputs("Split", [inner, sizes], 3, axis=1)
    z = gate(body.op("Add", [xz, hz]))
    r = gate(body.op("Add", [xr, hr]))
    hh = act(body.op("Add", [xh, body.op("Mul", [r, hh_])]))
  else:
    inner = body.op("MatMul", [h, body.constant(f"{cell.name}_U_zr",
                                                recurrent[:, :2 * units])])
    hz, hr = body.op_outputs("Split", [inner, e.ints([units, units])], 2,
                             axis=1)
    z = gate(body.op("Add", [xz, hz]))
    r = gate(body.op("Add", [xr, hr]))
    hh = act(body.op("Add", [xh, body.op("MatMul", [
        body.op("Mul", [r, h]), body.constant(f"{cell.name}_U_h",
                                              recurrent[:, 2 * units:])])]))
  one_minus_z = body.op("Sub", [e.const(1, dtype), z])
  new = body.op("Add", [body.op("Mul", [z, h]),
                        body.op("Mul", [one_minus_z, hh])])
  return [new], new


def _lstm_step(e, body, cell, xw_t, states, dtype):
  """Keras's LSTMCell (gates i, f, c, o) on one step's input projection;
  states [h, c]."""
  units = int(cell.units)
  w = _weights(cell)
  h, c = states
  z = body.op("Add", [xw_t, body.op("MatMul", [h, body.constant(
      f"{cell.name}_U", w["recurrent_kernel"])])])
  zi, zf, zc, zo = body.op_outputs("Split", [z, e.ints([units] * 4)], 4,
                                   axis=1)
  where = f"layer {cell.name!r}"
  eb = _body_emitter(body)
  i = _activation(eb, cell.recurrent_activation, zi, dtype, where)
  f = _activation(eb, cell.recurrent_activation, zf, dtype, where)
  o = _activation(eb, cell.recurrent_activation, zo, dtype, where)
  new_c = body.op("Add", [body.op("Mul", [f, c]), body.op("Mul", [
      i, _activation(eb, cell.activation, zc, dtype, where)])])
  new_h = body.op("Mul", [o, _activation(eb, cell.activation, new_c, dtype,
                                         where)])
  return [new_h, new_c], new_h


def _body_emitter(body):
  return Emitter(body.onnx, body)


def _input_projection(e, cell, x, dtype):
  """x @ kernel + the input bias, for every step at once."""
  w = _weights(cell)
  y = e.op("MatMul", [x, e.graph.constant(f"{cell.name}_W", w["kernel"])])
  if not cell.use_bias:
    return y
  bias = w["bias"]
  if getattr(cell, "reset_after", False):
    bias = bias[0]
  return e.op("Add", [y, e.graph.constant(f"{cell.name}_b", bias)])


def _traced_step(e, body, cell, x_t, states, dtype):
  """A cell written in keras.ops (this project's `TF1LSTMCell`: peepholes,
  projection, clipping, layer norm), its `call` traced on symbolic inputs
  into a functional model of the step, its weights inputs too (a Keras
  variable does not take part in symbolic math), emitted with the same
  table; the weights become initializers."""
  import keras  # pylint: disable=g-import-not-at-top
  x = keras.Input(batch_shape=(None, _input_width(cell)), dtype=dtype)
  state_inputs = [keras.Input(batch_shape=(None, int(size)), dtype=dtype)
                  for size in cell.state_size]
  weights = dict(cell._by_name)  # pylint: disable=protected-access
  symbols = {name: keras.Input(batch_shape=tuple(w.shape), dtype=w.dtype)
             for name, w in weights.items()}
  cell._by_name = symbols  # pylint: disable=protected-access
  try:
    output, new_states = cell.call(x, state_inputs)
  finally:
    cell._by_name = weights  # pylint: disable=protected-access
  step = keras.Model([x, *state_inputs, *symbols.values()],
                     [output, *new_states])
  check_exportable(step)
  values = {id(x): Sym(x_t, dtype, x.shape)}
  for tensor, name in zip(state_inputs, states):
    values[id(tensor)] = Sym(name, dtype, tensor.shape)
  for name, tensor in symbols.items():
    values[id(tensor)] = Sym(body.constant(
        f"{cell.name}_{name}".replace("/", "_"),
        np.asarray(weights[name].numpy())), tensor.dtype, tensor.shape)
  _emit_nodes(_body_emitter(body), step, values)
  return ([values[id(t)].name for t in new_states],
          values[id(output)].name)


def _input_width(cell):
  """The step input's width of a cell whose step reads it itself."""
  if type(cell).__name__ == "LoopGRUCell":
    return int(cell.Wc.shape[0])
  return int(cell._by_name["kernel"].shape[0]) - int(cell.state_size[0])  # pylint: disable=protected-access


def _loop_gru_step(e, body, cell, x_t, states, dtype):
  """The tutorial GRU (`tf2.LoopGRUCell`), with or without its reset gate:
  z = sigmoid(x Wf + h Uf + bf), r = sigmoid(x Wi + h Ui + bi),
  n = tanh(x Wc + (r h) Uc + bc), h' = (1 - z) n + z h."""
  del e
  h = states[0]

  def affine(w, u, b, recurrent):
    return body.op("Add", [body.op("Add", [
        body.op("MatMul", [x_t, body.constant(f"{cell.name}_W", w.numpy())]),
        body.op("MatMul", [recurrent, body.constant(f"{cell.name}_U",
                                                    u.numpy())])]),
                           body.constant(f"{cell.name}_b", b.numpy())])
  reset_h = h
  if cell.reset_gate:
    r = body.op("Sigmoid", [affine(cell.Wi, cell.Ui, cell.bi, h)])
    reset_h = body.op("Mul", [r, h])
  z = body.op("Sigmoid", [affine(cell.Wf, cell.Uf, cell.bf, h)])
  n = body.op("Tanh", [affine(cell.Wc, cell.Uc, cell.bc, reset_h)])
  one_minus_z = body.op("Sub", [body.constant("one", np.asarray(
      1, dtype)), z])
  new = body.op("Add", [body.op("Mul", [one_minus_z, n]),
                        body.op("Mul", [z, h])])
  return [new], new


# Keras cell class -> (step, number of states, number of gates or None for
# a traced cell, which reads the step's input itself).
_CELLS = {"GRUCell": (_gru_step, 1, 3), "LSTMCell": (_lstm_step, 2, 4),
          "TF1LSTMCell": (_traced_step, 2, None),
          "LoopGRUCell": (_loop_gru_step, 1, None)}


def _recurrent(e, layer, args, kwargs, outs):
  """A recurrent layer (stock GRU or LSTM, or an RNN of a traced cell) as
  one `Scan` over time: outputs [sequences or last output, *final states]
  as the layer returns them (in processing order when `go_backwards`, as
  Keras does)."""
  x = args[0]
  dtype = outs[0].dtype
  initial = kwargs.get("initial_state")
  if initial is not None:
    initial = [e.operand(s, dtype) for s in (
        initial if isinstance(initial, (list, tuple)) else [initial])]
  mask = kwargs.get("mask")
  sequences, finals = scan(
      e, layer.cell, e.operand(x, dtype), dtype, time_axis=1,
      mask=None if mask is None else e.operand(mask, "bool"),
      starts=initial, backwards=bool(layer.go_backwards),
      zero_output=bool(layer.zero_output_for_mask), where=layer.name)
  first = sequences if layer.return_sequences else finals[0]
  return [first, *finals][:len(outs)]


def scan(e, cell, x, dtype, time_axis, mask=None, starts=None,
         backwards=False, zero_output=True, time_order=False, where=None):
  """`cell` run over x's time axis (1: batch-major, 0: time-major) as one
  ONNX `Scan`; returns (the outputs' name, [final states' names]).

  Args:
    e: the `Emitter` of the graph the Scan goes in.
    cell: a Keras cell of `_CELLS`.
    x: the input's name, [batch, time, in] or [time, batch, in].
    dtype: the cell's dtype.
    time_axis: 1 or 0, as x is laid out; the outputs and `mask` follow it.
    mask: the name of a bool [batch, time] (or [time, batch]) mask, or None:
      a masked step keeps the state and outputs zeros (`zero_output`) or
      the kept state.
    starts: the initial states' names (Keras's order), or zeros.
    backwards: run from the last step to the first.
    time_order: with `backwards`, store each output at its step's position
      (ONNX's reverse GRU) rather than in processing order (Keras's
      `go_backwards`).
    where: what to name in an error.
  """
  name = type(cell).__name__
  if name not in _CELLS:
    raise OnnxError(f"layer {where or cell.name!r}: cell {name} has no ONNX "
                    "translation")
  step, count, gates = _CELLS[name]
  onnx, helper = e.onnx, e.onnx.helper
  elem = e.elem(dtype)
  units = int(cell.units)
  sizes = [int(n) for n in np.atleast_1d(cell.state_size)]
  batch_axis = 1 - time_axis
  if gates:   # the input projection of every step, one MatMul
    scanned = _input_projection(e, cell, x, dtype)
    width = gates * units
  else:
    scanned, width = x, _input_width(cell)
  if starts is None:
    batch = e.op("Slice", [e.op("Shape", [x]), e.ints([batch_axis]),
                           e.ints([batch_axis + 1])])
    starts = [e.op("ConstantOfShape", [e.op("Concat", [batch, e.ints([n])],
                                            axis=0)],
                   value=onnx.numpy_helper.from_array(np.zeros((1,), dtype)))
              for n in sizes]
  body = e.graph.subgraph()
  state_in = [body.name("state") for _ in range(count)]
  x_t = body.name("x_t")
  body_inputs = [_info(helper, n, elem, (None, k))
                 for n, k in zip(state_in, sizes)]
  body_inputs.append(_info(helper, x_t, elem, (None, width)))
  scans = [scanned]
  m_t = None
  if mask is not None:
    m_t = body.name("mask_t")
    body_inputs.append(_info(helper, m_t, onnx.TensorProto.BOOL, (None,)))
    scans.append(mask)
  new_states, output = step(e, body, cell, x_t, state_in, dtype)
  if m_t is not None:
    keep = body.op("Unsqueeze", [m_t, e.ints([1])])
    new_states = [body.op("Where", [keep, s, old])
                  for s, old in zip(new_states, state_in)]
    if zero_output:
      output = body.op("Where", [keep, output, e.const(0, dtype)])
    else:
      output = new_states[0]
  state_out = [body.op("Identity", [s], stem="state_out") for s in new_states]
  y_t = body.op("Identity", [output], stem="y_t")
  body_graph = helper.make_graph(
      body.nodes, body.name("body"), body_inputs,
      [_info(helper, n, elem, (None, k))
       for n, k in zip(state_out + [y_t], sizes + [sizes[0]])])
  direction = int(bool(backwards))
  results = e.graph.op_outputs(
      "Scan", starts + scans, count + 1, stem="scan", body=body_graph,
      num_scan_inputs=len(scans), scan_input_axes=[time_axis] * len(scans),
      scan_input_directions=[direction] * len(scans),
      scan_output_axes=[time_axis],
      scan_output_directions=[direction if time_order else 0])
  return results[count], results[:count]


# Operation class name -> emitter(emitter, operation, args, kwargs,
# outputs) -> [ONNX names]. Plain data: the whole set of what translates.
EMITTERS = {
    # keras.ops
    "Add": _arithmetic("Add"), "Subtract": _arithmetic("Sub"),
    "Multiply": _arithmetic("Mul"), "Divide": _arithmetic("Div"),
    "TrueDivide": _arithmetic("Div"), "Maximum": _arithmetic("Max"),
    "Minimum": _arithmetic("Min"), "Power": _arithmetic("Pow"),
    "Matmul": _matmul,
    "Less": _comparison("Less"), "LessEqual": _comparison("LessOrEqual"),
    "Greater": _comparison("Greater"),
    "GreaterEqual": _comparison("GreaterOrEqual"),
    "Equal": _comparison("Equal"),
    "LogicalAnd": _comparison("And"), "LogicalOr": _comparison("Or"),
    "LogicalNot": _unary("Not"),
    "Sigmoid": _unary("Sigmoid"), "Tanh": _unary("Tanh"),
    "Relu": _unary("Relu"), "Relu6": _relu6, "Absolute": _unary("Abs"),
    "Abs": _unary("Abs"), "Sign": _unary("Sign"), "Negative": _unary("Neg"),
    "Exp": _unary("Exp"), "Log": _unary("Log"), "Sqrt": _unary("Sqrt"),
    "Clip": _clip, "Elu": _elu, "Selu": _selu, "Softplus": _softplus,
    "Rsqrt": _rsqrt, "Square": _square, "Reciprocal": _unary("Reciprocal"),
    "Floor": _unary("Floor"), "FloorDivide": _floor_divide,
    "NotEqual": _not_equal, "Swapaxes": _swapaxes, "Stack": _stack,
    "Unstack": _unstack, "Prod": _reduce("ReduceProd"),
    "LogSoftmax": _log_softmax,
    "Softmax": _softmax, "Where": _where, "Cast": _cast,
    "Split": _split, "Squeeze": _squeeze, "ExpandDims": _expand_dims,
    "Concatenate": _concatenate, "Reshape": _reshape, "Take": _take,
    "Tile": _tile, "FullLike": _filled(None), "ZerosLike": _filled(0),
    "OnesLike": _filled(1), "Min": _reduce("ReduceMin"),
    "Max": _reduce("ReduceMax"), "Sum": _reduce("ReduceSum"),
    "Mean": _reduce("ReduceMean"), "Argmax": _arg("ArgMax"),
    "Argmin": _arg("ArgMin"), "Cumsum": _cumsum, "Transpose": _transpose,
    "Flip": _flip, "Pad": _pad, "GetItem": _get_item,
    # Layers
    "Embedding": _embedding, "Dense": _dense,
    "Conv2D": _conv2d, "MaxPooling2D": _max_pooling,
    "AveragePooling2D": _average_pooling,
    "BatchNormalization": _batch_normalization,
    "Reshape@layer": _reshape_layer,
    "GRU": _recurrent, "LSTM": _recurrent, "RNN": _recurrent,
    "ReverseSequence": _reverse_sequence,
    "Weight": _weight,
}


def _key(operation):
  import keras  # pylint: disable=g-import-not-at-top
  name = type(operation).__name__
  if isinstance(operation, keras.layers.Layer) and name == "Reshape":
    return "Reshape@layer"
  return name


def check_exportable(model):
  """Raises OnnxError listing every operation of `model` with no
  translation."""
  import keras  # pylint: disable=g-import-not-at-top
  lacking = sorted({f"{type(op).__name__} ({op.name})"
                    for op in model.operations
                    if not isinstance(op, keras.layers.InputLayer)
                    and _key(op) not in EMITTERS})
  if lacking:
    raise OnnxError(f"model {model.name!r}: no ONNX translation for "
                    f"{', '.join(lacking)}")


def _emit_nodes(e, model, values):
  """Emits every operation of functional `model` in order; `values` maps
  id(KerasTensor) -> Sym, given for the model's inputs, filled in for the
  rest."""
  import keras  # pylint: disable=g-import-not-at-top
  for depth in sorted(model._nodes_by_depth, reverse=True):  # pylint: disable=protected-access
    for node in model._nodes_by_depth[depth]:  # pylint: disable=protected-access
      operation = node.operation
      if isinstance(operation, keras.layers.InputLayer):
        continue
      args, kwargs = node.arguments.fill_in(values)
      kwargs = {k: v for k, v in kwargs.items() if k != "training"}
      names = EMITTERS[_key(operation)](e, operation, args, kwargs,
                                        node.outputs)
      if len(names) != len(node.outputs):
        raise OnnxError(f"operation {operation.name!r}: {len(names)} "
                        f"outputs for {len(node.outputs)}")
      for tensor, name in zip(node.outputs, names):
        values[id(tensor)] = (name if isinstance(name, Sym) else
                              Sym(name, tensor.dtype, tensor.shape))


def from_program(program, doc=""):
  """The ONNX model of a translated program (`tf1_program.Program`, stock
  Keras target), checked by `onnx.checker`: inputs named as the program's
  placeholders, outputs as its tensors.

  Raises:
    OnnxError: an operation without a translation, named.
  """
  return from_model(program.model, program.inputs, program.outputs, doc)


def from_model(model, inputs, outputs, doc=""):
  """The ONNX model of a functional Keras `model` of the operations in
  `EMITTERS`, checked by `onnx.checker`.

  Args:
    model: the Keras model.
    inputs: [(name, shape, dtype)] per model input: the ONNX inputs.
    outputs: a name per model output: the ONNX outputs.
    doc: the ONNX model's doc string.

  Raises:
    OnnxError: an operation without a translation, named.
  """
  check_exportable(model)
  onnx = onnx_export._onnx()  # pylint: disable=protected-access
  helper = onnx.helper
  graph = onnx_export.Graph(onnx)
  e = Emitter(onnx, graph)
  values, infos = {}, []
  for tensor, (name, shape, dtype) in zip(model.inputs, inputs):
    infos.append(_info(helper, name, e.elem(dtype), shape))
    values[id(tensor)] = Sym(name, dtype, tensor.shape)
  _emit_nodes(e, model, values)
  results = []
  for tensor, name in zip(model.outputs, outputs):
    value = values[id(tensor)]
    graph.nodes.append(helper.make_node("Identity", [value.name], [name]))
    results.append(_info(helper, name, e.elem(value.dtype), value.shape))
  onnx_graph = helper.make_graph(graph.nodes, model.name, infos, results,
                                 graph.initializers)
  result = helper.make_model(
      onnx_graph, opset_imports=[helper.make_opsetid("", onnx_export.OPSET)],
      producer_name="tf1-gru-migration", doc_string=doc)
  result.ir_version = onnx_export.IR_VERSION
  onnx.checker.check_model(result, full_check=True)
  return result


def run(model_bytes, inputs):
  """[array per output] of an ONNX model in onnxruntime (CPU), fed
  {input name: array}."""
  runner = onnx_export.session(model_bytes)
  names = [o.name for o in runner.get_outputs()]
  return runner.run(names, inputs)
