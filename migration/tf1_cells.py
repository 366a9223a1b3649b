"""TensorFlow's own TF1 GRU cells: their checkpoint names, and where each of
their variables lives in a stock `keras.layers.GRU`.

The kinds, as TF 1.15 names their variables inside a cell's scope:

    GRUCell, GRUBlockCellV2   gates/kernel [in+u, 2u]  (columns: r, then u)
                              gates/bias [2u], candidate/kernel [in+u, u],
                              candidate/bias [u]
    GRUBlockCell              w_ru, b_ru, w_c, b_c (the same shapes)
    CudnnCompatibleGRUCell    gates/kernel, gates/bias,
                              candidate/input_projection/{kernel [in, u],
                              bias [u]}, candidate/hidden_projection/{kernel
                              [u, u], bias [u]}
    CudnnGRU (its Saver's     a CudnnCompatibleGRUCell stack (below), plus
    canonical layout)         cudnn_gru/opaque_kernel [N]: the same weights
                              in cuDNN's device-specific layout

and how the cells are wired, each cell under its own name C (`gru_cell`,
`cudnn_compatible_gru_cell` or the user's `GRUCell(name=...)`), below the
scope S that `dynamic_rnn`/`static_rnn` (default `rnn`) or
`bidirectional_dynamic_rnn` (default `bidirectional_rnn`) ran in:

    single              S/C
    bidirectional       S/fw/C, S/bw/C
    MultiRNNCell stack  S/multi_rnn_cell/cell_<i>/C       (also in fw/, bw/)
    stacked BiRNN       S/cell_<i>/bidirectional_rnn/{fw,bw}/C (S is
                        `stack_bidirectional_rnn`; CudnnGRU's bidirectional
                        layout)

GRUCell and the block cells compute h' = u * h + (1 - u) * tanh([x; r * h]
W_c + b_c), which is `keras.layers.GRU(reset_after=False)` with Keras's z
being TF1's u: no negation, only the gate order ([r, u] -> [z, r, h]) and
the [x; h] row split change. The cuDNN family applies the reset gate after
the recurrent matmul: `GRU(reset_after=True)`, whose bias is [2, 3u] (input
row 0, recurrent row 1). TF1's cell holds one gate bias, cuDNN's two summed
(TF1's CudnnGRU saveable stores only the sum), so Keras's recurrent z and r
biases are zero: the conversion writes zeros there and, converting back,
refuses a model whose recurrent gate biases are not zero, since folding them
into one would change the weights.

`ROWS` is the mapping, plain data used in both directions by
`mapping.placements`. This module imports no TensorFlow.
"""

import dataclasses
import re

import numpy as np

from gru_common import names

GRU_CELL = "GRUCell"
GRU_BLOCK_CELL = "GRUBlockCell"
CUDNN_COMPATIBLE = "CudnnCompatibleGRUCell"
CUDNN_GRU = "CudnnGRU"
KINDS = (GRU_CELL, GRU_BLOCK_CELL, CUDNN_COMPATIBLE, CUDNN_GRU)
# What inspect says of each kind: which TF1 classes write these names.
WRITTEN_BY = {
    GRU_CELL: "tf.nn.rnn_cell.GRUCell or tf.contrib.rnn.GRUBlockCellV2",
    GRU_BLOCK_CELL: "tf.contrib.rnn.GRUBlockCell",
    CUDNN_COMPATIBLE: "tf.contrib.cudnn_rnn.CudnnCompatibleGRUCell",
    CUDNN_GRU: "tf.contrib.cudnn_rnn.CudnnGRU",
}
FAMILY = "tf1_cell"           # ModelSpec.family's counterpart
OPAQUE_KERNEL = "cudnn_gru/opaque_kernel"

SINGLE = "single"
BIDIRECTIONAL = "bidirectional"
MULTI = "multi"               # MultiRNNCell
BI_MULTI = "bidirectional multi"   # MultiRNNCell in each direction
STACK_BI = "stacked bidirectional"
WIRINGS = (SINGLE, BIDIRECTIONAL, MULTI, BI_MULTI, STACK_BI)

# Roles of a cell's variables, for their shapes.
_GATES_KERNEL, _GATES_BIAS = "gates kernel", "gates bias"
_CANDIDATE_KERNEL, _UNIT_BIAS = "candidate kernel", "unit bias"
_INPUT_KERNEL, _HIDDEN_KERNEL = "input kernel", "hidden kernel"

