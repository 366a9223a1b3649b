"""File conversions: read the input, then one stage -> verify -> publish path
for every output type.

    input                 output          exporter
    TF1 checkpoint        FILE.keras      .keras file: the model (and Adam)
    TF1 checkpoint        PREFIX          TF2 checkpoint: tf.train.Checkpoint
                                          (model=, optimizer=)
    .keras file           PREFIX          TF1 checkpoint: what the TF1 graph
                                          restores with a plain Saver
    either                FILE.onnx       ONNX model: the stock Keras
                                          model's weights in ONNX operators

`convert_path` reads the input into a `Source` (the state, the Keras model,
and the TF1 checkpoint `--verify` compares with), stages the exporter's
output under a temporary name (`publish.Output`), verifies the staged output
loaded back when asked, and publishes it only then: a failed conversion
leaves the output path as it was, and the input is never touched.
"""

import dataclasses
import os
import re
import zipfile

import keras
import tensorflow as tf

from gru_common import tolerances
from migration import convert
from migration import errors
from migration import mapping
from migration import models
from migration import model_names
from migration import onnx_export
from migration import publish
from migration import tf1_checkpoint
from migration import verification
from migration.kinds import seeds

Argument = errors.Argument


@dataclasses.dataclass
class Source:
  """A conversion's input, read.

  Attributes:
    path: as given.
    reads: the files read (never to be replaced).
    state: the TF1 state.
    model: the Keras model (converted from a TF1 input, or loaded).
    optimizer: its optimizer, for a TF1 input with Adam state.
    target: "tf2" or "keras", the model's layers.
    prefix: the TF1 checkpoint (a TF1 input), the reference `--verify`
      restores; None for a .keras input (the state's values are).
    selection: what a TF1 input's conversion read and left out.
    meta: the program's `.meta`, when not beside the checkpoint.
  """
  path: str
  reads: list
  state: tf1_checkpoint.LegacyState
  model: object
  optimizer: object = None
  target: str = mapping.TF2
  prefix: str = None
  selection: object = None
  meta: str = None


@dataclasses.dataclass(frozen=True)
class Exporter:
  """One output type.

  Attributes:
    what: how the summary names it, a template of `path` and `target`.
    is_checkpoint: a checkpoint prefix (index and shards), not one file.
    write: write(source, path) writes the output at the staged path.
    verify: verify(source, path) -> ([compare.Check], what they compared
      with) of the staged output.
    note: note(source, target) -> a summary suffix (what was not written).
  """
  what: str
  is_checkpoint: bool
  write: object
  verify: object
  note: object = None


@dataclasses.dataclass
class Conversion:
  """What `convert_path` did.

  `published` is False when verification failed: nothing was written.
  """
  summary: str
  state: tf1_checkpoint.LegacyState
  model: object = None    # the Keras model written or read
  checks: list = None     # compare.Checks, when verified
  published: bool = False

  @property
  def ok(self):
    return self.checks is None or all(c.passed for c in self.checks)


def load_keras_file(path, argument="input_path"):
  """A .keras file of this project's (or stock Keras) layers, safe mode.

  Raises:
    errors.MissingInputError: no such file.
    CheckpointError: anything else that stops Keras loading it (not a zip,
      a damaged member, a class that is not a registered layer, a config
      that does not build), in one line naming the file.
  """
  if not os.path.isfile(path):
    raise errors.MissingInputError(Argument(argument),
                                   f": no such file: {path!r}")
  __import__("tf2")   # registers this project's layers
  try:
    return keras.saving.load_model(path, safe_mode=True)
  except Exception as e:  # pylint: disable=broad-except
    # Keras lets through whatever its deserialization meets (TypeError for
    # unknown classes, zipfile's errors, KeyError, ...): all say the same.
    raise tf1_checkpoint.CheckpointError(
        f"cannot load .keras file {path!r}: {first_sentence(e)}") from e


def first_sentence(error):
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


def read_tf2_checkpoint(prefix, state, target=mapping.TF2):
  """The model of a TF2 checkpoint `tf1_to_tf2_checkpoint` wrote for
  `state`, every model variable restored (optimizer state is not read)."""
  model = models.build(state.description, target,
                       model_names.Layout.of(state))
  checkpoint = tf.train.Checkpoint(model=model)
  checkpoint.read(prefix).expect_partial().assert_existing_objects_matched()
  return model


