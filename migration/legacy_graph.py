"""A description's TF1 graph, built from the legacy ports: the reference that
`--verify` runs for kinds that have one (the seed GRUs and heads).

Each component's kind builds its part (`Kind.legacy`) on the tensor it
reads, with the ports' own classes, so the graph's variables have the
checkpoint's names (at the root; `variables` maps the description's
checkpoint names to them) and a plain `tf.compat.v1.train.Saver` restores a
legacy checkpoint into it.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from legacy import runtime
from migration import description as description_lib

_v1 = tf.compat.v1


@dataclasses.dataclass
class LegacyGraph:
  graph: tf.Graph
  inputs: tf.Tensor          # the first model input's placeholder
  outputs: dict              # {component name: its output tensor}
  variables: dict            # {checkpoint name: variable}


def available(description):
  """Whether every component's kind has a TF1 graph of its own."""
  return all(description_lib.kind_of(c).tf1_port
             for c in description.components)


def build(description, seed=None):
  """The TF1 forward graph of `description`, in a new `tf.Graph`.

  Args:
    description: a `description.Description` whose kinds all have a TF1
      graph (`available`).
    seed: if given, the graph-level seed of the legacy initializers.
  """
  graph = tf.Graph()
  root = description.with_scopes({c.name: "" for c in description.components})
  with graph.as_default(), runtime.tf1_control_flow():
    if seed is not None:
      _v1.set_random_seed(seed)
    outputs, inputs = {}, []
    for component in root.components:
      source = outputs.get(component.wiring.source)
      placeholder, outputs[component.name] = description_lib.kind_of(
          component).legacy(component, source)
      if placeholder is not None:
        inputs.append(placeholder)
    created = {v.op.name: v for v in _v1.global_variables()}
  if set(created) != set(root.variable_names()):
    raise AssertionError(f"legacy graph variables {sorted(created)} do not "
                         f"match {description.describe()}")
  names = dict(zip(root.variable_names(), description.variable_names()))
  return LegacyGraph(graph, inputs[0], outputs,
                     {names[n]: v for n, v in created.items()})


def run(legacy, x, prefix=None, values=None, reads=None):
  """The graph's outputs on x, weights restored from `prefix` or `values`.

  Args:
    legacy: from `build`.
    x: the inputs.
    prefix: a TF1 checkpoint to restore with a `Saver`.
    values: {checkpoint name: value}, instead of `prefix`.
    reads: {checkpoint name: name to read} for `prefix`, where these differ
      (EMA shadows).
  """
  with legacy.graph.as_default(), _v1.Session(
      graph=legacy.graph, config=runtime.session_config()) as session:
    if prefix is not None:
      reads = reads or {}
      _v1.train.Saver(var_list={reads.get(n, n): v for n, v in
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
