"""Comparing two arrays the way the equivalence proofs need.

`bitwise_equal` compares the raw bits: same dtype, same shape, same bytes, so
-0.0 differs from 0.0 and a NaN equals only the same NaN. `max_ulp_diff`
counts how many representable floats lie between two values, the unit in
which rounding differences are measured.
"""

import dataclasses

import numpy as np

_INT_OF = {np.dtype(np.float16): np.int16, np.dtype(np.float32): np.int32,
           np.dtype(np.float64): np.int64}


def _arrays(a, b):
  a, b = np.asarray(a), np.asarray(b)
  if a.shape != b.shape:
    raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
  return a, b


def bitwise_equal(a, b):
  """True when a and b have the same dtype, shape and bytes."""
  a, b = np.asarray(a), np.asarray(b)
  return (a.dtype == b.dtype and a.shape == b.shape and
          np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b)
          .tobytes())


def max_abs_diff(a, b):
  """The largest |a - b| (0.0 for empty arrays; inf if a NaN disagrees)."""
  a, b = _arrays(a, b)
  if a.size == 0:
    return 0.0
  a64, b64 = a.astype(np.float64), b.astype(np.float64)
  both_nan = np.isnan(a64) & np.isnan(b64)
  diff = np.where(both_nan, 0.0, np.abs(a64 - b64))
  diff = np.where(np.isnan(diff), np.inf, diff)
  return float(diff.max())


def _ordered_uints(x):
  """Maps floats to uint64s that are consecutive for consecutive floats.

  The sign-magnitude bit pattern becomes a signed integer (-0 and 0 both
  0), then is biased by 2**63 into uint64, so that differences between any
  two floats fit without overflow.
  """
  ints = x.view(_INT_OF[x.dtype]).astype(np.int64)
  magnitude = np.int64((1 << (8 * x.dtype.itemsize - 1)) - 1)
  ordered = np.where(ints < 0, -(ints & magnitude), ints)
  return ordered.astype(np.uint64) + np.uint64(1 << 63)


def max_ulp_diff(a, b):
  """The largest number of representable floats between a and b.

  Both must be the same floating dtype; 0 and -0 are 0 ulps apart. NaNs
  count as equal to NaNs and infinitely far from numbers.
  """
  a, b = _arrays(a, b)
  if a.dtype != b.dtype or a.dtype not in _INT_OF:
    raise ValueError(f"need one float dtype, got {a.dtype} and {b.dtype}")
  if a.size == 0:
    return 0
  nan_a, nan_b = np.isnan(a), np.isnan(b)
  if np.any(nan_a != nan_b):
    return float("inf")
  keep = ~nan_a
  if not keep.any():
    return 0
  ua = _ordered_uints(np.ascontiguousarray(a)[keep])
  ub = _ordered_uints(np.ascontiguousarray(b)[keep])
  return int((np.maximum(ua, ub) - np.minimum(ua, ub)).max())


@dataclasses.dataclass(frozen=True)
class Comparison:
  """How an array compares with a reference.

  `scale` is max(1, max |reference|): bounds apply to max_abs / scale, so
  they are absolute for values within [-1, 1] (GRU states) and relative for
  larger ones (gradients, logits), whose rounding grows with them.
  """
  bitwise: bool
  max_abs: float
  max_ulp: float
  scale: float = 1.0

  def within(self, bound):
    """Bitwise, or max_abs <= bound * scale."""
    return self.bitwise or self.max_abs <= bound * self.scale


def compare(a, b):
  """Compares `a` with the reference `b` (same dtype and shape)."""
  a, b = np.asarray(a), np.asarray(b)
  if a.dtype != b.dtype:
    raise ValueError(f"dtypes differ: {a.dtype} vs {b.dtype}")
  ulp = max_ulp_diff(a, b) if a.dtype in _INT_OF else float("nan")
  finite = np.abs(b[np.isfinite(b)]) if b.size else np.zeros(0)
  scale = max(1.0, float(finite.max())) if finite.size else 1.0
  return Comparison(bitwise_equal(a, b), max_abs_diff(a, b), ulp, scale)


@dataclasses.dataclass(frozen=True)
class Check:
  """One comparison with a reference: what, in which dtype, how far apart,
  and allowed how far.

  `bound` is relative to the reference's scale (`Comparison.within`); a
  bound of 0.0 demands bitwise equality.
  """
  name: str
  dtype: str
  result: Comparison
  bound: float

  @property
  def exact(self):
    return self.bound == 0.0

  @property
  def passed(self):
    if self.exact:
      return self.result.bitwise
    return self.result.within(self.bound)

  @property
  def effective_bound(self):
    """The absolute bound applied: bound * max(1, max |reference|)."""
    return 0.0 if self.exact else self.bound * self.result.scale

  def as_dict(self):
    return {"comparison": self.name, "dtype": self.dtype,
            "max_abs_diff": self.result.max_abs,
            "max_ulp_diff": self.result.max_ulp,
            "bitwise": self.result.bitwise, "bound": self.effective_bound,
            "relative_bound": self.bound, "reference_scale":
            self.result.scale, "exact": self.exact, "passed": self.passed}

  @classmethod
  def from_dict(cls, row):
    """The inverse of `as_dict` (e.g. to re-print a saved report)."""
    return cls(row["comparison"], row["dtype"], Comparison(
        row["bitwise"], row["max_abs_diff"], row["max_ulp_diff"],
        row["reference_scale"]), row["relative_bound"])


def check(name, ours, reference, bound):
  """The `Check` of `ours` against `reference` with a
  `tolerances.Bound`."""
  ours, reference = np.asarray(ours), np.asarray(reference)
  return Check(name, reference.dtype.name, compare(ours, reference),
               bound.for_dtype(reference.dtype))
