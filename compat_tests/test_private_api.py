"""Canaries for the Keras and TensorFlow details that are not public API
(`compat_tests/private_api.py` lists each use, its place and its canary).
Each checks exactly what the project's code relies on, and its failure
message names the use, so a release that moves one fails here first, not
in a user's conversion. The version matrix runs them under every
supported TensorFlow."""

import importlib
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from compat_tests import private_api
from gru_common import keras_precision
from migration import onnx_program
from migration import optimizer_state
from tf2 import fast_gru

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_BY_NAME = {u.name: u for u in private_api.USES}


def _moved(name, what):
  use = _BY_NAME[name]
  return (f"private API moved ({name}: {use.detail}), used in "
          f"{use.used_in}: {what}")


def _attribute(name, module, attribute):
  """`module.attribute`, or the canary's failure naming the use."""
  try:
    return getattr(importlib.import_module(module), attribute)
  except (ImportError, AttributeError) as e:
    pytest.fail(_moved(name, f"{module}.{attribute} is gone ({e})"))


def test_every_use_has_its_canary():
  here = {n for n in globals() if n.startswith("test_")}
  for use in private_api.USES:
    path, test = use.canary.split("::")
    assert os.path.exists(os.path.join(ROOT, path)), use.canary
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
      assert f"def {test}(" in f.read(), use.canary
    if path.endswith("test_private_api.py"):
      assert test in here, use.canary


def test_keras_float64_promotion_table():
  name = "keras float64 promotion table"
  # The module and table names `enable_float64` edits, from its own module.
  table = _attribute(
      name, keras_precision._PROMOTION_MODULE,  # pylint: disable=protected-access
      keras_precision._PROMOTION_TABLE)  # pylint: disable=protected-access
  # Keras keeps float64 on TensorFlow and maps it to float32 on the other
  # backends; `enable_float64` sets the entry to float64 everywhere.
  allowed = ({"float64"} if keras.backend.backend() == "tensorflow" else
             {"float32", "float64"})
  assert isinstance(table, dict) and table.get("float64") in allowed, (
      _moved(name, f"no float64 entry as expected: {table!r}"))


def test_keras_functional_graph_walk():
  name = "keras functional graph walk"
  x = keras.Input((3,), name="x")
  y = keras.layers.Dense(2, name="d")(x)
  z = keras.ops.add(y, 1.0)
  model = keras.Model(x, z)
  by_depth = getattr(model, "_nodes_by_depth", None)
  assert isinstance(by_depth, dict) and by_depth, _moved(
      name, f"_nodes_by_depth is {by_depth!r}")
  order = [node for depth in sorted(by_depth, reverse=True)
           for node in by_depth[depth]]
  values = {id(x): "X"}
  seen = []
  for node in order:
    if isinstance(node.operation, keras.layers.InputLayer):
      continue
    try:
      args, _ = node.arguments.fill_in(values)
    except AttributeError as e:
      pytest.fail(_moved(name, f"Node.arguments.fill_in: {e}"))
    seen.append((node.operation.name, args[0]))
    for i, tensor in enumerate(node.outputs):
      values[id(tensor)] = f"{node.operation.name}:{i}"
  assert seen[0] == ("d", "X") and seen[1][1] == "d:0", _moved(
      name, f"nodes walked as {seen}")
  if importlib.util.find_spec("onnx") is not None:
    # What the exporter itself makes of the walk.
    exported = onnx_program.from_model(model, [("x", (None, 3), "float32")],
                                       ["z"])
    assert [n.op_type for n in exported.graph.node][-1] == "Identity", (
        _moved(name, "onnx_program.from_model emitted no graph"))


