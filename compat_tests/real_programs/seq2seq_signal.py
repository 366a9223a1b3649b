"""A GRU encoder-decoder for signal prediction whose decoder starts from the
encoder's final state, reproduced (at the source's own small size).

Source: https://github.com/guillaume-chevalier/seq2seq-signal-prediction
  seq2seq.py at commit 8939e55628e89bc863af7347b351355adffe24c1 (the last
  TF1 version, before the 2020 rewrite for TF 2): notebook cells [3]
  (hyperparameters), [5] (the model) and [6] (loss and optimizer), with
  exercise 1's data (datasets.py, `generate_x_y_data_v1`).

The model runs `tf.contrib.legacy_seq2seq.basic_rnn_seq2seq` over a
MultiRNNCell of 2 GRUCells (12 units) under `Seq2seq`: a `static_rnn`
encoder over a deep copy of the cell (scope
`Seq2seq/basic_rnn_seq2seq/rnn/multi_rnn_cell/cell_<i>/gru_cell`), whose
final state starts `rnn_decoder` over the cell itself (scope
`Seq2seq/basic_rnn_seq2seq/rnn_decoder/multi_rnn_cell/cell_<i>/gru_cell`,
its weights reused for every step). Its inputs are time-major lists of
placeholders `Seq2seq/inp_<t>`; the decoder reads a zero "GO" frame and
then the encoder's inputs shifted by one; a linear map
(`Seq2seq/Variable`, `Seq2seq/Variable_1`, `Seq2seq/Output_ScaleFactor`)
gives the predictions.

`tf.contrib` is gone from TF 2.21: `basic_rnn_seq2seq` and `rnn_decoder`
(`rnn_decoder` in `legacy_seq2seq.py`, shared with char_rnn) are
contrib's (tensorflow/tensorflow,
tensorflow/contrib/legacy_seq2seq/python/ops/seq2seq.py, read at commit
047a850a6b5a233448c0e470270bbd17afd9c4a7, a TF 1.x revision; contrib last
shipped in TF 1.15), op for op, with their scopes, `copy.deepcopy` of the
cell and `reuse_variables` calls; `rnn.static_rnn` is
`tf.compat.v1.nn.static_rnn`. The rest is the source's, with `tf.X`
spelled `tf.compat.v1.X` where TF 2 moved it (`tf.Variable` is TF1's class,
`tf.compat.v1.Variable`).

Deviations from the source:
  - The notebook's compatibility block (`tf.nn.seq2seq =
    tf.contrib.legacy_seq2seq`, `tf.nn.rnn_cell = tf.contrib.rnn`) is
    replaced by the reproduction above and `tf.compat.v1.nn.rnn_cell`
    (contrib.rnn's GRUCell and MultiRNNCell were those classes).
  - 3 training steps (nb_iters 150) on seeded data: exercise 1's sines
    and cosines with their random phase drawn from a numpy RandomState
    instead of Python's `random`. Sizes are the source's (seq_length 10,
    2 signals, hidden_dim 12, 2 layers, batch_size 5).
  - The InteractiveSession, test loop and plots are left out.
  - `basic_rnn_seq2seq` and `rnn_decoder` record the encoder's inputs,
    outputs and final state and the decoder's inputs, per-step states,
    outputs and final state in `taps` for the goldens (no op is added).
  - As for every program here: regenerate.py adds seeded noise to the
    variables the program starts from constants before training, and TF
    2.21 builds a few ops differently from TF 1.x (the goldens' README,
    "Common to all programs").
"""

import copy
import math

import numpy as np
import tensorflow as tf

from compat_tests import real_programs
from compat_tests.real_programs import legacy_seq2seq

real_programs.require_legacy_keras()

# Neural network's hyperparameters (cell [3]; exercise 1's data).
seq_length = 10
batch_size = 5
output_dim = input_dim = 2
hidden_dim = 12
layers_stacked_count = 2
learning_rate = 0.007
nb_iters = 150
lr_decay = 0.92
momentum = 0.5
lambda_l2_reg = 0.003
STEPS = 3


# tensorflow/contrib/legacy_seq2seq/python/ops/seq2seq.py (TF 1.x)

