"""Reading and writing TF1 checkpoints of the legacy models.

Reading uses TensorFlow's own readers (`tf.train.load_checkpoint`); nothing
parses checkpoint files by hand. Writing uses TensorFlow's own `SaveV2` op,
the one `tf.compat.v1.train.Saver` runs, so the legacy graph restores the
result with a plain `Saver`.
"""

import dataclasses
import os
import tempfile

import numpy as np
import tensorflow as tf

from gru_common import files
from migration import inventory
from migration import optimizer_state
from migration import spec as spec_lib

TF2_OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


class CheckpointError(ValueError):
  """The checkpoint cannot be used (the message says why)."""


@dataclasses.dataclass
class LegacyState:
  """A legacy model's variables (and TF1 Adam state, if any), and where
  they sit in a TF1 checkpoint.

  `values` and the Adam state are keyed by the names `spec` gives them at
  the root; `layout` places them (and `global_step`) in the checkpoint.
  `plan`, for a state read from a checkpoint, says what was left out.
  """
  spec: spec_lib.ModelSpec
  values: dict                  # {model variable name: array}
  adam: optimizer_state.AdamState = None
  layout: inventory.Layout = inventory.Layout()
  global_step: int = None       # written when layout.global_step is set
  plan: inventory.Plan = None

  def to_variables(self):
    """{checkpoint name: value}: model variables, then Adam's."""
    names = self.layout.variables(self.spec)
    out = {names[n]: v for n, v in self.values.items()}
    if self.adam is not None:
      out.update(self.adam.to_variables(self.spec, self.layout))
    if self.layout.global_step and self.global_step is not None:
      out[inventory.GLOBAL_STEP] = np.array(self.global_step,
                                            self.layout.global_step)
    return out

  @classmethod
  def example(cls, family=spec_lib.SCAN, value=0.1):
    """A small state of `family` (4 units, 2 inputs; the Data Blogger GRU in
    float64, the tutorial GRU in float32), every weight `value`: for the
    Examples here and for trying the converter."""
    dtype = "float64" if family == spec_lib.SCAN else "float32"
    spec = spec_lib.ModelSpec(family, units=4, input_dim=2, dtype=dtype)
    return cls(spec, {n: np.full(shape, value, dtype)
                      for n, shape in spec.shapes().items()})

  def write_example(self):
    """Writes this state as `model.ckpt` in a new temporary folder; returns
    the prefix (for the Examples, and for trying the converter)."""
    return write(self, os.path.join(tempfile.mkdtemp(), "model.ckpt"))

  @classmethod
  def from_variables(cls, values, **options):
    """Finds the GRU in {checkpoint name: value} and checks it.

    Args:
      values: every variable of a checkpoint or session.
      **options: `inventory.plan`'s (scope, use_ema, drop_optimizer_state,
        allow_unconverted).
    """
    values = {n: np.asarray(v) for n, v in values.items()}
    found = inventory.inspect({n: v.shape for n, v in values.items()},
                              {n: v.dtype for n, v in values.items()})
    return cls.from_plan(inventory.plan(found, **options), values.__getitem__)

  @classmethod
  def from_plan(cls, plan, load):
    """The state `plan` names, each value read with `load(name)`."""
    spec = plan.gru.spec
    values = {n: load(c) for n, c in plan.sources.items()}
    check_finite({plan.sources[n]: v for n, v in values.items()})
    adam = step = None
    if plan.adam is not None:
      adam = optimizer_state.AdamState.from_plan(plan.adam, load)
      check_finite(adam.to_variables(spec, plan.layout))
      if plan.global_step is not None:
        step = int(load(plan.global_step))
        adam.check_global_step(plan.global_step, step)
    return cls(spec, values, adam, plan.layout, step, plan)


def check_finite(values):
  for name, value in values.items():
    if value.dtype.kind == "f" and not np.isfinite(value).all():
      bad = int(np.size(value) - np.isfinite(value).sum())
      raise CheckpointError(f"variable {name!r} holds {bad} NaN or Inf "
                            "value(s); refusing to convert it")


def resolve(input_path, argument="input_path"):
  """(prefix, files it reads) of the TF1 checkpoint `input_path` names.

  Args:
    input_path: a checkpoint prefix (as `Saver.save` returns it), or a
      folder whose `checkpoint` file names one.
    argument: the argument's name, for errors.

  Raises:
    FileNotFoundError: no checkpoint there.
    files.PathError: a replacement of it was interrupted.

  Example:

  >>> import os
  >>> prefix = LegacyState.example().write_example()
  >>> folder = os.path.dirname(prefix)
  >>> found, read_files = resolve(prefix)
  >>> found == prefix, [os.path.basename(f) for f in read_files]
  (True, ['model.ckpt.index', 'model.ckpt.data-00000-of-00001'])
  """
  if not input_path:
    raise files.PathError(argument, input_path, "is empty")
  read = []
  prefix = os.fspath(input_path)
  if os.path.isdir(prefix):
    try:
      latest = tf.train.latest_checkpoint(prefix)
    except (tf.errors.OpError, ValueError) as e:
      raise CheckpointError(f"{argument} {input_path!r}: its `checkpoint` "
                            f"file cannot be read ({e})") from e
    if latest is None:
      raise FileNotFoundError(f"{argument} {input_path!r}: no TF1 checkpoint "
                              "in this folder (no `checkpoint` file naming "
                              "one)")
    read.append(os.path.join(prefix, "checkpoint"))
    prefix = latest
  files.check_not_mid_publish(prefix, argument)
  if not files.checkpoint_exists(prefix):
    raise FileNotFoundError(
        f"{argument}: no TF1 checkpoint at {prefix!r} (no {prefix}.index)")
  return prefix, read + files.checkpoint_files(prefix)


