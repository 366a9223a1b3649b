"""Which legacy model a set of variables is: detection by names and shapes.

A TF1 checkpoint of this project's legacy models holds exactly one of these
variable sets (plus, optionally, TF1 Adam's slots `<var>/Adam`,
`<var>/Adam_1` for every model variable, and `beta1_power`, `beta2_power`):

    Data Blogger GRU        Wr Wz Wh [in, u], Ur Uz Uh [u, u], br bz bh [u]
      + addition head       Variable [u, 1], Variable_1 [1]
    tutorial GRU            gru_init/{input_gate_wi, forget_gate_wf,
                              control_gate_wc} [in, u],
                            gru_init/{input_gate_ui, forget_gate_wf_1,
                              control_gate_uc} [u, u],
                            gru_init/{input_gate,forget_gate,control_gate}_bias
      without reset gate    the same without gru_init/input_gate_*
      BiGRU                 the same again under gru_init_1/
      + classifier head     classifier/softmax_w [u (2u for BiGRU), c],
                            classifier/softmax_b [c]

Detection is exact: names must match one set entirely, every shape must fit
the others, all dtypes must agree; anything missing, unexpected, mis-shaped
or mis-typed is refused with an error that names it.
"""

import dataclasses

import numpy as np

from gru_common import checks
from gru_common import names

SCAN = "scan"     # the Data Blogger GRU (legacy/scan_gru.py)
LOOP = "loop"     # the tutorial GRU (legacy/loop_gru.py)
FAMILIES = (SCAN, LOOP)
ADDITION = "addition"
CLASSIFIER = "classifier"

LOOP_SCOPES = (names.LOOP_SCOPE, names.LOOP_BACKWARD_SCOPE)
CLASSIFIER_HEAD = tuple(f"{names.CLASSIFIER_SCOPE}/{n}"
                        for n in names.CLASSIFIER_HEAD)
ADAM_SLOTS = ("Adam", "Adam_1")
BETA_POWERS = ("beta1_power", "beta2_power")
FLOAT_DTYPES = ("float32", "float64")

_KERNEL, _RECURRENT, _BIAS = "kernel", "recurrent", "bias"
_ROLE = {  # What each GRU variable is, for its shape.
    names.WR: _KERNEL, names.WZ: _KERNEL, names.WH: _KERNEL,
    names.UR: _RECURRENT, names.UZ: _RECURRENT, names.UH: _RECURRENT,
    names.BR: _BIAS, names.BZ: _BIAS, names.BH: _BIAS,
    names.INPUT_GATE_W: _KERNEL, names.FORGET_GATE_W: _KERNEL,
    names.CONTROL_GATE_W: _KERNEL,
    names.INPUT_GATE_U: _RECURRENT, names.FORGET_GATE_U: _RECURRENT,
    names.CONTROL_GATE_U: _RECURRENT,
    names.INPUT_GATE_B: _BIAS, names.FORGET_GATE_B: _BIAS,
    names.CONTROL_GATE_B: _BIAS,
}


