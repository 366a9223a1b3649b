"""A whole TF1 program, from the placeholders it reads to the outputs a user
names, translated into one Keras functional model.

`translate(graph, checkpoint, outputs, feeds, target)` reads the program's
own graph (its `.meta`, a `tf1_graph.ProgramGraph`) backwards from the
output tensors and translates every op on the way, once:

  placeholders   fed ones (`feeds`: a keep probability, `is_training`)
                 are constants; those with a default take it; every other
                 one the outputs need is a model input named after it
  constants      folded: anything computed from constants and fed values
                 only (a `cond` on `is_training`, shape arithmetic) is
                 computed while translating, with the same Keras ops
  variables      weights of the Keras layer their ops make (below); each is
                 read from the checkpoint once
  RNN loops      each `dynamic_rnn` while loop (`tf1_graph.Loop`) becomes
                 the converted recurrent layer of its cell's kind (the
                 kinds of `migration.kinds`, as the layer converter builds
                 them), fed batch-major, masked by its `sequence_length`,
                 started from its initial state, returning its final state
                 where the graph uses it; both directions of a weight-tied
                 bidirectional RNN call one layer
  weighted ops   `MatMul` by a variable [+ `BiasAdd`/`Add` of one] becomes
                 `Dense` (one layer per kernel, called at every step of an
                 unrolled cell); `GatherV2` of a variable or a constant,
                 `Embedding`; `Conv2D` [+ bias], `Conv2D`; fused and unfused
                 inference batch norms, `BatchNormalization` with TF1's
                 epsilon
  the rest       `ops_table()` below: the matching `keras.ops` function (stock,
                 serialized with the model; no Lambda layer), or one of the
                 project's registered layers (`tf2.program_layers`) where
                 Keras has none

Anything else is refused by name with where it is (`ProgramError`); nothing
is approximated. The result (`Program`) holds the model, its inputs, where
every converted variable went, and the variables the outputs do not read.
"""

import dataclasses
import functools

import numpy as np

from migration import errors
from migration import tf1_graph

op_name = tf1_graph.op_name
tensor_name = tf1_graph.tensor_name
_VARIABLE_OPS = ("VariableV2", "Variable", "VarHandleOp")
# (`Enter` only passes a value into a loop's body: what a check of a loop
# computes there, `tf1_program_rnn`; the loops' own outputs are translated
# whole.)
_PASS_THROUGH = ("Identity", "StopGradient", "ReadVariableOp", "Snapshot",
                 "PreventGradient", "Enter")


# Ops computing each element from the elements at the same place
# (broadcast): a variable among their operands is a `Weight`.
_ELEMENTWISE = frozenset(
    "Add AddV2 Sub Mul RealDiv Div Maximum Minimum Pow BiasAdd "
    "SquaredDifference".split())


class ProgramError(errors.ConversionError):
  """The program's graph cannot be translated (the message names the op,
  the tensor or the placeholder, and why)."""


class _Dead:
  """The value on an untaken branch of a TF1 `cond` (`Switch`)."""

  def __repr__(self):
    return "<dead branch>"


DEAD = _Dead()


class Unknown:
  """A dimension known only when the model runs: the batch size, or one
  computed from it. Arithmetic on it stays unknown."""

  def __init__(self, batch=None):
    self.batch = batch    # the tensor whose batch size it is, if it is one

  def _unknown(self, *_):
    return Unknown()

  __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _unknown
  __floordiv__ = __rfloordiv__ = __truediv__ = __rtruediv__ = _unknown
  __neg__ = _unknown

  def __repr__(self):
    return "batch" if self.batch is not None else "?"


@dataclasses.dataclass
class Partial:
  """An integer tensor (a shape, or something computed from one) whose
  entries are ints or `Unknown`s: an object array."""
  value: np.ndarray


@dataclasses.dataclass(frozen=True)
class Variable:
  """A variable read: its checkpoint name."""
  name: str


@dataclasses.dataclass
class Program:
  """A translated program.

  Attributes:
    model: the Keras functional model.
    inputs: [(placeholder op name, shape with the batch, dtype name)], in
      the model's input order.
    outputs: the output tensor names, in the model's output order.
    feeds: {placeholder op name: the value it was fixed to}.
    placements: every model weight's `mapping.Placement`: the layers
      holding a variable as it is, then the RNN layers' (through their
      kinds' tables); `mapping.to_model` and `from_model` move values and
      optimizer slots through them, both ways.
    unused: the checkpoint's variables the outputs do not read.
    not_stock: names of the layers that are the project's own.
    vocabulary: {placeholder op name: the size of the embedding its ids
      index} (probe ids must be below it).
  """
  model: object
  inputs: list
  outputs: list
  feeds: dict
  placements: list
  unused: list
  not_stock: list
  vocabulary: dict = dataclasses.field(default_factory=dict)

  def converted(self):
    return sorted({p.legacy for p in self.placements if p.legacy})


