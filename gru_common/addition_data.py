"""The Data Blogger dataset: adding two numbers given as reversed bit strings.

`as_bytes`, `generate_example` and `generate_batch` are the source's, with
numpy's global RNG, the same ranges and shapes; their doctests run in the
test suite. `encode_query` and `decode_prediction` are the source's section
(4) (ask the model for a + b) as functions.

Both the legacy and the TF2 jobs use this module, so both see the same data
for the same seed.
"""

import numpy as np
from numpy import random


def as_bytes(num, final_size):
  """Converts an integer to a reversed bitstring (of size final_size).

  Args:
    num: int
      The number to convert.
    final_size: int
      The length of the bitstring.

  Returns:
    A list which is the reversed bitstring representation of the given number.

  >>> as_bytes(3, 4)
  [1, 1, 0, 0]
  >>> as_bytes(3, 5)
  [1, 1, 0, 0, 0]
  """
  res = []
  for _ in range(final_size):
    res.append(num % 2)
    num //= 2
  return res


def generate_example(num_bits):
  """Generate an example addition.

  Args:
    num_bits: int
      The number of bits to use.

  Returns:
    a: list
      The first term (represented as reversed bitstring) of the addition.
    b: list
      The second term (represented as reversed bitstring) of the addition.
    c: list
      The addition (a + b) represented as reversed bitstring.

  >>> np.random.seed(4)
  >>> a, b, c = generate_example(3)
  >>> a
  [0, 1, 0]
  >>> b
  [0, 1, 0]
  >>> c
  [0, 0, 1]
  >>> # Notice that these numbers are represented as reversed bitstrings
  """
  # The source's doctest expects c == [1, 0, 0], which contradicts its own
  # code: a = b = 2 here, so c = as_bytes(4, 3) = [0, 0, 1].
  a = random.randint(0, 2**(num_bits - 1) - 1)
  b = random.randint(0, 2**(num_bits - 1) - 1)
  res = a + b
  # (Restored: the extracted source lost the last line of this return,
  # `as_bytes(res, num_bits))`.)
  return (as_bytes(a, num_bits),
          as_bytes(b, num_bits),
          as_bytes(res, num_bits))


def generate_batch(num_bits, batch_size):
  """Generates instances of the addition problem.

  Args:
    num_bits: int
      The number of bits to use for each number.
    batch_size: int
      The number of examples to generate.

  Returns:
    x: np.array
      Two numbers to be added represented as bits (in reversed order).
      Shape: i, b, n (the source's docstring says b, i, n; the arrays it
      builds are batch-major)
      i is example idx in batch.
      b is bit index from the end.
      n is one of [0,1] depending for first and second summand respectively.
    y: np.array
      The result of the addition.
      Shape: i, b, n
      i is example idx in batch.
      b is bit index from the end.
      n is always 0 since there is only one result.
  """
  x = np.empty((batch_size, num_bits, 2))
  y = np.empty((batch_size, num_bits, 1))

  for i in range(batch_size):
    a, b, r = generate_example(num_bits)
    x[i, :, 0] = a
    x[i, :, 1] = b
    y[i, :, 0] = r
  return x, y


def make_datasets(seed, num_bits=5, batch_size=100):
  """The source's train and test sets, after seeding numpy's global RNG.

  Args:
    seed: int, passed to `np.random.seed` (the source did not seed).
    num_bits: the length of each bit string (the source's `time_size`).
    batch_size: examples per set.

  Returns:
    (x_train, y_train, x_test, y_test), float64 arrays
    [batch_size, num_bits, 2] and [batch_size, num_bits, 1].
  """
  np.random.seed(seed)
  x_train, y_train = generate_batch(num_bits, batch_size)
  x_test, y_test = generate_batch(num_bits, batch_size)
  return x_train, y_train, x_test, y_test


def encode_query(a, b, bitstring_length):
  """The source's custom sample: a and b as one [1, bits, 2] batch.

  >>> encode_query(3, 1, 4)[0].tolist()
  [[1.0, 1.0], [1.0, 0.0], [0.0, 0.0], [0.0, 0.0]]
  """
  for name, value in (("a", a), ("b", b)):
    if value < 0 or value >= 2**bitstring_length:
      raise ValueError(f"`{name}` must lie in [0, 2**{bitstring_length}), "
                       f"got {value}.")
  x_custom_sample = np.vstack([as_bytes(a, bitstring_length),
                               as_bytes(b, bitstring_length)]).T
  x_custom = np.zeros((1,) + x_custom_sample.shape)
  x_custom[0, :, :] = x_custom_sample
  return x_custom


def decode_prediction(y_predicted):
  """Reads a [1, bits, 1] prediction as a number, as the source does.

  A linear class separator at 0.5 gives the bits, which are joined and
  reversed into a binary number.

  >>> decode_prediction(np.array([[[0.9], [0.1], [0.7]]]))
  5
  """
  y_bits = 1 * (np.asarray(y_predicted) > 0.5)[0, :, 0]
  y_bitstr = "".join([str(int(bit)) for bit in y_bits.tolist()])[::-1]
  return int(y_bitstr, 2)
