"""What a TF1 checkpoint holds: the seed GRUs wherever they are, and the rest.

Works on names, shapes and dtypes alone (no tensors, no TensorFlow), so
`gru-inspect-checkpoint` reads nothing but the checkpoint's index. Names are
the ones TF1's `Saver` writes for the seed programs, under any variable-scope
prefix P ('' at the root, 'encoder', 'model/encoder', ...):

    Data Blogger GRU     P/{Wr, Wz, Wh, Ur, Uz, Uh, br, bz, bh}
    tutorial GRU         P/gru_init/{input_gate_*, forget_gate_*,
                         control_gate_*} (no input_gate_*: without reset gate)
    tutorial BiGRU       the same under P/gru_init/ and P/gru_init_1/
    addition head        Q/Variable [u, 1], Q/Variable_1 [1]
    classifier head      Q/classifier/softmax_w [u or 2u, c], softmax_b [c]
                         (Q is P or a scope enclosing it; a head goes to the
                         nearest GRU it fits, and to none if that is a tie)
    optimizer slots      [O/]<variable>/<slot>, `SLOTS` below; O is the
                         scope `minimize` ran in
    Adam's powers        [O/]beta1_power, [O/]beta2_power
    EMA shadows          [O/]<variable>/ExponentialMovingAverage
    global_step          `global_step`, an int64 or int32 scalar
    TensorFlow's own     GRUCell, GRUBlockCell(V2), CudnnCompatibleGRUCell
    TF1 GRU cells        and CudnnGRU, single, bidirectional or stacked,
                         under any scope (`tf1_cells` has their names)

Everything else is a variable of some other layer. A Data Blogger GRU is
recognised from 5 of its 9 names (fewer is another layer's); a tutorial GRU
from any name under `gru_init/`. A GRU that lacks a variable, or whose
variables disagree in shape or dtype, is listed with its problems and is not
converted.

`plan` then picks one GRU (with its head, optimizer state and EMA shadows)
to convert, and refuses, naming them, anything it would otherwise lose.
"""

import dataclasses

import numpy as np

from gru_common import names
from migration import spec as spec_lib
from migration import tf1_cells

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
_SCAN_MINIMUM = 5       # names of the Data Blogger GRU that make one
ROOT = ""


def join(prefix, name):
  return f"{prefix}/{name}" if prefix else name


def _parent(name):
  return name.rpartition("/")[0]


def _encloses(outer, inner):
  """Whether scope `outer` is `inner` or encloses it."""
  return outer == inner or not outer or inner.startswith(outer + "/")


def _depth(scope):
  return len(scope.split("/")) if scope else 0


@dataclasses.dataclass(frozen=True)
class Layout:
  """Where a converted model's variables sit in a TF1 checkpoint.

  The converter reads a GRU through its layout and writes it back through
  the same one, so a scoped checkpoint round-trips to the same names.
  """
  scope: str = ROOT             # the GRU's variable-scope prefix
  head_scope: str = None        # the head's (None: the GRU's)
  optimizer_scope: str = ROOT   # of the slots and beta powers
  global_step: str = None       # its dtype, when the checkpoint has one

  def variable(self, spec, name):
    """The checkpoint name of the model variable `name` (as `spec` names
    it at the root)."""
    if name in spec.head_names():
      return join(self.scope if self.head_scope is None else self.head_scope,
                  name)
    return join(self.scope, name)

  def variables(self, spec):
    """{name in spec: checkpoint name} of every model variable."""
    return {n: self.variable(spec, n) for n in spec.variable_names()}

  def slot(self, spec, name, slot):
    return join(self.optimizer_scope, f"{self.variable(spec, name)}/{slot}")

  def power(self, name):
    return join(self.optimizer_scope, name)


