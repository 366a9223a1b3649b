"""Reading and writing TF1 checkpoints: the `LegacyState` a conversion moves.

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

from migration import description as description_lib
from migration import detection
from migration import errors
from migration import legacy_names
from migration import optimizer_state
from migration import publish
from migration import selection as selection_lib
from migration import tf1_graph
from migration.kinds import seeds

TF2_OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
StepCounter = selection_lib.StepCounter


class CheckpointError(errors.ConversionError):
  """The checkpoint cannot be used (the message says why)."""


@dataclasses.dataclass
class LegacyState:
  """A model's variables, and its TF1 Adam state and step counter if any:
  the values one conversion moves, keyed by their TF1 checkpoint names.

  `description` says what model they are and where each component's
  variables sit in the checkpoint; `adam.scope` and `global_step.name` place
  the rest.
  """
  description: description_lib.Description
  values: dict                  # {checkpoint name: array}
  adam: optimizer_state.AdamState = None
  global_step: StepCounter = None

  def to_variables(self):
    """{checkpoint name: value}: model variables, then Adam's, then the
    step counter."""
    out = dict(self.values)
    if self.adam is not None:
      out.update(self.adam.to_variables())
    if self.global_step is not None:
      out[self.global_step.name] = np.array(self.global_step.value,
                                            self.global_step.dtype)
    return out

  def placed_like(self, other):
    """The same values under the names `other` (a state of the same model)
    has: its scopes, its optimizer's scope, its step counter (counting the
    updates this state's Adam state counts)."""
    names = dict(zip(self.description.variable_names(),
                     other.description.variable_names()))
    adam = self.adam
    if adam is not None:
      mine = other.adam if other.adam is not None else adam
      adam = dataclasses.replace(
          adam, m={names[n]: a for n, a in adam.m.items()},
          v={names[n]: a for n, a in adam.v.items()},
          scope=mine.scope, powers_scope=mine.powers_scope)
    step = None
    if other.global_step is not None and adam is not None:
      step = dataclasses.replace(other.global_step, value=adam.steps())
    return LegacyState(other.description,
                       {names[n]: v for n, v in self.values.items()}, adam,
                       step)

  @classmethod
  def example(cls, family=seeds.SCAN, value=0.1):
    """A small seed GRU (4 units, 2 inputs; the Data Blogger GRU in
    float64, the tutorial GRU in float32), every weight `value`: for the
    Examples here and for trying the converter."""
    dtype = "float64" if family == seeds.SCAN else "float32"
    description = seeds.model(family, units=4, input_dim=2, dtype=dtype)
    return cls(description, {n: np.full(shape, value, dtype)
                             for n, shape in description.shapes().items()})

  def write_example(self):
    """Writes this state as `model.ckpt` in a new temporary folder; returns
    the prefix (for the Examples, and for trying the converter)."""
    return write(self, os.path.join(tempfile.mkdtemp(), "model.ckpt"))

  @classmethod
  def from_variables(cls, values, **options):
    """Finds the RNN in {checkpoint name: value} and checks it.

    Args:
      values: every variable of a checkpoint or session.
      **options: `selection.select`'s (scope, use_ema, drop_optimizer_state,
        allow_unconverted).
    """
    values = {n: np.asarray(v) for n, v in values.items()}
    found = detection.inspect({n: v.shape for n, v in values.items()},
                              {n: v.dtype for n, v in values.items()})
    return cls.read(selection_lib.select(found, **options),
                    values.__getitem__)

  @classmethod
  def read(cls, selection, load):
    """The state a `selection.Selection` names, each value read with
    `load(name)`."""
    values = {n: load(c) for n, c in selection.reads.items()}
    check_finite({selection.reads[n]: v for n, v in values.items()})
    adam = step = None
    if selection.adam is not None:
      adam = optimizer_state.AdamState.read(selection.adam, load)
      check_finite(adam.to_variables())
      if selection.global_step is not None:
        step = dataclasses.replace(
            selection.global_step,
            value=int(load(selection.global_step.name)))
        adam.check_global_step(step.name, step.value)
    return cls(selection.description, values, adam, step)


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
    errors.MissingInputError: no checkpoint there.
    errors.PathError: a replacement of it was interrupted.

  Example:

  >>> import os
  >>> prefix = LegacyState.example().write_example()
  >>> folder = os.path.dirname(prefix)
  >>> found, read_files = resolve(prefix)
  >>> found == prefix, [os.path.basename(f) for f in read_files]
  (True, ['model.ckpt.index', 'model.ckpt.data-00000-of-00001'])
  """
  if not input_path:
    raise errors.PathError(argument, input_path, "is empty")
  read = []
  prefix = os.fspath(input_path)
  if os.path.isdir(prefix):
    try:
      latest = tf.train.latest_checkpoint(prefix)
    except (tf.errors.OpError, ValueError) as e:
      raise CheckpointError(errors.Argument(argument), f" {input_path!r}: "
                            f"its `checkpoint` file cannot be read ({e})"
                            ) from e
    if latest is None:
      raise errors.MissingInputError(
          errors.Argument(argument), f" {input_path!r}: no TF1 checkpoint in "
          "this folder (no `checkpoint` file naming one)")
    read.append(os.path.join(prefix, "checkpoint"))
    prefix = latest
  publish.check_not_mid_publish(prefix, argument)
  if not publish.checkpoint_exists(prefix):
    raise errors.MissingInputError(
        errors.Argument(argument), f": no TF1 checkpoint at {prefix!r} (no "
        f"{prefix}.index)")
  return prefix, read + publish.checkpoint_files(prefix)


def _reader(prefix):
  """TensorFlow's reader of a TF1 checkpoint, its variables' shapes and
  dtypes (read from the index alone) under TF 1.2+'s RNN names, and {TF
  1.2+ name: the name it has there} of those written before TF 1.2
  (`legacy_names`)."""
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
  try:
    old = legacy_names.renamed(shapes)
  except ValueError as e:
    raise CheckpointError(f"{prefix!r}: {e}") from e
  for new, name in old.items():
    shapes[new] = shapes.pop(name)
    dtypes[new] = dtypes.pop(name)
  return reader, shapes, dtypes, old


def _damaged(prefix, error):
  # The reader raises OpErrors, or IndexError for short reads.
  detail = getattr(error, "message", str(error)).strip()
  return CheckpointError(f"cannot read TF1 checkpoint {prefix!r}: it is "
                         f"truncated or corrupted ({detail})")


def inspect(prefix, meta=None):
  """The `detection.Inventory` of a TF1 checkpoint (no tensor is read),
  with the program's graph (`meta`, or the `.meta` beside it) where there
  is one.

  Example:

  >>> prefix = LegacyState.example().write_example()
  >>> [r.describe() for r in inspect(prefix).rnns]
  ["Data Blogger GRU: 4 units, 2 inputs, float64, scope ''"]
  """
  prefix, _ = resolve(prefix)
  _, shapes, dtypes, _ = _reader(prefix)
  return detection.inspect(shapes, dtypes, program_graph(prefix, meta))


def read(prefix, **options):
  """The `LegacyState` of one RNN in the TF1 checkpoint at `prefix`.

  Reads only the tensors the conversion needs.

  Args:
    prefix: the checkpoint prefix (as `Saver.save` returns it), or a folder
      whose `checkpoint` file names one.
    **options: `selection.select`'s (scope, use_ema, drop_optimizer_state,
      allow_unconverted).

  Raises:
    errors.MissingInputError: no checkpoint there.
    CheckpointError: unreadable, truncated or corrupted; a TF2 object-based
      checkpoint; NaN or Inf values.
    description.SpecError: no RNN, several and no scope, or one that would
      lose a variable (`selection.SelectionError`).
    optimizer_state.OptimizerStateError: `global_step` disagrees with the
      Adam state.

  Example:

  >>> import os
  >>> prefix = LegacyState.example().write_example()
  >>> folder = os.path.dirname(prefix)
  >>> read(folder).description.describe()   # no `checkpoint` file
  Traceback (most recent call last):
  ...
  migration.errors.MissingInputError: input_path '...': no TF1 checkpoint in
  this folder (no `checkpoint` file naming one)
  >>> read(prefix).description.describe()
  'Data Blogger GRU: 4 units, 2 inputs, float64'
  """
  return read_selection(prefix, **options)[0]


def program_graph(prefix, meta=None):
  """The program's graph: the `.meta` at `meta`, or the one TF1's Saver
  wrote beside `prefix`; None if there is none.

  Raises:
    errors.MissingInputError: `meta` given, and no file there.
    tf1_graph.GraphError: not a MetaGraphDef.
  """
  if meta is not None:
    if not os.path.isfile(meta):
      raise errors.MissingInputError(errors.Argument("meta"),
                                     f": no such file: {meta!r}")
    return tf1_graph.read(meta)
  path = tf1_graph.meta_path(prefix)
  return tf1_graph.read(path) if os.path.isfile(path) else None


def read_selection(prefix, meta=None, **options):
  """(LegacyState, selection.Selection) of one RNN at `prefix`: the state,
  and what the conversion reads, drops and leaves behind (see `read`).
  `meta` names the program's `.meta` when it is not beside the
  checkpoint."""
  prefix, _ = resolve(prefix)
  reader, shapes, dtypes, old = _reader(prefix)
  graph = program_graph(prefix, meta)
  selection = selection_lib.select(detection.inspect(shapes, dtypes, graph),
                                   graph=graph, **options)
  selection.renamed = sorted(old[n] for n in selection.rnn.owned()
                             if n in old)
  # What the conversion reads, under the names the checkpoint has.
  selection.reads = {n: old.get(r, r) for n, r in selection.reads.items()}

  def load(name):
    try:
      return reader.get_tensor(old.get(name, name))
    except (tf.errors.OpError, IndexError, RuntimeError) as e:
      raise _damaged(prefix, e) from e
  return LegacyState.read(selection, load), selection


def save(state, prefix):
  """Writes `state`'s variables at `prefix` with TensorFlow's `SaveV2` (no
  checks, not atomic: `write` stages it and publishes it whole)."""
  save_values(state.to_variables(), prefix)


def save_values(variables, prefix):
  """Writes {checkpoint name: array} at `prefix` (`SaveV2`; not atomic)."""
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
    inputs: files this must never replace (see `publish.Output`).
    log: called with one line per housekeeping action (`publish.Output`).

  Returns:
    `prefix`.

  Example:

  >>> import os
  >>> prefix = LegacyState.example().write_example()
  >>> folder = os.path.dirname(prefix)
  >>> sorted(os.listdir(folder))
  ['model.ckpt.data-00000-of-00001', 'model.ckpt.index']
  """
  return write_values(state.to_variables(), prefix, overwrite, inputs, log)


def write_values(variables, prefix, overwrite=False, inputs=(), log=None):
  """Writes {checkpoint name: array} as a TF1 checkpoint at `prefix`,
  atomically (see `write`); returns `prefix`."""
  output = publish.Output(prefix, is_checkpoint=True, overwrite=overwrite,
                          inputs=inputs, log=log)
  with output.stage() as tmp:
    save_values(variables, tmp)
    output.publish(tmp)
  return prefix
