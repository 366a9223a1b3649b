"""TF1 Adam state <-> TF2 optimizers.

TF1's `AdamOptimizer` stores, per variable, `<var>/Adam` (the first moment
m) and `<var>/Adam_1` (the second moment v), and for the whole optimizer the
float32 scalars `beta1_power` and `beta2_power`: beta ** (steps + 1), each a
running float32 product. It stores neither a step counter nor its
hyperparameters.

Targets:
  * `tf2.TF1Adam` takes all of it as is (slots moved through the same
    placements as the weights, beta powers copied), so a run resumed in TF2
    continues the legacy trajectory bit for bit.
  * stock `keras.optimizers.Adam` keeps m and v per variable and a step
    counter `iterations`; the steps are recovered exactly from beta1_power
    by replaying TF1's float32 product. Keras's arithmetic then differs
    (see `tf2/optimizers.py`), so the trajectory continues to rounding.

Adam's first moment follows the weights through negation (the gradient of
-W is -dL/dW); the second moment does not (its square is unchanged).
"""

import dataclasses

import keras
import numpy as np

from migration import detection
from migration import description as description_lib
from migration import errors
from migration import mapping
import tf2

DEFAULT_BETA_1 = 0.9
DEFAULT_BETA_2 = 0.999
MAX_STEPS = 10_000_000
_FLOAT32_TINY = np.finfo(np.float32).tiny


class OptimizerStateError(errors.ConversionError):
  """The optimizer state is inconsistent (the message says how)."""


@dataclasses.dataclass
class AdamState:
  """TF1 Adam's state: moments keyed by their variables' checkpoint names,
  the beta powers, and the scope `minimize` ran in (where TF1 put them)."""
  m: dict              # {checkpoint name: first moment}
  v: dict              # {checkpoint name: second moment}
  beta1_power: np.float32
  beta2_power: np.float32
  scope: str = ""
  powers_scope: str = None   # where the powers are, if not under `scope`

  def to_variables(self):
    """{checkpoint name: value}, as TF1's Saver names them."""
    m, v = detection.SLOTS[detection.ADAM]
    join = description_lib.join
    values = {join(self.scope, f"{n}/{m}"): a for n, a in self.m.items()}
    values.update({join(self.scope, f"{n}/{v}"): a
                   for n, a in self.v.items()})
    powers = self.scope if self.powers_scope is None else self.powers_scope
    for power, value in zip(detection.BETA_POWERS,
                            (self.beta1_power, self.beta2_power)):
      values[join(powers, power)] = np.float32(value)
    return values

  @classmethod
  def read(cls, names, load):
    """The state at a `selection.AdamNames`, each value read with
    `load(name)`."""
    powers_scope = names.powers["beta1_power"].rpartition("/")[0]
    return cls(m={n: load(c) for n, c in names.m.items()},
               v={n: load(c) for n, c in names.v.items()},
               beta1_power=np.float32(load(names.powers["beta1_power"])),
               beta2_power=np.float32(load(names.powers["beta2_power"])),
               scope=names.scope,
               powers_scope=None if powers_scope == names.scope else
               powers_scope)

  def steps(self, beta_1=DEFAULT_BETA_1, beta_2=DEFAULT_BETA_2):
    """The number of updates behind the beta powers."""
    return steps_from_beta_powers(self.beta1_power, self.beta2_power, beta_1,
                                  beta_2)

  def check_global_step(self, name, value):
    """`global_step` must count the updates the beta powers count."""
    steps = self.steps()
    if int(value) != steps:
      raise OptimizerStateError(
          f"{name!r} is {int(value)}, but the Adam beta powers count {steps} "
          "updates: they do not come from the same training; pass ",
          errors.Argument("drop_optimizer_state", True),
          " to convert the weights without either")


def _times(power, beta):
  """power * beta in float32, as TensorFlow's CPU kernels compute it: they
  flush subnormal results to zero (beta1_power reaches 0.0 after ~830
  steps, where IEEE arithmetic would linger in subnormals)."""
  power = np.float32(power * beta)
  return power if power >= _FLOAT32_TINY else np.float32(0.0)


