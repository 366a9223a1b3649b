"""`--verify`: a converted model against the TF1 side, on a probe batch.

The reference is the description's TF1 graph, built from the legacy ports
(`legacy_graph`), where every kind has one; otherwise this project's exact
TF2 layers (`tf2.TF1GRUCell` computes TF1's cells op for op; TF's own TF1
cells need tf_keras in a process of their own, and the tests prove the
reference against them). Weights come from the TF1 checkpoint (restored by
name) or from the state's values. Each component's output is one
`compare.Check`, within the tolerance policy's bound.
"""

import os

import keras
import numpy as np
import tensorflow as tf

from gru_common import compare
from gru_common import keras_precision
from gru_common import tolerances
from migration import description as description_lib
from migration import errors
from migration import legacy_graph
from migration import mapping
from migration import models
from migration import onnx_export
from migration import tf1_graph


PROBE_STEPS = 12


def probe_inputs(description, batch=8, time=None, seed=0):
  """A fixed batch for checking a conversion of `description`: for each
  input, what the component reading it asks for (floats uniform in
  [-1, 1]), over `time` steps (`PROBE_STEPS` by default). One array for
  one input, else {input name: array}."""
  rng = np.random.RandomState(seed)
  time = time or PROBE_STEPS
  probes = {}
  for spec in description.inputs:
    reader = next(c for c in description.components
                  if spec.name in (c.wiring.source,) + c.wiring.initial_state)
    shape = (batch,) + tuple(time if d is None else d for d in spec.shape)
    probes[spec.name] = description_lib.kind_of(reader).probe(
        reader, rng, shape, spec.dtype)
  if len(probes) == 1:
    return probes[description.inputs[0].name]
  return probes


def model_outputs(model, description, x):
  """{component name: output} of a model `models.build` made.

  Computed with `Model.predict`, the API users call, with Keras's floatx
  set to the model's dtype as the README tells users to (Keras casts float
  arrays to floatx in `predict`; gru_common/keras_precision.py)."""
  names = description.output_names()
  tensors = [model.get_layer(description_lib.kind_of(c).layer_names(c)[-1])
             .output for c in description.components]
  fetch = keras.Model(model.inputs, tensors)
  batch = len(next(iter(x.values())) if isinstance(x, dict) else x)
  with keras_precision.floatx(description.dtype):
    outputs = fetch.predict(x, batch_size=batch, verbose=0)
  if not isinstance(outputs, (list, tuple)):
    outputs = [outputs]
  return {name: np.asarray(out) for name, out in zip(names, outputs)}


def reference_outputs(state, x, prefix=None, reads=None):
  """What the TF1 side computes on x, per component: weights restored from
  the TF1 checkpoint at `prefix` (reading `reads` {variable: checkpoint
  name} where they differ, as EMA shadows do) or taken from
  `state.values`."""
  description = state.description
  if legacy_graph.available(description):
    return legacy_graph.run(legacy_graph.build(description), x,
                            prefix=prefix,
                            values=None if prefix else state.values,
                            reads=reads)
  values = state.values
  if prefix is not None:
    reader = tf.train.load_checkpoint(prefix)
    reads = reads or {}
    values = {n: reader.get_tensor(reads.get(n, n)) for n in values}
  reference = models.build(description, mapping.TF2)
  mapping.to_model(values, mapping.placements(description, reference,
                                              mapping.TF2))
  return model_outputs(reference, description, x)


def _bound(description, target):
  if target == mapping.TF2:
    return tolerances.BITWISE
  return description_lib.kind_of(description.components[0]).stock_bound


def verify_outputs(state, model, target, x=None, prefix=None, reads=None):
  """Compares the TF1 side (see `reference_outputs`) with `model`.

  Returns:
    A list of `compare.Check`, one per component output.

  Example:

  >>> from migration import convert, tf1_checkpoint
  >>> state = tf1_checkpoint.LegacyState.example("loop")
  >>> checks = verify_outputs(state, convert.to_keras(state, "keras")[0],
  ...                         "keras")
  >>> [(c.name, c.result.bitwise, c.passed) for c in checks]
  [('gru', False, True)]
  """
  description = state.description
  x = probe_inputs(description) if x is None else x
  want = reference_outputs(state, x, prefix, reads)
  got = model_outputs(model, description, x)
  bound = _bound(description, target).for_dtype(description.dtype)
  return [compare.Check(name, description.dtype,
                        compare.compare(got[name], want[name]), bound)
          for name in want]


