"""Idiomatic TF2 (Keras 3) rewrites of the two source GRUs.

Layers (all registered for `.keras` saving under "tf1_gru_migration"):
  ScanGRUCell, ScanGRU: the Data Blogger GRU (legacy/scan_gru.py).
  LoopGRUCell, LoopGRU: the tutorial GRU (legacy/loop_gru.py).
  PerSequenceDense: the addition job's output layer, applied per sequence.
  ReverseSequence, LegacyBidirectional: the legacy padding semantics.
  TF1GRUCell: TensorFlow's own TF1 GRU cells (GRUCell, GRUBlockCell,
    CudnnCompatibleGRUCell), op for op.
  TF1LSTMCell: TensorFlow's own TF1 LSTM cells (BasicLSTMCell, LSTMCell
    with peepholes, projection and clipping, LSTMBlockCell,
    CudnnCompatibleLSTMCell), op for op, in keras.ops: every backend.
  LearnedInitialState: a trained initial state, repeated over the batch.
  Weight: a variable a converted TF1 program uses in its own arithmetic
    (`program_layers`).
Model:
  ExactModel: a functional keras.Model whose predict/evaluate/fit compute
    in the model's dtype (Keras casts float64 arrays to floatx otherwise).
Optimizer:
  TF1Adam: Adam with tf.compat.v1.train.AdamOptimizer's exact arithmetic.

Nothing here uses tf.compat.v1.
"""

from tf2.exact_model import ExactModel
from tf2.initial_state import LearnedInitialState
from tf2.legacy_semantics import LegacyBidirectional
from tf2.legacy_semantics import ReverseSequence
from tf2.loop_gru import LoopGRU
from tf2.loop_gru import LoopGRUCell
from tf2.optimizers import TF1Adam
from tf2.per_sequence_dense import PerSequenceDense
from tf2.program_layers import Weight
from tf2.scan_gru import ScanGRU
from tf2.scan_gru import ScanGRUCell
from tf2.tf1_gru_cell import TF1GRUCell
from tf2.tf1_lstm_cell import TF1LSTMCell

__all__ = ["ExactModel", "LearnedInitialState", "LegacyBidirectional",
           "LoopGRU", "LoopGRUCell", "PerSequenceDense", "ReverseSequence",
           "ScanGRU", "ScanGRUCell", "TF1Adam", "TF1GRUCell", "TF1LSTMCell",
           "Weight"]