def parse_feed(graph, text):
  """{placeholder op name: numpy value} from 'NAME=VALUE[,NAME=VALUE]'
  (`--feed`), each value a scalar of the placeholder's dtype.

  Raises:
    ProgramError: a malformed item, a name that is not a placeholder, or a
      value that is not of its dtype.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  found = {}
  for item in [i.strip() for i in (text or "").split(",") if i.strip()]:
    name, sep, value = item.partition("=")
    name = op_name(name.strip())
    if not sep:
      raise ProgramError(f"--feed: {item!r} is not NAME=VALUE")
    node = graph.nodes.get(name)
    if node is None or node.op not in ("Placeholder",
                                       "PlaceholderWithDefault"):
      raise ProgramError(f"--feed: {name!r} is not a placeholder of "
                         f"{graph.path!r}")
    dtype = tf.dtypes.as_dtype(node.attr["dtype"].type).as_numpy_dtype
    value = value.strip()
    try:
      if dtype == np.bool_:
        if value.lower() not in ("true", "false", "1", "0"):
          raise ValueError(value)
        parsed = np.array(value.lower() in ("true", "1"))
      else:
        parsed = np.array(value, dtype=dtype) if np.issubdtype(
            dtype, np.floating) else np.array(int(value), dtype=dtype)
    except ValueError:
      raise ProgramError(
          f"--feed: {name!r} is a {np.dtype(dtype).name} placeholder; "
          f"{value!r} is not one") from None
    shape = [d.size for d in node.attr["shape"].shape.dim]
    if node.op == "Placeholder" and shape and not node.attr[
        "shape"].shape.unknown_rank:
      raise ProgramError(f"--feed fixes scalars; {name!r} has shape {shape}"
                         ": it is a model input")
    found[name] = parsed
  return found


# The translation ONNX is built from (`onnx_program`): stock Keras layers,
# and this project's where no stock layer computes a cell.
ONNX = "onnx"


def translate(graph, reader, outputs, feeds=None, target="tf2"):
  """The `Program` computing `outputs` of `graph`.

  Args:
    graph: the program's `tf1_graph.ProgramGraph`.
    reader: a TF checkpoint reader (`tf.train.load_checkpoint`) of the
      program's checkpoint.
    outputs: tensor names ('scope/op:0', or an op name for its output 0).
    feeds: {placeholder op name: value} (`parse_feed`).
    target: "tf2" (this project's exact layers for RNNs), "keras" (stock
      Keras RNN layers) or `ONNX` (stock where a stock layer computes the
      cell, else this project's).

  Raises:
    ProgramError: an output not in the graph, a placeholder left without a
      value, an op without a translation (all of them are listed, with
      their paths), a variable the checkpoint lacks.
  """
  return _Translator(graph, reader, feeds or {}, target).run(
      [tensor_name(o.strip()) for o in outputs])


class _Translator:
  """One translation (see `translate`)."""

  def __init__(self, graph, reader, feeds, target):
    import keras  # pylint: disable=g-import-not-at-top
    self.keras = keras
    self.graph = graph
    self.reader = reader
    self.shapes = reader.get_variable_to_shape_map()
    self.feeds = feeds
    self.target = target
    self.values = {}          # tensor name -> value
    self.inputs = []          # (op name, keras.Input, shape, dtype)
    self.layers = {}          # key -> Keras layer (shared across calls)
    self.weights = []         # (layer, [(attribute, value)])
    self.rnns = []            # (component, layer, its target)
    self.not_stock = set()
    self.batch_axis = {}      # id(KerasTensor) -> its batch axis
    self.transposed = {}      # id(KerasTensor) -> (source, perm)
    self.loops = {}           # op name of a loop's outputs -> Loop
    self._norms = {}          # op name -> `_batch_norm_at`
    self._dots = {}           # op name -> `_tensordot_at`
    self.folded = set()  # ops a layer computes (bias adds, reshapes)
    self.vocabulary = {}      # placeholder -> the vocabulary its ids index
    self.names = set()        # layer names taken
    self.branches = {}        # tensor -> {(cond predicate, branch)} it is on
    self.merged_tags = frozenset()
    self._loop_outputs()

  # The walk. ------------------------------------------------------------

  def run(self, outputs):
    for t in outputs:
      if op_name(t) not in self.graph.nodes:
        raise ProgramError(f"--outputs: {t!r} is not a tensor of "
                           f"{self.graph.path!r} (no op {op_name(t)!r})")
    # Only ops on the way to the outputs count as users (not the training
    # graph's gradients).
    self.needed = self.graph.subgraph(outputs)
    self.missing = set()
    self._walk(outputs)
    untranslated = sorted({(self.graph.nodes[n].op, n) for n in self.missing})
    if untranslated:
      listing = ", ".join(f"{op} ({n})" for op, n in untranslated[:10])
      raise ProgramError(
          f"{len(untranslated)} op(s) on the way to the outputs have no "
          f"translation: {listing}" + (
              f" and {len(untranslated) - 10} more"
              if len(untranslated) > 10 else ""))
    results = []
    for t in outputs:
      value = self.values[t]
      if value is DEAD or not self._symbolic(value):
        raise ProgramError(f"--outputs: {t!r} does not depend on any model "
                           "input (it is a constant of the graph and the "
                           "feeds)")
      results.append(value)
    return self._program(outputs, results)

  def _walk(self, outputs):
    """Translates the ops the outputs need, inputs before users."""
    todo = [(t, False) for t in reversed(outputs)]
    visiting = set()    # pushed, waiting for their inputs
    while todo:
      t, ready = todo.pop()
      if t in self.values:
        continue
      name = op_name(t)
      node = self.graph.nodes.get(name)
      if node is None:
        raise ProgramError(f"{self.graph.path!r}: {t!r} reads {name!r}, "
                           "which is not in the graph")
      needed = self._inputs_of(node)
      if not ready:
        if t in visiting:
          raise ProgramError(f"{self.graph.path!r} is not a graph that runs:"
                             f" {t!r} is computed from itself")
        visiting.add(t)
        todo.append((t, True))
        todo.extend((i, False) for i in needed if i not in self.values)
        continue
      visiting.discard(t)
      if any(i not in self.values for i in needed):
        outputs_ = None
      else:
        outputs_ = self._translate_at(node, name, needed)
      if outputs_ is None:
        self.missing.add(name)
        outputs_ = []
      if not isinstance(outputs_, list):
        outputs_ = [outputs_]
      # Every output gets a value, missing ones too: each op is translated
      # once, however many paths reach it.
      for k in range(max(len(outputs_), _output_count(node))):
        self.values.setdefault(
            f"{name}:{k}", outputs_[k] if k < len(outputs_) else _Missing())

  def _translate_at(self, node, name, needed):
    """`_translate` of `node`, and which cond branches its outputs are on
    (`branches`)."""
    tags = frozenset().union(*(self.branches.get(i, ()) for i in needed))
    if node.op == "Merge" and not any(self.values[i] is DEAD
                                      for i in needed):
      outputs_ = self._select(node, needed)
      tags = self.merged_tags
    else:
      outputs_ = self._translate(node, [self.values[i] for i in needed])
    if node.op == "Switch" and isinstance(outputs_, list) and all(
        v is not DEAD for v in outputs_):
      # A cond on a value known only when the model runs: both branches
      # are computed, and each Merge selects (`_select`).
      pred = tensor_name(node.input[1])
      self.branches[f"{name}:0"] = tags | {(pred, False)}
      self.branches[f"{name}:1"] = tags | {(pred, True)}
    elif tags:
      for k in range(_output_count(node)):
        self.branches[f"{name}:{k}"] = tags
    return outputs_

  def _select(self, node, needed):
    """A `Merge` of a cond whose predicate is known only when the model
    runs: where(pred, the true branch's value, the false one's). Both
    branches hold only pure ops (what `--verify` checks), so computing the
    untaken one changes nothing but time."""
    if len(needed) != 2:
      return None
    tags = [self.branches.get(i, frozenset()) for i in needed]
    preds = {p for p, b in tags[0] if (p, not b) in tags[1]}
    if len(preds) != 1:
      return None
    pred = preds.pop()
    first_true = (pred, True) in tags[0]
    true, false = needed if first_true else needed[::-1]
    values = [self.values[true], self.values[false]]
    if any(isinstance(v, (Variable, Partial, _Missing)) for v in values):
      return None
    self.merged_tags = (tags[0] & tags[1])
    keras = self.keras
    chosen = keras.ops.where(self.values[pred], values[0], values[1])
    self._same_batch_axis(chosen, values)
    return [chosen, _Missing()]

  def value_of(self, tensor):
    """Translates `tensor` (and what it needs) now, if not yet."""
    self._walk([tensor])

  def _inputs_of(self, node):
    """The tensors a node's translation reads: its data inputs, or for a
    loop's outputs what the loop reads."""
    loop = self.loops.get(node.name)
    if loop is not None:
      return self._loop_inputs(loop)
    if node.op in ("Placeholder", "Const") or node.op in _VARIABLE_OPS:
      return []
    norm = self._batch_norm_at(node)
    if norm is not None:
      return list(norm[:5])
    dot = self._tensordot_at(node)
    if dot is not None:
      return list(dot)
    if node.op == "PlaceholderWithDefault" and node.name not in self.feeds:
      return [tensor_name(node.input[0])]
    if node.op == "PlaceholderWithDefault":
      return []
    return [tensor_name(i) for i in node.input if not i.startswith("^")]

  def _symbolic(self, value):
    return isinstance(value, self.keras.KerasTensor)

  # One op. ---------------------------------------------------------------

  def _translate(self, node, args):
    """[value per output] or a value (output 0) of `node` given its
    inputs' values; None where it has no translation."""
    if any(isinstance(a, _Missing) for a in args):
      return _Missing()
    args = [_known(a) for a in args]
    loop = self.loops.get(node.name)
    if loop is not None:
      return self._loop(node, loop, args)
    if node.op == "Merge":
      live = [a for a in args if a is not DEAD]
      if len(live) != 1:
        return None
      return [live[0], np.array(args.index(live[0]), np.int32)]
    if node.op == "Switch":
      data, pred = args
      if self._symbolic(pred) and not pred.shape:
        return [data, data]    # both branches; see `_walk`
      if not isinstance(pred, np.ndarray):
        return None
      return [DEAD, data] if bool(pred) else [data, DEAD]
    if any(a is DEAD for a in args):
      return [DEAD] * _output_count(node)
    if node.op in ("Placeholder", "PlaceholderWithDefault"):
      return self._placeholder(node, args)
    if node.op == "Const":
      import tensorflow as tf  # pylint: disable=g-import-not-at-top
      return tf.make_ndarray(node.attr["value"].tensor)
    if node.op in _VARIABLE_OPS:
      if node.name not in self.shapes:
        raise ProgramError(
            f"the outputs read variable {node.name!r}, which the checkpoint "
            "does not hold")
      return Variable(node.name)
    if node.op in _PASS_THROUGH or node.name in self.folded:
      return args[0]
    if node.op in ("RandomUniform", "RandomUniformInt", "RandomStandardNormal",
                   "TruncatedNormal", "Multinomial"):
      return _Random(node.op)
    if any(isinstance(a, _Random) for a in args):
      return _random_test(node, args)
    norm = self._batch_norm_at(node)
    if norm is not None:
      if not self._symbolic(args[0]) or not all(
          isinstance(a, Variable) for a in args[1:]):
        return None
      return self._batch_norm(args[0], *(a.name for a in args[1:]), norm[5])
    if any(isinstance(a, Variable) for a in args):
      return self._weighted(node, args)
    if node.op in ("Shape", "Size", "Rank") and self._symbolic(args[0]) or (
        any(isinstance(a, Partial) for a in args) and node.op != "Fill" and
        not any(self._symbolic(a) for a in args)):
      return _partial_op(self, node, args)
    handler = ops_table().get(node.op)
    if handler is None:
      return None
    if not any(self._symbolic(a) for a in args):
      # Folded: the same Keras op on constants, computed now.
      result = handler(self, node, *args)
      if isinstance(result, list):
        return [np.asarray(r) for r in result]
      return result if self._symbolic(result) or result is None else (
          np.asarray(result))
    result = handler(self, node, *args)
    if isinstance(result, list):
      for r in result:
        self._same_batch_axis(r, args)
    elif result is not None:
      self._same_batch_axis(result, args)
    return result

  def _same_batch_axis(self, result, args):
    if self._symbolic(result) and id(result) not in self.batch_axis:
      axis = next((self.batch_axis.get(id(a), 0) for a in args
                   if self._symbolic(a)), 0)
      self.batch_axis[id(result)] = axis

  def _placeholder(self, node, args):
    if node.name in self.feeds:
      return self.feeds[node.name]
    if node.op == "PlaceholderWithDefault":
      return args[0]
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    shape_proto = node.attr["shape"].shape
    shape = [d.size for d in shape_proto.dim]
    if shape_proto.unknown_rank or not shape:
      raise ProgramError(
          f"placeholder {node.name!r} ({'unknown rank' if shape_proto.unknown_rank else 'a scalar'}) "
          "has no value and the outputs need it: --feed it "
          f"({node.name}=VALUE)")
    dtype = tf.dtypes.as_dtype(node.attr["dtype"].type).name
    batch_shape = tuple(None if d < 0 else d for d in shape)
    layer = self.keras.Input(batch_shape=batch_shape, dtype=dtype,
                             name=tf1_graph.layer_name(node.name))
    self.names.add(layer.name)
    self.inputs.append((node.name, layer, batch_shape, dtype))
    self.batch_axis[id(layer)] = 0
    return layer

  # Weights. --------------------------------------------------------------

  def _name(self, *candidates):
    """A layer name not taken yet: the first free candidate (graph names,
    '/' written '>'), else the last one numbered."""
    names = [tf1_graph.layer_name(c) for c in candidates]
    for name in names:
      if name not in self.names:
        self.names.add(name)
        return name
    k = 1
    while f"{names[-1]}_{k}" in self.names:
      k += 1
    self.names.add(f"{names[-1]}_{k}")
    return f"{names[-1]}_{k}"

  def _layer(self, key, make, weights):
    """The layer for `key`, made once; `weights` [(attribute, variable)]
    are loaded into it after the model is built."""
    layer = self.layers.get(key)
    if layer is None:
      layer = self.layers[key] = make()
      self.weights.append((layer, weights))
    return layer

  def _users(self, name):
    return [u for u in self.graph.consumers.get(name, []) if u in self.needed]

  def _single_user(self, node, ops):
    """The one op reading `node`'s output 0, if it is one of `ops`."""
    users = self._users(node.name)
    if len(users) == 1 and self.graph.nodes[users[0]].op in ops:
      return self.graph.nodes[users[0]]
    return None

  def _bias_after(self, node, units):
    """(the `BiasAdd`/`Add`, its bias variable [units]) where that add is
    the only user of `node`, directly or through a `Reshape` that keeps the
    last axis (`tf.layers.dense` on more than two axes: Tensordot), else
    None. Adding the bias before that reshape computes the same values."""
    adds = ("BiasAdd", "Add", "AddV2")
    user = self._single_user(node, adds + ("Reshape",))
    if user is not None and user.op == "Reshape":
      user = self._single_user(user, adds)
    if user is None:
      return None
    other = [i for i in user.input if not i.startswith("^")][1:]
    if len(other) != 1:
      return None
    variable = self.graph.variable_of(other[0])
    if variable is None or list(self.shapes.get(variable, ())) != [units]:
      return None
    return user, variable

  def _add_bias(self, found, y):
    """The bias add `found` (`_bias_after`) is in the layer: its value is
    what it reads."""
    if found is not None:
      self.folded.add(found[0].name)
    return y

  def _weighted(self, node, args):
    """Ops reading a variable: the layers that hold it."""
    symbolic = [a for a in args if self._symbolic(a)]
    if node.op == "MatMul" and len(symbolic) == 1 and isinstance(
        args[1], Variable) and not node.attr["transpose_a"].b and not (
            node.attr["transpose_b"].b):
      return self._dense(node, args[0], args[1])
    if node.op in ("GatherV2", "Gather", "ResourceGather") and isinstance(
        args[0], Variable) and _gather_axis(node, args) == 0:
      return self._embedding(args[0], args[1], node)
    if node.op == "Conv2D" and isinstance(args[1], Variable) and len(
        symbolic) == 1:
      return self._conv2d(node, args[0], args[1])
    if node.op.startswith("FusedBatchNorm") and len(symbolic) == 1 and all(
        isinstance(a, Variable) for a in args[1:5]):
      return self._fused_batch_norm(node, args)
    if node.op == "Tile" and isinstance(args[0], Variable) and isinstance(
        args[1], Partial):
      return self._tiled(args[0], args[1])
    handler = ops_table().get(node.op)
    anchor = symbolic[0] if symbolic else (
        self.inputs[0][1] if self.inputs else None)
    if node.op in _ELEMENTWISE and anchor is not None and handler:
      return handler(self, node, *[self._weight(a, anchor)
                                   if isinstance(a, Variable) else a
                                   for a in args])
    return None

  def _weight(self, variable, anchor):
    """A variable the graph uses in its own math: a `Weight` layer."""
    from tf2 import program_layers  # pylint: disable=g-import-not-at-top
    shape = tuple(int(d) for d in self.shapes[variable.name])
    layer = self._layer(
        ("weight", variable.name), lambda: program_layers.Weight(
            shape, dtype=_dtype(self, variable),
            name=self._name(variable.name)),
        [("weight", variable.name)])
    self.not_stock.add(layer.name)
    return layer(anchor)
    return None

  def _dense(self, node, x, kernel):
    keras = self.keras
    units = int(self.shapes[kernel.name][1])
    found = self._bias_after(node, units)
    if self._tensordot_at(node):
      # Its reshape back is in the layer too.
      self.folded.add(self._users(node.name)[0])
    bias = found[1] if found else None
    key = ("dense", kernel.name, bias)
    layer = self._layer(
        key, lambda: keras.layers.Dense(
            units, use_bias=bias is not None, dtype=_dtype(self, kernel),
            name=self._name(_scope_of(kernel.name, bias), kernel.name)),
        [("kernel", kernel.name)] + ([("bias", bias)] if bias else []))
    return self._add_bias(found, layer(x))

  def _embedding(self, params, ids, node):
    keras = self.keras
    shape = self.shapes[params.name]
    layer = self._layer(
        ("embedding", params.name), lambda: keras.layers.Embedding(
            int(shape[0]), int(shape[1]), dtype=_dtype(self, params),
            name=self._name(params.name)),
        [("embeddings", params.name)])
    if not self._symbolic(ids):
      raise ProgramError(f"{node.name}: a lookup of constant ids in "
                         f"{params.name!r} has no translation")
    source = _placeholder_of(self.graph, node.input[1])
    if source is not None:
      self.vocabulary[source] = min(int(shape[0]),
                                    self.vocabulary.get(source, shape[0]))
    return layer(ids)

  def _conv2d(self, node, x, kernel):
    keras = self.keras
    shape = [int(d) for d in self.shapes[kernel.name]]
    padding = node.attr["padding"].s.decode()
    layout = node.attr["data_format"].s.decode() or "NHWC"
    if padding not in ("SAME", "VALID") or layout != "NHWC":
      return None
    strides = tuple(node.attr["strides"].list.i)[1:3]
    dilations = tuple(node.attr["dilations"].list.i)[1:3] or (1, 1)
    found = self._bias_after(node, shape[3])
    bias = found[1] if found else None
    layer = self._layer(
        ("conv2d", kernel.name, bias, strides, padding, dilations),
        lambda: keras.layers.Conv2D(
            shape[3], tuple(shape[:2]), strides=strides,
            padding=padding.lower(), dilation_rate=dilations,
            use_bias=bias is not None, dtype=_dtype(self, kernel),
            name=self._name(_scope_of(kernel.name, bias), kernel.name)),
        [("kernel", kernel.name)] + ([("bias", bias)] if bias else []))
    return self._add_bias(found, layer(x))

  def _batch_norm(self, x, gamma, beta, mean, variance, epsilon):
    keras = self.keras
    layer = self._layer(
        ("batch_norm", gamma, beta, mean, variance, epsilon),
        lambda: keras.layers.BatchNormalization(
            axis=-1, epsilon=epsilon, center=beta is not None,
            scale=gamma is not None, dtype=_dtype(self, Variable(mean)),
            name=self._name(_scope_of(mean, None), mean)),
        [(a, v) for a, v in (("gamma", gamma), ("beta", beta),
                             ("moving_mean", mean),
                             ("moving_variance", variance)) if v])
    return layer(x)

  def _tiled(self, variable, multiples):
    """`tf.tile(v, [batch, 1])` of a variable [1, n] (a learned initial
    state repeated over the batch): an `Embedding` of one row, looked up
    at id 0 for every row of the batch (the same values, gathered)."""
    keras = self.keras
    shape = [int(d) for d in self.shapes[variable.name]]
    dims = list(multiples.value)
    if len(shape) != 2 or shape[0] != 1 or len(dims) != 2 or not isinstance(
        dims[0], Unknown) or dims[0].batch is None or dims[1] != 1:
      return None
    ids = _batch_filled(self, [dims[0]], np.int32(0))
    layer = self._layer(
        ("tiled", variable.name), lambda: keras.layers.Embedding(
            1, shape[1], dtype=_dtype(self, variable),
            name=self._name(variable.name)),
        [("embeddings", variable.name)])
    return layer(ids)

  def _fused_batch_norm(self, node, args):
    if node.attr["is_training"].b:
      return None      # training mode: no inference translation
    layout = node.attr["data_format"].s.decode() or "NHWC"
    if layout not in ("NHWC", "NDHWC"):
      return None
    y = self._batch_norm(args[0], args[1].name, args[2].name, args[3].name,
                         args[4].name, float(node.attr["epsilon"].f))
    return [y] + [DEAD] * (_output_count(node) - 1)

  def _tensordot_at(self, node):
    """(x, kernel) where `node` is the `MatMul` of `tf.tensordot(x, kernel,
    [[-1], [0]])` (`tf.layers.dense` on more than two axes): x transposed
    by the identity, flattened to 2-D, multiplied, and reshaped back by its
    only user. A Keras `Dense` on x computes that same `tensordot`; the
    flattening ops are never translated."""
    if node.op != "MatMul":
      return None
    if node.name not in self._dots:
      self._dots[node.name] = _match_tensordot(self.graph, node,
                                               self._users(node.name))
    return self._dots[node.name]

  def _batch_norm_at(self, node):
    """(x, gamma, beta, mean, variance, epsilon) where `node` is the last op
    of `tf.nn.batch_normalization` (as `tf.layers.batch_normalization`
    builds it for inputs of rank other than 4): y = x * (rsqrt(variance +
    eps) * gamma) + (beta - mean * that), over variables; else None. Its
    inner ops are never translated: the layer computes them."""
    if node.op not in ("Add", "AddV2"):
      return None
    if node.name not in self._norms:
      self._norms[node.name] = _match_unfused_batch_norm(self.graph, node)
    return self._norms[node.name]

  # RNN loops. ------------------------------------------------------------

  def _loop_outputs(self):
    """{op name: Loop} of every loop's gathered outputs and final states
    (TF1 control flow: `Exit_<k>`, k >= 3 for the state)."""
    for loop in self.graph.loops():
      self.loops[op_name(loop.gathered)] = loop
      for k in range(len(loop.initial_state)):
        self.loops[f"{loop.scope}/while/Exit_{k + 3}"] = loop

  def _loop_inputs(self, loop):
    transpose = self.graph.op(loop.scattered)
    reads = [tensor_name(transpose.input[0])]
    reads += [t for t in loop.initial_state if not self.graph.is_zeros(t)]
    reads += list(loop.lengths[:1])
    return reads

  def _loop(self, node, loop, args):
    """The outputs of a loop's layer: output 0 of its gather (time-major),
    or one state of its `Exit`s."""
    key = ("loop", loop.scope)
    if key not in self.layers:
      self.layers[key] = self._loop_layer(loop, args)
    outputs = self.layers[key]
    if outputs is None:
      return None
    if node.name == op_name(loop.gathered):
      # Not cancelled against the graph's transpose back: the layer's
      # output carries its mask, which Keras would pass on to the layers
      # after it, and the graph masks nothing there.
      y = self.keras.ops.transpose(outputs[0], (1, 0, 2))
      self.batch_axis[id(y)] = 1
      return y
    return outputs[1 + int(node.name.rsplit("_", 1)[1]) - 3]

  def _loop_layer(self, loop, args):
    from migration import tf1_program_rnn  # pylint: disable=g-import-not-at-top
    return tf1_program_rnn.loop_layer(self, loop, args)

  # The model. ------------------------------------------------------------

  def _program(self, outputs, results):
    from migration import tf1_program_rnn  # pylint: disable=g-import-not-at-top
    keras = self.keras
    inputs = [layer for _, layer, _, _ in self.inputs]
    model = keras.Model(inputs, results, name="tf1_program")
    from migration import mapping  # pylint: disable=g-import-not-at-top
    placements = [mapping.Placement(variable, getattr(layer, attribute), (),
                                    False)
                  for layer, weights in self.weights
                  for attribute, variable in weights]
    mapping.to_model({p.legacy: self.reader.get_tensor(p.legacy)
                      for p in placements}, placements)
    placements += tf1_program_rnn.load(self, model)
    read = {p.legacy for p in placements if p.legacy}
    return Program(model,
                   [(n, s, d) for n, _, s, d in self.inputs],
                   list(outputs), dict(self.feeds), placements,
                   sorted(set(self.shapes) - read), sorted(self.not_stock),
                   dict(self.vocabulary))


class _Random:
  """Values a random op draws when the model runs: only a comparison that
  holds for every draw has a translation (`_random_test`)."""

  def __init__(self, op):
    self.op = op


def _random_test(node, args):
  """`uniform >= rate` with `rate <= 0` (dropout at keep probability 1,
  as TF 2's `tf.nn.dropout` builds it): True for every draw of a
  `RandomUniform`, in [0, 1). None for anything else random."""
  if node.op == "GreaterEqual" and isinstance(args[0], _Random) and (
      args[0].op == "RandomUniform") and isinstance(args[1], np.ndarray) and (
          np.all(args[1] <= 0)):
    return np.array(True)
  return None


def _known(value):
  """A `Partial` without unknown entries as an int32 array."""
  if isinstance(value, Partial) and not any(
      isinstance(v, Unknown) for v in np.ravel(value.value)):
    return np.asarray(value.value.tolist(), dtype=np.int32)
  return value


class _Missing:
  """The value of an op without a translation (reported at the end)."""


def _placeholder_of(graph, tensor):
  """The placeholder whose values `tensor` is, reshaped or cast, or None."""
  node = graph.nodes.get(op_name(tensor))
  seen = set()
  while node is not None and node.name not in seen:
    seen.add(node.name)
    if node.op == "Placeholder":
      return node.name
    if node.op not in _PASS_THROUGH + ("Reshape", "Cast", "Transpose",
                                       "Squeeze", "ExpandDims", "Unpack",
                                       "StridedSlice", "Switch", "Merge"):
      return None
    node = graph.nodes.get(op_name(node.input[0]))
  return None


def _output_count(node):
  counts = {"Split": lambda n: n.attr["num_split"].i,
            "SplitV": lambda n: n.attr["num_split"].i,
            "Unpack": lambda n: n.attr["num"].i,
            "Switch": lambda n: 2, "Merge": lambda n: 2,
            "FusedBatchNorm": lambda n: 5, "FusedBatchNormV2": lambda n: 5,
            "FusedBatchNormV3": lambda n: 6, "TopKV2": lambda n: 2}
  return counts.get(node.op, lambda n: 1)(node)


def _scope_of(kernel, bias):
  """The layer's name: the variables' common scope, or the kernel's name."""
  if bias is None:
    parent = kernel.rpartition("/")[0]
    return parent or kernel
  common = []
  for a, b in zip(kernel.split("/"), bias.split("/")):
    if a != b:
      break
    common.append(a)
  return "/".join(common) or kernel


def _dtype(translator, variable):
  return np.dtype(translator.reader.get_variable_to_dtype_map()[
      variable.name].as_numpy_dtype).name


def _gather_axis(node, args):
  if node.op == "GatherV2":
    axis = args[2]
    return int(axis) if isinstance(axis, np.ndarray) else None
  return 0


def _match_tensordot(graph, node, users):
  """See `_Translator._tensordot_at` (`users`: the node's, on the way to
  the outputs)."""
  def data(n):
    return [i for i in n.input if not i.startswith("^")]

  if node.attr["transpose_a"].b or node.attr["transpose_b"].b:
    return None
  flat = graph.nodes.get(op_name(data(node)[0]))
  if flat is None or flat.op != "Reshape" or len(users) != 1 or (
      graph.nodes[users[0]].op != "Reshape"):
    return None
  moved = graph.nodes.get(op_name(data(flat)[0]))
  if moved is None or moved.op != "Transpose":
    return None
  perm = graph.nodes.get(op_name(data(moved)[1]))
  if perm is None or perm.op not in ("Const", "ConcatV2"):
    return None
  value = graph._constant_vector(data(moved)[1])  # pylint: disable=protected-access
  if value is None or list(value) != list(range(len(value))):
    return None
  return tensor_name(data(moved)[0]), tensor_name(data(node)[1])


def _match_unfused_batch_norm(graph, node):
  """(x, gamma, beta, mean, variance tensors, epsilon) if `node` is the
  last op of `tf.nn.batch_normalization`'s formula, else None."""
  def data(n):
    return [i for i in n.input if not i.startswith("^")]

  def op(t):
    return graph.nodes.get(op_name(t))

  if node.op not in ("Add", "AddV2"):
    return None
  first, second = (op(t) for t in data(node))
  if first is None or second is None or first.op != "Mul" or (
      second.op != "Sub"):
    return None
  x, scale = data(first)
  scale_node = op(scale)
  if scale_node is None or scale_node.op != "Mul":
    return None
  inv, gamma = data(scale_node)
  inv_node = op(inv)
  if inv_node is None or inv_node.op != "Rsqrt":
    return None
  added = op(data(inv_node)[0])
  if added is None or added.op not in ("Add", "AddV2"):
    return None
  variance, eps = data(added)
  eps_value = graph.op_sets()[0].constant(eps)
  beta, shifted = data(second)
  shifted_node = op(shifted)
  if shifted_node is None or shifted_node.op != "Mul":
    return None
  mean, scale_again = data(shifted_node)
  if op_name(scale_again) != op_name(scale) or eps_value is None:
    return None
  return tuple(tensor_name(t) for t in (x, gamma, beta, mean, variance)) + (
      eps_value,)


# Ops on partly known integer tensors (shapes). ----------------------------

def _partial_op(translator, node, args):
  """Shape arithmetic where some entries are known only at run time."""
  def arr(a):
    if isinstance(a, Partial):
      return a.value
    if isinstance(a, np.ndarray):
      return a.astype(object)
    return None

  op = node.op
  if op == "Shape":
    value = args[0]
    axis = translator.batch_axis.get(id(value), 0)
    dims = [Unknown(batch=value if i == axis else None) if d is None
            else int(d)
            for i, d in enumerate(value.shape)]
    return Partial(np.array(dims + [0], dtype=object)[:-1])
  if op == "Size" or op == "Rank":
    if op == "Rank":
      return np.array(len(args[0].shape), np.int32)
    return Partial(np.array(Unknown(), dtype=object))
  values = [arr(a) for a in args]
  if any(v is None for v in values):
    return None
  if op == "StridedSlice":
    return _strided_slice(node, values)
  if op == "Pack":
    return Partial(_object_stack(values, node.attr["axis"].i))
  if op == "ConcatV2":
    return Partial(np.concatenate(values[:-1], axis=int(values[-1])))
  if op in ("Mul", "Add", "AddV2", "Sub", "FloorDiv"):
    f = {"Mul": np.multiply, "Add": np.add, "AddV2": np.add,
         "Sub": np.subtract, "FloorDiv": np.floor_divide}[op]
    return Partial(f(values[0], values[1]))
  if op == "Prod":
    axis = values[1]
    return Partial(np.array(np.prod(values[0], axis=tuple(
        int(a) for a in np.atleast_1d(axis))), dtype=object))
  if op == "GatherV2" and int(values[2]) == 0:
    return Partial(values[0][values[1].astype(np.int64)])
  if op in _PASS_THROUGH or op == "Cast":
    return Partial(values[0])
  if op == "Unpack" and int(node.attr["axis"].i) == 0:
    return [Partial(np.array(v, dtype=object)) for v in values[0]]
  if op == "ExpandDims":
    return Partial(np.expand_dims(values[0], int(values[1])))
  return None


def _object_stack(values, axis):
  out = np.empty((len(values),) + np.shape(values[0]), dtype=object)
  for i, v in enumerate(values):
    v = np.asarray(v, dtype=object)
    out[i] = v.item() if v.ndim == 0 else v
  return np.moveaxis(out, 0, axis)


def _strided_slice(node, values):
  value, begin, end, strides = values
  if value.ndim != 1 or len(begin) != 1:
    return None
  attr = node.attr
  b = None if attr["begin_mask"].i & 1 else int(begin[0])
  e = None if attr["end_mask"].i & 1 else int(end[0])
  s = int(strides[0])
  if attr["shrink_axis_mask"].i & 1:
    return Partial(np.array(value[int(begin[0])], dtype=object))
  if attr["ellipsis_mask"].i or attr["new_axis_mask"].i:
    return None
  return Partial(value[b:e:s])


def reshape_target(translator, x, target):
  """A Reshape's target for Keras: ('layer', dims without the batch) when
  it keeps the batch axis first, else ('op', dims with one -1)."""
  if isinstance(target, np.ndarray):
    dims = [int(d) for d in target]
  else:
    dims = list(target.value)
  if not isinstance(target, np.ndarray) and isinstance(
      dims[0], Unknown) and dims[0].batch is not None and translator.batch_axis.get(
          id(x), 0) == 0:
    rest = [-1 if isinstance(d, Unknown) else int(d) for d in dims[1:]]
    if rest.count(-1) <= 1:
      return "layer", rest
    return None
  flat = [-1 if isinstance(d, Unknown) else int(d) for d in dims]
  if flat.count(-1) <= 1:
    return "op", flat
  return None


# Ops with a Keras translation: op type -> f(translator, node, *inputs). ---

def _ops():
  from keras import ops  # pylint: disable=g-import-not-at-top

  def unary(f):
    return lambda t, n, x: f(x)

  def binary(f):
    return lambda t, n, a, b: f(a, b)

  def reshape(t, n, x, shape):
    if not t._symbolic(x):  # pylint: disable=protected-access
      return np.reshape(x, [int(d) for d in shape])
    found = reshape_target(t, x, shape)
    if found is None:
      return None
    how, dims = found
    if how == "layer":
      return t.keras.layers.Reshape(tuple(dims))(x)
    return ops.reshape(x, dims)

  def transpose(t, n, x, perm):
    perm = tuple(int(p) for p in perm)
    if t._symbolic(x):  # pylint: disable=protected-access
      source = t.transposed.get(id(x))
      if source is not None and tuple(np.argsort(source[1])) == perm:
        return source[0]
    y = ops.transpose(x, perm)
    if t._symbolic(x):  # pylint: disable=protected-access
      t.batch_axis[id(y)] = perm.index(t.batch_axis.get(id(x), 0))
      t.transposed[id(y)] = (x, perm)
    return y

  def concat(t, n, *args):
    return ops.concatenate(list(args[:-1]), axis=int(args[-1]))

  def split(t, n, axis, x):
    return list(ops.split(x, int(n.attr["num_split"].i), axis=int(axis)))

  def unpack(t, n, x):
    return list(ops.unstack(x, num=int(n.attr["num"].i),
                            axis=int(n.attr["axis"].i)))

  def pack(t, n, *args):
    return ops.stack(list(args), axis=int(n.attr["axis"].i))

  def reduction(f):
    def reduce_(t, n, x, axis):
      return f(x, axis=tuple(int(a) for a in np.atleast_1d(axis)),
               keepdims=bool(n.attr["keep_dims"].b))
    return reduce_

  def argmax(t, n, x, axis):
    dtype = _numpy_dtype(n.attr["output_type"].type) or "int64"
    return ops.cast(ops.argmax(x, axis=int(axis)), dtype)

  def cast(t, n, x):
    return ops.cast(x, _numpy_dtype(n.attr["DstT"].type))

  def squeeze(t, n, x):
    dims = tuple(n.attr["squeeze_dims"].list.i)
    return ops.squeeze(x, axis=dims if dims else None)

  def expand_dims(t, n, x, axis):
    return ops.expand_dims(x, int(axis))

  def fill(t, n, dims, value):
    if isinstance(dims, np.ndarray):
      return np.full([int(d) for d in dims], value)
    return _batch_filled(t, list(dims.value), value)

  def pad(t, n, x, paddings):
    return ops.pad(x, np.asarray(paddings).tolist())

  def softmax(t, n, x):
    return ops.softmax(x, axis=-1)

  def log_softmax(t, n, x):
    return ops.log_softmax(x, axis=-1)

  def gather(t, n, params, indices, axis=np.array(0)):
    return ops.take(params, indices, axis=int(axis))

  def select(t, n, cond, a, b):
    rank = max(len(np.shape(a)), len(np.shape(b)))
    if n.op == "Select" and len(np.shape(cond)) == 1 and rank > 1:
      # TF1's Select picks whole rows by a vector condition.
      cond = ops.reshape(cond, [-1] + [1] * (rank - 1))
    return ops.where(cond, a, b)

  def tile(t, n, x, multiples):
    return ops.tile(x, [int(m) for m in multiples])

  def range_(t, n, start, limit, delta):
    return np.arange(start, limit, delta)

  def reverse_v2(t, n, x, axis):
    return ops.flip(x, axis=tuple(int(a) for a in np.atleast_1d(axis)))

  def reverse_sequence(t, n, x, lengths):
    import tf2  # pylint: disable=g-import-not-at-top
    if (n.attr["seq_dim"].i, n.attr["batch_dim"].i) != (1, 0):
      return None
    layer = tf2.ReverseSequence(name=t._name(n.name))  # pylint: disable=protected-access
    t.not_stock.add(layer.name)
    return layer(x, sequence_lengths=lengths)

  def strided_slice(t, n, x, begin, end, strides):
    if not t._symbolic(x):  # pylint: disable=protected-access
      return None
    key = _slice_key(n, begin, end, strides)
    return None if key is None else x[key]

  def pool(t, n, x):
    if (n.attr["data_format"].s.decode() or "NHWC") != "NHWC":
      return None
    size = tuple(n.attr["ksize"].list.i)
    strides = tuple(n.attr["strides"].list.i)
    if len(size) != 4 or size[0] != 1 or size[3] != 1 or strides[0] != 1 or (
        strides[3] != 1):
      return None
    layer = (t.keras.layers.MaxPooling2D if n.op == "MaxPool" else
             t.keras.layers.AveragePooling2D)
    return layer(size[1:3], strides=strides[1:3],
                 padding=n.attr["padding"].s.decode().lower(),
                 name=t._name(n.name))(x)  # pylint: disable=protected-access

  def squared_difference(t, n, a, b):
    return ops.square(ops.subtract(a, b))

  def zeros_like(t, n, x):
    return ops.zeros_like(x)

  def ones_like(t, n, x):
    return ops.ones_like(x)

  return {
      "Tanh": unary(ops.tanh), "Sigmoid": unary(ops.sigmoid),
      "Relu": unary(ops.relu), "Relu6": unary(ops.relu6),
      "Elu": unary(ops.elu), "Selu": unary(ops.selu),
      "Softplus": unary(ops.softplus), "Exp": unary(ops.exp),
      "Log": unary(ops.log), "Neg": unary(ops.negative),
      "Sqrt": unary(ops.sqrt), "Rsqrt": unary(ops.rsqrt),
      "Square": unary(ops.square), "Abs": unary(ops.abs),
      "Sign": unary(ops.sign), "Reciprocal": unary(ops.reciprocal),
      "Floor": unary(ops.floor), "LogicalNot": unary(ops.logical_not),
      "Add": binary(ops.add), "AddV2": binary(ops.add),
      "Sub": binary(ops.subtract), "Mul": binary(ops.multiply),
      "RealDiv": binary(ops.divide), "Div": binary(ops.divide),
      "FloorDiv": binary(ops.floor_divide), "Maximum": binary(ops.maximum),
      "Minimum": binary(ops.minimum), "Pow": binary(ops.power),
      "Equal": binary(ops.equal), "NotEqual": binary(ops.not_equal),
      "Less": binary(ops.less), "LessEqual": binary(ops.less_equal),
      "Greater": binary(ops.greater),
      "GreaterEqual": binary(ops.greater_equal),
      "LogicalAnd": binary(ops.logical_and),
      "LogicalOr": binary(ops.logical_or),
      "MatMul": lambda t, n, a, b: ops.matmul(
          ops.transpose(a) if n.attr["transpose_a"].b else a,
          ops.transpose(b) if n.attr["transpose_b"].b else b),
      "BatchMatMulV2": lambda t, n, a, b: ops.matmul(
          ops.swapaxes(a, -1, -2) if n.attr["adj_x"].b else a,
          ops.swapaxes(b, -1, -2) if n.attr["adj_y"].b else b),
      "BiasAdd": binary(ops.add),
      "SquaredDifference": squared_difference,
      "Reshape": reshape, "Transpose": transpose, "ConcatV2": concat,
      "Split": split, "Unpack": unpack, "Pack": pack,
      "Mean": reduction(ops.mean), "Sum": reduction(ops.sum),
      "Max": reduction(ops.max), "Min": reduction(ops.min),
      "Prod": reduction(ops.prod),
      "ArgMax": argmax, "Cast": cast, "Squeeze": squeeze,
      "ExpandDims": expand_dims, "Fill": fill, "Pad": pad,
      "Softmax": softmax, "LogSoftmax": log_softmax,
      "GatherV2": gather, "Select": select, "SelectV2": select,
      "Tile": tile, "Range": range_, "ReverseV2": reverse_v2,
      "ReverseSequence": reverse_sequence, "ZerosLike": zeros_like,
      "OnesLike": ones_like, "StridedSlice": strided_slice,
      "MaxPool": pool, "AvgPool": pool,
  }


def _slice_key(node, begin, end, strides):
  """A `StridedSlice`'s Python indexing key (no ellipsis or new axes), or
  None."""
  attr = node.attr
  if attr["ellipsis_mask"].i or attr["new_axis_mask"].i:
    return None
  key = []
  for i, (b, e, s) in enumerate(zip(begin, end, strides)):
    if attr["shrink_axis_mask"].i >> i & 1:
      key.append(int(b))
      continue
    key.append(slice(None if attr["begin_mask"].i >> i & 1 else int(b),
                     None if attr["end_mask"].i >> i & 1 else int(e),
                     int(s)))
  return tuple(key)


def _batch_filled(translator, dims, value):
  """`tf.fill(dims, value)` where dims[0] is a batch size (`cell.zero_state`
  of a batch the model runs with) and the rest are known: `value` in the
  shape of that batch, built from its tensor's `zeros_like` (which reads no
  value of it); None otherwise."""
  from keras import ops  # pylint: disable=g-import-not-at-top
  first = dims[0]
  if not isinstance(first, Unknown) or first.batch is None or any(
      isinstance(d, Unknown) for d in dims[1:]):
    return None
  source = first.batch
  axis = translator.batch_axis.get(id(source), 0)
  column = ops.zeros_like(source)
  for i in reversed(range(len(source.shape))):
    if i != axis:
      column = ops.take(column, 0, axis=i)
  shaped = ops.reshape(column, [-1] + [1] * (len(dims) - 1))
  tiled = ops.tile(shaped, [1] + [int(d) for d in dims[1:]])
  filled = ops.full_like(tiled, value, dtype=np.asarray(value).dtype.name)
  translator.batch_axis[id(filled)] = 0
  return filled


def _numpy_dtype(enum):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if not enum:
    return None
  return tf.dtypes.as_dtype(enum).name


@functools.lru_cache(maxsize=None)
def ops_table():
  """{op type: f(translator, node, *inputs)}: every op with a Keras
  translation, made once, on first use (it imports Keras)."""
  return _ops()
