"""Real legacy checkpoints of every model variant, written by the legacy
graphs themselves (tf.compat.v1.train.Saver), with TF1 Adam state."""

import contextlib
import hashlib
import os
import time

import numpy as np
import tensorflow as tf

from legacy import runtime
from migration.kinds import seeds
from migration import legacy_graph
from migration import tf1_checkpoint

_v1 = tf.compat.v1
S = seeds.model

SPECS = {
    "scan_float32": S("scan", 4, 3, "float32"),
    "scan_addition": S("scan", 6, 2, "float64", head="addition",
                       head_units=1),
    "loop": S("loop", 5, 3, "float32"),
    "loop_no_reset": S("loop", 5, 3, "float32", reset_gate=False),
    "loop_classifier": S("loop", 5, 8, "float32", head="classifier",
                         head_units=10),
    "bigru": S("loop", 4, 3, "float32", bidirectional=True),
    "bigru_float64": S("loop", 3, 2, "float64", bidirectional=True),
    "bigru_no_reset_classifier": S("loop", 4, 3, "float32", reset_gate=False,
                                   bidirectional=True, head="classifier",
                                   head_units=6),
}


def random_state(spec, seed=0, scale=0.5):
  """A `LegacyState` of `spec`, every weight drawn from N(0, scale) (so
  every gate matters), without optimizer state: no graph, no file."""
  rng = np.random.RandomState(seed)
  return tf1_checkpoint.LegacyState(spec, {
      n: rng.normal(0, scale, s).astype(spec.dtype)
      for n, s in spec.shapes().items()})


def make(spec, prefix, adam=True, steps=2, seed=0, scale=0.5):
  """Writes a checkpoint of `spec` at `prefix`; returns the prefix.

  Weights are drawn from N(0, scale) (so every gate matters), then, with
  `adam`, trained `steps` Adam steps on random inputs so that the slots and
  beta powers hold real values.
  """
  legacy = legacy_graph.build(spec, seed=seed)
  rng = np.random.RandomState(seed)
  with legacy.graph.as_default(), runtime.tf1_control_flow():
    out = legacy.outputs.get("head", legacy.outputs["gru"])
    loss = tf.reduce_sum(tf.square(out))
    train = _v1.train.AdamOptimizer(0.01).minimize(loss) if adam else None
    saver = _v1.train.Saver()
    with _v1.Session() as session:
      session.run(_v1.global_variables_initializer())
      legacy_graph.load(session, legacy.variables, {
          n: rng.normal(0, scale, v.shape).astype(spec.dtype)
          for n, v in legacy.variables.items()})
      for _ in range(steps if adam else 0):
        x = rng.uniform(-1, 1, (4, 6, spec.input_dim)).astype(spec.dtype)
        session.run(train, {legacy.inputs: x})
      return saver.save(session, prefix, write_meta_graph=False)


def make_all(folder):
  """{variant: prefix} of a checkpoint of every variant in SPECS, made once
  per folder: of processes sharing it (pytest-xdist workers), the first to
  take its lock writes them."""
  done = os.path.join(folder, "done")
  os.makedirs(folder, exist_ok=True)
  with shared_lock(os.path.join(folder, "lock")):
    if not os.path.exists(done):
      for name, spec in SPECS.items():
        os.makedirs(os.path.join(folder, name), exist_ok=True)
        make(spec, os.path.join(folder, name, "model.ckpt"))
      with open(done, "w") as f:
        f.write("ok")
  return {name: os.path.join(folder, name, "model.ckpt") for name in SPECS}


@contextlib.contextmanager
def shared_lock(path, timeout=600):
  """An exclusive lock between processes: a file created with O_EXCL."""
  deadline = time.monotonic() + timeout
  while True:
    try:
      fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
      break
    except FileExistsError:
      assert time.monotonic() < deadline, f"lock {path} held too long"
      time.sleep(0.1)
  try:
    yield
  finally:
    os.close(fd)
    os.remove(path)


def digest(paths):
  """One SHA-256 over the contents of `paths` (to prove them unchanged)."""
  h = hashlib.sha256()
  for p in sorted(paths):
    with open(p, "rb") as f:
      h.update(f.read())
  return h.hexdigest()
