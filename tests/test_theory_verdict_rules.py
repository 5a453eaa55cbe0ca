"""The rules inside the theory lab's verdict functions, each at the input that decides it: a value exactly at a
threshold (binary-exact numbers, so the compared quantity equals the threshold), a value between the threshold
and a nearby one, one setting or initial policy out of several, and the reason each outcome reports."""

import numpy as np
import pandas as pd
import pytest
from test_verdicts import CI_EQUAL, H_PARK, PEAK_STABLE, bandit, c2_c5_tables, c10_tables, dynamics, row

from rlvr_lib.experiments import theory_lab as lab
from rlvr_lib.verdicts import VERDICTS, Verdict

SUP, NOT, INC, EXC, NTH, PRE = VERDICTS

# ---------------------------------------------------------------------------------------------------------
# C1


def c1(**columns) -> Verdict:
    return lab.c1_verdicts(lab.c1_table([2, 4]).assign(**columns))[0]


@pytest.mark.parametrize(
    "columns, reason",
    [
        ({"moment_3": 1e-12}, "failed_odd_moment"),  # exactly at the tolerance
        ({"moment_5": -0.5}, "failed_odd_moment"),  # by absolute value
        ({"moment_1": 0.5}, "failed_odd_moment"),
        ({"symmetry_gap": 1e-12}, "failed_symmetry"),  # exactly at the tolerance
        ({"moment_3": 0.5, "symmetry_gap": 0.5}, "failed_odd_moment_and_symmetry"),
    ],
)
def test_c1_an_odd_moment_or_symmetry_gap_of_1e_12_already_fails_and_is_named(columns, reason):
    v = c1(**columns)
    assert (v.verdict, v.reason) == (NOT, reason)


def test_c1_names_a_broken_bound():
    t = lab.c1_table([2, 4])
    v = lab.c1_verdicts(t.assign(max_abs_A=t.bound + 0.5))[0]
    assert (v.verdict, v.reason) == (NOT, "failed_bound")


# ---------------------------------------------------------------------------------------------------------
# C2 and C5


def c2_c5(step: pd.DataFrame, skew: pd.DataFrame, grpo: pd.DataFrame) -> tuple[Verdict, Verdict]:
    v = lab.c2_c5_verdicts(step, skew, grpo)
    return row(v, "C2"), row(v, "C5")


@pytest.mark.parametrize(
    "kw, verdict, reason",
    [
        ({}, SUP, "slope_two"),
        ({"power": 1.0}, NOT, "slope_not_two"),
        ({"first_z": 6.0}, INC, "first_order_nonzero"),
    ],
)
def test_c2_reason_names_each_outcome(kw, verdict, reason):
    c2, _ = c2_c5(*c2_c5_tables(**kw))
    assert (c2.verdict, c2.reason) == (verdict, reason)


def test_c2_needs_slope_two_for_every_policy():
    step, skew, grpo = c2_c5_tables()
    dominant = step.policy == lab.DOMINANT
    step.loc[dominant, "mc_mean"] = 0.05 * step.eta[dominant]  # first order for one policy only
    c2, _ = c2_c5(step, skew, grpo)
    assert (c2.verdict, c2.reason) == (NOT, "slope_not_two")
    assert "one at 0.9 + 99 tail: 1.00" in c2.statistic


@pytest.mark.parametrize(
    "mean, z, verdict, reason",
    [
        (0.9375, "3.8", SUP, "slope_two"),  # 3.75 standard errors
        (1.0, "4.0", INC, "first_order_nonzero"),  # exactly 4 standard errors
        (1.125, "4.5", INC, "first_order_nonzero"),
    ],
)
def test_c2_a_first_order_term_4_standard_errors_from_zero_is_nonzero(mean, z, verdict, reason):
    step, skew, grpo = c2_c5_tables()
    c2, _ = c2_c5(step.assign(first_order_mean=mean, first_order_se=0.25), skew, grpo)
    assert (c2.verdict, c2.reason) == (verdict, reason)
    assert f"first-order term within {z} standard errors" in c2.statistic


