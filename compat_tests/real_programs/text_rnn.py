"""A character-level text classifier over a 2-layer LSTM (TextRNN),
reproduced at a small size.

Source: https://github.com/gaussic/text-classification-cnn-rnn at commit
  90dd55cccacac663e87445ed356bf59307864168 ("fix dropout"; rnn_model.py
  last changed at 6ab30f0418978d471ff13c1c23112c8b3c3e6f9f): rnn_model.py
  (`TRNNConfig`, `TextRNN`), run_rnn.py (`feed_data`, `train`: keep_prob
  `config.dropout_keep_prob` to train, 1.0 to evaluate and predict) and
  data/cnews_loader.py (`process_file`: ids pre-padded with 0, the
  `<PAD>` id, by `pad_sequences`; one-hot labels by `to_categorical`).
  The README asks for TensorFlow 1.3 or later.

The model: `input_x` [None, seq_length] int32 looked up in `embedding`
(`tf.get_variable`, under `tf.device('/cpu:0')`); under the name scope
`rnn`, `tf.nn.dynamic_rnn` runs a MultiRNNCell of `num_layers`
`BasicLSTMCell`s each wrapped in a `DropoutWrapper(output_keep_prob=
keep_prob)`, so its variables are `rnn/multi_rnn_cell/cell_<i>/
basic_lstm_cell/{kernel,bias}`; the last step's output `_outputs[:, -1,
:]` goes through `score`: `tf.layers.dense` `fc1`, contrib dropout, relu,
`fc2` (the logits) and `y_pred_cls = argmax(softmax(logits))`. `optimize`
holds the softmax cross entropy and Adam's `minimize`; `accuracy` the
accuracy.

`tf.contrib` is gone from TF 2.21: `tf.contrib.rnn.BasicLSTMCell`,
`DropoutWrapper` and `MultiRNNCell` were `tf.compat.v1.nn.rnn_cell`'s
classes; `tf.contrib.layers.dropout` is reproduced below from
tensorflow/tensorflow tensorflow/contrib/layers/python/layers/layers.py
(read at commit df09a10c3a710deb9d7fbc44a2803a4a3c53f66e, a TF 1.x
revision; its custom getter `_model_variable_getter`, which only the
variables of a layer would meet, and the dropout layer has none, is left
out). The rest is the source's, with `tf.X` spelled `tf.compat.v1.X`
where TF 2 moved it (what tf_upgrade_v2 writes).

Deviations from the source:
  - `TRNNConfig.rnn` is 'lstm', the config's other documented choice
    ("lstm 或 gru"; the default is 'gru').
  - Sizes: embedding_dim 6 (64), seq_length 10 (600), vocab_size 30
    (5000), hidden_dim 8 (128), batch_size 4 (128); num_layers 2,
    num_classes 10, dropout_keep_prob 0.8 and learning_rate 1e-3 are the
    source's. 3 training steps.
  - Data: seeded random character ids (1..; 0 pads on the left, as
    `pad_sequences` does) and labels instead of THUCNews.
  - run_rnn.py's TensorBoard FileWriter, evaluation loop and early
    stopping are left out; its summaries (`loss`, `accuracy`) and
    `merge_all` are built as it builds them.
  - `TextRNN.rnn` records the RNN's input, outputs, final states and the
    last step's output in `self.taps` for the goldens (no op is added).
  - As for every program here: regenerate.py adds seeded noise to the
    variables the program starts from constants before training, and TF
    2.21 builds a few ops differently from TF 1.x (the goldens' README,
    "Common to all programs").
"""

import types

import numpy as np
import tensorflow as tf

from compat_tests import real_programs

real_programs.require_legacy_keras()

STEPS = 3


# tensorflow/contrib/layers/python/layers/layers.py (TF 1.x)

