"""A TF1 program's own graph (the `.meta` its `Saver` wrote), read and never
trusted.

`read(path)` parses the MetaGraphDef with TensorFlow's protobuf classes; no
op is imported or run. From its nodes, `ProgramGraph` finds:

  loops            each `dynamic_rnn` loop, in TF1 control flow (`Enter`
                   nodes in a while frame, as TF 1.x and programs run with
                   `disable_v2_behavior` write it) or TF2's (a `While` op
                   whose body is a function of the graph's library, as TF1
                   code run on TF 2.x writes it): the cell variables it
                   reads, the
                   tensor scattered into its input TensorArray (and so the
                   layer's input, before `bidirectional_dynamic_rnn`
                   reverses it for the backward direction), the tensor
                   gathered from its output TensorArray (and the layer's
                   output, reversed back), and its initial state
  unrolled steps   a cell a program calls once per step outside any loop
                   (`static_rnn`, `rnn_decoder`): each step's input and
                   state, in order
  step counters    scalar integer variables the program's optimizer
                   increments (`AssignAdd` by a constant)
  between          the ops on the way from one layer's output to the next
                   layer's input (a stack is only what the graph wires)
  subgraph         the nodes that computing some tensors from others needs

and `check_safe` refuses, by name, any op outside `PURE_OPS` in a subgraph,
or in a function its loops call, before anything of it runs: a `.meta` is a program, from the user's past or
from someone else, and `--verify` runs only pure computation of it.
"""

import dataclasses
import gzip
import re

from migration import errors

# Ops that compute values from values (and control flow, variables,
# TensorArrays and TensorLists, which only hold them): what `--verify` may run of a
# program's graph. Random draws (dropout) are among them: they only compute,
# and a program whose outputs depend on them differs from its converted
# model, which --verify then reports. Anything else (file I/O,
# Save/Restore, PyFunc, queues and readers, Print, custom ops) is refused by
# name.
PURE_OPS = frozenset("""
Abs Add AddN AddV2 All Any ArgMax ArgMin Assert AvgPool BatchMatMul
BatchMatMulV2 BatchMatMulV3 BiasAdd BlockLSTM BlockLSTMV2 BroadcastArgs
BroadcastTo Cast Ceil CheckNumerics Concat ConcatOffset ConcatV2 Const
Conv1D Conv2D Conv3D Cos Cumsum DepthwiseConv2dNative Diag Div DivNoNan
Elu EmptyTensorList Enter Equal Erf Exit Exp ExpandDims Fill Floor FloorDiv FloorMod
FusedBatchNorm FusedBatchNormV2 FusedBatchNormV3 Gather GatherNd GatherV2
Greater GreaterEqual GRUBlockCell Identity IdentityN InvertPermutation
IsFinite L2Loss LeakyRelu Less LessEqual Log Log1p LogSoftmax LogicalAnd
LogicalNot LogicalOr LoopCond LSTMBlockCell MatMul Max MaxPool MaxPoolV2
Maximum Mean Merge Min Minimum Mod Mul Neg NextIteration NoOp NotEqual
OneHot OnesLike Pack Pad PadV2 Placeholder PlaceholderWithDefault Pow Prod
RandomStandardNormal RandomUniform Range Rank ReadVariableOp RealDiv Reciprocal Relu Relu6 Reshape
ResourceGather ReverseSequence ReverseV2 Round Rsqrt Select SelectV2 Selu
Shape ShapeN Sigmoid Sign Sin Size Slice Softmax Softplus Softsign Split
SplitV Sqrt Square SquaredDifference Squeeze StopGradient StridedSlice
StatelessWhile Sub Sum Switch Tanh TensorArrayGatherV3 TensorArrayReadV3
TensorArrayScatterV3 TensorArraySizeV3 TensorArrayV3 TensorArrayWriteV3
TensorListElementShape TensorListFromTensor TensorListGetItem
TensorListLength TensorListPopBack TensorListPushBack TensorListReserve
TensorListSetItem TensorListStack Tile
TopKV2 Transpose Unpack VarHandleOp VariableV2 Where While ZerosLike
""".split())
_WHILE_OPS = ("While", "StatelessWhile")   # TF2 loops: body in the library
_IDENTITY_OPS = ("Identity", "ReadVariableOp", "Enter", "Switch")
_VARIABLE_OPS = ("VariableV2", "Variable", "VarHandleOp")
_INTEGER_TYPES = (3, 9)        # DT_INT32, DT_INT64 (types.proto)