@pytest.mark.parametrize(
    "kw, verdict, reason",
    [
        ({}, SUP, "signs_as_predicted"),
        ({"uniform_sign": 1.0}, NOT, "signs_not_as_predicted"),
        ({"rel_gap": 0.2}, INC, "closed_form_off"),
    ],
)
def test_c5_reason_names_each_outcome(kw, verdict, reason):
    _, c5 = c2_c5(*c2_c5_tables(**kw))
    assert (c5.verdict, c5.reason) == (verdict, reason)


def test_c5_compares_closed_form_and_monte_carlo_at_the_smallest_step_only():
    """Higher-order terms pull the Monte Carlo off the second-order closed form at larger steps (10% at 0.1)."""
    step, skew, grpo = c2_c5_tables()
    step["mc_mean"] = step.closed_form * (1 + step.eta)
    _, c5 = c2_c5(step, skew, grpo)
    assert (c5.verdict, c5.reason) == (SUP, "signs_as_predicted")
    assert "at eta=0.01: largest relative gap 0.010" in c5.statistic


def test_c5_a_relative_gap_of_exactly_5_percent_is_off():
    step, skew, grpo = c2_c5_tables()
    small = step.eta == step.eta.min()
    sign = np.sign(step.closed_form[small])
    step.loc[small, "closed_form"] = 20.0 * sign
    step.loc[small, "mc_mean"] = 21.0 * sign  # |21 - 20| / 20 == 0.05
    _, c5 = c2_c5(step, skew, grpo)
    assert (c5.verdict, c5.reason) == (INC, "closed_form_off")
    assert "largest relative gap 0.050" in c5.statistic


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # the log-log slope of a zero change
@pytest.mark.parametrize(
    "policy, words", [(lab.UNIFORM, "uniform policy dH >= 0"), (lab.DOMINANT, "one-at-0.9-plus-tail dH <= 0")]
)
def test_c5_an_entropy_change_of_exactly_zero_has_the_wrong_sign(policy, words):
    step, skew, grpo = c2_c5_tables()
    step.loc[(step.policy == policy) & (step.eta == step.eta.min()), "mc_mean"] = 0.0
    _, c5 = c2_c5(step, skew, grpo)
    assert (c5.verdict, c5.reason) == (NOT, "signs_not_as_predicted")
    assert words in c5.statistic


# ---------------------------------------------------------------------------------------------------------
# C3


def c3(ratios: list[float], p_plus: list[float]) -> Verdict:
    t = pd.DataFrame({"vary": "eps", "value": np.arange(1, len(ratios) + 1) / 10, "ratio": ratios, "p_plus": p_plus})
    return row(lab.c3_verdicts(t), "C3 (small per step)")


@pytest.mark.parametrize("ratio, p_plus", [(np.inf, 1e-3), (2.0, 0.0)])
def test_c3_a_setting_counts_only_with_a_finite_ratio_and_a_positive_clip_rate(ratio, p_plus):
    v = c3([ratio], [p_plus])
    assert (v.verdict, v.reason) == (NTH, "check_failed")


@pytest.mark.parametrize(
    "ratios, p_plus, verdict, reason",
    [
        ([20.0], [1e-3], SUP, "ratio_above_5"),
        ([5.5], [1e-3], SUP, "ratio_above_5"),
        ([5.0], [1e-3], INC, "ratio_between"),  # exactly 5 is not above 5
        ([1.5], [1e-3], INC, "ratio_between"),
        ([1.0], [1e-3], INC, "ratio_between"),  # exactly 1 is not below 1
        ([0.5], [1e-3], NOT, "ratio_below_1"),
        ([20.0, 0.5], [1e-3, 1e-2], NOT, "ratio_below_1"),  # a clip rate of exactly 1e-2 is low
        ([20.0, 0.5], [1e-3, 0.5], SUP, "ratio_above_5"),  # settings that clip more are not read
        ([0.5], [0.5], INC, "no_low_clip_rate"),
        ([20.0], [0.5], INC, "no_low_clip_rate"),
    ],
)
def test_c3_reads_the_ratio_where_the_clip_rate_is_at_most_1e_2(ratios, p_plus, verdict, reason):
    v = c3(ratios, p_plus)
    assert (v.verdict, v.reason) == (verdict, reason)


