"""Images read row by row as sequences, for the sequence classifier jobs.

The tutorial's usage feeds MNIST rows to the GRU (28 steps of 28 features).
Nothing here downloads anything: the default data are the 8x8 handwritten
digits bundled with scikit-learn (8 steps of 8 features); a local
`mnist.npz` in the Keras layout (x_train, y_train, x_test, y_test) can be
read instead. Pixels are scaled to [0, 1]; inputs are float32 and labels
int64. Both the legacy and the TF2 classifier jobs use this module.
"""

import dataclasses
import os
import zipfile

import numpy as np

NUM_CLASSES = 10
MNIST_KEYS = ("x_train", "y_train", "x_test", "y_test")


@dataclasses.dataclass(frozen=True)
class SequenceData:
  """A train/test split: x [n, time, features] float32, y [n] int64."""
  x_train: np.ndarray
  y_train: np.ndarray
  x_test: np.ndarray
  y_test: np.ndarray
  name: str
  num_classes: int = NUM_CLASSES

  @property
  def time_steps(self):
    return self.x_train.shape[1]

  @property
  def features(self):
    return self.x_train.shape[2]


def load_digits(test_fraction=0.2, seed=0):
  """scikit-learn's 1,797 bundled 8x8 digits, split at random.

  Args:
    test_fraction: the share of examples held out for testing, in (0, 1).
    seed: seeds the split.

  Returns:
    A `SequenceData` with 8 time steps of 8 features.
  """
  if not 0 < test_fraction < 1:
    raise ValueError(
        f"`test_fraction` must lie in (0, 1), got {test_fraction!r}.")
  from sklearn import datasets  # pylint: disable=g-import-not-at-top
  digits = datasets.load_digits()
  images = (digits.images / 16.0).astype(np.float32)
  labels = digits.target.astype(np.int64)
  order = np.random.RandomState(seed).permutation(len(labels))
  n_test = int(round(len(labels) * test_fraction))
  test, train = order[:n_test], order[n_test:]
  return SequenceData(images[train], labels[train], images[test],
                      labels[test], name="digits")


def load_mnist_npz(path):
  """A local mnist.npz (as Keras distributes it), images as row sequences.

  Args:
    path: the .npz file, with uint8 images x_train [n, 28, 28] and x_test,
      and integer labels y_train [n] and y_test.

  Returns:
    A `SequenceData` with 28 time steps of 28 features.
  """
  if not os.path.isfile(path):
    raise FileNotFoundError(f"`mnist_npz`: no such file: {path!r}.")
  try:
    loaded = np.load(path, allow_pickle=False)
    if not isinstance(loaded, np.lib.npyio.NpzFile):
      raise ValueError("it holds a single array, not an .npz archive")
    with loaded:
      arrays = {k: loaded[k] for k in MNIST_KEYS if k in loaded.files}
  except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
    raise ValueError(f"`mnist_npz` {path!r} is not a readable .npz file: "
                     f"{e}") from e
  missing = [k for k in MNIST_KEYS if k not in arrays]
  if missing:
    raise ValueError(f"`mnist_npz` {path!r} lacks the arrays {missing}; "
                     f"expected {list(MNIST_KEYS)}.")
  for split in ("train", "test"):
    x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
    if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
      raise ValueError(
          f"`mnist_npz` {path!r}: x_{split} must be [n, rows, cols] and "
          f"y_{split} [n]; got {x.shape} and {y.shape}.")
    if y.size and (y.min() < 0 or y.max() >= NUM_CLASSES):
      raise ValueError(f"`mnist_npz` {path!r}: y_{split} must hold labels in "
                       f"[0, {NUM_CLASSES}).")
  scale = 255.0 if arrays["x_train"].dtype == np.uint8 else 1.0
  return SequenceData(
      (arrays["x_train"] / scale).astype(np.float32),
      arrays["y_train"].astype(np.int64),
      (arrays["x_test"] / scale).astype(np.float32),
      arrays["y_test"].astype(np.int64),
      name="mnist")


def load(mnist_npz=None, seed=0):
  """The local MNIST file if given, else the bundled digits."""
  if mnist_npz:
    return load_mnist_npz(mnist_npz)
  return load_digits(seed=seed)


def batches(num_examples, batch_size, rng):
  """Shuffled minibatch index arrays covering every example once."""
  order = rng.permutation(num_examples)
  return [order[i:i + batch_size] for i in range(0, num_examples, batch_size)]
