"""What a TF1 checkpoint holds: every RNN the kinds recognise, and the rest.

Works on names, shapes and dtypes alone (no tensors, no TensorFlow), so
`tf1-inspect-checkpoint` reads nothing but the checkpoint's index. The
recurrent kinds (`migration.kinds`) find their RNNs, under any
variable-scope prefix; then, kind-independently:

    heads               each recurrent kind lists the head kinds its
                        programs have; a head goes to the nearest RNN it
                        fits (at the RNN's scope or one enclosing it), and
                        to none if that is a tie
    optimizer slots     [O/]<variable>/<slot>, `SLOTS` below; O is the
                        scope `minimize` ran in
    Adam's powers       [O/]beta1_power, [O/]beta2_power
    EMA shadows         [O/]<variable>/ExponentialMovingAverage
    step counter        an int64 or int32 scalar: the one the program's
                        graph increments as its optimizer's step, whatever
                        its name (`Global_Step`, an unnamed `Variable`),
                        or without the graph `global_step'

Everything else is a variable of some other layer. An RNN that lacks a
variable, or whose variables disagree in shape or dtype, is listed with its
problems and is not converted. `selection` then picks what one conversion
reads.
"""

import dataclasses

import numpy as np

from migration import description as description_lib
from migration import kinds

# TF1 optimizers' slot names, in the order TF1 creates them; each optimizer
# (by its default name) suffixes `/<slot>` to every variable it trains.
SLOTS = {
    "Adam": ("Adam", "Adam_1"),                        # m, v
    "Momentum": ("Momentum",),                         # accumulation
    "RMSProp": ("RMSProp", "RMSProp_1"),               # rms, momentum
    "RMSProp (centered)": ("RMSProp", "RMSProp_1", "RMSProp_2"),  # + mg
    "Adagrad": ("Adagrad",),                           # accumulator
    "AdagradDA": ("AdagradDA", "AdagradDA_1"),         # g, g squared
    "Adadelta": ("Adadelta", "Adadelta_1"),            # accum, accum_update
    "Ftrl": ("Ftrl", "Ftrl_1"),                        # accum, linear
    "ProximalAdagrad": ("ProximalAdagrad",),           # accumulator
}
NO_SLOTS = "none (or a slot-free one: GradientDescent, ProximalGradientDescent)"
ADAM = "Adam"
EMA_SLOT = "ExponentialMovingAverage"
BETA_POWERS = ("beta1_power", "beta2_power")
GLOBAL_STEP = "global_step"
GLOBAL_STEP_DTYPES = ("int64", "int32")
_SLOT_NAMES = frozenset(s for slots in SLOTS.values() for s in slots)
ROOT = ""
join = description_lib.join


def _parent(name):
  return name.rpartition("/")[0]


def _encloses(outer, inner):
  """Whether scope `outer` is `inner` or encloses it."""
  return outer == inner or not outer or inner.startswith(outer + "/")


def _depth(scope):
  return len(scope.split("/")) if scope else 0


@dataclasses.dataclass
class FoundRNN:
  """An RNN found in a checkpoint (whole, or with `problems`), with what
  belongs to it."""
  kind: str                     # "Data Blogger GRU", "TF1 GRUCell", ...
  scope: str
  description: description_lib.Description = None   # None: problems
  names: set = dataclasses.field(default_factory=set)  # its variables found
  head_scope: str = None        # where its head is (None: no head)
  problems: list = dataclasses.field(default_factory=list)
  slots: dict = dataclasses.field(default_factory=dict)
  #                               {checkpoint name: {slot: checkpoint name}}
  shadows: dict = dataclasses.field(default_factory=dict)
  #                               {checkpoint name: EMA shadow name}
  optimizer: str = None         # a key of SLOTS, NO_SLOTS, or a problem
  optimizer_scope: str = ROOT
  opaque: str = None            # CudnnGRU's opaque_kernel (never read)
  opaque_slots: list = dataclasses.field(default_factory=list)
  written_by: str = None        # the TF1 classes, for TensorFlow's cells

  def owned(self):
    """Every checkpoint name that belongs to this RNN: its variables, their
    slots and their shadows."""
    found = set(self.names)
    for slots in self.slots.values():
      found.update(slots.values())
    found.update(self.shadows.values())
    if self.opaque:
      found.add(self.opaque)
      found.update(self.opaque_slots)
    return found

  def describe(self):
    if self.description is None:
      return f"{self.kind} at scope {self.scope!r}: " + "; ".join(
          self.problems)
    return f"{self.description.describe()}, scope {self.scope!r}"


