"""Scale-out: the TF2 classifier's distributed training step, measured.

Each configuration runs in a process of its own (a process's CPU replicas
are fixed when TensorFlow starts; workers are processes):

    replicas_1   MirroredStrategy over 1 device
    replicas_2   MirroredStrategy over 2 logical CPU devices (or GPUs)
    replicas_4   ... over 4
    workers_2    MultiWorkerMirroredStrategy, 2 local worker processes

On the scale workload's shapes (`implementations.WORKLOADS["scale_train"]`:
global batch 256, 100 time steps of 64 features, hidden 256; 10 classes),
with the job's own step (`tf2.classifier_job.make_train_step`: split the
global batch, average the loss over it, all-reduce the gradients, TF1Adam).
Per configuration: the median step time, sequences per second (the global
batch over it), and the all-reduce alone: one SUM all-reduce of tensors the
size of the trainable variables, timed apart from the step.

`project` turns the one-replica step time and the gradient size into a
paper estimate for N machines (ring all-reduce: each machine sends and
receives 2 (N-1)/N times the gradient bytes per step).

`agreement` runs the classifier job (20 epochs of digits, custom loop) on
one device and on 2 and 4 replicas and records how far the replicated runs'
weights and epoch losses are from the one-device run's.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from gru_common import cluster

CONFIGURATIONS = ("replicas_1", "replicas_2", "replicas_4", "workers_2")
NUM_CLASSES = 10
# Link speeds (Gbit/s) the projection is made for.
LINKS_GBIT = (10, 100)
MACHINES = (1, 2, 4, 8, 16, 64)
AGREEMENT_RUNS = {"mirrored_2": ("--strategy=mirrored", "--replicas=2"),
                  "mirrored_4": ("--strategy=mirrored", "--replicas=4"),
                  "workers_2": ("--strategy=multi_worker", "--workers=2")}


def _shapes(small):
  from proof.benchmarks import implementations as impl  # pylint: disable=g-import-not-at-top
  workload = impl.WORKLOADS["scale_train"]
  if small:
    workload = impl.quick(workload)
  return workload


def _child(configuration, steps, small):
  """In a fresh process: time `steps` steps; returns the figures."""
  from gru_common import tensorflow_startup  # pylint: disable=g-import-not-at-top
  tensorflow_startup.import_tensorflow_quietly()
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tf2 import classifier_job  # pylint: disable=g-import-not-at-top
  from tf2 import distribute  # pylint: disable=g-import-not-at-top
  placement, count = configuration.rsplit("_", 1)
  count = int(count)
  if placement == "replicas":
    distribute.configure_replicas(count)
    strategy = distribute.make_strategy("mirrored", count)
  else:
    strategy = distribute.make_strategy("multi_worker")
  workload = _shapes(small)
  config = classifier_job.Config(hidden_dim=workload.units,
                                 batch_size=workload.batch)
  rng = np.random.RandomState(0)
  x = rng.uniform(-1, 1, (workload.batch, workload.time, workload.input_dim)
                  ).astype(np.float32)
  y = rng.randint(0, NUM_CLASSES, workload.batch).astype(np.int64)
  with strategy.scope():
    model = classifier_job.build_model(config, workload.time,
                                       workload.input_dim, NUM_CLASSES)
    model.optimizer.build(model.trainable_variables)
  warmup = 2
  spec = (tf.TensorSpec((None,) + x.shape[1:], tf.float32),
          tf.TensorSpec([None], tf.int64))
  iterator = iter(distribute.distribute_batches(
      strategy, lambda: ((x, y) for _ in range(warmup + steps)), spec))
  step = classifier_job.make_train_step(model, strategy)
  times = []
  for i in range(warmup + steps):
    start = time.perf_counter()
    [float(v) for v in step(iterator)]  # pylint: disable=expression-not-assigned
    if i >= warmup:
      times.append(time.perf_counter() - start)

  grads = [tf.zeros_like(v) for v in model.trainable_variables]

  @tf.function
  def all_reduce():
    def replica():
      context = tf.distribute.get_replica_context()
      return context.all_reduce(tf.distribute.ReduceOp.SUM, grads)
    return strategy.run(replica)

  reduce_times = []
  for i in range(warmup + steps):
    start = time.perf_counter()
    tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else
                          strategy.experimental_local_results(t)[0].numpy(),
                          all_reduce())
    if i >= warmup:
      reduce_times.append(time.perf_counter() - start)
  parameters = int(sum(np.prod(v.shape) for v in model.trainable_variables))
  step_s = statistics.median(times)
  return {"configuration": configuration,
          "replicas": strategy.num_replicas_in_sync,
          "step_ms": 1e3 * step_s,
          "sequences_per_s": workload.batch / step_s,
          "all_reduce_ms": 1e3 * statistics.median(reduce_times),
          "parameters": parameters,
          "global_batch": workload.batch, "time_steps": workload.time,
          "features": workload.input_dim, "hidden": workload.units,
          "steps_timed": steps}


def _child_argv(configuration, steps, small, out):
  return [sys.executable, "-m", __name__, configuration, str(steps),
          str(int(small)), out]


def measure(configuration, steps=20, small=False, timeout_s=600):
  """Runs one configuration in its own process(es); returns its figures."""
  if configuration not in CONFIGURATIONS:
    raise ValueError(f"`configuration` must be one of {CONFIGURATIONS}, got "
                     f"{configuration!r}.")
  with tempfile.TemporaryDirectory() as folder:
    out = os.path.join(folder, "figures.json")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path
                                                      if p))
    if configuration.startswith("workers"):
      count = int(configuration.rsplit("_", 1)[1])
      status = cluster.launch_local_workers(
          lambda index, _: _child_argv(configuration, steps, small,
                                       out if index == 0 else
                                       f"{out}.{index}"),
          count, log=lambda _: None)
    else:
      status = subprocess.run(
          _child_argv(configuration, steps, small, out), env=env,
          timeout=timeout_s, check=False).returncode
    if status != 0:
      raise RuntimeError(f"{configuration}: the benchmark process failed "
                         f"(status {status}).")
    with open(out) as f:
      return json.load(f)


def project(one_replica, machines=MACHINES, links_gbit=LINKS_GBIT):
  """Paper estimate: N machines, each running one replica on the measured
  global batch (weak scaling), joined by a ring all-reduce.

  Per step each machine sends (and receives) 2 (N-1)/N x parameters x 4
  bytes; the estimate adds that transfer at the link's rate to the measured
  one-replica step time (no overlap of compute and communication, no
  latency term: an upper bound on time for large messages).
  """
  step_s = one_replica["step_ms"] / 1e3
  gradient_bytes = one_replica["parameters"] * 4
  rows = []
  for n in machines:
    row = {"machines": n,
           "bytes_per_step": 2 * (n - 1) / n * gradient_bytes}
    for gbit in links_gbit:
      transfer_s = row["bytes_per_step"] * 8 / (gbit * 1e9)
      row[f"sequences_per_s_{gbit}gbit"] = (
          n * one_replica["global_batch"] / (step_s + transfer_s))
      row[f"efficiency_{gbit}gbit"] = step_s / (step_s + transfer_s)
    rows.append(row)
  return rows


def epoch_losses(output_dir):
  """The classifier job's custom-loop training loss per epoch, read back
  from its TensorBoard events (float32, as written)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tf2 import classifier_job  # pylint: disable=g-import-not-at-top
  folder = os.path.join(output_dir, classifier_job.TENSORBOARD_NAME)
  losses = {}
  for name in os.listdir(folder):
    if not name.startswith("events"):
      continue
    for event in tf.compat.v1.train.summary_iterator(
        os.path.join(folder, name)):
      for value in event.summary.value:
        if value.tag == "epoch_loss":
          losses[event.step] = float(tf.make_ndarray(value.tensor))
  return np.array([losses[k] for k in sorted(losses)])


