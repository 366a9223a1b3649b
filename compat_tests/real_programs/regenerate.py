"""Writes the goldens of the real TF1 programs in `compat_tests.real_programs`.

  python -m compat_tests.real_programs.regenerate            # dry run
  python -m compat_tests.real_programs.regenerate --write    # rewrite them
  python -m compat_tests.real_programs.regenerate --list     # variables

Each program runs in a subprocess started with TF_USE_LEGACY_KERAS=1 (the
TF1 cells exist only there, see the package docstring), which makes graphs
as TF 1.x did (ref variables, TF1 while loops). It builds the program's
graph with the program's own code under `tf.compat.v1.set_random_seed`,
initializes it as the program does, adds seeded noise to the variables the
program starts from constants (see `_perturb_constants`), runs the
program's own training op for a few steps on seeded random data (numpy
RandomState) and saves with a plain `tf.compat.v1.train.Saver` (no
`checkpoint` state file). Then it feeds a fixed probe batch and records
the program's outputs and every RNN layer's input and outputs. Into
compat_tests/goldens/real_programs/<program>/ go:
  model.ckpt.index, model.ckpt.data-00000-of-00001
                 the Saver's checkpoint;
  model.ckpt.meta.gz
                 the Saver's meta graph (the whole training graph),
                 gzipped (uncompressed it is 0.3 to 2.3 MB);
  outputs.npz    feed.<name>, output.<name>, rnn.<layer>.<role>: values;
  tensors.json   {"feeds"|"outputs": {name: tensor},
                  "rnn": {layer: {role: tensor}}}; a list of tensor names
                 stands for their values stacked on a new first axis.
Sessions run on one thread and every seed (Python's hash seed included) is
fixed, so a rerun writes the same bytes.

By default a dry run: writes everything to a temporary folder and reports,
file by file, whether it differs from the committed one. This module
imports TensorFlow only in its subprocesses (and for --list).
"""

import argparse
import gzip
import importlib
import json
import os
import random
import subprocess
import sys
import tempfile

import numpy as np

from compat_tests import golden_files
from compat_tests import real_programs

SEED = 0
_REPOSITORY = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def _names(tensors):
  """The graph names of a tensor, a list of tensors, or a dict of them."""
  if isinstance(tensors, dict):
    return {k: _names(v) for k, v in tensors.items()}
  if isinstance(tensors, (list, tuple)):
    return [t.name for t in tensors]
  return tensors.name


def _write_program(name, folder):
  """Runs program `name` (in this process, which must have
  TF_USE_LEGACY_KERAS=1) and writes its goldens into folder/<name>/."""
  real_programs.require_legacy_keras()
  from gru_common import tensorflow_startup  # pylint: disable=g-import-not-at-top
  tensorflow_startup.import_tensorflow_quietly()
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  program = importlib.import_module(f"compat_tests.real_programs.{name}")
  v1 = tf.compat.v1
  # The graph TF 1.x built: ref variables and TF1 while loops (TF 2 graphs
  # default to resource variables and functional control flow). Eager
  # execution stays on; these switches only change what graphs contain.
  v1.disable_resource_variables()
  v1.disable_control_flow_v2()
  out = os.path.join(folder, name)
  os.makedirs(out, exist_ok=True)
  # tf_keras's cells draw unseeded initializers' seeds from Python's
  # `random`; everything else from the graph seed or a RandomState.
  random.seed(SEED)
  np.random.seed(SEED)
  graph = tf.Graph()
  with graph.as_default():
    v1.set_random_seed(SEED)
    model = program.build()
    training = program.train_op(model)
    saver = v1.train.Saver()
    init = [v1.global_variables_initializer(),
            v1.local_variables_initializer()]
  placeholders = dict(model["feeds"], **training["feeds"])
  rng = np.random.RandomState(SEED)
  config = v1.ConfigProto(intra_op_parallelism_threads=1,
                          inter_op_parallelism_threads=1)

  def feed_dict(values):
    feeds = {}
    for key, value in values.items():
      if isinstance(placeholders[key], list):   # one per time step
        feeds.update(zip(placeholders[key], value))
      else:
        feeds[placeholders[key]] = value
    return feeds

  with v1.Session(graph=graph, config=config) as sess:
    sess.run(init)
    with graph.as_default():
      trainable = {v.op.name for v in v1.trainable_variables()}
      constants = [v for v in v1.global_variables()
                   if v.op.name in trainable or
                   v.op.name.endswith(("/moving_mean", "/moving_variance"))]
    _perturb_constants(sess, constants, np.random.RandomState(SEED + 1))
    for _ in range(program.STEPS):
      sess.run(training["op"], feed_dict(program.batch(rng, training=True)))
    prefix = os.path.join(out, real_programs.CHECKPOINT)
    saver.save(sess, prefix, write_state=False)
    _gzip(prefix + ".meta")
    probe = program.batch(rng, training=False)
    fetched = {k: model[k] for k in ("outputs", "rnn")}
    values = sess.run(fetched, feed_dict(probe))
  names = {"feeds": _names(model["feeds"]), **_names(fetched)}
  arrays = {f"feed.{k}": np.asarray(v) for k, v in probe.items()}
  arrays.update({f"output.{k}": np.asarray(v)
                 for k, v in values["outputs"].items()})
  arrays.update({f"rnn.{layer}.{role}": np.asarray(v)
                 for layer, roles in values["rnn"].items()
                 for role, v in roles.items()})
  np.savez(os.path.join(out, real_programs.OUTPUTS), **arrays)
  with open(os.path.join(out, real_programs.TENSORS), "w") as f:
    json.dump(names, f, indent=1, sort_keys=True)
    f.write("\n")


