"""What the benchmark runs: workloads, and one step of each implementation.

Implementations of a workload's step:

    legacy            the legacy graph in a tf.compat.v1.Session (TF1 control
                      flow, as the legacy jobs run it)
    tf2               this project's layer under tf.function (for the seed
                      job with a keras.layers.Dense head)
    tf2_xla           the same under tf.function(jit_compile=True)
    tf2_fast          the layer's sequence-level mode (`mode="fast"`,
                      tf2/fast_gru.py): the input projection and the weight
                      gradients one matmul each over every step; on the
                      seed job, the job's fast configuration as it ships
                      (that mode under XLA), where tf2 and tf2_xla run the
                      layer's exact mode
    tf2_exact         seed job only: the exact job model (PerSequenceDense
                      head), bitwise equal to legacy
    keras             stock keras.layers.GRU(reset_after=False) holding the
                      converted weights, under tf.function (Keras's default
                      on CPU: no XLA)
    keras_xla         the same under tf.function(jit_compile=True), which
                      Keras does not choose on a CPU-only machine (its
                      jit_compile="auto" turns XLA off there): it shows how
                      much of tf2_xla's lead is XLA's
    fused_experiment  the classic GRU optimization, measured and kept out of
                      the layers: all inputs projected in one matmul before
                      the loop (bias folded in), z and r's recurrent matmuls
                      fused, gates sliced from the results
    floor             the GRU's six matmuls per step in its dependency order
                      (x W_r + h U_r, then x W_h + that @ U_h, and
                      x W_z + h U_z), added instead of gated, forward and
                      backward: the work no GRU can skip

The profile parts (the tutorial GRU's workloads) split tf2_fast's step
into the work it consists of, each timed alone in the same interleaved
rounds, and each run as the fast path runs it (the loops under XLA, the
matmuls over every step by TensorFlow); an inference step has the forward
halves only, and no kernels' gradients:

    part_sequential   the per-step matmuls the state waits for: forward
                      h U_z, h U_r, (r h) U_c, backward dG_g U_g^T, as
                      loops of `time` steps with the same shapes and
                      dependencies
    part_kernel_grads the recurrent kernels' per-step gradient matmuls
                      (h^T dZ, h^T dR, (r h)^T dC, accumulated), which the
                      fast path runs beside the sequential ones
    part_large        the matmuls over every step at once: the input
                      projection X [W_z W_r W_c] and its kernels' gradient
                      X^T dG
    part_elementwise  the loops with the matmuls' results given: the gate
                      nonlinearities, the mixing and their derivatives, and
                      the loops' per-step reads and writes

The remainder of tf2_fast's step (`run.profile`) is the rest: loss, Adam
update, transposes and stacking, dispatch; negative where the parts
overlapped on the two cores (the kernels' gradients are meant to).

A training step is forward, loss, gradients and an Adam update (TF1's
AdamOptimizer, TF1Adam, keras Adam); the floor's has no update and no head.
An inference step is the forward pass over the whole sequence. The seed
job's step is the addition job's own (its output layer and quadratic loss).
"""

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from gru_common import addition_data
from gru_common import job_configs
from legacy import addition_job as legacy_addition
from legacy import loop_gru
from legacy import runtime
from migration.kinds import seeds
from migration import mapping
from migration import models
import tf2
from tf2 import addition_job as tf2_addition

_v1 = tf.compat.v1

MATMUL_PARTS = ("part_sequential", "part_kernel_grads", "part_large")
PARTS = MATMUL_PARTS + ("part_elementwise",)
IMPLEMENTATIONS = ("legacy", "tf2", "tf2_xla", "tf2_fast", "tf2_exact",
                   "keras",
                   "keras_xla", "fused_experiment", "floor") + PARTS
# The TF2 configurations this project ships (the ratios use the fastest).
TF2 = ("tf2", "tf2_xla", "tf2_fast", "tf2_exact")


