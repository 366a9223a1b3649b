"""The comparisons that prove legacy and TF2 compute the same thing.

For a `Case` (a GRU, a variant, a dtype, a shape), `forward_and_gradients`
runs the legacy graph and compares against it:

    TF2 eager, TF2 tf.function       reference path: bitwise, outputs and the
                                     gradients (tape vs tf.gradients) of
                                     sum(outputs * probe) w.r.t. every weight
                                     and the inputs
    TF2 XLA (jit_compile=True)       within tolerances.XLA (gradients within
                                     GRADIENT_XLA)
    TF2 Model.predict                bitwise (tf2.ExactModel, as users call it)
    stock Keras (converted)          within tolerances.STOCK_KERAS, by
                                     Model.predict with floatx set to the
                                     model's dtype (a masked BiGRU: the
                                     layer, called with the mask)
    keras Bidirectional(LoopGRU)     BiGRU: bitwise (with lengths, masked:
                                     bitwise on valid steps)

`training` compares the addition job: the legacy run against TF2 runs from
the legacy run's initial weights and data (exact path: bitwise; fast path
and stock Keras Adam: within their bounds), per-step train and test losses,
final weights and the 1024 + 16 answer. `resumption` trains legacy for N
epochs, converts the checkpoint (Adam state included) and lets TF2 train M
more: the result must equal a legacy run of N + M epochs bit for bit.

Every comparison is a `compare.Check` with its measured difference and its
bound.
"""

import dataclasses
import tempfile

import keras
import numpy as np
import tensorflow as tf

from gru_common import compare
from gru_common import job_configs
from gru_common import keras_precision
from gru_common import names
from gru_common import tables
from gru_common import tolerances
from legacy import addition_job as legacy_addition
from legacy import loop_gru
from legacy import runtime
from legacy import scan_gru
from migration import convert
from migration.kinds import seeds
from migration import legacy_graph
from migration import mapping
from migration import models
from migration import tf1_checkpoint
import tf2
from tf2 import addition_job as tf2_addition

_v1 = tf.compat.v1

# The addition model's variables, in the legacy order.
ADDITION_VARIABLES = names.SCAN_GRU + names.ADDITION_OUTPUT


@dataclasses.dataclass(frozen=True)
class Case:
  """One GRU configuration to compare on."""
  family: str = seeds.SCAN
  dtype: str = "float64"
  batch: int = 4
  time: int = 7
  input_dim: int = 3
  units: int = 5
  reset_gate: bool = True
  revers: bool = False
  lengths: tuple = None
  bidirectional: bool = False
  seed: int = 0
  scale: float = 0.5

  def spec(self):
    return seeds.model(self.family, self.units, self.input_dim, self.dtype,
                       reset_gate=self.reset_gate,
                       bidirectional=self.bidirectional)

  def describe(self):
    variant = ("Data Blogger GRU" if self.family == seeds.SCAN else
               ("BiGRU" if self.bidirectional else "tutorial GRU"))
    extras = [] if self.reset_gate else ["no reset gate"]
    if self.revers:
      extras.append("revers")
    if self.lengths is not None:
      extras.append(f"lengths {list(self.lengths)}")
    extras.append(f"b{self.batch} t{self.time} in{self.input_dim} "
                  f"u{self.units}")
    return f"{variant} ({', '.join(extras)})"

  def inputs(self):
    rng = np.random.RandomState(self.seed)
    return rng.uniform(-1, 1, (self.batch, self.time, self.input_dim)).astype(
        self.dtype)

  def weights(self):
    """Legacy variable values in creation order, N(0, scale)."""
    rng = np.random.RandomState(self.seed + 1)
    return [rng.normal(0, self.scale, shape).astype(self.dtype)
            for shape in self.spec().shapes().values()]

  def probe(self):
    width = self.units * (2 if self.bidirectional else 1)
    rng = np.random.RandomState(self.seed + 2)
    return rng.normal(size=(self.batch, self.time, width)).astype(self.dtype)


def _row(name, dtype, ours, theirs, bound):
  ours, theirs = np.asarray(ours), np.asarray(theirs)
  return compare.Check(name, dtype, compare.compare(ours, theirs),
                       bound.for_dtype(dtype))


