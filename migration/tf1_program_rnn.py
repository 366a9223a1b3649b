"""The recurrent layers of a translated TF1 program (`tf1_program`): each
`dynamic_rnn` loop of the program's graph as the converted layer of its
cell's kind.

A loop's cell is found among the RNNs `detection` finds in the checkpoint
(with the graph: a cell both directions share, LSTMs' forget bias): the
cell whose variables the loop reads. Its layer is the kind's own one-cell,
one-direction layer (`Kind.keras_rnn`, as the layer converter builds it for
the same cell), fed the loop's input batch-major. The loop's `sequence_length`
is a mask (dynamic_rnn's zero outputs and carried state past each length are
what a masked Keras RNN with `zero_output_for_mask` computes), its initial
state the layer's `initial_state` unless it is zeros; the layer returns its
final states for the graph's `Exit`s. Weights go in through the kind's
mapping table (`mapping.placements`), as in every other conversion, and the
same placements read them back.
"""

import dataclasses

from migration import description as description_lib
from migration import detection
from migration import mapping


def _cells(translator):
  """[(kind, component, layer index, path, {names})] of every TF1 cell the
  checkpoint holds, found once per translation."""
  found = getattr(translator, "_rnn_cells", None)
  if found is not None:
    return found
  import numpy as np  # pylint: disable=g-import-not-at-top
  dtypes = {n: np.dtype(d.as_numpy_dtype).name for n, d in
            translator.reader.get_variable_to_dtype_map().items()}
  inventory = detection.inspect(translator.shapes, dtypes, translator.graph)
  found = []
  for rnn in inventory.rnns:
    if rnn.description is None:
      continue
    for component in rnn.description.components:
      kind = description_lib.kind_of(component)
      if not hasattr(kind, "cell_list"):
        continue
      paths = [p for _, _, p in kind.cell_list(component)]
      for (layer, _, names), path in zip(kind.cell_variables(component),
                                         paths):
        found.append((kind, component, layer, path, names))
  translator._rnn_cells = found  # pylint: disable=protected-access
  return found


def _single(kind, component, layer, path):
  """The one-cell, one-direction component of one cell of `component`,
  named by its full path (so its Keras layer's name is unique)."""
  full = description_lib.join(component.scope, path)
  settings = dataclasses.replace(component.settings, paths=(full,),
                                 learned=())
  return dataclasses.replace(
      component, name=full, units=(component.units[layer],),
      input_dim=kind.layer_input(component, layer),
      wiring=description_lib.Wiring(), scope="", settings=settings)


def loop_layer(translator, loop, args):
  """[sequences, *final states] of `loop`'s layers called on the loop's
  inputs `args` (`tf1_program._Translator._loop_inputs`), or None.

  A MultiRNNCell's cells in one loop are one layer each, in order, each
  masked and started as the loop starts that cell: what the stacked cell
  computes step by step, layer by layer. States are TF1's, flat: per cell
  its state, an LSTM's as (c, h)."""
  from migration import tf1_program  # pylint: disable=g-import-not-at-top
  ops = translator.keras.ops
  # One entry per cell: a weight-tied RNN lists its one cell twice.
  matches = sorted({c[4]: c for c in _cells(translator)
                    if c[4] <= loop.variables}.values(),
                   key=lambda c: (c[1].scope, c[2], c[3]))
  if not matches:
    raise tf1_program.ProgramError(
        f"the loop {loop.scope!r} runs a cell that is not one the kit "
        f"knows; it reads {sorted(loop.variables)}")
  extra = loop.variables - frozenset().union(*(c[4] for c in matches))
  if extra:
    raise tf1_program.ProgramError(
        f"the loop {loop.scope!r} reads variables beyond its cells' (an "
        "attention mechanism or a projection inside the loop has no "
        f"translation yet): {sorted(extra)}")
  if len({c[1].name for c in matches}) != 1:
    raise tf1_program.ProgramError(
        f"the loop {loop.scope!r} reads the variables of cells of several "
        f"RNNs: {sorted(description_lib.join(c[1].scope, c[3]) for c in matches)}")
  _check_no_dropout(translator, loop)
  x, rest = args[0], list(args[1:])
  lengths = rest.pop() if loop.lengths else None
  if not translator._symbolic(x):  # pylint: disable=protected-access
    raise tf1_program.ProgramError(
        f"the loop {loop.scope!r} reads a constant input")
  per_cell = len(loop.initial_state) // len(matches)
  if rest and len(rest) != len(loop.initial_state):
    raise tf1_program.ProgramError(
        f"the loop {loop.scope!r} starts from zeros in part of its state")
  mask = _mask(ops, x, lengths) if lengths is not None else None
  states = []
  for i, (kind, component, layer_index, path, _) in enumerate(matches):
    layer = _layer(translator, kind, component, layer_index, path)
    call = {} if mask is None else {"mask": mask}
    start = rest[i * per_cell:(i + 1) * per_cell]
    if start:
      # TF1's LSTMStateTuple is (c, h); Keras's LSTM states are [h, c].
      call["initial_state"] = start[::-1] if per_cell == 2 else start
    outputs = list(layer(x, **call))
    x = outputs[0]
    states.extend(outputs[:0:-1] if per_cell == 2 else outputs[1:])
  return [x] + states