def describe(state, selection=None):
  """The summary's account of a state: the model, its scope, its optimizer
  state, and (read from a checkpoint) what was not converted."""
  optimizer = "with TF1 Adam state" if state.adam is not None else (
      "without optimizer state")
  if state.global_step is not None:
    optimizer += f" (global_step {state.global_step.value})"
  scope = state.description.components[0].scope
  text = f"{state.description.describe()}, scope {scope!r}, {optimizer}"
  if selection is not None:
    if selection.averaged:
      text += "; the weights are the EMA averages (the shadows)"
    for what, found in (("dropped optimizer state", selection.dropped),
                        ("left behind", selection.left_behind),
                        ("not read (the same weights in cuDNN's opaque "
                         "layout)", selection.not_read),
                        ("read under TF 1.2's names (written before TF "
                         "1.2; a TF1 checkpoint written back has TF 1.2's)",
                         selection.renamed)):
      if found:
        text += f"\n  {what} ({len(found)}): {', '.join(found)}"
  return text


def _write(save, output_path):
  """Runs a writer; a file-system refusal becomes an error naming the
  output (TensorFlow reports those as OpErrors, Keras as OSErrors)."""
  try:
    save()
  except (OSError, tf.errors.OpError) as e:
    detail = getattr(e, "message", None) or e.strerror or str(e)
    raise publish.PathError("output_path", output_path,
                            f"cannot be written ({detail.strip()})") from e


def _reads(source):
  return source.selection.reads if source.selection is not None else None


def _program(source):
  """The program's own graph as `--verify`'s reference, when the input is
  a TF1 checkpoint (`verification.ProgramReference`), else None."""
  if source.prefix is None:
    return None
  return verification.ProgramReference(source.state, source.prefix,
                                       _reads(source), source.meta)


def _verify_model(source, model):
  """(checks, reference) of a written Keras model of a TF1 input."""
  program = _program(source)
  if program is not None and not program.why_not:
    description = source.state.description
    return verification.check_against_program(
        program, lambda x: verification.model_outputs(model, description, x),
        lambda name: verification.program_bound(program, name, source.target)
    ), program.text
  checks = verification.verify_outputs(
      source.state, model, source.target, prefix=source.prefix,
      reads=_reads(source))
  return checks, verification.own_reference_text(
      source.state.description, "the checkpoint's values") + (
          f"; not the program's graph: {program.why_not}" if program else "")


# The exporters.


def _write_keras(source, path):
  source.model.save(path)


def _verify_keras(source, path):
  return _verify_model(source, load_keras_file(path))


def _write_tf2(source, path):
  objects = {"model": source.model}
  if source.optimizer is not None:
    objects["optimizer"] = source.optimizer
  tf.train.Checkpoint(**objects).write(path)


def _verify_tf2(source, path):
  return _verify_model(
      source, read_tf2_checkpoint(path, source.state, source.target))


def _write_tf1(source, path):
  tf1_checkpoint.save(source.state, path)


def _verify_tf1(source, path):
  # The written checkpoint, restored into the TF1 side, against the model.
  return (verification.verify_outputs(source.state, source.model,
                                      source.target, prefix=path),
          verification.own_reference_text(source.state.description,
                                          "the written checkpoint"))


def _onnx_bytes(source):
  # The stock Keras model; for LSTMs with peepholes, which stock Keras
  # lacks, the TF2 layers (their weights and forget bias as they are).
  description = source.state.description
  stock, _ = convert.to_keras(source.state, mapping.KERAS if models.has_target(
      description, mapping.KERAS) else mapping.TF2)
  return onnx_export.from_keras_model(
      stock, source.state.description,
      doc=f"{source.state.description.describe()}, from {source.path}"
  ).SerializeToString()


def _write_onnx(source, path):
  with open(path, "wb") as f:
    f.write(_onnx_bytes(source))


def _verify_onnx(source, path):
  with open(path, "rb") as f:
    data = f.read()
  program = _program(source)
  if program is not None and not program.why_not:
    return verification.check_against_program(
        program, lambda x: onnx_export.run(data, x),
        lambda name: tolerances.ONNX_RUNTIME), program.text
  checks = verification.verify_onnx(source.state, data, prefix=source.prefix,
                                    reads=_reads(source))
  return checks, verification.own_reference_text(
      source.state.description, "the checkpoint's values" if source.prefix
      else "the .keras file's values") + (
          f"; not the program's graph: {program.why_not}" if program else "")


def _onnx_note(source):
  if source.state.adam is None:
    return ""
  return ("\n  not exported: the optimizer state (an ONNX graph is the "
          "forward pass)")