def _concat(arrays):
  return np.concatenate([np.asarray(a).ravel() for a in arrays])


# The legacy side.


@dataclasses.dataclass
class LegacyRun:
  outputs: np.ndarray
  weight_grads: list
  input_grad: np.ndarray


def legacy_run(case, weights=None, with_grads=True):
  """The legacy graph's outputs (and gradients of sum(outputs * probe))."""
  x = case.inputs()
  graph = tf.Graph()
  with graph.as_default(), runtime.tf1_control_flow():
    _v1.set_random_seed(case.seed)
    dtype = tf.as_dtype(case.dtype)
    if case.family == seeds.SCAN:
      gru = scan_gru.GRU(case.input_dim, case.units, dtype=dtype)
      inputs, outputs, variables = gru.input_layer, gru.h_t, gru.variables
      feed = {inputs: x}
    else:
      inputs = _v1.placeholder(dtype, (None, None, case.input_dim))
      feed = {inputs: x}
      lengths = None
      if case.lengths is not None:
        lengths = _v1.placeholder(tf.int32, (None,))
        feed[lengths] = list(case.lengths)
      cls = loop_gru.GRU if case.reset_gate else loop_gru.GRUNoResetGate
      if case.bidirectional:
        model = loop_gru.BiGRU(inputs, case.input_dim, case.units,
                               sequence_length=lengths, gru_class=cls)
      else:
        model = cls(inputs, case.input_dim, case.units,
                    sequence_length=lengths, revers=case.revers)
      outputs, variables = model.output(), model.variables
    grads = None
    if with_grads:
      loss = tf.reduce_sum(outputs * tf.constant(case.probe()))
      grads = tf.gradients(loss, variables + [inputs])
  with _v1.Session(graph=graph, config=runtime.session_config()) as session:
    with graph.as_default():
      session.run(_v1.global_variables_initializer())
    legacy_graph.load(session, {v.op.name: v for v in variables},
                      dict(zip([v.op.name for v in variables],
                               weights or case.weights(), strict=True)))
    out = session.run(outputs, feed)
    run = LegacyRun(out, None, None)
    if with_grads:
      values = session.run(grads, feed)
      run.weight_grads, run.input_grad = values[:-1], values[-1]
  return run


# The TF2 side.


def tf2_layer(case):
  """This project's layer for `case`, holding `case.weights()`."""
  if case.family == seeds.SCAN:
    layer = tf2.ScanGRU(case.units, return_sequences=True, dtype=case.dtype,
                        mode="exact")
  else:
    layer = tf2.LoopGRU(case.units, reset_gate=case.reset_gate,
                        return_sequences=True, dtype=case.dtype, mode="exact")
    if case.bidirectional:
      layer = tf2.LegacyBidirectional(layer)
  layer.build((None, None, case.input_dim))
  for weight, value in zip(layer.weights, case.weights(), strict=True):
    weight.assign(value)
  return layer


def tf2_call(case, layer):
  """Calls `layer` with the legacy semantics of `case` (see
  tf2/legacy_semantics.py)."""
  lengths = list(case.lengths) if case.lengths is not None else None

  def call(x):
    if case.bidirectional:
      return layer(x, sequence_lengths=lengths)
    if case.revers:
      x = tf2.legacy_semantics.reverse_sequence(x, lengths)
    return layer(x)

  return call


def tf2_predict(case, layer):
  """`layer` in a `tf2.ExactModel`, run by `Model.predict` as users run it
  (lengths, where the case has them, as a second input)."""
  lengths = list(case.lengths) if case.lengths is not None else None
  x = case.inputs()
  inputs = keras.Input((None, case.input_dim), dtype=case.dtype)
  if case.bidirectional and lengths is not None:
    lengths_input = keras.Input((), dtype="int32")
    model = tf2.ExactModel([inputs, lengths_input],
                           layer(inputs, sequence_lengths=lengths_input))
    feed = [x, np.asarray(lengths, np.int32)]
  else:
    if case.revers and not case.bidirectional:
      x = np.asarray(tf2.legacy_semantics.reverse_sequence(x, lengths))
    model = tf2.ExactModel(inputs, layer(inputs))
    feed = x
  return model.predict(feed, batch_size=len(x), verbose=0)


