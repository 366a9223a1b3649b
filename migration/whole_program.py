"""A whole TF1 program to one Keras model file: `tf1-convert-checkpoint
--outputs=...`.

    convert(input_path, output_path, outputs, ...)

reads the checkpoint and the program's graph (the `.meta` beside it, or
`meta`), translates the graph between its placeholders and `outputs`
(`tf1_program`), and writes the Keras model as a `.keras` file through the
same stage -> verify -> publish path as every conversion (`publish`):
nothing appears unless it is whole and, with `verify`, unless the written
model, loaded back, computes every output within `tolerances.PROGRAM` of
the program's own graph run on a probe batch (`tf1_graph.run`: only the
pure subgraph the outputs need, with the checkpoint's values).

The summary accounts for every variable of the checkpoint: converted,
optimizer state, or not read by these outputs.
"""

import dataclasses
import os

import numpy as np

from gru_common import compare
from gru_common import tolerances
from migration import detection
from migration import errors
from migration import onnx_export
from migration import publish
from migration import tf1_checkpoint
from migration import tf1_graph
from migration import tf1_program

Argument = errors.Argument
DEFAULT_BATCH = 3     # probe rows
DEFAULT_SIZE = 5      # any other dimension a placeholder leaves open


@dataclasses.dataclass
class Result:
  """What `convert` did (the shape of `exporters.Conversion`)."""
  summary: str
  program: tf1_program.Program
  graph: object = None     # the program's `tf1_graph.ProgramGraph`
  model: object = None
  checks: list = None
  published: bool = False

  @property
  def ok(self):
    return self.checks is None or all(c.passed for c in self.checks)


class _Values:
  """The checkpoint's variables, read when asked (`tf1_graph.run`)."""

  def __init__(self, reader):
    self.reader = reader

  def __contains__(self, name):
    return self.reader.has_tensor(name)

  def __getitem__(self, name):
    return self.reader.get_tensor(name)


def convert(input_path, output_path, outputs, feed=None, meta=None,
            target="tf2", verify=False, probe=None, overwrite=False,
            log=None):
  """Converts the program computing `outputs` into `output_path` (.keras).

  Args:
    input_path: a TF1 checkpoint prefix, or a folder naming one.
    output_path: the .keras file to write.
    outputs: tensor names ('scope/op:0', or an op name), a list or a
      comma-separated string.
    feed: 'NAME=VALUE,...' fixing scalar placeholders (`is_training=false`,
      a keep probability of 1.0).
    meta: the program's `.meta`, if not PREFIX.meta.
    target: "tf2" (this project's exact RNN layers) or "keras" (stock).
    verify: compare the written model with the program's graph first.
    probe: an .npz of the model's inputs by placeholder name, for `verify`.
    overwrite: replace an existing output.
    log: called with one line per housekeeping action.

  Raises:
    errors.ConversionError (or a subclass): bad input, named.
  """
  import keras  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if isinstance(outputs, str):
    outputs = [o for o in outputs.split(",") if o.strip()]
  if not outputs:
    raise errors.ConversionError(Argument("outputs"),
                                 " names no tensor")
  to_onnx = os.fspath(output_path).endswith(onnx_export.SUFFIX)
  if not (to_onnx or os.fspath(output_path).endswith(publish.KERAS_SUFFIX)):
    raise errors.ConversionError(
        Argument("output_path"), f" {output_path!r}: a whole program is "
        f"written as a {publish.KERAS_SUFFIX} or {onnx_export.SUFFIX} file")
  if to_onnx:
    # ONNX is built from stock Keras layers, and this project's keras.ops
    # cells where no stock layer computes one (`onnx_program`).
    target = tf1_program.ONNX
  prefix, reads = tf1_checkpoint.resolve(os.fspath(input_path))
  meta = meta or tf1_graph.meta_path(prefix)
  if not os.path.isfile(meta):
    raise errors.MissingInputError(
        Argument("meta"), f": {Argument('outputs')} names tensors of the "
        f"program's graph, and there is no .meta at {meta!r}")
  graph = tf1_graph.read(meta)
  names = [tf1_graph.tensor_name(o.strip()) for o in outputs]
  for name in names:
    if tf1_graph.op_name(name) not in graph.nodes:
      raise tf1_program.ProgramError(
          Argument("outputs"), f": {name!r} is not a tensor of {meta!r}")
  lacking = tf1_graph.missing_ops(graph, graph.subgraph(names))
  if lacking:
    raise tf1_graph.GraphError(
        f"{meta!r} does not import in this TensorFlow: the outputs need "
        f"ops it does not have: {', '.join(lacking)}")
  reader = tf.train.load_checkpoint(prefix)
  feeds = tf1_program.parse_feed(graph, feed)
  program = tf1_program.translate(graph, reader, names, feeds, target)
  adam = None if to_onnx else carry_adam(program, reader, target)
  x = _probe(program, probe) if verify else None
  if to_onnx:
    return _write_onnx(program, graph, reader, x, meta, input_path,
                       output_path, overwrite, log, list(reads))
  output = publish.Output(output_path, is_checkpoint=False,
                          overwrite=overwrite, inputs=list(reads) + [meta],
                          log=log)
  result = Result(summary_text(program, reader, graph, input_path,
                               output_path, adam is not None),
                  program, graph, program.model)
  with output.stage() as tmp:
    program.model.save(tmp)
    if verify:
      # This project's layers (registered when `tf2` is imported) load by
      # name; a model of stock layers needs none of them.
      __import__("tf2")
      loaded = keras.saving.load_model(tmp, safe_mode=True, compile=False)
      result.checks = check_against_graph(graph, reader, program, loaded, x)
      result.summary += (f"\n  verified against the program's own graph "
                         f"({meta}) on a probe batch")
    return _published(output, tmp, result)


