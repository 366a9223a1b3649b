"""The seed programs' GRUs and heads, as component kinds.

Their variables, under any variable-scope prefix P ('' at the root):

    Data Blogger GRU ("scan")  P/{Wr, Wz, Wh} [in, u], P/{Ur, Uz, Uh} [u, u],
                               P/{br, bz, bh} [u]
      + addition head          Q/Variable [u, 1], Q/Variable_1 [1]
    tutorial GRU ("loop")      P/gru_init/{input_gate_wi, forget_gate_wf,
                                 control_gate_wc} [in, u],
                               P/gru_init/{input_gate_ui, forget_gate_wf_1,
                                 control_gate_uc} [u, u],
                               P/gru_init/{input_gate,forget_gate,
                                 control_gate}_bias [u]
      without reset gate       the same without gru_init/input_gate_*
      BiGRU                    the same again under P/gru_init_1/
      + classifier head        Q/classifier/softmax_w [u (2u), c],
                               Q/classifier/softmax_b [c]

(Q is P or a scope enclosing it: `detection` gives a head to the nearest
GRU it fits.) `model` builds their descriptions.

The Keras models they convert into, for target "tf2" (this project's layers)
and "keras" (stock Keras only):

    ScanGRU / LoopGRU, name "gru"       keras.layers.GRU(reset_after=False)
    Bidirectional(LoopGRU), "bigru"     Bidirectional(GRU), "bigru"
    PerSequenceDense(1), "output"       Dense(1), "output"
    GlobalAveragePooling1D + Dense(c), "classifier"  (both targets)

A stock GRU has no variant without a reset gate, so that one converts only
to `LoopGRU(reset_gate=False)`.

The mapping tables: the tutorial GRU mixes as Keras does and only needs its
gates reordered ([f, i, c] = [z, r, h]); the Data Blogger GRU's update gate
is Keras's negated (`mapping` says why).
"""

import dataclasses

from gru_common import checks
from gru_common import names
from migration import description as description_lib
from migration import mapping
from migration.kinds import base
from migration.kinds import dense

SCAN = "scan"     # the Data Blogger GRU (legacy/scan_gru.py)
LOOP = "loop"     # the tutorial GRU (legacy/loop_gru.py)
FAMILIES = (SCAN, LOOP)
ADDITION = "addition"
CLASSIFIER = "classifier"
HEADS = (ADDITION, CLASSIFIER)

_KERNEL, _RECURRENT, _BIAS = "kernel", "recurrent", "bias"
_ROLE = {  # What each GRU variable is, for its shape.
    names.WR: _KERNEL, names.WZ: _KERNEL, names.WH: _KERNEL,
    names.UR: _RECURRENT, names.UZ: _RECURRENT, names.UH: _RECURRENT,
    names.BR: _BIAS, names.BZ: _BIAS, names.BH: _BIAS,
    names.INPUT_GATE_W: _KERNEL, names.FORGET_GATE_W: _KERNEL,
    names.CONTROL_GATE_W: _KERNEL,
    names.INPUT_GATE_U: _RECURRENT, names.FORGET_GATE_U: _RECURRENT,
    names.CONTROL_GATE_U: _RECURRENT,
    names.INPUT_GATE_B: _BIAS, names.FORGET_GATE_B: _BIAS,
    names.CONTROL_GATE_B: _BIAS,
}
_SCAN_MINIMUM = 5       # names of the Data Blogger GRU that make one