_RANDOM_OPS = ("RandomUniform", "RandomStandardNormal", "TruncatedNormal")


def _check_no_dropout(translator, loop):
  """Refuses a loop whose body draws random numbers (a DropoutWrapper's
  dropout) unless every draw is compared with a rate the feeds fix to 0
  (`uniform >= 0`: keep probability 1): the converted layer has no
  dropout."""
  from migration import tf1_program  # pylint: disable=g-import-not-at-top
  graph = translator.graph
  inside = loop.scope + "/while/"
  for name in sorted(n for n in graph.nodes if n.startswith(inside) and
                     graph.nodes[n].op in _RANDOM_OPS):
    tests = [graph.nodes[u] for u in graph.consumers.get(name, [])]
    fixed = bool(tests) and all(
        t.op == "GreaterEqual" and graph.nodes[name].op == "RandomUniform"
        and _is_at_most_zero(translator, tf1_program.tensor_name(t.input[1]))
        for t in tests)
    if not fixed:
      raise tf1_program.ProgramError(
          f"the loop {loop.scope!r} drops out inside its cell ({name}) at a "
          "rate the feeds do not fix to 0; --feed its keep probability 1.0 "
          "(the converted layer has no dropout)")


def _is_at_most_zero(translator, tensor):
  import numpy as np  # pylint: disable=g-import-not-at-top
  translator.value_of(tensor)
  value = translator.values.get(tensor)
  return isinstance(value, np.ndarray) and bool(np.all(value <= 0))


def _layer(translator, kind, component, layer_index, path):
  """The Keras layer of one cell (made once: the two directions of a
  weight-tied bidirectional RNN call the same)."""
  single = _single(kind, component, layer_index, path)
  key = ("rnn", single.name)
  layer = translator.layers.get(key)
  if layer is None:
    target = _target(translator.target, kind, single)
    common = {"return_sequences": True, "return_state": True,
              "zero_output_for_mask": True, "dtype": single.dtype}
    layer = kind.keras_rnn(single, target, single.units[0],
                           single.settings.paths[0], False, common)
    translator.layers[key] = layer
    translator.rnns.append((single, layer, target))
    if target == mapping.TF2:
      translator.not_stock.add(layer.name)   # this project's exact cells
  return layer


def _target(target, kind, single):
  """The target of one cell's layer: the translation's, or for ONNX
  (`tf1_program.ONNX`) stock Keras where a stock layer computes the cell
  and this project's layer (its cell in keras.ops) where none does.

  Raises:
    mapping.MappingError: target 'keras' and no stock layer computes it.
  """
  from migration import tf1_program  # pylint: disable=g-import-not-at-top
  if target != tf1_program.ONNX:
    kind.check_target(single, target)
    return target
  try:
    kind.check_target(single, mapping.KERAS)
  except mapping.MappingError:
    return mapping.TF2
  return mapping.KERAS


def _mask(ops, x, lengths):
  """[batch, time] booleans: step t of row b is before lengths[b]."""
  steps = ops.cumsum(ops.ones_like(ops.take(x, 0, axis=2), dtype="int32"),
                     axis=1)
  return ops.less_equal(steps, ops.expand_dims(ops.cast(lengths, "int32"),
                                               1))


def load(translator, model):
  """Loads every RNN layer's weights from the checkpoint through its
  kind's table; returns the placements."""
  placements = []
  values = {}
  for single, _, target in translator.rnns:
    found = mapping.placements(description_lib.Description((single,)),
                               model, target)
    for placement in found:
      if placement.legacy and placement.legacy not in values:
        values[placement.legacy] = translator.reader.get_tensor(
            placement.legacy)
    placements.extend(found)
  mapping.to_model(values, placements)
  return placements
