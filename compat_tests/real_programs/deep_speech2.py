"""TensorFlow's own DeepSpeech2 (TF1 version), reproduced at a small size.

Source: https://github.com/tensorflow/models
  research/deep_speech/deep_speech_model.py at commit
  4bf08da7c4c3ba6c161890064c56421c423c8e35 (the TF1 model: GRUCell,
  tf.nn.bidirectional_dynamic_rnn, tf.layers), and the training half of
  `model_fn` (with its `ctc_loss` and `compute_length_after_conv`) from
  research/deep_speech/deep_speech.py at commit
  33395b05d9505672c89504e1bad045421efdc87d (the TF1 driver:
  tf.train.AdamOptimizer, global_step, UPDATE_OPS grouped in the train op).
  Its defaults: rnn_type=gru, is_bidirectional=True, use_bias=True.

The model's code below is the source's, line for line, with `tf.X` spelled
`tf.compat.v1.X` where TF 2 moved it (what tf_upgrade_v2 writes). Every
`_rnn_layer` calls `tf.compat.v1.nn.bidirectional_dynamic_rnn` without a
scope, so all layers share the default variable scope `bidirectional_rnn`
(its `fw`/`bw` sub-scopes) and are told apart by their cells' names,
`rnn_fw_<i>`/`rnn_bw_<i>`; batch norm sits between RNN layers (none before
the first).

Deviations from the source:
  - Sizes: 5 RNN layers (the flag's default), rnn_hidden_size 4 (800),
    _CONV_FILTERS 2 (32), 8 frequency bins (161 for 16 kHz audio with
    20 ms windows); kernel sizes, strides, paddings and the 29 classes are
    the source's.
  - Data: seeded random spectrograms, lengths and labels instead of
    LibriSpeech through `dataset.input_fn`.
  - One graph for training and inference. The Estimator builds separate
    graphs with a Python `training` of True (TRAIN) or False (PREDICT);
    here `training` is the boolean placeholder `is_training` (default
    False), which tf.layers.batch_normalization accepts, so the one saved
    graph runs both ways over the same variables.
  - The PREDICT outputs (`classes`, `probabilities`, `logits`) are tensors
    of that graph rather than an EstimatorSpec; the Estimator, its
    RunConfig and the flags are gone. The learning rate is the flag's
    default (5e-4).
  - `_rnn_layer` records its input and outputs in `taps` for the goldens
    (no op is added).
  - As for every program here: regenerate.py adds seeded noise to the
    variables the program starts from constants before training, and TF
    2.21 builds a few ops differently from TF 1.x (the goldens' README,
    "Common to all programs").
"""

from six.moves import xrange  # pylint: disable=redefined-builtin
import tensorflow as tf

from compat_tests import real_programs

real_programs.require_legacy_keras()

# Supported rnn cells.
SUPPORTED_RNNS = {
    "lstm": tf.compat.v1.nn.rnn_cell.BasicLSTMCell,
    "rnn": tf.compat.v1.nn.rnn_cell.RNNCell,
    "gru": tf.compat.v1.nn.rnn_cell.GRUCell,
}

# Parameters for batch normalization.
_BATCH_NORM_EPSILON = 1e-5
_BATCH_NORM_DECAY = 0.997

# Filters of convolution layer (the source's: 32).
_CONV_FILTERS = 2

# The run's settings (the flags' defaults, shrunk where the docstring says).
NUM_RNN_LAYERS = 5
RNN_TYPE = "gru"
IS_BIDIRECTIONAL = True
RNN_HIDDEN_SIZE = 4
NUM_CLASSES = 29           # "[a-z]' -" and the CTC blank
USE_BIAS = True
LEARNING_RATE = 5e-4
FREQUENCY_BINS = 8
BATCH, TIME, MAX_LABEL = 3, 16, 2
STEPS = 3


def batch_norm(inputs, training):
  """Batch normalization layer (the source's)."""
  return tf.compat.v1.layers.batch_normalization(
      inputs=inputs, momentum=_BATCH_NORM_DECAY, epsilon=_BATCH_NORM_EPSILON,
      fused=True, training=training)