def agreement(folder, log=print):
  """How far replicated runs of the classifier job end from one device.

  Runs `gru-tf2-classifier --loop=custom` (defaults otherwise) on one
  device and per `AGREEMENT_RUNS`; returns per run the largest absolute
  difference in any final weight and in any epoch's training loss, and
  whether every weight is bitwise equal.
  """
  import keras  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tf2  # pylint: disable=g-import-not-at-top,unused-import  (registers the job model's classes for load_model)

  def run(name, args):
    out = os.path.join(folder, name)
    subprocess.run([sys.executable, "-m", "gru_commands.tf2_classifier",
                    "--loop=custom", "--checkpoint_every=0", *args,
                    f"--output_dir={out}"], check=True,
                   capture_output=True, timeout=900)
    model = keras.saving.load_model(os.path.join(out, "model.keras"))
    return model.get_weights(), epoch_losses(out)

  log("# agreement: one device")
  weights, losses = run("one_device", ())
  figures = {}
  for name, args in AGREEMENT_RUNS.items():
    log(f"# agreement: {name}")
    other_weights, other_losses = run(name, args)
    figures[name] = {
        "max_weight_difference": float(max(
            np.abs(a - b).max() for a, b in zip(weights, other_weights))),
        "max_loss_difference": float(np.abs(losses - other_losses).max()),
        "bitwise": all(np.array_equal(a, b)
                       for a, b in zip(weights, other_weights)),
        "largest_weight": float(max(np.abs(a).max() for a in weights))}
  return figures