# The mapping tables: legacy name -> this project's weight (target "tf2"),
# or a column block of a stock GRU(reset_after=False) weight in Keras's gate
# order [z, r, h] (target "keras").
Z, R, C = 0, 1, 2
SCAN_ROWS = {
    mapping.TF2: tuple(mapping.Row(n, n) for n in names.SCAN_GRU),
    mapping.KERAS: (
        mapping.Row(names.WZ, "kernel", target_block=Z, negate=True),
        mapping.Row(names.WR, "kernel", target_block=R),
        mapping.Row(names.WH, "kernel", target_block=C),
        mapping.Row(names.UZ, "recurrent_kernel", target_block=Z,
                    negate=True),
        mapping.Row(names.UR, "recurrent_kernel", target_block=R),
        mapping.Row(names.UH, "recurrent_kernel", target_block=C),
        mapping.Row(names.BZ, "bias", target_block=Z, negate=True),
        mapping.Row(names.BR, "bias", target_block=R),
        mapping.Row(names.BH, "bias", target_block=C)),
}
LOOP_ROWS = {
    mapping.TF2: tuple(mapping.Row(n, names.FORGET_GATE_U_TF2 if
                                   n == names.FORGET_GATE_U else n)
                       for n in names.LOOP_GRU),
    mapping.KERAS: (
        mapping.Row(names.FORGET_GATE_W, "kernel", target_block=Z),
        mapping.Row(names.INPUT_GATE_W, "kernel", target_block=R),
        mapping.Row(names.CONTROL_GATE_W, "kernel", target_block=C),
        mapping.Row(names.FORGET_GATE_U, "recurrent_kernel", target_block=Z),
        mapping.Row(names.INPUT_GATE_U, "recurrent_kernel", target_block=R),
        mapping.Row(names.CONTROL_GATE_U, "recurrent_kernel",
                    target_block=C),
        mapping.Row(names.FORGET_GATE_B, "bias", target_block=Z),
        mapping.Row(names.INPUT_GATE_B, "bias", target_block=R),
        mapping.Row(names.CONTROL_GATE_B, "bias", target_block=C)),
}


@dataclasses.dataclass(frozen=True)
class TutorialSettings:
  reset_gate: bool = True


class _SeedGRU(base.Kind):
  """What the two seed GRUs share."""

  recurrent = True
  output_name = "gru"
  tf1_port = True

  def describe(self, component):
    raise NotImplementedError

  def local_names(self, component):
    """The GRU's variables relative to its scope, in creation order."""
    raise NotImplementedError

  def variables(self, component):
    u, d = component.units[0], component.input_dim
    by_role = {_KERNEL: (d, u), _RECURRENT: (u, u), _BIAS: (u,)}
    return {description_lib.join(component.scope, n):
            by_role[_ROLE[n.rsplit("/", 1)[-1]]]
            for n in self.local_names(component)}

  def describe_model(self, description):
    rnn = description.components[0]
    heads = "".join(f" + {c.describe()}" for c in description.components[1:])
    return (f"{self.describe(rnn)}{heads}: {rnn.units[0]} units, "
            f"{rnn.input_dim} inputs, {rnn.dtype}")

  def layer_names(self, component):
    return (names.BIGRU_LAYER if component.wiring.directions == 2 else
            names.GRU_LAYER,)

  def tf2_layer(self, component):
    """This project's layer of the GRU, named "gru"."""
    raise NotImplementedError

  def build(self, component, target, x, outputs):
    import keras  # pylint: disable=g-import-not-at-top
    if target == mapping.TF2:
      gru = self.tf2_layer(component)
    else:
      gru = keras.layers.GRU(component.units[0], activation="tanh",
                             recurrent_activation="sigmoid",
                             reset_after=False, return_sequences=True,
                             dtype=component.dtype, name=names.GRU_LAYER)
    if component.wiring.directions == 2:
      # Bidirectional casts its output to its own dtype: give it the model's.
      gru = keras.layers.Bidirectional(gru, name=names.BIGRU_LAYER,
                                       dtype=component.dtype)
    return gru(x)

  def cells(self, component, model):
    layer = model.get_layer(self.layer_names(component)[0])
    if component.wiring.directions == 2:
      grus = (layer.forward_layer, layer.backward_layer)
    else:
      grus = (layer,)
    return [(prefix, gru.cell, component.input_dim, component.units[0])
            for prefix, gru in zip(self.cell_prefixes(component), grus)]

  def cell_prefixes(self, component):
    """The checkpoint prefix of each direction's variables."""
    raise NotImplementedError

  def onnx(self, graph, component, model, x, lengths):
    return graph.recurrent(model.get_layer(self.layer_names(component)[0]),
                           x, None)

  def read_model(self, keras_model, family=None):
    """(description, target) of a model `build` made for a seed GRU, or
    None if it has no layer "gru" or "bigru".

    Args:
      keras_model: a Keras model.
      family: "scan" or "loop", needed only for stock Keras layers in a
        model whose name does not record which GRU they hold.
    """
    import keras  # pylint: disable=g-import-not-at-top
    import tf2  # pylint: disable=g-import-not-at-top
    from migration import model_names  # pylint: disable=g-import-not-at-top
    present = {layer.name for layer in keras_model.layers}
    bidirectional = names.BIGRU_LAYER in present
    if not bidirectional and names.GRU_LAYER not in present:
      return None
    layer = keras_model.get_layer(names.BIGRU_LAYER if bidirectional else
                            names.GRU_LAYER)
    rnn = getattr(layer, "forward_layer", layer) if bidirectional else layer
    if isinstance(rnn, tf2.ScanGRU):
      target, found, reset = mapping.TF2, SCAN, True
    elif isinstance(rnn, tf2.LoopGRU):
      target, found, reset = mapping.TF2, LOOP, rnn.reset_gate
    elif isinstance(rnn, keras.layers.GRU):
      target, reset = mapping.KERAS, True
      found = family or model_names.parse(keras_model.name)[0]
      if found not in FAMILIES:
        raise mapping.MappingError(
            f"model {keras_model.name!r} holds a stock keras.layers.GRU, whose "
            "weights do not say which legacy GRU they came from; pass the "
            "family ('scan' for the Data Blogger GRU, 'loop' for the "
            "tutorial GRU)")
    else:
      raise mapping.MappingError(
          f"layer {layer.name!r} is a {type(rnn).__name__}; expected "
          "ScanGRU, LoopGRU or keras.layers.GRU")
    if family and family != found:
      raise mapping.MappingError(f"the model holds a {found!r} GRU, not "
                                 f"{family!r}")
    head = head_units = None
    for kind in (ADDITION_HEAD, CLASSIFIER_HEAD):
      if kind.layer in present:
        head = kind.name
        head_units = getattr(keras_model.get_layer(kind.layer), "units", None)
    kernel = rnn.cell.weights[0]
    try:
      description = model(
          found, int(rnn.cell.units), int(kernel.shape[0]),
          keras.backend.standardize_dtype(kernel.dtype), reset_gate=reset,
          bidirectional=bidirectional, head=head, head_units=head_units)
    except description_lib.SpecError as e:
      raise mapping.MappingError(f"model {keras_model.name!r}: {e}") from e
    return description, target