@dataclasses.dataclass
class FoundGRU:
  """A seed GRU found in a checkpoint (whole, or with `problems`)."""
  kind: str                     # "Data Blogger GRU", "tutorial BiGRU", ...
  scope: str
  spec: spec_lib.ModelSpec = None     # None when it has problems
  variables: dict = None        # {name in spec: checkpoint name}, present
  head_scope: str = None        # where its head is (None: no head)
  problems: list = dataclasses.field(default_factory=list)
  slots: dict = None            # {checkpoint name: {slot: checkpoint name}}
  shadows: dict = None          # {checkpoint name: EMA shadow name}
  optimizer: str = None         # a key of SLOTS, NO_SLOTS, or a problem
  optimizer_scope: str = ROOT
  opaque: str = None            # CudnnGRU's opaque_kernel (never read)
  opaque_slots: list = dataclasses.field(default_factory=list)
  written_by: str = None        # the TF1 classes, for TensorFlow's cells

  def layout(self, global_step=None):
    return Layout(self.scope, None if self.head_scope in (None, self.scope)
                  else self.head_scope, self.optimizer_scope, global_step)

  def owned(self):
    """Every checkpoint name that belongs to this GRU: its variables, their
    slots and their shadows."""
    found = set(self.variables.values())
    for slots in self.slots.values():
      found.update(slots.values())
    found.update(self.shadows.values())
    if self.opaque:
      found.add(self.opaque)
      found.update(self.opaque_slots)
    return found

  def describe(self):
    if self.spec is None:
      return f"{self.kind} at scope {self.scope!r}: " + "; ".join(
          self.problems)
    return f"{self.spec.describe()}, scope {self.scope!r}"


@dataclasses.dataclass
class Inventory:
  """Everything in a checkpoint, by what it is."""
  variables: dict               # {name: (shape tuple, dtype name)}
  grus: list                    # FoundGRU
  global_step: str = None       # its name, if there is one
  beta_powers: list = dataclasses.field(default_factory=list)
  other: list = dataclasses.field(default_factory=list)   # sorted names

  def scopes(self):
    return [g.scope for g in self.grus]

  def lines(self):
    """The inventory as `gru-inspect-checkpoint` prints it."""
    out = [f"{len(self.variables)} variables; {len(self.grus)} GRU(s)"]
    for g in self.grus:
      out.append(f"GRU at scope {g.scope!r}: {g.kind}")
      if g.written_by:
        out.append(f"  written by: {g.written_by}")
      spec = g.spec
      if spec is None:
        out.extend(f"  problem: {p}" for p in g.problems)
        continue
      directions = ("forward + backward" if spec.bidirectional else
                    "forward")
      out.append(f"  {_units(spec)} units, {spec.input_dim} inputs, "
                 f"{spec.dtype}, {directions}")
      if g.opaque:
        out.append(f"  {g.opaque}: the same weights in cuDNN's opaque "
                   "layout (not read)")
      head = "none"
      if spec.head:
        head = (f"{spec.head} ({spec.head_units} output"
                f"{'s' if spec.head_units > 1 else ''}) at scope "
                f"{g.head_scope!r}")
      out.append(f"  head: {head}")
      slots = sum(len(v) for v in g.slots.values())
      where = (f", under scope {g.optimizer_scope!r}" if g.optimizer_scope
               else "")
      out.append(f"  optimizer: {g.optimizer}" +
                 (f" ({slots} slots{where})" if slots else ""))
      out.extend(f"  problem: {p}" for p in g.problems)
      if g.shadows:
        out.append(f"  EMA shadows: {len(g.shadows)} of "
                   f"{len(g.variables)} variables")
    bookkeeping = list(self.beta_powers)
    if self.global_step:
      bookkeeping.insert(0, f"{self.global_step} "
                         f"({self.variables[self.global_step][1]})")
    out.append("bookkeeping: " + (", ".join(bookkeeping) or "none"))
    out.append(f"other variables: {len(self.other)}")
    out.extend(f"  {n} {self.variables[n][1]} {list(self.variables[n][0])}"
               for n in self.other)
    return out

  def to_json(self):
    """The inventory as plain data (what `gru-inspect-checkpoint --json`
    prints)."""
    def gru(g):
      spec = g.spec
      return {
          "kind": g.kind, "scope": g.scope, "written_by": g.written_by,
          "units": list(spec.units) if spec and isinstance(
              spec.units, tuple) else spec.units if spec else None,
          "opaque_kernel": g.opaque,
          "input_size": spec.input_dim if spec else None,
          "dtype": spec.dtype if spec else None,
          "directions": (["forward", "backward"] if spec and
                         spec.bidirectional else ["forward"]),
          "head": (None if not spec or not spec.head else
                   {"kind": spec.head, "units": spec.head_units,
                    "scope": g.head_scope}),
          "variables": sorted(g.variables.values()),
          "optimizer": g.optimizer, "optimizer_scope": g.optimizer_scope,
          "slots": sorted(s for v in g.slots.values() for s in v.values()),
          "ema_shadows": sorted(g.shadows.values()),
          "problems": list(g.problems)}
    step = self.global_step
    return {
        "grus": [gru(g) for g in self.grus],
        "global_step": None if step is None else {
            "name": step, "dtype": self.variables[step][1]},
        "beta_powers": list(self.beta_powers),
        "other_variables": [{"name": n, "shape": list(self.variables[n][0]),
                             "dtype": self.variables[n][1]}
                            for n in self.other],
    }