@dataclasses.dataclass
class Inventory:
  """Everything in a checkpoint, by what it is."""
  variables: dict               # {name: (shape tuple, dtype name)}
  rnns: list                    # FoundRNN, by scope
  global_step: str = None       # its name, if there is one
  beta_powers: list = dataclasses.field(default_factory=list)
  other: list = dataclasses.field(default_factory=list)   # sorted names

  def scopes(self):
    return [r.scope for r in self.rnns]

  def to_json(self):
    """The inventory as plain data (`tf1-inspect-checkpoint --json`)."""
    def rnn(r):
      description = r.description
      first = description.components[0] if description else None
      heads = description.components[1:] if description else ()
      return {
          "kind": r.kind, "scope": r.scope, "written_by": r.written_by,
          "units": (None if first is None else list(first.units)
                    if description_lib.kind_of(first).stacks else
                    first.units[0]),
          "opaque_kernel": r.opaque,
          "input_size": first.input_dim if first else None,
          "dtype": first.dtype if first else None,
          "directions": (["forward", "backward"] if first and
                         first.wiring.directions == 2 else ["forward"]),
          "head": (None if not heads else
                   {"kind": heads[0].kind, "units": heads[0].units[0],
                    "scope": r.head_scope}),
          "variables": sorted(r.names),
          "initial_states": list(first.wiring.initial_state) if first
                            else [],
          "cells": (list(description_lib.kind_of(first).cell_paths(first))
                    if first else []),
          "optimizer": r.optimizer, "optimizer_scope": r.optimizer_scope,
          "slots": sorted(s for v in r.slots.values() for s in v.values()),
          "ema_shadows": sorted(r.shadows.values()),
          "problems": list(r.problems)}
    step = self.global_step
    return {
        "grus": [dict(rnn(r), layer=i) for i, r in enumerate(self.rnns, 1)],
        "global_step": None if step is None else {
            "name": step, "dtype": self.variables[step][1]},
        "beta_powers": list(self.beta_powers),
        "other_variables": [{"name": n, "shape": list(self.variables[n][0]),
                             "dtype": self.variables[n][1]}
                            for n in self.other],
    }


def inspect(shapes, dtypes, graph=None):
  """The `Inventory` of a checkpoint's variables.

  Args:
    shapes: {name: shape} (as `get_variable_to_shape_map` gives them).
    dtypes: {name: dtype or dtype name}.
    graph: the program's `tf1_graph.ProgramGraph` (its `.meta`), if read:
      it tells the step counter (what the optimizer increments; without
      it, `global_step`) and wiring that names alone cannot (a cell both
      directions of a bidirectional RNN share).

  Example:

  >>> shapes = {"enc/Wr": (2, 3), "other/kernel": (3, 3)}
  >>> inv = inspect(shapes, {n: "float32" for n in shapes})
  >>> inv.rnns, inv.other
  ([], ['enc/Wr', 'other/kernel'])
  """
  variables = {n: (tuple(int(d) for d in shapes[n]),
                   np.dtype(_dtype_name(dtypes[n])).name) for n in shapes}
  counters = [n for n in (graph.step_counters() if graph else [GLOBAL_STEP])
              if n in variables and variables[n][0] == ()
              and variables[n][1] in GLOBAL_STEP_DTYPES]
  step = counters[0] if len(counters) == 1 else None
  powers = sorted(n for n in variables
                  if _is_power(n) and variables[n][0] == ())
  model = {n for n in variables if n not in powers and n != step}
  # A slot's owner is the longest model-variable name its parent ends with.
  owners = {}
  for name in sorted(model):
    owner = _owner(_parent(name), model)
    if owner is not None and owner != name:
      owners[name] = owner
  model -= set(owners)
  rnns = []
  for kind in kinds.registered():
    if kind.recurrent:
      rnns.extend(kind.detect(model, variables, graph))
  rnns.sort(key=lambda r: r.scope)
  _attach_heads(rnns, model, variables)
  for rnn in rnns:
    _attach_slots(rnn, owners)
  claimed = set()
  for rnn in rnns:
    claimed |= rnn.owned()
  return Inventory(variables, rnns, step, powers,
                   sorted(set(variables) - claimed - set(powers) -
                          {step}))