def beta_power(beta, steps):
  """TF1's accumulator after `steps` updates: beta ** (steps + 1), as a
  float32 running product."""
  beta = np.float32(beta)
  power = beta
  for _ in range(steps):
    power = _times(power, beta)
  return power


def steps_from_beta_powers(beta1_power, beta2_power, beta_1=DEFAULT_BETA_1,
                           beta_2=DEFAULT_BETA_2):
  """The number of updates behind TF1's beta powers, found exactly."""
  beta1, beta2 = np.float32(beta_1), np.float32(beta_2)
  want1, want2 = np.float32(beta1_power), np.float32(beta2_power)
  p1, p2 = beta1, beta2
  # Both products only fall; beta1's reaches 0 after ~1000 steps in float32,
  # after which beta2's alone tells the steps.
  for steps in range(MAX_STEPS):
    if p1 == want1 and p2 == want2:
      return steps
    if p1 < want1 or p2 < want2:
      break
    p1, p2 = _times(p1, beta1), _times(p2, beta2)
  raise OptimizerStateError(
      f"beta1_power={beta1_power!r} and beta2_power={beta2_power!r} are not "
      f"TF1 Adam's accumulators for beta_1={beta_1}, beta_2={beta_2} after "
      "any number of steps (the legacy run used other betas?)")


def _slot_lookup(optimizer):
  """slot(moment)(variable): the optimizer's Adam slot of a model variable."""
  # pylint: disable=protected-access
  def slot(moment):
    slots = optimizer._momentums if moment == "m" else optimizer._velocities

    def of(var):
      try:
        return slots[optimizer._get_variable_index(var)]
      except KeyError:
        raise OptimizerStateError(
            f"the optimizer holds no Adam state for {var.path!r} (was its "
            "layer frozen when the optimizer was built?); TF1 Adam state "
            "needs both slots of every variable") from None
    return of
  return slot


def to_optimizer(state, placements, model, target,
                 learning_rate=0.001, beta_1=DEFAULT_BETA_1,
                 beta_2=DEFAULT_BETA_2, epsilon=1e-8):
  """A built TF2 optimizer holding `state`, for `model`'s variables."""
  steps = state.steps(beta_1, beta_2)
  if target == mapping.TF2:
    optimizer = tf2.TF1Adam(learning_rate, beta_1, beta_2, epsilon)
  else:
    optimizer = keras.optimizers.Adam(learning_rate, beta_1, beta_2, epsilon)
  optimizer.build(model.trainable_variables)
  slot = _slot_lookup(optimizer)
  mapping.to_model(state.m, placements, slot_of=slot("m"))
  mapping.to_model(state.v, placements, slot_of=slot("v"), second_moment=True)
  optimizer.iterations.assign(steps)
  if target == mapping.TF2:
    optimizer.beta1_power.assign(np.float32(state.beta1_power))
    optimizer.beta2_power.assign(np.float32(state.beta2_power))
  return optimizer


def from_optimizer(optimizer, placements, scope="", powers_scope=None):
  """`AdamState` read from a built TF1Adam or keras.optimizers.Adam, its
  slots placed under the optimizer `scope` of the TF1 checkpoint."""
  if not isinstance(optimizer, (tf2.TF1Adam, keras.optimizers.Adam)):
    raise OptimizerStateError(
        f"only Adam state converts to TF1 Adam; got {type(optimizer).__name__}")
  if not optimizer.built:
    raise OptimizerStateError("the optimizer holds no state (never built)")
  slot = _slot_lookup(optimizer)
  if isinstance(optimizer, tf2.TF1Adam):
    powers = (np.float32(optimizer.beta1_power.numpy()),
              np.float32(optimizer.beta2_power.numpy()))
  else:
    steps = int(optimizer.iterations.numpy())
    powers = (beta_power(optimizer.beta_1, steps),
              beta_power(optimizer.beta_2, steps))
  return AdamState(m=mapping.from_model(placements, slot_of=slot("m")),
                   v=mapping.from_model(placements, slot_of=slot("v"),
                                        second_moment=True),
                   beta1_power=powers[0], beta2_power=powers[1],
                   scope=scope, powers_scope=powers_scope)
