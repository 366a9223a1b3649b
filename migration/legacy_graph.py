"""A legacy model's forward graph, built from its `ModelSpec`.

The same classes and heads as the legacy jobs (`legacy/`), so the variable
names are the checkpoint's: a plain `tf.compat.v1.train.Saver` restores a
legacy checkpoint into it. Used to run the source side of a conversion.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from legacy import addition_job
from legacy import classifier_job
from legacy import loop_gru
from legacy import runtime
from legacy import scan_gru
from migration import spec as spec_lib

_v1 = tf.compat.v1


@dataclasses.dataclass
class LegacyGraph:
  graph: tf.Graph
  inputs: tf.Tensor          # [batch, time, input_dim]
  outputs: dict              # {"gru": [batch, time, u(2u)], "head": ...}
  variables: dict            # {checkpoint name: variable}


def build(spec, seed=None):
  """The legacy forward graph for `spec`, in a new `tf.Graph`.

  Args:
    spec: a `ModelSpec`.
    seed: if given, the graph-level seed of the legacy initializers.
  """
  graph = tf.Graph()
  dtype = tf.as_dtype(spec.dtype)
  with graph.as_default(), runtime.tf1_control_flow():
    if seed is not None:
      _v1.set_random_seed(seed)
    outputs = {}
    if spec.family == spec_lib.SCAN:
      gru = scan_gru.GRU(spec.input_dim, spec.units, dtype=dtype)
      inputs = gru.input_layer
      outputs["gru"] = gru.h_t
      if spec.head == spec_lib.ADDITION:
        outputs["head"] = addition_job.build_output_layer(gru)[2]
    else:
      inputs = _v1.placeholder(dtype, (None, None, spec.input_dim),
                               name="inputs")
      cls = loop_gru.GRU if spec.reset_gate else loop_gru.GRUNoResetGate
      if spec.bidirectional:
        model = loop_gru.BiGRU(inputs, spec.input_dim, spec.units,
                               gru_class=cls)
      else:
        model = cls(inputs, spec.input_dim, spec.units)
      outputs["gru"] = model.output()
      if spec.head == spec_lib.CLASSIFIER:
        outputs["head"] = classifier_job.build_head(model.output(),
                                                    spec.head_units)
    variables = {v.op.name: v for v in _v1.global_variables()}
  if set(variables) != set(spec.variable_names()):
    raise AssertionError(f"legacy graph variables {sorted(variables)} do not "
                         f"match {spec.describe()}")
  return LegacyGraph(graph, inputs, outputs, variables)


def run(legacy, x, prefix=None, values=None, sources=None):
  """The graph's outputs on x, weights restored from `prefix` or `values`.

  Args:
    legacy: from `build`.
    x: the inputs.
    prefix: a TF1 checkpoint to restore with a `Saver`.
    values: {variable name: value}, instead of `prefix`.
    sources: {variable name: checkpoint name} for `prefix`, where these are
      not the same (a scoped GRU, EMA shadows).
  """
  with legacy.graph.as_default(), _v1.Session(
      graph=legacy.graph, config=runtime.session_config()) as session:
    if prefix is not None:
      sources = sources or {n: n for n in legacy.variables}
      _v1.train.Saver(var_list={sources[n]: v for n, v in
                                legacy.variables.items()}
                      ).restore(session, prefix)
    else:
      load(session, legacy.variables, values)
    return session.run(legacy.outputs, {legacy.inputs: x})


def load(session, variables, values):
  """Assigns {name: value} to the named variables in a running session."""
  graph = session.graph
  with graph.as_default():
    feeds, assigns = {}, []
    for name, value in values.items():
      variable = variables[name]
      value = np.asarray(value)
      placeholder = _v1.placeholder(variable.dtype.base_dtype, value.shape)
      assigns.append(variable.assign(placeholder))
      feeds[placeholder] = value
  session.run(assigns, feeds)
