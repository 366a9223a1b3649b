"""Conversions between legacy (TF1) and TF2 models, both ways, and checks.

    to_keras(state, target)          LegacyState -> (Keras model, optimizer)
    from_keras(model, optimizer)     Keras model -> LegacyState
    tf1_to_keras_file(...)           TF1 checkpoint -> .keras file
    tf1_to_tf2_checkpoint(...)       TF1 checkpoint -> TF2 checkpoint
    keras_file_to_tf1(...)           .keras file -> TF1 checkpoint
    convert_path(input, "m.onnx")    TF1 checkpoint or .keras -> ONNX model
    verify_outputs(state, model)     both on a probe batch, per output
    convert_path(input, output)      one conversion, its direction by file type
    command(...)                     gru-convert-checkpoint: messages, status

Weights and Adam slots move through `mapping.placements`, so every legacy
variable lands in exactly one place and every TF2 weight element comes from
exactly one legacy variable. A Keras model converts to TF1 only if it
computes what the legacy graph computes (`models.check_computes_like`, then
the same outputs as the model the spec builds). Outputs are staged, verified
when asked, and only then published (`files.Output`): a failed conversion
leaves the output path as it was, and the input is never touched.
"""

import dataclasses
import json
import os
import re
import signal
import sys
import zipfile

import keras
import numpy as np
import tensorflow as tf

from gru_common import files
from gru_common import keras_precision
from gru_common import tables
from migration import legacy_graph
from migration import mapping
from migration import models
from migration import onnx_export
from migration import optimizer_state
from migration import spec as spec_lib
from migration import tf1_cells
from migration import tf1_checkpoint
from proof import compare
from proof import tolerances

# What a conversion raises for bad input (all subclasses of these).
ERRORS = (FileNotFoundError, FileExistsError, ValueError)  # OnnxError too
COMMAND = "gru-convert-checkpoint"


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
  model = models.build(state.spec, target, state.layout)
  places = mapping.placements(state.spec, model, target)
  mapping.to_model(state.values, places)
  optimizer = None
  if state.adam is not None:
    optimizer = optimizer_state.to_optimizer(state.adam, places, model,
                                             target)
    model.compile(optimizer=optimizer)
  return model, optimizer


def from_keras(model, optimizer=None, family=None, scope=None):
  """The `LegacyState` of a Keras model (and optimizer) built like `models`.

  Its variables are placed in the TF1 checkpoint where the model's name
  says they came from (`models.layout_from_model`), or under `scope`.

  Raises:
    MappingError: the model computes something else than the legacy graph
      (a layer or config field that differs, or different outputs than the
      model `models.build` makes from the same weights).

  Example:

  >>> import numpy as np
  >>> from migration import tf1_checkpoint
  >>> state = tf1_checkpoint.LegacyState.example()
  >>> back = from_keras(to_keras(state, "tf2")[0])
  >>> back.spec == state.spec and all(
  ...     np.array_equal(back.values[n], v) for n, v in state.values.items())
  True
  """
  return _from_keras(model, optimizer, family, scope)[0]


def _from_keras(model, optimizer, family, scope):
  """(LegacyState, target) of a Keras model; see `from_keras`."""
  spec, target = models.spec_from_model(model, family)
  layout = models.layout_from_model(model)
  if scope is not None:
    layout = dataclasses.replace(layout, scope=scope.strip("/"),
                                 head_scope=None)
  places = mapping.placements(spec, model, target)
  values = mapping.from_model(places)
  tf1_checkpoint.check_finite(values)
  _check_same_outputs(model, spec, target, values)
  if optimizer is None and getattr(model, "optimizer", None) is not None:
    if model.optimizer.built:
      optimizer = model.optimizer
  adam = step = None
  if optimizer is not None:
    adam = optimizer_state.from_optimizer(optimizer, places)
    step = int(optimizer.iterations.numpy())
  else:
    # No optimizer state: no slots, beta powers or step count to write.
    layout = dataclasses.replace(layout, optimizer_scope="",
                                 global_step=None)
  return tf1_checkpoint.LegacyState(spec, values, adam, layout,
                                    step), target