@dataclasses.dataclass(frozen=True)
class Workload:
  key: str
  title: str
  family: str
  batch: int
  time: int
  input_dim: int
  units: int
  dtype: str
  train: bool
  repeats: int

  def inputs(self):
    if self.key.startswith("seed"):
      return addition_data.make_datasets(0, self.time, self.batch)[:2]
    rng = np.random.RandomState(0)
    return (rng.uniform(-1, 1, (self.batch, self.time, self.input_dim))
            .astype(self.dtype), None)


WORKLOADS = {
    "seed_train": Workload("seed_train", "seed job: training step",
                           seeds.SCAN, 100, 5, 2, 16, "float64", True,
                           repeats=60),
    "scale_train": Workload("scale_train", "scale: training step",
                            seeds.LOOP, 256, 100, 64, 256, "float32",
                            True, repeats=12),
    "small_train": Workload("small_train",
                            "small batch: training step (per-op overhead)",
                            seeds.LOOP, 32, 100, 64, 256, "float32",
                            True, repeats=20),
    "scale_infer": Workload("scale_infer", "scale: inference",
                            seeds.LOOP, 256, 100, 64, 256, "float32",
                            False, repeats=10),
    "long_infer": Workload("long_infer", "long sequence: inference",
                           seeds.LOOP, 32, 1000, 64, 128, "float32",
                           False, repeats=5),
}


def quick(workload):
  """A tiny version of a workload, for smoke tests."""
  return dataclasses.replace(
      workload, batch=min(workload.batch, 8), time=min(workload.time, 6),
      input_dim=min(workload.input_dim, 4), units=min(workload.units, 8),
      repeats=2)


def _weights(workload):
  spec = _spec(workload)
  rng = np.random.RandomState(1)
  scale = 1.0 / np.sqrt(workload.units)
  return {n: rng.normal(0, scale, s).astype(workload.dtype)
          for n, s in spec.shapes().items()}


def _spec(workload):
  head = seeds.ADDITION if workload.key.startswith("seed") else None
  return seeds.model(workload.family, workload.units, workload.input_dim,
                     workload.dtype, head=head,
                     head_units=1 if head else None)


def _sync(values):
  """Fetches results so that a step is complete when it returns."""
  return [np.asarray(v) for v in tf.nest.flatten(values)]


def applies(name, workload):
  """Whether `name` runs on `workload` (tf2_exact is the seed job's; the
  profile parts split the tutorial GRU's steps, and an inference step has
  no kernels' gradients)."""
  if name in PARTS:
    return workload.family == seeds.LOOP and (
        workload.train or name != "part_kernel_grads")
  return name != "tf2_exact" or workload.key.startswith("seed")


def build(name, workload):
  """A zero-argument callable that runs one step of `name` on `workload`."""
  return {"legacy": _legacy, "tf2": _tf2, "tf2_xla": _tf2, "tf2_fast": _tf2,
          "tf2_exact": _tf2,
          "keras": _keras, "keras_xla": _keras,
          "fused_experiment": _fused_experiment,
          "floor": _floor, "part_sequential": _part_sequential,
          "part_kernel_grads": _part_kernel_grads,
          "part_large": _part_large,
          "part_elementwise": _part_elementwise}[name](name, workload)


def _legacy(name, workload):
  del name
  x, y = workload.inputs()
  graph = tf.Graph()
  with graph.as_default(), runtime.tf1_control_flow():
    _v1.set_random_seed(0)
    if workload.key.startswith("seed"):
      config = job_configs.AdditionConfig(num_bits=workload.time,
                                      batch_size=workload.batch,
                                      hidden_size=workload.units,
                                      input_dimensions=workload.input_dim)
      g = legacy_addition.build_graph(config)
      fetches = [g.train_step, g.loss] if workload.train else g.output
      feed = {g.gru.input_layer: x, g.expected_output: y}
      threads = 1    # as the legacy job runs
    else:
      inputs = _v1.placeholder(workload.dtype, (None, None,
                                                workload.input_dim))
      gru = loop_gru.GRU(inputs, workload.input_dim, workload.units)
      outputs = gru.output()
      fetches = outputs
      if workload.train:
        loss = tf.reduce_mean(tf.square(outputs))
        fetches = [_v1.train.AdamOptimizer().minimize(loss), loss]
      feed = {inputs: x}
      threads = 0    # TensorFlow's default: every core
    init = _v1.global_variables_initializer()
  session = _v1.Session(graph=graph, config=legacy_session_config(threads))
  session.run(init)
  return lambda: session.run(fetches, feed)