KERAS_FILE = Exporter("{path} ({target} layers)", False, _write_keras,
                      _verify_keras)
TF2_CHECKPOINT = Exporter("TF2 checkpoint {path} ({target} layers)", True,
                          _write_tf2, _verify_tf2)
TF1_CHECKPOINT = Exporter("TF1 checkpoint {path}", True, _write_tf1,
                          _verify_tf1)
ONNX = Exporter(f"ONNX model {{path}} (opset {onnx_export.OPSET})", False,
                _write_onnx, _verify_onnx, _onnx_note)


def _check_choice(argument, value, choices):
  if value not in choices:
    raise errors.ConversionError(f"{argument} must be one of {choices}, got "
                                 f"{value!r}")


def _check_keras_input_options(options):
  unknown = sorted(set(options) - {"scope"})
  if unknown:
    raise errors.ConversionError(
        *[part for i, name in enumerate(unknown)
          for part in ((", " if i else ""), Argument(name))],
        ": only for a TF1 checkpoint input; a .keras input holds one model "
        "and no TF1 optimizer or EMA state")


def _exporter(input_path, output_path, to_keras_file):
  """The exporter the paths ask for (see the module docstring)."""
  from_keras_file = input_path.endswith(publish.KERAS_SUFFIX)
  if output_path.endswith(onnx_export.SUFFIX):
    if to_keras_file:
      raise publish.PathError("output_path", output_path,
                              "must end in .keras")
    return ONNX
  if to_keras_file is None:
    to_keras_file = output_path.endswith(publish.KERAS_SUFFIX)
  elif to_keras_file and not output_path.endswith(publish.KERAS_SUFFIX):
    raise publish.PathError("output_path", output_path, "must end in .keras")
  if from_keras_file:
    if to_keras_file:
      raise publish.PathError("output_path", output_path, (
          "a .keras input converts to a TF1 checkpoint; give a checkpoint "
          "prefix, not a .keras file"))
    return TF1_CHECKPOINT
  return KERAS_FILE if to_keras_file else TF2_CHECKPOINT


def _read_keras_input(input_path, family, scope):
  model = load_keras_file(input_path)
  state, target = convert.read_keras(model, None, family, scope)
  return Source(input_path, [input_path], state, model, target=target)


def _read_tf1_input(input_path, resolved, target, exporter, options):
  prefix, reads = resolved
  state, selection = tf1_checkpoint.read_selection(prefix, **options)
  model = optimizer = None
  if exporter is not ONNX:
    model, optimizer = convert.to_keras(state, target)
  return Source(input_path, reads, state, model, optimizer, target, prefix,
                selection, options.get("meta"))