def _published(output, tmp, result):
  """Publishes the staged `tmp` if every check passed; returns `result`."""
  if result.ok:
    output.publish(tmp)
    result.published = True
  return result


def _write_onnx(program, graph, reader, x, meta, input_path, output_path,
                overwrite, log, reads):
  """`convert`'s .onnx output: the translated model's ONNX graph
  (`onnx_program`), verified in onnxruntime against the program's graph."""
  from migration import onnx_program  # pylint: disable=g-import-not-at-top
  data = onnx_program.from_program(
      program, doc=f"{input_path}: {', '.join(program.outputs)}"
  ).SerializeToString()
  output = publish.Output(output_path, is_checkpoint=False,
                          overwrite=overwrite, inputs=reads + [meta], log=log)
  result = Result(summary_text(program, reader, graph, input_path,
                               output_path, False), program, graph,
                  program.model)
  names = [n for n, _, _ in program.inputs]
  with output.stage() as tmp:
    with open(tmp, "wb") as f:
      f.write(data)
    if x is not None:
      with open(tmp, "rb") as f:
        written = f.read()
      result.checks = check_against_graph(
          graph, reader, program,
          lambda values: onnx_program.run(written, dict(zip(names, values))),
          x)
      result.summary += (f"\n  verified in onnxruntime against the "
                         f"program's own graph ({meta}) on a probe batch")
    return _published(output, tmp, result)


