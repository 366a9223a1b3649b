"""TF1 programs as users wrote them around the seed GRUs, and their goldens.

Each case builds the legacy ports' classes (`legacy/`) the way a real TF1
program would: inside the user's variable scopes, next to other layers,
with a `global_step`, trained by one of TF1's own optimizers, with
`ExponentialMovingAverage` shadows. It trains a few steps on random data
and saves with a plain `tf.compat.v1.train.Saver`, so the checkpoint holds
exactly the names TF1 writes.

`python -m compat_tests.regenerate_goldens` writes them into
compat_tests/goldens/tf1_programs/<case>/ (a dry run by default). The tests
restore each golden into its case's graph, rebuilt, and compare that graph's
outputs with the converted models'.
"""

import contextlib
import dataclasses
import os

import numpy as np
import tensorflow as tf

from legacy import heads
from legacy import loop_gru
from legacy import runtime
from legacy import scan_gru
from migration.kinds import seeds

_v1 = tf.compat.v1
CHECKPOINT = "model.ckpt"
FOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "goldens",
                      "tf1_programs")
STEPS = 3


@dataclasses.dataclass(frozen=True)
class Seed:
  """A seed GRU and its head: the arguments of `seeds.model`."""
  family: str
  units: int
  input_dim: int
  dtype: str
  bidirectional: bool = False
  head: str = None
  head_units: int = None


@dataclasses.dataclass(frozen=True)
class Part:
  """One seed GRU (and its head) inside the program."""
  scope: str                    # '' root, or nested: 'model/encoder'
  seed: Seed
  head_outside: bool = False    # the head is built at the root

  def description(self):
    """What detection should find: the seed under its scopes."""
    return seeds.model(**dataclasses.asdict(self.seed), scope=self.scope,
                       head_scope="" if self.head_outside else None)


@dataclasses.dataclass(frozen=True)
class Case:
  parts: tuple
  optimizer: str = "Adam"       # a key of OPTIMIZERS
  global_step: bool = False
  ema: bool = False
  extra_layer: bool = False     # an unrelated layer 'aux/kernel'


ADDITION = Seed(seeds.SCAN, 4, 2, "float64", head=seeds.ADDITION,
                head_units=1)
CLASSIFIER = Seed(seeds.LOOP, 3, 2, "float32", head=seeds.CLASSIFIER,
                  head_units=3)
BIGRU = Seed(seeds.LOOP, 3, 2, "float32", bidirectional=True,
             head=seeds.CLASSIFIER, head_units=3)

CASES = {
    "scoped": Case((Part("encoder", ADDITION),)),
    "nested": Case((Part("model/encoder/rnn", CLASSIFIER),)),
    "two_grus": Case((Part("encoder", Seed(seeds.SCAN, 3, 2, "float64")),
                      Part("decoder", BIGRU))),
    "global_step": Case((Part("", ADDITION),), global_step=True),
    "rmsprop": Case((Part("", CLASSIFIER),), optimizer="RMSProp",
                    global_step=True),
    "momentum": Case((Part("", ADDITION),), optimizer="Momentum"),
    "ema": Case((Part("", BIGRU),), ema=True, global_step=True),
    "extra_layer": Case((Part("gru", ADDITION),), extra_layer=True),
    "head_outside": Case((Part("encoder", ADDITION, head_outside=True),),
                         global_step=True),
}

OPTIMIZERS = {
    "Adam": lambda: _v1.train.AdamOptimizer(0.01),
    "Momentum": lambda: _v1.train.MomentumOptimizer(0.01, 0.9),
    "RMSProp": lambda: _v1.train.RMSPropOptimizer(0.01),
}


@dataclasses.dataclass
class Program:
  graph: tf.Graph
  inputs: dict        # {scope: placeholder}
  outputs: dict       # {scope: {"gru": tensor, "head": tensor}}
  train: object       # the training op
  saver: object       # a Saver of every global variable
  ema: object = None  # the ExponentialMovingAverage, if the case has one


def _scopes(scope):
  """Enters each part of a nested scope in turn, as nested code does."""
  stack = contextlib.ExitStack()
  for part in filter(None, scope.split("/")):
    stack.enter_context(_v1.variable_scope(part))
  return stack


