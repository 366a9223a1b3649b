"""The plug-in interface of a component kind, and the registry.

A kind is one module that subclasses `Kind` and registers an instance with
`register`. What it provides, and who calls it:

    check(component)              description.Component: sizes and settings
    variables(component)          {checkpoint name: shape}, creation order
    width(component)              the last dimension of its output
    describe(component)           words for summaries, inspect and refusals
    detect(names, variables)      detection: FoundRNNs (recurrent kinds) or
                                  head candidates (`head_names`, `fit_head`)
    rows(component, target)       mapping: its table, one `mapping.Row`
                                  schema for every kind, used both ways
    cells(component, model)       mapping: the Keras layers (or cells) each
                                  table applies to, with the checkpoint
                                  prefix of their variables
    check_target(component, t)    builders: refuses a target it has no
                                  exact layer in
    build(component, target, ...) builders: its Keras layers
    layer_names(component)        builders: the names of those layers
    read_model(model, family)     reading a converted model back (kinds
                                  that start a model)
    probe(component, rng, ...)    `--verify`: probe inputs it reads
    legacy(component, x)          reference: its TF1 graph from the legacy
                                  ports (`tf1_port` kinds; the others are
                                  checked against this project's exact TF2
                                  layers)
    forget_bias(component),       TF1 LSTMs: the run-time forget bias (the
    with_forget_bias(c, value)    model's name records it; `--forget_bias`)
    check_onnx(component)         ONNX: why it has no exact ONNX graph
    onnx(graph, component, ...)   ONNX: its nodes

A new kind adds a module here, registers it, and lists it in
`kinds/__init__.py`; `convert`, `models`, `mapping`, `detection` and
`onnx_export` do not change.

Kind modules import TensorFlow, Keras and the ports inside the methods that
need them, so that listing and detecting kinds (`tf1-inspect-checkpoint`,
`--help`) loads no TensorFlow.
"""

from gru_common import tolerances
from migration import description as description_lib
from migration import errors
from migration import mapping


