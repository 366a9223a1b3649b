"""The seed models' architectures: variable names, shapes and variants.

At the root of a checkpoint (`inventory` finds them under any scope):

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
"""

import dataclasses

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
