"""Legacy variables <-> TF2 weights: one table per GRU, used both ways.

Each row says where a legacy variable lives in this project's TF2 cell (a
weight of its own, same shape) and in a stock `keras.layers.GRU(
reset_after=False)` cell (a column block of `kernel`, `recurrent_kernel` or
`bias`, in Keras's gate order [z, r, h]), and whether it is negated there.

Why negate: the Data Blogger GRU mixes h' = (1 - z) * h + z * h~, Keras
h' = z' * h + (1 - z') * h~. With z' = 1 - z = 1 - sigmoid(a) = sigmoid(-a),
Keras's update gate is the Data Blogger one with its weights and bias
negated (the first Adam moment is negated with them; the second is not).
Negation flips a sign bit, so it is exact both ways. The tutorial GRU mixes
as Keras does and only needs its gates reordered ([f, i, c] = [z, r, h]).

A conversion is a list of `Placement`s (legacy name -> model variable,
slice, negation) built from these tables; the same list moves weights and
optimizer slots in either direction, and every element of every model
variable must be covered exactly once, so nothing is lost or invented.
"""

import dataclasses

import numpy as np

from gru_common import names
from migration import spec as spec_lib
from migration import tf1_cells

TF2 = "tf2"        # this project's layers (tf2/)
KERAS = "keras"    # stock Keras layers only
TARGETS = (TF2, KERAS)


@dataclasses.dataclass(frozen=True)
class Row:
  legacy: str      # the variable's name inside its scope
  tf2: str         # the weight's name in this project's cell
  keras: str       # stock GRUCell weight
  gate: int        # column block in Keras's [z, r, h]; None: whole weight
  negate: bool = False


SCAN_GRU = (
    # legacy  TF2    stock Keras GRU(reset_after=False)
    Row(names.WZ, names.WZ, "kernel", 0, negate=True),
    Row(names.WR, names.WR, "kernel", 1),
    Row(names.WH, names.WH, "kernel", 2),
    Row(names.UZ, names.UZ, "recurrent_kernel", 0, negate=True),
    Row(names.UR, names.UR, "recurrent_kernel", 1),
    Row(names.UH, names.UH, "recurrent_kernel", 2),
    Row(names.BZ, names.BZ, "bias", 0, negate=True),
    Row(names.BR, names.BR, "bias", 1),
    Row(names.BH, names.BH, "bias", 2),
)

LOOP_GRU = (
    Row(names.FORGET_GATE_W, names.FORGET_GATE_W, "kernel", 0),
    Row(names.INPUT_GATE_W, names.INPUT_GATE_W, "kernel", 1),
    Row(names.CONTROL_GATE_W, names.CONTROL_GATE_W, "kernel", 2),
    Row(names.FORGET_GATE_U, names.FORGET_GATE_U_TF2, "recurrent_kernel", 0),
    Row(names.INPUT_GATE_U, names.INPUT_GATE_U, "recurrent_kernel", 1),
    Row(names.CONTROL_GATE_U, names.CONTROL_GATE_U, "recurrent_kernel", 2),
    Row(names.FORGET_GATE_B, names.FORGET_GATE_B, "bias", 0),
    Row(names.INPUT_GATE_B, names.INPUT_GATE_B, "bias", 1),
    Row(names.CONTROL_GATE_B, names.CONTROL_GATE_B, "bias", 2),
)

ADDITION_HEAD = (  # PerSequenceDense or keras.layers.Dense
    Row(names.ADDITION_OUTPUT[0], "kernel", "kernel", None),
    Row(names.ADDITION_OUTPUT[1], "bias", "bias", None),
)

CLASSIFIER_HEAD = (  # keras.layers.Dense
    Row(spec_lib.CLASSIFIER_HEAD[0], "kernel", "kernel", None),
    Row(spec_lib.CLASSIFIER_HEAD[1], "bias", "bias", None),
)

# The stock Keras GRU's weights as inputs of ONNX's GRU operator, one
# direction each (migration/onnx_export.py). Keras's gate order [z, r, h] is
# ONNX's, so every gate block above keeps its index there: ONNX holds the
# kernels transposed, and one bias [input bias; recurrent bias] of 6u.
#   Keras weight        ONNX input   shape in ONNX (per direction)
ONNX_GRU = (
    ("kernel", "W"),            # [3u, input]       = kernel.T
    ("recurrent_kernel", "R"),  # [3u, u]           = recurrent_kernel.T
    ("bias", "B"),              # [6u]: bias, then zeros (reset_after=False)
)                               #   or bias[0], bias[1] (reset_after=True)