def _check_same_outputs(model, spec, target, values):
  """`model` computes, bit for bit, what `models.build(spec)` computes with
  the same weights (a guard for anything its config does not show)."""
  rebuilt = models.build(spec, target)
  mapping.to_model(values, mapping.placements(spec, rebuilt, target))
  shape = tuple(model.inputs[0].shape)
  x = probe_inputs(spec, batch=shape[0] or 4, time=shape[1] or 6)
  got, want = np.asarray(model(x)), np.asarray(rebuilt(x))
  if got.shape != want.shape or not compare.bitwise_equal(got, want):
    detail = (f"shape {got.shape} vs {want.shape}" if got.shape != want.shape
              else f"max abs diff {compare.compare(got, want).max_abs:.3e}")
    raise mapping.MappingError(
        f"model {model.name!r} computes other outputs than the legacy "
        f"{spec.describe()} with the same weights ({detail})")


def tf1_to_keras_file(input_prefix, output_path, target=mapping.TF2,
                      overwrite=False):
  """TF1 checkpoint -> .keras file (model, and optimizer if saved).

  Example:

  >>> from migration import tf1_checkpoint
  >>> prefix = tf1_checkpoint.LegacyState.example().write_example()
  >>> _, model = tf1_to_keras_file(prefix, prefix + ".keras", target="keras")
  >>> type(model.get_layer("gru")).__name__
  'GRU'
  """
  report = convert_path(input_prefix, output_path, target,
                        overwrite=overwrite, to_keras_file=True)
  return report.state, report.model


def tf1_to_tf2_checkpoint(input_prefix, output_prefix, target=mapping.TF2,
                          overwrite=False):
  """TF1 checkpoint -> TF2 object-based checkpoint (model=, optimizer=).

  Example:

  >>> from migration import tf1_checkpoint
  >>> prefix = tf1_checkpoint.LegacyState.example().write_example()
  >>> _ = tf1_to_tf2_checkpoint(prefix, prefix + "_tf2")
  >>> files.checkpoint_exists(prefix + "_tf2")
  True
  """
  report = convert_path(input_prefix, output_prefix, target,
                        overwrite=overwrite, to_keras_file=False)
  return report.state, report.model


def keras_file_to_tf1(input_path, output_prefix, overwrite=False,
                      family=None):
  """.keras file -> TF1 checkpoint the legacy graph restores.

  Example:

  >>> from migration import tf1_checkpoint
  >>> prefix = tf1_checkpoint.LegacyState.example().write_example()
  >>> _ = tf1_to_keras_file(prefix, prefix + ".keras")
  >>> state, _ = keras_file_to_tf1(prefix + ".keras", prefix + "_back")
  >>> state.spec.describe()
  'Data Blogger GRU: 4 units, 2 inputs, float64'
  """
  if not os.fspath(input_path).endswith(files.KERAS_SUFFIX):
    raise files.PathError("input_path", input_path, "must be a .keras file")
  report = convert_path(input_path, output_prefix, family=family,
                        overwrite=overwrite)
  return report.state, report.model


def load_keras_file(path, argument="input_path"):
  """A .keras file of this project's (or stock Keras) layers, safe mode.

  Raises:
    FileNotFoundError: no such file.
    CheckpointError: anything else that stops Keras loading it (not a zip,
      a damaged member, a class that is not a registered layer, a config
      that does not build), in one line naming the file.
  """
  if not os.path.isfile(path):
    raise FileNotFoundError(f"{argument}: no such file: {path!r}")
  try:
    return keras.saving.load_model(path, safe_mode=True)
  except Exception as e:  # pylint: disable=broad-except
    # Keras lets through whatever its deserialization meets (TypeError for
    # unknown classes, zipfile's errors, KeyError, ...): all say the same.
    raise tf1_checkpoint.CheckpointError(
        f"cannot load .keras file {path!r}: {_first_sentence(e)}") from e


