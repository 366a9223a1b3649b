"""The product in one run: train legacy, convert, show the TF2 models agree.

1. The legacy addition job (TF1 graph mode) trains and writes its TF1
   checkpoint, Adam state included.
2. The checkpoint is converted twice: to this project's TF2 layers and to
   stock Keras layers (`.keras` files).
3. The legacy graph (restored from the checkpoint), the TF2 model and the
   stock Keras model answer the test set and the 1024 + 16 query; a table
   shows, per output, the max abs difference from the legacy graph, whether
   it is bitwise equal and the decoded answers; a PNG overlays the outputs.
"""

import dataclasses
import os

import numpy as np

from gru_common import addition_data
from gru_common import compare
from gru_common import job_configs
from gru_common import keras_precision
from gru_common import plotting
from gru_common import tables
from legacy import addition_job
from migration import exporters
from migration import legacy_graph
from migration import mapping
from migration import tf1_checkpoint

PLOT_NAME = "agreement.png"


@dataclasses.dataclass
class Agreement:
  """One model's answers, compared with the legacy graph's."""
  model: str
  data: str
  result: compare.Comparison
  answer: str


@dataclasses.dataclass
class Result:
  legacy: job_configs.AdditionResult
  rows: list
  files: dict
  predictions: dict


def _bits_correct(outputs, y):
  return float(np.mean((outputs > 0.5) == (y > 0.5)))


def check(result, tolerance):
  """Failures of the demo's promise, as sentences (empty: all kept)."""
  failures = []
  for row in result.rows:
    if row.model.startswith("TF2") and not row.result.bitwise:
      failures.append(f"TF2 model is not bitwise equal on the {row.data}")
    if row.model.startswith("stock") and not row.result.within(
        tolerance):
      failures.append(f"stock Keras model differs by "
                      f"{row.result.max_abs:.3e} > {tolerance:.0e} on "
                      f"the {row.data}")
  if len(set(result.predictions.values())) != 1:
    failures.append(f"the models answer differently: {result.predictions}")
  return failures


def run(output_dir, config=job_configs.AdditionConfig(), log=print):
  """Runs the demo; writes everything under `output_dir`."""
  os.makedirs(output_dir, exist_ok=True)
  log(f"== 1. Legacy job (TF1 graph mode): {config.epochs} epochs")
  legacy = addition_job.train(config, output_dir=os.path.join(
      output_dir, "legacy"), log=log)
  log(f"legacy answer to {config.query_a} + {config.query_b}: "
      f"{legacy.prediction}")

  log("== 2. Convert the TF1 checkpoint")
  prefix = legacy.checkpoint_prefix
  models = {}
  paths = {"legacy checkpoint": prefix}
  for target, label in ((mapping.TF2, "TF2 (this project)"),
                        (mapping.KERAS, "stock Keras")):
    path = os.path.join(output_dir, f"addition_{target}.keras")
    state, _ = exporters.tf1_to_keras_file(prefix, path, target,
                                         overwrite=True)
    models[label] = exporters.load_keras_file(path)
    paths[label] = path
    log(f"{prefix} -> {path}: {exporters.describe(state)}")

  log("== 3. Agreement with the legacy graph")
  _, _, x_test, y_test = addition_data.make_datasets(
      config.seed, config.num_bits, config.batch_size)
  query = addition_data.encode_query(config.query_a, config.query_b,
                                     config.query_bits)
  state = tf1_checkpoint.read(prefix)
  graph = legacy_graph.build(state.description)
  reference = {name: legacy_graph.run(graph, x, prefix=prefix)["head"]
               for name, x in (("test set", x_test), ("query", query))}
  rows, outputs = [], {"legacy (TF1 graph)": reference}
  predictions = {"legacy (TF1 graph)": addition_data.decode_prediction(
      reference["query"])}
  for label, model in models.items():
    # Model.predict, as users call it. Stock Keras casts float64 arrays to
    # floatx in predict, so floatx is set to float64 first, as the README
    # says (this project's models, tf2.ExactModel, do that themselves).
    with keras_precision.floatx(state.description.dtype):
      outputs[label] = {name: model.predict(x, verbose=0)
                        for name, x in (("test set", x_test),
                                        ("query", query))}
    predictions[label] = addition_data.decode_prediction(
        outputs[label]["query"])
  for label, out in outputs.items():
    rows.append(Agreement(label, "test set",
                    compare.compare(out["test set"], reference["test set"]),
                    f"{_bits_correct(out['test set'], y_test):.1%} bits "
                    "right"))
    rows.append(Agreement(label, "query",
                    compare.compare(out["query"], reference["query"]),
                    f"{config.query_a} + {config.query_b} = "
                    f"{predictions[label]}"))
  for line in format_table(rows):
    log(line)
  plot = plot_agreement(os.path.join(output_dir, PLOT_NAME), outputs,
                        config)
  paths["plot"] = plot
  log(f"wrote {plot}")
  return Result(legacy, rows, paths, predictions)


def format_table(rows):
  return tables.format_table(
      [("model", "<", 20), ("data", "<", 9), ("max abs diff", ">", 13),
       ("bitwise", ">", 8), ("answer", "<", 0)],
      [[r.model, r.data, f"{r.result.max_abs:.3e}",
        "yes" if r.result.bitwise else "no", r.answer] for r in rows],
      rule=True)


def plot_agreement(path, outputs, config):
  """Query outputs per bit, and each model's |difference| from legacy."""
  legacy = outputs["legacy (TF1 graph)"]["query"][0, :, 0]
  bits = np.arange(len(legacy))
  fig, (top, bottom) = plotting.subplots(2, 1, figsize=(9, 7), sharex=True)
  top.plot(bits, legacy, "-k", lw=3, alpha=0.35, label="legacy (TF1 graph)")
  styles = {"TF2 (this project)": "ob", "stock Keras": "xr"}
  floor = 1e-18
  for label, style in styles.items():
    out = outputs[label]["query"][0, :, 0]
    top.plot(bits, out, style, label=label)
    diff = np.abs(out - legacy)
    exact = bool(np.all(diff == 0))
    bottom.semilogy(bits, np.maximum(diff, floor), style + "-",
                    label=label + (": bitwise equal" if exact else ""))
  top.axhline(0.5, color="gray", ls=":", lw=1)
  top.set_ylabel("output per bit")
  top.set_title(f"{config.query_a} + {config.query_b} on "
                f"{config.query_bits} bits (bit 0 = least significant)")
  top.legend()
  bottom.set_ylabel("|output - legacy|\n(exact 0 drawn at 1e-18)")
  bottom.set_xlabel("bit")
  bottom.set_xticks(bits)
  bottom.set_ylim(floor / 10, 1e-10)
  bottom.legend()
  bottom.grid(True, alpha=0.3)
  return plotting.save_figure(fig, path)