# Where the heads live in the converted models (migration/models.py).
HEAD_LAYER = {spec_lib.ADDITION: names.ADDITION_OUTPUT_LAYER,
              spec_lib.CLASSIFIER: names.CLASSIFIER_LAYER}


class MappingError(ValueError):
  """A model does not fit the legacy variables (the message says how)."""


@dataclasses.dataclass(frozen=True)
class Placement:
  """Where (a block of) one legacy variable lives in a model."""
  legacy: str               # None: no legacy variable; the block is zero
  variable: object          # the model's keras.Variable
  index: tuple              # numpy index into it (() for all of it)
  negate: bool
  source: tuple = ()        # numpy index into the legacy variable
  legacy_shape: tuple = None  # the legacy variable's (for blocks)


def gru_rows(spec):
  if spec.family == spec_lib.SCAN:
    return SCAN_GRU
  return tuple(r for r in LOOP_GRU
               if spec.reset_gate or r.legacy not in names.LOOP_RESET_GATE)


def _weights_by_name(layer):
  return {w.name: w for w in layer.weights}


def _gru_cells(model, spec):
  """(scope, cell) for each direction, in the legacy order."""
  if spec.bidirectional:
    bi = model.get_layer(names.BIGRU_LAYER)
    return list(zip(spec.scopes, (bi.forward_layer.cell,
                                  bi.backward_layer.cell)))
  return [(spec.scopes[0], model.get_layer(names.GRU_LAYER).cell)]


def placements(spec, model, target):
  """Every legacy variable's place in `model` (built for `spec`, `target`)."""
  if target not in TARGETS:
    raise MappingError(f"target must be one of {TARGETS}, got {target!r}")
  if spec.family == tf1_cells.FAMILY:
    result = _cell_placements(spec, model, target)
    _check_coverage(result, spec)
    return result
  result = []
  units = spec.units
  for scope, cell in _gru_cells(model, spec):
    weights = _weights_by_name(cell)
    for row in gru_rows(spec):
      name = f"{scope}/{row.legacy}" if scope else row.legacy
      if target == TF2:
        result.append(Placement(name, _get(weights, row.tf2, cell), (),
                                False))
      else:
        block = slice(row.gate * units, (row.gate + 1) * units)
        index = (block,) if row.keras == "bias" else (slice(None), block)
        result.append(Placement(name, _get(weights, row.keras, cell), index,
                                row.negate))
  if spec.head:
    head = model.get_layer(HEAD_LAYER[spec.head])
    weights = _weights_by_name(head)
    rows = (ADDITION_HEAD if spec.head == spec_lib.ADDITION else
            CLASSIFIER_HEAD)
    for row in rows:
      result.append(Placement(row.legacy,
                              _get(weights, row.tf2 if target == TF2 else
                                   row.keras, head), (), False))
  _check_coverage(result, spec)
  return result


def keras_cells(model):
  """The recurrent cells of a model of TF1 cells (`models.build`), in
  `CellSpec.cells()` order: layer by layer, forward before backward."""
  # Imported here: the commands import this module before TensorFlow's
  # quiet start-up (gru_common.tensorflow_startup).
  import keras  # pylint: disable=g-import-not-at-top
  def expand(cell):
    return list(getattr(cell, "cells", [cell]))
  result = []
  for layer in model.layers:
    if isinstance(layer, keras.layers.Bidirectional):
      forward = expand(layer.forward_layer.cell)
      backward = expand(layer.backward_layer.cell)
      for f, b in zip(forward, backward):
        result.extend([f, b])
    elif isinstance(layer, keras.layers.RNN):
      result.extend(expand(layer.cell))
  return result