def _units(spec):
  """'4', or '5+4' for the layers of a stack."""
  if isinstance(spec.units, tuple):
    return "+".join(str(u) for u in spec.units)
  return str(spec.units)


def inspect(shapes, dtypes):
  """The `Inventory` of a checkpoint's variables.

  Args:
    shapes: {name: shape} (as `get_variable_to_shape_map` gives them).
    dtypes: {name: dtype or dtype name}.

  Example:

  >>> shapes = {"enc/Wr": (2, 3), "other/kernel": (3, 3)}
  >>> inv = inspect(shapes, {n: "float32" for n in shapes})
  >>> inv.grus, inv.other
  ([], ['enc/Wr', 'other/kernel'])
  """
  variables = {n: (tuple(int(d) for d in shapes[n]),
                   np.dtype(_dtype_name(dtypes[n])).name) for n in shapes}
  step = GLOBAL_STEP if (
      GLOBAL_STEP in variables and variables[GLOBAL_STEP][0] == ()
      and variables[GLOBAL_STEP][1] in GLOBAL_STEP_DTYPES) else None
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
  grus = sorted(_find_grus(model, variables) + _find_cells(model, variables),
                key=lambda g: g.scope)
  _attach_heads(grus, model, variables)
  for gru in grus:
    _attach_slots(gru, owners)
  claimed = set()
  for gru in grus:
    claimed |= gru.owned()
  return Inventory(variables, grus, step, powers,
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


def _find_grus(model, variables):
  grus = []
  by_scope = {}
  for name in model:
    scope, _, last = name.rpartition("/")
    if last in names.SCAN_GRU:
      by_scope.setdefault(scope, set()).add(last)
  for scope in sorted(by_scope):
    if len(by_scope[scope]) >= _SCAN_MINIMUM:
      grus.append(_check(spec_lib.SCAN, scope, model, variables,
                         reset=True, bidirectional=False))
  loops = {}
  for name in model:
    parts = name.split("/")
    if len(parts) >= 2 and parts[-1] in names.LOOP_GRU and parts[-2] in (
        names.LOOP_SCOPE, names.LOOP_BACKWARD_SCOPE):
      loops.setdefault("/".join(parts[:-2]), set()).add(
          f"{parts[-2]}/{parts[-1]}")
  for scope in sorted(loops):
    present = loops[scope]
    forward = {n for n in present if n.startswith(names.LOOP_SCOPE + "/")}
    if not forward:
      continue   # a lone gru_init_1: not a seed program's layout
    bidirectional = len(forward) < len(present)
    reset = any(n.split("/")[1] in names.LOOP_RESET_GATE for n in present)
    grus.append(_check(spec_lib.LOOP, scope, model, variables, reset=reset,
                       bidirectional=bidirectional))
  return sorted(grus, key=lambda g: g.scope)


def _find_cells(model, variables):
  """FoundGRUs of TensorFlow's own TF1 GRU cells (`tf1_cells`)."""
  found = tf1_cells.find(model, variables)
  opaque = tf1_cells.with_opaque_kernel(found, variables)
  grus = []
  for kind, scope, spec, present, problems in found:
    grus.append(FoundGRU(
        spec.kind_text() if spec else f"TF1 {kind}", scope, spec, present,
        problems=problems, slots={}, shadows={}, opaque=opaque.get(scope),
        written_by=tf1_cells.WRITTEN_BY[kind]))
  return grus


def _check(family, scope, model, variables, reset, bidirectional):
  """A `FoundGRU` for the GRU of `family` under `scope`, checked."""
  probe = spec_lib.ModelSpec(family, 1, 1, "float32", reset_gate=reset,
                             bidirectional=bidirectional)
  kind = probe.kind()
  wanted = {n: join(scope, n) for n in probe.variable_names()}
  present = {n: c for n, c in wanted.items() if c in model}
  gru = FoundGRU(kind, scope, variables=present, slots={}, shadows={})
  missing = sorted(c for n, c in wanted.items() if n not in present)
  if missing:
    gru.problems.append(f"it lacks {missing}")
    return gru
  by_dtype = {}
  for c in sorted(present.values()):
    by_dtype.setdefault(variables[c][1], []).append(c)
  if len(by_dtype) != 1:
    common = max(by_dtype, key=lambda d: len(by_dtype[d]))
    gru.problems.append("its variables disagree in dtype: " + ", ".join(
        f"{found} are {d}" for d, found in by_dtype.items() if d != common)
                        + f", the others {common}")
    return gru
  dtype = next(iter(by_dtype))
  recurrent = (names.UZ if family == spec_lib.SCAN else
               f"{names.LOOP_SCOPE}/{names.FORGET_GATE_U}")
  kernel = (names.WZ if family == spec_lib.SCAN else
            f"{names.LOOP_SCOPE}/{names.FORGET_GATE_W}")
  try:
    spec = spec_lib.ModelSpec(
        family, (variables[present[recurrent]][0] or (0,))[0],
        (variables[present[kernel]][0] or (0,))[0], dtype, reset_gate=reset,
        bidirectional=bidirectional)
  except spec_lib.SpecError as e:
    gru.problems.append(str(e))
    return gru
  for name, shape in spec.shapes().items():
    got = variables[present[name]][0]
    if got != shape:
      gru.problems.append(f"{present[name]!r} has shape {got}; a "
                          f"{spec.describe()} needs {shape}")
  if not gru.problems:
    gru.spec = spec
  return gru


def _attach_heads(grus, model, variables):
  """Gives each whole GRU the head that fits it at the nearest scope."""
  candidates = []   # (gru index, distance, head kind, head scope, names)
  for i, gru in enumerate(grus):
    spec = gru.spec
    if spec is None or spec.family == tf1_cells.FAMILY:
      continue   # TensorFlow's cells convert without a head
    if spec.family == spec_lib.SCAN:
      head, head_names = spec_lib.ADDITION, names.ADDITION_OUTPUT
    else:
      head, head_names = spec_lib.CLASSIFIER, spec_lib.CLASSIFIER_HEAD
    for name in model:
      if not name.endswith("/" + head_names[0]) and name != head_names[0]:
        continue
      scope = name[:-len(head_names[0])].rstrip("/")
      if not _encloses(scope, gru.scope):
        continue
      full = [join(scope, n) for n in head_names]
      if not all(n in model for n in full):
        continue
      units = _head_units(spec, head, [variables[n] for n in full])
      if units is not None:
        candidates.append((i, _depth(gru.scope) - _depth(scope), head, scope,
                           units))
  taken = set()
  for distance in sorted({c[1] for c in candidates}):
    at = [c for c in candidates if c[1] == distance and c[3] not in taken
          and grus[c[0]].spec.head is None]
    for i, _, head, scope, units in at:
      rivals = [c for c in at if c[3] == scope and c[2] == head]
      own = [c for c in at if c[0] == i]
      if len(rivals) == 1 and len(own) == 1:
        grus[i].spec = dataclasses.replace(grus[i].spec, head=head,
                                           head_units=units)
        grus[i].head_scope = scope
        grus[i].variables.update(
            {n: join(scope, n) for n in grus[i].spec.head_names()})
    taken |= {c[3] for c in at}


def _head_units(spec, head, found):
  """The head's output size if its variables fit `spec`, else None."""
  (w_shape, w_dtype), (b_shape, b_dtype) = found
  if w_dtype != spec.dtype or b_dtype != spec.dtype or len(w_shape) != 2:
    return None
  width = spec.units * (2 if spec.bidirectional else 1)
  if w_shape[0] != width or b_shape != (w_shape[1],) or w_shape[1] < 1:
    return None
  if head == spec_lib.ADDITION and w_shape[1] != 1:
    return None
  return w_shape[1]


def _attach_slots(gru, owners):
  """The GRU's optimizer slots and EMA shadows, and which optimizer."""
  mine = set(gru.variables.values())
  scopes = set()
  unknown = []
  for name, owner in owners.items():
    if owner == gru.opaque:
      gru.opaque_slots.append(name)
    if owner not in mine:
      continue
    slot = name.rpartition("/")[2]
    scopes.add(name[:-len(f"{owner}/{slot}")].rstrip("/"))
    if slot == EMA_SLOT:
      gru.shadows[owner] = name
    else:
      gru.slots.setdefault(owner, {})[slot] = name
      if slot not in _SLOT_NAMES:
        unknown.append(name)
  if len(scopes) > 1:
    gru.problems.append(f"its slots sit under several scopes {sorted(scopes)}"
                        " (more than one optimizer?)")
  gru.optimizer_scope = scopes.pop() if len(scopes) == 1 else ROOT
  gru.optimizer = _optimizer(gru, unknown)


def _optimizer(gru, unknown):
  """The optimizer whose slots these are, or what is wrong with them."""
  if unknown:
    return (f"unknown optimizer slots {sorted(unknown)} (of no TF1 optimizer "
            "this tool knows)")
  per_variable = {v: sorted(gru.slots.get(v, {})) for v in
                  sorted(gru.variables.values())}
  kinds = {tuple(s) for s in per_variable.values()}
  if kinds == {()}:
    return NO_SLOTS
  union = sorted({s for slots in kinds for s in slots})
  for optimizer, slots in SLOTS.items():
    if union == sorted(slots):
      if len(kinds) == 1:
        return optimizer
      name, have = next((v, s) for v, s in per_variable.items()
                        if s != union)
      return (f"incomplete {optimizer} state: variable {name!r} has slots "
              f"{have}, expected {union}")
  return f"optimizer slots {union} match no TF1 optimizer this tool knows"


class SelectionError(spec_lib.SpecError):
  """No GRU, several and no scope, or one that cannot convert as asked."""


@dataclasses.dataclass
class Plan:
  """What a conversion reads and what it leaves out, all named."""
  gru: FoundGRU
  sources: dict                 # {name in spec: checkpoint name to read}
  layout: Layout
  adam: dict = None             # {"m"/"v"/power: {name: checkpoint name}}
  global_step: str = None       # read and checked against the Adam steps
  left_behind: list = dataclasses.field(default_factory=list)
  dropped: list = dataclasses.field(default_factory=list)
  averaged: bool = False        # sources are EMA shadows
  not_read: list = dataclasses.field(default_factory=list)  # duplicates


def plan(inventory, scope=None, use_ema=False, drop_optimizer_state=False,
         allow_unconverted=False):
  """The `Plan` of converting one GRU of `inventory`.

  Args:
    inventory: from `inspect`.
    scope: which GRU (its scope); None: the only one there is.
    use_ema: read the EMA shadows instead of the raw weights.
    drop_optimizer_state: convert the weights only: the optimizer state
      (slots, beta powers, `global_step`) is listed as dropped. Without it,
      any optimizer state but TF1 Adam's (which converts exactly) is
      refused.
    allow_unconverted: leave other variables behind, listed, instead of
      refusing.

  Raises:
    SelectionError: naming what is missing, ambiguous or would be lost.
  """
  gru = _select(inventory, scope)
  spec = gru.spec
  layout_names = gru.layout().variables(spec)
  sources = dict(layout_names)
  converted = set(sources.values())
  if use_ema:
    missing = sorted(c for c in converted if c not in gru.shadows)
    if missing:
      raise SelectionError(f"use_ema=True: {missing} have no EMA shadow "
                           f"(<variable>/{EMA_SLOT})")
    sources = {n: gru.shadows[c] for n, c in sources.items()}
  dropped, adam, step = [], None, None
  optimizer_names = sorted(s for v in gru.slots.values() for s in v.values())
  powers = [p for p in inventory.beta_powers
            if _parent(p) == gru.optimizer_scope]
  if gru.opaque_slots and not drop_optimizer_state:
    raise SelectionError(
        f"CudnnGRU's optimizer slots {_listing(sorted(gru.opaque_slots))} "
        f"belong to {gru.opaque!r}, whose layout is cuDNN's and "
        "device-specific, so they cannot be converted; pass "
        "drop_optimizer_state=True to convert the weights without them")
  if drop_optimizer_state:
    dropped = optimizer_names + sorted(gru.opaque_slots) + powers + (
        [inventory.global_step] if inventory.global_step else [])
  elif gru.optimizer == ADAM:
    exact = [join(gru.optimizer_scope, p) for p in BETA_POWERS]
    if sorted(powers) != sorted(exact):
      raise SelectionError(
          f"incomplete Adam state: found beta powers {powers} under scope "
          f"{gru.optimizer_scope!r}, expected exactly {exact} (with more, "
          "another Adam optimizer shares the scope and its powers cannot be "
          "told apart); pass drop_optimizer_state=True to convert the "
          "weights without it")
    m, v = SLOTS[ADAM]
    adam = {"m": {n: gru.slots[c][m] for n, c in layout_names.items()},
            "v": {n: gru.slots[c][v] for n, c in layout_names.items()},
            "powers": dict(zip(BETA_POWERS, exact))}
    _check_adam(inventory.variables, layout_names, adam)
    step = inventory.global_step
  elif gru.optimizer != NO_SLOTS:
    what = (f"TF1 {gru.optimizer} state ({_listing(optimizer_names)}): only "
            "TF1 Adam state converts" if gru.optimizer in SLOTS
            else gru.optimizer)
    raise SelectionError(f"{what}; pass drop_optimizer_state=True to convert "
                         "the weights without it")
  elif inventory.global_step:
    raise SelectionError(
        f"{inventory.global_step!r} has nowhere to go: it carries into the "
        "Keras optimizer's `iterations` only with TF1 Adam state; pass "
        "drop_optimizer_state=True to convert the weights without it")
  not_read = [gru.opaque] if gru.opaque else []
  used = (set(sources.values()) | converted | set(dropped) |
          set(not_read) | ({step} if step else set()))
  if adam:
    for group in adam.values():
      used |= set(group.values())
  left = sorted(set(inventory.variables) - used)
  if left and not allow_unconverted:
    raise SelectionError(
        f"converting the {spec.describe()} at scope {gru.scope!r} would "
        f"leave behind {_listing(left)}; pass allow_unconverted=True to convert "
        "it without them")
  layout = gru.layout(inventory.variables[step][1] if step else None)
  if adam is None:
    layout = dataclasses.replace(layout, optimizer_scope=ROOT)
  return Plan(gru, sources, layout, adam, step, left, sorted(dropped),
              use_ema, not_read)


def _check_adam(variables, layout_names, adam):
  """Each Adam slot is its variable's shape and dtype; the powers are
  float32 scalars."""
  for group in ("m", "v"):
    for name, slot in adam[group].items():
      owner = layout_names[name]
      if variables[slot] != variables[owner]:
        raise SelectionError(
            f"Adam slot {slot!r} is {variables[slot][1]} "
            f"{variables[slot][0]}; its variable is {variables[owner][1]} "
            f"{variables[owner][0]}")
  for power in adam["powers"].values():
    if variables[power] != ((), "float32"):
      raise SelectionError(
          f"{power!r} must be a float32 scalar (TF1 Adam), got "
          f"{variables[power][1]} {variables[power][0]}")


def _listing(found, limit=8):
  more = len(found) - limit
  shown = list(found[:limit])
  return f"{shown}" + (f" and {more} more" if more > 0 else "")


def _select(inventory, scope):
  grus = inventory.grus
  if scope is not None:
    scope = scope.strip("/")
    chosen = [g for g in grus if g.scope == scope]
    if not chosen:
      raise SelectionError(
          f"scope={scope!r}: no GRU there; GRUs found at scopes "
          f"{inventory.scopes()}" if grus else
          f"scope={scope!r}: no GRU in this checkpoint")
  else:
    chosen = grus
  if not chosen:
    raise SelectionError(
        "these variables are not one of this project's legacy models (no "
        "Data Blogger GRU 'Wz'..., no tutorial GRU 'gru_init/...', no TF1 "
        "GRU cell '.../gates/kernel'... under any scope): "
        f"{_listing(sorted(inventory.variables), 10)}")
  if len(chosen) > 1:
    raise SelectionError(
        f"{len(chosen)} GRUs in this checkpoint, at scopes "
        f"{inventory.scopes()}; pass scope=... to pick one")
  gru = chosen[0]
  if gru.problems:
    raise SelectionError(f"cannot convert the {gru.describe()}")
  return gru
