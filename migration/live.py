"""Live transfer, no files: a running legacy Session <-> TF2 models.

    session_to_keras(session, target)   the session's model (and Adam state)
                                        as a Keras model (and optimizer)
    keras_to_session(model, session)    the Keras model's weights (and Adam
                                        state) into the session's variables

The session's graph must hold one of the models the converter knows (found
as in a checkpoint, from its global variables, under any scope); other
variables are refused, since a transfer never drops state silently. Values
move through the same tables and checks as checkpoint conversion.
"""

import concurrent.futures

import tensorflow as tf

from migration import convert
from migration import legacy_graph
from migration import mapping
from migration import tf1_checkpoint

_v1 = tf.compat.v1


def _eagerly(fn, *args):
  """Runs fn eagerly, also when called inside `with Session():`.

  Inside a session's block the TF1 graph is the default and Keras would
  build symbolic tensors. TensorFlow keeps the default graph per thread, so
  a fresh thread executes eagerly.
  """
  if tf.executing_eagerly():
    return fn(*args)
  with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
    return pool.submit(fn, *args).result()


def _graph_variables(session):
  with session.graph.as_default():
    return {v.op.name: v for v in _v1.global_variables()}


def session_state(session):
  """The `LegacyState` held by a running session's global variables."""
  variables = _graph_variables(session)
  names = sorted(variables)
  values = session.run([variables[n] for n in names])
  return tf1_checkpoint.LegacyState.from_variables(dict(zip(names, values)))


def session_to_keras(session, target=mapping.TF2):
  """(model, optimizer or None) equal to the session's legacy model.

  Example:

  >>> import numpy as np, tensorflow as tf
  >>> from migration import legacy_graph
  >>> from migration.kinds import seeds
  >>> s = seeds.model("loop", units=3, input_dim=2, dtype="float32")
  >>> legacy = legacy_graph.build(s, seed=0)
  >>> with legacy.graph.as_default():
  ...   init = tf.compat.v1.global_variables_initializer()
  >>> session = tf.compat.v1.Session(graph=legacy.graph)
  >>> session.run(init)
  >>> model, optimizer = session_to_keras(session)     # no Adam: None
  >>> x = np.ones((1, 4, 2), np.float32)
  >>> legacy_out = session.run(legacy.outputs["gru"], {legacy.inputs: x})
  >>> np.array_equal(np.asarray(model(x)), legacy_out)
  True
  """
  return _eagerly(convert.to_keras, session_state(session), target)


def keras_to_session(model, session, optimizer=None, family=None):
  """Writes a Keras model (and optimizer) into the session's variables.

  Every model variable (and, with an optimizer, every Adam variable) of the
  legacy graph must exist and be written; the state's model must match the
  graph's (same names, shapes and dtypes).

  Example:

  >>> import numpy as np, tensorflow as tf
  >>> from migration import convert, legacy_graph, tf1_checkpoint
  >>> state = tf1_checkpoint.LegacyState.example("loop")
  >>> model, _ = convert.to_keras(state)
  >>> graph = legacy_graph.build(state.description)
  >>> with graph.graph.as_default():
  ...   session = tf.compat.v1.Session()
  ...   session.run(tf.compat.v1.global_variables_initializer())
  >>> _ = keras_to_session(model, session)
  >>> written = session_state(session).values
  >>> all(np.array_equal(written[n], state.values[n]) for n in written)
  True
  """
  state = _eagerly(convert.from_keras, model, optimizer, family)
  variables = _graph_variables(session)
  current = session_state(session)
  scopes = {c.name: c.scope for c in current.description.components}
  if current.description != state.description.with_scopes(scopes):
    raise mapping.MappingError(
        f"the session holds a {current.description.describe()}; the Keras "
        f"model is a {state.description.describe()}")
  # Written under the session's own names (its RNN's scope, its optimizer's
  # scope), whatever layout the Keras model's name records.
  state = state.placed_like(current)
  values = state.to_variables()
  if current.adam is not None and state.adam is None:
    raise mapping.MappingError(
        "the session's graph has Adam state but no optimizer state was "
        "given; pass the optimizer so no variable is left stale")
  missing = sorted(set(values) - set(variables))
  if missing:
    raise mapping.MappingError(f"the session's graph lacks {missing}")
  legacy_graph.load(session, variables, values)
  return state