class DataBloggerGRU(_SeedGRU):
  """The Data Blogger GRU (legacy/scan_gru.py)."""

  name = SCAN
  model_name = "legacy_scan_gru"
  looks_like = "Data Blogger GRU 'Wz'..."
  head_kinds = (ADDITION,)

  def check(self, component):
    if (component.wiring.directions != 1 or component.layers != 1 or
        component.settings is not None):
      raise description_lib.SpecError(
          "the Data Blogger GRU has no BiGRU, no-reset or classifier "
          "variant")

  def local_names(self, component):
    return names.SCAN_GRU

  def cell_prefixes(self, component):
    return (component.scope,)

  def describe(self, component):
    return "Data Blogger GRU"

  def rows(self, component, target):
    return SCAN_ROWS[target]

  def tf2_layer(self, component):
    import tf2  # pylint: disable=g-import-not-at-top
    return tf2.ScanGRU(component.units[0], return_sequences=True,
                       dtype=component.dtype, name=names.GRU_LAYER,
                       mode="exact")

  def legacy(self, component, x):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    from legacy import scan_gru  # pylint: disable=g-import-not-at-top
    gru = scan_gru.GRU(component.input_dim, component.units[0],
                       dtype=tf.as_dtype(component.dtype))
    return gru.input_layer, gru.h_t

  def detect(self, model_names, variables, graph=None):
    by_scope = {}
    for name in model_names:
      scope, _, last = name.rpartition("/")
      if last in names.SCAN_GRU:
        by_scope.setdefault(scope, set()).add(last)
    return [_check(self, scope, model_names, variables, None, 1)
            for scope in sorted(by_scope)
            if len(by_scope[scope]) >= _SCAN_MINIMUM]


