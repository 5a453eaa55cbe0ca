"""Statistics of the book, each defined once: the 95% interval, its quantiles, the seed band, the interval sign.

"95% interval" means one thing everywhere in this project: the two-sided Student-t interval for a mean,
``mean +- t_{0.975, n-1} * sd / sqrt(n)`` with the unbiased standard deviation (``ddof = 1``), over the unit of
replication that the caller states (seeds, batches, steps of one trajectory...). For large n it is the normal
interval (t -> 1.96). It is written :func:`mean_ci`; the theory lab and the tiny-LM chapters both use it.
"""

from __future__ import annotations

import math

import numpy as np

# two-sided 97.5% Student-t quantiles, exact to 3 decimals for df = 1..30 (standard tables)
_T975 = (
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
)
_Z975 = 1.959963984540054


def t975(df: float) -> float:
    """The 97.5% quantile of Student's t with `df` degrees of freedom (NaN for df < 1).

    A table for df <= 30; beyond it the Cornish-Fisher expansion in 1/df (Abramowitz & Stegun 26.7.5, three
    terms), which is accurate to better than 1e-4 there."""
    if not df >= 1:
        return float("nan")
    if df <= 30 and float(df).is_integer():
        return _T975[int(df) - 1]
    z = _Z975
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    return z + g1 / df + g2 / df**2 + g3 / df**3


def mean_ci(x, axis: int | None = None):
    """(mean, half-width of the 95% Student-t interval, n) of the finite values of `x`.

    With ``axis=None`` the input is flattened and three scalars come back; with an axis, three arrays reduced
    along it. Non-finite values are ignored. The mean is NaN where n = 0, the half-width NaN where n < 2."""
    a = np.asarray(x, dtype=float)
    if axis is None:
        a, axis = a.ravel(), 0
    ok = np.isfinite(a)
    n = ok.sum(axis=axis)
    total = np.where(ok, a, 0.0).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        m = np.where(n > 0, total / np.maximum(n, 1), np.nan)
        dev = np.where(ok, a - np.expand_dims(m, axis), 0.0)
        sd = np.sqrt((dev**2).sum(axis=axis) / np.maximum(n - 1, 1))
        t = np.vectorize(t975, otypes=[float])(np.asarray(n - 1, dtype=float))
        h = np.where(n > 1, t * sd / np.sqrt(np.maximum(n, 1)), np.nan)
    if np.ndim(m) == 0:
        return float(m), float(h), int(n)
    return m, h, n


def seed_band(df, by: list[str], value: str = "value"):
    """The seed band: per group `by`, the mean, the 95% half-width (:func:`mean_ci`) and n of `value` over the
    rows of the group (one row per seed). Returns a DataFrame with columns ``*by, mean, ci, n``."""
    import pandas as pd

    rows = []
    for key, g in df.groupby(list(by), sort=True, dropna=False):
        m, h, n = mean_ci(g[value].to_numpy(dtype=float))
        rows.append({**dict(zip(by, key if isinstance(key, tuple) else (key,))), "mean": m, "ci": h, "n": n})
    return pd.DataFrame(rows, columns=[*by, "mean", "ci", "n"])


def seeds_needed(half: float, n: int, margin: float, cap: int = 10_000) -> int:
    """Fewest seeds whose 95% half-width would be at most `margin`, given a measured half-width `half` over `n`
    seeds (the spread is read back from it: sd = half * sqrt(n) / t975(n - 1)). `cap` when even that many would
    not do, or when the spread is undefined."""
    if not (n >= 2 and math.isfinite(half) and margin > 0):
        return cap
    sd = half * math.sqrt(n) / t975(n - 1)
    if sd == 0:
        return 2
    k = 2
    while k < cap and t975(k - 1) * sd / math.sqrt(k) > margin:
        k += 1
    return k


def seeds_to_decide(mean: float, half: float, n: int, margin: float, cap: int = 10_000) -> int:
    """Fewest seeds whose 95% interval would reach a verdict at the measured effect `mean` and spread (read back
    from `half` over `n` seeds, as in :func:`seeds_needed`): a half-width at most abs(mean) (the interval clears
    zero) or at most margin - abs(mean) (it fits inside the margin), whichever is larger. This is the pilot's
    rule; it assumes the measured mean is the true one, so it is a planning number, not a promise."""
    if not math.isfinite(mean):
        return cap
    return seeds_needed(half, n, max(abs(mean), margin - abs(mean)), cap=cap)


def interval_sign(m: float, h: float) -> int:
    """+1 if the interval m +- h lies above 0, -1 if below, 0 if it covers 0 (or is undefined)."""
    if not (math.isfinite(m) and math.isfinite(h)):
        return 0
    return 1 if m - h > 0 else -1 if m + h < 0 else 0