def legacy_session_config(threads):
  """The legacy steps' session options: `threads` inter- and intra-op
  threads (`runtime.session_config`), in inter-op pools of the session's
  own. Without them TensorFlow sizes one inter-op pool for every session of
  the process from the first session's options, and the seed workload's
  one thread would serialize the scale workloads' legacy steps (BUILD.md,
  Performance)."""
  config = runtime.session_config(threads)
  config.use_per_session_threads = True
  return config


def _tf2(name, workload):
  jit = name == "tf2_xla"
  if workload.key.startswith("seed"):
    jit = name in ("tf2_xla", "tf2_fast")
    config = tf2_addition.Config(num_bits=workload.time,
                                 batch_size=workload.batch,
                                 hidden_size=workload.units,
                                 input_dimensions=workload.input_dim,
                                 exact=name == "tf2_exact",
                                 gru_mode="fast" if name == "tf2_fast" else
                                 "exact")
    trainer = tf2_addition.Trainer(config)
    x, y = (tf.constant(a) for a in workload.inputs())
    if workload.train:
      step = tf.function(lambda: trainer.train_step(x, y), jit_compile=jit)
    else:
      step = tf.function(lambda: trainer.model(x), jit_compile=jit)
    return lambda: _sync(step())
  layer = tf2.LoopGRU(workload.units, return_sequences=True,
                      dtype=workload.dtype,
                      mode="fast" if name == "tf2_fast" else "exact")
  layer.build((None, None, workload.input_dim))
  for w, v in zip(layer.weights, _weights(workload).values(), strict=True):
    w.assign(v)
  return _train_or_infer(workload, layer, layer.trainable_variables,
                         optimizer=tf2.TF1Adam(), jit=jit)


def stock_keras_model(workload):
  """The converted stock-Keras model of `workload`'s GRU (its weights)."""
  spec = _spec(workload)
  model = models.build(spec, mapping.KERAS)
  mapping.to_model(_weights(workload), mapping.placements(spec, model,
                                                          mapping.KERAS))
  return model


def _keras(name, workload):
  y = workload.inputs()[1]
  model = stock_keras_model(workload)
  loss_fn = None
  if workload.key.startswith("seed"):
    y = tf.constant(y)
    loss_fn = lambda out: tf2_addition.quadratic_loss(out, y, workload.batch)  # pylint: disable=g-long-lambda
  return _train_or_infer(workload, model, model.trainable_variables, loss_fn,
                         keras.optimizers.Adam(epsilon=1e-8),
                         jit=name == "keras_xla")


def _gate_weights(workload, rng):
  """Variables W (in, 3u) and U (u, 3u) split per gate [z, r, h], bias."""
  d, u, dtype = workload.input_dim, workload.units, workload.dtype

  def var(shape, fan_in):
    return tf.Variable(rng.normal(0, 0.5 / np.sqrt(fan_in), shape).astype(
        dtype))

  return ([var((d, u), d) for _ in range(3)], [var((u, u), u)
                                               for _ in range(3)],
          tf.Variable(np.zeros(3 * u, dtype)))


def _train_or_infer(workload, forward, variables, loss_fn=None,
                    optimizer=None, jit=False):
  """A step: forward, or forward + loss + gradients (+ optimizer update)."""
  x = tf.constant(workload.inputs()[0])
  if not workload.train:
    step = tf.function(lambda: forward(x), jit_compile=jit)
    return lambda: _sync(step())
  loss_fn = loss_fn or (lambda out: tf.reduce_mean(tf.square(out)))

  def train_step():
    with tf.GradientTape() as tape:
      loss = loss_fn(forward(x))
    grads = tape.gradient(loss, variables)
    if optimizer is not None:
      optimizer.apply(grads, variables)
      return loss
    return grads

  step = tf.function(train_step, jit_compile=jit)
  return lambda: _sync(step())