def verify_onnx(state, model_bytes, x=None, prefix=None, reads=None):
  """Compares the TF1 side with an ONNX model of it in onnxruntime.

  Returns:
    A list of `compare.Check`, bound `tolerances.ONNX_RUNTIME`.
  """
  description = state.description
  x = probe_inputs(description) if x is None else x
  want = reference_outputs(state, x, prefix, reads)
  got = onnx_export.run(model_bytes, x)
  bound = tolerances.ONNX_RUNTIME.for_dtype(description.dtype)
  return [compare.Check(name, description.dtype,
                        compare.compare(got[name], want[name]), bound)
          for name in want]


class ProgramReference:
  """The program's own graph (its `.meta`) as the reference: each
  converted recurrent layer's loops, fed the probe at the layer's input in
  the graph, computed with the checkpoint's values (`tf1_graph.run`).

  `why_not` says why a description cannot be checked this way (no `.meta`,
  an op this TensorFlow lacks, loops not found), in which case `--verify`
  falls back to the converter's own reference and says so.
  """

  def __init__(self, state, prefix, reads=None, meta=None):
    self.state = state
    self.prefix = prefix
    self.reads = reads or {}
    self.meta = meta or tf1_graph.meta_path(prefix)
    self.why_not = None
    # [(component, direction, output)]: the output a batch-major tensor, or
    # ((time, tensor), ...) of an unrolled cell's steps.
    self.plan = []
    self.input = None     # a tensor, or per time step one (unrolled)
    self.time_steps = None  # the steps of an unrolled program, else None
    self.batch = None    # the batch size the graph fixes (its zero state)
    self.lengths = set()  # tensors carrying sequence lengths
    self.states = []     # [(model input, the loop's initial state tensor)]
    self.ops = {}        # {"<component> fw"/"bw": op types its loops run}
    try:
      self._locate()
    except tf1_graph.GraphError as e:
      self.why_not = str(e)

  def _locate(self):
    if not os.path.isfile(self.meta):
      raise tf1_graph.GraphError(f"no .meta beside the checkpoint "
                                 f"({self.meta!r})")
    self.graph = tf1_graph.read(self.meta)
    inputs = {}
    model_inputs = {i.name for i in self.state.description.inputs}
    for component in self.state.description.components:
      kind = description_lib.kind_of(component)
      cells = kind.cell_variables(component)
      starts = dict(zip(range(len(cells)), component.wiring.initial_state))
      if not cells:
        raise tf1_graph.GraphError(
            f"the {component.describe()} is not a loop of TF1 cells this "
            "check can find in the graph")
      last = max(layer for layer, _, _ in cells)
      for number, (layer, direction, names) in enumerate(cells):
        cell = os.path.commonpath(sorted(names))
        layer_input, output, start, scope = self._find(kind, names,
                                                       direction, cell)
        self.ops.setdefault(f"{component.name} {direction}", set()).update(
            self.graph.ops_under(scope))
        if starts.get(number) in model_inputs:
          self.states.append((starts[number], start))
        elif number not in starts and self.graph.is_zeros(start):
          # `cell.zero_state(batch_size)` of a fixed size fixes the batch.
          shape = self.graph.constant_shape(start)
          if shape:
            self.batch = shape[0]
        elif number not in starts:
          raise tf1_graph.NotTheProgram(
              f"verification failed: in the program's graph the cell "
              f"{cell!r} starts from {start!r}, not from zeros as the "
              "converted model does (a decoder started from an encoder's "
              "state?); pass ", errors.Argument("initial_state_inputs", True),
              " to take the initial states as inputs; nothing was written")
        if layer == 0:
          inputs.setdefault(layer_input, []).append(f"{direction} ({cell})")
        if layer == last:
          self.plan.append((component.name, direction, output))
    if len(inputs) != 1:
      raise tf1_graph.NotTheProgram(
          "verification failed: in the program's graph the converted "
          "layer's cells read different tensors (" + "; ".join(
              f"{', '.join(cells)} read {_tensors(tensor)!r}" for tensor,
              cells in sorted(inputs.items(), key=str)) + "), so they are "
          "not one layer of the program; nothing was written")
    self.input = next(iter(inputs))
    self._check_subgraph()

  def _find(self, kind, names, direction, cell):
    """(layer input, output, initial state, scope of its ops) of one cell
    in the graph: its dynamic_rnn loop, or its unrolled steps."""
    reading = self.graph.loops_of(names, direction)
    if len(reading) > 1:
      raise tf1_graph.GraphError(
          f"{len(reading)} loops of the graph read the cell {cell!r}; "
          "expected one")
    if reading:
      loop = reading[0]
      self.lengths.update(loop.lengths)
      return (loop.layer_input, loop.layer_output, loop.initial_state[0],
              loop.scope)
    kernel = kind.step_kernel(names)
    steps = kernel and self.graph.unrolled(kernel, names)
    if not steps:
      raise tf1_graph.GraphError(
          f"the program runs the cell {cell!r} neither in a dynamic_rnn loop "
          "nor in unrolled steps this check can find")
    count = len(steps.inputs)
    if self.time_steps not in (None, count) or count < 2:
      raise tf1_graph.GraphError(
          f"the program unrolls the cell {cell!r} over {count} steps, where "
          f"{self.time_steps or 2} or more are needed")
    self.time_steps = count
    # A backward direction runs the sequence from its end.
    times = list(range(count))[::-1 if direction == "bw" else 1]
    by_time = dict(zip(times, steps.inputs))
    layer_input = tuple(by_time[t] for t in range(count))
    if len(set(layer_input)) != count:
      raise tf1_graph.GraphError(
          f"the steps of the cell {cell!r} read one tensor at several times")
    # Step k's output is step k+1's state: every step's but the last.
    output = tuple(sorted(zip(times, steps.states[1:])))
    return layer_input, output, steps.states[0], steps.scope

  @property
  def text(self):
    """What the checks compared with."""
    outputs = ", ".join(sorted({_tensors(out) for _, _, out in self.plan}))
    compared = (f" (every step's output but the last: {self.time_steps - 1} "
                f"of {self.time_steps} steps)" if self.time_steps else "")
    return (f"the program's own graph {self.meta!r}, fed at "
            f"{_tensors(self.input)!r}, its outputs {outputs}{compared}")

  def _feeds(self):
    """The tensors fed: the input, the lengths, the initial states."""
    inputs = [self.input] if isinstance(self.input, str) else list(
        self.input)
    return inputs + sorted(self.lengths) + [t for _, t in self.states]

  def _check_subgraph(self):
    """What computing the outputs needs: the ops (refused, nothing run, if
    one is not pure; a fallback if this TensorFlow lacks one), the
    placeholders (sequence lengths get every step) and the variables (each
    in the checkpoint, or the program is not this checkpoint's)."""
    graph = self.graph
    self.fetches = []
    for _, _, output in self.plan:
      self.fetches.extend([output] if isinstance(output, str) else
                          [tensor for _, tensor in output])
    self.needed = graph.subgraph(self.fetches, self._feeds())
    lacking = tf1_graph.missing_ops(graph, self.needed)
    if lacking:
      raise tf1_graph.GraphError(
          f"{self.meta!r} needs ops this TensorFlow does not have: "
          f"{', '.join(lacking)}")
    graph.check_safe(self.needed)
    fed = {tf1_graph.op_name(t) for t in self._feeds()}
    for name in sorted(self.needed - fed):
      if graph.nodes[name].op in ("Placeholder", "PlaceholderWithDefault"):
        raise tf1_graph.GraphError(
            f"the graph's placeholder {name!r} takes part in the converted "
            "layers' outputs, fed at their input")
    reader = tf.train.load_checkpoint(self.prefix)
    stored = reader.get_variable_to_shape_map()
    self.values = {}
    for name in sorted(self.needed):
      if graph.nodes[name].op not in ("VariableV2", "VarHandleOp",
                                      "Variable"):
        continue
      source = self.reads.get(name, name)
      if source not in stored:
        raise tf1_graph.NotTheProgram(
            f"the graph {self.meta!r} reads the variable {name!r}, which "
            f"the checkpoint {self.prefix!r} does not hold: they are not "
            "one program's")
      self.values[name] = reader.get_tensor(source)

  def outputs(self, x):
    """{"<component> fw"/"<component> bw": array} of the program on the
    probe x (an array, or {input: array} with initial states)."""
    probes = x if isinstance(x, dict) else {
        self.state.description.inputs[0].name: x}
    x = probes[self.state.description.inputs[0].name]
    if isinstance(self.input, str):
      feeds = {self.input: x}
    else:
      feeds = {tensor: x[:, t] for t, tensor in enumerate(self.input)}
    for tensor in self.lengths:
      # Every step counts, as in the probe.
      feeds[tensor] = np.full(len(x), x.shape[1], self.graph.dtype_of(
          tensor))
    for name, tensor in self.states:
      feeds[tensor] = probes[name]
    arrays = dict(zip(self.fetches, tf1_graph.run(
        self.graph, self.fetches, feeds, self.values)))
    return {f"{component} {direction}": arrays[output] if isinstance(
        output, str) else np.stack([arrays[t] for _, t in output], axis=1)
            for component, direction, output in self.plan}

  def split(self, outputs):
    """A converted model's {component: output} as the program's per
    direction (Bidirectional concatenates forward, then backward), at the
    time steps the program's outputs hold."""
    result = {}
    for component, direction, output in self.plan:
      out = outputs[component]
      directions = [d for c, d, _ in self.plan if c == component]
      if len(directions) > 1:
        width = out.shape[-1] // 2
        out = out[..., :width] if direction == "fw" else out[..., width:]
      if not isinstance(output, str):
        out = out[:, [t for t, _ in output]]
      result[f"{component} {direction}"] = out
    return result


