"""TF1 variables <-> Keras weights: each kind's table, used both ways.

Every kind (`migration.kinds`) gives its mapping as `Row`s, plain data in
one schema: a block of a TF1 variable (inside one cell's or layer's scope)
and the block of a Keras weight that holds it, and whether it is negated
there. Blocks are column blocks of width `units`; a TF1 kernel of [x; h]
rows splits into the rows that multiply the input (`X`) and the state
(`H`). A whole variable is a row with no blocks.

A conversion is a list of `Placement`s (checkpoint name -> model variable,
numpy index, negation) built from the rows; the same list moves weights and
optimizer slots in either direction, and every element of every checkpoint
variable and of every model variable must be covered exactly once, so
nothing is lost or invented. Slicing, concatenating and negating are exact,
so conversions are bitwise both ways.

Why negate: the Data Blogger GRU mixes h' = (1 - z) * h + z * h~, Keras
h' = z' * h + (1 - z') * h~. With z' = 1 - z = sigmoid(-a), Keras's update
gate is the Data Blogger one with its weights and bias negated (the first
Adam moment is negated with them; the second is not). Negation flips a sign
bit, so it is exact both ways.

Why offset: TF1's LSTM cells add a forget bias to the forget gate at run
time, which Keras's LSTM does not; the Keras bias block holds the TF1 bias
plus that constant. The addition rounds, so converting back, (b + 1.0) -
1.0, is b within one ulp of b + 1.0 (bitwise where the offset is 0). Adam's
moments are of gradients, and shifting a bias by a constant changes no
gradient, so optimizer slots move without the offset.
"""

import dataclasses

import numpy as np

from migration import description as description_lib
from migration import errors

TF2 = "tf2"        # this project's layers (tf2/)
KERAS = "keras"    # stock Keras layers only
TARGETS = (TF2, KERAS)
X, H = "x", "h"     # rows of a TF1 kernel over [x; h]


class MappingError(errors.ConversionError):
  """A model does not fit the TF1 variables (the message says how)."""


@dataclasses.dataclass(frozen=True)
class Row:
  """Where (a block of) one TF1 variable lives in a Keras weight.

  Attributes:
    source: the TF1 variable, relative to its cell's scope; None: there is
      none, and the Keras block holds zeros.
    target: the Keras weight's name in the layer or cell.
    source_rows: X or H for a kernel over [x; h]; None: every row.
    source_block: its column block (width `units`); None: all columns.
    target_row: the row of a 2-D Keras bias (`reset_after`); None.
    target_block: the column block in the Keras weight; None: all of it.
    negate: the Keras block holds the negated values.
    offset: the Keras block holds the TF1 values plus this constant (a
      folded forget bias).
  """
  source: str
  target: str
  source_rows: str = None
  source_block: int = None
  target_row: int = None
  target_block: int = None
  negate: bool = False
  offset: float = 0.0


@dataclasses.dataclass(frozen=True)
class Placement:
  """Where (a block of) one checkpoint variable lives in a model."""
  legacy: str               # None: no TF1 variable; the block is zero
  variable: object          # the model's keras.Variable
  index: tuple              # numpy index into it (() for all of it)
  negate: bool
  source: tuple = ()        # numpy index into the TF1 variable
  legacy_shape: tuple = None  # the TF1 variable's (for blocks)
  copy: bool = False        # the block again, in a weight-tied direction
  offset: float = 0.0       # added on the Keras side (weights, not slots)


def _columns(block, units):
  return slice(block * units, (block + 1) * units)


def source_index(row, shape, input_dim, units):
  """The numpy index of `row`'s block in its TF1 variable of `shape`."""
  if row.source_block is None and row.source_rows is None:
    return ()
  columns = (slice(None) if row.source_block is None else
             _columns(row.source_block, units))
  if len(shape) == 1:
    return (columns,)
  rows = {None: slice(None), X: slice(0, input_dim),
          H: slice(input_dim, input_dim + units)}[row.source_rows]
  return (rows, columns)


def target_index(row, rank, units):
  """The numpy index of `row`'s block in its Keras weight of `rank`."""
  if row.target_block is None:
    return () if row.target_row is None else (row.target_row,)
  columns = _columns(row.target_block, units)
  if row.target_row is not None:
    return (row.target_row, columns)
  return (columns,) if rank == 1 else (slice(None), columns)


def _weights_by_name(layer):
  return {w.name: w for w in layer.weights}


def _get(weights, name, layer):
  if name not in weights:
    raise MappingError(f"layer {layer.name!r} has no weight {name!r} (it "
                       f"has {sorted(weights)})")
  return weights[name]


def placements(description, model, target):
  """Every checkpoint variable's place in `model` (built for `description`
  in `target`'s layers)."""
  if target not in TARGETS:
    raise MappingError(f"target must be one of {TARGETS}, got {target!r}")
  result = []
  for component in description.components:
    kind = description_lib.kind_of(component)
    rows = kind.rows(component, target)
    shapes = component.variables()
    placed = set()
    for prefix, layer, input_dim, units, *own_rows in kind.cells(component,
                                                                 model):
      # A weight-tied layer's second direction holds copies of the first's.
      copy = component.wiring.tied and prefix in placed
      placed.add(prefix)
      weights = _weights_by_name(layer)
      for row in (own_rows[0] if own_rows else rows):
        legacy = description_lib.join(prefix, row.source) if (
            row.source is not None) else None
        variable = _get(weights, row.target, layer)
        if legacy is not None and legacy not in shapes:
          raise MappingError(f"{component.describe()} has no variable "
                             f"{legacy!r}")
        blocks = row.source_block is not None or row.source_rows is not None
        result.append(Placement(
            legacy, variable,
            target_index(row, len(variable.shape), units), row.negate,
            source_index(row, shapes[legacy], input_dim, units)
            if legacy is not None else (),
            shapes[legacy] if legacy is not None and blocks else None,
            copy, row.offset))
  _check_coverage(result, description)
  return result


def _check_coverage(result, description):
  """Every element of every variable, TF1 and Keras, is placed exactly
  once."""
  coverage = {}
  legacy_coverage = {n: np.zeros(s, np.int32)
                     for n, s in description.shapes().items()}
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
      if not p.copy:
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
  """Writes checkpoint arrays into the placed model variables (or slots).

  Args:
    values: {checkpoint name: array}.
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
    if p.offset and slot_of is None:
      value = value + value.dtype.type(p.offset)
    arrays[key][1][p.index] = -value if (p.negate and not second_moment) \
        else value
  for target, array in arrays.values():
    target.assign(array)


def from_model(placements_, slot_of=None, second_moment=False):
  """{checkpoint name: array} read from the placed model variables (or
  slots)."""
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
    if p.offset and slot_of is None:
      array = array - array.dtype.type(p.offset)
    if p.copy:
      have = values[p.legacy] if p.legacy_shape is None else values[
          p.legacy][p.source]
      if not np.array_equal(have, array):
        raise MappingError(
            f"{p.legacy!r}: the two directions of the weight-tied "
            f"bidirectional layer no longer hold equal values ({source.path!r}"
            " differs from its forward counterpart), so they are not one TF1 "
            "cell's")
      continue
    if p.legacy_shape is None:
      values[p.legacy] = np.ascontiguousarray(array)
    else:
      whole = values.setdefault(p.legacy,
                                np.empty(p.legacy_shape, array.dtype))
      whole[p.source] = array
  return values