def _dtype_name(dtype):
  """A numpy dtype's name from a TensorFlow or numpy dtype, or a name."""
  return getattr(dtype, "name", dtype)


def _is_power(name):
  last = name.rpartition("/")[2]
  for power in BETA_POWERS:
    if last == power or (last.startswith(power + "_") and
                         last[len(power) + 1:].isdigit()):
      return True
  return False


def _owner(base, model):
  """The longest model-variable name that a slot's parent name `base` ends
  with (a slot made under a `minimize` scope O is O/<variable>/<slot>)."""
  suffixes = [base.split("/", i)[-1] for i in range(base.count("/") + 1)]
  return next((s for s in suffixes if s in model), None)


def _attach_heads(rnns, model, variables):
  """Gives each whole RNN the head that fits it at the nearest scope."""
  candidates = []   # (rnn index, distance, head kind, head scope, component)
  for i, rnn in enumerate(rnns):
    if rnn.description is None:
      continue
    first = rnn.description.components[0]
    for head in map(kinds.get, description_lib.kind_of(first).head_kinds):
      head_names = head.head_names()
      for name in model:
        if not name.endswith("/" + head_names[0]) and name != head_names[0]:
          continue
        scope = name[:-len(head_names[0])].rstrip("/")
        if not _encloses(scope, rnn.scope):
          continue
        full = [join(scope, n) for n in head_names]
        if not all(n in model for n in full):
          continue
        component = head.fit_head(first, scope, [variables[n] for n in full])
        if component is not None:
          candidates.append((i, _depth(rnn.scope) - _depth(scope), head.name,
                             scope, component))
  taken = set()
  for distance in sorted({c[1] for c in candidates}):
    at = [c for c in candidates if c[1] == distance and c[3] not in taken
          and len(rnns[c[0]].description.components) == 1]
    for i, _, head, scope, component in at:
      rivals = [c for c in at if c[3] == scope and c[2] == head]
      own = [c for c in at if c[0] == i]
      if len(rivals) == 1 and len(own) == 1:
        rnn = rnns[i]
        rnn.description = dataclasses.replace(
            rnn.description,
            components=rnn.description.components + (component,))
        rnn.head_scope = scope
        rnn.names.update(component.variables())
    taken |= {c[3] for c in at}


def _attach_slots(rnn, owners):
  """The RNN's optimizer slots and EMA shadows, and which optimizer."""
  mine = set(rnn.names)
  scopes = set()
  unknown = []
  for name, owner in owners.items():
    if owner == rnn.opaque:
      rnn.opaque_slots.append(name)
    if owner not in mine:
      continue
    slot = name.rpartition("/")[2]
    scopes.add(name[:-len(f"{owner}/{slot}")].rstrip("/"))
    if slot == EMA_SLOT:
      rnn.shadows[owner] = name
    else:
      rnn.slots.setdefault(owner, {})[slot] = name
      if slot not in _SLOT_NAMES:
        unknown.append(name)
  if len(scopes) > 1:
    rnn.problems.append(f"its slots sit under several scopes {sorted(scopes)}"
                        " (more than one optimizer?)")
  rnn.optimizer_scope = scopes.pop() if len(scopes) == 1 else ROOT
  rnn.optimizer = _optimizer(rnn, unknown)


def _optimizer(rnn, unknown):
  """The optimizer whose slots these are, or what is wrong with them."""
  if unknown:
    return (f"unknown optimizer slots {sorted(unknown)} (of no TF1 optimizer "
            "this tool knows)")
  per_variable = {v: sorted(rnn.slots.get(v, {})) for v in sorted(rnn.names)}
  kinds_ = {tuple(s) for s in per_variable.values()}
  if kinds_ == {()}:
    return NO_SLOTS
  union = sorted({s for slots in kinds_ for s in slots})
  for optimizer, slots in SLOTS.items():
    if union == sorted(slots):
      if len(kinds_) == 1:
        return optimizer
      name, have = next((v, s) for v, s in per_variable.items()
                        if s != union)
      return (f"incomplete {optimizer} state: variable {name!r} has slots "
              f"{have}, expected {union}")
  return f"optimizer slots {union} match no TF1 optimizer this tool knows"