def _tensors(tensors):
  """A tensor's name, or a run of step tensors as 'first ... last'."""
  if isinstance(tensors, str):
    return tensors
  if tensors and isinstance(tensors[0], tuple):   # ((time, tensor), ...)
    tensors = [t for _, t in tensors]
  return f"{tensors[0]} ... {tensors[-1]} ({len(tensors)} steps)"


def program_bound(reference, name, target):
  """The bound of one converted output (a `reference.outputs` key) against
  TF's own TF1 cells in the program's graph: bitwise for this project's
  exact layers where they run the graph's ops (`Kind.graph_bound`), the
  kind's stock bound for stock Keras."""
  component = reference.state.description.get(name.rsplit(" ", 1)[0])
  kind = description_lib.kind_of(component)
  if target == mapping.TF2:
    return kind.graph_bound(component, reference.ops[name])
  return kind.stock_bound


def own_reference_text(description, restored):
  """What `--verify` compares with when the program's graph cannot be:
  this project's TF1 port of a seed program, or its exact TF2 layers."""
  what = ("this project's TF1 port of the program (legacy/)" if
          legacy_graph.available(description) else
          "this project's exact TF2 layers (TF1's cells op for op)")
  return f"{what}, holding {restored}"


def check_against_program(reference, got, bound_of):
  """`compare.Check`s of a model's outputs, `got(x)` -> {component: array},
  against the program's on the probe batch, per direction, each within
  `bound_of(output name)`, a `tolerances.Bound`."""
  description = reference.state.description
  x = probe_inputs(description, batch=reference.batch or 8,
                   time=reference.time_steps)
  want = reference.outputs(x)
  got = reference.split(got(x))
  return [compare.Check(
      name, description.dtype, compare.compare(got[name], want[name]),
      bound_of(name).for_dtype(description.dtype))
          for name in want]