class SpecError(ValueError):
  """The variables are not one of the legacy models (the message says why)."""


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  """A legacy model's architecture, as far as its variables tell."""
  family: str
  units: int
  input_dim: int
  dtype: str
  reset_gate: bool = True
  bidirectional: bool = False
  head: str = None
  head_units: int = None

  def __post_init__(self):
    if self.family not in FAMILIES:
      raise SpecError(f"family must be one of {FAMILIES}, got "
                      f"{self.family!r}")
    sizes = {"units": self.units, "input_dim": self.input_dim}
    if self.head is not None:
      sizes["head_units"] = self.head_units
    for name, value in sizes.items():
      try:
        checks.integer(name, value)
      except ValueError as e:
        raise SpecError(f"{e} (The legacy graphs have no empty layers.)"
                        ) from None
    if self.dtype not in FLOAT_DTYPES:
      raise SpecError(f"dtype must be one of {FLOAT_DTYPES} (the legacy "
                      f"graphs' dtypes), got {self.dtype!r}")
    if self.family == SCAN and (self.bidirectional or not self.reset_gate
                                or self.head == CLASSIFIER):
      raise SpecError("the Data Blogger GRU has no BiGRU, no-reset or "
                      "classifier variant")
    if self.family == LOOP and self.head == ADDITION:
      raise SpecError("the tutorial GRU has no addition head")

  @property
  def scopes(self):
    """Variable prefixes of the GRU(s): '' for the Data Blogger GRU."""
    if self.family == SCAN:
      return ("",)
    return LOOP_SCOPES if self.bidirectional else LOOP_SCOPES[:1]

  def gru_names(self, scope):
    if self.family == SCAN:
      return names.SCAN_GRU
    gru = names.LOOP_GRU if self.reset_gate else names.LOOP_GRU[3:]
    return tuple(f"{scope}/{n}" for n in gru)

  def head_names(self):
    return {ADDITION: names.ADDITION_OUTPUT, CLASSIFIER: CLASSIFIER_HEAD,
            None: ()}[self.head]

  def variable_names(self):
    """Every model variable, in the legacy order of creation."""
    result = []
    for scope in self.scopes:
      result.extend(self.gru_names(scope))
    return tuple(result) + self.head_names()

  def shapes(self):
    """{name: shape} of every model variable."""
    u, d = self.units, self.input_dim
    by_role = {_KERNEL: (d, u), _RECURRENT: (u, u), _BIAS: (u,)}
    head = {names.ADDITION_OUTPUT[0]: (u, 1), names.ADDITION_OUTPUT[1]: (1,),
            CLASSIFIER_HEAD[0]: ((2 if self.bidirectional else 1) * u,
                                 self.head_units),
            CLASSIFIER_HEAD[1]: (self.head_units,)}
    return {name: head[name] if name in head else
            by_role[_ROLE[name.rsplit("/", 1)[-1]]]
            for name in self.variable_names()}

  def kind(self):
    """The recurrent part's name ("tutorial BiGRU without reset gate")."""
    if self.family == SCAN:
      return "Data Blogger GRU"
    return ("tutorial " + ("BiGRU" if self.bidirectional else "GRU") +
            ("" if self.reset_gate else " without reset gate"))

  def describe(self):
    what = self.kind()
    head = {ADDITION: " + addition output layer",
            CLASSIFIER: f" + classifier head ({self.head_units} classes)",
            None: ""}[self.head]
    return (f"{what}{head}: {self.units} units, {self.input_dim} inputs, "
            f"{self.dtype}")


def split_optimizer_names(variable_names):
  """(model names, {model name: [slot names]}, beta power names)."""
  variable_names = set(variable_names)
  powers = sorted(variable_names & set(BETA_POWERS))
  slots = {}
  model = set()
  for name in variable_names - set(powers):
    base, _, slot = name.rpartition("/")
    if slot in ADAM_SLOTS and base:
      slots.setdefault(base, []).append(name)
    else:
      model.add(name)
  return model, slots, powers


def detect(shapes, dtypes):
  """The `ModelSpec` of a set of variables.

  Args:
    shapes: {variable name: shape tuple} (model and optimizer variables).
    dtypes: {variable name: numpy dtype name}.

  Returns:
    (spec, has_optimizer_state).

  Raises:
    SpecError: naming what does not fit.
  """
  model, slots, powers = split_optimizer_names(shapes)
  spec = _spec_from_names(model, shapes, dtypes)
  expected = set(spec.variable_names())
  missing = sorted(expected - model)
  unexpected = sorted(model - expected)
  if missing or unexpected:
    raise SpecError(
        f"this looks like a {spec.describe()}, but "
        + "; ".join(filter(None, [
            f"it lacks {missing}" if missing else "",
            f"it has unexpected variables {unexpected}" if unexpected
            else ""])))
  _check_shapes_and_dtypes(spec, shapes, dtypes)
  has_optimizer = bool(slots or powers)
  if has_optimizer:
    _check_adam_state(spec, shapes, dtypes, slots, powers)
  return spec, has_optimizer