def _cell_placements(spec, model, target):
  """Placements of a `tf1_cells.CellSpec`: stock Keras through
  `tf1_cells.ROWS`; this project's TF1 cells hold each TF1 variable whole."""
  from tf2 import tf1_gru_cell  # pylint: disable=g-import-not-at-top
  cells = keras_cells(model)
  if len(cells) != len(spec.cells()):
    raise MappingError(f"model {model.name!r} has {len(cells)} recurrent "
                       f"cells; the {spec.describe()} has "
                       f"{len(spec.cells())}")
  shapes = spec.shapes()
  result = []
  for cell, (layer, _, path) in zip(cells, spec.cells()):
    weights = _weights_by_name(cell)
    if target == TF2:
      for name, _ in tf1_cells.VARIABLES[spec.kind]:
        result.append(Placement(f"{path}/{name}", _get(
            weights, tf1_gru_cell.weight_name(name), cell), (), False))
      continue
    input_dim, units = spec.layer_input(layer), spec.units[layer]
    for row in tf1_cells.ROWS[spec.kind]:
      legacy = f"{path}/{row.tf1}" if row.tf1 else None
      result.append(Placement(
          legacy, _get(weights, row.keras, cell),
          tf1_cells.keras_index(row, units), False,
          tf1_cells.tf1_index(row, input_dim, units) if legacy else (),
          shapes[legacy] if legacy else None))
  return result


def _get(weights, name, layer):
  if name not in weights:
    raise MappingError(f"layer {layer.name!r} has no weight {name!r} (it "
                       f"has {sorted(weights)})")
  return weights[name]


def _check_coverage(result, spec):
  """Every element of every model variable is placed exactly once."""
  shapes = spec.shapes()
  coverage = {}
  legacy_coverage = {n: np.zeros(s, np.int32) for n, s in shapes.items()}
  for p in result:
    var = p.variable
    covered = coverage.setdefault(id(var), (var, np.zeros(var.shape,
                                                          np.int32)))[1]
    region = covered[p.index]
    if p.legacy is not None:
      block = legacy_coverage[p.legacy][p.source]
      if region.shape != block.shape:
        raise MappingError(
            f"{p.legacy!r}{list(p.source) or ''} {block.shape} does not fit "
            f"{var.path!r}{list(p.index) or ''} of shape {region.shape}")
      legacy_coverage[p.legacy][p.source] += 1
    covered[p.index] += 1
  for name, covered in legacy_coverage.items():
    if (covered != 1).any():
      raise MappingError(
          f"legacy variable {name!r} is not placed exactly once (counts "
          f"{sorted(set(covered.ravel().tolist()))})")
  for var, covered in coverage.values():
    if (covered != 1).any():
      raise MappingError(
          f"weight {var.path!r} is not covered exactly once by the legacy "
          f"variables (counts {sorted(set(covered.ravel().tolist()))})")


def to_model(values, placements_, slot_of=None, second_moment=False):
  """Writes legacy arrays into the placed model variables (or their slots).

  Args:
    values: {legacy name: array}.
    placements_: from `placements()`.
    slot_of: if given, a function mapping a model variable to the optimizer
      slot to write instead.
    second_moment: the slot is Adam's v, which is never negated.
  """
  arrays = {}
  for p in placements_:
    target = slot_of(p.variable) if slot_of else p.variable
    key = id(target)
    if key not in arrays:
      arrays[key] = (target, np.empty(tuple(target.shape),
                                      np.dtype(target.dtype)))
    if p.legacy is None:
      arrays[key][1][p.index] = 0
      continue
    value = np.asarray(values[p.legacy])
    if value.dtype != arrays[key][1].dtype:
      raise MappingError(f"{p.legacy!r} is {value.dtype}; the model's "
                         f"{target.path!r} is {arrays[key][1].dtype}")
    value = value[p.source]
    arrays[key][1][p.index] = -value if (p.negate and not second_moment) \
        else value
  for target, array in arrays.values():
    target.assign(array)


def from_model(placements_, slot_of=None, second_moment=False):
  """{legacy name: array} read from the placed model variables (or slots)."""
  values = {}
  for p in placements_:
    source = slot_of(p.variable) if slot_of else p.variable
    array = np.asarray(source.numpy())[p.index]
    if p.legacy is None:
      if np.any(array != 0):
        raise MappingError(
            f"{source.path!r}{list(p.index)} holds nonzero values, but the "
            "TF1 cell has no variable for them (a cuDNN-compatible cell has "
            "one gate bias, Keras's input and recurrent ones summed; merging "
            "them would change the weights)")
      continue
    if p.negate and not second_moment:
      array = -array
    if p.legacy_shape is None:
      values[p.legacy] = np.ascontiguousarray(array)
    else:
      whole = values.setdefault(p.legacy,
                                np.empty(p.legacy_shape, array.dtype))
      whole[p.source] = array
  return values