class Kind:
  """A component kind. Subclasses override what their components use."""

  name = None            # registry key: the `kind` of its components
  recurrent = False      # an RNN: cells, directions, masks for lengths
  output_name = None     # its components' default name ("gru", "head")
  head_kinds = ()        # recurrent kinds: the heads detection attaches
  takes_lengths = False  # ONNX: reads `sequence_lens`, masks in Keras
  stacks = False         # its components may hold several layers
  tf1_port = False       # `legacy` builds its TF1 graph from legacy/
  keeps_time = True      # its output has a time axis (not pooled)
  stock_bound = tolerances.STOCK_KERAS   # a stock Keras model vs the TF1
  #                                        side, when it starts the model
  looks_like = None      # recurrent kinds: how to tell their variables, for
  #                        a refusal that finds none
  initial_states = False  # `build` starts it from `wiring.initial_state`

  @property
  def model_name(self):
    """The name base of a converted model that starts with this kind
    (`model_names`)."""
    return f"tf1_{self.name}"

  def check(self, component):
    """Raises description.SpecError if `component` is not one of these."""

  def variables(self, component):
    raise NotImplementedError(self.name)

  def layer_input(self, component, layer):
    """The input size of layer `layer`'s cells: the previous layer's
    output width (a projection's, for kinds that project)."""
    return component.layer_input(layer)

  def width(self, component):
    return component.units[-1] * component.wiring.directions

  def describe(self, component):
    raise NotImplementedError(self.name)

  def cell_variables(self, component):
    """[(layer, direction "fw"/"bw", {checkpoint name})] of each of its
    TF1 cells, for `--verify` against the program's own graph; () where
    that graph's loops are not `dynamic_rnn`'s."""
    return ()

  def step_kernel(self, names):
    """Of one cell's variables (`cell_variables`), the one that multiplies
    [input; state] at every step: how `--verify` finds the steps of a cell
    a program unrolls (`static_rnn`); None where there is none."""
    del names
    return None

  def graph_bound(self, component, ops):
    """The bound of its exact TF2 layers against TF's own TF1 cells in the
    program's graph, whose loops run the op types `ops`: bitwise, where
    the layers run the same ops."""
    del component, ops
    return tolerances.BITWISE

  def cell_paths(self, component):
    """Where each of its cells sits under its scope, for inspect; () for
    kinds whose variables' names say it all."""
    return ()

  def role(self, component, description):
    """How a refusal names the TF1 part `component` stands for."""
    return component.describe()

  def describe_model(self, description):
    """One line for a model that starts with a component of this kind."""
    return "; ".join(c.describe() for c in description.components)

  def detect(self, model_names, variables, graph=None):
    """Recurrent kinds: the `detection.FoundRNN`s of this kind among
    `model_names` (checkpoint names that are not optimizer state), given
    {name: (shape, dtype)} of the whole checkpoint and, if read, the
    program's `tf1_graph.ProgramGraph`."""
    return []

  def head_names(self):
    """Head kinds: the variables a head has, relative to its scope."""
    return ()

  def fit_head(self, rnn, scope, found):
    """Head kinds: the head component at `scope` reading `rnn`, from its
    variables' [(shape, dtype)] in `head_names` order; None if they do not
    fit."""
    return None

  def rows(self, component, target):
    raise NotImplementedError(self.name)

  def cells(self, component, model):
    """[(checkpoint prefix, Keras layer or cell, input_dim, units)]: where
    `rows` apply, in the order of `variables`; an entry may carry a fifth
    element, rows of its own (a learned initial state's layer)."""
    raise NotImplementedError(self.name)

  def forget_bias(self, component):
    """What a TF1 LSTM adds to its forget gate at run time (not in the
    checkpoint); None for kinds without one."""
    del component
    return None

  def with_forget_bias(self, component, value):
    """`component` with the forget bias `value` (`--forget_bias`), or
    description.SpecError."""
    del value
    raise description_lib.SpecError(
        f"the {component.describe()} has no forget bias (only TF1 LSTM "
        "cells do)")

  def with_learned_states(self, component, states):
    """`component` started from the learned states ((name, shape), ...),
    one per cell; description.SpecError if it cannot be."""
    raise description_lib.SpecError(f"{self.name} layers take no initial "
                                    "state")

  def stack(self, components):
    """One component of layers `components` (under one scope, each
    feeding the next), or description.SpecError."""
    raise description_lib.SpecError(f"{self.name} layers do not stack")

  def check_target(self, component, target):
    """Raises MappingError if `target` has no exact layer for it."""

  def build(self, component, target, x, outputs):
    """Its Keras layers applied to `x` (the source's output); `outputs`
    holds the earlier components' outputs by name. Returns its output."""
    raise NotImplementedError(self.name)

  def layer_names(self, component):
    """The names of the top-level Keras layers `build` makes."""
    raise NotImplementedError(self.name)

  def read_model(self, keras_model, family=None):
    """(description, target) of a Keras model `build` made starting with
    this kind, or None if the model is not one of its."""
    return None

  def probe(self, component, rng, shape, dtype):
    """A probe batch for a model input it reads: uniform in [-1, 1]."""
    return rng.uniform(-1, 1, shape).astype(dtype)

  def legacy(self, component, x):
    """Kinds with a `tf1_port`: its TF1 graph in the default graph, on the
    tensor `x` it reads (None: a model input, for which it makes the
    placeholder). Returns (its placeholder or None, its output)."""
    raise NotImplementedError(self.name)

  def check_onnx(self, component):
    """Why `component` has no exact ONNX graph, or None."""
    return None

  def onnx_lengths(self, component):
    """Whether its ONNX graph reads the `sequence_lens` input."""
    del component
    return self.takes_lengths

  def onnx(self, graph, component, model, x, lengths):
    """Its ONNX nodes on `x` (time-major for recurrent kinds); returns the
    output's name."""
    raise errors.ConversionError(f"{component.describe()}: no ONNX export")


def check_single_layer(component, settings_type, what):
  """For kinds of one layer in one direction, with settings of their own
  type: raises description.SpecError unless `component` is one."""
  if not isinstance(component.settings, settings_type):
    raise description_lib.SpecError(
        f"{component.name}: settings must be a {settings_type.__name__}, "
        f"got {component.settings!r}")
  if component.layers != 1 or component.wiring.directions != 1:
    raise description_lib.SpecError(f"{component.name}: {what} has one "
                                    "layer and one direction")


_REGISTRY = {}


def register(kind):
  """Adds a kind instance to the registry; returns it."""
  if not kind.name or kind.name in _REGISTRY:
    raise ValueError(f"kind name {kind.name!r} is empty or taken")
  _REGISTRY[kind.name] = kind
  return kind


def get(name):
  try:
    return _REGISTRY[name]
  except KeyError:
    raise mapping.MappingError(f"kind must be one of {sorted(_REGISTRY)}, "
                               f"got {name!r}") from None


def registered():
  """Every registered kind, in registration order."""
  return list(_REGISTRY.values())
