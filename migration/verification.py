"""`--verify`: a converted model against the TF1 side, on a probe batch.

The reference is the description's TF1 graph, built from the legacy ports
(`legacy_graph`), where every kind has one; otherwise this project's exact
TF2 layers (`tf2.TF1GRUCell` computes TF1's cells op for op; TF's own TF1
cells need tf_keras in a process of their own, and the tests prove the
reference against them). Weights come from the TF1 checkpoint (restored by
name) or from the state's values. Each component's output is one
`compare.Check`, within the tolerance policy's bound.
"""

import keras
import numpy as np
import tensorflow as tf

from gru_common import compare
from gru_common import keras_precision
from gru_common import tolerances
from migration import description as description_lib
from migration import legacy_graph
from migration import mapping
from migration import models
from migration import onnx_export


def probe_inputs(description, batch=8, time=12, seed=0):
  """A fixed batch for checking a conversion of `description`: what the
  component reading the first input asks for (floats uniform in [-1, 1])."""
  spec = description.inputs[0]
  reader = next(c for c in description.components
                if c.wiring.source == spec.name)
  shape = (batch, time) + ((spec.features,) if spec.features else ())
  return description_lib.kind_of(reader).probe(
      reader, np.random.RandomState(seed), shape, spec.dtype)


def model_outputs(model, description, x):
  """{component name: output} of a model `models.build` made.

  Computed with `Model.predict`, the API users call, with Keras's floatx
  set to the model's dtype as the README tells users to (Keras casts float
  arrays to floatx in `predict`; gru_common/keras_precision.py)."""
  names = description.output_names()
  tensors = [model.get_layer(description_lib.kind_of(c).layer_names(c)[-1])
             .output for c in description.components]
  fetch = keras.Model(model.inputs, tensors)
  with keras_precision.floatx(description.dtype):
    outputs = fetch.predict(x, batch_size=len(x), verbose=0)
  if not isinstance(outputs, (list, tuple)):
    outputs = [outputs]
  return {name: np.asarray(out) for name, out in zip(names, outputs)}


def reference_outputs(state, x, prefix=None, reads=None):
  """What the TF1 side computes on x, per component: weights restored from
  the TF1 checkpoint at `prefix` (reading `reads` {variable: checkpoint
  name} where they differ, as EMA shadows do) or taken from
  `state.values`."""
  description = state.description
  if legacy_graph.available(description):
    return legacy_graph.run(legacy_graph.build(description), x,
                            prefix=prefix,
                            values=None if prefix else state.values,
                            reads=reads)
  values = state.values
  if prefix is not None:
    reader = tf.train.load_checkpoint(prefix)
    reads = reads or {}
    values = {n: reader.get_tensor(reads.get(n, n)) for n in values}
  reference = models.build(description, mapping.TF2)
  mapping.to_model(values, mapping.placements(description, reference,
                                              mapping.TF2))
  return model_outputs(reference, description, x)


def _bound(description, target):
  if target == mapping.TF2:
    return tolerances.BITWISE
  return description_lib.kind_of(description.components[0]).stock_bound


def verify_outputs(state, model, target, x=None, prefix=None, reads=None):
  """Compares the TF1 side (see `reference_outputs`) with `model`.

  Returns:
    A list of `compare.Check`, one per component output.

  Example:

  >>> from migration import convert, tf1_checkpoint
  >>> state = tf1_checkpoint.LegacyState.example("loop")
  >>> checks = verify_outputs(state, convert.to_keras(state, "keras")[0],
  ...                         "keras")
  >>> [(c.name, c.result.bitwise, c.passed) for c in checks]
  [('gru', False, True)]
  """
  description = state.description
  x = probe_inputs(description) if x is None else x
  want = reference_outputs(state, x, prefix, reads)
  got = model_outputs(model, description, x)
  bound = _bound(description, target).for_dtype(description.dtype)
  return [compare.Check(name, description.dtype,
                        compare.compare(got[name], want[name]), bound)
          for name in want]


def verify_onnx(state, model_bytes, x=None, prefix=None, reads=None):
  """Compares the TF1 side with an ONNX model of it in onnxruntime.

  Returns:
    A list of `compare.Check`, bound `tolerances.ONNX_RUNTIME`.
  """
  description = state.description
  x = probe_inputs(description) if x is None else x
  want = reference_outputs(state, x, prefix, reads)
  got = onnx_export.run(model_bytes, x)
  bound = tolerances.ONNX_RUNTIME.for_dtype(description.dtype)
  return [compare.Check(name, description.dtype,
                        compare.compare(got[name], want[name]), bound)
          for name in want]