def tf2_outputs_and_grads(case, layer, mode):
  """(outputs, weight grads, input grad) in mode eager/function/xla."""
  call = tf2_call(case, layer)
  probe = tf.constant(case.probe())

  def run(x):
    with tf.GradientTape() as tape:
      tape.watch(x)
      out = call(x)
      loss = tf.reduce_sum(out * probe)
    grads = tape.gradient(loss, layer.weights + [x])
    return out, grads[:-1], grads[-1]

  if mode != "eager":
    run = tf.function(run, jit_compile=(mode == "xla"))
  out, weight_grads, input_grad = run(tf.constant(case.inputs()))
  return (np.asarray(out), [np.asarray(g) for g in weight_grads],
          np.asarray(input_grad))


def stock_keras_outputs(case):
  """The converter's stock-Keras model on `case` (None without reset gate).

  A BiGRU with lengths runs with a Keras mask, so only valid positions are
  comparable; the returned mask says which.
  """
  if not case.reset_gate:
    return None, None
  spec = case.spec()
  model = models.build(spec, mapping.KERAS)
  variable_names = spec.variable_names()
  mapping.to_model(dict(zip(variable_names, case.weights())),
                   mapping.placements(spec, model, mapping.KERAS))
  x = tf.constant(case.inputs())
  layer = model.get_layer(names.BIGRU_LAYER if case.bidirectional else
                          names.GRU_LAYER)
  valid = None
  if case.lengths is not None:
    valid = np.asarray(tf.sequence_mask(list(case.lengths), case.time))
  if case.bidirectional and case.lengths is not None:
    # The converted model has no mask input: the layer is called with one.
    return np.asarray(layer(x, mask=tf.constant(valid))), valid
  if case.revers:
    x = tf2.legacy_semantics.reverse_sequence(
        x, list(case.lengths) if case.lengths is not None else None)
  # Model.predict, with floatx set to the model's dtype as the README says
  # (stock Keras casts float arrays to floatx in predict).
  with keras_precision.floatx(case.dtype):
    return model.predict(np.asarray(x), batch_size=case.batch,
                         verbose=0), None


def keras_bidirectional_outputs(case):
  """keras.layers.Bidirectional(LoopGRU), the idiomatic BiGRU, masked by the
  case's lengths if any: (outputs, valid-step mask or None)."""
  layer = keras.layers.Bidirectional(tf2.LoopGRU(
      case.units, reset_gate=case.reset_gate, return_sequences=True,
      dtype=case.dtype, mode="exact"), dtype=case.dtype)
  layer.build((None, None, case.input_dim))
  for weight, value in zip(layer.weights, case.weights(), strict=True):
    weight.assign(value)
  x = tf.constant(case.inputs())
  if case.lengths is None:
    return np.asarray(layer(x)), None
  mask = tf.sequence_mask(list(case.lengths), case.time)
  return np.asarray(layer(x, mask=mask)), np.asarray(mask)


def forward_and_gradients(case, modes=("eager", "function", "xla", "predict",
                                       "keras")):
  """Every forward and gradient comparison for `case`; a list of
  `compare.Check`s."""
  legacy = legacy_run(case)
  legacy_grads = _concat(legacy.weight_grads)
  dtype = case.dtype
  rows = []
  paths = {
      "eager": ("TF2 eager", tolerances.BITWISE, tolerances.BITWISE),
      "function": ("TF2 tf.function", tolerances.BITWISE, tolerances.BITWISE),
      "xla": ("TF2 XLA", tolerances.XLA, tolerances.GRADIENT_XLA),
  }
  for mode in modes:
    if mode not in paths:
      continue
    label, bound, grad_bound = paths[mode]
    out, weight_grads, input_grad = tf2_outputs_and_grads(
        case, tf2_layer(case), mode)
    rows.append(_row(f"forward: {label} vs legacy", dtype, out,
                     legacy.outputs, bound))
    rows.append(_row(f"weight gradients: {label} tape vs legacy "
                     "tf.gradients", dtype, _concat(weight_grads),
                     legacy_grads, grad_bound))
    rows.append(_row(f"input gradients: {label} tape vs legacy "
                     "tf.gradients", dtype, input_grad, legacy.input_grad,
                     grad_bound))
  if "predict" in modes:
    rows.append(_row("forward: TF2 Model.predict vs legacy", dtype,
                     tf2_predict(case, tf2_layer(case)), legacy.outputs,
                     tolerances.BITWISE))
  if "keras" in modes:
    out, valid = stock_keras_outputs(case)
    if out is not None:
      ours, theirs = out, legacy.outputs
      label = "forward: stock Keras (converted) predict vs legacy"
      if valid is not None:
        ours, theirs = out[valid], legacy.outputs[valid]
        label += ", valid steps"
      rows.append(_row(label, dtype, ours, theirs, tolerances.STOCK_KERAS))
    if case.bidirectional:
      out, valid = keras_bidirectional_outputs(case)
      if valid is None:
        rows.append(_row("forward: keras Bidirectional(LoopGRU) vs legacy",
                         dtype, out, legacy.outputs, tolerances.BITWISE))
      else:
        rows.append(_row("forward: keras Bidirectional(LoopGRU) masked vs "
                         "legacy, valid steps", dtype, out[valid],
                         legacy.outputs[valid], tolerances.BITWISE))
  return rows