_ROLES = {"gates/kernel": _GATES_KERNEL, "gates/bias": _GATES_BIAS,
          "candidate/kernel": _CANDIDATE_KERNEL, "candidate/bias": _UNIT_BIAS,
          "w_ru": _GATES_KERNEL, "b_ru": _GATES_BIAS,
          "w_c": _CANDIDATE_KERNEL, "b_c": _UNIT_BIAS,
          "candidate/input_projection/kernel": _INPUT_KERNEL,
          "candidate/input_projection/bias": _UNIT_BIAS,
          "candidate/hidden_projection/kernel": _HIDDEN_KERNEL,
          "candidate/hidden_projection/bias": _UNIT_BIAS}
VARIABLES = {   # kind -> ((name in the cell's scope, role), ...)
    kind: tuple((n, _ROLES[n]) for n in variables) for kind, variables in (
        (GRU_CELL, names.GRU_CELL_VARIABLES),
        (GRU_BLOCK_CELL, names.GRU_BLOCK_CELL_VARIABLES),
        (CUDNN_COMPATIBLE, names.CUDNN_COMPATIBLE_VARIABLES))}
VARIABLES[CUDNN_GRU] = VARIABLES[CUDNN_COMPATIBLE]
DEFAULT_CELL_NAME = {GRU_CELL: "gru_cell", GRU_BLOCK_CELL: "gru_cell",
                     CUDNN_COMPATIBLE: "cudnn_compatible_gru_cell",
                     CUDNN_GRU: "cudnn_compatible_gru_cell"}
RESET_AFTER = {GRU_CELL: False, GRU_BLOCK_CELL: False,
               CUDNN_COMPATIBLE: True, CUDNN_GRU: True}


def _shape(role, input_dim, units):
  return {_GATES_KERNEL: (input_dim + units, 2 * units),
          _GATES_BIAS: (2 * units,),
          _CANDIDATE_KERNEL: (input_dim + units, units),
          _UNIT_BIAS: (units,), _INPUT_KERNEL: (input_dim, units),
          _HIDDEN_KERNEL: (units, units)}[role]


# The mapping. TF1 side: the variable, its rows (X: the first `in` rows,
# which multiply the input; H: the last u, which multiply the state; None:
# all) and its column block of width u (TF1's gate order r, u). Keras side:
# the weight, the bias row for reset_after (None: a 1-D bias) and the column
# block in Keras's gate order.
X, H = "x", "h"
Z, R, C = 0, 1, 2    # Keras's gate order: update, reset, candidate


@dataclasses.dataclass(frozen=True)
class Row:
  tf1: str            # None: no TF1 variable; the Keras block is zero
  rows: str
  block: int
  keras: str
  keras_row: int
  keras_block: int


_RESET_BEFORE = (
    Row("gates/kernel", X, 0, "kernel", None, R),
    Row("gates/kernel", X, 1, "kernel", None, Z),
    Row("gates/kernel", H, 0, "recurrent_kernel", None, R),
    Row("gates/kernel", H, 1, "recurrent_kernel", None, Z),
    Row("gates/bias", None, 0, "bias", None, R),
    Row("gates/bias", None, 1, "bias", None, Z),
    Row("candidate/kernel", X, 0, "kernel", None, C),
    Row("candidate/kernel", H, 0, "recurrent_kernel", None, C),
    Row("candidate/bias", None, 0, "bias", None, C),
)
_BLOCK_NAMES = dict(zip((n for n, _ in VARIABLES[GRU_CELL]),
                        (n for n, _ in VARIABLES[GRU_BLOCK_CELL])))