def _conv_bn_layer(inputs, padding, filters, kernel_size, strides, layer_id,
                   training):
  """Defines 2D convolutional + batch normalization layer (the source's)."""
  # Perform symmetric padding on the feature dimension of time_step
  # This step is required to avoid issues when RNN output sequence is shorter
  # than the label length.
  inputs = tf.pad(
      inputs,
      [[0, 0], [padding[0], padding[0]], [padding[1], padding[1]], [0, 0]])
  inputs = tf.compat.v1.layers.conv2d(
      inputs=inputs, filters=filters, kernel_size=kernel_size,
      strides=strides, padding="valid", use_bias=False,
      activation=tf.nn.relu6, name="cnn_{}".format(layer_id))
  return batch_norm(inputs, training)


def _rnn_layer(inputs, rnn_cell, rnn_hidden_size, layer_id, is_batch_norm,
               is_bidirectional, training, taps=None):
  """Defines a batch normalization + rnn layer (the source's; `taps`, when
  given, receives the layer's input and outputs)."""
  if is_batch_norm:
    inputs = batch_norm(inputs, training)

  # Construct forward/backward RNN cells.
  fw_cell = rnn_cell(num_units=rnn_hidden_size,
                     name="rnn_fw_{}".format(layer_id))
  bw_cell = rnn_cell(num_units=rnn_hidden_size,
                     name="rnn_bw_{}".format(layer_id))

  if is_bidirectional:
    outputs, _ = tf.compat.v1.nn.bidirectional_dynamic_rnn(
        cell_fw=fw_cell, cell_bw=bw_cell, inputs=inputs, dtype=tf.float32,
        swap_memory=True)
    rnn_outputs = tf.concat(outputs, -1)
  else:
    rnn_outputs, _ = tf.compat.v1.nn.dynamic_rnn(
        fw_cell, inputs, dtype=tf.float32, swap_memory=True)

  if taps is not None:
    layer = taps["rnn_{}".format(layer_id)] = {"input": inputs,
                                                "output": rnn_outputs}
    if is_bidirectional:
      layer["output_fw"], layer["output_bw"] = outputs
  return rnn_outputs


class DeepSpeech2(object):
  """Define DeepSpeech2 model (the source's)."""

  def __init__(self, num_rnn_layers, rnn_type, is_bidirectional,
               rnn_hidden_size, num_classes, use_bias):
    self.num_rnn_layers = num_rnn_layers
    self.rnn_type = rnn_type
    self.is_bidirectional = is_bidirectional
    self.rnn_hidden_size = rnn_hidden_size
    self.num_classes = num_classes
    self.use_bias = use_bias
    self.taps = {}

  def __call__(self, inputs, training):
    # Two cnn layers.
    inputs = _conv_bn_layer(
        inputs, padding=(20, 5), filters=_CONV_FILTERS, kernel_size=(41, 11),
        strides=(2, 2), layer_id=1, training=training)

    inputs = _conv_bn_layer(
        inputs, padding=(10, 5), filters=_CONV_FILTERS, kernel_size=(21, 11),
        strides=(2, 1), layer_id=2, training=training)

    # output of conv_layer2 with the shape of
    # [batch_size (N), times (T), features (F), channels (C)].
    # Convert the conv output to rnn input.
    batch_size = tf.shape(inputs)[0]
    feat_size = inputs.get_shape().as_list()[2]
    inputs = tf.reshape(
        inputs,
        [batch_size, -1, feat_size * _CONV_FILTERS])

    # RNN layers.
    rnn_cell = SUPPORTED_RNNS[self.rnn_type]
    for layer_counter in xrange(self.num_rnn_layers):
      # No batch normalization on the first layer.
      is_batch_norm = (layer_counter != 0)
      inputs = _rnn_layer(
          inputs, rnn_cell, self.rnn_hidden_size, layer_counter + 1,
          is_batch_norm, self.is_bidirectional, training, taps=self.taps)

    # FC layer with batch norm.
    inputs = batch_norm(inputs, training)
    logits = tf.compat.v1.layers.dense(inputs, self.num_classes,
                                       use_bias=self.use_bias)

    return logits


def compute_length_after_conv(max_time_steps, ctc_time_steps, input_length):
  """Computes the time_steps/ctc_input_length after convolution (the
  driver's)."""
  ctc_input_length = tf.compat.v1.to_float(tf.multiply(
      input_length, ctc_time_steps))
  return tf.compat.v1.to_int32(tf.compat.v1.floordiv(
      ctc_input_length, tf.compat.v1.to_float(max_time_steps)))


