"""tf.distribute for the TF2 jobs: strategies, replica batches, chief-only
writes and step checkpoints a killed job resumes from.

Strategies (`gru_common.cluster.STRATEGIES`):

    one_device    `OneDeviceStrategy` on the first GPU; without one,
                  TensorFlow's default strategy (the one CPU device, the
                  same placement), whose datasets need no
                  `MultiDeviceIterator`: that iterator's background thread
                  can crash the process when Keras replaces it (TF 2.21;
                  seen as a segfault in `fit`'s validation)
    mirrored      `MirroredStrategy` over N replicas in this process: the
                  first N GPUs, or N logical CPU devices made by
                  `configure_replicas` before TensorFlow's runtime starts
    multi_worker  `MultiWorkerMirroredStrategy`, one replica per worker
                  process, its place in the cluster read from `TF_CONFIG`

A global batch is split across the replicas in order (`replica_slices`):
replica r of N takes the r-th of N nearly equal runs of the batch, so the
same global batches reach the same replicas whatever the processes. Each
replica's loss is its examples' loss summed over the *global* batch size
(`tf.nn.compute_average_loss`), and the strategy sums the gradients, so a
step follows the gradient of the global batch's mean loss.
"""

import os
import shutil

import numpy as np
import tensorflow as tf

from gru_common import cluster


def configure_replicas(count):
  """Makes `count` devices for MirroredStrategy; returns their names.

  With GPUs, the first `count` of them. Without, the CPU split into `count`
  logical devices, which TensorFlow allows only before its runtime starts
  (before the first op or device query that initializes it).

  Raises:
    ValueError: too few GPUs, or the runtime has started with a different
      number of CPU devices.
  """
  gpus = tf.config.list_physical_devices("GPU")
  if gpus:
    if count > len(gpus):
      raise ValueError(f"`replicas`: {count} asked for, this machine has "
                       f"{len(gpus)} GPUs.")
    return [f"/gpu:{i}" for i in range(count)]
  cpu = tf.config.list_physical_devices("CPU")[0]
  wanted = [tf.config.LogicalDeviceConfiguration()] * count
  current = tf.config.get_logical_device_configuration(cpu)
  if count > 1 and len(current or ()) != count:
    try:
      tf.config.set_logical_device_configuration(cpu, wanted)
    except RuntimeError as e:
      raise ValueError(
          f"`replicas`: {count} CPU replicas need "
          f"`tf2.distribute.configure_replicas({count})` before TensorFlow "
          f"runs its first op; this process has "
          f"{len(tf.config.list_logical_devices('CPU'))}.") from e
  return [f"/cpu:{i}" for i in range(count)]


def make_strategy(name, replicas=1, timeout_s=None):
  """The `tf.distribute.Strategy` called `name` (see the module doc).

  Args:
    name: one of `cluster.STRATEGIES`.
    replicas: devices for `mirrored` (1 for the others).
    timeout_s: `multi_worker`: seconds a collective op waits for its peers.
  """
  if name not in cluster.STRATEGIES:
    raise ValueError(f"`strategy` must be one of {cluster.STRATEGIES}, got "
                     f"{name!r}.")
  if name == "mirrored":
    return tf.distribute.MirroredStrategy(configure_replicas(replicas))
  if name == "one_device":
    gpus = tf.config.list_logical_devices("GPU")
    if not gpus:
      return tf.distribute.get_strategy()
    return tf.distribute.OneDeviceStrategy(gpus[0].name)
  if "TF_CONFIG" not in os.environ:
    raise ValueError("`strategy`: multi_worker needs TF_CONFIG (see "
                     "gru_common.cluster.tf_config).")
  options = tf.distribute.experimental.CommunicationOptions(
      timeout_seconds=timeout_s)
  return tf.distribute.MultiWorkerMirroredStrategy(
      communication_options=options)


def task_id(strategy):
  """This worker's index (0 outside a multi-worker cluster)."""
  resolver = getattr(strategy, "cluster_resolver", None)
  return resolver.task_id if resolver and resolver.task_type else 0