def test_c3_statistic_quotes_the_setting_nearest_to_a_clip_rate_of_1e_3_on_a_log_scale():
    """On a linear scale 1e-4 would be nearest; on a log scale it is 2.5e-3."""
    v = c3([20.0, 40.0, 80.0], [1e-4, 2.5e-3, 1e-2])
    assert "nearest to p+ = 1e-3: ratio 40.0 at p+ = 2.5e-03 (eps = 0.2)" in v.statistic


# ---------------------------------------------------------------------------------------------------------
# C6 (relative to no clipping)


def c6(final_H: dict, final_ci: dict = CI_EQUAL, skewed: dict | None = None) -> Verdict:
    return row(lab.c6_c7_verdicts(dynamics(final_H, final_ci, PEAK_STABLE, skewed=skewed)), "C6")


@pytest.mark.parametrize(
    "sym, none, verdict, reason",
    [
        ((0.5, 0.125), (1.0, 0.125), SUP, "lower_in_every_init"),
        ((0.75, 0.125), (1.0, 0.125), INC, "not_lower_in_every_init"),  # intervals touch at 0.875
        ((0.8, 0.05), (0.85, 0.05), INC, "not_lower_in_every_init"),  # overlap, symmetric lower
        ((0.85, 0.05), (0.8, 0.05), INC, "not_lower_in_every_init"),  # overlap, symmetric higher
        ((1.0, 0.125), (0.75, 0.125), INC, "not_lower_in_every_init"),  # intervals touch at 0.875
        ((1.25, 0.125), (0.75, 0.125), NOT, "higher_in_every_init"),
    ],
)
def test_c6_only_intervals_apart_order_symmetric_and_no_clipping(sym, none, verdict, reason):
    final_H = {**H_PARK, "symmetric": sym[0], "none": none[0]}
    final_ci = {**CI_EQUAL, "symmetric": sym[1], "none": none[1]}
    v = c6(final_H, final_ci)
    assert (v.verdict, v.reason) == (verdict, reason)


@pytest.mark.parametrize(
    "flat_sym, skewed_sym",
    [
        (0.7, 0.9),  # lower in the flat init only
        (1.2, 0.9),  # higher in the flat init only
    ],
)
def test_c6_needs_the_same_direction_in_every_init(flat_sym, skewed_sym):
    v = c6({**H_PARK, "symmetric": flat_sym}, skewed={**H_PARK, "symmetric": skewed_sym})
    assert (v.verdict, v.reason) == (INC, "not_lower_in_every_init")


@pytest.mark.parametrize(
    "final_H, count",
    [
        (H_PARK, "2/2"),
        ({**H_PARK, "lower_only": 0.9}, "0/2"),  # none not below lower-only
        ({**H_PARK, "upper_only": 0.9}, "0/2"),  # upper-only not below none
    ],
)
def test_c6_statistic_counts_the_inits_where_upper_only_is_below_none_below_lower_only(final_H, count):
    assert f"Park et al.'s ordering (upper-only < none < lower-only) holds in {count} inits" in c6(final_H).statistic


def test_c6_statistic_starts_from_the_iteration_0_entropy_in_any_row_order():
    t = dynamics(H_PARK, CI_EQUAL, PEAK_STABLE).iloc[::-1]
    statistic = row(lab.c6_c7_verdicts(t), "C6").statistic
    for init in ("flat", "skewed"):
        assert f"{init}: H0 1.000 -> none 0.900, symmetric 0.700" in statistic


# ---------------------------------------------------------------------------------------------------------
# C7 (the tabular meaning of "clipping stabilises")


