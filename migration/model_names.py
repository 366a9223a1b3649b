"""What a converted Keras model's name records: its kind and its TF1 layout.

A stock Keras GRU cannot tell which TF1 model its weights came from, nor
where they sat in the checkpoint, so the converted model's name records
both: the first component's kind (`Kind.model_name`: "legacy_scan_gru",
"legacy_loop_gru", "tf1_GRUCell", ...), then each `Layout` field that is not
the default as `-field-value`. A model's name must be a valid TensorFlow
root scope name, or `predict` and `fit` fail, so a value writes '/' as '>'
and any character but letters, digits and '_' as '.' and two hex digits:

    legacy_loop_gru-scope-model>encoder-head_scope--global_step-int64

`parse` reads them back (also the earlier form `base@field=value`, '/'
written ':'), so a conversion back to TF1 writes the names the checkpoint
had. This module imports no TensorFlow.
"""

import dataclasses

from migration import detection
from migration import kinds
from migration import mapping


@dataclasses.dataclass(frozen=True)
class Layout:
  """Where a converted model's variables sat in a TF1 checkpoint."""
  scope: str = ""               # the RNN's variable-scope prefix
  head_scope: str = None        # the head's (None: the RNN's)
  optimizer_scope: str = ""     # of the slots and beta powers
  global_step: str = None       # its dtype, when the checkpoint had one
  step_name: str = None         # its name, when not `global_step`
  powers_scope: str = None      # Adam's beta powers', when not the slots'
  forget_bias: str = None       # a TF1 LSTM's, folded into stock Keras's
  #                               bias (`kinds.tf1_lstm_cells`)

  @classmethod
  def of(cls, state):
    """The layout of a `tf1_checkpoint.LegacyState`."""
    components = state.description.components
    scope = components[0].scope
    heads = {c.scope for c in components[1:]}
    head_scope = heads.pop() if len(heads) == 1 else None
    step, adam = state.global_step, state.adam
    forget_bias = kinds.get(components[0].kind).forget_bias(components[0])
    return cls(scope, None if head_scope in (None, scope) else head_scope,
               adam.scope if adam is not None else "",
               step.dtype if step else None,
               step.name if step and step.name != detection.GLOBAL_STEP
               else None, adam.powers_scope if adam is not None else None,
               None if forget_bias is None else repr(forget_bias))

  def scopes(self, description):
    """{component name: scope} that this layout gives `description`: the
    head's scope to every component after the first."""
    first, *rest = description.components
    head = self.scope if self.head_scope is None else self.head_scope
    return {first.name: self.scope, **{c.name: head for c in rest}}


FIELDS = tuple(f.name for f in dataclasses.fields(Layout))


def _encode(value):
  return "".join(c if c.isalnum() or c == "_" else ">" if c == "/" else
                 f".{ord(c):02x}" for c in value)


def _decode(value):
  out, i = [], 0
  while i < len(value):
    c = value[i]
    if c == ">":
      out.append("/")
    elif c == ".":
      out.append(chr(int(value[i + 1:i + 3], 16)))
      i += 2
    else:
      out.append(c)
    i += 1
  return "".join(out)


def name(kind, layout=Layout()):
  """The converted model's name: its first component's kind and the
  layout fields that are not the default."""
  result = kinds.get(kind).model_name
  for field in FIELDS:
    value = getattr(layout, field)
    if value != getattr(Layout(), field):
      if any(ord(c) > 0xff for c in value):
        raise mapping.MappingError(f"{field} {value!r}: only Latin-1 scope "
                                "names can be recorded")
      result += f"-{field}-{_encode(value)}"
  return result


def parse(model_name):
  """(kind name or None, Layout) that `name` recorded in `model_name`."""
  if "@" in model_name:
    base_name, *fields = model_name.split("@")
    pairs = [f.partition("=") for f in fields]
    pairs = [(k, e, v.replace(":", "/")) for k, e, v in pairs]
  else:
    base_name, *tokens = model_name.split("-")
    pairs = [(k, "=", _decode(v)) for k, v in zip(tokens[::2], tokens[1::2])]
    if len(tokens) % 2:
      pairs.append((tokens[-1], "", ""))
  kind = next((k.name for k in kinds.registered()
               if k.model_name == base_name), None)
  if kind is None:
    return None, Layout()
  values = {}
  for key, equals, value in pairs:
    if key not in FIELDS or not equals:
      raise mapping.MappingError(
          f"model name {model_name!r}: {key!r} is not a layout field "
          f"({', '.join(FIELDS)}) followed by its value")
    values[key] = value
  dtypes = detection.GLOBAL_STEP_DTYPES
  if values.get("global_step", dtypes[0]) not in dtypes:
    raise mapping.MappingError(
        f"model name {model_name!r}: global_step must be one of {dtypes}, "
        f"got {values['global_step']!r}")
  return kind, Layout(**values)
