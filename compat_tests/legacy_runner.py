"""Runs the legacy GRUs in a TF1 graph with given weights: outputs, gradients.

Gradients are of sum(outputs * probe) for a fixed random `probe`, so that
every output element matters, with respect to every weight and the inputs.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from legacy import loop_gru
from legacy import scan_gru

_v1 = tf.compat.v1


@dataclasses.dataclass
class Run:
  outputs: np.ndarray
  names: list          # checkpoint names, in creation order
  weights: list        # their values
  weight_grads: list = None
  input_grad: np.ndarray = None


def random_weights(shapes, dtype, seed, scale=0.5):
  rng = np.random.RandomState(seed)
  return [rng.normal(0, scale, s).astype(dtype) for s in shapes]


def _run(graph, inputs_tensor, outputs, variables, feed, weights, probe,
         with_grads):
  with graph.as_default():
    grads = None
    if with_grads:
      loss = tf.reduce_sum(outputs * tf.constant(probe))
      grads = tf.gradients(loss, variables + [inputs_tensor])
    with _v1.Session(graph=graph) as session:
      session.run(_v1.global_variables_initializer())
      if weights is not None:
        for v, w in zip(variables, weights, strict=True):
          v.load(w, session)
      out = session.run(outputs, feed)
      values = session.run(variables)
      run = Run(out, [v.op.name for v in variables], values)
      if with_grads:
        g = session.run(grads, feed)
        run.weight_grads, run.input_grad = g[:-1], g[-1]
  return run


def scan_gru_run(x, units, weights=None, probe=None, with_grads=False,
                 seed=0):
  """The Data Blogger GRU's h_t for inputs x [batch, time, in]."""
  graph = tf.Graph()
  with graph.as_default():
    _v1.set_random_seed(seed)
    gru = scan_gru.GRU(x.shape[-1], units, dtype=tf.as_dtype(x.dtype))
  return _run(graph, gru.input_layer, gru.h_t, gru.variables,
              {gru.input_layer: x}, weights, probe, with_grads)


def loop_gru_run(x, units, weights=None, probe=None, with_grads=False,
                 reset_gate=True, revers=False, lengths=None, bigru=False,
                 seed=0):
  """The tutorial GRU's (or BiGRU's) output() for inputs x."""
  graph = tf.Graph()
  with graph.as_default():
    _v1.set_random_seed(seed)
    inputs = _v1.placeholder(tf.as_dtype(x.dtype), (None, None, x.shape[-1]))
    feed = {inputs: x}
    seq_len = None
    if lengths is not None:
      seq_len = _v1.placeholder(tf.int32, (None,))
      feed[seq_len] = lengths
    cls = loop_gru.GRU if reset_gate else loop_gru.GRUNoResetGate
    if bigru:
      model = loop_gru.BiGRU(inputs, x.shape[-1], units,
                             sequence_length=seq_len, gru_class=cls)
    else:
      model = cls(inputs, x.shape[-1], units, sequence_length=seq_len,
                  revers=revers)
  return _run(graph, inputs, model.output(), model.variables, feed, weights,
              probe, with_grads)
