"""Adam exactly as `tf.compat.v1.train.AdamOptimizer` computes it.

TF1's Adam differs from `keras.optimizers.Adam` in ways that change bits:

* its hyperparameters are float32 tensors cast to each variable's dtype, so
  a float64 model trains with beta1 = float64(float32(0.9)) =
  0.8999999761581421, not 0.9 (and likewise lr, beta2, epsilon);
* it keeps the bias corrections as float32 running products, `beta1_power`
  and `beta2_power`, starting at beta1 and beta2 and multiplied after every
  step, where Keras computes pow(beta, t) in the variable's dtype;
* its default epsilon is 1e-8 (Keras: 1e-7);
* its update is one fused kernel, `ResourceApplyAdam`:

      lr_t = lr * sqrt(1 - beta2_power) / (1 - beta1_power)
      m += (g - m) * (1 - beta1)
      v += (g * g - v) * (1 - beta2)
      var -= lr_t * m / (sqrt(v) + epsilon)

`TF1Adam` is a Keras 3 optimizer that does all of this, calling the same
kernel, so a TF2 training step updates every weight bitwise as the legacy
graph does. Its state maps one to one onto a TF1 checkpoint's:

    TF1 checkpoint          TF1Adam
    <var>/Adam              m slot of <var> (`momentums`)
    <var>/Adam_1            v slot of <var> (`velocities`)
    beta1_power             beta1_power (float32)
    beta2_power             beta2_power (float32)
    (none)                  iterations (steps taken; TF1 keeps no counter)
"""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tf1_gru_migration")
class TF1Adam(keras.optimizers.Optimizer):
  """Adam with TF1 `AdamOptimizer`'s arithmetic, bit for bit.

  Args:
    learning_rate: as for `keras.optimizers.Adam` (TF1 default 0.001).
    beta_1: TF1 default 0.9.
    beta_2: TF1 default 0.999.
    epsilon: TF1 default 1e-8.
    name: the optimizer's name.
    **kwargs: other `keras.optimizers.Optimizer` arguments; gradient
      clipping, weight decay, EMA and gradient accumulation are refused,
      since TF1's AdamOptimizer has none of them.

  Example:

  >>> import tensorflow as tf
  >>> v = tf.Variable([1.0, 2.0])
  >>> optimizer = TF1Adam(learning_rate=0.1)
  >>> _ = optimizer.apply_gradients([(tf.constant([1.0, -1.0]), v)])
  >>> v.numpy()  # each moves by about lr, in float32 as TF1 computes it
  array([0.90000004, 2.1       ], dtype=float32)
  """

  def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999,
               epsilon=1e-8, name="tf1_adam", **kwargs):
    for arg in ("weight_decay", "clipnorm", "clipvalue", "global_clipnorm",
                "use_ema", "gradient_accumulation_steps",
                "loss_scale_factor"):
      if kwargs.get(arg):
        raise ValueError(f"TF1Adam has no `{arg}`: TF1's AdamOptimizer "
                         "applies none.")
    for arg, value in (("beta_1", beta_1), ("beta_2", beta_2)):
      if not 0.0 <= value < 1.0:
        raise ValueError(f"`{arg}` must lie in [0, 1), got {value!r}.")
    if not epsilon >= 0.0:
      raise ValueError(f"`epsilon` must be >= 0, got {epsilon!r}.")
    super().__init__(learning_rate=learning_rate, name=name, **kwargs)
    self.beta_1 = beta_1
    self.beta_2 = beta_2
    self.epsilon = epsilon

  def build(self, var_list):
    if self.built:
      return
    super().build(var_list)
    self._momentums, self._velocities = self.add_optimizer_variables(
        var_list, ["m", "v"])
    # TF1 creates these from Python floats: float32, whatever the model.
    self.beta1_power = self.add_variable(
        shape=(), dtype="float32", name="beta1_power",
        initializer=keras.initializers.Constant(self.beta_1))
    self.beta2_power = self.add_variable(
        shape=(), dtype="float32", name="beta2_power",
        initializer=keras.initializers.Constant(self.beta_2))

  def _hyper(self, value, dtype):
    """A hyperparameter as TF1 feeds it to the kernel."""
    return tf.cast(tf.cast(value, tf.float32), dtype)

  def update_step(self, gradient, variable, learning_rate):
    dtype = variable.dtype
    index = self._get_variable_index(variable)
    tf.raw_ops.ResourceApplyAdam(
        var=_handle(variable),
        m=_handle(self._momentums[index]),
        v=_handle(self._velocities[index]),
        beta1_power=tf.cast(self.beta1_power, dtype),
        beta2_power=tf.cast(self.beta2_power, dtype),
        lr=self._hyper(learning_rate, dtype),
        beta1=self._hyper(self.beta_1, dtype),
        beta2=self._hyper(self.beta_2, dtype),
        epsilon=self._hyper(self.epsilon, dtype),
        grad=tf.cast(gradient, dtype),
        use_locking=False)

  def _backend_update_step(self, grads, trainable_variables, learning_rate):
    super()._backend_update_step(grads, trainable_variables, learning_rate)
    # TF1's `_finish`: after every variable's update, in float32.
    self.beta1_power.assign(
        self.beta1_power * tf.constant(self.beta_1, tf.float32))
    self.beta2_power.assign(
        self.beta2_power * tf.constant(self.beta_2, tf.float32))

  def get_config(self):
    config = super().get_config()
    config.update(beta_1=self.beta_1, beta_2=self.beta_2,
                  epsilon=self.epsilon)
    return config


def _handle(variable):
  """The resource handle of a tf.Variable or a Keras 3 variable."""
  return variable.handle if hasattr(variable, "handle") else (
      variable.value.handle)


def keras_adam_like_tf1(learning_rate=0.001):
  """Stock `keras.optimizers.Adam` configured with TF1's defaults.

  The same hyperparameters (epsilon 1e-8 included), but Keras's own
  arithmetic: pow(beta, t) in the variable's dtype and Python-float betas.
  Trajectories agree with TF1 to rounding, not bitwise.
  """
  return keras.optimizers.Adam(learning_rate=learning_rate, beta_1=0.9,
                               beta_2=0.999, epsilon=1e-8)
