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
from migration import legacy_graph
from migration import mapping
from migration import models
from migration import onnx_export
from migration import tf1_graph


def probe_inputs(description, batch=8, time=12, seed=0):
  """A fixed batch for checking a conversion of `description`: for each
  input, what the component reading it asks for (floats uniform in
  [-1, 1]). One array for one input, else {input name: array}."""
  rng = np.random.RandomState(seed)
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
    self.plan = []       # [(component, direction, output tensor)]
    self.lengths = set()  # tensors carrying sequence lengths
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
    for component in self.state.description.components:
      kind = description_lib.kind_of(component)
      cells = kind.cell_variables(component)
      if not cells:
        raise tf1_graph.GraphError(
            f"the {component.describe()} is not a loop of TF1 cells this "
            "check can find in the graph")
      last = max(layer for layer, _, _ in cells)
      for layer, direction, names in cells:
        reading = self.graph.loops_of(names, direction)
        cell = os.path.commonpath(sorted(names))
        if not reading:
          raise tf1_graph.GraphError(
              f"the program runs the cell {cell!r} outside a dynamic_rnn "
              "loop (unrolled, as static_rnn and rnn_decoder do), where "
              "this check cannot feed it yet")
        if len(reading) > 1:
          raise tf1_graph.GraphError(
              f"{len(reading)} loops of the graph read the cell {cell!r}; "
              "expected one")
        loop = reading[0]
        self.lengths.update(loop.lengths)
        if layer == 0:
          inputs.setdefault(loop.layer_input, []).append(
              f"{direction} ({os.path.commonpath(sorted(names))})")
        if layer == last:
          self.plan.append((component.name, direction, loop.layer_output))
    if len(inputs) != 1:
      raise tf1_graph.NotTheProgram(
          "verification failed: in the program's graph the converted "
          "layer's cells read different tensors (" + "; ".join(
              f"{', '.join(cells)} read {tensor!r}" for tensor, cells in
              sorted(inputs.items())) + "), so they are not one layer of "
          "the program; nothing was written")
    self.input = next(iter(inputs))
    self._check_subgraph()

  @property
  def text(self):
    if self.why_not:
      return (f"the converter's own rebuild of the weights ({self.why_not}); "
              "that check cannot catch weights paired with the wrong layer "
              "or direction, or a program that computes otherwise")
    loops = ", ".join(sorted({op for _, _, op in self.plan}))
    return (f"the program's own graph {self.meta!r}, fed at "
            f"{self.input!r}, its outputs {loops}")

  def _check_subgraph(self):
    """What computing the outputs needs: the ops (refused, nothing run, if
    one is not pure; a fallback if this TensorFlow lacks one), the
    placeholders (sequence lengths get every step) and the variables (each
    in the checkpoint, or the program is not this checkpoint's)."""
    graph = self.graph
    self.fetches = [tensor for _, _, tensor in self.plan]
    self.needed = graph.subgraph(self.fetches,
                                 [self.input] + sorted(self.lengths))
    lacking = tf1_graph.missing_ops(graph, self.needed)
    if lacking:
      raise tf1_graph.GraphError(
          f"{self.meta!r} needs ops this TensorFlow does not have: "
          f"{', '.join(lacking)}")
    graph.check_safe(self.needed)
    fed = {tf1_graph.op_name(t) for t in [self.input, *self.lengths]}
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
    """{"<component> fw"/"<component> bw": array} of the program on x."""
    feeds = {self.input: x}
    for tensor in self.lengths:
      # Every step counts, as in the probe.
      feeds[tensor] = np.full(len(x), x.shape[1], self.graph.dtype_of(
          tensor))
    arrays = tf1_graph.run(self.graph, self.fetches, feeds, self.values)
    return {f"{component} {direction}": array for (component, direction, _),
            array in zip(self.plan, arrays)}

  def split(self, outputs):
    """A converted model's {component: output} as the program's per
    direction (Bidirectional concatenates forward, then backward)."""
    result = {}
    for component, direction, _ in self.plan:
      out = outputs[component]
      directions = [d for c, d, _ in self.plan if c == component]
      if len(directions) == 1:
        result[f"{component} {direction}"] = out
      else:
        width = out.shape[-1] // 2
        result[f"{component} {direction}"] = (
            out[..., :width] if direction == "fw" else out[..., width:])
    return result


def program_bound(target):
  """The bound of a converted model against TF's own TF1 cells in the
  program's graph (`tolerances`)."""
  return (tolerances.TF1_CELL_FLOAT32_NOT_BITWISE if target == mapping.TF2
          else tolerances.TF1_CELL_STOCK)


def own_reference_text(description, restored):
  """What `--verify` compares with when the program's graph cannot be:
  this project's TF1 port of a seed program, or its exact TF2 layers."""
  what = ("this project's TF1 port of the program (legacy/)" if
          legacy_graph.available(description) else
          "this project's exact TF2 layers (TF1's cells op for op)")
  return f"{what}, holding {restored}"


def check_against_program(reference, got, bound):
  """`compare.Check`s of a model's outputs, `got(x)` -> {component: array},
  against the program's on the probe batch, per direction."""
  description = reference.state.description
  x = probe_inputs(description)
  want = reference.outputs(x)
  got = reference.split(got(x))
  bound = bound.for_dtype(description.dtype)
  return [compare.Check(name, description.dtype,
                        compare.compare(got[name], want[name]), bound)
          for name in want]
