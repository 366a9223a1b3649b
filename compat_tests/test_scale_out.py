"""The TF2 classifier under tf.distribute: one device, replicas, workers.

What is pinned here:

* every strategy trains the classifier to its accuracy from the CLI;
* the same strategy twice gives the same bits (op determinism on): fit
  under mirrored here; for multi_worker, the killed-worker test's two runs
  (the killed one and the resumed one) end bitwise where a third,
  uninterrupted run ends;
* N replicas against one device, on the same global batches: the custom
  loop splits each global batch, each replica sums its share's losses, and
  the all-reduce adds the replicas' gradients. Only the order of the float32
  sums changes, by a few ulps per gradient and step; Adam carries that
  through 460 steps. Measured (20 epochs of digits; `gru-scale-out-
  benchmark` records it in proof/benchmarks/SCALE_OUT.md): at most about
  1.1e-5 in any weight (the largest weight is about 2.3) and 4e-7 in any
  epoch's loss, for 2 and 4 replicas. The bounds are about ten and
  twenty-five times that. Here 2 replicas and 2 workers run the 20 epochs;
  4 replicas, which share the two cores four ways, run 5 epochs against 5
  epochs on one device (the suite's time), where the sums have had fewer
  steps to drift, under the same bounds. Two workers and two replicas in
  one process add the same two partial gradients, and float addition of two
  terms does not depend on their order, so those agree bitwise;
* a worker killed with SIGKILL: the job, run again, resumes from its last
  checkpoint and ends bitwise where an uninterrupted run ends;
* a worker whose peer never comes up, a taken port and bad flags end with a
  clear error, and the flag errors come before TensorFlow loads;
* Keras 3's `fit` fails under MultiWorkerMirroredStrategy (keras#20585), the
  reason the job has its own loop there: the day it works, a test fails.

Multi-process runs are slow-marked; each CLI run is made once per test
session and shared between pytest-xdist workers.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from compat_tests import legacy_checkpoints
from compat_tests import script_runner
from gru_common import cluster
from proof.benchmarks import scale_out
from tf2 import classifier_job
from tf2 import distribute

# See the module doc: ten times the largest difference measured.
REPLICA_WEIGHT_BOUND = 1e-4
REPLICA_LOSS_BOUND = 1e-5
# A generous ceiling for a run that must fail fast: the worker's timeout
# (below) plus TensorFlow's start-up on a loaded 2-core machine.
NEVER_UP_TIMEOUT_S = 5
NEVER_UP_LIMIT_S = 90
TEST_WORKER_TIMEOUT = "--worker_timeout=120"
CHECKPOINT_EVERY = 50
STEPS = 460  # 20 epochs of 23 global batches of 64 digits

RUNS = {
    "one_device_custom": ("--loop=custom", "--checkpoint_every=0"),
    "mirrored_fit": ("--strategy=mirrored", "--replicas=2"),
    # Determinism of fit under mirrored: 2 epochs (46 steps, every batch
    # split and all-reduced) suffice.
    "mirrored_fit_short": ("--strategy=mirrored", "--replicas=2",
                           "--epochs=2"),
    "mirrored_fit_short_again": ("--strategy=mirrored", "--replicas=2",
                                 "--epochs=2"),
    "mirrored2_custom": ("--strategy=mirrored", "--replicas=2",
                         "--loop=custom", "--checkpoint_every=0"),
    # 4 replicas against one device, on 5 epochs (the module doc says why).
    "one_device_custom_short": ("--loop=custom", "--checkpoint_every=0",
                                "--epochs=5"),
    "mirrored4_custom_short": ("--strategy=mirrored", "--replicas=4",
                               "--loop=custom", "--checkpoint_every=0",
                               "--epochs=5"),
    "workers": ("--strategy=multi_worker", "--workers=2",
                f"--checkpoint_every={CHECKPOINT_EVERY}",
                TEST_WORKER_TIMEOUT),
}


@pytest.fixture(scope="session")
def shared_dir(tmp_path_factory):
  root = tmp_path_factory.getbasetemp()
  if os.environ.get("PYTEST_XDIST_WORKER"):
    root = root.parent
  folder = root / "scale_out"
  folder.mkdir(exist_ok=True)
  return folder


def _run_once(shared_dir, name):
  """The CLI run `RUNS[name]` (defaults otherwise: 20 epochs of digits),
  made once per session; returns (stdout, its output folder)."""
  folder = shared_dir / name
  record = folder / "run.json"
  with legacy_checkpoints.shared_lock(str(shared_dir / f"{name}.lock")):
    if not record.exists():
      proc = script_runner.run(
          "tf2_classifier", *RUNS[name], "--deterministic",
          f"--output_dir={folder / 'out'}", timeout=400)
      record.parent.mkdir(exist_ok=True)
      record.write_text(json.dumps([proc.returncode, proc.stdout,
                                    proc.stderr]))
  code, stdout, stderr = json.loads(record.read_text())
  assert code == 0, stderr[-3000:]
  return stdout, str(folder / "out")


def _state(output_dir):
  """The saved model's weights and its optimizer's variables."""
  model = keras.saving.load_model(os.path.join(output_dir, "model.keras"))
  return ([w.numpy() for w in model.weights],
          [v.numpy() for v in model.optimizer.variables])


def _assert_same_state(a, b):
  for x, y in zip(a[0] + a[1], b[0] + b[1]):
    np.testing.assert_array_equal(x, y)


def _final_accuracy(stdout):
  return float(re.search(r"# final test accuracy ([\d.]+)", stdout).group(1))


def _epoch_lines(stdout):
  return [l for l in stdout.splitlines() if l.startswith("Epoch ")]


# --- Fast: arguments, addresses, the watchdog --------------------------------


@pytest.mark.parametrize("text, problem", [
    ("", "host:port"), ("localhost", "not host:port"),
    ("localhost:0", "1..65535"), ("localhost:70000", "1..65535"),
    (":123", "not host:port"), ("a:1,a:1", "more than once")])
def test_parse_cluster_refuses_bad_addresses(text, problem):
  with pytest.raises(ValueError, match=problem):
    cluster.parse_cluster(text)


def test_parse_cluster_and_tf_config():
  addresses = cluster.parse_cluster("10.0.0.1:2222, host-b:2223")
  assert addresses == ("10.0.0.1:2222", "host-b:2223")
  config = json.loads(cluster.tf_config(addresses, 1))
  assert config == {"cluster": {"worker": list(addresses)},
                    "task": {"type": "worker", "index": 1}}
  assert cluster.peers(cluster.tf_config(addresses, 1)) == ["10.0.0.1:2222"]
  with pytest.raises(ValueError, match=r"worker_index.*\[0, 2\)"):
    cluster.check_worker_index(2, addresses)


@pytest.mark.parametrize("args, problem", [
    (dict(strategy="tpu"), "strategy"),
    (dict(strategy="one_device", replicas=2), "replicas"),
    (dict(strategy="mirrored", replicas=0), "replicas"),
    (dict(strategy="multi_worker", loop="fit"), "keras#20585"),
    (dict(strategy="mirrored", checkpoint_every=5), "checkpoint_every"),
    (dict(strategy="mirrored", loop="custom", checkpoint_every=-1),
     "checkpoint_every")])
def test_placement_checks_name_the_argument(args, problem):
  with pytest.raises(ValueError, match=problem):
    cluster.check_placement(**args)
  with pytest.raises(ValueError, match=problem):
    classifier_job.Config(**args)


def test_default_loops():
  assert cluster.check_placement("one_device") == "fit"
  assert cluster.check_placement("mirrored", 2) == "fit"
  assert cluster.check_placement("multi_worker") == "custom"


@pytest.mark.parametrize("size, replicas", [(64, 2), (30, 4), (3, 4),
                                            (7, 1)])
def test_replica_slices_cover_the_batch_in_order(size, replicas):
  slices = distribute.replica_slices(size, replicas)
  assert len(slices) == replicas
  assert slices[0][0] == 0 and slices[-1][1] == size
  assert all(a[1] == b[0] for a, b in zip(slices, slices[1:]))
  lengths = [stop - start for start, stop in slices]
  assert max(lengths) - min(lengths) <= 1


def test_free_addresses_and_a_taken_port():
  addresses = cluster.free_addresses(3)
  assert len(set(addresses)) == 3
  with socket.socket() as holder:
    holder.bind(("localhost", 0))
    holder.listen()
    taken = f"localhost:{holder.getsockname()[1]}"
    with pytest.raises(OSError, match=f"cannot listen on {taken}"):
      cluster.check_port_free(taken)
    assert cluster.unreachable([taken]) == []
  assert cluster.unreachable([taken]) == [taken]


_WATCHED_CHILD = """
import sys, time
from gru_common import cluster
from proof.benchmarks import scale_out
with cluster.Watchdog(float(sys.argv[1]), sys.argv[3:]) as dog:
  for _ in range(int(sys.argv[2])):
    time.sleep(0.1)
    dog.beat()
  time.sleep(0 if int(sys.argv[2]) else 60)