def convert_path(input_path, output_path, target=mapping.TF2, family=None,
                 verify=False, overwrite=False, log=None,
                 to_keras_file=None, **options):
  """One conversion, its direction from the paths (see the CLI's help).

  The output is written under a temporary name and published only when
  complete and, with `verify`, only when the written output, loaded back,
  matches the TF1 side on a probe batch (`verification`).

  Args:
    input_path: a TF1 checkpoint prefix or folder, or a .keras file.
    output_path: a .keras file, a checkpoint prefix, or an .onnx file.
    target: "tf2" or "keras", the layers of a TF1 checkpoint's conversion.
    family: "scan" or "loop", for a stock-Keras .keras file that does not
      record which seed GRU it holds.
    verify: check the written output before publishing it.
    overwrite: replace an existing output.
    log: called with one line per housekeeping action (`publish.Output`).
    to_keras_file: for a TF1 input, write a .keras file (True) or a TF2
      checkpoint (False); by default, a .keras file when `output_path` ends
      in .keras.
    **options: for a TF1 input, which RNN and what may be left out:
      `selection.select`'s scope, layer, use_ema, drop_optimizer_state and
      allow_unconverted. For a .keras input, `scope` places the model's
      variables under that scope instead of the one its name records.

  Returns:
    A `Conversion`; `published` is False if verification failed.

  Example:

  >>> from migration import tf1_checkpoint
  >>> prefix = tf1_checkpoint.LegacyState.example().write_example()
  >>> report = convert_path(prefix, prefix + ".keras", target="keras",
  ...                       verify=True)
  >>> report.published, [c.passed for c in report.checks]
  (True, [True])
  >>> convert_path(prefix, prefix + ".keras")
  Traceback (most recent call last):
  ...
  migration.errors.OutputExistsError: output_path '.../model.ckpt.keras':
  '.../model.ckpt.keras' exists; pass overwrite=True to replace it
  """
  _check_choice("target", target, mapping.TARGETS)
  # Unset options: None or False (not 0.0, a forget bias).
  options = {k: v for k, v in options.items()
             if v is not None and v is not False}
  if options.get("outputs"):
    return _whole_program(input_path, output_path, target, verify,
                          overwrite, log, options)
  for name in ("feed", "probe"):
    if name in options:
      raise errors.ConversionError(Argument(name), " fixes a placeholder or "
                                   "a probe of a whole program: it needs ",
                                   Argument("outputs", ...))
  if family is not None:
    _check_choice("family", family, seeds.FAMILIES)
  input_path = os.fspath(input_path)
  output_path = os.fspath(output_path)
  exporter = _exporter(input_path, output_path, to_keras_file)
  from_keras_file = input_path.endswith(publish.KERAS_SUFFIX)
  if from_keras_file:
    _check_keras_input_options(options)
    if not os.path.isfile(input_path):
      raise errors.MissingInputError(Argument("input_path"),
                                     f": no such file: {input_path!r}")
  if exporter is ONNX:
    source = (_read_keras_input(input_path, family, options.get("scope"))
              if from_keras_file else
              _read_tf1_input(input_path, tf1_checkpoint.resolve(input_path),
                              target, exporter, options))
    onnx_export.check_exportable(source.state.description)
    output = publish.Output(output_path, is_checkpoint=False,
                            overwrite=overwrite, inputs=source.reads, log=log)
  elif from_keras_file:
    output = publish.Output(output_path, is_checkpoint=True,
                            overwrite=overwrite, inputs=[input_path], log=log)
    source = _read_keras_input(input_path, family, options.get("scope"))
  else:
    resolved = tf1_checkpoint.resolve(input_path)
    output = publish.Output(output_path, is_checkpoint=exporter.is_checkpoint,
                            overwrite=overwrite, inputs=resolved[1], log=log)
    source = _read_tf1_input(input_path, resolved, target, exporter, options)
  return _export(source, exporter, output, output_path, verify)


# The options of a whole program's conversion (`whole_program`).
PROGRAM_OPTIONS = ("outputs", "feed", "meta", "probe")


def _whole_program(input_path, output_path, target, verify, overwrite, log,
                   options):
  from migration import whole_program  # pylint: disable=g-import-not-at-top
  other = sorted(set(options) - set(PROGRAM_OPTIONS))
  if other:
    raise errors.ConversionError(
        Argument("outputs", ...), " converts the whole program, its layers "
        "found in its graph; it takes no ", Argument(other[0], ...))
  if os.fspath(input_path).endswith(publish.KERAS_SUFFIX):
    if options.get("probe"):
      raise errors.ConversionError(Argument("probe", ...), " is for a "
                                   "TF1 program's conversion to Keras")
    return whole_program.back_to_tf1(
        input_path, output_path, options["outputs"], feed=options.get("feed"),
        meta=options.get("meta"), verify=verify, overwrite=overwrite,
        log=log)
  return whole_program.convert(
      input_path, output_path, options["outputs"], feed=options.get("feed"),
      meta=options.get("meta"), target=target, verify=verify,
      probe=options.get("probe"), overwrite=overwrite, log=log)


def _export(source, exporter, output, output_path, verify):
  """Stage -> verify -> publish."""
  what = exporter.what.format(path=output_path, target=source.target)
  note = exporter.note(source) if exporter.note else ""
  report = Conversion(f"Wrote {what} from {source.path}: "
                      f"{describe(source.state, source.selection)}{note}",
                      source.state, source.model)
  with output.stage() as tmp:
    _write(lambda: exporter.write(source, tmp), output_path)
    if verify:
      report.checks, reference = exporter.verify(source, tmp)
      report.summary += f"\n  verified against {reference}"
    if report.ok:
      output.publish(tmp)
      report.published = True
  return report


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
  >>> publish.checkpoint_exists(prefix + "_tf2")
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
  >>> state.description.describe()
  'Data Blogger GRU: 4 units, 2 inputs, float64'
  """
  if not os.fspath(input_path).endswith(publish.KERAS_SUFFIX):
    raise publish.PathError("input_path", input_path, "must be a .keras file")
  report = convert_path(input_path, output_prefix, family=family,
                        overwrite=overwrite)
  return report.state, report.model
