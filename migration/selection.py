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


def select(inventory, scope=None, use_ema=False, drop_optimizer_state=False,
           allow_unconverted=False):
  """The `Selection` of converting one RNN of `inventory`.

  Args:
    inventory: from `detection.inspect`.
    scope: which RNN (its scope); None: the only one there is.
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
  rnn = _pick(inventory, scope)
  description = rnn.description
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
  powers = [p for p in inventory.beta_powers
            if p.rpartition("/")[0] == rnn.optimizer_scope]
  drop = (" to convert the weights without ", "it")
  if rnn.opaque_slots and not drop_optimizer_state:
    raise SelectionError(
        f"CudnnGRU's optimizer slots {_listing(sorted(rnn.opaque_slots))} "
        f"belong to {rnn.opaque!r}, whose layout is cuDNN's and "
        "device-specific, so they cannot be converted; pass ",
        Argument("drop_optimizer_state", True),
        " to convert the weights without them")
  if drop_optimizer_state:
    dropped = optimizer_names + sorted(rnn.opaque_slots) + powers + (
        [inventory.global_step] if inventory.global_step else [])
  elif rnn.optimizer == detection.ADAM:
    exact = [detection.join(rnn.optimizer_scope, p)
             for p in detection.BETA_POWERS]
    if sorted(powers) != sorted(exact):
      raise SelectionError(
          f"incomplete Adam state: found beta powers {powers} under scope "
          f"{rnn.optimizer_scope!r}, expected exactly {exact} (with more, "
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


def _pick(inventory, scope):
  rnns = inventory.rnns
  if scope is not None:
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
    raise SelectionError(
        f"{len(chosen)} RNNs in this checkpoint, at scopes "
        f"{inventory.scopes()}; pass ", Argument("scope", ...),
        " to pick one")
  rnn = chosen[0]
  if rnn.problems:
    raise SelectionError(f"cannot convert the {rnn.describe()}")
  return rnn