class TutorialGRU(_SeedGRU):
  """The tutorial GRU (legacy/loop_gru.py), its variant without a reset
  gate, and its BiGRU."""

  name = LOOP
  model_name = "legacy_loop_gru"
  looks_like = "tutorial GRU 'gru_init/...'"
  head_kinds = (CLASSIFIER,)

  def check(self, component):
    if (component.layers != 1 or
        not isinstance(component.settings, TutorialSettings)):
      raise description_lib.SpecError(
          f"{component.name}: the tutorial GRU is one layer with "
          f"TutorialSettings, got {component.settings!r}")

  def local_names(self, component):
    gru = (names.LOOP_GRU if component.settings.reset_gate else
           names.LOOP_GRU[3:])
    return tuple(f"{scope}/{n}" for scope in self._scopes(component)
                 for n in gru)

  def _scopes(self, component):
    scopes = (names.LOOP_SCOPE, names.LOOP_BACKWARD_SCOPE)
    return scopes[:component.wiring.directions]

  def cell_prefixes(self, component):
    return tuple(description_lib.join(component.scope, s)
                 for s in self._scopes(component))

  def describe(self, component):
    return ("tutorial " + ("BiGRU" if component.wiring.directions == 2 else
                           "GRU") +
            ("" if component.settings.reset_gate else " without reset gate"))

  def rows(self, component, target):
    return tuple(r for r in LOOP_ROWS[target] if component.settings.reset_gate
                 or r.source not in names.LOOP_RESET_GATE)

  def check_target(self, component, target):
    if target == mapping.KERAS and not component.settings.reset_gate:
      raise mapping.MappingError(
          "keras.layers.GRU always has a reset gate; the tutorial's GRU "
          "without one converts only to this project's layers (target "
          "'tf2')")

  def onnx_lengths(self, component):
    """The BiGRU's lengths reverse its backward input (and output) within
    each row's length; every step still runs."""
    return component.wiring.directions == 2

  def onnx(self, graph, component, model, x, lengths):
    layer = model.get_layer(self.layer_names(component)[0])
    if component.wiring.directions == 2:
      return graph.reversed_within_lengths(layer, x, lengths)
    return graph.recurrent(layer, x, None)

  def tf2_layer(self, component):
    import tf2  # pylint: disable=g-import-not-at-top
    return tf2.LoopGRU(component.units[0], return_sequences=True,
                       dtype=component.dtype, name=names.GRU_LAYER,
                       reset_gate=component.settings.reset_gate,
                       mode="exact")

  def legacy(self, component, x):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    from legacy import loop_gru  # pylint: disable=g-import-not-at-top
    inputs = tf.compat.v1.placeholder(
        tf.as_dtype(component.dtype), (None, None, component.input_dim),
        name="inputs")
    cls = (loop_gru.GRU if component.settings.reset_gate else
           loop_gru.GRUNoResetGate)
    if component.wiring.directions == 2:
      model = loop_gru.BiGRU(inputs, component.input_dim, component.units[0],
                             gru_class=cls)
    else:
      model = cls(inputs, component.input_dim, component.units[0])
    return inputs, model.output()

  def detect(self, model_names, variables, graph=None):
    loops = {}
    for name in model_names:
      parts = name.split("/")
      if len(parts) >= 2 and parts[-1] in names.LOOP_GRU and parts[-2] in (
          names.LOOP_SCOPE, names.LOOP_BACKWARD_SCOPE):
        loops.setdefault("/".join(parts[:-2]), set()).add(
            f"{parts[-2]}/{parts[-1]}")
    found = []
    for scope in sorted(loops):
      present = loops[scope]
      forward = {n for n in present if n.startswith(names.LOOP_SCOPE + "/")}
      if not forward:
        continue   # a lone gru_init_1: not a seed program's layout
      reset = any(n.split("/")[1] in names.LOOP_RESET_GATE for n in present)
      found.append(_check(self, scope, model_names, variables,
                          TutorialSettings(reset),
                          2 if len(forward) < len(present) else 1))
    return found