def is_chief(strategy):
  """Whether this process writes the job's files: worker 0, or the only
  process."""
  return task_id(strategy) == 0


def replica_slices(batch_size, num_replicas):
  """[start, stop) of each replica's share of a global batch: N runs that
  differ in length by at most one, in replica order."""
  cuts = [len(part) for part in np.array_split(np.arange(batch_size),
                                               num_replicas)]
  bounds = np.concatenate([[0], np.cumsum(cuts)])
  return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]


def distribute_batches(strategy, global_batches, element_spec):
  """A distributed dataset of the replicas' shares of `global_batches`.

  Args:
    strategy: the strategy.
    global_batches: () -> iterable of tuples of arrays, each array's first
      axis the global batch; called once per worker.
    element_spec: the tuple's `tf.TensorSpec`s, batch axis None.

  Returns:
    The dataset from `strategy.distribute_datasets_from_function`: its
    elements are per-replica `(*arrays, global_batch_size)`.
  """
  num_replicas = strategy.num_replicas_in_sync

  def replica_dataset(context):
    local = num_replicas // context.num_input_pipelines
    first = context.input_pipeline_id * local

    def generate():
      for arrays in global_batches():
        size = len(arrays[0])
        for start, stop in replica_slices(size, num_replicas)[
            first:first + local]:
          yield (*(a[start:stop] for a in arrays), np.int64(size))

    return tf.data.Dataset.from_generator(
        generate, output_signature=(*element_spec,
                                    tf.TensorSpec([], tf.int64)))

  options = tf.distribute.InputOptions(experimental_fetch_to_device=False)
  return strategy.distribute_datasets_from_function(replica_dataset, options)


def write_dir(folder, strategy):
  """Where this worker writes what the chief keeps in `folder`.

  Every worker of a multi-worker job must take part in a checkpoint save;
  the others write to a folder of their own and remove it
  (`remove_if_not_chief`), as TensorFlow's multi-worker guide does.
  """
  if is_chief(strategy):
    return folder
  return os.path.join(folder, f".worker-{task_id(strategy)}")


def remove_if_not_chief(folder, strategy):
  if not is_chief(strategy):
    shutil.rmtree(folder, ignore_errors=True)


class StepCheckpoints:
  """Checkpoints every `every` steps into `folder`, and resumes from them.

  The checkpoint holds the model, the optimizer (its `iterations` is the
  step count) and `extra` trackables (the job's running totals), so a job
  restarted after a crash continues from the last saved step with the
  state it had then. The chief's folder is the one restored from; on a
  real cluster it must be on storage every worker reads.
  """

  def __init__(self, folder, every, strategy, max_to_keep=2, **trackables):
    self.folder = folder
    self.every = every
    self._strategy = strategy
    self._checkpoint = tf.train.Checkpoint(**trackables)
    self._write_to = write_dir(folder, strategy)
    self._manager = tf.train.CheckpointManager(
        self._checkpoint, self._write_to, max_to_keep=max_to_keep)

  def restore(self):
    """Restores the chief's latest checkpoint; returns its path or None."""
    latest = tf.train.latest_checkpoint(self.folder)
    if latest:
      try:
        self._checkpoint.restore(latest).assert_existing_objects_matched()
      except (AssertionError, ValueError, tf.errors.OpError) as e:
        raise ValueError(
            f"cannot resume from {latest}: it was written by a different "
            f"job ({e}). Delete {self.folder} to start afresh.") from e
    return latest

  def maybe_save(self, step):
    """Saves if `step` is a multiple of `every`; returns whether it did."""
    if not self.every or step % self.every:
      return False
    self._manager.save(checkpoint_number=step)
    remove_if_not_chief(self._write_to, self._strategy)
    return True

  def delete(self):
    """Removes the checkpoints once the job has finished (chief only)."""
    if is_chief(self._strategy):
      shutil.rmtree(self.folder, ignore_errors=True)
