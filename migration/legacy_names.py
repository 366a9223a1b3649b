"""RNN variable names written before TF 1.2, read under today's names.

TF 1.2 renamed the RNN cells' variables (`weights` -> `kernel`, `biases` ->
`bias`, `BasicLSTMCell/Linear/Matrix` -> `basic_lstm_cell/kernel`, ...), and
shipped `tf.contrib.rnn.checkpoint_convert` to rename old checkpoints. A
checkpoint that still has the old names is read here as that tool renames
it, for the cells the converter knows, so detection, mapping and
verification see today's names; the values are read under the old ones.
Converting back writes today's names, as the tool does.

`RENAMES` is TF 1.15's `RNN_NAME_REPLACEMENTS` for those cells (a
substring of a name replaced once, the first that matches, so optimizer
slots follow their variables), and `PRE_1_0` its `_RNN_SHARDED_NAME_
REPLACEMENTS` forms for unsharded variables (TF 0.x: `MultiRNNCell/Cell0`,
`BasicLSTMCell/Linear/Matrix`, `LSTMCell/W_0`), applied first. Source:
tensorflow/tensorflow tensorflow/contrib/rnn/python/tools/
checkpoint_convert.py (TF 1.x). This module imports no TensorFlow.
"""

# TF 0.x names (scopes capitalized, `Linear/Matrix`, `W_0`): every match is
# replaced, in order, then `RENAMES` applies.
PRE_1_0 = (
    ("MultiRNNCell/Cell", "multi_rnn_cell/cell_"),
    ("BasicLSTMCell/Linear/Matrix", "basic_lstm_cell/weights"),
    ("BasicLSTMCell/Linear/Bias", "basic_lstm_cell/biases"),
    ("LSTMCell/W_0", "lstm_cell/weights"),
    ("LSTMCell/B", "lstm_cell/biases"),
    ("GRUCell/Gates/Linear/Matrix", "gru_cell/gates/weights"),
    ("GRUCell/Gates/Linear/Bias", "gru_cell/gates/biases"),
    ("GRUCell/Candidate/Linear/Matrix", "gru_cell/candidate/weights"),
    ("GRUCell/Candidate/Linear/Bias", "gru_cell/candidate/biases"),
)

# TF 1.0 and 1.1 names -> TF 1.2's (one replacement per name).
RENAMES = (
    ("gru_cell/gates/weights", "gru_cell/gates/kernel"),
    ("gru_cell/gates/biases", "gru_cell/gates/bias"),
    ("gru_cell/candidate/weights", "gru_cell/candidate/kernel"),
    ("gru_cell/candidate/biases", "gru_cell/candidate/bias"),
    ("basic_lstm_cell/weights", "basic_lstm_cell/kernel"),
    ("basic_lstm_cell/biases", "basic_lstm_cell/bias"),
    ("lstm_cell/projection/weights", "lstm_cell/projection/kernel"),
    ("lstm_cell/weights", "lstm_cell/kernel"),
    ("lstm_cell/biases", "lstm_cell/bias"),
    ("layer_norm_basic_lstm_cell/weights",
     "layer_norm_basic_lstm_cell/kernel"),
    ("layer_norm_basic_lstm_cell/biases", "layer_norm_basic_lstm_cell/bias"),
)


def current_name(name):
  """`name` as TF 1.2+ writes it (itself if it is not an old RNN name)."""
  for old, new in PRE_1_0:
    name = name.replace(old, new)
  for old, new in RENAMES:
    if old in name:
      return name.replace(old, new, 1)
  return name


def renamed(names):
  """{today's name: old name} of the old names among `names`.

  Raises:
    ValueError: two names that would be one (an old and a new name of one
      variable), naming them.
  """
  found = {}
  for name in sorted(names):
    new = current_name(name)
    if new != name:
      if new in names or new in found:
        raise ValueError(f"{name!r} and {found.get(new, new)!r} are both "
                         f"{new!r} under TF 1.2's names")
      found[new] = name
  return found
