"""Conversions between TF1 state and Keras models, both ways, in memory.

    to_keras(state, target)          LegacyState -> (Keras model, optimizer)
    from_keras(model, optimizer)     Keras model -> LegacyState

(`exporters` converts files: checkpoints, .keras and .onnx.) Weights and
Adam slots move through `mapping.placements`, so every TF1
variable lands in exactly one place and every Keras weight element comes
from exactly one TF1 variable. A Keras model converts to TF1 only if it
computes what the TF1 graph computes (`conformance`, then the same outputs
as the model its description builds).
"""

import dataclasses

import numpy as np

from gru_common import compare
from migration import detection
from migration import mapping
from migration import model_names
from migration import models
from migration import optimizer_state
from migration import tf1_checkpoint
from migration import verification

def to_keras(state, target=mapping.TF2):
  """A Keras model (and, with Adam state, its optimizer) equal to `state`.

  The model is compiled with the optimizer when there is one, so
  `model.save` keeps the optimizer state in the .keras file.

  Example:

  >>> from migration import tf1_checkpoint
  >>> state = tf1_checkpoint.LegacyState.example()    # no Adam state
  >>> model, optimizer = to_keras(state, "keras")
  >>> [layer.name for layer in model.layers], optimizer
  (['input', 'gru'], None)
  """
  model = models.build(state.description, target,
                       model_names.Layout.of(state))
  places = mapping.placements(state.description, model, target)
  mapping.to_model(state.values, places)
  optimizer = None
  if state.adam is not None:
    optimizer = optimizer_state.to_optimizer(state.adam, places, model,
                                             target)
    model.compile(optimizer=optimizer)
  return model, optimizer


def from_keras(model, optimizer=None, family=None, scope=None):
  """The `LegacyState` of a Keras model (and optimizer) `to_keras` made.

  Its variables are placed in the TF1 checkpoint where the model's name
  says they came from (`model_names`), or under `scope`.

  Raises:
    MappingError: the model computes something else than the legacy graph
      (a layer or config field that differs, or different outputs than the
      model its description builds from the same weights).

  Example:

  >>> import numpy as np
  >>> from migration import tf1_checkpoint
  >>> state = tf1_checkpoint.LegacyState.example()
  >>> back = from_keras(to_keras(state, "tf2")[0])
  >>> back.description == state.description and all(
  ...     np.array_equal(back.values[n], v) for n, v in state.values.items())
  True
  """
  return read_keras(model, optimizer, family, scope)[0]


def read_keras(model, optimizer=None, family=None, scope=None):
  """(LegacyState, target) of a Keras model; see `from_keras`."""
  description, target = models.describe_model(model, family)
  layout = models.layout_from_model(model)
  if scope is not None:
    layout = dataclasses.replace(layout, scope=scope.strip("/"),
                                 head_scope=None)
  description = description.with_scopes(layout.scopes(description))
  places = mapping.placements(description, model, target)
  values = mapping.from_model(places)
  tf1_checkpoint.check_finite(values)
  _check_same_outputs(model, description, target, values)
  if optimizer is None and getattr(model, "optimizer", None) is not None:
    if model.optimizer.built:
      optimizer = model.optimizer
  adam = step = None
  if optimizer is not None:
    adam = optimizer_state.from_optimizer(optimizer, places,
                                          layout.optimizer_scope,
                                          layout.powers_scope)
    if layout.global_step:
      step = tf1_checkpoint.StepCounter(
          layout.step_name or detection.GLOBAL_STEP, layout.global_step,
          int(optimizer.iterations.numpy()))
  return tf1_checkpoint.LegacyState(description, values, adam, step), target


def _check_same_outputs(model, description, target, values):
  """`model` computes, bit for bit, what `models.build(description)`
  computes with the same weights (a guard for anything its config does not
  show)."""
  rebuilt = models.build(description, target)
  mapping.to_model(values, mapping.placements(description, rebuilt, target))
  shape = tuple(model.inputs[0].shape)
  x = verification.probe_inputs(description, batch=shape[0] or 4,
                                 time=shape[1] or 6)
  got, want = np.asarray(model(x)), np.asarray(rebuilt(x))
  if got.shape != want.shape or not compare.bitwise_equal(got, want):
    detail = (f"shape {got.shape} vs {want.shape}" if got.shape != want.shape
              else f"max abs diff {compare.compare(got, want).max_abs:.3e}")
    raise mapping.MappingError(
        f"model {model.name!r} computes other outputs than the legacy "
        f"{description.describe()} with the same weights ({detail})")
