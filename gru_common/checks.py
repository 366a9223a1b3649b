"""Argument checks both sides share: an error that names the argument."""

import numbers


def integer(name, value, minimum=1, note=""):
  """`value` as an int, refusing anything but an integer >= `minimum`.

  Args:
    name: the argument's name, for the error.
    value: the value to check (bools are refused: they are not sizes).
    minimum: the smallest value allowed.
    note: words added to the error after the bound ("0: the default").

  Raises:
    ValueError: naming the argument and what was expected.
  """
  if (isinstance(value, bool) or not isinstance(value, numbers.Integral)
      or value < minimum):
    extra = f" ({note})" if note else ""
    raise ValueError(f"`{name}` must be an integer >= {minimum}{extra}, got "
                     f"{value!r}.")
  return int(value)