def collect_named_outputs(collections, alias, outputs):
  """tf.contrib.layers' utils.collect_named_outputs (TF 1.x's)."""
  if collections:
    if alias[-1] == "/":
      alias = alias[:-1]
    if hasattr(outputs, "aliases"):
      outputs.aliases.append(alias)
    else:
      outputs.aliases = [alias]
    tf.compat.v1.add_to_collections(collections, outputs)
  return outputs


def _contrib_dropout(inputs,
                     keep_prob=0.5,
                     noise_shape=None,
                     is_training=True,
                     outputs_collections=None,
                     scope=None):
  """tf.contrib.layers.dropout (TF 1.x's)."""
  with tf.compat.v1.variable_scope(scope, "Dropout", [inputs]) as sc:
    inputs = tf.convert_to_tensor(inputs)
    layer = tf.compat.v1.layers.Dropout(rate=1 - keep_prob,
                                        noise_shape=noise_shape,
                                        name=sc.name,
                                        _scope=sc)
    outputs = layer.apply(inputs, training=is_training)
    return collect_named_outputs(outputs_collections, sc.name, outputs)


# The source's `tf.contrib.layers.dropout`.
contrib = types.SimpleNamespace(
    layers=types.SimpleNamespace(dropout=_contrib_dropout))


# rnn_model.py

class TRNNConfig(object):
  """RNN配置参数 (sizes shrunk, `rnn` set: see the module docstring)"""

  # 模型参数
  embedding_dim = 6       # 词向量维度
  seq_length = 10         # 序列长度
  num_classes = 10        # 类别数
  vocab_size = 30         # 词汇表达小

  num_layers = 2          # 隐藏层层数
  hidden_dim = 8          # 隐藏层神经元
  rnn = "lstm"            # lstm 或 gru

  dropout_keep_prob = 0.8  # dropout保留比例
  learning_rate = 1e-3    # 学习率

  batch_size = 4          # 每批训练大小
  num_epochs = 10         # 总迭代轮次

  print_per_batch = 100   # 每多少轮输出一次结果
  save_per_batch = 10     # 每多少轮存入tensorboard


class TextRNN(object):
  """文本分类，RNN模型 (`taps` added, see the module docstring)"""

  def __init__(self, config):
    self.config = config
    self.taps = {}

    # 三个待输入的数据
    self.input_x = tf.compat.v1.placeholder(
        tf.int32, [None, self.config.seq_length], name="input_x")
    self.input_y = tf.compat.v1.placeholder(
        tf.float32, [None, self.config.num_classes], name="input_y")
    self.keep_prob = tf.compat.v1.placeholder(tf.float32, name="keep_prob")

    self.rnn()

  def rnn(self):
    """rnn模型"""

    def lstm_cell():   # lstm核
      return tf.compat.v1.nn.rnn_cell.BasicLSTMCell(self.config.hidden_dim,
                                                    state_is_tuple=True)

    def gru_cell():  # gru核
      return tf.compat.v1.nn.rnn_cell.GRUCell(self.config.hidden_dim)

    def dropout():  # 为每一个rnn核后面加一个dropout层
      if self.config.rnn == "lstm":
        cell = lstm_cell()
      else:
        cell = gru_cell()
      return tf.compat.v1.nn.rnn_cell.DropoutWrapper(
          cell, output_keep_prob=self.keep_prob)

    # 词向量映射
    with tf.device("/cpu:0"):
      embedding = tf.compat.v1.get_variable(
          "embedding", [self.config.vocab_size, self.config.embedding_dim])
      embedding_inputs = tf.nn.embedding_lookup(embedding, self.input_x)

    with tf.name_scope("rnn"):
      # 多层rnn网络
      cells = [dropout() for _ in range(self.config.num_layers)]
      rnn_cell = tf.compat.v1.nn.rnn_cell.MultiRNNCell(cells,
                                                       state_is_tuple=True)

      _outputs, _ = tf.compat.v1.nn.dynamic_rnn(
          cell=rnn_cell, inputs=embedding_inputs, dtype=tf.float32)
      last = _outputs[:, -1, :]  # 取最后一个时序输出作为结果
      self.taps["rnn"] = _taps(embedding_inputs, _outputs, _, last)

    with tf.name_scope("score"):
      # 全连接层，后面接dropout以及relu激活
      fc = tf.compat.v1.layers.dense(last, self.config.hidden_dim,
                                     name="fc1")
      fc = contrib.layers.dropout(fc, self.keep_prob)
      fc = tf.nn.relu(fc)

      # 分类器
      self.logits = tf.compat.v1.layers.dense(fc, self.config.num_classes,
                                              name="fc2")
      self.y_pred_cls = tf.argmax(tf.nn.softmax(self.logits), 1)  # 预测类别

    with tf.name_scope("optimize"):
      # 损失函数，交叉熵
      cross_entropy = tf.compat.v1.nn.softmax_cross_entropy_with_logits(
          logits=self.logits, labels=self.input_y)
      self.loss = tf.reduce_mean(cross_entropy)
      # 优化器
      self.optim = tf.compat.v1.train.AdamOptimizer(
          learning_rate=self.config.learning_rate).minimize(self.loss)

    with tf.name_scope("accuracy"):
      # 准确率
      correct_pred = tf.equal(tf.argmax(self.input_y, 1), self.y_pred_cls)
      self.acc = tf.reduce_mean(tf.cast(correct_pred, tf.float32))