def _first_sentence(error):
  """An exception's message cut to one line (Keras appends whole configs)."""
  text = " ".join(str(error).split()) or type(error).__name__
  unknown = re.search(r"Could not locate (class|function) '([^']*)'", text)
  if unknown:
    return (f"it names {unknown.group(1)} {unknown.group(2)!r}, which is not "
            "a registered Keras object (this tool loads only Keras's own and "
            "this project's layers, in safe mode)")
  for stop in (". Make sure", " Full object config:", " Exception encountered"):
    text = text.split(stop)[0]
  if isinstance(error, (zipfile.BadZipFile, KeyError, TypeError)):
    text = f"{type(error).__name__}: {text}"
  return text[:300]


@dataclasses.dataclass(frozen=True)
class OutputCheck:
  """One output of source and converted model on the probe batch.

  `bound` is relative to max(1, max |legacy output|) (see tolerances).
  """
  name: str
  comparison: compare.Comparison
  bound: float

  @property
  def ok(self):
    if self.bound == 0.0:
      return self.comparison.bitwise
    return self.comparison.within(self.bound)


def probe_inputs(spec, batch=8, time=12, seed=0):
  """A fixed batch for checking a conversion: uniform in [-1, 1]."""
  return np.random.RandomState(seed).uniform(
      -1, 1, (batch, time, spec.input_dim)).astype(spec.dtype)


def model_outputs(model, spec, x):
  """{"gru": sequence output, "head": model output (if any)} of a model, or
  {"rnn": output} for TF1 cells.

  Computed with `Model.predict`, the API users call, with Keras's floatx
  set to the model's dtype as the README tells users to (Keras casts float
  arrays to floatx in `predict`; gru_common/keras_precision.py)."""
  if spec.family == tf1_cells.FAMILY:
    fetch, names_ = model, ["rnn"]
  else:
    gru = models.gru_layer(model, spec)
    fetch = keras.Model(model.input, [gru.output, model.output])
    names_ = ["gru", "head"] if spec.head else ["gru"]
  with keras_precision.floatx(spec.dtype):
    outputs = fetch.predict(x, batch_size=len(x), verbose=0)
  if not isinstance(outputs, (list, tuple)):
    outputs = [outputs]
  return {name: np.asarray(out) for name, out in zip(names_, outputs)}


def verify_outputs(state, model, target, x=None, prefix=None):
  """Compares the legacy graph (restored from `prefix`, or holding
  `state.values`) with `model` on a probe batch.

  Returns:
    A list of `OutputCheck`, one per output ("gru", and "head" if any).

  Example:

  >>> from migration import tf1_checkpoint
  >>> state = tf1_checkpoint.LegacyState.example("loop")
  >>> checks = verify_outputs(state, to_keras(state, "keras")[0], "keras")
  >>> [(c.name, c.comparison.bitwise, c.ok) for c in checks]
  [('gru', False, True)]
  """
  x = probe_inputs(state.spec) if x is None else x
  want = reference_outputs(state, x, prefix)
  got = model_outputs(model, state.spec, x)
  cells = state.spec.family == tf1_cells.FAMILY
  bound = (tolerances.BITWISE if target == mapping.TF2 else
           tolerances.TF1_CELL_STOCK if cells else
           tolerances.STOCK_KERAS).for_dtype(state.spec.dtype)
  return [OutputCheck(name, compare.compare(got[name], want[name]), bound)
          for name in want]


def verify_onnx(state, model_bytes, x=None, prefix=None):
  """Compares the legacy graph with an ONNX model of it in onnxruntime.

  Returns:
    A list of `OutputCheck`, one per output, bound `tolerances.ONNX_RUNTIME`.
  """
  x = probe_inputs(state.spec) if x is None else x
  want = reference_outputs(state, x, prefix)
  got = onnx_export.run(model_bytes, x)
  bound = tolerances.ONNX_RUNTIME.for_dtype(state.spec.dtype)
  return [OutputCheck(name, compare.compare(got[name], want[name]), bound)
          for name in want]


