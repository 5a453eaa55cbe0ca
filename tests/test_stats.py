"""The one 95% interval (Student t), its quantiles against reference values, the seed band and the interval sign."""

import math

import numpy as np
import pandas as pd
import pytest

from rlvr_lib.stats import interval_sign, mean_ci, seed_band, t975

# 97.5% quantiles of Student's t from standard tables (and the normal limit)
REFERENCE_T = {
    1: 12.7062,
    2: 4.3027,
    4: 2.7764,
    10: 2.2281,
    29: 2.0452,
    30: 2.0423,
    40: 2.0211,
    60: 2.0003,
    100: 1.9840,
    120: 1.9799,
    255: 1.9693,
    1000: 1.9623,
    10**9: 1.9600,
}


@pytest.mark.parametrize("df, ref", sorted(REFERENCE_T.items()))
def test_t_quantiles_against_tables(df, ref):
    assert t975(df) == pytest.approx(ref, abs=2e-3 if df <= 30 else 2e-4)


def test_t_quantile_is_continuous_at_the_table_edge_and_decreasing():
    assert abs(t975(30) - t975(30.0001)) < 1e-3
    qs = [t975(d) for d in range(1, 400)]
    assert all(a > b for a, b in zip(qs, qs[1:])) and math.isnan(t975(0))


def test_mean_ci_is_a_t_interval():
    m, h, n = mean_ci([1.0, 2.0, 3.0])
    assert (m, n) == (2.0, 3) and h == pytest.approx(4.303 * 1.0 / math.sqrt(3), rel=1e-3)
    assert math.isnan(mean_ci([1.0])[1]) and math.isnan(mean_ci([])[0])
    assert mean_ci([1.0, np.nan, 3.0, np.inf])[2] == 2  # non-finite values are ignored


def test_mean_ci_along_an_axis_equals_the_scalar_version_per_slice():
    x = np.random.default_rng(0).normal(size=(5, 40))
    x[2, :39] = np.nan  # one finite value in that row: its mean is that value, its half-width undefined
    m, h, n = mean_ci(x, axis=-1)
    for i in (0, 1, 3, 4):
        mi, hi, ni = mean_ci(x[i])
        assert m[i] == pytest.approx(mi) and h[i] == pytest.approx(hi) and n[i] == ni == 40
    assert m[2] == x[2, 39] and n[2] == 1 and math.isnan(h[2])
    mt, ht, nt = mean_ci(x.T, axis=0)  # the other axis of the transposed array: the same numbers
    assert np.array_equal(mt, m) and np.array_equal(ht, h, equal_nan=True) and np.array_equal(nt, n)


def test_mean_ci_by_hand():
    """Rows worked by hand: mean, sd (n - 1 in the denominator) and t from the tables above."""
    x = np.array(
        [
            [1.0, 2.0, 3.0, np.nan],  # mean 2, sd 1, 4.3027 * 1 / sqrt(3) = 2.4842
            [2.0, np.inf, 4.0, np.nan],  # mean 3, sd sqrt(2), 12.706 * sqrt(2) / sqrt(2) = 12.706
            [5.0, 5.0, 5.0, 5.0],  # no spread: half-width 0
            [7.0, np.nan, np.nan, np.nan],  # one value: mean 7, half-width undefined
            [np.nan, np.nan, -np.inf, np.nan],  # nothing finite
        ]
    )
    m, h, n = mean_ci(x, axis=1)
    assert n.tolist() == [3, 2, 4, 1, 0]
    assert m[:4].tolist() == [2.0, 3.0, 5.0, 7.0] and math.isnan(m[4])
    assert h[0] == pytest.approx(2.4842, abs=5e-4) and h[1] == pytest.approx(12.706, abs=1e-3) and h[2] == 0.0
    assert math.isnan(h[3]) and math.isnan(h[4])
    assert mean_ci([10.0, 14.0]) == pytest.approx((12.0, 12.706 * 2.0, 2), abs=3e-3)  # sd 2 sqrt(2), / sqrt(2)


def test_mean_ci_covers_at_its_nominal_rate():
    rng = np.random.default_rng(1)
    hits = [abs(m) <= h for m, h, _ in (mean_ci(rng.normal(size=4)) for _ in range(4000))]
    assert np.mean(hits) == pytest.approx(0.95, abs=0.012)  # binomial s.e. 0.0034


def test_seed_band_per_group():
    """Groups worked by hand (t quantiles from the tables above), one row per group in sorted order."""
    df = pd.DataFrame(
        {
            "arm": ["b"] * 2 + ["a"] * 4 + ["c"] + ["d"] * 2,
            "step": [0, 0, 0, 0, 0, 0, 0, 3, 3],
            "value": [4.0, 6.0, 1.0, 2.0, 3.0, np.nan, 7.0, 5.0, 5.0],
        }
    )
    band = seed_band(df, ["arm", "step"])
    assert list(band.columns) == ["arm", "step", "mean", "ci", "n"] and band.arm.tolist() == ["a", "b", "c", "d"]
    band = band.set_index("arm")
    assert band.loc["a", "mean"] == 2.0 and band.loc["a", "n"] == 3  # the NaN is not a seed
    assert band.loc["a", "ci"] == pytest.approx(2.4842, abs=5e-4)  # sd 1: 4.3027 / sqrt(3)
    assert band.loc["b", "mean"] == 5.0 and band.loc["b", "ci"] == pytest.approx(12.706, abs=1e-3)  # sd sqrt(2)
    assert band.loc["c", "mean"] == 7.0 and band.loc["c", "n"] == 1 and math.isnan(band.loc["c", "ci"])
    assert band.loc["d", "step"] == 3 and band.loc["d", "ci"] == 0.0
    one = seed_band(df.rename(columns={"value": "acc"}), ["arm"], value="acc")
    assert list(one.columns) == ["arm", "mean", "ci", "n"] and one["n"].tolist() == [3, 2, 1, 2]


def test_interval_sign():
    assert interval_sign(0.2, 0.1) == 1 and interval_sign(-0.2, 0.1) == -1 and interval_sign(0.05, 0.1) == 0
    assert interval_sign(0.2, float("nan")) == 0