rnn_decoder = legacy_seq2seq.rnn_decoder


def basic_rnn_seq2seq(encoder_inputs,
                      decoder_inputs,
                      cell,
                      dtype=tf.float32,
                      scope=None,
                      taps=None):
  """Basic RNN sequence-to-sequence model (contrib's).

  The encoder runs a deep copy of `cell`, the decoder `cell` itself, so
  they share the cell's type but not its parameters.
  """
  with tf.compat.v1.variable_scope(scope or "basic_rnn_seq2seq"):
    enc_cell = copy.deepcopy(cell)
    enc_outputs, enc_state = tf.compat.v1.nn.static_rnn(
        enc_cell, encoder_inputs, dtype=dtype)
    decoder_taps = {} if taps is not None else None
    dec_outputs, dec_state = rnn_decoder(decoder_inputs, enc_state, cell,
                                         taps=decoder_taps)
    if taps is not None:
      taps["encoder"] = {"input": encoder_inputs, "output": enc_outputs,
                         "final_state": enc_state}
      taps["decoder"] = {"input": decoder_inputs, "initial_state": enc_state,
                         "states": decoder_taps["states"],
                         "output": dec_outputs, "final_state": dec_state}
    return dec_outputs, dec_state


# datasets.py

def generate_x_y_data_v1(isTrain, batch_size, rng):  # pylint: disable=invalid-name,redefined-outer-name,unused-argument
  """Exercise 1's data: (X, Y), each [seq_length, batch_size, 2]; X is a
  sine and a cosine from 0 to 1.5 pi, Y their next 1.5 pi, with a random
  phase per example (drawn from `rng`)."""
  seq_length = 10  # pylint: disable=redefined-outer-name

  batch_x = []
  batch_y = []
  for _ in range(batch_size):
    rand = rng.random_sample() * 2 * math.pi

    sig1 = np.sin(np.linspace(0.0 * math.pi + rand,
                              3.0 * math.pi + rand, seq_length * 2))
    sig2 = np.cos(np.linspace(0.0 * math.pi + rand,
                              3.0 * math.pi + rand, seq_length * 2))
    x1 = sig1[:seq_length]
    y1 = sig1[seq_length:]
    x2 = sig2[:seq_length]
    y2 = sig2[seq_length:]

    x_ = np.array([x1, x2])
    y_ = np.array([y1, y2])
    x_, y_ = x_.T, y_.T

    batch_x.append(x_)
    batch_y.append(y_)

  batch_x = np.array(batch_x)
  batch_y = np.array(batch_y)
  # shape: (batch_size, seq_length, output_dim)

  batch_x = np.array(batch_x).transpose((1, 0, 2))
  batch_y = np.array(batch_y).transpose((1, 0, 2))
  # shape: (seq_length, batch_size, output_dim)

  return batch_x, batch_y


