"""Where a distributed TF2 job runs: strategies, cluster addresses, local
worker processes and a watchdog (no TensorFlow).

Everything a command needs before TensorFlow starts lives here, so a bad
`--cluster` or a taken port is reported at once, and the process that
launches local workers (`launch_local_workers`) never loads TensorFlow.

A multi-worker job is N processes, one per address of the cluster; each
learns its place from `TF_CONFIG` (`tf_config`), the variable
`tf.distribute.MultiWorkerMirroredStrategy` reads. Worker 0 is the chief.
"""

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time

from gru_common import checks

STRATEGIES = ("one_device", "mirrored", "multi_worker")
# Training loops: Keras's `Model.fit`, or the job's own loop over
# `strategy.run` (the one Keras 3 leaves to users for multi-worker training,
# keras#20585).
LOOPS = ("fit", "custom")
# Exit status of a watchdog that stopped its worker.
WATCHDOG_EXIT = 3
# How long a launcher lets a worker it stops exit after SIGTERM before
# SIGKILL: TensorFlow's collective runtime may not act on SIGTERM.
STOP_GRACE_S = 5.0


def default_loop(strategy):
  """`fit` where Keras 3 supports the strategy, else `custom`."""
  return "custom" if strategy == "multi_worker" else "fit"


def check_placement(strategy, replicas=1, loop=None, checkpoint_every=0):
  """Checks that a job's strategy, replicas, loop and checkpoints agree;
  returns the loop (`default_loop(strategy)` for None).

  Raises:
    ValueError: naming the argument at fault.
  """
  if strategy not in STRATEGIES:
    raise ValueError(f"`strategy` must be one of {STRATEGIES}, got "
                     f"{strategy!r}.")
  checks.integer("replicas", replicas)
  if replicas > 1 and strategy != "mirrored":
    raise ValueError(f"`replicas` > 1 needs strategy 'mirrored', got "
                     f"{strategy!r} (multi_worker runs one replica per "
                     "worker).")
  if loop not in (None,) + LOOPS:
    raise ValueError(f"`loop` must be one of {LOOPS} or None, got {loop!r}.")
  if strategy == "multi_worker" and loop == "fit":
    raise ValueError("`loop`: Keras 3's Model.fit does not run under "
                     "MultiWorkerMirroredStrategy (keras#20585); use "
                     "'custom'.")
  loop = loop or default_loop(strategy)
  checks.integer("checkpoint_every", checkpoint_every, minimum=0,
                 note="0: never")
  if checkpoint_every and loop == "fit":
    raise ValueError("`checkpoint_every` needs loop 'custom': Keras's "
                     "BackupAndRestore resumes from the start of an epoch, "
                     "not from the step it saved.")
  return loop


def parse_cluster(text, argument="cluster"):
  """`host:port,host:port,...` as a tuple of "host:port" strings.

  Raises:
    ValueError: naming `argument`, for an empty list, an address without a
      host or a port in 1..65535, or an address given twice.
  """
  if not isinstance(text, str) or not text.strip():
    raise ValueError(f"`{argument}` must be host:port,host:port,..., got "
                     f"{text!r}.")
  addresses = tuple(part.strip() for part in text.split(","))
  for address in addresses:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not (
        1 <= int(port) <= 65535):
      raise ValueError(
          f"`{argument}`: {address!r} is not host:port with a port in "
          f"1..65535 (in {text!r}).")
  repeated = sorted({a for a in addresses if addresses.count(a) > 1})
  if repeated:
    raise ValueError(f"`{argument}` names {repeated} more than once.")
  return addresses


def check_worker_index(index, addresses, argument="worker_index"):
  """Raises ValueError unless 0 <= index < len(addresses)."""
  if isinstance(index, bool) or not isinstance(index, int) or not (
      0 <= index < len(addresses)):
    raise ValueError(f"`{argument}` must lie in [0, {len(addresses)}) for a "
                     f"cluster of {len(addresses)} workers, got {index!r}.")
  return index


def tf_config(addresses, index):
  """The `TF_CONFIG` value (a JSON string) for worker `index`."""
  check_worker_index(index, addresses)
  return json.dumps({"cluster": {"worker": list(addresses)},
                     "task": {"type": "worker", "index": index}})


def peers(tf_config_json):
  """The other workers' addresses in a `TF_CONFIG` value."""
  config = json.loads(tf_config_json)
  workers = config["cluster"]["worker"]
  return [a for i, a in enumerate(workers) if i != config["task"]["index"]]


def _split(address):
  host, _, port = address.rpartition(":")
  return host, int(port)


def check_port_free(address):
  """Raises OSError naming `address` if this machine cannot listen on it
  (another process holds the port, or the host is not this machine's)."""
  host, port = _split(address)
  with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
    # A port a finished job left in TIME_WAIT is free to listen on again.
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
      probe.bind((host, port))
    except OSError as e:
      raise OSError(f"cannot listen on {address}: {e.strerror or e}. Is "
                    "another process using the port?") from e