_RESET_AFTER = (
    Row("gates/kernel", X, 0, "kernel", None, R),
    Row("gates/kernel", X, 1, "kernel", None, Z),
    Row("gates/kernel", H, 0, "recurrent_kernel", None, R),
    Row("gates/kernel", H, 1, "recurrent_kernel", None, Z),
    Row("gates/bias", None, 0, "bias", 0, R),
    Row("gates/bias", None, 1, "bias", 0, Z),
    Row(None, None, 0, "bias", 1, R),      # one TF1 gate bias: see above
    Row(None, None, 0, "bias", 1, Z),
    Row("candidate/input_projection/kernel", None, 0, "kernel", None, C),
    Row("candidate/hidden_projection/kernel", None, 0, "recurrent_kernel",
        None, C),
    Row("candidate/input_projection/bias", None, 0, "bias", 0, C),
    Row("candidate/hidden_projection/bias", None, 0, "bias", 1, C),
)
ROWS = {
    GRU_CELL: _RESET_BEFORE,
    GRU_BLOCK_CELL: tuple(dataclasses.replace(r, tf1=_BLOCK_NAMES[r.tf1])
                          for r in _RESET_BEFORE),
    CUDNN_COMPATIBLE: _RESET_AFTER,
    CUDNN_GRU: _RESET_AFTER,
}


def tf1_index(row, input_dim, units):
  """The numpy index of `row`'s block in its TF1 variable."""
  columns = slice(row.block * units, (row.block + 1) * units)
  if row.rows is None:
    return (columns,) if row.tf1.endswith(("bias", "b_ru", "b_c")) else (
        slice(None), columns)
  rows = (slice(0, input_dim) if row.rows == X else
          slice(input_dim, input_dim + units))
  return (rows, columns)


def keras_index(row, units):
  """The numpy index of `row`'s block in its Keras weight."""
  columns = slice(row.keras_block * units, (row.keras_block + 1) * units)
  if row.keras == "bias":
    return (columns,) if row.keras_row is None else (row.keras_row, columns)
  return (slice(None), columns)


@dataclasses.dataclass(frozen=True)
class CellSpec:
  """A TF1 RNN of TensorFlow's own GRU cells, as its variables tell.

  `units` has one entry per layer; `cell_names` one per cell, layer by
  layer, forward before backward.
  """
  kind: str
  wiring: str
  units: tuple
  input_dim: int
  dtype: str
  cell_names: tuple
  family: str = FAMILY
  head: str = None
  head_units: int = None

  def __post_init__(self):
    from migration import spec as spec_lib  # pylint: disable=g-import-not-at-top
    if self.kind not in KINDS:
      raise spec_lib.SpecError(f"kind must be one of {KINDS}, got "
                               f"{self.kind!r}")
    if self.wiring not in WIRINGS:
      raise spec_lib.SpecError(f"wiring must be one of {WIRINGS}, got "
                               f"{self.wiring!r}")
    if self.dtype not in spec_lib.FLOAT_DTYPES:
      raise spec_lib.SpecError(f"dtype must be one of "
                               f"{spec_lib.FLOAT_DTYPES}, got {self.dtype!r}")
    if not self.units or any(int(u) < 1 for u in self.units) or (
        int(self.input_dim) < 1):
      raise spec_lib.SpecError(f"units {self.units} and input_dim "
                               f"{self.input_dim} must be positive")
    if self.wiring in (SINGLE, BIDIRECTIONAL) and len(self.units) != 1:
      raise spec_lib.SpecError(f"a {self.wiring} RNN has one layer, got "
                               f"units {self.units}")
    if len(self.cell_names) != len(self.units) * self.directions:
      raise spec_lib.SpecError(f"{len(self.cell_names)} cell names for "
                               f"{len(self.units)} layer(s) x "
                               f"{self.directions} direction(s)")

  @property
  def bidirectional(self):
    return self.wiring in (BIDIRECTIONAL, BI_MULTI, STACK_BI)

  @property
  def directions(self):
    return 2 if self.bidirectional else 1

  @property
  def reset_after(self):
    return RESET_AFTER[self.kind]

  @property
  def width(self):
    """The output's last dimension."""
    return self.units[-1] * self.directions

  def layer_input(self, layer):
    """The input size of `layer`'s cells."""
    if layer == 0:
      return self.input_dim
    previous = self.units[layer - 1]
    return previous * (2 if self.wiring == STACK_BI else 1)

  def cells(self):
    """(layer, direction 'fw'/'bw', path inside the scope) of every cell,
    in `cell_names` order."""
    result = []
    names = iter(self.cell_names)
    for layer in range(len(self.units)):
      for direction in ("fw", "bw")[:self.directions]:
        name = next(names)
        path = {SINGLE: name, BIDIRECTIONAL: f"{direction}/{name}",
                MULTI: f"multi_rnn_cell/cell_{layer}/{name}",
                BI_MULTI: f"{direction}/multi_rnn_cell/cell_{layer}/{name}",
                STACK_BI: (f"cell_{layer}/bidirectional_rnn/{direction}/"
                           f"{name}")}[self.wiring]
        result.append((layer, direction, path))
    return result

  def head_names(self):
    return ()

  def variable_names(self):
    names = [f"{path}/{name}" for _, _, path in self.cells()
             for name, _ in VARIABLES[self.kind]]
    return tuple(names)

  def shapes(self):
    out = {}
    for layer, _, path in self.cells():
      for name, role in VARIABLES[self.kind]:
        out[f"{path}/{name}"] = _shape(role, self.layer_input(layer),
                                       self.units[layer])
    return out

  def opaque_size(self):
    """Elements of CudnnGRU's opaque_kernel: every canonical weight."""
    return sum(int(np.prod(s)) for s in self.shapes().values())

  def kind_text(self):
    layers = len(self.units)
    what = {SINGLE: "", BIDIRECTIONAL: "bidirectional ",
            MULTI: f"{layers}-layer MultiRNNCell ",
            BI_MULTI: f"bidirectional {layers}-layer MultiRNNCell ",
            STACK_BI: f"{layers}-layer stacked bidirectional "}[self.wiring]
    return f"TF1 {what}{self.kind}"


  def describe(self):
    units = (str(self.units[0]) if len(self.units) == 1 else
             "+".join(str(u) for u in self.units))
    return (f"{self.kind_text()}: {units} units, {self.input_dim} inputs, "
            f"{self.dtype}")


