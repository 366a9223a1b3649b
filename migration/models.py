"""The Keras models a description converts into, and reading them back.

`build` makes one Keras functional model from a `description.Description`:
an `Input` per model input, then each component's layers (its kind's
`build`) applied to what its wiring reads. Target "tf2" gives this project's
layers in a `tf2.ExactModel` (its `predict`, `evaluate` and `fit` keep
float64 data float64); target "keras" gives stock Keras layers in a plain
`keras.Model`, which loads without this project. The model's name records
its kind and TF1 layout (`model_names`).

`describe_model` reads a model back: the kind that its name records (or,
for the seed GRUs, its layers) says what it is, and
`conformance.check_computes_like` refuses it unless it computes what the
model `build` makes for that description computes.
"""

import keras

from migration import conformance
from migration import description as description_lib
from migration import kinds
from migration import mapping
from migration import model_names
import tf2


def build(description, target, layout=model_names.Layout()):
  """An unweighted Keras model for `description` in `target`'s layers,
  named for its kind and `layout`."""
  if target not in mapping.TARGETS:
    raise mapping.MappingError(
        f"target must be one of {mapping.TARGETS}, got {target!r}")
  inputs = {i.name for i in description.inputs}
  for component in description.components:
    kind = description_lib.kind_of(component)
    kind.check_target(component, target)
    states = component.wiring.initial_state
    # Supported: learned states (its own variables) and model inputs; an
    # earlier layer's final state is not yet.
    if states and (not kind.initial_states or not all(
        s in inputs or s in component.variables() for s in states)):
      raise mapping.MappingError(
          f"{component.name}: the {component.describe()} starts from zeros "
          f"here; starting it from {list(states)} is not supported (learned "
          "initial states and model inputs are)")
  outputs = {}
  inputs = []
  for spec in description.inputs:
    outputs[spec.name] = keras.Input(spec.shape, dtype=spec.dtype,
                                     name=spec.name)
    inputs.append(outputs[spec.name])
  for component in description.components:
    kind = description_lib.kind_of(component)
    outputs[component.name] = kind.build(
        component, target, outputs[component.wiring.source], outputs)
  result = outputs[description.components[-1].name]
  model_class = tf2.ExactModel if target == mapping.TF2 else keras.Model
  return model_class(inputs[0] if len(inputs) == 1 else inputs, result,
                     name=model_names.name(description.components[0].kind,
                                           layout))


def describe_model(model, family=None):
  """(description, target) of a model `build` made (or one shaped like it).

  The kind its name records reads it first; then each other kind tries
  (the seed GRUs are known by their layers). The model must
  compute what the model `build` makes for that description computes
  (`conformance.check_computes_like`).

  Args:
    model: a Keras model.
    family: "scan" or "loop", needed only for stock Keras models of a seed
      GRU whose name does not record it.

  Raises:
    MappingError: naming the layer and what does not fit.
  """
  recorded = model_names.parse(model.name)[0]
  readers = sorted(kinds.registered(), key=lambda k: k.name != recorded)
  conformance.check_dtypes(model)
  for kind in readers:
    found = kind.read_model(model, family)
    if found is not None:
      description, target = found
      conformance.check_computes_like(model, description, target,
                                      build(description, target))
      return description, target
  raise mapping.MappingError(
      f"model {model.name!r} is none of the models this converter writes "
      f"(its name records no kind, and it has no layer named 'gru' or "
      f"'bigru'); its layers are {sorted(l.name for l in model.layers)}")


def has_target(description, target):
  """Whether `target` has exact layers for every component (a stock
  keras.layers.GRU, for one, always has a reset gate)."""
  try:
    for component in description.components:
      description_lib.kind_of(component).check_target(component, target)
  except mapping.MappingError:
    return False
  return True


def layout_from_model(model):
  """Where `model`'s variables go in a TF1 checkpoint (from its name)."""
  return model_names.parse(model.name)[1]
