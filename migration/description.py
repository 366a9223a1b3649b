"""The model description: a converted model as plain data.

A `Description` is an ordered tuple of `Component`s fed by named `Input`s.
Every conversion reads one from a TF1 checkpoint (`detection`, `selection`)
or a Keras model (`models.describe_model`), and every builder, mapping,
reference and exporter works from it. A component has:

  kind      the name of a registered plug-in (`migration.kinds`) that knows
            its variables, mapping table, Keras layers, reference
            computation and ONNX graph;
  sizes     `units` (one entry per stacked layer), `input_dim` (the size of
            the last axis it reads) and `dtype`;
  wiring    what it reads (an input or an earlier component), its
            directions, how its layers stack, and where each initial state
            comes from;
  scope     the variable-scope prefix of its variables in the TF1
            checkpoint, and `settings`, a frozen record of the kind's own
            (a reset gate, TF1 cell paths, a dense layer's variable names).

For example, the tutorial BiGRU with its classifier head, at the root
(`kinds.seeds.model("loop", 3, 2, "float32", bidirectional=True,
head="classifier", head_units=4)` makes it):

    Description(components=(
        Component("loop", "gru", "float32", (3,), 2, Wiring(directions=2),
                  settings=TutorialSettings(reset_gate=True)),
        Component("classifier", "head", "float32", (4,), 6,
                  Wiring(source="gru"))))

and a program the type holds though no detector writes it yet: token ids
into an embedding, two recurrent layers, the second started from the first
one's final state, and a dense layer (`compat_tests/test_description.py`):

    Description(
        inputs=(Input("ids", features=None, dtype="int32"),),
        components=(
            Component("embedding", "embed", "float32", (8,), 100,
                      Wiring(source="ids"), settings=EmbeddingSettings()),
            Component("GRUCell", "encoder", "float32", (16,), 8,
                      Wiring(source="embed"), settings=CellSettings(...)),
            Component("GRUCell", "decoder", "float32", (16,), 16,
                      Wiring(source="encoder", initial_state=("encoder",)),
                      settings=CellSettings(...)),
            Component("dense", "logits", "float32", (100,), 16,
                      Wiring(source="decoder"), settings=DenseSettings())))

This module imports no TensorFlow.
"""

import dataclasses

from gru_common import checks
from migration import errors

INPUT = "input"
FLOAT_DTYPES = ("float32", "float64")
INTEGER_DTYPES = ("int32", "int64")
# How the layers of a multi-layer component stack:
CELLS = "cells"      # MultiRNNCell: one recurrence per direction over all
LAYERS = "layers"    # each layer whole (stack_bidirectional_rnn)
STACKINGS = (None, CELLS, LAYERS)


class SpecError(errors.ConversionError):
  """The variables or sizes do not make a model (the message says why)."""


@dataclasses.dataclass(frozen=True)
class Input:
  """A model input: floats [batch, time, features], or integer token ids
  [batch, time] when `features` is None; without `sequence`, one vector
  per row [batch, features] (an RNN's initial state)."""
  name: str = INPUT
  features: int = None
  dtype: str = "float32"
  sequence: bool = True

  @property
  def shape(self):
    """Its shape without the batch."""
    if not self.sequence:
      return (self.features,)
    return (None,) if self.features is None else (None, self.features)

  def __post_init__(self):
    if self.features is None:
      if self.dtype not in INTEGER_DTYPES:
        raise SpecError(f"input {self.name!r}: token ids are one of "
                        f"{INTEGER_DTYPES}, got {self.dtype!r}")
    elif self.dtype not in FLOAT_DTYPES:
      raise SpecError(f"dtype must be one of {FLOAT_DTYPES} (the legacy "
                      f"graphs' dtypes), got {self.dtype!r}")


@dataclasses.dataclass(frozen=True)
class Wiring:
  """How a component is connected.

  Attributes:
    source: the input or earlier component whose output it reads.
    directions: 1, or 2 for a bidirectional layer (outputs concatenated,
      forward first).
    stacking: None (one layer), `CELLS` or `LAYERS` (see above).
    initial_state: where each direction's initial state comes from: the
      name of an earlier component (its final state) or a variable of this
      component; () for zeros.
    tied: the two directions share one cell's variables (one cell object
      passed as both cells of `bidirectional_dynamic_rnn`).
  """
  source: str = INPUT
  directions: int = 1
  stacking: str = None
  initial_state: tuple = ()
  tied: bool = False

  def __post_init__(self):
    if self.directions not in (1, 2):
      raise SpecError(f"directions must be 1 or 2, got {self.directions!r}")
    if self.tied and self.directions != 2:
      raise SpecError("only the two directions of a bidirectional layer can "
                      "share their variables")
    if self.stacking not in STACKINGS:
      raise SpecError(f"stacking must be one of {STACKINGS}, got "
                      f"{self.stacking!r}")


