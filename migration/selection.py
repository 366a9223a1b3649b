"""What one conversion of a TF1 checkpoint reads, converts, drops and leaves
behind: one typed record, the `Selection`.

`select` picks one RNN of an `detection.Inventory` (with its head,
optimizer state and EMA shadows) and refuses, naming them, anything the
conversion would otherwise lose.
"""

import dataclasses

from migration import description as description_lib
from migration import detection
from migration import errors
from migration import kinds
from migration import tf1_graph

Argument = errors.Argument


class SelectionError(description_lib.SpecError):
  """No RNN, several and no scope, or one that cannot convert as asked."""


@dataclasses.dataclass(frozen=True)
class AdamNames:
  """Where TF1 Adam's state sits in the checkpoint."""
  m: dict                       # {variable: its first-moment slot}
  v: dict                       # {variable: its second-moment slot}
  powers: dict                  # {"beta1_power": name, "beta2_power": name}
  scope: str = ""               # the scope `minimize` ran in


@dataclasses.dataclass(frozen=True)
class StepCounter:
  """A TF1 step counter: where it is, its dtype, and (read) its value."""
  name: str = detection.GLOBAL_STEP
  dtype: str = "int64"
  value: int = None


@dataclasses.dataclass
class Selection:
  """One conversion of a TF1 checkpoint, every variable accounted for.

  Attributes:
    rnn: what detection found.
    description: the model that converts.
    reads: {model variable: the checkpoint name its value is read from}
      (itself, or its EMA shadow with use_ema).
    adam: where TF1 Adam's state is, when it converts.
    global_step: the `StepCounter` read with Adam's state (checked against
      its steps).
    dropped: optimizer state left out on request.
    left_behind: other variables left out on request.
    not_read: duplicates never read (CudnnGRU's opaque kernel).
    averaged: the values are the EMA shadows.
    renamed: names written before TF 1.2 that it reads under today's
      (`legacy_names`).
  """
  rnn: detection.FoundRNN
  description: description_lib.Description
  reads: dict
  adam: AdamNames = None
  global_step: StepCounter = None
  dropped: list = dataclasses.field(default_factory=list)
  left_behind: list = dataclasses.field(default_factory=list)
  not_read: list = dataclasses.field(default_factory=list)
  averaged: bool = False
  renamed: list = dataclasses.field(default_factory=list)