# Training.


@dataclasses.dataclass
class Curves:
  """Per-epoch losses of each run, for plotting."""
  legacy_train: np.ndarray
  legacy_test: np.ndarray
  runs: dict = dataclasses.field(default_factory=dict)  # label -> (tr, te)


TRAINING_RUNS = {
    # label: (exact path, optimizer, bounds by horizon)
    "TF2 exact path": (True, "tf1", {5000: tolerances.BITWISE}),
    "TF2 fast path": (False, "tf1", tolerances.TRAINING_FAST),
    "TF2 exact path, stock Keras Adam": (True, "keras",
                                         tolerances.TRAINING_KERAS_ADAM),
}


def _tf2_run(config, initial_values, exact, optimizer):
  tf2_config = tf2_addition.Config(**dataclasses.asdict(config), exact=exact,
                                   optimizer=optimizer)
  model = tf2_addition.build_model(tf2_config)
  for weight, name in zip(model.weights, ADDITION_VARIABLES, strict=True):
    weight.assign(initial_values[name])
  return tf2_addition.train(tf2_config, model=model, log=lambda _: None)


def training(config=job_configs.AdditionConfig(), runs=tuple(TRAINING_RUNS),
             log=print):
  """The addition job, legacy vs TF2 from the same weights and data.

  Returns:
    (rows, curves, timings) where timings maps each run to seconds.
  """
  log(f"training: legacy job, {config.epochs} epochs")
  legacy = legacy_addition.train(config, log=lambda _: None)
  curves = Curves(legacy.train_losses, legacy.test_losses)
  timings = {"legacy": legacy.wall_time_s}
  rows = []
  legacy_final = _concat([legacy.final_values[n] for n in ADDITION_VARIABLES])
  for label in runs:
    exact, optimizer, bounds = TRAINING_RUNS[label]
    bound = tolerances.for_horizon(bounds, config.epochs)
    log(f"training: {label}, {config.epochs} epochs")
    result = _tf2_run(config, legacy.initial_values, exact, optimizer)
    timings[label] = result.wall_time_s
    curves.runs[label] = (result.train_losses, result.test_losses)
    n = config.epochs
    rows += [
        _row(f"training, {n} epochs: {label} train losses vs legacy",
             "float64", result.train_losses, legacy.train_losses, bound),
        _row(f"training, {n} epochs: {label} test losses vs legacy",
             "float64", result.test_losses, legacy.test_losses, bound),
        _row(f"training, {n} epochs: {label} final weights vs legacy",
             "float64", _concat(result.final_values.values()),
             legacy_final, bound),
        _row(f"training, {n} epochs: {label} 1024+16 outputs vs legacy "
             f"(answers {result.prediction} vs {legacy.prediction})",
             "float64", result.query_output, legacy.query_output, bound),
    ]
  return rows, curves, timings


