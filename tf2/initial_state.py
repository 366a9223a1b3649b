"""A recurrent layer started from learned initial states: trained vectors,
repeated for every row of a batch.

TF1 programs write one as a variable tiled over the batch and passed as
`dynamic_rnn`'s `initial_state`:

    init_state_fw = tf.get_variable("init_state_fw", [1, units])
    state_fw = tf.tile(init_state_fw, [batch_size, 1])

`LearnedInitialState(layer, states)` wraps a Keras RNN (or
`Bidirectional`) and holds those variables under their TF1 shapes ([1, u]
or [u]); called, it repeats each for the input's rows and calls the layer
with them as `initial_state`. Repeating copies values, so the states are
the variables' bits exactly. It is one layer, not a state layer feeding the
RNN, because Keras gives a layer called with two tensors (the input and an
initial state) no mask in a functional model: wrapped, the input's mask
(TF1's `sequence_length`) reaches the RNN. Written in `keras.ops` only: it
runs on every Keras backend and loads in safe mode.
"""

import keras


def weight_name(name):
  """The weight's name for a TF1 variable name (Keras names hold no '/')."""
  return name.replace("/", ">")


@keras.saving.register_keras_serializable(package="tf1_gru_migration")
class LearnedInitialState(keras.layers.Wrapper):
  """`layer`, started from trained initial states.

  Args:
    layer: a Keras RNN layer (or `Bidirectional`).
    states: one (name, shape) per state `layer` takes (a Bidirectional's
      forward states, then its backward ones): the TF1 variable's name (the
      weight's, '/' written '>') and its shape, (1, units) or (units,).
    initializer: of the states.
    **kwargs: passed to `keras.layers.Layer` (name, dtype, ...).

  Example:

  >>> import numpy as np
  >>> gru = keras.layers.GRU(3, return_sequences=True)
  >>> layer = LearnedInitialState(gru, [("init_state", (1, 3))])
  >>> tuple(layer(np.zeros((5, 7, 2), "float32")).shape)
  (5, 7, 3)
  >>> [w.name for w in layer.weights][-1]
  'init_state'
  """

  def __init__(self, layer, states, initializer="zeros", **kwargs):
    super().__init__(layer, **kwargs)
    self.states = [(str(name), tuple(int(d) for d in shape))
                   for name, shape in states]
    for name, shape in self.states:
      if len(shape) not in (1, 2) or (len(shape) == 2 and shape[0] != 1):
        raise ValueError(f"`states`: {name!r} must have shape (1, units) or "
                         f"(units,), got {shape!r}.")
    self.initializer = keras.initializers.get(initializer)
    self.supports_masking = True

  def build(self, input_shape):
    if not self.layer.built:
      self.layer.build(input_shape)
    self.state_weights = [
        self.add_weight(name=weight_name(name), shape=shape,
                        initializer=self.initializer)
        for name, shape in self.states]
    self.built = True

  def call(self, inputs, mask=None, training=None):
    batch = keras.ops.shape(inputs)[0]
    states = [keras.ops.tile(keras.ops.reshape(w, (1, shape[-1])),
                             (batch, 1))
              for w, (_, shape) in zip(self.state_weights, self.states)]
    return self.layer(inputs, initial_state=states, mask=mask,
                      training=training)

  def compute_mask(self, inputs, mask=None):
    return self.layer.compute_mask(inputs, mask)

  def compute_output_shape(self, input_shape):
    return self.layer.compute_output_shape(input_shape)

  def get_config(self):
    return {**super().get_config(),
            "states": [[name, list(shape)] for name, shape in self.states],
            "initializer": keras.initializers.serialize(self.initializer)}