def test_keras_adam_slots():
  name = "keras Adam slots"
  variable = keras.Variable(np.ones((2, 3), np.float32), name="w")
  optimizer = keras.optimizers.Adam()
  optimizer.build([variable])
  try:
    index = optimizer._get_variable_index(variable)  # pylint: disable=protected-access
    m = optimizer._momentums[index]  # pylint: disable=protected-access
    v = optimizer._velocities[index]  # pylint: disable=protected-access
  except (AttributeError, KeyError, IndexError) as e:
    pytest.fail(_moved(name, repr(e)))
  assert tuple(m.shape) == tuple(v.shape) == (2, 3), _moved(
      name, f"slot shapes {m.shape}, {v.shape}")
  # What optimizer_state reads through them.
  slot = optimizer_state._slot_lookup(optimizer)  # pylint: disable=protected-access
  assert slot("m")(variable) is m and slot("v")(variable) is v, _moved(
      name, "optimizer_state._slot_lookup found other variables")


def test_keras_predict_casts_float64_to_floatx():
  name = "keras predict casts float64"
  x = keras.Input((1,), dtype="float64")
  model = keras.Model(x, keras.ops.multiply(x, 1.0))
  data = np.array([[1.0 + 2.0 ** -40]], np.float64)  # not a float32
  assert keras.config.floatx() == "float32"
  rounded = model.predict(data, verbose=0)
  assert rounded[0, 0] == np.float32(data[0, 0]), _moved(
      name, f"predict returned {rounded[0, 0]!r}: no longer cast to floatx "
      "(ExactModel and keras_precision.floatx may be unneeded)")
  with keras_precision.floatx("float64"):
    kept = model.predict(data, verbose=0)
  assert kept[0, 0] == data[0, 0], _moved(
      name, "floatx('float64') no longer keeps float64 inputs")


@pytest.mark.skipif(importlib.util.find_spec("tf_keras") is None,
                    reason="tf_keras is not installed (pip install '.[test]')")
def test_tf_keras_provides_the_tf1_cells():
  name = "tf_keras TF1 cells"
  probe = ("import tensorflow as tf\n"
           "r = tf.compat.v1.nn.rnn_cell\n"
           "print(r.GRUCell.__module__, r.LSTMCell.__module__, "
           "r.BasicLSTMCell.__module__, r.MultiRNNCell.__module__)\n")
  proc = subprocess.run(
      [sys.executable, "-c", probe],
      env=dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="3"),
      capture_output=True, text=True, timeout=300, check=False)
  assert proc.returncode == 0, _moved(name, proc.stderr[-2000:])
  assert all(m.startswith("tf_keras.") for m in proc.stdout.split()), _moved(
      name, f"the cells come from {proc.stdout.strip()}")


def test_tensorflow_protobuf_modules():
  name = "TensorFlow protobuf modules"
  try:
    meta = importlib.import_module("tensorflow.core.protobuf.meta_graph_pb2")
    flow = importlib.import_module(
        "tensorflow.core.protobuf.control_flow_pb2")
  except ImportError as e:
    pytest.fail(_moved(name, repr(e)))
  context = flow.WhileContextDef(context_name="while", loop_exit_names=["x"])
  again = flow.WhileContextDef.FromString(context.SerializeToString(
      deterministic=True))
  assert again.loop_exit_names == ["x"], _moved(name, "WhileContextDef")
  assert flow.CondContextDef(context_name="cond").context_name == "cond", (
      _moved(name, "CondContextDef"))
  graph = meta.MetaGraphDef()
  graph.collection_def["while_context"].bytes_list.value.append(b"")
  assert list(graph.collection_def) == ["while_context"], _moved(
      name, "MetaGraphDef.collection_def")


def test_tensorflow_tape_stop():
  name = "tensorflow tape stop"
  stop_recording = _attribute(
      name, fast_gru._TAPE_MODULE,  # pylint: disable=protected-access
      fast_gru._STOP_RECORDING)  # pylint: disable=protected-access
  x = tf.constant(2.0)
  with tf.GradientTape(persistent=True) as tape:
    tape.watch(x)
    with stop_recording():
      unseen = x * x
    seen = x * x
  assert tape.gradient(unseen, x) is None, _moved(name, "a tape still saw")
  assert float(tape.gradient(seen, x)) == 4.0, _moved(
      name, "the tape did not resume")
