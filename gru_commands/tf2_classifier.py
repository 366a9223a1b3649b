"""Trains the TF2 (Keras 3) tutorial GRU or BiGRU as a row classifier, on
one device, several replicas, or several worker processes.

The legacy classifier's recipe: a LoopGRU (or keras.layers.Bidirectional of
one) over image rows, the mean over time, a softmax head, TF1Adam. By
default the 8x8 digits bundled with scikit-learn; --mnist_npz reads a local
mnist.npz (28 rows of 28 pixels). Nothing is downloaded.

Where it trains (--strategy):
  one_device    one GPU, else the CPU (Keras's Model.fit)
  mirrored      --replicas GPUs, or CPU replicas, in this process (fit)
  multi_worker  one process per worker (the job's own loop, since Keras 3's
                fit does not run there): --workers=N starts N local ones;
                --cluster=host:port,... --worker_index=I runs worker I of a
                real cluster (start one per address, same flags otherwise)
--loop=custom runs the job's own loop under any strategy; it checkpoints
every --checkpoint_every steps into OUTPUT_DIR/backup, and the same command
run again resumes from there.

The chief (worker 0) writes into --output_dir: `model.keras`, a TF2
checkpoint (`ckpt`), `training.png` and TensorBoard logs (`tensorboard/`).

  gru-tf2-classifier --model=bigru --output_dir=runs/tf2_classifier
  gru-tf2-classifier --strategy=mirrored --replicas=2
  gru-tf2-classifier --strategy=multi_worker --workers=2
"""

import os
import sys

from absl import app
from absl import flags

import gru_commands
from gru_commands import _job_flags
from gru_common import cluster
from gru_common import job_configs

# The custom loop's checkpoint interval when --checkpoint_every is not given.
DEFAULT_CHECKPOINT_EVERY = 100

_FLAGS = _job_flags.define_classifier_flags(
    job_configs.ClassifierConfig(), "runs/tf2_classifier",
    "A GRU, or a BiGRU (keras.layers.Bidirectional).")
flags.adopt_module_key_flags(_job_flags)
_STRATEGY = flags.DEFINE_enum("strategy", "one_device", cluster.STRATEGIES,
                              "Where to train (see above).")
_REPLICAS = flags.DEFINE_integer(
    "replicas", 1, "mirrored: replicas (GPUs, else logical CPU devices).",
    lower_bound=1)
_LOOP = flags.DEFINE_enum(
    "loop", None, cluster.LOOPS, "Training loop; default: fit, except "
    "custom for multi_worker.")
_CHECKPOINT_EVERY = flags.DEFINE_integer(
    "checkpoint_every", None, "Custom loop: steps between checkpoints in "
    f"OUTPUT_DIR/backup (default {DEFAULT_CHECKPOINT_EVERY}; 0: none).",
    lower_bound=0)
_WORKERS = flags.DEFINE_integer(
    "workers", None, "multi_worker: start this many local worker processes "
    "on free localhost ports and wait for them.", lower_bound=1)
_CLUSTER = flags.DEFINE_string(
    "cluster", None, "multi_worker: every worker's host:port, comma-"
    "separated, the same list on each; worker 0 is the chief.")
_WORKER_INDEX = flags.DEFINE_integer(
    "worker_index", None, "multi_worker with --cluster: this worker's "
    "position in --cluster.")
_WORKER_TIMEOUT = flags.DEFINE_float(
    "worker_timeout", 300.0, "multi_worker: seconds a worker waits for its "
    "peers (at start-up, or in a step) before it exits with an error.",
    lower_bound=0.001)
_DETERMINISTIC = flags.DEFINE_bool(
    "deterministic", False, "Turn on TensorFlow's op determinism: runs with "
    "the same flags give the same bits, on GPUs too.")


def _check_cluster(text):
  if text is not None:
    try:
      cluster.parse_cluster(text, "--cluster")
    except ValueError as e:
      raise flags.ValidationError(str(e)) from e
  return True


flags.register_validator("cluster", _check_cluster)