def build():
  """Builds cell [5], the model, in the default graph.

  Returns:
    {"feeds": {"enc_inp": [placeholder per step]},
     "outputs": {"reshaped_outputs": [tensor per step]},
     "rnn": {"encoder"|"decoder": {role: tensor or [tensor per step]}},
     "expected_sparse_output": [placeholder per step]}; a decoder state is
    a tuple (one [batch, 12] tensor per layer), and "states" holds one
    such tuple per step.
  """
  taps = {}
  with tf.compat.v1.variable_scope("Seq2seq"):

    # Encoder: inputs
    enc_inp = [
        tf.compat.v1.placeholder(tf.float32, shape=(None, input_dim),
                                 name="inp_{}".format(t))
        for t in range(seq_length)
    ]

    # Decoder: expected outputs
    expected_sparse_output = [
        tf.compat.v1.placeholder(tf.float32, shape=(None, output_dim),
                                 name="expected_sparse_output_".format(t))  # pylint: disable=too-many-format-args
        for t in range(seq_length)
    ]

    # Give a "GO" token to the decoder.
    # Note: we might want to fill the encoder with zeros or its own feedback
    # rather than with "+ enc_inp[:-1]"
    dec_inp = ([tf.zeros_like(enc_inp[0], dtype=np.float32, name="GO")] +
               enc_inp[:-1])

    # Create a `layers_stacked_count` of stacked RNNs (GRU cells here).
    cells = []
    for i in range(layers_stacked_count):
      with tf.compat.v1.variable_scope("RNN_{}".format(i)):
        cells.append(tf.compat.v1.nn.rnn_cell.GRUCell(hidden_dim))
        # cells.append(tf.nn.rnn_cell.BasicLSTMCell(...))
    cell = tf.compat.v1.nn.rnn_cell.MultiRNNCell(cells)

    # Here, the encoder and the decoder uses the same cell, HOWEVER,
    # the weights aren't shared among the encoder and decoder, we have two
    # sets of weights created under the hood according to that function's
    # def.
    dec_outputs, dec_memory = basic_rnn_seq2seq(  # pylint: disable=unused-variable
        enc_inp,
        dec_inp,
        cell,
        taps=taps
    )

    # For reshaping the output dimensions of the seq2seq RNN:
    w_out = tf.compat.v1.Variable(
        tf.compat.v1.random_normal([hidden_dim, output_dim]))
    b_out = tf.compat.v1.Variable(tf.compat.v1.random_normal([output_dim]))

    # Final outputs: with linear rescaling for enabling possibly large and
    # unrestricted output values.
    output_scale_factor = tf.compat.v1.Variable(1.0,
                                                name="Output_ScaleFactor")

    reshaped_outputs = [output_scale_factor * (tf.matmul(i, w_out) + b_out)
                        for i in dec_outputs]
  return {"feeds": {"enc_inp": enc_inp},
          "outputs": {"reshaped_outputs": reshaped_outputs},
          "rnn": _flat(taps),
          "expected_sparse_output": expected_sparse_output}


def _flat(taps):
  """Tuple states as one entry per layer: `final_state` -> `final_state_0`,
  `final_state_1`; per-step `states` -> `states_0`, `states_1`."""
  flat = {}
  for layer, roles in taps.items():
    flat[layer] = {}
    for role, value in roles.items():
      if role == "states":
        for i in range(layers_stacked_count):
          flat[layer][f"states_{i}"] = [step[i] for step in value]
      elif isinstance(value, tuple):
        for i, part in enumerate(value):
          flat[layer][f"{role}_{i}"] = part
      else:
        flat[layer][role] = value
  return flat


def train_op(model):
  """Cell [6]: the L2 loss plus L2 regularization, and RMSProp with decay
  and momentum. Returns {"op": train op, "feeds": {"expected_sparse_output":
  [placeholder per step]}}."""
  reshaped_outputs = model["outputs"]["reshaped_outputs"]
  expected_sparse_output = model["expected_sparse_output"]

  # Training loss and optimizer

  with tf.compat.v1.variable_scope("Loss"):
    # L2 loss
    output_loss = 0
    for _y, _Y in zip(reshaped_outputs, expected_sparse_output):  # pylint: disable=invalid-name
      output_loss += tf.reduce_mean(tf.nn.l2_loss(_y - _Y))

    # L2 regularization (to avoid overfitting and to have a  better
    # generalization capacity)
    reg_loss = 0
    for tf_var in tf.compat.v1.trainable_variables():
      if not ("Bias" in tf_var.name or "Output_" in tf_var.name):
        reg_loss += tf.reduce_mean(tf.nn.l2_loss(tf_var))

    loss = output_loss + lambda_l2_reg * reg_loss

  with tf.compat.v1.variable_scope("Optimizer"):
    optimizer = tf.compat.v1.train.RMSPropOptimizer(
        learning_rate, decay=lr_decay, momentum=momentum)
    op = optimizer.minimize(loss)
  return {"op": op,
          "feeds": {"expected_sparse_output": expected_sparse_output}}


def batch(rng, training):
  """Exercise 1's data as the notebook feeds it: X into `enc_inp` (and, for
  training, Y into `expected_sparse_output`), step by step."""
  x, y = generate_x_y_data_v1(isTrain=training, batch_size=batch_size,
                              rng=rng)
  feeds = {"enc_inp": list(x.astype(np.float32))}
  if training:
    feeds["expected_sparse_output"] = list(y.astype(np.float32))
  return feeds
