"""The one 95% interval (Student t), its quantiles against reference values, the seed band and the interval sign."""

import math

import numpy as np
import pandas as pd
import pytest

from rlvr_lib.stats import interval_sign, mean_ci, seed_band, seeds_needed, seeds_to_decide, t975

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


def t975_reference(df: float) -> float:
    """The 97.5% quantile of Student's t by Newton's method on its distribution function, integrated from the
    density by Simpson's rule (4000 panels on [0, t]): independent of the table and of the expansion, accurate to
    about 1e-10 here."""
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)
    weights = np.ones(4001)
    weights[1:-1:2], weights[2:-1:2] = 4, 2
    t = 2.0
    for _ in range(40):
        x = np.linspace(0.0, t, 4001)
        half_mass = float((weights * c * (1 + x * x / df) ** (-(df + 1) / 2)).sum() * t / 4000 / 3)  # P(0 < T < t)
        step = (half_mass - 0.475) / (c * (1 + t * t / df) ** (-(df + 1) / 2))
        t -= step
        if abs(step) < 1e-13:
            return t
    raise AssertionError(f"no convergence at df = {df}")


def test_the_table_is_the_exact_quantile_rounded_to_three_decimals():
    # the reference against the two closed forms: df = 1 (Cauchy) and df = 2, t = (2p - 1) / sqrt(2 p (1 - p))
    assert t975_reference(1) == pytest.approx(math.tan(0.475 * math.pi), abs=1e-9)
    assert t975_reference(2) == pytest.approx(0.95 / math.sqrt(2 * 0.975 * 0.025), abs=1e-9)
    for df in range(1, 31):
        assert t975(df) == round(t975_reference(df), 3) == t975(float(df)), df


@pytest.mark.parametrize("df", [30.0001, 30.5, 31, 35, 40, 60, 100, 255, 1000])
def test_beyond_the_table_the_expansion_errs_by_about_its_next_term(df):
    """Cornish-Fisher in 1/df, three terms (Abramowitz & Stegun 26.7.5): the error is about the first term left
    out, g4 / df^4 (2.0e-6 at df = 30); within 1.5 times that (and 1e-12 for rounding)."""
    z = 1.959963984540054
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    assert abs(t975(df) - t975_reference(df)) <= 1.5 * g4 / df**4 + 1e-12


def test_t_quantile_is_continuous_at_the_table_edge_and_decreasing():
    assert abs(t975(30) - t975(30.0001)) < 1e-3
    qs = [t975(d) for d in range(1, 400)]
    assert all(a > b for a, b in zip(qs, qs[1:])) and math.isnan(t975(0))


def test_mean_ci_is_a_t_interval():
    m, h, n = mean_ci([1.0, 2.0, 3.0])
    assert (m, n) == (2.0, 3) and h == pytest.approx(4.303 * 1.0 / math.sqrt(3), rel=1e-3)
    assert type(m) is float and type(h) is float and type(n) is int  # scalars, not 0-d arrays
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
    assert one.arm.tolist() == ["a", "b", "c", "d"]
    # a group whose key is missing is a group too (not dropped)
    keyless = seed_band(pd.DataFrame({"arm": ["a", None, None], "value": [1.0, 2.0, 4.0]}), ["arm"])
    assert keyless["n"].tolist() == [1, 2] and keyless["mean"].tolist() == [1.0, 3.0]


def test_interval_sign():
    assert interval_sign(0.2, 0.1) == 1 and interval_sign(-0.2, 0.1) == -1 and interval_sign(0.05, 0.1) == 0
    assert interval_sign(0.25, 0.125) == 1 and interval_sign(-0.25, 0.125) == -1
    assert interval_sign(0.125, 0.125) == 0 and interval_sign(-0.125, 0.125) == 0  # touching zero covers it
    for m, h in ((0.2, math.nan), (math.nan, 0.1), (math.inf, 0.1), (-math.inf, 0.1), (0.2, math.inf)):
        assert interval_sign(m, h) == 0, (m, h)  # undefined


# A half-width that reads back as sd = 1 exactly: n = 4 seeds, half = t975(3) * 1 / sqrt(4).
SD1 = dict(half=t975(3) / 2, n=4)


@pytest.mark.parametrize(
    "margin, k",
    # the smallest k with t975(k - 1) / sqrt(k) <= margin, worked from the exact quantiles (t975_reference):
    # margin 1: 2.447 / sqrt(7) = 0.925 <= 1 < 2.571 / sqrt(6) = 1.049; margin 0.5: 2.110 / sqrt(18) = 0.497 <= 0.5
    # < 2.120 / sqrt(17) = 0.514; margin 0.3: 0.2970 <= 0.3 < 0.3004 (k = 46, 45); margin 0.2: 0.19945 <= 0.2
    # < 0.20049 (k = 99, 98); margin 10: 12.706 / sqrt(2) = 8.98 already
    [(10.0, 2), (1.0, 7), (0.5, 18), (0.4, 27), (0.3, 46), (0.2, 99)],
)
def test_seeds_needed_by_hand(margin, k):
    assert seeds_needed(SD1["half"], SD1["n"], margin) == k
    # the same spread measured on 2 seeds (sd read back through t975(1) = 12.706)
    assert seeds_needed(t975(1) / math.sqrt(2), 2, margin) == k


def test_seeds_needed_at_its_edges():
    assert seeds_needed(SD1["half"], SD1["n"], t975(6) / math.sqrt(7)) == 7  # exactly at the margin: enough
    assert seeds_needed(0.0, 4, 0.01) == 2  # no spread: the fewest seeds with an interval
    assert seeds_needed(SD1["half"], SD1["n"], 1e-6, cap=50) == 50  # out of reach: the cap
    for half, n, margin in ((math.nan, 4, 0.1), (math.inf, 4, 0.1), (0.1, 1, 0.1), (0.0, 4, 0.0), (0.1, 4, -0.1)):
        assert seeds_needed(half, n, margin) == 10_000, (half, n, margin)  # undefined spread or margin


def test_seeds_to_decide_plans_for_the_nearer_verdict():
    """The half-width that decides at the measured mean is max(|mean|, margin - |mean|): clear of zero, or inside
    the margin. With sd = 1 and margin 0.5 (k values from the previous test's table)."""
    assert seeds_to_decide(0.3, **SD1, margin=0.5) == 46  # half-width 0.3 clears zero
    assert seeds_to_decide(-0.3, **SD1, margin=0.5) == 46  # the sign does not matter
    assert seeds_to_decide(0.1, **SD1, margin=0.5) == 27  # half-width 0.4 fits inside +-0.5
    assert seeds_to_decide(-0.1, **SD1, margin=0.5) == 27
    assert seeds_to_decide(0.5, **SD1, margin=0.5) == 18
    assert seeds_to_decide(0.3, **SD1, margin=0.5, cap=40) == 40
    assert seeds_to_decide(math.nan, **SD1, margin=0.5) == seeds_to_decide(math.inf, **SD1, margin=0.5) == 10_000
