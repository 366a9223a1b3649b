"""Golden TF1 checkpoints of TensorFlow's own GRU and LSTM cells, and their
outputs.

Each case is a TF1 program built with TensorFlow's own cells (run by
`compat_tests/tf1_cell_oracle.py` in a subprocess: on TF 2.21 those cells
exist only with `tf_keras` and `TF_USE_LEGACY_KERAS=1` set before
TensorFlow is imported, which must never happen in the test process). It
gives every variable seeded random values, optionally trains a few Adam
steps, saves with a plain `Saver` and records the program's outputs on a
probe batch, with and without `sequence_length`.

`python -m compat_tests.regenerate_goldens` writes them into
compat_tests/goldens/tf1_cells/<case>/ (GRU cells, `CASES`) and
compat_tests/goldens/tf1_lstm_cells/<case>/ (LSTM cells, `LSTM_CASES`,
with each program's `.meta`: the forget bias and clips are in the graph,
not the checkpoint), a dry run by default; each folder's README says how
each kind was built. This module imports no TensorFlow.
"""

import dataclasses
import os
import subprocess
import sys

FOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "goldens",
                      "tf1_cells")
LSTM_FOLDER = os.path.join(os.path.dirname(FOLDER), "tf1_lstm_cells")
CHECKPOINT = "model.ckpt"
OUTPUTS = "outputs.npz"     # x, lengths, outputs, outputs_with_lengths
FILES = (CHECKPOINT + ".data-00000-of-00001", CHECKPOINT + ".index", OUTPUTS)
LSTM_FILES = FILES + (CHECKPOINT + ".meta",)   # an LSTM's forget bias is there
BATCH, TIME, INPUT = 4, 6, 3
LENGTHS = (6, 3, 1, 5)      # full, shorter, a single step
STEPS = 3                   # Adam steps of the cases that train

# How the cells are wired (what the TF1 program called).
DYNAMIC = "dynamic_rnn"
STATIC = "static_rnn"
BIDIRECTIONAL = "bidirectional_dynamic_rnn"
MULTI = "dynamic_rnn(MultiRNNCell)"
BI_MULTI = "bidirectional_dynamic_rnn(MultiRNNCell)"
STACK_BI = "stack_bidirectional_dynamic_rnn"


@dataclasses.dataclass(frozen=True)
class Case:
  cell: str                   # tf1_cells kind: "GRUCell", "GRUBlockCell"...
  wiring: str
  units: tuple                # per layer
  dtype: str = "float32"
  scope: str = ""             # the user's enclosing variable scope
  cell_name: str = None       # GRUCell(name=...)
  rnn_scope: str = None       # dynamic_rnn(scope=...)
  adam: bool = False          # trained with Adam and a global_step
  extra_layer: bool = False   # a dense layer on the outputs
  cudnn: bool = False         # also the CudnnGRU/CudnnLSTM layer's
  #                             opaque_kernel
  # LSTM cells' arguments (None: TF 1.15's default).
  forget_bias: float = None
  use_peepholes: bool = False
  num_proj: int = None
  cell_clip: float = None
  proj_clip: float = None

  @property
  def bidirectional(self):
    return self.wiring in (BIDIRECTIONAL, BI_MULTI, STACK_BI)

  @property
  def width(self):
    return (self.num_proj or self.units[-1]) * (2 if self.bidirectional
                                                 else 1)

  @property
  def lstm(self):
    return "LSTM" in self.cell

  @property
  def stock(self):
    """Whether stock Keras has a layer for it (not an LSTM with peepholes,
    a projection, clipping or layer norm)."""
    return not (self.use_peepholes or self.num_proj or self.cell_clip or
                self.cell == "LayerNormBasicLSTMCell")


CASES = {
    "gru_cell": Case("GRUCell", DYNAMIC, (5,)),
    "gru_cell_float64_named": Case("GRUCell", DYNAMIC, (4,), "float64",
                                   scope="model/encoder",
                                   cell_name="enc_cell"),
    "gru_cell_static": Case("GRUCell", STATIC, (4,)),
    "gru_cell_bidirectional": Case("GRUCell", BIDIRECTIONAL, (4,),
                                   "float64"),
    "gru_cell_multi": Case("GRUCell", MULTI, (5, 4), rnn_scope="stack"),
    "gru_cell_bi_multi": Case("GRUCell", BI_MULTI, (4, 3)),
    "gru_cell_adam": Case("GRUCell", DYNAMIC, (4,), scope="encoder",
                          adam=True, extra_layer=True),
    "gru_block_cell": Case("GRUBlockCell", DYNAMIC, (5,)),
    "gru_block_cell_v2": Case("GRUBlockCellV2", DYNAMIC, (4,),
                              scope="decoder"),
    "cudnn_compatible": Case("CudnnCompatibleGRUCell", DYNAMIC, (5,)),
    "cudnn_compatible_float64": Case("CudnnCompatibleGRUCell", MULTI, (4, 4),
                                     "float64"),
    "cudnn_gru": Case("CudnnCompatibleGRUCell", MULTI, (4, 4),
                      cudnn=True),
    "cudnn_gru_bidirectional": Case("CudnnCompatibleGRUCell", STACK_BI,
                                    (3, 3), cudnn=True),
}