print("finished")
"""


def _watched(timeout_s, beats, peers=()):
  return subprocess.run(
      [sys.executable, "-c", _WATCHED_CHILD, str(timeout_s), str(beats),
       *peers], capture_output=True, text=True, timeout=60,
      cwd=script_runner.ROOT, check=False)


def test_watchdog_kills_a_stuck_process_and_names_the_missing_peer():
  dead = cluster.free_addresses(1)[0]
  start = time.monotonic()
  proc = _watched(1.0, 0, [dead])
  assert proc.returncode == -signal.SIGKILL
  assert time.monotonic() - start < 30
  assert "made no progress for 1 s" in proc.stderr
  assert dead in proc.stderr and "never came up or have died" in proc.stderr
  assert "finished" not in proc.stdout


def test_watchdog_lets_a_beating_process_finish():
  # 30 beats 0.1 s apart: three times the timeout in all.
  proc = _watched(1.0, 30)
  assert proc.returncode == 0, proc.stderr
  assert "finished" in proc.stdout


# Flags that must fail before TensorFlow loads. The command runs with a
# `tensorflow` that raises on import, so reaching TensorFlow shows as
# "TENSORFLOW IMPORTED".
@pytest.mark.parametrize("args, named", [
    (["--replicas=0"], "--replicas"),
    (["--strategy=multi_worker", "--workers=0"], "--workers"),
    (["--strategy=multi_worker", "--cluster=localhost", "--worker_index=0"],
     "--cluster"),
    (["--strategy=multi_worker", "--cluster=a:1,b:2", "--worker_index=2"],
     "worker_index"),
    (["--strategy=multi_worker", "--cluster=a:1,b:2"], "--worker_index"),
    (["--strategy=multi_worker", "--workers=2", "--cluster=a:1,b:2",
      "--worker_index=0"], "--workers"),
    (["--workers=2"], "--strategy=multi_worker"),
    (["--replicas=2"], "replicas"),
    (["--strategy=multi_worker", "--loop=fit"], "keras#20585"),
    (["--checkpoint_every=10"], "checkpoint_every"),
    (["--strategy=multi_worker"], "--workers=N"),
])
def test_bad_placement_flags_fail_before_tensorflow(tmp_path, args, named):
  blocker = tmp_path / "tensorflow"
  blocker.mkdir()
  (blocker / "__init__.py").write_text(
      "raise ImportError('TENSORFLOW IMPORTED')\n")
  env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}"
             f"{script_runner.ROOT}")
  env.pop("TF_CONFIG", None)
  proc = subprocess.run(
      [sys.executable, "-m", "gru_commands.tf2_classifier", *args],
      capture_output=True, text=True, env=env, cwd=script_runner.ROOT,
      timeout=60, check=False)
  assert proc.returncode != 0
  assert named in proc.stderr, proc.stderr
  assert "TENSORFLOW IMPORTED" not in proc.stderr
  assert "Traceback" not in proc.stderr


def test_a_taken_port_is_a_one_line_error(tmp_path):
  with socket.socket() as holder:
    holder.bind(("localhost", 0))
    holder.listen()
    port = holder.getsockname()[1]
    spare = cluster.free_addresses(1)[0]
    proc = script_runner.run(
        "tf2_classifier", "--strategy=multi_worker",
        f"--cluster=localhost:{port},{spare}", "--worker_index=0",
        f"--output_dir={tmp_path}", timeout=60)
  assert proc.returncode == 1
  assert f"cannot listen on localhost:{port}" in proc.stderr
  assert "Traceback" not in proc.stderr


# --- In one process: the custom loop's resume --------------------------------


class _Crash(Exception):
  pass


def test_custom_loop_resumes_bitwise_after_a_crash(tmp_path):
  """A job stopped after epoch 0 (step 23; checkpoints every 10 steps)
  resumes at step 20 and ends where an uninterrupted job ends."""
  config = classifier_job.Config(epochs=2, hidden_dim=8, verbose=0,
                                 loop="custom", checkpoint_every=10)
  whole = classifier_job.train(config, str(tmp_path / "whole"),
                               log=lambda _: None)

  def crash_after_first_epoch(line):
    if line.startswith("Epoch 0"):
      raise _Crash(line)

  folder = str(tmp_path / "crashed")
  with pytest.raises(_Crash):
    classifier_job.train(config, folder, log=crash_after_first_epoch)
  assert tf.train.latest_checkpoint(os.path.join(
      folder, classifier_job.BACKUP_NAME)).endswith("ckpt-20")
  lines = []
  resumed = classifier_job.train(config, folder, log=lines.append)
  assert lines[0].startswith("# resumed from") and lines[0].endswith(
      "at step 20"), lines
  assert int(resumed.model.optimizer.iterations.numpy()) == 46
  for a, b in zip(whole.model.weights + whole.model.optimizer.variables,
                  resumed.model.weights + resumed.model.optimizer.variables):
    np.testing.assert_array_equal(a.numpy(), b.numpy())
  np.testing.assert_array_equal(whole.train_losses, resumed.train_losses)
  np.testing.assert_array_equal(whole.test_accuracies,
                                resumed.test_accuracies)
  assert not os.path.exists(os.path.join(folder, classifier_job.BACKUP_NAME))


def test_custom_loop_refuses_another_jobs_checkpoint(tmp_path):
  folder = str(tmp_path)
  config = classifier_job.Config(epochs=1, hidden_dim=8, verbose=0,
                                 loop="custom", checkpoint_every=10)

  def crash(line):
    raise _Crash(line)

  with pytest.raises(_Crash):
    classifier_job.train(config, folder, log=crash)
  with pytest.raises(ValueError, match="Delete .*backup"):
    classifier_job.train(
        classifier_job.Config(epochs=1, hidden_dim=9, verbose=0,
                              loop="custom", checkpoint_every=10),
        folder, log=lambda _: None)


# --- Several processes (slow) -------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", ["one_device_custom", "mirrored_fit",
                                  "mirrored2_custom", "workers"])
def test_every_strategy_reaches_90_percent_from_the_cli(shared_dir, name):
  stdout, output_dir = _run_once(shared_dir, name)
  assert _final_accuracy(stdout) >= 0.90, stdout
  assert len(_epoch_lines(stdout)) == 20
  for written in ("model.keras", "ckpt.index", "training.png",
                  classifier_job.TENSORBOARD_NAME):
    assert os.path.exists(os.path.join(output_dir, written)), written
  # Only the chief wrote: no other worker's folder is left.
  assert not [n for n in os.listdir(output_dir) if n.startswith(".worker")]


@pytest.mark.slow
@pytest.mark.parametrize("first, second", [
    ("mirrored_fit_short", "mirrored_fit_short_again")])
def test_a_strategy_run_twice_gives_the_same_bits(shared_dir, first,
                                                  second):
  out_a, dir_a = _run_once(shared_dir, first)
  out_b, dir_b = _run_once(shared_dir, second)
  _assert_same_state(_state(dir_a), _state(dir_b))
  assert _epoch_lines(out_a) == _epoch_lines(out_b)


@pytest.mark.slow
@pytest.mark.parametrize("reference, name, epochs", [
    ("one_device_custom", "mirrored2_custom", 20),
    ("one_device_custom_short", "mirrored4_custom_short", 5),
    ("one_device_custom", "workers", 20)])
def test_replicas_agree_with_one_device_within_the_bound(shared_dir,
                                                         reference, name,
                                                         epochs):
  _, reference = _run_once(shared_dir, reference)
  _, replicated = _run_once(shared_dir, name)
  weights_a, _ = _state(reference)
  weights_b, _ = _state(replicated)
  worst = max(np.abs(a - b).max() for a, b in zip(weights_a, weights_b))
  assert worst <= REPLICA_WEIGHT_BOUND, worst
  losses_a, losses_b = scale_out.epoch_losses(reference), scale_out.epoch_losses(replicated)
  assert len(losses_a) == len(losses_b) == epochs
  np.testing.assert_allclose(losses_b, losses_a, rtol=0,
                             atol=REPLICA_LOSS_BOUND)


@pytest.mark.slow
def test_two_workers_equal_two_replicas_bitwise(shared_dir):
  _, replicas = _run_once(shared_dir, "mirrored2_custom")
  _, workers = _run_once(shared_dir, "workers")
  np.testing.assert_array_equal(scale_out.epoch_losses(replicas),
                                scale_out.epoch_losses(workers))
  for a, b in zip(_state(replicas)[0], _state(workers)[0]):
    np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_killed_worker_resumes_to_the_same_bits(shared_dir, tmp_path):
  """SIGKILL worker 1 once a checkpoint past step 50 exists; the launcher
  stops worker 0 and fails; the same command resumes from the last
  checkpoint and ends bitwise where the uninterrupted run ends."""
  _, uninterrupted = _run_once(shared_dir, "workers")
  output_dir = str(tmp_path / "out")
  args = (*RUNS["workers"], "--deterministic", f"--output_dir={output_dir}")
  backup = os.path.join(output_dir, classifier_job.BACKUP_NAME)
  launcher = script_runner.start("tf2_classifier", *args)
  try:
    pids = {}
    for line in launcher.stdout:
      match = re.match(r"# worker (\d+) of 2: pid (\d+)", line)
      if match:
        pids[int(match.group(1))] = int(match.group(2))
      if len(pids) == 2:
        break
    deadline = time.monotonic() + 300
    while not (os.path.isdir(backup) and tf.train.latest_checkpoint(backup)
               and int(tf.train.latest_checkpoint(backup).rsplit("-", 1)[1])
               >= 2 * CHECKPOINT_EVERY):
      assert launcher.poll() is None, launcher.stderr.read()[-3000:]
      assert time.monotonic() < deadline
      time.sleep(0.01)
    os.kill(pids[1], signal.SIGKILL)
    out, _ = launcher.communicate(timeout=120)
  finally:
    if launcher.poll() is None:
      launcher.kill()
  assert launcher.returncode == 1
  assert f"worker 1 exited with status -{int(signal.SIGKILL)}" in out
  saved = int(tf.train.latest_checkpoint(backup).rsplit("-", 1)[1])
  assert saved < STEPS and saved % CHECKPOINT_EVERY == 0

  proc = script_runner.run("tf2_classifier", *args, timeout=400)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert f"at step {saved}" in proc.stdout
  resumed_state = _state(output_dir)
  _assert_same_state(_state(uninterrupted), resumed_state)
  iterations = keras.saving.load_model(
      os.path.join(output_dir, "model.keras")).optimizer.iterations
  assert int(iterations.numpy()) == STEPS  # no step lost or repeated
  assert not os.path.exists(backup)


@pytest.mark.slow
def test_a_worker_whose_peer_never_comes_up_fails_in_bounded_time(tmp_path):
  addresses = cluster.free_addresses(2)
  start = time.monotonic()
  proc = script_runner.run(
      "tf2_classifier", "--strategy=multi_worker",
      f"--cluster={','.join(addresses)}", "--worker_index=0",
      f"--worker_timeout={NEVER_UP_TIMEOUT_S}", f"--output_dir={tmp_path}",
      timeout=NEVER_UP_LIMIT_S)
  assert time.monotonic() - start < NEVER_UP_LIMIT_S
  assert proc.returncode == -signal.SIGKILL
  assert f"never came up or have died: ['{addresses[1]}']" in proc.stderr


_FIT_UNDER_MULTI_WORKER = """
import sys
import tensorflow as tf
from tf2 import classifier_job
from gru_common import sequence_data
strategy = tf.distribute.MultiWorkerMirroredStrategy()
data = sequence_data.load()
with strategy.scope():
  model = classifier_job.build_model(classifier_job.Config(hidden_dim=4),
                                     8, 8, 10)
try:
  model.fit(data.x_train[:128], data.y_train[:128], batch_size=64,
            verbose=0)
except ValueError as e:
  print("fit refused:", str(e)[:200].replace(chr(10), " "))
  sys.exit(7)
"""


@pytest.mark.slow
def test_keras_fit_does_not_run_under_multi_worker_strategy(tmp_path):
  """keras#20585: if this fails, fit works there and the job could use it."""
  log = []
  status = cluster.launch_local_workers(
      lambda index, addresses: [sys.executable, "-c",
                                _FIT_UNDER_MULTI_WORKER],
      2, log=log.append)
  assert status == 7, log