def reference_outputs(state, x, prefix=None):
  """What the legacy side computes on x, per output, weights restored from
  the TF1 checkpoint at `prefix` or taken from `state.values`.

  For the seed GRUs, the legacy graph. For TF1 cells, `tf2.TF1GRUCell`,
  TF1's cell op for op (TF's own TF1 cells need tf_keras in a process of
  their own; the tests prove the reference against them)."""
  if state.spec.family != tf1_cells.FAMILY:
    legacy = legacy_graph.build(state.spec)
    return legacy_graph.run(legacy, x, prefix=prefix,
                            values=None if prefix else state.values,
                            sources=sources(state))
  values = state.values
  if prefix is not None:
    reader = tf.train.load_checkpoint(prefix)
    values = {n: reader.get_tensor(c) for n, c in sources(state).items()}
  reference = models.build(state.spec, mapping.TF2)
  mapping.to_model(values, mapping.placements(state.spec, reference,
                                              mapping.TF2))
  return model_outputs(reference, state.spec, x)


def sources(state):
  """{variable name: checkpoint name} the state was read from (or is
  written to)."""
  if state.plan is not None:
    return state.plan.sources
  return state.layout.variables(state.spec)


def describe_spec(state):
  """The summary's account of a state: the model, its scope, its optimizer
  state, and (read from a checkpoint) what was not converted."""
  optimizer = "with TF1 Adam state" if state.adam is not None else (
      "without optimizer state")
  if state.global_step is not None:
    optimizer += f" (global_step {state.global_step})"
  text = f"{state.spec.describe()}, scope {state.layout.scope!r}, {optimizer}"
  plan = state.plan
  if plan is not None:
    if plan.averaged:
      text += "; the weights are the EMA averages (the shadows)"
    for what, found in (("dropped optimizer state", plan.dropped),
                        ("left behind", plan.left_behind),
                        ("not read (the same weights in cuDNN's opaque "
                         "layout)", plan.not_read)):
      if found:
        text += f"\n  {what} ({len(found)}): {', '.join(found)}"
  return text


def read_tf2_checkpoint(prefix, state, target=mapping.TF2):
  """The model of a TF2 checkpoint `tf1_to_tf2_checkpoint` wrote for
  `state`, every model variable restored (optimizer state is not read)."""
  model = models.build(state.spec, target, state.layout)
  checkpoint = tf.train.Checkpoint(model=model)
  checkpoint.read(prefix).expect_partial().assert_existing_objects_matched()
  return model


@dataclasses.dataclass
class Report:
  """What `convert_path` did.

  `published` is False when verification failed: nothing was written.
  """
  summary: str
  state: tf1_checkpoint.LegacyState
  model: object = None    # the Keras model written or read
  checks: list = None     # OutputChecks, when verified
  published: bool = False

  @property
  def ok(self):
    return self.checks is None or all(c.ok for c in self.checks)


def _check_choice(argument, value, choices):
  if value not in choices:
    raise ValueError(f"{argument} must be one of {choices}, got {value!r}")