@dataclasses.dataclass(frozen=True)
class Component:
  """One layer (or stack of layers) of a converted model."""
  kind: str
  name: str
  dtype: str
  units: tuple
  input_dim: int
  wiring: Wiring = Wiring()
  scope: str = ""
  settings: object = None

  def __post_init__(self):
    if not isinstance(self.units, tuple) or not self.units:
      raise SpecError(f"{self.name}: units must be a non-empty tuple (one "
                      f"entry per layer), got {self.units!r}")
    for name, value in [("units", u) for u in self.units] + [
        ("input_dim", self.input_dim)]:
      try:
        checks.integer(name, value)
      except ValueError as e:
        raise SpecError(f"{e} (The legacy graphs have no empty layers.)"
                        ) from None
    if self.dtype not in FLOAT_DTYPES:
      raise SpecError(f"dtype must be one of {FLOAT_DTYPES} (the legacy "
                      f"graphs' dtypes), got {self.dtype!r}")
    if len(self.units) > 1 and self.wiring.stacking is None:
      raise SpecError(f"{self.name}: {len(self.units)} layers need a "
                      f"stacking ({CELLS!r} or {LAYERS!r})")
    kind_of(self).check(self)

  @property
  def layers(self):
    return len(self.units)

  @property
  def width(self):
    """The last dimension of its output."""
    return kind_of(self).width(self)

  def layer_input(self, layer):
    """The input size of `layer`'s cells."""
    if layer == 0:
      return self.input_dim
    previous = self.units[layer - 1]
    return previous * (self.wiring.directions
                       if self.wiring.stacking == LAYERS else 1)

  def variables(self):
    """{checkpoint name: shape} of its variables, in TF1's creation order."""
    return kind_of(self).variables(self)

  def describe(self):
    return kind_of(self).describe(self)


@dataclasses.dataclass(frozen=True)
class Description:
  """A converted model: components in order, and the inputs they read
  (by default one float input, "input", of the first component's size)."""
  components: tuple
  inputs: tuple = None

  def __post_init__(self):
    if not self.components:
      raise SpecError("a model has at least one component")
    if self.inputs is None:
      first = self.components[0]
      object.__setattr__(self, "inputs", (Input(
          features=first.input_dim, dtype=first.dtype),))
    known = {i.name for i in self.inputs}
    for component in self.components:
      wiring = component.wiring
      for source in (wiring.source,) + tuple(
          s for s in wiring.initial_state if s):
        if source not in known and source not in component.variables():
          raise SpecError(f"{component.name} reads {source!r}, which is "
                          f"neither an input nor an earlier component "
                          f"(known: {sorted(known)})")
      if component.name in known:
        raise SpecError(f"two parts of the model are named "
                        f"{component.name!r}")
      known.add(component.name)
    dtypes = {c.dtype for c in self.components}
    if len(dtypes) != 1:
      raise SpecError(f"the components disagree in dtype: {sorted(dtypes)}")

  @property
  def dtype(self):
    return self.components[0].dtype

  @property
  def input_dim(self):
    """The feature size of the first input (None: token ids)."""
    return self.inputs[0].features

  def get(self, name):
    for component in self.components:
      if component.name == name:
        return component
    raise KeyError(name)

  def output_names(self):
    """The name of each component's output, in order (what `--verify`
    compares, one row each)."""
    return tuple(c.name for c in self.components)

  def shapes(self):
    """{checkpoint name: shape} of every model variable, in order."""
    out = {}
    for component in self.components:
      out.update(component.variables())
    return out

  def variable_names(self):
    return tuple(self.shapes())

  def with_scopes(self, scopes):
    """The same model with each component's scope replaced from
    {component name: scope} (the others keep theirs)."""
    return dataclasses.replace(self, components=tuple(
        dataclasses.replace(c, scope=scopes.get(c.name, c.scope))
        for c in self.components))

  def describe(self):
    """One line: the recurrent part, what follows it, sizes and dtype."""
    return kind_of(self.components[0]).describe_model(self)


def kind_of(component):
  """The registered plug-in of `component.kind`."""
  # Imported here: the registry imports the kinds, which import this module.
  from migration import kinds  # pylint: disable=g-import-not-at-top
  return kinds.get(component.kind)


def join(prefix, name):
  """A checkpoint name inside a scope ('' is the root)."""
  return f"{prefix}/{name}" if prefix else name