class GraphError(errors.ConversionError):
  """A `.meta` that cannot be read, or whose needed ops are not pure."""


class UnsafeGraph(errors.ConversionError):
  """Computing what `--verify` needs would run an op that is not pure
  computation (file I/O, Save/Restore, PyFunc, queues, custom ops)."""


class NotTheProgram(errors.ConversionError):
  """A converted model that is not wired as the program's graph wires its
  layers: verification against that graph fails."""


def meta_path(prefix):
  """The `.meta` TF1's Saver writes beside a checkpoint prefix."""
  return f"{prefix}.meta"


def read(path):
  """The `ProgramGraph` of the MetaGraphDef at `path` (gzipped or not).

  Raises:
    GraphError: the file is not a MetaGraphDef.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  meta = tf.compat.v1.MetaGraphDef()
  try:
    with open(path, "rb") as f:
      data = f.read()
    if data[:2] == b"\x1f\x8b":
      data = gzip.decompress(data)
    meta.ParseFromString(data)
  except Exception as e:  # pylint: disable=broad-except
    # protobuf raises DecodeError, or RuntimeWarning-like errors: one line.
    raise GraphError(f"{path!r} is not a TF1 MetaGraphDef "
                     f"({type(e).__name__}: {e})") from e
  return ProgramGraph(meta.graph_def.node, path,
                      meta.graph_def.library.function)


def tensor_name(name):
  """'op' -> 'op:0'; 'op:1' stays; '^op' (a control input) -> None."""
  if name.startswith("^"):
    return None
  return name if ":" in name else f"{name}:0"


def layer_name(name):
  """A graph name (a cell's path, a variable's, an op's) as a Keras layer
  name: '/' written '>' (a valid TensorFlow scope name, as `predict`
  needs)."""
  return name.replace("/", ">")


def op_name(tensor):
  return tensor.lstrip("^").split(":")[0]


@dataclasses.dataclass
class Loop:
  """One `dynamic_rnn` while loop of the program.

  Attributes:
    scope: the loop's name scope ("bidirectional_rnn/fw/fw").
    variables: the variables its body reads (checkpoint names).
    scattered: the time-major tensor its input TensorArray is filled from.
    layer_input: the batch-major tensor the layer reads (before a backward
      direction's reversal).
    gathered: the time-major tensor its output TensorArray is stacked into.
    layer_output: the batch-major output (reversed back for a backward
      direction).
    reversed: whether the loop runs over the reversed sequence.
    initial_state: the tensors its state loop variables start from (one
      for a GRU; c and h for an LSTM).
    lengths: the tensors that carry `sequence_length` into it (dynamic_rnn's
      `sequence_length` identity, the reversals' lengths).
  """
  scope: str
  variables: frozenset
  scattered: str
  layer_input: str
  gathered: str
  layer_output: str
  reversed: bool
  initial_state: tuple = ()
  lengths: tuple = ()


@dataclasses.dataclass
class Unrolled:
  """A cell the program calls once per step, outside any loop (`static_rnn`,
  `static_bidirectional_rnn`, `legacy_seq2seq.rnn_decoder`).

  Attributes:
    variables: the cell's variables (checkpoint names).
    inputs: per step, in the order the cell runs them, the tensor the step
      reads as its input.
    states: per step, the tensor it reads as its state: the first is the
      initial state, each other the previous step's output (so the outputs
      of every step but the last).
    scope: where the first step's ops are.
  """
  variables: frozenset
  inputs: tuple
  states: tuple
  scope: str


@dataclasses.dataclass
class Ops:
  """Ops that may read a variable: the graph's own, or a TF2 loop body's,
  whose inputs are written `op:index` here as in a graph, and whose
  arguments read what the loop passes in.

  Attributes:
    nodes: {name: NodeDef}.
    consumers: {op name: names of the ops reading its outputs}.
    variable_of: tensor name -> the checkpoint name it reads, or None.
  """
  nodes: dict
  consumers: dict
  variable_of: object

  def constant(self, tensor):
    """A scalar `Const`'s value as a float, or None."""
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    node = self.nodes.get(op_name(tensor))
    if node is None or node.op != "Const":
      return None
    value = tf.make_ndarray(node.attr["value"].tensor)
    # The shortest decimal of the constant's own dtype (a float32 0.3 is
    # 0.3, not 0.30000001192092896): the same value in that dtype.
    return float(str(value.reshape(-1)[0])) if value.size == 1 else None


class ProgramGraph:
  """A program's graph, as nodes (NodeDef protos), read only."""

  def __init__(self, nodes, path="<graph>", functions=()):
    self.path = path
    self.nodes = {n.name: n for n in nodes}
    self.functions = {f.signature.name: f for f in functions}
    self._op_sets = None
    self.consumers = {}
    for node in nodes:
      for name in node.input:
        self.consumers.setdefault(op_name(name), []).append(node.name)

  def op(self, tensor):
    return self.nodes[op_name(tensor)]

  def dtype_of(self, tensor):
    """The numpy dtype of an op's output 0 ("T" or "dtype" attr)."""
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    node = self.op(tensor)
    for key in ("T", "dtype", "DstT"):
      if key in node.attr:
        return tf.dtypes.as_dtype(node.attr[key].type).as_numpy_dtype
    raise GraphError(f"{self.path!r}: the type of {tensor!r} is unknown")

  def variable_of(self, tensor):
    """The variable a tensor reads (through Identity, reads and loop
    entries), or None."""
    seen = set()
    node = self.nodes.get(op_name(tensor))
    while node is not None and node.name not in seen:
      seen.add(node.name)
      if node.op in _VARIABLE_OPS:
        return node.name
      if node.op not in _IDENTITY_OPS or not node.input:
        return None
      node = self.nodes.get(op_name(node.input[0]))
    return None

  def ops_under(self, scope):
    """The op types of every node under a name scope, and of the functions
    they call (a loop's body)."""
    names = [n for n in self.nodes if n.startswith(scope + "/")]
    return {self.nodes[n].op for n in names} | {
        node.op for function in self.functions_of(names)
        for node in self.functions[function].node_def}

  def functions_of(self, names):
    """The library functions that the nodes `names` call (a `While`'s body
    and condition), and those that those call, sorted."""
    found, todo = set(), [self.nodes[n] for n in names]
    while todo:
      for called in _called(todo.pop()):
        if called not in found:
          if called not in self.functions:
            raise GraphError(f"{self.path!r} calls a function it does not "
                             f"define: {called!r}")
          found.add(called)
          todo.extend(self.functions[called].node_def)
    return sorted(found)

  def op_sets(self):
    """The graph's own `Ops`, then each TF2 loop body's (made once)."""
    if self._op_sets is not None:
      return self._op_sets
    found = [Ops(self.nodes, self.consumers, self.variable_of)]
    for name in sorted(self.nodes):
      node = self.nodes[name]
      body = (self.functions.get(node.attr["body"].func.name)
              if node.op in _WHILE_OPS else None)
      if body is not None:
        found.append(self._body_ops(node, body))
    self._op_sets = found
    return found

  def _body_ops(self, node, body):
    arguments = {a.name: i for i, a in enumerate(body.signature.input_arg)}
    nodes, consumers = {}, {}
    for inner in body.node_def:
      copy = type(inner)()
      copy.CopyFrom(inner)
      del copy.input[:]
      for name in inner.input:
        parts = name.split(":")
        copy.input.append(f"{parts[0]}:{parts[2]}" if len(parts) == 3
                          else name)
        consumers.setdefault(op_name(name), []).append(inner.name)
      nodes[inner.name] = copy

    def variable_of(tensor, seen=()):
      name = op_name(tensor)
      if name in arguments:
        return self.variable_of(node.input[arguments[name]])
      inner = nodes.get(name)
      if (inner is None or inner.op not in _IDENTITY_OPS or not inner.input
          or name in seen):
        return None
      return variable_of(inner.input[0], seen + (name,))

    return Ops(nodes, consumers, variable_of)

  def variables(self):
    """Names of every variable node."""
    return sorted(n for n, node in self.nodes.items()
                  if node.op in _VARIABLE_OPS)

  def loops(self):
    """Every `dynamic_rnn` loop that reads variables, by scope."""
    frames = {}
    for node in self.nodes.values():
      if node.op != "Enter":
        continue
      frame = node.attr["frame_name"].s.decode()
      variable = self.variable_of(node.input[0])
      entry = frames.setdefault(frame, set())
      if variable is not None:
        entry.add(variable)
    scopes = {frame[:frame.rindex("/while/")]: variables
              for frame, variables in frames.items()
              if variables and "/while/" in frame}
    for node in self.nodes.values():
      if node.op in _WHILE_OPS and node.name.endswith("/while"):
        variables = {self.variable_of(i) for i in node.input} - {None}
        if variables:
          scopes[node.name[:-len("/while")]] = variables
    found = []
    for scope, variables in sorted(scopes.items()):
      loop = self._loop(scope, frozenset(variables))
      if loop is not None:
        found.append(loop)
    return found

  def _loop(self, scope, variables):
    v2 = self.nodes.get(f"{scope}/while")
    v2 = v2 if v2 is not None and v2.op in _WHILE_OPS else None
    if v2 is None:     # TF1 control flow: TensorArrays
      scatter = self.nodes.get(f"{scope}/TensorArrayUnstack/"
                               "TensorArrayScatter/TensorArrayScatterV3")
      gather = self.nodes.get(f"{scope}/TensorArrayStack/TensorArrayGatherV3")
      value = 2
    else:              # TF2's: TensorLists
      scatter = self.nodes.get(f"{scope}/TensorArrayUnstack/"
                               "TensorListFromTensor")
      gather = self.nodes.get(f"{scope}/TensorArrayV2Stack/TensorListStack")
      value = 0
    if scatter is None or gather is None:
      return None
    scattered = tensor_name(scatter.input[value])
    gathered = f"{gather.name}:0"
    layer_input = self._before_transpose(scattered)
    layer_output = self._after_transpose(gathered)
    if layer_input is None or layer_output is None:
      return None     # not dynamic_rnn's time-major transposes
    reversed_ = False
    lengths = []
    if f"{scope}/sequence_length" in self.nodes:
      lengths.append(f"{scope}/sequence_length:0")
    source = self.nodes.get(op_name(layer_input))
    if source is not None and source.op in ("ReverseSequence", "ReverseV2"):
      reversed_ = True
      layer_input = tensor_name(source.input[0])
      back = [c for c in self.consumers.get(op_name(layer_output), [])
              if self.nodes[c].op in ("ReverseSequence", "ReverseV2")]
      if len(back) == 1:
        layer_output = f"{back[0]}:0"
      for node in [source] + [self.nodes[c] for c in back]:
        if node.op == "ReverseSequence":
          lengths.append(tensor_name(node.input[1]))
    return Loop(scope, variables, scattered, layer_input, gathered,
                layer_output, reversed_,
                self._initial_state(scope) if v2 is None else
                self._while_initial_state(v2),
                tuple(dict.fromkeys(lengths)))

  def _before_transpose(self, tensor):
    """The batch-major tensor dynamic_rnn transposed into `tensor`."""
    node = self.nodes.get(op_name(tensor))
    if node is not None and node.op == "Transpose":
      return tensor_name(node.input[0])
    return None

  def _after_transpose(self, tensor):
    """The batch-major transpose of dynamic_rnn's time-major output."""
    users = [c for c in self.consumers.get(op_name(tensor), [])
             if self.nodes[c].op == "Transpose"]
    return f"{users[0]}:0" if len(users) == 1 else None

  def _initial_state(self, scope):
    """The tensors a loop's state starts from. dynamic_rnn's loop variables
    are (iteration counter, time, output TensorArray, *state), entered in
    that order as `while/Merge`, `Merge_1`, ...; the state's are from
    `Merge_3` on."""
    found = []
    for k in range(3, 100):
      merge = self.nodes.get(f"{scope}/while/Merge_{k}")
      if merge is None:
        break
      enter = self.nodes.get(op_name(merge.input[0]))
      if enter is None or enter.op != "Enter":
        break
      found.append(tensor_name(enter.input[0]))
    return tuple(found)

  def _while_initial_state(self, node):
    """The tensors a TF2 loop's state starts from. A `While`'s inputs are
    (iteration counter, iteration limit, *loop variables, *captured
    tensors, *gradient accumulators), dynamic_rnn's loop variables (time,
    output TensorList, *state): its state is the inputs from 4 on up to the
    first that the body passes through unchanged, as it does captured
    tensors (the input TensorList, the cell's weights)."""
    body = self.functions.get(node.attr["body"].func.name)
    if body is None:
      return ()
    arguments = [a.name for a in body.signature.input_arg]
    nodes = {n.name: n for n in body.node_def}
    found = []
    for index, output in enumerate(body.signature.output_arg):
      if index < 4:
        continue
      returned = body.ret[output.name]
      while returned.split(":")[0] in nodes:   # through Identity nodes
        inner = nodes[returned.split(":")[0]]
        if inner.op != "Identity":
          break
        returned = inner.input[0]
      if returned == arguments[index]:
        break
      found.append(tensor_name(node.input[index]))
    return tuple(found)

  def unrolled(self, kernel, variables):
    """The steps of a cell that runs outside any loop, found by its variable
    `kernel`, which multiplies [input; state] at every step: a `MatMul` of a
    `ConcatV2` of the two, or the fused `GRUBlockCell` op. None where no op
    outside a loop does that.

    Raises:
      GraphError: steps that are not one sequence (the cell run over two).
    """
    steps = []     # (input, state, op)
    for node in self.nodes.values():
      inputs = [i for i in node.input if not i.startswith("^")]
      if node.op == "MatMul" and len(inputs) == 2 and not any(
          node.attr[a].b for a in ("transpose_a", "transpose_b")):
        concat = self.nodes.get(op_name(inputs[0]))
        if (self.variable_of(inputs[1]) != kernel or concat is None or
            concat.op != "ConcatV2" or self._in_loop(node)):
          continue
        pair = [i for i in concat.input if not i.startswith("^")][:-1]
      elif node.op == "GRUBlockCell" and len(inputs) == 6:
        if self.variable_of(inputs[2]) != kernel or self._in_loop(node):
          continue
        pair = inputs[:2]
      else:
        continue
      if len(pair) == 2:
        steps.append((tensor_name(pair[0]), tensor_name(pair[1]), node.name))
    if not steps:
      return None
    entries = {op for _, _, op in steps}
    before = {op: len(entries & self.subgraph([state]))
              for _, state, op in steps}
    steps.sort(key=lambda step: before[step[2]])
    if [before[op] for _, _, op in steps] != list(range(len(steps))):
      raise GraphError(
          f"the cell reading {kernel!r} runs {len(steps)} steps that are not "
          "one sequence (the cell runs over more than one)")
    return Unrolled(frozenset(variables), tuple(s[0] for s in steps),
                    tuple(s[1] for s in steps), steps[0][2].rsplit("/", 1)[0])

  def _in_loop(self, node):
    """Whether a node runs inside a TF1 while loop's frame."""
    return "/while/" in node.name

  def loops_of(self, names, direction):
    """The loops reading any of the variables `names`; of a weight-tied
    bidirectional layer's two, the one running the `direction`."""
    reading = [l for l in self.loops() if names & l.variables]
    if len(reading) > 1:
      reading = [l for l in reading if l.reversed == (direction == "bw")]
    return reading

  def is_zeros(self, tensor):
    """Whether `tensor` is zeros whatever the feeds: a `Fill` of a constant
    0 (`cell.zero_state`), a zero `Const` or a `ZerosLike`."""
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    node = self.nodes.get(op_name(tensor))
    while node is not None and node.op == "Identity":
      node = self.nodes.get(op_name(node.input[0]))
    if node is None:
      return False
    if node.op == "ZerosLike":
      return True
    if node.op == "Fill":
      node = self.nodes.get(op_name(node.input[1]))
      if node is None:
        return False
    return node.op == "Const" and not tf.make_ndarray(
        node.attr["value"].tensor).any()

  def constant_shape(self, tensor):
    """The shape of a `Fill` of a constant shape or of a `Const` (a zero
    state of a fixed batch size), else None."""
    node = self.nodes.get(op_name(tensor))
    while node is not None and node.op == "Identity":
      node = self.nodes.get(op_name(node.input[0]))
    if node is not None and node.op == "Fill":
      dims = self._constant_vector(node.input[0])
      return None if dims is None else tuple(int(d) for d in dims)
    if node is not None and node.op == "Const":
      return tuple(d.size for d in node.attr["value"].tensor.tensor_shape.dim)
    return None

  def _constant_vector(self, tensor):
    """The value of a `Const`, or of a `ConcatV2` of them (the shape
    `zero_state` computes), else None."""
    import numpy as np  # pylint: disable=g-import-not-at-top
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    node = self.nodes.get(op_name(tensor))
    if node is None:
      return None
    if node.op == "Const":
      return tf.make_ndarray(node.attr["value"].tensor).reshape(-1)
    if node.op == "ConcatV2":
      parts = [self._constant_vector(i) for i in node.input[:-1]
               if not i.startswith("^")]
      if parts and all(p is not None for p in parts):
        return np.concatenate(parts)
    return None

  def learned_state(self, tensor):
    """(variable, the batch multiples tensor) if `tensor` is a variable
    repeated over the batch (`tf.tile(init_state, [batch_size, 1])`, as
    programs write a learned initial state), else None."""
    node = self.nodes.get(op_name(tensor))
    while node is not None and node.op == "Identity":
      node = self.nodes.get(op_name(node.input[0]))
    if node is None or node.op != "Tile":
      return None
    variable = self.variable_of(node.input[0])
    return None if variable is None else (variable,
                                          tensor_name(node.input[1]))

  def step_counters(self):
    """Scalar integer variables incremented by a constant (`AssignAdd`),
    as an optimizer's `global_step` is, whatever their names."""
    found = set()
    for node in self.nodes.values():
      if node.op not in ("AssignAdd", "AssignAddVariableOp"):
        continue
      variable = self.variable_of(node.input[0])
      increment = self.nodes.get(op_name(node.input[1]))
      if (variable is not None and increment is not None and
          increment.op == "Const" and
          self.nodes[variable].attr["dtype"].type in _INTEGER_TYPES):
        found.add(variable)
    return sorted(found)

  def subgraph(self, fetches, feeds=()):
    """The nodes computing `fetches` needs, stopping at the fed tensors'
    ops (data and control inputs both)."""
    stop = {op_name(t) for t in feeds}
    needed, todo = set(), [op_name(t) for t in fetches]
    while todo:
      name = todo.pop()
      if name in needed:
        continue
      if name not in self.nodes:
        raise GraphError(f"{self.path!r} has no op {name!r}")
      needed.add(name)
      if name in stop:
        continue
      todo.extend(op_name(i) for i in self.nodes[name].input)
    return needed

  def between(self, start, end):
    """The ops on every path from tensor `start` to tensor `end`
    (exclusive of `start`'s op); empty when `end` is `start`."""
    if op_name(start) == op_name(end):
      return []
    upstream = self.subgraph([end], [start])
    if op_name(start) not in upstream:
      return None
    downstream, todo = set(), [op_name(start)]
    while todo:
      name = todo.pop()
      for user in self.consumers.get(name, []):
        if user not in downstream:
          downstream.add(user)
          todo.append(user)
    return sorted((upstream & downstream) - {op_name(start)})

  def check_safe(self, names):
    """Refuses, naming them, the ops among `names`, and in the functions
    they call, that are not pure computation."""
    bad = sorted(f"{n} ({self.nodes[n].op})" for n in names
                 if self.nodes[n].op not in PURE_OPS) + sorted(
                     f"{function}/{node.name} ({node.op})"
                     for function in self.functions_of(names)
                     for node in self.functions[function].node_def
                     if node.op not in PURE_OPS)
    if bad:
      raise UnsafeGraph(
          f"{self.path!r}: --verify would run ops that are not pure "
          f"computation, so nothing was run: {', '.join(bad[:8])}"
          + (f" and {len(bad) - 8} more" if len(bad) > 8 else ""))


_NUMBERED = re.compile(r"(\d+)")


def natural_key(name):
  """Sorts 'rnn_fw_2' before 'rnn_fw_10'."""
  return [int(p) if p.isdigit() else p for p in _NUMBERED.split(name)]


def _called(node):
  """The names of the library functions a NodeDef calls (its attrs)."""
  for value in node.attr.values():
    if value.HasField("func"):
      yield value.func.name
    elif value.HasField("list"):
      yield from (f.name for f in value.list.func)


def missing_ops(graph, names):
  """The op types among `names`, and in the functions they call, that this
  TensorFlow does not have."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  ops = {graph.nodes[n].op for n in names} | {
      node.op for function in graph.functions_of(names)
      for node in graph.functions[function].node_def}
  return sorted(op for op in ops if not hasattr(tf.raw_ops, op))


def run(graph, fetches, feeds, values):
  """Computes `fetches` from `feeds` in the program's own graph, with its
  variables holding `values`, running nothing else.

  Only the nodes the fetches need are imported (`subgraph`); they are
  checked first: ops this TensorFlow lacks and ops that are not pure
  computation are refused by name, and nothing runs. Variables get their
  values through assignments of this function's own.

  Args:
    graph: a `ProgramGraph`.
    fetches: tensor names.
    feeds: {tensor name: array}.
    values: {variable name: array}, for every variable the fetches read.

  Returns:
    [array] per fetch.

  Raises:
    GraphError: an op TensorFlow lacks, a variable without a value.
    UnsafeGraph: an op that is not pure computation.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  v1 = tf.compat.v1
  needed = graph.subgraph(fetches, feeds)
  lacking = missing_ops(graph, needed)
  if lacking:
    raise GraphError(f"{graph.path!r} needs ops this TensorFlow does not "
                     f"have: {', '.join(lacking)}")
  graph.check_safe(needed)
  variables = sorted(n for n in needed
                     if graph.nodes[n].op in _VARIABLE_OPS)
  unknown = [n for n in variables if n not in values]
  if unknown:
    raise GraphError(f"{graph.path!r} reads variables the checkpoint does "
                     f"not hold: {unknown[:8]}")
  fed = {op_name(t) for t in feeds}
  graph_def = v1.GraphDef()
  graph_def.node.extend(graph.nodes[n] for n in sorted(needed - fed))
  for node in graph_def.node:
    # Colocation with ops left out (a fed placeholder) would not import;
    # on one CPU it places nothing.
    if "_class" in node.attr:
      del node.attr["_class"]
  graph_def.library.function.extend(
      graph.functions[f] for f in graph.functions_of(needed - fed))
  read = {tensor_name(i) for n in needed - fed for i in graph.nodes[n].input}
  imported = tf.Graph()
  with imported.as_default():
    # Only the fed tensors something imported reads (an unrolled cell's
    # last input feeds no compared output).
    inputs = {t: v1.placeholder(value.dtype, name=f"feed_{i}")
              for i, (t, value) in enumerate(sorted(feeds.items()))
              if t in read}
    tf.graph_util.import_graph_def(graph_def, input_map=inputs, name="")
    loads, load_feeds = [], {}
    for name in variables:
      value = values[name]
      node = imported.get_operation_by_name(name)
      holder = v1.placeholder(value.dtype, value.shape)
      if node.type == "VarHandleOp":
        loads.append(tf.raw_ops.AssignVariableOp(resource=node.outputs[0],
                                                 value=holder))
      else:
        loads.append(v1.assign(node.outputs[0], holder))
      load_feeds[holder] = value
    with v1.Session(graph=imported) as session:
      session.run(loads, load_feeds)
      return session.run(list(fetches), feed_dict={
          inputs[t]: value for t, value in feeds.items() if t in inputs})