def convert_path(input_path, output_path, target=mapping.TF2, family=None,
                 verify=False, overwrite=False, log=None,
                 to_keras_file=None, **options):
  """One conversion, its direction from the paths (see the CLI's help).

  The output is written under a temporary name and published only when
  complete and, with `verify`, only when the written output, loaded back,
  matches the legacy graph (restored from the TF1 side) on a probe batch.

  Args:
    input_path: a TF1 checkpoint prefix or folder, or a .keras file.
    output_path: a .keras file, a checkpoint prefix, or an .onnx file (from
      either input; `onnx_export`).
    target: "tf2" or "keras", the layers of a TF1 checkpoint's conversion.
    family: "scan" or "loop", for a stock-Keras .keras file that does not
      record which legacy GRU it holds.
    verify: check the written output before publishing it.
    overwrite: replace an existing output.
    log: called with one line per housekeeping action (`files.Output`).
    to_keras_file: for a TF1 input, write a .keras file (True) or a TF2
      checkpoint (False); by default, a .keras file when `output_path` ends
      in .keras.
    **options: for a TF1 input, which GRU and what may be left out:
      `inventory.plan`'s scope, use_ema, drop_optimizer_state and
      allow_unconverted. For a .keras input, `scope` places the GRU and its
      head under that scope instead of the one the model's name records.

  Returns:
    A `Report`; `published` is False if verification failed.

  Example:

  >>> from migration import tf1_checkpoint
  >>> prefix = tf1_checkpoint.LegacyState.example().write_example()
  >>> report = convert_path(prefix, prefix + ".keras", target="keras",
  ...                       verify=True)
  >>> report.published, [c.ok for c in report.checks]
  (True, [True])
  >>> convert_path(prefix, prefix + ".keras")
  Traceback (most recent call last):
  ...
  gru_common.files.OutputExistsError: output_path '.../model.ckpt.keras':
  '.../model.ckpt.keras' exists; pass overwrite=True to replace it
  """
  _check_choice("target", target, mapping.TARGETS)
  options = {k: v for k, v in options.items() if v not in (None, False)}
  if family is not None:
    _check_choice("family", family, spec_lib.FAMILIES)
  input_path = os.fspath(input_path)
  output_path = os.fspath(output_path)
  from_keras_file = input_path.endswith(files.KERAS_SUFFIX)
  if output_path.endswith(onnx_export.SUFFIX):
    if to_keras_file:
      raise files.PathError("output_path", output_path,
                            "must end in .keras")
    if from_keras_file:
      _check_keras_input_options(options)
    return _to_onnx(input_path, output_path, family, verify, overwrite, log,
                    options, from_keras_file)
  if to_keras_file is None:
    to_keras_file = output_path.endswith(files.KERAS_SUFFIX)
  elif to_keras_file and not output_path.endswith(files.KERAS_SUFFIX):
    raise files.PathError("output_path", output_path,
                          "must end in .keras")
  if from_keras_file:
    if to_keras_file:
      raise files.PathError("output_path", output_path, (
          "a .keras input converts to a TF1 checkpoint; give a checkpoint "
          "prefix, not a .keras file"))
    _check_keras_input_options(options)
    return _keras_to_tf1(input_path, output_path, family, verify, overwrite,
                         log, options.get("scope"))
  return _tf1_to_tf2(input_path, output_path, target, to_keras_file, verify,
                     overwrite, log, options)


def _check_keras_input_options(options):
  unknown = sorted(set(options) - {"scope"})
  if unknown:
    raise ValueError(f"{', '.join(unknown)}: only for a TF1 checkpoint "
                     "input; a .keras input holds one model and no TF1 "
                     "optimizer or EMA state")


def _to_onnx(input_path, output_path, family, verify, overwrite, log,
             options, from_keras_file):
  """A TF1 checkpoint or .keras file -> an ONNX model (`onnx_export`),
  checked in onnxruntime against the legacy graph with `verify`."""
  prefix = None
  if from_keras_file:
    if not os.path.isfile(input_path):
      raise FileNotFoundError(f"input_path: no such file: {input_path!r}")
    read = [input_path]
    model = load_keras_file(input_path)
    state, _ = _from_keras(model, None, family, options.get("scope"))
  else:
    prefix, read = tf1_checkpoint.resolve(input_path)
    state = tf1_checkpoint.read(prefix, **options)
  onnx_export.check_exportable(state.spec)
  output = files.Output(output_path, is_checkpoint=False, overwrite=overwrite,
                        inputs=read, log=log)
  stock, _ = to_keras(state, mapping.KERAS)
  proto = onnx_export.from_keras_model(
      stock, state.spec, doc=f"{state.spec.describe()}, from {input_path}")
  data = proto.SerializeToString()
  kept = "" if state.adam is None else (
      "\n  not exported: the optimizer state (an ONNX graph is the forward "
      "pass)")
  report = Report(f"Wrote ONNX model {output_path} (opset "
                  f"{onnx_export.OPSET}) from {input_path}: "
                  f"{describe_spec(state)}{kept}", state)

  def write(path):
    with open(path, "wb") as f:
      f.write(data)

  with output.stage() as tmp:
    _write(lambda: write(tmp), output_path)
    if verify:
      with open(tmp, "rb") as f:
        report.checks = verify_onnx(state, f.read(), prefix=prefix)
    if report.ok:
      output.publish(tmp)
      report.published = True
  return report


