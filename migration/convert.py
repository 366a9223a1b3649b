"""Conversions between legacy (TF1) and TF2 models, both ways, and checks.

    to_keras(state, target)          LegacyState -> (Keras model, optimizer)
    from_keras(model, optimizer)     Keras model -> LegacyState
    tf1_to_keras_file(...)           TF1 checkpoint -> .keras file
    tf1_to_tf2_checkpoint(...)       TF1 checkpoint -> TF2 checkpoint
    keras_file_to_tf1(...)           .keras file -> TF1 checkpoint
    verify_outputs(state, model)     both on a probe batch, per output
    convert_path(input, output)      the CLI's conversion, by file type

Weights and Adam slots move through `mapping.placements`, so every legacy
variable lands in exactly one place and every TF2 weight element comes from
exactly one legacy variable. Outputs are written atomically (`files`).
"""

import dataclasses
import os

import keras
import numpy as np
import tensorflow as tf

from migration import compare
from migration import files
from migration import legacy_graph
from migration import mapping
from migration import models
from migration import optimizer_state
from migration import spec as spec_lib
from migration import tf1_checkpoint
from migration import tolerances

# What a conversion raises for bad input (all subclasses of these).
ERRORS = (FileNotFoundError, FileExistsError, ValueError)


def to_keras(state, target=mapping.TF2):
  """A Keras model (and, with Adam state, its optimizer) equal to `state`.

  The model is compiled with the optimizer when there is one, so
  `model.save` keeps the optimizer state in the .keras file.
  """
  model = models.build(state.spec, target)
  places = mapping.placements(state.spec, model, target)
  mapping.to_model(state.values, places)
  optimizer = None
  if state.adam is not None:
    optimizer = optimizer_state.to_optimizer(state.adam, places, model,
                                             target)
    model.compile(optimizer=optimizer)
  return model, optimizer


def from_keras(model, optimizer=None, family=None):
  """The `LegacyState` of a Keras model (and optimizer) built like `models`."""
  spec, target = models.spec_from_model(model, family)
  places = mapping.placements(spec, model, target)
  values = mapping.from_model(places)
  tf1_checkpoint.check_finite(values)
  if optimizer is None and getattr(model, "optimizer", None) is not None:
    if model.optimizer.built:
      optimizer = model.optimizer
  adam = (optimizer_state.from_optimizer(optimizer, places)
          if optimizer is not None else None)
  return tf1_checkpoint.LegacyState(spec, values, adam)


def tf1_to_keras_file(input_prefix, output_path, target=mapping.TF2,
                      overwrite=False):
  """TF1 checkpoint -> .keras file (model, and optimizer if saved)."""
  if not output_path.endswith(files.KERAS_SUFFIX):
    raise ValueError(f"--output {output_path!r} must end in .keras")
  files.check_output(output_path, overwrite, is_checkpoint=False,
                     inputs=files.checkpoint_files(input_prefix))
  state = tf1_checkpoint.read(input_prefix)
  model, _ = to_keras(state, target)
  with files.atomic_file(output_path) as tmp:
    model.save(tmp)
  return state, model


def tf1_to_tf2_checkpoint(input_prefix, output_prefix, target=mapping.TF2,
                          overwrite=False):
  """TF1 checkpoint -> TF2 object-based checkpoint (model=, optimizer=)."""
  files.check_output(output_prefix, overwrite, is_checkpoint=True,
                     inputs=[input_prefix])
  state = tf1_checkpoint.read(input_prefix)
  model, optimizer = to_keras(state, target)
  objects = {"model": model}
  if optimizer is not None:
    objects["optimizer"] = optimizer
  with files.atomic_checkpoint(output_prefix) as tmp:
    tf.train.Checkpoint(**objects).write(tmp)
  return state, model


def keras_file_to_tf1(input_path, output_prefix, overwrite=False,
                      family=None):
  """.keras file -> TF1 checkpoint the legacy graph restores."""
  if not input_path.endswith(files.KERAS_SUFFIX):
    raise ValueError(f"--input {input_path!r} must be a .keras file")
  files.check_output(output_prefix, overwrite, is_checkpoint=True,
                     inputs=[input_path])
  model = load_keras_file(input_path)
  state = from_keras(model, family=family)
  tf1_checkpoint.write(state, output_prefix, overwrite=overwrite,
                       inputs=[input_path])
  return state, model