def _reader(prefix):
  """TensorFlow's reader of a TF1 checkpoint, and its variables' shapes and
  dtypes (read from the index alone)."""
  try:
    reader = tf.train.load_checkpoint(prefix)
    shapes = reader.get_variable_to_shape_map()
    dtypes = reader.get_variable_to_dtype_map()
  except (tf.errors.OpError, IndexError, RuntimeError) as e:
    raise _damaged(prefix, e) from e
  if TF2_OBJECT_GRAPH_KEY in shapes:
    raise CheckpointError(
        f"{prefix!r} is a TF2 object-based checkpoint, not a TF1 one; "
        "convert from the TF2 model's .keras file instead")
  return reader, shapes, dtypes


def _damaged(prefix, error):
  # The reader raises OpErrors, or IndexError for short reads.
  detail = getattr(error, "message", str(error)).strip()
  return CheckpointError(f"cannot read TF1 checkpoint {prefix!r}: it is "
                         f"truncated or corrupted ({detail})")


def inspect(prefix):
  """The `inventory.Inventory` of a TF1 checkpoint (no tensor is read).

  Example:

  >>> prefix = LegacyState.example().write_example()
  >>> [g.describe() for g in inspect(prefix).grus]
  ["Data Blogger GRU: 4 units, 2 inputs, float64, scope ''"]
  """
  prefix, _ = resolve(prefix)
  _, shapes, dtypes = _reader(prefix)
  return inventory.inspect(shapes, dtypes)


def read(prefix, **options):
  """The `LegacyState` of one GRU in the TF1 checkpoint at `prefix`.

  Reads only the tensors the conversion needs.

  Args:
    prefix: the checkpoint prefix (as `Saver.save` returns it), or a folder
      whose `checkpoint` file names one.
    **options: `inventory.plan`'s (scope, use_ema, drop_optimizer_state,
      allow_unconverted).

  Raises:
    FileNotFoundError: no checkpoint there.
    CheckpointError: unreadable, truncated or corrupted; a TF2 object-based
      checkpoint; NaN or Inf values.
    spec.SpecError: no seed GRU, several and no scope, or one that would
      lose a variable (`inventory.SelectionError`).
    optimizer_state.OptimizerStateError: `global_step` disagrees with the
      Adam state.

  Example:

  >>> import os
  >>> prefix = LegacyState.example().write_example()
  >>> folder = os.path.dirname(prefix)
  >>> read(folder).spec.describe()   # a folder: no `checkpoint` file
  Traceback (most recent call last):
  ...
  FileNotFoundError: input_path '...': no TF1 checkpoint in this folder (no
  `checkpoint` file naming one)
  >>> read(prefix).spec.describe()
  'Data Blogger GRU: 4 units, 2 inputs, float64'
  """
  prefix, _ = resolve(prefix)
  reader, shapes, dtypes = _reader(prefix)
  plan = inventory.plan(inventory.inspect(shapes, dtypes), **options)

  def load(name):
    try:
      return reader.get_tensor(name)
    except (tf.errors.OpError, IndexError, RuntimeError) as e:
      raise _damaged(prefix, e) from e
  return LegacyState.from_plan(plan, load)


def save(state, prefix):
  """Writes `state`'s variables at `prefix` with TensorFlow's `SaveV2` (no
  checks, not atomic: `write` stages it and publishes it whole)."""
  variables = state.to_variables()
  check_finite(variables)
  names = sorted(variables)
  tf.raw_ops.SaveV2(
      prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names),
      tensors=[tf.constant(variables[n]) for n in names])


def write(state, prefix, overwrite=False, inputs=(), log=None):
  """Writes `state` as a TF1 checkpoint at `prefix`, atomically.

  Args:
    state: a `LegacyState`.
    prefix: the checkpoint prefix to write.
    overwrite: replace a checkpoint already there.
    inputs: files this must never replace (see `files.Output`).
    log: called with one line per housekeeping action (`files.Output`).

  Returns:
    `prefix`.

  Example:

  >>> import os
  >>> prefix = LegacyState.example().write_example()
  >>> folder = os.path.dirname(prefix)
  >>> sorted(os.listdir(folder))
  ['model.ckpt.data-00000-of-00001', 'model.ckpt.index']
  """
  output = files.Output(prefix, is_checkpoint=True, overwrite=overwrite,
                        inputs=inputs, log=log)
  with output.stage() as tmp:
    save(state, tmp)
    output.publish(tmp)
  return prefix
