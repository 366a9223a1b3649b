"""The source's dataset helpers, their doctests, and the classifier data."""

import doctest

import numpy as np
import pytest

from gru_common import addition_data
from gru_common import sequence_data


def test_source_doctests_pass():
  result = doctest.testmod(addition_data)
  # as_bytes 2, generate_example 5 (its trailing comment line is not an
  # example), encode_query 1, decode_prediction 1.
  assert result.attempted == 9
  assert result.failed == 0


def test_generate_batch_shapes_and_sums():
  np.random.seed(0)
  x, y = addition_data.generate_batch(num_bits=5, batch_size=100)
  assert x.shape == (100, 5, 2) and y.shape == (100, 5, 1)
  weights = 2 ** np.arange(5)
  a, b, c = x[:, :, 0] @ weights, x[:, :, 1] @ weights, y[:, :, 0] @ weights
  np.testing.assert_array_equal(a + b, c)
  # randint(0, 2**(bits-1) - 1) excludes its upper bound: terms < 15.
  assert a.max() <= 14 and b.max() <= 14


def test_make_datasets_is_seeded():
  first = addition_data.make_datasets(seed=3)
  second = addition_data.make_datasets(seed=3)
  other = addition_data.make_datasets(seed=4)
  for u, v in zip(first, second):
    np.testing.assert_array_equal(u, v)
  assert not np.array_equal(first[0], other[0])


def test_query_round_trip():
  x = addition_data.encode_query(1024, 16, 20)
  assert x.shape == (1, 20, 2)
  as_prediction = x[:, :, :1] * 0.8 + x[:, :, 1:] * 0.8
  assert addition_data.decode_prediction(as_prediction) == 1040


def test_encode_query_rejects_numbers_that_do_not_fit():
  with pytest.raises(ValueError, match="`a` must lie in"):
    addition_data.encode_query(2**20, 1, 20)


def test_digits_split():
  data = sequence_data.load_digits(seed=0)
  assert data.x_train.shape[1:] == (8, 8) and data.x_train.dtype == np.float32
  assert len(data.y_train) + len(data.y_test) == 1797
  assert len(data.y_test) == 359
  assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0
  assert set(np.unique(data.y_test)) == set(range(10))


def write_mnist(path, n=12, **overrides):
  rng = np.random.RandomState(0)
  arrays = dict(x_train=rng.randint(0, 256, (n, 28, 28)).astype(np.uint8),
                y_train=rng.randint(0, 10, n).astype(np.uint8),
                x_test=rng.randint(0, 256, (n, 28, 28)).astype(np.uint8),
                y_test=rng.randint(0, 10, n).astype(np.uint8))
  arrays.update(overrides)
  np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
  return str(path)


def test_mnist_npz(tmp_path):
  data = sequence_data.load_mnist_npz(write_mnist(tmp_path / "mnist.npz"))
  assert data.x_train.shape == (12, 28, 28)
  assert data.x_train.max() <= 1.0 and data.y_train.dtype == np.int64


@pytest.mark.parametrize("overrides, match", [
    (dict(y_test=None), "lacks the arrays \\['y_test'\\]"),
    (dict(x_train=np.zeros((12, 784))), "must be \\[n, rows, cols\\]"),
    (dict(y_train=np.full(12, 10)), "labels in \\[0, 10\\)"),
])
def test_mnist_npz_rejects_bad_files(tmp_path, overrides, match):
  path = write_mnist(tmp_path / "mnist.npz", **overrides)
  with pytest.raises(ValueError, match=match):
    sequence_data.load_mnist_npz(path)


def test_mnist_npz_rejects_missing_and_non_npz_files(tmp_path):
  with pytest.raises(FileNotFoundError, match="mnist_npz"):
    sequence_data.load_mnist_npz(str(tmp_path / "absent.npz"))
  junk = tmp_path / "junk.npz"
  junk.write_bytes(b"not a zip file at all")
  with pytest.raises(ValueError, match="not a readable .npz"):
    sequence_data.load_mnist_npz(str(junk))
