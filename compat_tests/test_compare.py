"""The comparison primitives every equivalence claim rests on."""

import numpy as np
import pytest

from gru_common import compare


def test_bitwise_equal_sees_sign_of_zero_dtype_and_shape():
  assert compare.bitwise_equal(np.float32([1, 2]), np.float32([1, 2]))
  assert not compare.bitwise_equal(np.float64([0.0]), np.float64([-0.0]))
  assert not compare.bitwise_equal(np.float32([1]), np.float64([1]))
  assert not compare.bitwise_equal(np.zeros((2, 3)), np.zeros((3, 2)))
  nan = np.float64([np.nan])
  assert compare.bitwise_equal(nan, nan.copy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_ulp_diff_counts_representable_steps(dtype):
  one = np.array([1.0], dtype)
  up = np.nextafter(one, dtype(2))
  assert compare.max_ulp_diff(one, one) == 0
  assert compare.max_ulp_diff(one, up) == 1
  assert compare.max_ulp_diff(np.nextafter(up, dtype(2)), one) == 2
  tiny = np.array([np.finfo(dtype).smallest_subnormal], dtype)
  assert compare.max_ulp_diff(tiny, -tiny) == 2
  assert compare.max_ulp_diff(np.array([0.0], dtype),
                              np.array([-0.0], dtype)) == 0
  assert compare.max_ulp_diff(np.array([np.nan], dtype), one) == float("inf")


def test_max_abs_diff_and_compare():
  c = compare.compare(np.float32([1, 2]), np.float32([1, 2.5]))
  assert not c.bitwise and c.max_abs == 0.5 and c.max_ulp == 2**21
  # Bounds scale with max(1, max |reference|) = 2.5: 0.5 is 0.2 of it.
  assert c.scale == 2.5 and c.within(0.2) and not c.within(0.19)
  small = compare.compare(np.float32([0.1]), np.float32([0.2]))
  assert small.scale == 1.0 and not small.within(0.09)
  assert compare.compare(np.zeros(3), np.zeros(3)).within(0.0)
  with pytest.raises(ValueError, match="dtypes differ"):
    compare.compare(np.float32([1]), np.float64([1]))
