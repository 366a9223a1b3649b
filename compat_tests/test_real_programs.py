"""The goldens of real public TF1 programs (`compat_tests.real_programs`):
each saved graph, imported into this process and restored from its
checkpoint, computes exactly the outputs the program computed, and each
checkpoint holds exactly the variables the goldens' README lists.

The programs ran in their own process (TF1 cells need tf_keras and
TF_USE_LEGACY_KERAS=1), but their saved graphs hold only TensorFlow's own
ops (TF1 while loops and ref variables among them), which TF 2.21 imports
and runs without tf_keras; so these tests run here, with Keras 3 loaded,
and never run the programs themselves.
"""

import gzip
import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf

from compat_tests import golden_files
from compat_tests import real_programs
from gru_common import compare
from gru_common import tolerances

PROGRAMS = real_programs.PROGRAMS
README = os.path.join(real_programs.FOLDER, "README.md")
_VARIABLES = re.compile(
    r"<!-- variables: (\w+) -->\n```text\n(.*?)```", re.DOTALL)


def path(name, file):
  return os.path.join(real_programs.FOLDER, name, file)


def meta_graph(name):
  """The program's saved MetaGraphDef (stored gzipped)."""
  with gzip.open(path(name, real_programs.META_GRAPH), "rb") as f:
    return tf.compat.v1.MetaGraphDef.FromString(f.read())


def tensor_names(name):
  with open(path(name, real_programs.TENSORS)) as f:
    return json.load(f)


def golden(name):
  with np.load(path(name, real_programs.OUTPUTS)) as f:
    return {k: f[k] for k in f.files}


def readme_variables():
  """{program: {variable: (shape, dtype)}} from the README's lists."""
  with open(README) as f:
    text = f.read()
  listed = {}
  for program, block in _VARIABLES.findall(text):
    variables = {}
    for line in block.strip().splitlines():
      variable, rest = line.split(" ", 1)
      shape, dtype = rest.rsplit(" ", 1)
      variables[variable] = (json.loads(shape), dtype)
    listed[program] = variables
  return listed


def fetches(names):
  """{npz key: tensor name(s)} of a program's outputs and RNN tensors."""
  keys = {f"output.{k}": v for k, v in names["outputs"].items()}
  keys.update({f"rnn.{layer}.{role}": v
               for layer, roles in names["rnn"].items()
               for role, v in roles.items()})
  return keys


def run_restored(name):
  """Imports the saved graph into a fresh graph, restores the checkpoint,
  feeds the probe inputs by tensor name; ({npz key: value} of every
  output and RNN tensor (a list of tensors stacked, as saved), {npz key:
  the op types it is computed from})."""
  names, values = tensor_names(name), golden(name)
  graph = tf.Graph()
  with graph.as_default():
    saver = tf.compat.v1.train.import_meta_graph(meta_graph(name))
  feed = {}
  for key, tensors in names["feeds"].items():
    value = values[f"feed.{key}"]
    if isinstance(tensors, list):
      feed.update(zip(tensors, value))
    else:
      feed[tensors] = value
  wanted = fetches(names)
  # One thread, as the program ran: the same reductions in the same order.
  config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=1,
                                    inter_op_parallelism_threads=1)
  with tf.compat.v1.Session(graph=graph, config=config) as sess:
    saver.restore(sess, path(name, real_programs.CHECKPOINT))
    got = sess.run(wanted, feed)
  return ({k: np.asarray(v) for k, v in got.items()},
          {k: _upstream_ops(graph, v) for k, v in wanted.items()})


def _upstream_ops(graph, tensors):
  """The op types that `tensors` (a name or a list) are computed from."""
  todo = [graph.get_tensor_by_name(t).op
          for t in (tensors if isinstance(tensors, list) else [tensors])]
  seen = set()
  while todo:
    op = todo.pop()
    if op.name not in seen:
      seen.add(op.name)
      todo.extend(t.op for t in op.inputs)
  return {graph.get_operation_by_name(n).type for n in seen}


# Ops whose CPU kernels round by instruction set: Eigen computes Rsqrt
# (DeepSpeech2's batch norm on 3-D inputs) from the CPU's approximate
# reciprocal square root refined by a Newton step, so its last bit differs
# between machine types. Values computed from one are compared within
# `tolerances.GOLDEN`; every other value bitwise (integers too: the
# classes are the same).
CPU_DEPENDENT_OPS = frozenset({"Rsqrt"})




@pytest.mark.parametrize("name", PROGRAMS)
def test_restored_graph_computes_the_programs_outputs(name):
  want = golden(name)
  got, upstream = run_restored(name)
  assert sorted(got) == sorted(k for k in want if not k.startswith("feed."))
  for key, value in got.items():
    assert value.dtype == want[key].dtype and value.shape == want[key].shape
    if value.dtype.kind != "f":
      bound = 0.0
    elif upstream[key] & CPU_DEPENDENT_OPS:
      bound = tolerances.GOLDEN.for_dtype(value.dtype)
    else:   # bitwise under the release that wrote the goldens
      bound = golden_files.bound(value.dtype)
    if bound:
      assert compare.max_abs_diff(value, want[key]) <= bound, key
    else:
      assert compare.bitwise_equal(value, want[key]), (
          key, compare.max_abs_diff(value, want[key]))


@pytest.mark.parametrize("name", PROGRAMS)
def test_goldens_are_not_degenerate(name):
  """Every recorded value is finite and the outputs differ across the
  probe batch, so the bitwise check above compares something."""
  for key, value in golden(name).items():
    if value.dtype.kind == "f":
      assert np.all(np.isfinite(value)), key
  for key, value in golden(name).items():
    if key.startswith("output.") and value.dtype.kind == "f":
      assert np.ptp(value) > 0, key


@pytest.mark.parametrize("name", PROGRAMS)
def test_checkpoint_holds_the_variables_the_readme_lists(name):
  reader = tf.train.load_checkpoint(path(name, real_programs.CHECKPOINT))
  shapes = reader.get_variable_to_shape_map()
  dtypes = reader.get_variable_to_dtype_map()
  saved = {v: (list(shapes[v]), dtypes[v].name) for v in shapes}
  assert saved == readme_variables()[name]


def test_readme_lists_every_program():
  assert sorted(readme_variables()) == sorted(PROGRAMS)


def test_tied_bigru_has_forward_weights_only():
  """The same GRUCell object as cell_fw and cell_bw: one set of weights,
  under fw/, used by both directions."""
  variables = readme_variables()["tied_bigru"]
  for encoder in ("docs", "queries"):
    scope = f"encode/{encoder}/bidirectional_rnn/"
    assert any(v.startswith(scope + "fw/gru_cell/") for v in variables)
    assert not any(v.startswith(scope + "bw/") for v in variables)


@pytest.mark.parametrize("name", PROGRAMS)
def test_saved_graph_is_a_tf1_graph(name):
  """What TF 1.x saved: ref variables and TF1 while loops (seq2seq_signal,
  char_rnn and cnn_rnn_last unroll their RNNs with static_rnn and
  rnn_decoder), no resource variables or functions."""
  graph = meta_graph(name).graph_def
  ops = {node.op for node in graph.node}
  assert "VariableV2" in ops
  assert ("Enter" in ops) == (
      name not in ("seq2seq_signal", "char_rnn", "cnn_rnn_last"))
  assert "VarHandleOp" not in ops and not graph.library.function