def _taps(inputs, outputs, state, last):
  """The RNN's tensors: a MultiRNNCell's final state is one LSTMStateTuple
  per layer, recorded as final_state_<i>_c / _h."""
  taps = {"input": inputs, "output": outputs, "last_output": last}
  for i, layer in enumerate(state):
    taps[f"final_state_{i}_c"] = layer.c
    taps[f"final_state_{i}_h"] = layer.h
  return taps


def build():
  """Builds run_rnn.py's `TextRNN(config)` (the model, its loss and Adam's
  `minimize`) in the default graph.

  Returns:
    {"feeds": {"input_x", "keep_prob"},
     "outputs": {"logits", "y_pred_cls"},
     "rnn": {"rnn": {role: tensor}}} (the model itself under "model").
  """
  model = TextRNN(TRNNConfig())
  return {"feeds": {"input_x": model.input_x, "keep_prob": model.keep_prob},
          "outputs": {"logits": model.logits, "y_pred_cls": model.y_pred_cls},
          "rnn": model.taps, "model": model}


def train_op(model):
  """run_rnn.py's `train`: the summaries it merges, and the model's
  `optim`, fed `input_y` and the training keep probability."""
  text_rnn = model["model"]
  tf.compat.v1.summary.scalar("loss", text_rnn.loss)
  tf.compat.v1.summary.scalar("accuracy", text_rnn.acc)
  tf.compat.v1.summary.merge_all()
  return {"op": text_rnn.optim, "feeds": {"input_y": text_rnn.input_y}}


def batch(rng, training):
  """Seeded random texts as `process_file` makes them (ids 1..,
  pre-padded with 0 to seq_length; one-hot float32 labels), with
  `feed_data`'s keep probability: dropout_keep_prob to train, 1.0 to
  evaluate."""
  config = TRNNConfig
  lengths = rng.randint(2, config.seq_length + 1, config.batch_size)
  ids = rng.randint(1, config.vocab_size,
                    (config.batch_size, config.seq_length))
  steps = np.arange(config.seq_length)[None, :]
  x = np.where(steps >= config.seq_length - lengths[:, None], ids, 0)
  feeds = {"input_x": x.astype(np.int32),
           "keep_prob": np.float32(
               config.dropout_keep_prob if training else 1.0)}
  if training:
    labels = rng.randint(0, config.num_classes, config.batch_size)
    feeds["input_y"] = np.eye(config.num_classes, dtype=np.float32)[labels]
  return feeds