def select(inventory, scope=None, layer=None, use_ema=False,
           drop_optimizer_state=False, allow_unconverted=False,
           initial_state_inputs=False, learned_initial_states=None,
           forget_bias=None, graph=None):
  """The `Selection` of converting one RNN of `inventory`.

  Args:
    inventory: from `detection.inspect`.
    scope: which RNN (its scope); None: the only one there is.
    layer: which RNN by its number (1, 2, ... as `tf1-inspect-checkpoint`
      numbers them): for several under one scope (DeepSpeech2's layers).
    use_ema: read the EMA shadows instead of the raw weights.
    drop_optimizer_state: convert the weights only: the optimizer state
      (slots, beta powers, `global_step`) is listed as dropped. Without it,
      any optimizer state but TF1 Adam's (which converts exactly) is
      refused.
    allow_unconverted: leave other variables behind, listed, instead of
      refusing.
    initial_state_inputs: the converted model takes each cell's initial
      state as an input (a decoder started from an encoder's final state)
      instead of starting from zeros.
    learned_initial_states: variables that start the RNN's cells, one per
      cell in its order ([1, units] or [units]): the program's learned
      initial states, where its graph is not there to show them.
    forget_bias: a TF1 LSTM's forget bias, which its checkpoint does not
      hold, where the program's graph does not show it (it may not
      contradict the graph).
    graph: the program's `tf1_graph.ProgramGraph` (its `.meta`), if any:
      several layers under the scope asked for convert as one stack only
      where it shows each layer's output feeding the next.

  Raises:
    SelectionError: naming what is missing, ambiguous or would be lost.
  """
  rnn = _pick(inventory, scope, layer, graph)
  description = rnn.description
  if forget_bias is not None:
    description = _with_forget_bias(description, forget_bias)
  if initial_state_inputs:
    description = _with_state_inputs(description)
  if learned_initial_states:
    description = _with_learned_states(description, learned_initial_states,
                                       inventory.variables)
    rnn = dataclasses.replace(rnn, names=rnn.names | set(
        learned_initial_states))
  converted = list(description.shapes())
  reads = {n: n for n in converted}
  if use_ema:
    missing = sorted(c for c in converted if c not in rnn.shadows)
    if missing:
      raise SelectionError(Argument("use_ema", True), f": {missing} have no "
                           f"EMA shadow (<variable>/{detection.EMA_SLOT})")
    reads = {n: rnn.shadows[n] for n in converted}
  dropped, adam, step = [], None, None
  optimizer_names = sorted(s for v in rnn.slots.values() for s in v.values())
  powers_scope = _powers_scope(inventory, rnn)
  powers = [p for p in inventory.beta_powers
            if p.rpartition("/")[0] == powers_scope]
  drop = (" to convert the weights without ", "it")
  if rnn.opaque_slots and not drop_optimizer_state:
    raise SelectionError(
        f"the cuDNN layer's optimizer slots "
        f"{_listing(sorted(rnn.opaque_slots))} "
        f"belong to {rnn.opaque!r}, whose layout is cuDNN's and "
        "device-specific, so they cannot be converted; pass ",
        Argument("drop_optimizer_state", True),
        " to convert the weights without them")
  if drop_optimizer_state:
    dropped = optimizer_names + sorted(rnn.opaque_slots) + powers + (
        [inventory.global_step] if inventory.global_step else [])
  elif rnn.optimizer == detection.ADAM:
    exact = [detection.join(powers_scope, p) for p in detection.BETA_POWERS]
    if sorted(powers) != sorted(exact):
      raise SelectionError(
          f"incomplete Adam state: found beta powers {powers} under scope "
          f"{powers_scope!r}, expected exactly {exact} (with more, "
          "another Adam optimizer shares the scope and its powers cannot be "
          "told apart); pass ", Argument("drop_optimizer_state", True),
          *drop)
    m, v = detection.SLOTS[detection.ADAM]
    adam = AdamNames({n: rnn.slots[n][m] for n in converted},
                     {n: rnn.slots[n][v] for n in converted},
                     dict(zip(detection.BETA_POWERS, exact)),
                     rnn.optimizer_scope)
    _check_adam(inventory.variables, adam)
    if inventory.global_step:
      step = StepCounter(inventory.global_step,
                         inventory.variables[inventory.global_step][1])
  elif rnn.optimizer != detection.NO_SLOTS:
    what = (f"TF1 {rnn.optimizer} state ({_listing(optimizer_names)}): only "
            "TF1 Adam state converts" if rnn.optimizer in detection.SLOTS
            else rnn.optimizer)
    raise SelectionError(f"{what}; pass ",
                         Argument("drop_optimizer_state", True), *drop)
  elif inventory.global_step:
    raise SelectionError(
        f"{inventory.global_step!r} has nowhere to go: it carries into the "
        "Keras optimizer's `iterations` only with TF1 Adam state; pass ",
        Argument("drop_optimizer_state", True), *drop)
  not_read = [rnn.opaque] if rnn.opaque else []
  used = (set(reads.values()) | set(converted) | set(dropped) |
          set(not_read) | ({step.name} if step else set()))
  if adam:
    used |= set(adam.m.values()) | set(adam.v.values()) | set(
        adam.powers.values())
  left = sorted(set(inventory.variables) - used)
  if left and not allow_unconverted:
    raise SelectionError(
        f"converting the {description.describe()} at scope {rnn.scope!r} "
        f"would leave behind {_listing(left)}; pass ",
        Argument("allow_unconverted", True), " to convert it without them")
  return Selection(rnn, description, reads, adam, step, sorted(dropped),
                   left, list(not_read), use_ema)


def _powers_scope(inventory, rnn):
  """Where the Adam beta powers of `rnn`'s slots are: under the slots'
  scope, or, if none are there, under the one scope that holds the only
  pair of powers in the checkpoint (a program that made its optimizer
  under a scope of its own: `optimizer/beta1_power` beside root slots)."""
  scopes = {p.rpartition("/")[0] for p in inventory.beta_powers}
  if rnn.optimizer_scope in scopes or len(scopes) != 1:
    return rnn.optimizer_scope
  (scope,) = scopes
  names = [detection.join(scope, p) for p in detection.BETA_POWERS]
  return scope if sorted(inventory.beta_powers) == sorted(names) else (
      rnn.optimizer_scope)


def _check_adam(variables, adam):
  """Each Adam slot is its variable's shape and dtype; the powers are
  float32 scalars."""
  for slots in (adam.m, adam.v):
    for owner, slot in slots.items():
      if variables[slot] != variables[owner]:
        raise SelectionError(
            f"Adam slot {slot!r} is {variables[slot][1]} "
            f"{variables[slot][0]}; its variable is {variables[owner][1]} "
            f"{variables[owner][0]}")
  for power in adam.powers.values():
    if variables[power] != ((), "float32"):
      raise SelectionError(
          f"{power!r} must be a float32 scalar (TF1 Adam), got "
          f"{variables[power][1]} {variables[power][0]}")