def resumption(first_epochs=100, more_epochs=100, seed=0, log=print):
  """Legacy N epochs -> TF1 checkpoint -> TF2 M epochs == legacy N + M."""
  log(f"resumption: legacy {first_epochs} + TF2 {more_epochs} vs legacy "
      f"{first_epochs + more_epochs}")
  whole = legacy_addition.train(job_configs.AdditionConfig(
      seed=seed, epochs=first_epochs + more_epochs), log=lambda _: None)
  with tempfile.TemporaryDirectory() as folder:
    first = legacy_addition.train(
        job_configs.AdditionConfig(seed=seed, epochs=first_epochs),
        output_dir=folder, log=lambda _: None)
    state = tf1_checkpoint.read(first.checkpoint_prefix)
  model, optimizer = convert.to_keras(state, mapping.TF2)
  config = tf2_addition.Config(seed=seed, epochs=more_epochs, exact=True)
  resumed = tf2_addition.train(config, model=model, optimizer=optimizer,
                               log=lambda _: None)
  label = f"resumption: legacy {first_epochs} + TF2 {more_epochs} epochs"
  return [
      _row(f"{label}, train losses vs legacy {first_epochs + more_epochs}",
           "float64", resumed.train_losses,
           whole.train_losses[first_epochs:], tolerances.BITWISE),
      _row(f"{label}, final weights vs legacy", "float64",
           _concat(resumed.final_values.values()),
           _concat([whole.final_values[n] for n in ADDITION_VARIABLES]),
           tolerances.BITWISE),
  ]


def format_table(rows):
  """The report's table, one line per row."""
  cells = []
  for r in rows:
    ulp = r.result.max_ulp
    # Exact counts while they are readable; ulps between values near 0
    # (late training losses) run to 1e14 and mean little, so 3 digits.
    ulp = f"{ulp}" if isinstance(ulp, int) and ulp < 10**7 else f"{ulp:.3g}"
    cells.append([r.name, r.dtype, f"{r.result.max_abs:.3e}", ulp,
                  "yes" if r.result.bitwise else "no",
                  "bitwise" if r.exact else f"{r.effective_bound:.1e}",
                  "pass" if r.passed else "FAIL"])
  return tables.format_table(
      [("comparison", "<", 0), ("dtype", "<", 7), ("max abs diff", ">", 12),
       ("max ulp", ">", 10), ("bitwise", "<", 7), ("bound", ">", 9),
       ("result", "<", 0)], cells, sep="  ", rule=True)


def standard_cases(family):
  """The shapes and variants the suite and the report sweep.

  Edge shapes (batch 1, time 1, input 1, hidden 1, time >= 200, hidden 256),
  lengths 0, 1 and T, unsorted and mixed in one batch; both dtypes. The
  large-hidden cases use the tutorial's init scale (N(0, 0.1)): N(0, 0.5)
  weights at hidden 256 would saturate every gate.
  """
  C = Case  # pylint: disable=invalid-name
  if family == seeds.SCAN:
    return [
        C(seeds.SCAN, "float64"),
        C(seeds.SCAN, "float32"),
        C(seeds.SCAN, "float64", batch=1, time=1, input_dim=1, units=1),
        C(seeds.SCAN, "float32", batch=2, time=200, units=8),
        C(seeds.SCAN, "float32", batch=3, time=6, input_dim=4, units=256,
          scale=0.1),
        C(seeds.SCAN, "float64", batch=3, time=6, input_dim=4, units=256,
          scale=0.1),
    ]
  L = seeds.LOOP  # pylint: disable=invalid-name
  return [
      C(L, "float32"),
      C(L, "float64"),
      C(L, "float32", reset_gate=False),
      C(L, "float32", lengths=(7, 0, 1, 3)),
      C(L, "float32", revers=True, lengths=(7, 0, 1, 3)),
      C(L, "float64", revers=True),
      C(L, "float32", bidirectional=True, lengths=(3, 7, 0, 1)),
      C(L, "float64", bidirectional=True),
      C(L, "float32", bidirectional=True, reset_gate=False,
        lengths=(1, 7, 7, 0)),
      C(L, "float32", batch=1, time=1, input_dim=1, units=1),
      C(L, "float32", batch=2, time=250, units=6, revers=True,
        lengths=(250, 100)),
      C(L, "float32", batch=3, time=6, input_dim=4, units=256, scale=0.1),
  ]