def _spec_from_names(model, shapes, dtypes):
  """Guesses the family and variant; `detect` then checks everything."""
  if not model:
    raise SpecError("no model variables found")
  dtype = _common_dtype(model, dtypes)
  if model & set(names.SCAN_GRU):
    u = _dim(shapes, model, names.SCAN_GRU[3:], "units")
    d = _dim(shapes, model, names.SCAN_GRU[:3], "input size")
    head = ADDITION if model & set(names.ADDITION_OUTPUT) else None
    return ModelSpec(SCAN, u, d, dtype, head=head,
                     head_units=1 if head else None)
  scoped = {n for n in model if n.startswith(tuple(s + "/" for s in
                                                    LOOP_SCOPES))}
  if scoped:
    scope = LOOP_SCOPES[0]
    u = _dim(shapes, model, [f"{scope}/{n}" for n in names.LOOP_GRU
                             if _ROLE[n] != _KERNEL], "units")
    d = _dim(shapes, model, [f"{scope}/{n}" for n in names.LOOP_GRU
                             if _ROLE[n] == _KERNEL], "input size")
    reset = any(n.split("/", 1)[1] in names.LOOP_RESET_GATE for n in scoped)
    bidirectional = any(n.startswith(LOOP_SCOPES[1] + "/") for n in scoped)
    head = CLASSIFIER if model & set(CLASSIFIER_HEAD) else None
    head_units = None
    if head:
      head_units = _dim(shapes, model, CLASSIFIER_HEAD[::-1], "classes",
                        axis=-1)
    return ModelSpec(LOOP, u, d, dtype, reset_gate=reset,
                     bidirectional=bidirectional, head=head,
                     head_units=head_units)
  raise SpecError(
      "these variables are not one of this project's legacy models (no "
      f"Data Blogger GRU 'Wz'..., no tutorial GRU 'gru_init/...'): "
      f"{sorted(model)[:10]}")


def _dim(shapes, present, candidates, what, axis=0):
  """A size read off the first of `candidates` present (exact checks come
  later, against every variable)."""
  for name in candidates:
    if name in present:
      shape = tuple(shapes[name])
      if not shape:
        raise SpecError(f"variable {name!r} is a scalar; it should give the "
                        f"{what}")
      return int(shape[axis])
  raise SpecError(f"none of {list(candidates)} is present to give the "
                  f"{what}")


def _common_dtype(variables, dtypes):
  found = {n: np.dtype(dtypes[n]).name for n in variables}
  kinds = set(found.values())
  bad = sorted(n for n, d in found.items() if d not in FLOAT_DTYPES)
  if bad:
    raise SpecError(f"variables {bad} are {[found[n] for n in bad]}; "
                    f"expected one of {FLOAT_DTYPES}")
  if len(kinds) != 1:
    raise SpecError(f"the model variables mix dtypes {sorted(kinds)}: "
                    f"{found}")
  return kinds.pop()


def _check_shapes_and_dtypes(spec, shapes, dtypes):
  for name, expected in spec.shapes().items():
    got = tuple(shapes[name])
    if got != expected:
      raise SpecError(f"variable {name!r} has shape {got}; a "
                      f"{spec.describe()} needs {expected}")
    if np.dtype(dtypes[name]).name != spec.dtype:
      raise SpecError(f"variable {name!r} is {dtypes[name]}; expected "
                      f"{spec.dtype}")


def _check_adam_state(spec, shapes, dtypes, slots, powers):
  """Adam state must be complete: both slots of every variable, both powers."""
  variables = spec.variable_names()
  for name in variables:
    have = sorted(slots.get(name, []))
    want = [f"{name}/{s}" for s in ADAM_SLOTS]
    if have != want:
      raise SpecError(f"incomplete Adam state: variable {name!r} has slots "
                      f"{have}, expected {want}")
    for slot in want:
      if tuple(shapes[slot]) != tuple(shapes[name]) or (
          np.dtype(dtypes[slot]) != np.dtype(dtypes[name])):
        raise SpecError(f"Adam slot {slot!r} is {dtypes[slot]} "
                        f"{tuple(shapes[slot])}; its variable is "
                        f"{dtypes[name]} {tuple(shapes[name])}")
  stray = sorted(set(slots) - set(variables))
  if stray:
    raise SpecError(f"Adam slots for unknown variables: {stray}")
  if sorted(powers) != sorted(BETA_POWERS):
    raise SpecError(f"incomplete Adam state: found {powers}, expected "
                    f"{list(BETA_POWERS)}")
  for power in BETA_POWERS:
    if tuple(shapes[power]) != () or np.dtype(dtypes[power]) != np.float32:
      raise SpecError(f"{power!r} must be a float32 scalar (TF1 Adam), got "
                      f"{dtypes[power]} {tuple(shapes[power])}")
