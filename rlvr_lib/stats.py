"""Small statistics used by tables and verdicts: means with 95% intervals and paired differences."""

from __future__ import annotations

import math

import numpy as np

# two-sided 97.5% Student-t quantiles for small samples (df = n - 1); normal beyond
_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
         11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131, 16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093,
         20: 2.086, 25: 2.060, 29: 2.045}


def t975(df: int) -> float:
    if df <= 0:
        return float("nan")
    if df in _T975:
        return _T975[df]
    if df < 30:
        lower = max(k for k in _T975 if k <= df)
        return _T975[lower]
    return 1.96


def mean_ci(x) -> tuple[float, float, int]:
    """(mean, half-width of the 95% t-interval, n) of the finite values of x; half-width NaN for n < 2."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return float("nan"), float("nan"), 0
    if n == 1:
        return float(x[0]), float("nan"), 1
    return float(x.mean()), float(t975(n - 1) * x.std(ddof=1) / math.sqrt(n)), n