def _listing(found, limit=8):
  more = len(found) - limit
  shown = list(found[:limit])
  return f"{shown}" + (f" and {more} more" if more > 0 else "")


def _with_forget_bias(description, value):
  """`description` with its LSTM's forget bias set by `--forget_bias`."""
  first = description.components[0]
  kind = description_lib.kind_of(first)
  try:
    component = kind.with_forget_bias(first, value)
  except description_lib.SpecError as e:
    raise SelectionError(Argument("forget_bias", value), f": {e}") from e
  return description_lib.Description(
      (component,) + description.components[1:], description.inputs)


def _with_state_inputs(description):
  """`description` with its recurrent layer started from model inputs, one
  per cell ([batch, units])."""
  first = description.components[0]
  kind = description_lib.kind_of(first)
  if not kind.initial_states:
    raise SelectionError(Argument("initial_state_inputs", True), f": the "
                         f"{first.describe()} cannot start from an initial "
                         "state")
  if first.wiring.initial_state:
    raise SelectionError(
        Argument("initial_state_inputs", True), f": the {first.describe()} "
        f"starts from {list(first.wiring.initial_state)} in the program")
  inputs = tuple(description_lib.Input(name, units, first.dtype,
                                       sequence=False)
                 for name, units in kind.state_inputs(first))
  try:
    component = dataclasses.replace(first, wiring=dataclasses.replace(
        first.wiring, initial_state=tuple(i.name for i in inputs)))
    return description_lib.Description(
        (component,) + description.components[1:],
        description.inputs + inputs)
  except description_lib.SpecError as e:
    raise SelectionError(Argument("initial_state_inputs", True),
                         f": {e}") from e


def _with_learned_states(description, names, variables):
  """`description` with its recurrent layer started from the variables
  `names`, one per cell."""
  first = description.components[0]
  kind = description_lib.kind_of(first)
  argument = Argument("learned_initial_states", ...)
  if not kind.initial_states or first.wiring.initial_state:
    raise SelectionError(argument, f": the {first.describe()} "
                         + ("cannot start from an initial state" if
                            not kind.initial_states else
                            f"starts from {list(first.wiring.initial_state)}"
                            " in the program"))
  missing = [n for n in names if n not in variables]
  if missing:
    raise SelectionError(argument, f": the checkpoint holds no {missing}")
  try:
    component = kind.with_learned_states(
        first, tuple((n, variables[n][0]) for n in names))
  except description_lib.SpecError as e:
    raise SelectionError(argument, f": {e}") from e
  return dataclasses.replace(
      description, components=(component,) + description.components[1:])


def _stack(rnns, graph, numbers, variables):
  """One RNN of the layers `rnns` (under one scope, in order), if the
  program's graph wires each layer's output straight into the next: only
  the concatenation of a bidirectional layer's two directions between
  them."""
  layers = f"layers {numbers[0]}-{numbers[-1]} at scope {rnns[0].scope!r}"
  if graph is None:
    raise SelectionError(
        f"{layers}: without the program's .meta nothing shows how they are "
        "wired (matching shapes are not evidence), so they do not convert "
        "as one stack; pass ", Argument("layer", ...), " to convert one")
  for rnn in rnns:
    if rnn.problems:
      raise SelectionError(f"cannot convert the {rnn.describe()}")
  ends = [_ends(graph, r.description.components[0]) for r in rnns]
  for (number, (_, outputs)), (inputs, _) in zip(
      zip(numbers, ends), ends[1:]):
    between = set()
    for output in outputs:
      found = graph.between(output, inputs)
      if found is None:
        raise SelectionError(
            f"{layers}: layer {number + 1} does not read layer {number}'s "
            f"output in the program's graph ({inputs!r}); pass ",
            Argument("layer", ...), " to convert one")
      between |= set(found)
    extra = sorted(n for n in between if not _joins(graph, n, outputs))
    if extra:
      raise SelectionError(
          f"{layers} are not a stack: between layer {number} and layer "
          f"{number + 1} the program computes "
          + ", ".join(f"{n} ({graph.nodes[n].op})" for n in extra[:8])
          + (f" and {len(extra) - 8} more" if len(extra) > 8 else "")
          + ", which a stack of RNN layers does not; pass ",
          Argument("layer", ...), " to convert one layer")
  first = rnns[0]
  kind = description_lib.kind_of(first.description.components[0])
  try:
    component = kind.stack([r.description.components[0] for r in rnns])
  except description_lib.SpecError as e:
    raise SelectionError(f"{layers}: {e}") from e
  for name, shape in component.variables().items():
    if variables[name][0] != shape:
      raise SelectionError(f"{layers}: {name!r} has shape "
                           f"{variables[name][0]}; stacked, it needs {shape}")
  merged = dataclasses.replace(
      first, kind=component.describe(),
      description=description_lib.Description((component,)),
      names=set().union(*(r.names for r in rnns)),
      slots={k: v for r in rnns for k, v in r.slots.items()},
      shadows={k: v for r in rnns for k, v in r.shadows.items()})
  optimizers = {(r.optimizer, r.optimizer_scope) for r in rnns}
  if len(optimizers) != 1:
    raise SelectionError(f"{layers}: their optimizer state differs "
                         f"({sorted(optimizers)})")
  return merged