def build(case):
  """The case's program in a new graph (variables not yet initialized)."""
  graph = tf.Graph()
  with graph.as_default(), runtime.tf1_control_flow():
    _v1.set_random_seed(0)
    inputs, outputs, late_heads = {}, {}, []
    for part in case.parts:
      spec = part.seed
      with _scopes(part.scope):
        if spec.family == seeds.SCAN:
          gru = scan_gru.GRU(spec.input_dim, spec.units,
                             dtype=tf.as_dtype(spec.dtype))
          x, out = gru.input_layer, gru.h_t
          head = lambda gru=gru: heads.addition_output(gru.h_t)[2]
        else:
          x = _v1.placeholder(spec.dtype, (None, None, spec.input_dim),
                              name="inputs")
          rnn = (loop_gru.BiGRU(x, spec.input_dim, spec.units)
                 if spec.bidirectional else
                 loop_gru.GRU(x, spec.input_dim, spec.units))
          out = rnn.output()
          head = lambda out=out, c=spec.head_units: heads.classifier_logits(
              out, c)
        inputs[part.scope] = x
        outputs[part.scope] = {"gru": out}
        if spec.head and not part.head_outside:
          outputs[part.scope]["head"] = head()
      if spec.head and part.head_outside:
        late_heads.append((part.scope, head))
    for scope, head in late_heads:
      outputs[scope]["head"] = head()
    loss = tf.add_n([tf.cast(tf.reduce_sum(tf.square(
        o.get("head", o["gru"]))), tf.float32) for o in outputs.values()])
    if case.extra_layer:
      first = outputs[case.parts[0].scope]["gru"]
      with _v1.variable_scope("aux"):
        kernel = _v1.Variable(_v1.random_normal(
            [int(first.shape[-1]), 2], dtype=first.dtype), name="kernel")
      loss += tf.cast(tf.reduce_sum(tf.square(tf.tensordot(
          first, kernel, 1))), tf.float32)
    step = _v1.train.get_or_create_global_step() if case.global_step else None
    train = OPTIMIZERS[case.optimizer]().minimize(loss, global_step=step)
    ema = None
    if case.ema:
      ema = _v1.train.ExponentialMovingAverage(0.9)
      with tf.control_dependencies([train]):
        train = ema.apply(_v1.trainable_variables())
    saver = _v1.train.Saver()
  return Program(graph, inputs, outputs, train, saver, ema)


def feeds(program, case, rng, batch=3, time=5):
  """Random inputs for every part's placeholder."""
  return {program.inputs[p.scope]: rng.uniform(
      -1, 1, (batch, time, p.seed.input_dim)).astype(p.seed.dtype)
          for p in case.parts}


def write(name, folder):
  """Trains case `name` and saves it into folder/name; returns its files."""
  case = CASES[name]
  program = build(case)
  target = os.path.join(folder, name)
  os.makedirs(target, exist_ok=True)
  rng = np.random.RandomState(0)
  with program.graph.as_default(), _v1.Session(
      config=runtime.session_config()) as session:
    session.run(_v1.global_variables_initializer())
    for _ in range(STEPS):
      session.run(program.train, feeds(program, case, rng))
    program.saver.save(session, os.path.join(target, CHECKPOINT),
                       write_meta_graph=False, write_state=False)
  return sorted(os.listdir(target))


def run(name, prefix, x, use_ema=False):
  """{scope: {"gru": ..., "head": ...}} of case `name`'s graph restored from
  `prefix` (with `use_ema`, its EMA shadows, as TF1 served them), on x
  ({scope: inputs})."""
  case = CASES[name]
  program = build(case)
  with program.graph.as_default(), _v1.Session(
      config=runtime.session_config()) as session:
    saver = program.saver
    if use_ema:
      # TF1's serving idiom: each variable restored from its shadow.
      saver = _v1.train.Saver(program.ema.variables_to_restore())
    saver.restore(session, prefix)
    return session.run(program.outputs, {program.inputs[s]: v
                                         for s, v in x.items()})


def prefix(name):
  return os.path.join(FOLDER, name, CHECKPOINT)