def _keras_to_tf1(input_path, output_path, family, verify, overwrite, log,
                  scope):
  if not os.path.isfile(input_path):
    raise FileNotFoundError(f"input_path: no such file: {input_path!r}")
  output = files.Output(output_path, is_checkpoint=True, overwrite=overwrite,
                        inputs=[input_path], log=log)
  model = load_keras_file(input_path)
  state, target = _from_keras(model, None, family, scope)
  report = Report(f"Wrote TF1 checkpoint {output_path} from {input_path}: "
                  f"{describe_spec(state)}", state, model)
  with output.stage() as tmp:
    _write(lambda: tf1_checkpoint.save(state, tmp), output_path)
    if verify:
      report.checks = verify_outputs(state, model, target, prefix=tmp)
    if report.ok:
      output.publish(tmp)
      report.published = True
  return report


def _tf1_to_tf2(input_path, output_path, target, to_keras_file, verify,
                overwrite, log, options):
  prefix, read = tf1_checkpoint.resolve(input_path)
  output = files.Output(output_path, is_checkpoint=not to_keras_file,
                        overwrite=overwrite, inputs=read, log=log)
  state = tf1_checkpoint.read(prefix, **options)
  model, optimizer = to_keras(state, target)
  if to_keras_file:
    what = f"{output_path} ({target} layers)"
  else:
    what = f"TF2 checkpoint {output_path} ({target} layers)"
  report = Report(f"Wrote {what} from {input_path}: {describe_spec(state)}",
                  state, model)
  with output.stage() as tmp:
    if to_keras_file:
      _write(lambda: model.save(tmp), output_path)
    else:
      objects = {"model": model}
      if optimizer is not None:
        objects["optimizer"] = optimizer
      _write(lambda: tf.train.Checkpoint(**objects).write(tmp), output_path)
    if verify:
      written = (load_keras_file(tmp) if to_keras_file else
                 read_tf2_checkpoint(tmp, state, target))
      report.checks = verify_outputs(state, written, target, prefix=prefix)
    if report.ok:
      output.publish(tmp)
      report.published = True
  return report


def _write(save, output_path):
  """Runs a writer; a file-system refusal becomes an error naming the
  output (TensorFlow reports those as OpErrors, Keras as OSErrors)."""
  try:
    save()
  except (OSError, tf.errors.OpError) as e:
    detail = getattr(e, "message", None) or e.strerror or str(e)
    raise files.PathError("output_path", output_path,
                          f"cannot be written ({detail.strip()})") from e


# Library argument -> command-line flag, for error messages.
_FLAGS = {"input_path": "--input", "output_path": "--output",
          "overwrite=True": "--overwrite",
          "allow_unconverted=True": "--allow_unconverted",
          "drop_optimizer_state=True": "--drop_optimizer_state",
          "use_ema=True": "--use_ema", "scope=": "--scope="}


def _for_command_line(message):
  for argument, flag in _FLAGS.items():
    message = message.replace(argument, flag)
  return message