def _ends(graph, component):
  """(the tensor the layer reads, [its directions' outputs]) in the
  program's graph."""
  cells = description_lib.kind_of(component).cell_variables(component)
  inputs, outputs = set(), []
  for _, direction, names in cells:
    reading = graph.loops_of(names, direction)
    if len(reading) != 1:
      raise SelectionError(
          f"the program's graph has {len(reading)} loops reading "
          f"{sorted(names)[0]}...; expected one")
    inputs.add(reading[0].layer_input)
    outputs.append(reading[0].layer_output)
  if len(inputs) != 1:
    raise SelectionError(f"the directions of one layer read different "
                         f"tensors: {sorted(inputs)}")
  return inputs.pop(), outputs


def _joins(graph, name, outputs):
  """Whether op `name` only concatenates a bidirectional layer's outputs
  (or is that concatenation's axis)."""
  node = graph.nodes[name]
  if node.op == "Const":
    return all(graph.nodes[c].op in ("ConcatV2", "Concat")
               for c in graph.consumers.get(name, []))
  if node.op not in ("ConcatV2", "Concat"):
    return False
  data = [i for i in node.input if not i.startswith("^")]
  data = data[:-1] if node.op == "ConcatV2" else data[1:]
  return sorted(tf1_graph.tensor_name(i) for i in data) == sorted(outputs)


def _numbered(rnns):
  return "; ".join(f"{i} at {r.scope!r}" for i, r in rnns)


def _pick(inventory, scope, layer, graph):
  rnns = inventory.rnns
  if layer is not None:
    if not 1 <= layer <= len(rnns):
      raise SelectionError(Argument("layer", layer), f": the checkpoint has "
                           f"{len(rnns)} RNN(s), numbered from 1 as "
                           "tf1-inspect-checkpoint lists them")
    rnn = rnns[layer - 1]
    if scope is not None and rnn.scope != scope.strip("/"):
      raise SelectionError(Argument("layer", layer), f" is at scope "
                           f"{rnn.scope!r}, not ", Argument("scope", scope))
    chosen = [rnn]
  elif scope is not None:
    scope = scope.strip("/")
    chosen = [r for r in rnns if r.scope == scope]
    if not chosen:
      raise SelectionError(*(
          (Argument("scope", scope), ": no RNN there; RNNs found at scopes "
           f"{inventory.scopes()}") if rnns else
          (Argument("scope", scope), ": no RNN in this checkpoint")))
  else:
    chosen = rnns
  if not chosen:
    signs = ", ".join(f"no {k.looks_like}" for k in kinds.registered()
                      if k.looks_like)
    raise SelectionError(
        f"these variables are not one of this project's legacy models "
        f"({signs} under any scope): "
        f"{_listing(sorted(inventory.variables), 10)}")
  if len(chosen) > 1:
    scopes = [r.scope for r in chosen]
    if len(set(scopes)) == len(scopes):
      raise SelectionError(
          f"{len(chosen)} RNNs in this checkpoint, at scopes "
          f"{inventory.scopes()}; pass ", Argument("scope", ...),
          " to pick one")
    if scope is not None:
      return _stack(chosen, graph, [rnns.index(r) + 1 for r in chosen],
                    inventory.variables)
    raise SelectionError(
        f"{len(chosen)} RNNs ", "" if scope is None else
        f"at scope {scope!r} ", "in this checkpoint, several under one scope "
        f"(numbered: {_numbered((rnns.index(r) + 1, r) for r in chosen)}); "
        "pass ", Argument("layer", ...), " to pick one")
  rnn = chosen[0]
  if rnn.problems:
    raise SelectionError(f"cannot convert the {rnn.describe()}")
  return rnn