def run(steps=20, small=False, with_agreement=True, log=print):
  """Every configuration, the projection and (optionally) the agreement."""
  figures = []
  for configuration in CONFIGURATIONS:
    log(f"# scale-out: {configuration}")
    figures.append(measure(configuration, steps, small))
    log(f"  {figures[-1]['step_ms']:.1f} ms/step, "
        f"{figures[-1]['sequences_per_s']:.0f} sequences/s, all-reduce "
        f"{figures[-1]['all_reduce_ms']:.2f} ms")
  payload = {"configurations": figures,
             "projection": project(figures[0]),
             "cpu_count": os.cpu_count()}
  if with_agreement:
    with tempfile.TemporaryDirectory() as folder:
      payload["agreement"] = agreement(folder, log)
  return payload


def summary_lines(payload):
  """The measured, projected and agreement tables, as text."""
  from gru_common import tables  # pylint: disable=g-import-not-at-top
  first = payload["configurations"][0]
  lines = [
      f"workload: global batch {first['global_batch']}, "
      f"{first['time_steps']} time steps x {first['features']} features, "
      f"hidden {first['hidden']}, {first['parameters']:,} parameters; "
      f"median of {first['steps_timed']} custom-loop steps; "
      f"{payload['cpu_count']} CPU cores", ""]
  lines += tables.format_table(
      [("configuration", "<", 0), ("replicas", ">", 0), ("ms/step", ">", 0),
       ("sequences/s", ">", 0), ("vs 1 replica", ">", 0),
       ("all-reduce ms/step", ">", 0)],
      [[f["configuration"], f["replicas"], f"{f['step_ms']:.1f}",
        f"{f['sequences_per_s']:.0f}",
        f"{f['sequences_per_s'] / first['sequences_per_s']:.2f}",
        f"{f['all_reduce_ms']:.2f}"] for f in payload["configurations"]],
      sep="  ", rule=True)
  links = sorted({k.rsplit("_", 1)[1] for row in payload["projection"]
                  for k in row if k.startswith("sequences_per_s_")},
                 key=lambda k: int(k[:-4]))
  lines += ["", "projected, N machines (paper; see BUILD.md):", ""]
  lines += tables.format_table(
      [("machines", ">", 0), ("MB sent/step", ">", 0)] +
      [(f"sequences/s at {k[:-4]} Gbit/s (efficiency)", ">", 0)
       for k in links],
      [[row["machines"], f"{row['bytes_per_step'] / 1e6:.2f}"] +
       [f"{row['sequences_per_s_' + k]:.0f} "
        f"({row['efficiency_' + k]:.0%})" for k in links]
       for row in payload["projection"]], sep="  ", rule=True)
  if "agreement" in payload:
    lines += ["", "replicas against one device (classifier job, 20 epochs "
              "of digits, custom loop, same global batches):", ""]
    lines += tables.format_table(
        [("run", "<", 0), ("max |weight difference|", ">", 0),
         ("largest |weight|", ">", 0), ("max |epoch-loss difference|", ">",
                                        0), ("bitwise", "<", 0)],
        [[name, f"{a['max_weight_difference']:.2e}",
          f"{a['largest_weight']:.2f}", f"{a['max_loss_difference']:.2e}",
          "yes" if a["bitwise"] else "no"]
         for name, a in payload["agreement"].items()], sep="  ", rule=True)
  return lines


def write_results(payload, path, when):
  """Regenerates the results file at `path` (the record BUILD.md cites)."""
  from gru_common import files  # pylint: disable=g-import-not-at-top
  text = "\n".join([
      "# Scale-out results", "",
      "Written by `gru-scale-out-benchmark --results_file=...`",
      "(`proof/benchmarks/scale_out.py`); each run replaces this file.",
      "Method and projection: BUILD.md, Scale-out.", "",
      f"- run: {when}", "", "```text", *summary_lines(payload), "```", ""])
  with files.replacing(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
    f.write(text)
  return path


if __name__ == "__main__":
  figures = _child(sys.argv[1], int(sys.argv[2]), bool(int(sys.argv[3])))
  if figures["configuration"].startswith("replicas") or "TF_CONFIG" not in (
      os.environ) or json.loads(os.environ["TF_CONFIG"])["task"][
          "index"] == 0:
    with open(sys.argv[4], "w") as f:
      json.dump(figures, f)