def _fused_experiment(name, workload):
  del name
  b, t, d, u = (workload.batch, workload.time, workload.input_dim,
                workload.units)
  dtype = workload.dtype
  (w_z, w_r, w_h), (u_z, u_r, u_h), bias = _gate_weights(
      workload, np.random.RandomState(3))
  seed = workload.key.startswith("seed")
  head = [tf.Variable(np.zeros((u, 1), dtype)),
          tf.Variable(np.zeros(1, dtype))] if seed else []

  def forward(x):
    kernel = tf.concat([w_z, w_r, w_h], 1)
    u_zr = tf.concat([u_z, u_r], 1)
    projected = tf.reshape(tf.matmul(tf.reshape(x, (b * t, d)), kernel) +
                           bias, (b, t, 3 * u))
    steps = tf.TensorArray(dtype, size=t).unstack(
        tf.transpose(projected, (1, 0, 2)))
    outputs = tf.TensorArray(dtype, size=t)

    def body(i, h, outputs):
      p = steps.read(i)
      zr = tf.sigmoid(p[:, :2 * u] + tf.matmul(h, u_zr))
      z, r = zr[:, :u], zr[:, u:]
      n = tf.tanh(p[:, 2 * u:] + tf.matmul(r * h, u_h))
      h = (1 - z) * h + z * n if seed else (1 - z) * n + z * h
      return i + 1, h, outputs.write(i, h)

    _, _, outputs = tf.while_loop(lambda i, *_: i < t, body,
                                  (0, tf.zeros((b, u), dtype), outputs),
                                  maximum_iterations=t)
    out = tf.transpose(outputs.stack(), (1, 0, 2))
    if seed:
      out = tf.matmul(out, head[0]) + head[1]
    return out

  loss_fn = None
  if seed:
    y = tf.constant(workload.inputs()[1])
    loss_fn = lambda out: tf2_addition.quadratic_loss(out, y, b)  # pylint: disable=g-long-lambda
  variables = [w_z, w_r, w_h, u_z, u_r, u_h, bias] + head
  return _train_or_infer(workload, forward, variables, loss_fn,
                         tf2.TF1Adam())


def _floor(name, workload):
  del name
  b, t, u = workload.batch, workload.time, workload.units
  dtype = workload.dtype
  (w_z, w_r, w_h), (u_z, u_r, u_h), _ = _gate_weights(
      workload, np.random.RandomState(2))

  def forward(x):
    steps = tf.TensorArray(dtype, size=t).unstack(tf.transpose(x, (1, 0, 2)))
    outputs = tf.TensorArray(dtype, size=t)

    def body(i, h, outputs):
      x_t = steps.read(i)
      reset = tf.matmul(x_t, w_r) + tf.matmul(h, u_r)
      candidate = tf.matmul(x_t, w_h) + tf.matmul(reset, u_h)
      update = tf.matmul(x_t, w_z) + tf.matmul(h, u_z)
      h = candidate + update
      return i + 1, h, outputs.write(i, h)

    _, _, outputs = tf.while_loop(lambda i, *_: i < t, body,
                                  (0, tf.zeros((b, u), dtype), outputs),
                                  maximum_iterations=t)
    return outputs.stack()

  return _train_or_infer(workload, forward, [w_z, w_r, w_h, u_z, u_r, u_h])


def _part_tensors(workload):
  """Constants of the fast path's shapes: inputs, kernels, and per-step
  projections, states and gate values."""
  b, t, d, u = (workload.batch, workload.time, workload.input_dim,
                workload.units)
  rng = np.random.RandomState(4)

  def const(*shape):
    return tf.constant(rng.uniform(-0.5, 0.5, shape).astype(workload.dtype))

  return {"x": const(b * t, d), "w": const(d, 3 * u),
          "u": [const(u, u) for _ in range(3)], "h0": const(b, u),
          "steps": const(t, b, 3 * u), "d_gates": const(b * t, 3 * u)}


def _step_arrays(values, dtype):
  return tf.TensorArray(dtype, size=values.shape[0]).unstack(values)