def back_to_tf1(keras_path, output_prefix, outputs, feed=None, meta=None,
                verify=False, overwrite=False, log=None):
  """A whole model `convert` wrote (and Keras may have trained since) back
  to the program's TF1 checkpoint format, at `output_prefix`.

  The program is translated again from its graph (`meta`, the `.meta` its
  Saver wrote beside its checkpoint, which supplies every variable the
  model does not hold), the model's weights and Adam state are taken over
  by position, and `write_tf1` writes them under the program's own names.
  With `verify`, the program's graph, restored from the staged checkpoint,
  must compute what the model computes on a probe batch before anything
  is published.

  Raises:
    errors.ConversionError: no `meta`, or a model that is not this
      program's translation (its layers or weights differ).
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from migration import exporters  # pylint: disable=g-import-not-at-top
  if isinstance(outputs, str):
    outputs = [o for o in outputs.split(",") if o.strip()]
  if not meta or not os.fspath(meta).endswith(".meta"):
    raise errors.ConversionError(
        Argument("meta"), " names the program's .meta beside its checkpoint "
        "(PREFIX.meta, as its Saver wrote it): a whole model goes back to "
        "that program's checkpoint format")
  prefix, reads = tf1_checkpoint.resolve(os.fspath(meta)[:-len(".meta")],
                                         "meta")
  model = exporters.load_keras_file(os.fspath(keras_path))
  graph = tf1_graph.read(meta)
  reader = tf.train.load_checkpoint(prefix)
  names = [tf1_graph.tensor_name(o.strip()) for o in outputs]
  feeds = tf1_program.parse_feed(graph, feed)
  program = _translation_of(model, graph, reader, names, feeds)
  output = publish.Output(output_prefix, is_checkpoint=True,
                          overwrite=overwrite,
                          inputs=[os.fspath(keras_path), meta] + list(reads),
                          log=log)
  result = Result(
      f"Wrote the program's TF1 checkpoint {output_prefix} from "
      f"{keras_path}: {len(program.converted())} variables from the model"
      f"{', Adam state from its optimizer' if _has_adam(model) else ''}, "
      "every other variable of "
      f"{prefix} as it was", program, graph, model)
  with output.stage() as tmp:
    write_tf1(program, reader, tmp, write=tf1_checkpoint.save_values)
    if verify:
      result.checks = check_against_graph(
          graph, tf.train.load_checkpoint(tmp), program, model,
          _probe(program, None))
      result.summary += ("\n  verified: the program's graph, restored from "
                         "it, against the model on a probe batch")
    return _published(output, tmp, result)


def _has_adam(model):
  optimizer = getattr(model, "optimizer", None)
  return optimizer is not None and optimizer.built


def _translation_of(model, graph, reader, names, feeds):
  """The program's translation whose model `model` is, its weights (and
  Adam state) copied from `model`."""
  for target in ("tf2", "keras"):
    program = tf1_program.translate(graph, reader, names, feeds, target)
    ours = [(type(l).__name__, l.name) for l in program.model.layers]
    theirs = [(type(l).__name__, l.name) for l in model.layers]
    if ours == theirs and [w.shape for w in program.model.weights] == [
        w.shape for w in model.weights]:
      break
  else:
    raise tf1_program.ProgramError(
        f"model {model.name!r} is not the translation of these outputs of "
        f"{graph.path!r} (its layers or weights differ)")
  for mine, given in zip(program.model.weights, model.weights):
    mine.assign(given)
  if _has_adam(model):
    if carry_adam(program, reader, target) is None:
      raise tf1_program.ProgramError(
          f"model {model.name!r} has optimizer state, and its program's "
          "checkpoint no Adam state for it to go to")
    mine = program.model.optimizer.variables
    if [v.shape for v in mine] != [v.shape for v in model.optimizer.variables]:
      raise tf1_program.ProgramError(
          f"model {model.name!r}'s optimizer is not Adam over its weights")
    for a, b in zip(mine, model.optimizer.variables):
      a.assign(b)
  return program


def _check(name, ours, theirs):
  """One output's `compare.Check` (floats within `tolerances.PROGRAM`,
  integers equal)."""
  if ours.shape != theirs.shape or ours.dtype != theirs.dtype:
    raise tf1_graph.NotTheProgram(
        f"the model's output {name!r} is {ours.dtype} {list(ours.shape)}; "
        f"the program's is {theirs.dtype} {list(theirs.shape)}")
  if theirs.dtype.kind == "f":
    return compare.check(name, ours, theirs, tolerances.PROGRAM)
  return compare.Check(name, theirs.dtype.name, compare.compare(ours, theirs),
                       0.0)


def model_values(program):
  """{checkpoint name: array} of every variable the translated model holds,
  read from its weights now (after training, the trained values)."""
  from migration import mapping  # pylint: disable=g-import-not-at-top
  return mapping.from_model(program.placements)


def _trainable(program):
  """The placements of the model's trainable weights: those TF1's
  optimizer has slots for (not batch norms' moving statistics)."""
  return [p for p in program.placements if p.variable.trainable]


def adam_state(program, reader):
  """TF1 Adam's state for the model's trainable variables, read from the
  checkpoint (`optimizer_state.AdamState`), or None where the checkpoint
  has no such state for every one of them (another optimizer, or none)."""
  from migration import description as description_lib  # pylint: disable=g-import-not-at-top
  from migration import optimizer_state  # pylint: disable=g-import-not-at-top
  shapes = reader.get_variable_to_shape_map()
  m_slot, v_slot = detection.SLOTS[detection.ADAM]
  names = sorted({p.legacy for p in _trainable(program) if p.legacy})
  m, v, scopes = {}, {}, set()
  for name in names:
    found = [s for s in shapes if s == f"{name}/{m_slot}" or
             s.endswith(f"/{name}/{m_slot}")]
    if len(found) != 1:
      return None
    scope = found[0][:-len(f"{name}/{m_slot}")].rstrip("/")
    second = description_lib.join(scope, f"{name}/{v_slot}")
    if second not in shapes:
      return None
    m[name], v[name] = reader.get_tensor(found[0]), reader.get_tensor(second)
    scopes.add(scope)
  first, second = detection.BETA_POWERS
  powers = [s for s in shapes if s.rpartition("/")[2] == first and
            not list(shapes[s])]
  if not names or len(scopes) != 1 or len(powers) != 1:
    return None
  powers_scope = powers[0].rpartition("/")[0]
  other = description_lib.join(powers_scope, second)
  if other not in shapes:
    return None
  scope = scopes.pop()
  return optimizer_state.AdamState(
      m, v, np.float32(reader.get_tensor(powers[0])),
      np.float32(reader.get_tensor(other)), scope=scope,
      powers_scope=None if powers_scope == scope else powers_scope)


def carry_adam(program, reader, target):
  """Compiles the model with the checkpoint's Adam state in its optimizer
  (`tf2.TF1Adam` for target tf2, `keras.optimizers.Adam` for keras), so
  that `model.save` keeps it; returns the `AdamState`, or None (nothing
  done) where there is none."""
  from migration import optimizer_state  # pylint: disable=g-import-not-at-top
  state = adam_state(program, reader)
  if state is not None:
    optimizer = optimizer_state.to_optimizer(state, _trainable(program),
                                             program.model, target)
    program.model.compile(optimizer=optimizer)
  return state


def write_tf1(program, reader, prefix, overwrite=False, inputs=(), log=None,
              write=None):
  """Writes the translated model's weights back as a TF1 checkpoint under
  the program's own variable names, which the program's graph restores
  with its plain `Saver`: the model's variables from the model, every
  other variable of the original checkpoint (optimizer state, variables no
  output reads) as it was. Returns `prefix`."""
  values = {n: reader.get_tensor(n)
            for n in reader.get_variable_to_shape_map()}
  values.update(model_values(program))
  optimizer = getattr(program.model, "optimizer", None)
  state = adam_state(program, reader)
  if state is not None and optimizer is not None and optimizer.built:
    from migration import optimizer_state  # pylint: disable=g-import-not-at-top
    values.update(optimizer_state.from_optimizer(
        optimizer, _trainable(program), state.scope,
        state.powers_scope).to_variables())
    # The step counter counts what the optimizer has done since.
    for name, value in list(values.items()):
      if name.rpartition("/")[2] == detection.GLOBAL_STEP and (
          np.ndim(value) == 0 and np.asarray(value).dtype.kind == "i"):
        values[name] = np.asarray(int(optimizer.iterations.numpy()),
                                  np.asarray(value).dtype)
  if write is not None:      # into a staged output (`back_to_tf1`)
    write(values, prefix)
    return prefix
  return tf1_checkpoint.write_values(values, prefix, overwrite=overwrite,
                                     inputs=inputs, log=log)


def summary_text(program, reader, graph, input_path, output_path,
                 adam=False):
  """What was written, from what, and where every variable went."""
  inputs = ", ".join(f"{n} {list(s)} {d}" for n, s, d in program.inputs)
  feeds = ", ".join(f"{n}={v.item()!r}" for n, v in program.feeds.items())
  converted = program.converted()
  optimizer, unused = classify(program.unused, converted, reader, graph)
  total = len(reader.get_variable_to_shape_map())
  to_onnx = os.fspath(output_path).endswith(onnx_export.SUFFIX)
  lines = [
      f"Wrote {'an ONNX' if to_onnx else 'a Keras'} model of the whole "
      f"program to {output_path} from {input_path}",
      f"  inputs (in order): {inputs}",
      f"  outputs: {', '.join(program.outputs)}",
      f"  fixed: {feeds or 'nothing'}",
      f"  layers: {len(program.model.layers)}; not stock Keras: "
      f"{', '.join(program.not_stock) or 'none'}" + (
          f" (the Keras model the ONNX graph, opset {onnx_export.OPSET}, is "
          "built from)" if to_onnx else ""),
      f"  variables: {total} in the checkpoint; {len(converted)} converted, "
      f"{len(optimizer)} optimizer state "
      f"({'Adam, carried into the model' if adam else 'not carried'}), "
      f"{len(unused)} not read by these outputs"]
  lines += [f"    not read: {n}" for n in unused]
  return "\n".join(lines)


def classify(names, converted, reader, graph):
  """(optimizer state, the rest) of the variables `names`: slots of
  converted variables, Adam's powers and the step counter are optimizer
  state."""
  shapes = reader.get_variable_to_shape_map()
  counters = set(graph.step_counters())
  slots = {s for all_ in detection.SLOTS.values() for s in all_}
  optimizer, rest = [], []
  for name in names:
    parent, _, last = name.rpartition("/")
    owner = next((c for c in converted if parent.endswith(c)), None)
    if (last in slots and owner) or name in counters or (
        last in detection.BETA_POWERS and list(shapes[name]) == []) or (
            name == detection.GLOBAL_STEP):
      optimizer.append(name)
    else:
      rest.append(name)
  return optimizer, rest


def _probe(program, path):
  """[array per model input]: the user's (`path`, by placeholder name) or
  drawn to fit the graph: ids below their embedding's vocabulary, other
  integers (lengths) between 1 and the time size, floats in [-1, 1]."""
  if path is not None:
    try:
      with np.load(path) as data:
        given = {k: data[k] for k in data.files}
    except (OSError, ValueError) as e:
      raise errors.MissingInputError(Argument("probe"),
                                     f": {path!r} is not an .npz file "
                                     f"({e})") from e
    lacking = [n for n, _, _ in program.inputs if n not in given]
    if lacking:
      raise errors.ConversionError(
          Argument("probe"), f": {path!r} has no array for the model "
          f"inputs {lacking} (keys are placeholder names)")
    return [np.asarray(given[n], dtype=d) for n, _, d in program.inputs]
  rng = np.random.default_rng(0)
  shapes = [[DEFAULT_BATCH if i == 0 and d is None else
             DEFAULT_SIZE if d is None else d for i, d in enumerate(s)]
            for _, s, _ in program.inputs]
  time = min((s[1] for s in shapes if len(s) > 1), default=DEFAULT_SIZE)
  out = []
  for (name, _, dtype), shape in zip(program.inputs, shapes):
    if np.issubdtype(np.dtype(dtype), np.integer):
      if name in program.vocabulary:
        out.append(rng.integers(0, program.vocabulary[name], shape)
                   .astype(dtype))
      else:
        out.append(rng.integers(1, time + 1, shape).astype(dtype))
    elif dtype == "bool":
      out.append(rng.integers(0, 2, shape).astype(bool))
    else:
      out.append(rng.uniform(-1, 1, shape).astype(dtype))
  return out


def check_against_graph(graph, reader, program, model, x):
  """[compare.Check] of `model` (the written one, loaded; or a function
  of the inputs' list, the ONNX model in onnxruntime) on `x` against the
  program's own graph: floats within `tolerances.PROGRAM`, integers
  (classes) equal."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  feeds = {f"{n}:0": v for (n, _, _), v in zip(program.inputs, x)}
  feeds.update({f"{n}:0": v for n, v in program.feeds.items()})
  want = tf1_graph.run(graph, program.outputs, feeds, _Values(reader))
  # A Keras model is called as `predict` calls it: in a graph, which
  # TensorFlow optimizes as it optimizes the program's.
  compute = model if callable(model) and not hasattr(
      model, "inputs") else tf.function(model)
  got = compute(x)
  got = got if isinstance(got, (list, tuple)) else [got]
  return [_check(n, np.asarray(o), np.asarray(t))
          for n, o, t in zip(program.outputs, got, want)]