def free_addresses(count, host="localhost"):
  """`count` "host:port" addresses whose ports were free just now."""
  probes, addresses = [], []
  try:
    for _ in range(count):
      probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
      probes.append(probe)
      probe.bind((host, 0))
      addresses.append(f"{host}:{probe.getsockname()[1]}")
  finally:
    for probe in probes:
      probe.close()
  return tuple(addresses)


def unreachable(addresses, timeout_s=2.0):
  """The addresses that refuse or ignore a TCP connection."""
  down = []
  for address in addresses:
    try:
      socket.create_connection(_split(address), timeout=timeout_s).close()
    except OSError:
      down.append(address)
  return down


class Watchdog:
  """Ends this process if the job makes no progress for `timeout_s` seconds.

  A worker of a multi-worker job waits inside TensorFlow's collective ops
  for its peers, at start-up and at every step, holding Python's GIL and
  deaf to SIGTERM: a peer that never starts, or one that died, would leave
  it waiting for ever, and no thread of its own could end the wait. So the
  watchdog is a separate small process (`python -m gru_common.cluster`)
  that reads a heartbeat from a pipe; after `timeout_s` seconds without
  one it writes an error naming the peers that do not answer and kills
  this process with SIGKILL.

  Use as a context manager around the work; call `beat()` after each unit
  of progress (a step).
  """

  def __init__(self, timeout_s, peer_addresses=()):
    if not timeout_s > 0:
      raise ValueError(f"`timeout_s` must be > 0, got {timeout_s!r}.")
    self._argv = [sys.executable, "-m", __name__, str(os.getpid()),
                  repr(float(timeout_s)), *peer_addresses]
    self._helper = None

  def beat(self):
    try:
      self._helper.stdin.write(b".")
      self._helper.stdin.flush()
    except (BrokenPipeError, ValueError):
      pass  # the helper has gone; it kills this process as it goes

  def __enter__(self):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in sys.path if p))
    self._helper = subprocess.Popen(self._argv, stdin=subprocess.PIPE,
                                    env=env)
    return self

  def __exit__(self, *exc):
    self._helper.stdin.close()  # end of input: the helper exits
    self._helper.wait()


def _watch(parent_pid, timeout_s, peer_addresses, stdin_fd=0):
  """The watchdog process: kills `parent_pid` after `timeout_s` seconds
  without a byte on `stdin_fd`; returns at end of input."""
  while True:
    ready, _, _ = select.select([stdin_fd], [], [], timeout_s)
    if ready:
      if not os.read(stdin_fd, 4096):
        return 0
      continue
    down = unreachable(peer_addresses)
    if down:
      reason = (f"these workers never came up or have died: {down}. Start "
                "every worker; a job restarted with the same output folder "
                "resumes from its last checkpoint.")
    else:
      reason = ("every peer accepts connections, but the step did not "
                "finish: a peer may have restarted alone. Restart every "
                "worker.")
    sys.stderr.write(f"ERROR: worker process {parent_pid} made no progress "
                     f"for {timeout_s:g} s, waiting for its peers: "
                     f"{reason} Stopping it.\n")
    sys.stderr.flush()
    try:
      os.kill(parent_pid, signal.SIGKILL)
    except ProcessLookupError:
      pass
    return WATCHDOG_EXIT


def stop(processes):
  """SIGTERM, then after `STOP_GRACE_S` SIGKILL, every running process."""
  running = [p for p in processes if p.poll() is None]
  for p in running:
    p.send_signal(signal.SIGTERM)
  deadline = time.monotonic() + STOP_GRACE_S
  for p in running:
    try:
      p.wait(max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
      p.kill()
      p.wait()


def launch_local_workers(command_for, count, log=print, poll_s=0.2):
  """Runs `count` worker processes on free localhost ports until all end.

  Each worker is `command_for(index, addresses)` (an argv list) with
  `TF_CONFIG` set for it. If one fails, the others are stopped (they would
  wait for it until their watchdogs fire), so the launch ends promptly.

  Args:
    command_for: (index, addresses) -> argv of worker `index`.
    count: workers (>= 1).
    log: called with a line per worker started and on failure.
    poll_s: seconds between checks of the workers.

  Returns:
    0 if every worker exited 0; else the first failed worker's exit
    status, or 1 if a signal ended it.
  """
  if isinstance(count, bool) or not isinstance(count, int) or count < 1:
    raise ValueError(f"`count` must be an integer >= 1, got {count!r}.")
  addresses = free_addresses(count)
  processes = []
  try:
    for index in range(count):
      env = dict(os.environ, TF_CONFIG=tf_config(addresses, index))
      processes.append(subprocess.Popen(command_for(index, addresses),
                                        env=env))
      log(f"# worker {index} of {count}: pid {processes[-1].pid}, "
          f"{addresses[index]}")
    while True:
      codes = [p.poll() for p in processes]
      failed = [(i, c) for i, c in enumerate(codes) if c not in (None, 0)]
      if failed:
        index, code = failed[0]
        log(f"# worker {index} exited with status {code}; stopping the "
            "others. Run the same command again to resume from the last "
            "checkpoint.")
        return code if code > 0 else 1
      if all(c == 0 for c in codes):
        return 0
      time.sleep(poll_s)
  finally:
    stop(processes)


if __name__ == "__main__":
  sys.exit(_watch(int(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]))