def _check(kind, scope, model_names, variables, settings, directions):
  """A `detection.FoundRNN` for the seed GRU of `kind` under `scope`,
  checked."""
  from migration import detection  # pylint: disable=g-import-not-at-top
  probe = _component(kind.name, 1, 1, "float32", settings, directions, scope)
  what = kind.describe(probe)
  wanted = list(probe.variables())
  present = {c for c in wanted if c in model_names}
  found = detection.FoundRNN(what, scope, names=present)
  missing = sorted(c for c in wanted if c not in present)
  if missing:
    found.problems.append(f"it lacks {missing}")
    return found
  by_dtype = {}
  for c in sorted(present):
    by_dtype.setdefault(variables[c][1], []).append(c)
  if len(by_dtype) != 1:
    common = max(by_dtype, key=lambda d: len(by_dtype[d]))
    found.problems.append("its variables disagree in dtype: " + ", ".join(
        f"{names_} are {d}" for d, names_ in by_dtype.items() if d != common)
                          + f", the others {common}")
    return found
  dtype = next(iter(by_dtype))
  recurrent, kernel = (
      (names.UZ, names.WZ) if kind.name == SCAN else
      (f"{names.LOOP_SCOPE}/{names.FORGET_GATE_U}",
       f"{names.LOOP_SCOPE}/{names.FORGET_GATE_W}"))
  recurrent, kernel = (variables[description_lib.join(scope, n)][0]
                       for n in (recurrent, kernel))
  try:
    rnn = _component(kind.name, (recurrent or (0,))[0], (kernel or (0,))[0],
                     dtype, settings, directions, scope)
  except description_lib.SpecError as e:
    found.problems.append(str(e))
    return found
  text = model_description(rnn).describe()
  for name, shape in rnn.variables().items():
    got = variables[name][0]
    if got != shape:
      found.problems.append(f"{name!r} has shape {got}; a {text} needs "
                            f"{shape}")
  if not found.problems:
    found.description = model_description(rnn)
  return found


def _component(kind, units, input_dim, dtype, settings, directions, scope):
  return description_lib.Component(
      kind, "gru", dtype, (units,), input_dim,
      description_lib.Wiring(directions=directions), scope, settings)


def model_description(*components):
  return description_lib.Description(components)


class _SeedHead(dense.Dense):
  """A seed job's head: a dense layer reading the GRU, named as the legacy
  job names it."""

  output_name = "head"
  tf1_port = True
  layer = None

  def check(self, component):
    if component.settings is not None or component.layers != 1:
      raise description_lib.SpecError(
          f"{component.name}: a seed head has no settings")

  def layer_names(self, component):
    return (self.layer,)

  def rows(self, component, target):
    kernel, bias = self.variable_names(component)
    return (mapping.Row(kernel, "kernel"), mapping.Row(bias, "bias"))

  def fit_head(self, rnn, scope, found):
    """The head component reading `rnn` whose variables at `scope` are
    `found` [(shape, dtype)], or None if they do not fit it."""
    (w_shape, w_dtype), (b_shape, b_dtype) = found
    if w_dtype != rnn.dtype or b_dtype != rnn.dtype or len(w_shape) != 2:
      return None
    if (w_shape[0] != rnn.width or b_shape != (w_shape[1],) or
        w_shape[1] < 1 or not self.fits_units(w_shape[1])):
      return None
    return head_component(self.name, rnn, w_shape[1], scope)

  def fits_units(self, units):
    return True


class AdditionHead(_SeedHead):
  """The addition job's output layer on every hidden state."""

  name = ADDITION
  layer = names.ADDITION_OUTPUT_LAYER

  def variable_names(self, component):
    return names.ADDITION_OUTPUT

  def head_names(self):
    return names.ADDITION_OUTPUT

  def fits_units(self, units):
    return units == 1

  def describe(self, component):
    return "addition output layer"

  def build(self, component, target, x, outputs):
    import keras  # pylint: disable=g-import-not-at-top
    import tf2  # pylint: disable=g-import-not-at-top
    if target == mapping.TF2:
      return tf2.PerSequenceDense(1, dtype=component.dtype,
                                  name=self.layer)(x)
    return keras.layers.Dense(1, dtype=component.dtype, name=self.layer)(x)

  def legacy(self, component, x):
    from legacy import heads  # pylint: disable=g-import-not-at-top
    return None, heads.addition_output(x)[2]

  def onnx(self, graph, component, model, x, lengths):
    return graph.dense(model.get_layer(self.layer), x)


