"""Golden files: tiny legacy checkpoints with traceable values.

Each golden is a TF1 checkpoint of one legacy model, written with
TensorFlow's `SaveV2` (the op `tf.compat.v1.train.Saver` runs, so the legacy
graph restores it with a plain Saver), whose variables hold values anyone
can recompute: the k-th
element (row-major) of the i-th variable (legacy order) is

    (-1) ** k * (100 * i + k + 1) * SCALE

(alternating signs so every gate sees both), and an `expected.npz` with the
legacy graph's outputs on a traceable probe input, x[b, t, j] =
sin(1 + b + 10 t + 100 j), computed by the legacy graph.
`python -m compat_tests.regenerate_goldens` rewrites them (dry run by
default).
"""

import os

import numpy as np

from migration.kinds import seeds
from migration import legacy_graph
from migration import tf1_checkpoint

S = seeds.model
SCALE = 0.01
GOLDENS = {
    "scan_addition": S(seeds.SCAN, 3, 2, "float64",
                       head=seeds.ADDITION, head_units=1),
    "loop": S(seeds.LOOP, 3, 2, "float32"),
    "loop_no_reset": S(seeds.LOOP, 3, 2, "float32", reset_gate=False),
    "bigru_classifier": S(seeds.LOOP, 2, 2, "float32", bidirectional=True,
                          head=seeds.CLASSIFIER, head_units=3),
}
PROBE_SHAPE = (2, 4)     # batch, time
CHECKPOINT = "model.ckpt"
EXPECTED = "expected.npz"
# Where the goldens are committed.
FOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "goldens")


def traceable_values(spec):
  """{name: value} of the traceable weights, in legacy order."""
  values = {}
  for i, (name, shape) in enumerate(spec.shapes().items()):
    k = np.arange(int(np.prod(shape)))
    values[name] = ((-1.0) ** k * (100 * i + k + 1) * SCALE).reshape(
        shape).astype(spec.dtype)
  return values


def probe_inputs(spec):
  b, t, j = np.meshgrid(*(np.arange(n) for n in PROBE_SHAPE + (
      spec.input_dim,)), indexing="ij")
  return np.sin(1.0 + b + 10.0 * t + 100.0 * j).astype(spec.dtype)


def expected_outputs(spec, prefix):
  """The legacy graph's outputs on the probe, weights restored from prefix."""
  graph = legacy_graph.build(spec)
  return legacy_graph.run(graph, probe_inputs(spec), prefix=prefix)


def write(name, folder):
  """Writes golden `name` into folder/name; returns its files."""
  spec = GOLDENS[name]
  target = os.path.join(folder, name)
  os.makedirs(target, exist_ok=True)
  prefix = os.path.join(target, CHECKPOINT)
  state = tf1_checkpoint.LegacyState(spec, traceable_values(spec))
  tf1_checkpoint.write(state, prefix, overwrite=True)
  outputs = expected_outputs(spec, prefix)
  np.savez(os.path.join(target, EXPECTED), **outputs)
  return sorted(os.listdir(target))