LSTM_CASES = {
    "basic_lstm": Case("BasicLSTMCell", DYNAMIC, (5,)),
    "basic_lstm_float64_multi": Case("BasicLSTMCell", MULTI, (4, 3),
                                     "float64", scope="model"),
    "basic_lstm_adam": Case("BasicLSTMCell", DYNAMIC, (4,), scope="encoder",
                            adam=True, extra_layer=True),
    "lstm_cell_bidirectional": Case("LSTMCell", BIDIRECTIONAL, (4,),
                                    forget_bias=0.5),
    "lstm_cell_static": Case("LSTMCell", STATIC, (4,), forget_bias=0.0),
    "lstm_cell_bi_multi_float64": Case("LSTMCell", BI_MULTI, (4, 3),
                                       "float64", forget_bias=0.7),
    "lstm_cell_options": Case("LSTMCell", DYNAMIC, (5,), use_peepholes=True,
                              num_proj=3, cell_clip=0.3, proj_clip=0.2),
    "lstm_cell_options_float64": Case("LSTMCell", MULTI, (4, 4), "float64",
                                      use_peepholes=True, num_proj=3,
                                      cell_clip=0.3),
    "lstm_cell_peepholes": Case("LSTMCell", BIDIRECTIONAL, (4,),
                                use_peepholes=True, forget_bias=0.5),
    "lstm_block_cell": Case("LSTMBlockCell", DYNAMIC, (4,),
                            use_peepholes=True, cell_clip=0.3),
    "lstm_block_cell_stack_bi": Case("LSTMBlockCell", STACK_BI, (3, 3)),
    "cudnn_compatible_lstm": Case("CudnnCompatibleLSTMCell", MULTI, (4, 4)),
    "layer_norm_lstm": Case("LayerNormBasicLSTMCell", DYNAMIC, (4,)),
    "layer_norm_lstm_bidirectional_float64": Case(
        "LayerNormBasicLSTMCell", BIDIRECTIONAL, (3,), "float64",
        forget_bias=0.5),
    "cudnn_lstm_bidirectional": Case("CudnnCompatibleLSTMCell", STACK_BI,
                                     (3, 3), cudnn=True),
}
ALL_CASES = {**CASES, **LSTM_CASES}


def folder_of(name):
  """Where case `name`'s golden lives."""
  return LSTM_FOLDER if name in LSTM_CASES else FOLDER


def prefix(name, folder=None):
  return os.path.join(folder or folder_of(name), name, CHECKPOINT)


def write(name, folder=None):
  """Runs case `name`'s TF1 program (in a subprocess, see the module
  docstring) into `folder`/<name>/; returns the files it wrote."""
  write_all([name], folder or folder_of(name), meta=name in LSTM_CASES)
  return LSTM_FILES if name in LSTM_CASES else FILES


def unlike_committed(names, folder):
  """The files of cases `names` written into `folder` that are not byte
  for byte the committed goldens (the oracle reproduces them)."""
  from compat_tests import golden_files  # pylint: disable=g-import-not-at-top
  return [f"{name}/{file}" for name in names
          for file in (LSTM_FILES if name in LSTM_CASES else FILES)
          if golden_files.status(os.path.join(folder, name, file),
                                 os.path.join(folder_of(name), name,
                                              file)) != "same"]


def write_all(names, folder=FOLDER, meta=False):
  """Writes several cases with one subprocess (one TensorFlow start);
  `meta`: with each program's `.meta` too."""
  result = subprocess.run(
      [sys.executable, "-m", "compat_tests.tf1_cell_oracle", "--folder",
       folder, *(["--meta"] if meta else []), *names], cwd=_REPOSITORY, capture_output=True, text=True,
      check=False)
  if result.returncode:
    raise RuntimeError(f"the TF1 cell oracle failed:\n{result.stderr[-3000:]}")


_REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