def with_value(t: pd.DataFrame, init: str, rule: str, metric: str, iteration: int, **values) -> pd.DataFrame:
    """`t` with the row (init, rule, metric, iteration) set to `values` (e.g. mean=..., ci=...)."""
    t = t.copy()
    at = (t.init == init) & (t.rule == rule) & (t.metric == metric) & (t.iteration == iteration)
    assert at.sum() == 1
    for column, value in values.items():
        t.loc[at, column] = value
    return t


def c7(t: pd.DataFrame) -> Verdict:
    return lab.c7_verdict(t)


def test_c7_reads_each_init_s_own_peaks():
    t = with_value(dynamics(H_PARK, CI_EQUAL, PEAK_STABLE), "skewed", "symmetric", "ratio_max", 1, mean=4.0)
    v = c7(t)
    assert (v.verdict, v.reason) == (NOT, "destabilises_some_init")  # higher in one init is enough
    assert "flat: peak mean max-ratio none 3.00 +- 0.01 vs symmetric 1.30 +- 0.01" in v.statistic
    assert "skewed: peak mean max-ratio none 3.00 +- 0.01 vs symmetric 4.00 +- 0.01" in v.statistic


def test_c7_a_lower_peak_in_one_init_only_is_undecided():
    t = with_value(dynamics(H_PARK, CI_EQUAL, PEAK_STABLE), "skewed", "symmetric", "ratio_max", 1, mean=2.995)
    v = c7(t)
    assert (v.verdict, v.reason) == (INC, "undecided")


@pytest.mark.parametrize(
    "sym_peak, verdict, reason",
    [
        (2.0, SUP, "stabilises_every_init"),
        (2.5, INC, "undecided"),  # intervals touch at 2.75
        (3.1, INC, "undecided"),  # overlap, symmetric higher
        (3.5, INC, "undecided"),  # intervals touch at 3.25
        (4.0, NOT, "destabilises_some_init"),
    ],
)
def test_c7_only_peak_intervals_apart_order_the_rules(sym_peak, verdict, reason):
    peak = {**PEAK_STABLE, "none": 3.0, "symmetric": sym_peak}
    v = c7(dynamics(H_PARK, CI_EQUAL, peak, peak_ci=0.25))
    assert (v.verdict, v.reason) == (verdict, reason)


@pytest.mark.parametrize(
    "sym_ci, verdict, reason, ratio",
    [
        (0.25, SUP, "stabilises_every_init", "1.00"),  # the same spread is no larger
        (0.3125, INC, "undecided", "1.25"),
        (0.375, INC, "undecided", "1.50"),  # exactly 1.5 times is not more than 1.5 times
        (0.5, NOT, "destabilises_some_init", "2.00"),
    ],
)
def test_c7_spread_of_final_entropy_at_most_1_stabilises_more_than_1_5_destabilises(sym_ci, verdict, reason, ratio):
    v = c7(dynamics(H_PARK, {**CI_EQUAL, "none": 0.25, "symmetric": sym_ci}, PEAK_STABLE))
    assert (v.verdict, v.reason) == (verdict, reason)
    assert f"spread of final entropy, clip / no clip {ratio}" in v.statistic


@pytest.mark.parametrize(
    "skewed_sym_ci, verdict, reason",
    [
        (0.025, INC, "undecided"),  # 1.25 times wider in the skewed init only
        (0.05, NOT, "destabilises_some_init"),  # 2.5 times wider in the skewed init only
    ],
)
def test_c7_a_wider_spread_in_one_init_counts(skewed_sym_ci, verdict, reason):
    t = with_value(dynamics(H_PARK, CI_EQUAL, PEAK_STABLE), "skewed", "symmetric", "entropy", 2, ci=skewed_sym_ci)
    v = c7(t)
    assert (v.verdict, v.reason) == (verdict, reason)


# ---------------------------------------------------------------------------------------------------------
# C8 and C11 (the bandit)