@flags.multi_flags_validator(
    ["strategy", "replicas", "loop", "checkpoint_every", "workers",
     "cluster", "worker_index"])
def _check_placement(values):
  """The placement flags agree (checked before TensorFlow starts)."""
  workers, addresses = values["workers"], values["cluster"]
  index = values["worker_index"]
  try:
    cluster.check_placement(values["strategy"], values["replicas"],
                            values["loop"], values["checkpoint_every"] or 0)
    if values["strategy"] != "multi_worker":
      if workers is not None or addresses is not None or index is not None:
        raise ValueError("--workers, --cluster and --worker_index need "
                         "--strategy=multi_worker.")
    elif workers is not None:
      if addresses is not None or index is not None:
        raise ValueError("--workers starts a local cluster; leave out "
                         "--cluster and --worker_index.")
    elif addresses is not None or index is not None:
      if addresses is None or index is None:
        raise ValueError("--cluster and --worker_index go together.")
      cluster.check_worker_index(index, cluster.parse_cluster(addresses),
                                 "--worker_index")
  except ValueError as e:
    raise flags.ValidationError(str(e)) from e
  return True


def _checkpoint_every():
  if _CHECKPOINT_EVERY.value is not None:
    return _CHECKPOINT_EVERY.value
  loop = cluster.check_placement(_STRATEGY.value, _REPLICAS.value,
                                 _LOOP.value)
  return DEFAULT_CHECKPOINT_EVERY if loop == "custom" else 0


def _worker_command(index, addresses):
  """This command for one local worker: the flags given, placed."""
  given = {flags.FLAGS[name] for name in flags.FLAGS}
  given = sorted(f.serialize() for f in given
                 if f.present and f.name not in ("workers", "flagfile"))
  return [sys.executable, "-m", "gru_commands.tf2_classifier", *given,
          f"--cluster={','.join(addresses)}", f"--worker_index={index}"]


def prepare(argv):
  """Before TensorFlow: starts local workers (--workers), or checks this
  worker's port and sets TF_CONFIG (--cluster)."""
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if _WORKERS.value is not None:
    return cluster.launch_local_workers(_worker_command, _WORKERS.value)
  if _CLUSTER.value is not None:
    addresses = cluster.parse_cluster(_CLUSTER.value)
    try:
      cluster.check_port_free(addresses[_WORKER_INDEX.value])
    except OSError as e:
      print(f"ERROR: --cluster: worker {_WORKER_INDEX.value} {e}",
            file=sys.stderr)
      return 1
    os.environ["TF_CONFIG"] = cluster.tf_config(addresses,
                                                _WORKER_INDEX.value)
  elif _STRATEGY.value == "multi_worker" and "TF_CONFIG" not in os.environ:
    raise app.UsageError("--strategy=multi_worker needs --workers=N, or "
                         "--cluster and --worker_index (or TF_CONFIG set).")
  return None


def main(argv):
  del argv  # checked by prepare
  # Imported after flag parsing: --help and flag errors stay instant.
  from tf2 import classifier_job  # pylint: disable=g-import-not-at-top
  from tf2 import distribute  # pylint: disable=g-import-not-at-top
  if _STRATEGY.value == "mirrored":
    try:
      distribute.configure_replicas(_REPLICAS.value)
    except ValueError as e:
      raise app.UsageError(str(e)) from e

  def make_config(**settings):
    return classifier_job.Config(
        **settings, strategy=_STRATEGY.value, replicas=_REPLICAS.value,
        loop=_LOOP.value, checkpoint_every=_checkpoint_every(),
        worker_timeout_s=_WORKER_TIMEOUT.value,
        deterministic=_DETERMINISTIC.value)

  _job_flags.run_classifier(
      classifier_job.train, make_config, _FLAGS,
      lambda r: (f"model {r.model_path}, checkpoint {r.checkpoint_prefix}, "
                 f"plot {r.plot_path}"))


def run():
  gru_commands.run(main, prepare)


if __name__ == "__main__":
  run()
