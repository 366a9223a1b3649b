"""TensorFlow's own TF1 LSTM cells: their variables, as TF 1.15 names and
shapes them inside a cell's scope, and what the checkpoint does not hold.
One definition, for `tf2.TF1LSTMCell` and the converter's kind
(`migration/kinds/tf1_lstm_cells.py`).

    BasicLSTMCell             kernel [in+u, 4u], bias [4u]
    LSTMCell                  kernel [in+h, 4u], bias [4u]; with peepholes
                              w_f_diag, w_i_diag, w_o_diag [u]; with
                              num_proj, projection/kernel [u, h]
                              (h = num_proj, else u)
    LSTMBlockCell             kernel, bias; with peepholes w_i_diag,
                              w_f_diag, w_o_diag (TensorFlow's fused
                              `LSTMBlockCell` op)
    CudnnCompatibleLSTMCell   kernel, bias (an LSTMBlockCell with forget
                              bias 0)
    LayerNormBasicLSTMCell    kernel [in+u, 4u]; with layer norm (its
                              default) no bias but {input, transform,
                              forget, output, state}/{gamma, beta} [u];
                              without, bias [4u]

Every kernel multiplies [input; state] at every step, and its four column
blocks are the gates i, j (the candidate, which LSTMBlockCell calls c), f,
o, in that order for every kind. The forget bias (`FORGET_BIAS`) is added
to f at run time, and the cell clip, projection clip and activation are
arguments of the cell: none is in the checkpoint.
"""

from gru_common import tf1_gru_cells

BASIC_LSTM_CELL = "BasicLSTMCell"
LSTM_CELL = "LSTMCell"
LSTM_BLOCK_CELL = "LSTMBlockCell"
CUDNN_COMPATIBLE = "CudnnCompatibleLSTMCell"
LAYER_NORM = "LayerNormBasicLSTMCell"
CELLS = (BASIC_LSTM_CELL, LSTM_CELL, LSTM_BLOCK_CELL, CUDNN_COMPATIBLE,
         LAYER_NORM)

# TF 1.15's defaults of the argument the checkpoint does not hold.
FORGET_BIAS = {BASIC_LSTM_CELL: 1.0, LSTM_CELL: 1.0, LSTM_BLOCK_CELL: 1.0,
               CUDNN_COMPATIBLE: 0.0, LAYER_NORM: 1.0}
# The cell's scope name when the user gives none.
DEFAULT_NAME = {BASIC_LSTM_CELL: "basic_lstm_cell", LSTM_CELL: "lstm_cell",
                LSTM_BLOCK_CELL: "lstm_cell",
                CUDNN_COMPATIBLE: "cudnn_compatible_lstm_cell",
                LAYER_NORM: "layer_norm_basic_lstm_cell"}
# Which kinds have peepholes, a projection, clipping.
PEEPHOLES = (LSTM_CELL, LSTM_BLOCK_CELL)
PROJECTION = (LSTM_CELL,)
CELL_CLIP = (LSTM_CELL, LSTM_BLOCK_CELL)
# LayerNormBasicLSTMCell normalizes each gate's pre-activation and the new
# cell state, in these scopes, with tf.contrib.layers.layer_norm's epsilon.
LAYER_NORM_SCOPES = ("input", "transform", "forget", "output", "state")
LAYER_NORM_EPSILON = 1e-12

KERNEL, BIAS = "kernel", "bias"
PEEPHOLE_NAMES = ("w_f_diag", "w_i_diag", "w_o_diag")
PROJECTION_KERNEL = "projection/kernel"
GATES = ("i", "j", "f", "o")      # the column blocks, in TF1's order


LAYER_NORM_NAMES = tuple(f"{scope}/{name}" for scope in LAYER_NORM_SCOPES
                         for name in ("gamma", "beta"))


def variables(cell, peepholes=False, projection=False, layer_norm=False):
  """The names of one cell's variables, in creation order."""
  del cell  # Every kind names them alike.
  if layer_norm:
    return (KERNEL,) + LAYER_NORM_NAMES
  names = (KERNEL, BIAS)
  if peepholes:
    names += PEEPHOLE_NAMES
  if projection:
    names += (PROJECTION_KERNEL,)
  return names


def shapes(cell, input_dim, units, peepholes=False, num_proj=None,
           layer_norm=False):
  """{variable name in the cell's scope: shape}, in the cell's order."""
  h = num_proj or units
  by_name = {KERNEL: (input_dim + h, 4 * units), BIAS: (4 * units,),
             PROJECTION_KERNEL: (units, num_proj)}
  by_name.update((n, (units,)) for n in PEEPHOLE_NAMES + LAYER_NORM_NAMES)
  return {n: by_name[n] for n in variables(cell, peepholes,
                                           num_proj is not None, layer_norm)}


weight_name = tf1_gru_cells.weight_name
