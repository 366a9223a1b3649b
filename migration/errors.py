"""The converter's refusals, with the arguments they name kept as data.

A refusal often tells the user which argument to pass ("pass
allow_unconverted=True to convert it without them") or names the argument at
fault ("output_path '...': ..."). The library and the command spell those
differently (`overwrite=True` / `--overwrite`), so a message is a sequence of
text and `Argument`s: `str(error)` spells them as keyword arguments, and the
command renders the same error with its flags (`error.render(spell)`).

This module imports no TensorFlow.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Argument:
  """A library argument named in a message; `value`: the one to pass."""
  name: str
  value: object = None     # None: the argument itself; ...: any value


def keyword(argument):
  """The library's spelling: `name`, or `name=value` (`...`: any value)."""
  if argument.value is None:
    return argument.name
  if argument.value is ...:
    return f"{argument.name}=..."
  return f"{argument.name}={argument.value!r}"


def render(parts, spell=keyword):
  return "".join(spell(p) if isinstance(p, Argument) else str(p)
                 for p in parts)


class ConversionError(ValueError):
  """A conversion refused: bad input, or something it would lose.

  Args:
    *parts: the message, as text and `Argument`s.
  """

  def __init__(self, *parts):
    self.parts = parts
    super().__init__(render(parts))

  def render(self, spell):
    """The message with every `Argument` spelled by `spell(argument)`."""
    return render(self.parts, spell)


class PathError(ConversionError):
  """A path argument that cannot be used.

  Attributes:
    argument: the argument's name (`output_path`, `input_path`).
    path: its value.
    problem: what is wrong, without the argument.
  """

  def __init__(self, argument, path, *problem):
    super().__init__(Argument(argument), f" {path!r}: ", *problem)
    self.argument = argument
    self.path = path
    self.problem = render(problem)


class OutputExistsError(PathError, FileExistsError):
  """The output exists and replacing it was not asked for."""

  def __init__(self, argument, path, existing):
    super().__init__(argument, path, f"{existing!r} exists; pass ",
                     Argument("overwrite", True), " to replace it")


class MissingInputError(ConversionError, FileNotFoundError):
  """No file or checkpoint where an input argument points."""