_CELL_LAYER = re.compile(r"^cell_(\d+)$")


def find(model_names, variables):
  """The TF1 cell RNNs among `model_names`: [(kind, scope, spec or None,
  {name in spec: checkpoint name} present, problems)].

  Args:
    model_names: checkpoint names that are not optimizer state.
    variables: {name: (shape, dtype)} of the whole checkpoint.
  """
  cells = _cells(model_names)
  groups = {}
  for (kind, cell_scope), present in cells.items():
    scope, wiring, layer, direction, name = _place(cell_scope)
    groups.setdefault((scope, wiring, _family(kind)), []).append(
        (layer, direction, name, kind, present))
  found = []
  for (scope, wiring, _), members in sorted(groups.items()):
    found.append(_check(scope, wiring, members, variables))
  return found


def _family(kind):
  return RESET_AFTER[kind]


_SHARED = frozenset({"gates/kernel", "gates/bias"})
_CELL_KINDS = (GRU_CELL, GRU_BLOCK_CELL, CUDNN_COMPATIBLE)


def _cells(model_names):
  """{(kind, cell scope): names found}: every scope holding a TF1 cell's
  variable. The kind is the one whose own names are there (`gates/*` is
  shared by GRUCell and the cuDNN cells); a scope with `gates/*` only is a
  GRUCell lacking its candidate, reported as such."""
  suffixes = {n for kind in _CELL_KINDS for n, _ in VARIABLES[kind]}
  by_scope = {}
  for name in model_names:
    for suffix in suffixes:
      if name.endswith("/" + suffix):
        by_scope.setdefault(name[:-len(suffix) - 1], set()).add(suffix)
  cells = {}
  for scope, found in by_scope.items():
    kinds = [k for k in _CELL_KINDS
             if (found - _SHARED) & {n for n, _ in VARIABLES[k]}]
    cells[(kinds[0] if len(kinds) == 1 else GRU_CELL, scope)] = found
  return cells


def _place(cell_scope):
  """(scope, wiring, layer, direction, cell name) of a cell's scope."""
  parts = cell_scope.split("/")
  name, parts = parts[-1], parts[:-1]
  layer, direction, wiring = 0, "fw", SINGLE
  if len(parts) >= 2 and parts[-2] == "multi_rnn_cell" and _CELL_LAYER.match(
      parts[-1]):
    layer, wiring, parts = int(parts[-1][5:]), MULTI, parts[:-2]
  if parts and parts[-1] in ("fw", "bw"):
    direction, parts = parts[-1], parts[:-1]
    wiring = BI_MULTI if wiring == MULTI else BIDIRECTIONAL
    if (wiring == BIDIRECTIONAL and len(parts) >= 2 and
        parts[-1] == "bidirectional_rnn" and _CELL_LAYER.match(parts[-2])):
      layer, wiring, parts = int(parts[-2][5:]), STACK_BI, parts[:-2]
  return "/".join(parts), wiring, layer, direction, name