def command(input_path, output_path, target=mapping.TF2, family=None,
            verify=False, overwrite=False, stdout=None, stderr=None,
            **options):
  """gru-convert-checkpoint: one conversion, as the command reports it.

  Prints the summary (and the verification table) to `stdout`;
  housekeeping lines (`gru-convert-checkpoint: note: ...`) and any failure,
  as one line `gru-convert-checkpoint: error: ...`, to `stderr`. Never a
  traceback: an unexpected exception is reported by its type and message.

  Returns:
    The exit status: 0 written, 1 refused or failed (nothing written).

  Example:

  >>> import sys
  >>> from migration import tf1_checkpoint
  >>> prefix = tf1_checkpoint.LegacyState.example().write_example()
  >>> command(prefix, prefix, stderr=sys.stdout)
  gru-convert-checkpoint: error: --output '.../model.ckpt': writing it would
  replace or remove '.../model.ckpt.index', which is the input
  '.../model.ckpt.index'; a conversion never touches its input
  1
  """
  stdout = stdout or sys.stdout
  stderr = stderr or sys.stderr

  def note(line):
    print(f"{COMMAND}: note: {line}", file=stderr)

  def error(message):
    print(f"{COMMAND}: error: {_for_command_line(message)}", file=stderr)
    return 1

  previous = signal.getsignal(signal.SIGTERM)
  try:
    # SIGTERM unwinds like Ctrl-C, so staged files are removed.
    signal.signal(signal.SIGTERM, _raise_interrupt)
  except ValueError:  # Not the main thread: leave the handler alone.
    previous = None
  try:
    report = convert_path(input_path, output_path, target=target,
                          family=family, verify=verify, overwrite=overwrite,
                          log=note, **options)
  except ERRORS as e:
    return error(" ".join(str(e).split()))
  except KeyboardInterrupt:
    # Signals are held while an output is published, so it is there whole
    # or not at all.
    return error(f"interrupted; {output_path!r} is as it was, or whole if "
                 "the interruption came as it was published")
  except Exception as e:  # pylint: disable=broad-except
    return error(f"{input_path!r}: unexpected {type(e).__name__}: "
                 f"{_first_sentence(e)}")
  finally:
    if previous is not None:
      signal.signal(signal.SIGTERM, previous)
  print(report.summary if report.published else
        report.summary.replace("Wrote", "Did not write", 1), file=stdout)
  if report.checks is not None:
    for line in format_checks(report.checks):
      print(line, file=stdout)
  if not report.published:
    return error(f"verification failed: a difference exceeds its bound; "
                 f"nothing was written to {output_path!r}")
  return 0


def _raise_interrupt(signum, frame):
  del signum, frame
  raise KeyboardInterrupt


def format_checks(checks):
  """The verification table: one line per output."""
  return tables.format_table(
      [("output", "<", 8), ("max abs diff", ">", 14), ("max ulp", ">", 9),
       ("bitwise", ">", 8), ("bound", ">", 9), ("result", "<", 0)],
      [[c.name, f"{c.comparison.max_abs:.3e}", c.comparison.max_ulp,
        "yes" if c.comparison.bitwise else "no",
        f"{c.bound * c.comparison.scale:.1e}", "ok" if c.ok else "FAIL"]
       for c in checks])


INSPECT_COMMAND = "gru-inspect-checkpoint"


def inspect_command(input_path, as_json=False, stdout=None, stderr=None):
  """gru-inspect-checkpoint: what a TF1 checkpoint holds, as text or JSON.

  Reads the checkpoint's index only (`tf1_checkpoint.inspect`).

  Returns:
    The exit status: 0 inspected (whatever it holds), 1 no readable TF1
    checkpoint there (one line on `stderr`).

  Example:

  >>> from migration import tf1_checkpoint
  >>> prefix = tf1_checkpoint.LegacyState.example().write_example()
  >>> inspect_command(prefix)
  9 variables; 1 GRU(s)
  GRU at scope '': Data Blogger GRU
    4 units, 2 inputs, float64, forward
    head: none
    optimizer: none (or a slot-free one: GradientDescent,
  ProximalGradientDescent)
  bookkeeping: none
  other variables: 0
  0
  """
  stdout = stdout or sys.stdout
  stderr = stderr or sys.stderr
  try:
    found = tf1_checkpoint.inspect(input_path)
  except ERRORS as e:
    print(f"{INSPECT_COMMAND}: error: "
          f"{_for_command_line(' '.join(str(e).split()))}", file=stderr)
    return 1
  if as_json:
    print(json.dumps(found.to_json(), indent=2, sort_keys=True), file=stdout)
  else:
    for line in found.lines():
      print(line, file=stdout)
  return 0