class ClassifierHead(_SeedHead):
  """The classifier's mean over time and softmax layer (logits)."""

  name = CLASSIFIER
  layer = names.CLASSIFIER_LAYER
  keeps_time = False

  def variable_names(self, component):
    return self.head_names()

  def head_names(self):
    return tuple(f"{names.CLASSIFIER_SCOPE}/{n}"
                 for n in names.CLASSIFIER_HEAD)

  def layer_names(self, component):
    return (names.POOLING_LAYER, self.layer)

  def describe(self, component):
    return f"classifier head ({component.units[0]} classes)"

  def role(self, component, description):
    return f"{description.components[0].describe()}'s classifier head"

  def build(self, component, target, x, outputs):
    import keras  # pylint: disable=g-import-not-at-top
    x = keras.layers.GlobalAveragePooling1D(
        dtype=component.dtype, name=names.POOLING_LAYER)(x)
    return keras.layers.Dense(component.units[0], dtype=component.dtype,
                              name=self.layer)(x)

  def legacy(self, component, x):
    from legacy import heads  # pylint: disable=g-import-not-at-top
    return None, heads.classifier_logits(x, component.units[0])

  def onnx(self, graph, component, model, x, lengths):
    return graph.dense(model.get_layer(self.layer), graph.mean_over_time(x))


DATA_BLOGGER = base.register(DataBloggerGRU())
TUTORIAL = base.register(TutorialGRU())
ADDITION_HEAD = base.register(AdditionHead())
CLASSIFIER_HEAD = base.register(ClassifierHead())


def head_component(head, rnn, units, scope):
  return description_lib.Component(
      head, "head", rnn.dtype, (units,), rnn.width,
      description_lib.Wiring(source=rnn.name), scope)


def model(family, units, input_dim, dtype, reset_gate=True,
          bidirectional=False, head=None, head_units=None, scope="",
          head_scope=None):
  """The description of a seed GRU (and its job's head).

  Args:
    family: "scan" (the Data Blogger GRU) or "loop" (the tutorial GRU).
    units, input_dim, dtype: the GRU's sizes and dtype.
    reset_gate, bidirectional: the tutorial GRU's variants.
    head: None, "addition" (Data Blogger) or "classifier" (tutorial).
    head_units: the head's outputs.
    scope, head_scope: where the variables sit in the checkpoint (the head's
      scope defaults to the GRU's).

  Raises:
    description.SpecError: sizes or variants the seed programs do not have.

  Example:

  >>> model("loop", 4, 2, "float32", head="classifier",
  ...       head_units=3).describe()
  'tutorial GRU + classifier head (3 classes): 4 units, 2 inputs, float32'
  """
  if family not in FAMILIES:
    raise description_lib.SpecError(f"family must be one of {FAMILIES}, got "
                                    f"{family!r}")
  if head is not None:
    try:
      checks.integer("head_units", head_units)
    except ValueError as e:
      raise description_lib.SpecError(
          f"{e} (The legacy graphs have no empty layers.)") from None
  if family == SCAN and (bidirectional or not reset_gate or
                         head == CLASSIFIER):
    raise description_lib.SpecError("the Data Blogger GRU has no BiGRU, "
                                    "no-reset or classifier variant")
  if family == LOOP and head == ADDITION:
    raise description_lib.SpecError("the tutorial GRU has no addition head")
  settings = None if family == SCAN else TutorialSettings(reset_gate)
  rnn = _component(family, units, input_dim, dtype, settings,
                   2 if bidirectional else 1, scope)
  components = [rnn]
  if head is not None:
    components.append(head_component(
        head, rnn, head_units, scope if head_scope is None else head_scope))
  return model_description(*components)
