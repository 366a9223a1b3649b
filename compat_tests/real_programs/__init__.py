"""Real public TF1 programs with GRUs and LSTMs, reproduced small: golden
programs for the converter.

Each module reproduces one public program's graph-building code (its
scopes, cell classes, `tf.compat.v1.nn` RNN functions and variable names),
shrinking only sizes and replacing its data by seeded random data; its
docstring cites the source and lists every deviation.

  char_rnn         sherjilozair/char-rnn-tensorflow model.py in its default
                   configuration: an embedding, a 2-layer BasicLSTMCell
                   MultiRNNCell unrolled by `legacy_seq2seq.rnn_decoder`
                   under `rnnlm`, a softmax projection.
  cnn_rnn_last     jiegzhan/multi-class-text-classification-cnn-rnn
                   text_cnn_rnn.py: conv2d + max-pool feature maps run by
                   `static_rnn` over a GRUCell with `sequence_length`, the
                   output at each sentence's last real step selected by
                   length masks (`Output`), a softmax layer.
  deep_speech2     tensorflow/models research/deep_speech/
                   deep_speech_model.py (TF1 DeepSpeech2): conv + batch
                   norm, then bidirectional GRU layers all under the scope
                   `bidirectional_rnn`, cells `rnn_fw_<i>`/`rnn_bw_<i>`.
  han              tqtg/hierarchical-attention-networks model.py and
                   layers.py: word- and sentence-level bidirectional GRUs
                   started from learned, tiled `init_state_fw`/`_bw`, with
                   attention pooling.
  seq2seq_signal   guillaume-chevalier/seq2seq-signal-prediction seq2seq.py
                   (TF1 version): `legacy_seq2seq.basic_rnn_seq2seq` over a
                   2-layer GRU MultiRNNCell, the decoder started from the
                   encoder's final state (the contrib functions
                   reproduced from TF 1.x's source).
  text_rnn         gaussic/text-classification-cnn-rnn rnn_model.py
                   (TextRNN): an embedding, `dynamic_rnn` over 2
                   BasicLSTMCells in DropoutWrappers, the last step's
                   output through dense layers `fc1`/`fc2`.
  tied_bigru       natureLanguageQing/alternating-reader-tf (the TF 1.13
                   port of nschuc/alternating-reader-tf)
                   model/AlternatingAttention.py: one GRUCell object passed
                   as both cell_fw and cell_bw, so only `fw/` weights exist.

The modules need TensorFlow's TF1 cells, which TF 2.21 has only with
`tf_keras` and TF_USE_LEGACY_KERAS=1 set before TensorFlow is imported, so
they run in their own process: `python -m
compat_tests.real_programs.regenerate` starts one per program and writes
the goldens into compat_tests/goldens/real_programs/<program>/, whose
README describes them. This package's own module imports no TensorFlow.
"""

import gzip
import os
import shutil

PROGRAMS = ("char_rnn", "cnn_rnn_last", "deep_speech2", "han",
            "seq2seq_signal", "text_rnn", "tied_bigru")
FOLDER = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), "goldens", "real_programs")
CHECKPOINT = "model.ckpt"   # + .index, .data-00000-of-00001, .meta.gz
OUTPUTS = "outputs.npz"     # probe feeds and fetched values, by logical name
TENSORS = "tensors.json"    # logical name -> tensor name(s) in the graph
META_GRAPH = CHECKPOINT + ".meta.gz"  # the Saver's .meta, gzipped
FILES = (CHECKPOINT + ".data-00000-of-00001", CHECKPOINT + ".index",
         META_GRAPH, OUTPUTS, TENSORS)


def require_legacy_keras():
  """Refuses to go on in a process without TF_USE_LEGACY_KERAS=1: the TF1
  cells exist only there, and a process that has it cannot use Keras 3."""
  if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
    raise RuntimeError(
        "compat_tests.real_programs modules run TF1 cells: run them in a "
        "process started with TF_USE_LEGACY_KERAS=1 (python -m "
        "compat_tests.real_programs.regenerate does)")


def as_user_has_it(name, folder):
  """Copies program `name`'s golden checkpoint into `folder`/<name>/ with
  its plain `.meta` beside it, as a user's folder has them; returns the
  checkpoint prefix."""
  source = os.path.join(FOLDER, name)
  target = os.path.join(folder, name)
  os.makedirs(target)
  for entry in os.listdir(source):
    if entry.startswith(CHECKPOINT + ".") and not entry.endswith(".gz"):
      shutil.copy(os.path.join(source, entry), target)
  with gzip.open(os.path.join(source, META_GRAPH)) as f, open(
      os.path.join(target, CHECKPOINT + ".meta"), "wb") as out:
    out.write(f.read())
  return os.path.join(target, CHECKPOINT)