def ctc_loss(label_length, ctc_input_length, labels, logits):
  """Computes the ctc loss for the current batch of predictions (the
  driver's)."""
  label_length = tf.compat.v1.to_int32(tf.squeeze(label_length))
  ctc_input_length = tf.compat.v1.to_int32(tf.squeeze(ctc_input_length))
  sparse_labels = tf.compat.v1.to_int32(
      tf.keras.backend.ctc_label_dense_to_sparse(labels, label_length))
  y_pred = tf.compat.v1.log(tf.transpose(
      logits, perm=[1, 0, 2]) + tf.keras.backend.epsilon())

  return tf.expand_dims(
      tf.compat.v1.nn.ctc_loss(labels=sparse_labels, inputs=y_pred,
                               sequence_length=ctc_input_length),
      axis=1)


def build():
  """Builds the model as `model_fn` does, in the default graph.

  Returns:
    {"feeds": {name: placeholder}, "outputs": {name: tensor},
     "rnn": {layer: {"input", "output_fw", "output_bw", "output"}}}: the
    placeholders `features` ([batch, time, 8, 1]) and `is_training`, the
    PREDICT mode's outputs, and each bidirectional layer's tensors.
  """
  features = tf.compat.v1.placeholder(
      tf.float32, [None, None, FREQUENCY_BINS, 1], name="features")
  training = tf.compat.v1.placeholder_with_default(False, [],
                                                   name="is_training")
  model = DeepSpeech2(NUM_RNN_LAYERS, RNN_TYPE, IS_BIDIRECTIONAL,
                      RNN_HIDDEN_SIZE, NUM_CLASSES, USE_BIAS)
  logits = model(features, training=training)
  outputs = {
      "classes": tf.argmax(logits, axis=2),
      "probabilities": tf.nn.softmax(logits),
      "logits": logits,
  }
  return {"feeds": {"features": features, "is_training": training},
          "outputs": outputs, "rnn": model.taps}


def train_op(model):
  """The TRAIN half of `model_fn`: CTC loss and Adam, with the batch norm
  updates grouped in. Returns {"op": train op, "feeds": its placeholders}.
  """
  features = model["feeds"]["features"]
  logits = model["outputs"]["logits"]
  input_length = tf.compat.v1.placeholder(tf.int32, [None, 1],
                                          name="input_length")
  label_length = tf.compat.v1.placeholder(tf.int32, [None, 1],
                                          name="label_length")
  labels = tf.compat.v1.placeholder(tf.int32, [None, None], name="labels")
  probs = tf.nn.softmax(logits)
  ctc_input_length = compute_length_after_conv(
      tf.shape(features)[1], tf.shape(probs)[1], input_length)
  # Compute CTC loss
  loss = tf.reduce_mean(ctc_loss(
      label_length, ctc_input_length, labels, probs))

  optimizer = tf.compat.v1.train.AdamOptimizer(learning_rate=LEARNING_RATE)
  global_step = tf.compat.v1.train.get_or_create_global_step()
  minimize_op = optimizer.minimize(loss, global_step=global_step)
  update_ops = tf.compat.v1.get_collection(
      tf.compat.v1.GraphKeys.UPDATE_OPS)
  # Create the train_op that groups both minimize_ops and update_ops
  op = tf.group(minimize_op, update_ops)
  return {"op": op, "feeds": {"input_length": input_length,
                              "label_length": label_length,
                              "labels": labels}}


def batch(rng, training):
  """Seeded random spectrograms (and, for training, CTC targets short
  enough for the convolved length), keyed like the feeds."""
  feeds = {"features": rng.standard_normal(
      (BATCH, TIME, FREQUENCY_BINS, 1)).astype("float32"),
           "is_training": training}
  if training:
    feeds["input_length"] = rng.randint(TIME - 3, TIME + 1,
                                        (BATCH, 1)).astype("int32")
    feeds["label_length"] = rng.randint(1, MAX_LABEL + 1,
                                        (BATCH, 1)).astype("int32")
    feeds["labels"] = rng.randint(0, NUM_CLASSES - 1,
                                  (BATCH, MAX_LABEL)).astype("int32")
  return feeds