def _perturb_constants(sess, variables, rng):
  """Adds seeded uniform(-0.5, 0.5) noise to the variables the programs
  start from constants: biases, batch-norm parameters and statistics,
  scalars (rank 0 or 1) and learned initial states ([1, units]). A few
  training steps barely move them, and a converter that dropped or
  swapped one would go unnoticed next to zeros, ones or 1.0 gate biases;
  kernels keep their random initial values."""
  for v in variables:
    shape = v.shape.as_list()
    if len(shape) <= 1 or shape[0] == 1:
      value = sess.run(v)
      v.load(value + rng.uniform(-0.5, 0.5, shape).astype(value.dtype), sess)


def _gzip(meta_graph):
  """Replaces the Saver's .meta file by `meta_graph`.gz: the same
  MetaGraphDef, serialized with map fields in key order (the TF1
  control-flow contexts, stored serialized in the while_context and
  cond_context collections, too), gzipped without a time stamp, so that a
  rerun writes the same bytes."""
  from tensorflow.core.protobuf import control_flow_pb2  # pylint: disable=g-import-not-at-top
  from tensorflow.core.protobuf import meta_graph_pb2  # pylint: disable=g-import-not-at-top
  proto = meta_graph_pb2.MetaGraphDef()
  with open(meta_graph, "rb") as f:
    proto.ParseFromString(f.read())
  for key, context in (("while_context", control_flow_pb2.WhileContextDef),
                       ("cond_context", control_flow_pb2.CondContextDef)):
    values = proto.collection_def[key].bytes_list.value if (
        key in proto.collection_def) else []
    for i, value in enumerate(values):
      values[i] = context.FromString(value).SerializeToString(
          deterministic=True)
  data = proto.SerializeToString(deterministic=True)
  path = meta_graph
  with open(path + ".gz", "wb") as f:
    with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0,
                       compresslevel=9) as z:
      z.write(data)
  os.remove(path)


def write(names, folder):
  """Writes the goldens of programs `names` into `folder`, one subprocess
  (with TF_USE_LEGACY_KERAS=1) per program."""
  # A fixed hash seed: TF1 control-flow contexts serialize maps built from
  # Python sets and dicts, whose order follows string hashes.
  env = dict(os.environ, TF_USE_LEGACY_KERAS="1", PYTHONHASHSEED="0")
  env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  for name in names:
    result = subprocess.run(
        [sys.executable, "-m", "compat_tests.real_programs.regenerate",
         "--child", name, "--folder", folder], cwd=_REPOSITORY, env=env,
        capture_output=True, text=True, check=False)
    if result.returncode:
      raise RuntimeError(f"program {name} failed:\n{result.stderr[-4000:]}")


def _list(names, folder):
  """Prints each golden's checkpoint variables: name, shape, dtype."""
  from gru_common import tensorflow_startup  # pylint: disable=g-import-not-at-top
  tensorflow_startup.import_tensorflow_quietly()
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  for name in names:
    prefix = os.path.join(folder, name, real_programs.CHECKPOINT)
    reader = tf.train.load_checkpoint(prefix)
    dtypes = reader.get_variable_to_dtype_map()
    print(f"# {name}")
    for variable, shape in sorted(reader.get_variable_to_shape_map().items()):
      print(f"{variable} {list(shape)} {dtypes[variable].name}")


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--write", action="store_true",
                      help="replace the committed goldens (default: dry run)")
  parser.add_argument("--list", action="store_true",
                      help="print the committed goldens' variables")
  parser.add_argument("--folder", default=real_programs.FOLDER,
                      help="where the goldens live")
  parser.add_argument("--child", choices=real_programs.PROGRAMS,
                      help=argparse.SUPPRESS)
  parser.add_argument("programs", nargs="*", metavar="PROGRAM",
                      help=f"default: all of {real_programs.PROGRAMS}")
  args = parser.parse_args()
  unknown = set(args.programs) - set(real_programs.PROGRAMS)
  if unknown:
    parser.error(f"unknown programs: {sorted(unknown)}")
  names = args.programs or list(real_programs.PROGRAMS)
  if args.child:
    _write_program(args.child, args.folder)
    return 0
  if args.list:
    _list(names, args.folder)
    return 0
  changed = 0
  with tempfile.TemporaryDirectory() as scratch:
    write(names, scratch)
    for name in names:
      for file in real_programs.FILES:
        new = os.path.join(scratch, name, file)
        old = os.path.join(args.folder, name, file)
        line = golden_files.describe(new, old,
                                     os.path.relpath(old, args.folder))
        changed += not line.startswith("same")
        print(line)
  if not args.write:
    print(f"# dry run: {changed} file(s) would change; --write to rewrite")
    return 0
  write(names, args.folder)
  print(f"# wrote {len(names)} program(s) into {args.folder}")
  return 0


if __name__ == "__main__":
  sys.exit(main())