@pytest.mark.parametrize(
    "em_correct, em_wrong, verdict, reason",
    [
        (0.5, -0.5, SUP, "gain_only_where_mode_correct"),
        (0.25, -0.5, INC, "undecided"),  # correct-mode interval starts exactly at 0
        (0.125, -0.5, INC, "undecided"),  # correct-mode interval covers 0
        (0.5, -0.25, INC, "undecided"),  # wrong-mode interval ends exactly at 0
        (0.0, 0.25, INC, "undecided"),  # wrong-mode interval starts exactly at 0
        (-0.25, 0.0, INC, "undecided"),  # correct-mode interval ends exactly at 0
        (-0.125, 0.0, INC, "undecided"),  # correct-mode interval covers 0
        (0.5, 0.5, NOT, "wrong_direction_somewhere"),  # a gain with the mode wrong
        (-0.5, -0.5, NOT, "wrong_direction_somewhere"),  # a loss with the mode correct
    ],
)
def test_c8_counts_only_intervals_clear_of_zero(em_correct, em_wrong, verdict, reason):
    """Every interval is +-0.25 wide, so some end exactly at zero."""
    v = row(lab.c8_c11_verdicts(bandit(em_correct, em_wrong, 0.1, 0.0, ci=0.25)), "C8")
    assert (v.verdict, v.reason) == (verdict, reason)


def bandit_rc(acc: list[float], gain: list[float]) -> pd.DataFrame:
    """The bandit table with the random + clip arm's initial accuracy and gain replaced (mode correct first)."""
    t = bandit(0.2, -0.05, 0.1, 0.0)
    rc = t.arm == lab.BANDIT_RANDOM_CLIP.label
    t.loc[rc, "initial_acc"] = acc
    t.loc[rc, "gain"] = gain
    return t


ACC = [0.25, 0.5, 0.75, 0.125, 0.0625, 0.03125]


@pytest.mark.parametrize(
    "acc, gain, corr, verdict, reason",
    [
        (ACC, [0.25, 0.5, 0.75, 0.125, 0.0625, 0.03125], "+1.00", SUP, "gain_grows_with_strength"),
        (ACC, [0.75, 0.5, 0.25, 0.875, 0.9375, 0.96875], "-1.00", NOT, "gain_falls_with_strength"),
        # exactly 0.5: not enough
        ([0.25, 0.5, 0.75, 0.0, 0.0, 0.0], [0.125, 0.25, 0.125, 0.0, 0.125, 0.125], "+0.50", INC, "undecided"),
        # exactly 0: not a fall
        (ACC, [0.75, 0.75, 0.25, 0.5, 0.75, 0.0], "+0.00", INC, "undecided"),
        # correlated, but no more gain with the mode correct (equal means)
        ([0.2, 0.5, 0.8, 0.1, 0.05, 0.02], [0.0, 0.5, 1.0, 0.5, 0.5, 0.5], "+0.61", INC, "undecided"),
        # more gain with the mode correct, but a weak correlation
        (ACC, [0.5, 0.0, 0.5, 0.25, 0.0, 0.25], "+0.34", INC, "undecided"),
    ],
)
def test_c11_needs_a_correlation_above_0_5_and_more_gain_with_the_mode_correct(acc, gain, corr, verdict, reason):
    v = row(lab.c8_c11_verdicts(bandit_rc(acc, gain)), "C11")
    assert (v.verdict, v.reason) == (verdict, reason)
    assert f"correlation of gain with initial accuracy {corr}" in v.statistic


# ---------------------------------------------------------------------------------------------------------
# C10 and what its moments predict


def c10(t: dict | None = None, tp: dict | None = None, adv: dict | None = None) -> tuple[Verdict, Verdict]:
    """The verdicts on `c10_tables()` with the columns in `t`, `tp` and `adv` replaced."""
    t0, tp0, adv0 = c10_tables()
    v = lab.c10_verdicts(t0.assign(**(t or {})), tp0.assign(**(tp or {})), adv0.assign(**(adv or {})))
    return row(v, "C10"), row(v, "C10 (predicts C11)")