def load_keras_file(path):
  """A .keras file of this project's (or stock Keras) layers, safe mode."""
  if not os.path.isfile(path):
    raise FileNotFoundError(f"--input: no such file: {path!r}")
  try:
    return keras.saving.load_model(path, safe_mode=True)
  except (OSError, ValueError, KeyError) as e:
    raise tf1_checkpoint.CheckpointError(
        f"cannot load .keras file {path!r}: {e}") from e


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
  """{"gru": sequence output, "head": model output (if any)} of a model."""
  gru = models.gru_layer(model, spec)
  fetch = keras.Model(model.input, [gru.output, model.output])
  gru_out, head_out = (np.asarray(t) for t in fetch(x))
  out = {"gru": gru_out}
  if spec.head:
    out["head"] = head_out
  return out


def verify_outputs(state, model, target, x=None, prefix=None):
  """Compares the legacy graph (restored from `prefix`, or holding
  `state.values`) with `model` on a probe batch.

  Returns:
    A list of `OutputCheck`, one per output ("gru", and "head" if any).
  """
  x = probe_inputs(state.spec) if x is None else x
  legacy = legacy_graph.build(state.spec)
  legacy_out = legacy_graph.run(legacy, x, prefix=prefix,
                                values=None if prefix else state.values)
  converted = model_outputs(model, state.spec, x)
  bound_kind = (tolerances.BITWISE if target == mapping.TF2 else
                tolerances.STOCK_KERAS)
  bound = bound_kind.for_dtype(state.spec.dtype)
  return [OutputCheck(name, compare.compare(converted[name],
                                            legacy_out[name]), bound)
          for name in legacy_out]


def describe_spec(state):
  optimizer = "with TF1 Adam state" if state.adam is not None else (
      "without optimizer state")
  return f"{state.spec.describe()}, {optimizer}"



def read_tf2_checkpoint(prefix, spec, target=mapping.TF2):
  """The model (and optimizer) of a TF2 checkpoint `tf1_to_tf2_checkpoint`
  wrote for `spec`, with every saved value consumed."""
  model = models.build(spec, target)
  checkpoint = tf.train.Checkpoint(model=model)
  checkpoint.read(prefix).expect_partial().assert_existing_objects_matched()
  return model


@dataclasses.dataclass
class Report:
  """What `convert_path` did."""
  summary: str
  state: tf1_checkpoint.LegacyState
  checks: list = None     # OutputChecks, when verified

  @property
  def ok(self):
    return self.checks is None or all(c.ok for c in self.checks)


def convert_path(input_path, output_path, target=mapping.TF2, family=None,
                 verify=False, overwrite=False):
  """One conversion, its direction from the paths (see the CLI's help).

  With `verify`, the written output is loaded back and compared with the
  legacy graph (restored from the TF1 side) on a probe batch.
  """
  if target not in mapping.TARGETS:
    raise ValueError(f"--target must be one of {mapping.TARGETS}, got "
                     f"{target!r}")
  if family is not None and family not in spec_lib.FAMILIES:
    raise ValueError(f"--family must be one of {spec_lib.FAMILIES}, got "
                     f"{family!r}")
  checks = None
  if input_path.endswith(files.KERAS_SUFFIX):
    state, model = keras_file_to_tf1(input_path, output_path,
                                     overwrite=overwrite, family=family)
    _, target = models.spec_from_model(model, family)
    summary = (f"Wrote TF1 checkpoint {output_path} from {input_path}: "
               f"{describe_spec(state)}")
    if verify:
      checks = verify_outputs(state, model, target, prefix=output_path)
  elif output_path.endswith(files.KERAS_SUFFIX):
    state, _ = tf1_to_keras_file(input_path, output_path, target,
                                 overwrite=overwrite)
    summary = (f"Wrote {output_path} ({target} layers) from {input_path}: "
               f"{describe_spec(state)}")
    if verify:
      checks = verify_outputs(state, load_keras_file(output_path), target,
                              prefix=input_path)
  else:
    state, _ = tf1_to_tf2_checkpoint(input_path, output_path, target,
                                     overwrite=overwrite)
    summary = (f"Wrote TF2 checkpoint {output_path} ({target} layers) from "
               f"{input_path}: {describe_spec(state)}")
    if verify:
      checks = verify_outputs(
          state, read_tf2_checkpoint(output_path, state.spec, target),
          target, prefix=input_path)
  return Report(summary, state, checks)


def format_checks(checks):
  lines = [f"{'output':8} {'max abs diff':>14} {'max ulp':>9} "
           f"{'bitwise':>8} {'bound':>9}  result"]
  for c in checks:
    lines.append(f"{c.name:8} {c.comparison.max_abs:14.3e} "
                 f"{c.comparison.max_ulp:>9} "
                 f"{'yes' if c.comparison.bitwise else 'no':>8} "
                 f"{c.bound * c.comparison.scale:9.1e}  "
                 f"{'ok' if c.ok else 'FAIL'}")
  return lines