def _part_sequential(name, workload):
  del name
  c = _part_tensors(workload)
  t, u = workload.time, workload.units
  u_z, u_r, u_c = c["u"]

  @tf.function(jit_compile=True)
  def step():
    def forward(i, h):
      z = tf.matmul(h, u_z)
      r = tf.matmul(h, u_r)
      return i + 1, tf.matmul(r * h, u_c) + z

    def backward(i, dh):
      g = tf.matmul(dh, u_c, transpose_b=True)
      return i + 1, (g + tf.matmul(g, u_z, transpose_b=True) +
                     tf.matmul(dh, u_r, transpose_b=True))

    _, h = tf.while_loop(lambda i, _: i < t, forward, (0, c["h0"]),
                         maximum_iterations=t)
    if not workload.train:
      return h
    _, dh = tf.while_loop(lambda i, _: i < t, backward,
                          (0, h[:, :u] * 0 + c["h0"]), maximum_iterations=t)
    return dh

  return lambda: _sync(step())


def _part_kernel_grads(name, workload):
  del name
  c = _part_tensors(workload)
  t, u = workload.time, workload.units
  states, d_gates = c["steps"][:, :, :u], c["steps"]

  @tf.function(jit_compile=True)
  def step():
    hs, ds = _step_arrays(states, workload.dtype), _step_arrays(
        d_gates, workload.dtype)

    def accumulate(i, d_u):
      h, d = hs.read(i), ds.read(i)
      return i + 1, [k + tf.matmul(h, d[:, g * u:(g + 1) * u],
                                   transpose_a=True)
                     for g, k in enumerate(d_u)]

    _, d_u = tf.while_loop(lambda i, _: i < t, accumulate,
                           (0, [tf.zeros_like(k) for k in c["u"]]),
                           maximum_iterations=t)
    return d_u

  return lambda: _sync(step())


def _part_large(name, workload):
  del name
  c = _part_tensors(workload)

  @tf.function
  def step():
    projected = tf.matmul(c["x"], c["w"])
    if not workload.train:
      return projected
    d_w = tf.matmul(c["x"], c["d_gates"], transpose_a=True)
    return projected, d_w

  return lambda: _sync(step())


def _part_elementwise(name, workload):
  del name
  c = _part_tensors(workload)
  t, u, dtype = workload.time, workload.units, workload.dtype
  given = c["steps"]   # what the matmuls would have produced, per step

  @tf.function(jit_compile=True)
  def step():
    pre = _step_arrays(given, dtype)

    def forward(i, h, hs, zs, rs, cs):
      p = pre.read(i)
      z = tf.sigmoid(p[:, :u] + h)
      r = tf.sigmoid(p[:, u:2 * u] + h)
      cand = tf.tanh(p[:, 2 * u:] + r * h)
      new = z * h + (1 - z) * cand
      return (i + 1, new, hs.write(i, new), zs.write(i, z), rs.write(i, r),
              cs.write(i, cand))

    def array():
      return tf.TensorArray(dtype, size=t)

    _, _, hs, zs, rs, cs = tf.while_loop(
        lambda i, *_: i < t, forward,
        (0, c["h0"], array(), array(), array(), array()),
        maximum_iterations=t)
    if not workload.train:   # the fast path's forward loop writes them all
      return hs.stack(), zs.stack(), rs.stack(), cs.stack()

    def backward(s, dh, dzs, drs, dcs):
      i = t - 1 - s
      h, z, r, cand = hs.read(i), zs.read(i), rs.read(i), cs.read(i)
      p = pre.read(i)
      dz, dc = dh * (h - cand), dh * (1 - z)
      dc_pre = dc * (1 - cand * cand)
      dz_pre = dz * z * (1 - z)
      dr_pre = p[:, 2 * u:] * h * r * (1 - r)
      return (s + 1, dh * z + p[:, :u] * r, dzs.write(i, dz_pre),
              drs.write(i, dr_pre), dcs.write(i, dc_pre))

    _, dh, dzs, drs, dcs = tf.while_loop(
        lambda s, *_: s < t, backward,
        (0, c["h0"], array(), array(), array()), maximum_iterations=t)
    return dh, dzs.stack(), drs.stack(), dcs.stack(), hs.stack()

  return lambda: _sync(step())