@pytest.mark.parametrize(
    "e_mc, z, verdict, reason",
    [
        (4.75, "3.8", SUP, "moments_match"),
        (5.0, "4.0", INC, "off_in_monte_carlo_mean"),  # exactly 4 standard errors
        (5.5, "4.5", INC, "off_in_monte_carlo_mean"),
    ],
)
def test_c10_a_monte_carlo_mean_4_standard_errors_off_is_off(e_mc, z, verdict, reason):
    """E_closed is 1 and the standard error 1, so the z score is E_mc - 1."""
    v, _ = c10(t={"E_mc": [e_mc, 2.0], "E_mc_se": [1.0, 1.0]})
    assert (v.verdict, v.reason) == (verdict, reason)
    assert f"mean within {z} s.e." in v.statistic


@pytest.mark.parametrize(
    "var_closed, var_mc, verdict, reason, pct",
    [
        (4.0, 4.04, SUP, "moments_match", "1.0%"),  # relative to the closed form's variance of 4
        (50.0, 51.0, INC, "off_in_monte_carlo_variance", "2.0%"),  # exactly 2%
    ],
)
def test_c10_a_monte_carlo_variance_2_percent_off_is_off(var_closed, var_mc, verdict, reason, pct):
    v, _ = c10(t={"Var_closed": var_closed, "Var_enum": var_closed, "Var_mc": [var_mc, var_closed]})
    assert (v.verdict, v.reason) == (verdict, reason)
    assert f"variance within {pct}" in v.statistic


def test_c10_a_mixture_gap_of_exactly_1e_9_is_off():
    v, _ = c10(tp={"E_closed": [1e-9, 1.0], "E_enum": [0.0, 1.0], "E_enum_mirror": [0.0, 1.0]})
    assert (v.verdict, v.reason) == (INC, "off_in_mixture_over_p")
    assert "(G-1)p(1-p) to 1.0e-09" in v.statistic


@pytest.mark.parametrize(
    "gap, verdict",
    [
        (1e-9, INC),  # exactly 1e-9: no longer a match
        (1e-6, INC),  # exactly 1e-6: not yet a difference
        (2e-6, NOT),
    ],
)
def test_c10_enumeration_gap_matches_below_1e_9_and_differs_above_1e_6(gap, verdict):
    v, _ = c10(t={"E_closed": [0.0, 2.0], "E_enum": [gap, 2.0], "E_mc": [0.0, 2.0]})
    assert v.verdict == verdict
    assert f"closed form vs enumeration: largest gap {gap:.1e}" in v.statistic


@pytest.mark.parametrize(
    "adv_mean, verdict, reason",
    [
        (0.9375, NOT, "moments_symmetric"),  # 3.75 standard errors
        (1.0, INC, "undecided"),  # exactly 4: neither zero nor nonzero
        (1.125, SUP, "moments_favour_a_side"),  # 4.5
    ],
)
def test_c10_predicts_c11_when_a_correct_response_s_advantage_is_more_than_4_se_from_zero(adv_mean, verdict, reason):
    _, p = c10(adv={"mean": [adv_mean], "se": [0.25]})
    assert (p.verdict, p.reason) == (verdict, reason)


@pytest.mark.parametrize(
    "mirror, verdict, reason",
    [
        (1e-9, INC, "undecided"),  # exactly 1e-9: not symmetric
        (1e-6, INC, "undecided"),  # exactly 1e-6: not yet asymmetric
        (2e-6, SUP, "moments_favour_a_side"),
    ],
)
def test_c10_mirror_gap_is_symmetric_below_1e_9_and_asymmetric_above_1e_6(mirror, verdict, reason):
    _, p = c10(tp={"E_enum": [0.0, 1.0], "E_closed": [0.0, 1.0], "E_enum_mirror": [mirror, 1.0]})
    assert (p.verdict, p.reason) == (verdict, reason)
    assert f"differs by at most {mirror:.1e}" in p.statistic