def _check(scope, wiring, members, variables):
  """(kind, scope, spec or None, present names, problems) of one RNN."""
  kinds = sorted({m[3] for m in members})
  kind = kinds[0]
  problems = []
  if len(kinds) > 1:
    problems.append(f"its cells are of different kinds {kinds}")
  layers = sorted({m[0] for m in members})
  directions = ("fw", "bw") if wiring in (BIDIRECTIONAL, BI_MULTI,
                                          STACK_BI) else ("fw",)
  by_cell = {(m[0], m[1]): m for m in members}
  if layers != list(range(len(layers))):
    problems.append(f"its layers are {layers}, not 0..{len(layers) - 1}")
  expected_cells = [(l, d) for l in layers for d in directions]
  missing_cells = [c for c in expected_cells if c not in by_cell]
  cell_names = tuple(by_cell[c][2] if c in by_cell else "?"
                     for c in expected_cells)
  probe_units = tuple(1 for _ in layers)
  probe = CellSpec(kind, wiring, probe_units, 1, "float32", cell_names)
  present = {}
  wanted = {n: _join(scope, n) for n in probe.variable_names()}
  for n, c in wanted.items():
    if c in variables:
      present[n] = c
  if missing_cells:
    problems.append(f"it lacks the {'/'.join(missing_cells[0][1:])} cell "
                    f"of layer {missing_cells[0][0]}")
  missing = sorted(c for n, c in wanted.items() if n not in present)
  if missing:
    problems.append(f"it lacks {missing}")
  if problems:
    return kind, scope, None, present, problems
  dtypes = sorted({variables[c][1] for c in present.values()})
  if len(dtypes) != 1:
    problems.append(f"its variables disagree in dtype: {dtypes}")
    return kind, scope, None, present, problems
  units, input_dim = [], None
  cells = probe.cells()
  for (layer, _, path) in cells:
    bias = variables[present[f"{path}/{VARIABLES[kind][-1][0]}"]][0]
    if len(bias) != 1:
      problems.append(f"{_join(scope, path)}/{VARIABLES[kind][-1][0]} has "
                      f"shape {bias}; a bias is 1-D")
      return kind, scope, None, present, problems
    if layer == len(units):
      units.append(bias[0])
    kernel = variables[present[f"{path}/{VARIABLES[kind][0][0]}"]][0]
    if layer == 0 and input_dim is None and len(kernel) == 2:
      input_dim = kernel[0] - bias[0]
  try:
    spec = CellSpec(kind, wiring, tuple(units), input_dim or 0, dtypes[0],
                    cell_names)
  except ValueError as e:
    return kind, scope, None, present, [str(e)]
  for name, shape in spec.shapes().items():
    got = variables[present[name]][0]
    if got != shape:
      problems.append(f"{_join(scope, name)!r} has shape {got}; with "
                      f"{'its bias' if 'bias' not in name else 'its kernels'}"
                      f" it needs {shape}")
  if problems:
    return kind, scope, None, present, problems
  return kind, scope, spec, present, problems


def _join(prefix, name):
  return f"{prefix}/{name}" if prefix else name


def with_opaque_kernel(found, variables):
  """Marks CudnnGRU layouts: a cuDNN-compatible stack (multi or stacked
  bidirectional, as CudnnGRU's saveable writes it) whose enclosing scope
  holds a `cudnn_gru/opaque_kernel` of its canonical size. Returns
  {scope: opaque kernel name}."""
  opaque = {}
  for i, (kind, scope, spec, present, problems) in enumerate(found):
    if spec is None or kind != CUDNN_COMPATIBLE or spec.wiring not in (
        MULTI, STACK_BI):
      continue
    outer = scope.rpartition("/")[0] if scope.rpartition("/")[2] in (
        "rnn", "stack_bidirectional_rnn") else None
    if outer is None:
      continue
    name = _join(outer, OPAQUE_KERNEL)
    if variables.get(name) == ((spec.opaque_size(),), spec.dtype):
      spec = dataclasses.replace(spec, kind=CUDNN_GRU)
      found[i] = (CUDNN_GRU, scope, spec, present, problems)
      opaque[scope] = name
  return opaque
