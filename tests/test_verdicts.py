"""Every verdict function, fed small synthetic tables, comes out each way it can: the verdicts are computed."""

import itertools

import numpy as np
import pandas as pd
import pytest

from rlvr_lib.experiments import lm_lab as lm
from rlvr_lib.experiments import theory_lab as lab
from rlvr_lib.stats import seeds_needed, seeds_to_decide, t975
from rlvr_lib.verdicts import REASONS, VERDICTS, Verdict, decide, decide_effect

SUP, NOT, INC, EXC, NTH, PRE = VERDICTS


def row(verdicts: list[Verdict], claim: str) -> Verdict:
    (v,) = [v for v in verdicts if v.claim == claim]
    return v


def outcome(verdicts: list[Verdict], claim: str) -> str:
    return row(verdicts, claim).verdict


def test_a_verdict_needs_a_reason_and_a_known_polarity():
    with pytest.raises(ValueError, match="no reason"):
        Verdict("C1", SUP, "s", "exact")
    with pytest.raises(ValueError, match="polarity"):
        Verdict("C1", SUP, "s", "exact", polarity=2, reason="r")


@pytest.mark.parametrize(
    "verdict, polarity, stance",
    [(SUP, 1, 1), (NOT, 1, -1), (EXC, 1, -1), (INC, 1, 0), (NTH, 1, 0), (PRE, 1, 0), (SUP, -1, -1), (NOT, -1, 1)]
    + [(SUP, 0, 0), (NOT, 0, 0)],
)
def test_stance_is_the_verdict_sign_times_the_polarity(verdict, polarity, stance):
    assert Verdict("Cx", verdict, "s", "tabular", polarity=polarity, reason="r").stance() == stance


def test_decide_truth_table():
    assert [decide(a, b) for a, b in itertools.product((True, False), repeat=2)] == [INC, SUP, NOT, INC]


@pytest.mark.parametrize(
    "mean, half, expect, kw, expected, reason",
    [
        (0.10, 0.05, 1, {}, SUP, "beyond_margin"),
        (-0.10, 0.05, -1, {}, SUP, "beyond_margin"),
        (-0.10, 0.05, 1, {}, NOT, "opposite_side"),
        (0.10, 0.05, -1, {}, NOT, "opposite_side"),
        (0.00, 0.01, 1, {}, EXC, "within_margin"),
        (0.015, 0.004, 1, {}, EXC, "within_margin"),  # nonzero, but smaller than the margin
        (0.00, 0.10, 1, {}, INC, "undecided"),
        (0.05, 0.04, 1, {}, SUP, "beyond_margin"),
        (0.10, 0.05, 1, {"failed_checks": ["clipping binds"]}, NTH, "check_failed"),
        (0.10, 0.05, 1, {"premise": ("no gain to explain", False)}, PRE, "premise_false"),
        (0.10, 0.05, 1, {"premise": ("no gain to explain", True)}, SUP, "beyond_margin"),
        (float("nan"), float("nan"), 1, {}, INC, "no_interval"),
    ],
)
def test_decide_effect_reaches_every_outcome(mean, half, expect, kw, expected, reason):
    verdict, note, why = decide_effect(mean, half, 3, 0.02, expect, **kw)
    assert (verdict, why) == (expected, reason) and note and why in REASONS
    if expected == NTH:
        assert "clipping binds" in note


def test_inconclusive_reports_the_seeds_to_decide_and_the_seeds_for_the_margin():
    """At a measured effect of 0.05 +- 0.06 over 3 seeds (margin 0.02), deciding needs a half-width of 0.05 (the
    interval then clears zero); a half-width within the margin needs many more seeds. Both counts are the
    smallest sufficient ones, checked here from the t quantiles directly."""
    sd = 0.06 * np.sqrt(3) / t975(2)

    def smallest(target):
        k = 2
        while t975(k - 1) * sd / np.sqrt(k) > target:
            k += 1
        return k

    k_decide, k_margin = smallest(0.05), smallest(0.02)
    assert (k_decide, k_margin) == (seeds_to_decide(0.05, 0.06, 3, 0.02), seeds_needed(0.06, 3, 0.02))
    assert k_decide < k_margin
    verdict, note, _ = decide_effect(0.05, 0.06, 3, 0.02)
    assert verdict == INC
    assert f"about {k_decide} seeds in all" in note and f"the margin 0.02, about {k_margin} seeds" in note
    # near zero the decisive interval is the one inside the margin: margin - |m| = 0.015
    assert seeds_to_decide(0.005, 0.06, 3, 0.02) == smallest(0.015)


def test_seeds_needed_is_the_smallest_sufficient_count():
    sd = 0.05
    half = t975(2) * sd / np.sqrt(3)
    k = seeds_needed(half, 3, 0.02)
    assert t975(k - 1) * sd / np.sqrt(k) <= 0.02 < t975(k - 2) * sd / np.sqrt(k - 1)
    # sd = 0.01 sqrt(3) / 4.303 = 0.00403: two seeds give 12.706 sd / sqrt(2) = 0.036 > 0.02, three 0.0100
    assert seeds_needed(0.01, 3, 0.02) == 3
    assert seeds_needed(float("nan"), 3, 0.02) == 10_000 and seeds_needed(0.1, 1, 0.02) == 10_000


# ---------------------------------------------------------------------------------------------------------
# theory lab


def test_c1():
    good = lab.c1_table([2, 4])
    assert outcome(lab.c1_verdicts(good), "C1") == SUP
    assert outcome(lab.c1_verdicts(good.assign(moment_3=0.1)), "C1") == NOT
    assert outcome(lab.c1_verdicts(good.assign(max_abs_A=good.bound + 0.5)), "C1") == NOT
    asym = lab.c1_verdicts(good.assign(symmetry_gap=0.1))[0]
    assert (asym.verdict, asym.reason) == (NOT, "failed_symmetry")
    assert lab.c1_verdicts(good)[0].reason == "exact_match"


def c2_c5_tables(power=2.0, first_z=0.0, uniform_sign=-1.0, rel_gap=0.0):
    """E[dH] = c * eta^power per policy, the Monte Carlo off the closed form by `rel_gap`, the first-order term
    `first_z` standard errors from 0; uniform and mild-skew policies of sign `uniform_sign`, the dominant one > 0."""
    etas = [0.01, 0.02, 0.05, 0.1]
    coefs = {lab.UNIFORM: uniform_sign * 0.4, lab.MILD_SKEW: uniform_sign * 0.3, lab.DOMINANT: 0.05}
    step = pd.DataFrame(
        [
            {
                "policy": p,
                "eta": e,
                "mc_mean": c * e**power * (1 + rel_gap),
                "closed_form": c * e**2,
                "first_order_mean": first_z * 1e-4,
                "first_order_se": 1e-4,
            }
            for p, c in coefs.items()
            for e in etas
        ]
    )
    qs = np.linspace(0.1, 0.9, 9)
    skew = pd.DataFrame({"q": qs, "closed_form": qs - 0.6, "mc_mean": qs - 0.6})
    grpo = pd.DataFrame([{"init": "flat", "eta": e, "mean_dH": -(e**2)} for e in etas])
    return step, skew, grpo


@pytest.mark.parametrize(
    "kw, c2, c5",
    [
        ({}, SUP, SUP),
        ({"power": 1.0}, NOT, INC),  # first-order scaling (the closed form then misses it too)
        ({"first_z": 6.0}, INC, SUP),  # slope 2 but a first-order mean away from 0
        ({"uniform_sign": 1.0}, SUP, NOT),  # a uniform policy gaining entropy
        ({"rel_gap": 0.2}, SUP, INC),  # signs right, closed form off by 20%
    ],
)
def test_c2_c5(kw, c2, c5):
    v = lab.c2_c5_verdicts(*c2_c5_tables(**kw))
    assert (outcome(v, "C2"), outcome(v, "C5")) == (c2, c5)


@pytest.mark.parametrize("ratios, expected", [([20, 40, 80], SUP), ([0.5, 3, 8], NOT), ([3, 4, 8], INC)])
def test_c3(ratios, expected):
    t = pd.DataFrame({"vary": "eps", "value": [0.1, 0.2, 0.3], "ratio": ratios, "p_plus": [1e-3, 5e-3, 1e-2]})
    assert outcome(lab.c3_verdicts(t), "C3 (small per step)") == expected


def test_c3_without_clipping_is_not_testable():
    t = pd.DataFrame({"vary": "eps", "value": [0.2], "ratio": [np.inf], "p_plus": [0.0]})
    v = row(lab.c3_verdicts(t), "C3 (small per step)")
    assert (v.verdict, v.reason) == (NTH, "check_failed")


def dynamics(final_H: dict, final_ci: dict, peak: dict, peak_ci: float = 0.01, inits=("flat", "skewed"), skewed=None):
    """A C6 / C7 table: entropy 1.0 at iteration 0 and final_H[rule] (+- final_ci[rule]) at iteration 2 (in the
    "skewed" init `skewed` when given, so the two inits can differ); max ratio peak[rule] (+- peak_ci) at
    iteration 1."""
    rows = []
    for init, rule in itertools.product(inits, lab.C6_RULES):
        H = skewed if (skewed is not None and init == "skewed") else final_H
        rows += [
            {"init": init, "rule": rule, "iteration": 0, "metric": "entropy", "mean": 1.0, "ci": 0.0},
            {
                "init": init,
                "rule": rule,
                "iteration": 2,
                "metric": "entropy",
                "mean": H[rule],
                "ci": final_ci[rule],
            },
            {"init": init, "rule": rule, "iteration": 0, "metric": "ratio_max", "mean": np.nan, "ci": np.nan},
            {"init": init, "rule": rule, "iteration": 1, "metric": "ratio_max", "mean": peak[rule], "ci": peak_ci},
            {"init": init, "rule": rule, "iteration": 2, "metric": "ratio_max", "mean": 1.0, "ci": peak_ci},
        ]
    return pd.DataFrame(rows)


H_PARK = {"none": 0.9, "symmetric": 0.7, "upper_only": 0.6, "lower_only": 1.1}
CI_EQUAL = dict.fromkeys(lab.C6_RULES, 0.02)
PEAK_STABLE = {"none": 3.0, "symmetric": 1.3, "upper_only": 1.3, "lower_only": 1.3}


@pytest.mark.parametrize(
    "final_H, skewed, c6, absolute",
    [
        (H_PARK, None, SUP, SUP),  # lower than no clip, and below the initial 1.0
        ({**H_PARK, "symmetric": 1.0}, None, NOT, INC),  # clipping raised entropy relative to none; back to 1.0
        ({**H_PARK, "symmetric": 0.9}, None, INC, SUP),  # no difference from none, but both fell
        # below no clipping in both inits, yet above the start in the skewed one (none rose further there)
        (H_PARK, {**H_PARK, "none": 1.4, "symmetric": 1.2}, SUP, NOT),
        ({**H_PARK, "none": 1.4, "symmetric": 1.2}, None, SUP, NOT),
    ],
)
def test_c6_relative_and_absolute(final_H, skewed, c6, absolute):
    v = lab.c6_c7_verdicts(dynamics(final_H, CI_EQUAL, PEAK_STABLE, skewed=skewed))
    assert (outcome(v, "C6"), outcome(v, "C6 (absolute)")) == (c6, absolute)
    reasons = {SUP: "falls_from_every_init", NOT: "rises_from_some_init", INC: "undecided"}
    assert row(v, "C6 (absolute)").reason == reasons[absolute]


@pytest.mark.parametrize(
    "final_ci, peak, c7",
    [
        ({**CI_EQUAL, "symmetric": 0.01}, PEAK_STABLE, SUP),  # lower peak ratio, smaller spread
        (CI_EQUAL, {**PEAK_STABLE, "symmetric": 4.0}, NOT),  # clipped peak ratio higher
        ({**CI_EQUAL, "symmetric": 0.05}, PEAK_STABLE, NOT),  # clipped spread 2.5x larger
        (CI_EQUAL, {**PEAK_STABLE, "symmetric": 2.995}, INC),  # peaks within each other's intervals
        ({**CI_EQUAL, "symmetric": 0.025}, PEAK_STABLE, INC),  # lower peak, spread 1.25x: neither
    ],
)
def test_c7_tabular_can_come_out_every_way(final_ci, peak, c7):
    assert outcome(lab.c6_c7_verdicts(dynamics(H_PARK, final_ci, peak)), "C7") == c7


def bandit(em_gain_correct, em_gain_wrong, rc_gain_correct, rc_gain_wrong, ci=0.01):
    rows = []
    for mode_correct, q in itertools.product((True, False), (0.2, 0.5, 0.8)):
        acc0 = q if mode_correct else (1 - q) / 9
        em = em_gain_correct if mode_correct else em_gain_wrong
        rc = (rc_gain_correct if mode_correct else rc_gain_wrong) * acc0 * 4  # gain growing with accuracy
        for arm, gain in ((lab.BANDIT_ENTROPY_MIN, em), (lab.BANDIT_RANDOM_CLIP, rc)):
            rows.append(
                {
                    "mode_correct": mode_correct,
                    "q": q,
                    "arm": arm.label,
                    "initial_acc": acc0,
                    "gain": gain,
                    "gain_ci": ci,
                }
            )
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    "args, c8, c11",
    [
        ((0.2, -0.05, 0.1, 0.0), SUP, SUP),
        ((0.2, 0.05, -0.1, 0.0), NOT, NOT),  # entropy min. helps with a wrong mode; gain falls with accuracy
        ((0.2, 0.0, 0.0, 0.0), INC, INC),  # no loss with a wrong mode; no gain at all
    ],
)
def test_c8_c11_bandit(args, c8, c11):
    v = lab.c8_c11_verdicts(bandit(*args))
    assert (outcome(v, "C8"), outcome(v, "C11")) == (c8, c11)


def c10_tables(enum_gap=0.0, mc_z=0.0, mirror=0.0, adv_z=0.0, var_rel=0.0, p_gap=0.0):
    t = pd.DataFrame(
        {
            "E_closed": [1.0, 2.0],
            "E_enum": [1.0 + enum_gap, 2.0],
            "Var_closed": [1.0, 1.0],
            "Var_enum": [1.0, 1.0],
            "E_mc": [1.0 + mc_z * 0.01, 2.0],
            "E_mc_se": [0.01, 0.01],
            "Var_mc": [1.0 + var_rel, 1.0],
        }
    )
    tp = pd.DataFrame(
        {"p": [0.3, 0.7], "E_closed": [1.0 + p_gap, 1.0], "E_enum": [1.0, 1.0], "E_enum_mirror": [1.0 + mirror, 1.0]}
    )
    adv = pd.DataFrame({"p": [0.5], "mean": [adv_z * 0.01], "se": [0.01]})
    return t, tp, adv


@pytest.mark.parametrize(
    "kw, c10, c10_reason, predicts, predicts_reason",
    [
        ({}, SUP, "moments_match", NOT, "moments_symmetric"),
        ({"enum_gap": 1e-3}, NOT, "closed_form_differs_from_enumeration", NOT, "moments_symmetric"),
        ({"mc_z": 6.0}, INC, "off_in_monte_carlo_mean", NOT, "moments_symmetric"),
        ({"var_rel": 0.05}, INC, "off_in_monte_carlo_variance", NOT, "moments_symmetric"),
        ({"p_gap": 1e-6}, INC, "off_in_mixture_over_p", NOT, "moments_symmetric"),
        ({"adv_z": 6.0}, SUP, "moments_match", SUP, "moments_favour_a_side"),
        ({"mirror": 1e-3}, SUP, "moments_match", SUP, "moments_favour_a_side"),
        ({"mirror": 1e-8}, SUP, "moments_match", INC, "undecided"),
    ],
)
def test_c10_and_what_its_moments_predict(kw, c10, c10_reason, predicts, predicts_reason):
    v = lab.c10_verdicts(*c10_tables(**kw))
    assert (outcome(v, "C10"), row(v, "C10").reason) == (c10, c10_reason)
    p = row(v, "C10 (predicts C11)")
    assert (p.verdict, p.reason) == (predicts, predicts_reason)
    assert p.polarity == 0 and p.stance() == 0  # it tests the explanation, not whether stronger models gain more
    assert "C11" not in {x.claim for x in v}


# ---------------------------------------------------------------------------------------------------------
# tiny LM


def runs(changes: dict, metric: str, initial: float = 0.5, group: str = "") -> pd.DataFrame:
    """Tidy run rows: per arm a list of per-seed changes of `metric` between step 0 and step 100."""
    rows = []
    for arm, deltas in changes.items():
        for seed, d in enumerate(deltas):
            for step, v in ((0, initial), (100, initial + d)):
                rows.append(
                    {
                        "run_id": f"{group}{arm}-{seed}",
                        "group": group,
                        "arm": arm,
                        "seed": seed,
                        "status": "complete",
                        "step": step,
                        "metric": metric,
                        "value": v,
                    }
                )
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    "est, kw, expected",
    [
        ((0.10, 0.05, 3), {}, SUP),
        ((-0.10, 0.05, 3), {}, NOT),
        ((0.00, 0.005, 3), {}, EXC),
        ((0.00, 0.10, 3), {}, INC),
        ((0.10, 0.05, 3), {"checks": [("clipping binds", False), ("entropy drops", True)]}, NTH),
        ((0.10, 0.05, 3), {"premise": ("no gain to explain", False)}, PRE),
        ((-0.10, 0.05, 3), {"expect": -1, "checks": [("clipping binds", True)]}, SUP),
    ],
)
def test_margin_verdict_reaches_every_outcome(est, kw, expected):
    v = lm.margin_verdict("Cx", est, 0.02, "the statistic", **kw)
    assert v.verdict == expected and v.level == "tiny LM"
    assert v.statistic.startswith("the statistic (n = 3, margin 0.02)")
    if expected == NTH:  # the failed check is named, the passed one is not claimed
        assert "clipping binds" in v.statistic and "checks passed" not in v.statistic
    if kw.get("checks") and expected != NTH:
        assert "checks passed: clipping binds" in v.statistic


UP, DOWN, FLAT = [0.10, 0.12, 0.14], [-0.10, -0.12, -0.14], [-0.1, 0.0, 0.1]
TINY = [0.0005, 0.0, -0.0005]
M = dict(acc_margin=0.02, entropy_margin=0.004, clip_floor=0.001)


def clip_rows(arm: str, share: float) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"run_id": f"{arm}-{s}", "group": "", "arm": arm, "seed": s, "status": "complete", "step": t}
            | {"metric": "clip_ratio/region_mean", "value": share}
            for s in range(3)
            for t in (1, 2)
        ]
    )


def e1_data(acc_noclip, H_clip, H_noclip, ratio_clip, ratio_noclip, acc_clip, clip_share=0.004):
    R, N = lm.RANDOM_CLIP.label, lm.RANDOM_NO_CLIP.label
    df = pd.concat(
        [
            runs({R: acc_clip, N: acc_noclip}, lm.PRIMARY),
            runs({R: H_clip, N: H_noclip}, "eval/entropy"),
            runs({R: ratio_clip, N: ratio_noclip}, "ratio/max", initial=1.0),
            clip_rows(R, clip_share),
        ],
        ignore_index=True,
    )
    return df, lm.change_table(df, [lm.PRIMARY, "eval/entropy"])


@pytest.mark.parametrize(
    "data, expected",
    [
        ((UP, [-0.2, -0.21, -0.22], [0.0] * 3, [0.1, 0.1, 0.1], [2.0, 2.1, 2.2], UP), (SUP, SUP, SUP, EXC)),
        ((DOWN, [0.2, 0.21, 0.22], [0.0] * 3, [2.0, 2.1, 2.2], [0.1, 0.1, 0.1], UP), (NOT, NOT, NOT, SUP)),
        ((FLAT, FLAT, FLAT[::-1], [0.1, 0.1, 0.1], [2.0, 2.1, 2.2], [0.3, 0.32, 0.34]), (INC, INC, INC, SUP)),
        ((TINY, TINY, [0.0] * 3, [0.1, 0.1, 0.1], [2.0, 2.1, 2.2], UP), (EXC, EXC, EXC, SUP)),
        ((UP, FLAT, [0.0] * 3, [0.1, 0.1, 0.1], [2.0, 2.1, 2.2], DOWN), (SUP, INC, INC, NOT)),
        ((UP, FLAT, [0.0] * 3, [0.1, 0.1, 0.1], [2.0, 2.1, 2.2], FLAT[::-1]), (SUP, INC, INC, INC)),
        # clipping lowers entropy relative to no clip (which rises more) while entropy itself rises: the
        # relative and the absolute C6 rows part, as on the book's tiny LM
        ((UP, [0.1, 0.11, 0.12], [0.3, 0.31, 0.32], [0.1] * 3, [2.0, 2.1, 2.2], UP), (SUP, SUP, NOT, EXC)),
        ((UP, [-0.2, -0.21, -0.22], [0.0] * 3, [0.1, 0.1, 0.1], [2.0, 2.1, 2.2], UP, 0.0001), (SUP, NTH, NTH, NTH)),
    ],
)
def test_e1(data, expected):
    v = lm.e1_verdicts(*e1_data(*data), **M)
    got = tuple(outcome(v, c) for c in ("C4", "C6", "C6 (absolute)", "C7 (chosen step size)"))
    assert got == expected
    assert row(v, "C6 (absolute)").statement == "random-reward GRPO with clipping lowers held-out entropy"
    assert "C7 (stress regime)" not in {x.claim for x in v}


@pytest.mark.parametrize(
    "acc_clip, acc_noclip, share, expected",
    [(UP, DOWN, 0.004, SUP), (DOWN, UP, 0.004, NOT), (UP, UP, 0.004, EXC), (FLAT, FLAT[::-1], 0.004, INC)]
    + [(UP, DOWN, 0.0, NTH)],
)
def test_e1_stress_regime_is_its_own_c7_row(acc_clip, acc_noclip, share, expected):
    normal = e1_data(UP, FLAT, FLAT, [0.1] * 3, [2.0] * 3, UP)
    stress, _ = e1_data(acc_noclip, FLAT, FLAT, [0.1] * 3, [5.0, 6.0, 7.0], acc_clip, share)
    v = lm.e1_verdicts(*normal, **M, stress=stress)
    assert outcome(v, "C7 (stress regime)") == expected
    assert "peak importance ratio" in next(x for x in v if x.claim == "C7 (stress regime)").statistic


def test_collapse_step_finds_the_first_evaluation_below_half():
    rows = [
        {"run_id": r, "metric": lm.PRIMARY, "step": t, "value": v}
        for r, vals in (("a", [0.6, 0.5, 0.2, 0.1]), ("b", [0.6, 0.6, 0.5, 0.4]))
        for t, v in zip((0, 20, 40, 60), vals)
    ]
    col = lm.collapse_step(pd.DataFrame(rows))
    assert col["a"] == 40 and np.isnan(col["b"])


def table(rows: list[tuple]) -> pd.DataFrame:
    """A change table from (group, arm, metric, change, ci) rows, over 3 seeds."""
    return pd.DataFrame(rows, columns=["group", "arm", "metric", "change", "ci"]).assign(n=3)


E2_CASES = {  # (gain on the reliable-mode base, its ci, gain on the shortcut-mode base, entropy change[, its ci])
    "supported": ((0.1, 0.05, -0.1, -0.01), SUP, "gain_only_where_mode_correct"),
    # a gain where the mode is correct and none of interest where it is wrong (excluded, not reversed)
    "supported, no change where wrong": ((0.1, 0.05, 0.0, -0.01, 0.005), SUP, "gain_only_where_mode_correct"),
    "accuracy falls where correct": ((-0.1, 0.05, -0.1, -0.01), NOT, "no_gain_where_mode_correct"),
    "gain where the mode is wrong": ((0.1, 0.05, 0.1, -0.01), NOT, "gain_where_mode_wrong"),
    "undecided": ((0.0, 0.05, -0.1, -0.01), INC, "undecided"),
    "no gain where correct": ((0.001, 0.005, -0.1, -0.01), NOT, "no_gain_where_mode_correct"),
    "entropy not lowered": ((0.1, 0.05, -0.1, 0.0), NTH, "check_failed"),
}


def e2_table(coef: tuple, reward: tuple) -> pd.DataFrame:
    rows = []
    for a, (reliable, ci, shortcut, entropy, *short_ci) in ((lm.ENTROPY_COEF, coef), (lm.ENTROPY_REWARD, reward)):
        for g, acc, acc_ci in (("default", reliable, ci), ("shortcut", shortcut, (*short_ci, 0.05)[0])):
            rows += [(g, a.label, lm.PRIMARY, acc, acc_ci), (g, a.label, "eval/entropy", entropy, 0.005)]
    return table(rows)


@pytest.mark.parametrize("coef, reward", list(itertools.permutations(E2_CASES, 2)))
def test_e2_each_arm_reads_its_own_rows(coef, reward):
    """The two arms get different data, so reading one arm's (or one base's) rows for the other fails."""
    (c_data, c_v, c_r), (r_data, r_v, r_r) = E2_CASES[coef], E2_CASES[reward]
    v = lm.e2_verdicts(e2_table(c_data, r_data), 0.02)
    got = {x.claim: (x.verdict, x.reason) for x in v}
    assert got == {f"C8 ({lm.ENTROPY_COEF.label})": (c_v, c_r), f"C8 ({lm.ENTROPY_REWARD.label})": (r_v, r_r)}


def test_e2_swapping_the_bases_changes_the_verdict():
    good, bad = (0.1, 0.05, -0.1, -0.01), (-0.1, 0.05, 0.1, -0.01)
    assert outcome(lm.e2_verdicts(e2_table(good, good), 0.02), "C8 (entropy coef)") == SUP
    assert outcome(lm.e2_verdicts(e2_table(bad, bad), 0.02), "C8 (entropy coef)") == NOT


E3_SHARES = {"up": (0.2, 0.05, SUP), "down": (-0.2, 0.05, NOT), "unclear": (0.0, 0.1, INC), "flat": (0.0, 0.01, EXC)}


@pytest.mark.parametrize("default, shortcut", list(itertools.permutations(E3_SHARES, 2)))
def test_e3_reads_each_base_s_own_preferred_style(default, shortcut):
    """Each base's verdict reads the share of ITS preferred style (reliable on default, shortcut on shortcut);
    the other style's share moves the opposite way, so reading the wrong one fails."""
    rows = []
    for g, case in (("default", default), ("shortcut", shortcut)):
        share, ci, _ = E3_SHARES[case]
        own, other = ("eval/share_reliable", "eval/share_shortcut")[:: 1 if g == "default" else -1]
        for a in (lm.RANDOM_CLIP, lm.RANDOM_NO_CLIP):
            rows += [(g, a.label, own, share, ci), (g, a.label, other, -share - 0.3, 0.01)]
            rows += [(g, a.label, lm.PRIMARY, 0.0, 0.01)]
    v = lm.e3_verdicts(table(rows), 0.05)
    for g, case in (("default", default), ("shortcut", shortcut)):
        for a in (lm.RANDOM_CLIP, lm.RANDOM_NO_CLIP):
            assert outcome(v, f"E3 prior amplification ({g} base, {a.label})") == E3_SHARES[case][2]


@pytest.mark.parametrize(
    "share, acc, rel, short, words",
    [
        # the book's shortcut-base case: share flat, accuracy down, execution within the reliable style down
        ((0.009, 0.1), (-0.045, 0.04), (-0.1, 0.05), (0.0, 0.02), "came through execution, not through the choice"),
        ((0.2, 0.05), (0.1, 0.05), (0.0, 0.1), (0.0, 0.1), "the choice of style moved with it"),
        ((0.0, 0.1), (0.1, 0.05), (0.0, 0.1), (0.0, 0.1), "neither level of the decomposition moved clearly"),
        ((0.2, 0.05), (0.0, 0.1), (0.0, 0.1), (0.0, 0.1), "exact accuracy did not move clearly"),
    ],
)
def test_e3_reading_says_what_moved(share, acc, rel, short, words):
    text = lm.share_reading((*share, 3), (*acc, 3), {"reliable": (*rel, 3), "shortcut": (*short, 3)})
    assert words in text
    if share[0] - share[1] > 0:
        assert text.startswith("the preferred style's share rose")
    if abs(share[0]) < share[1]:
        assert text.startswith("the preferred style's share did not move clearly")


def step0(clean: float, contaminated: float) -> pd.DataFrame:
    return pd.concat(
        [
            runs({lm.RANDOM_CLIP.label: [0.0] * 3}, "eval/clean/exact_acc", initial=clean),
            runs({lm.RANDOM_CLIP.label: [0.0] * 3}, "eval/contaminated/exact_acc", initial=contaminated),
        ],
        ignore_index=True,
    )


@pytest.mark.parametrize(
    "clean, contaminated, ci, easier, expected",
    [
        (0.1, 0.1, 0.05, True, SUP),
        (-0.1, 0.2, 0.05, True, NOT),
        (0.0, 0.2, 0.005, True, EXC),
        (0.05, 0.05, 0.1, True, INC),
        (-0.1, -0.1, 0.05, True, PRE),
        (0.1, 0.1, 0.05, False, NTH),  # no memorisation gain over the clean base: C9 cannot be asked
    ],
)
def test_e4(clean, contaminated, ci, easier, expected):
    R = lm.RANDOM_CLIP.label
    t = table([("", R, "eval/clean/exact_acc", clean, ci), ("", R, "eval/contaminated/exact_acc", contaminated, ci)])
    df = step0(0.6, 0.5)  # the contaminated items are harder: within the base they score lower
    clean_base = {"contaminated": 0.05 if easier else 0.49, "clean": 0.6}  # the clean base on the same items
    assert outcome(lm.e4_verdicts(df, t, 0.02, clean_base), "C9") == expected


@pytest.mark.parametrize(
    "slope, offset, noise, span, expected",
    [
        (0.5, 0.0, 0.01, (0.1, 0.9), SUP),
        (-0.5, 0.45, 0.01, (0.1, 0.9), NOT),
        (0.0, 0.1, 0.2, (0.1, 0.9), INC),
        (0.5, -0.6, 0.01, (0.1, 0.9), PRE),
        (0.5, 0.0, 0.01, (0.4, 0.6), NTH),  # the series does not span weak to strong bases
    ],
)
def test_e5(slope, offset, noise, span, expected):
    rng = np.random.default_rng(0)
    rows, greedy = [], []
    xs = [0.2, 0.4, 0.6, 0.8, 0.9]
    for x, g in zip(xs, np.linspace(*span, len(xs))):
        for _ in range(2):  # two seeds per base
            change = slope * x + offset + rng.normal(0, noise)
            rows.append({"group": f"base {x:.1f}", "arm": lm.RANDOM_CLIP.label, "initial": x, "change": change})
            greedy.append({"group": f"base {x:.1f}", "arm": lm.RANDOM_CLIP.label, "initial": g})
    v = lm.e5_verdicts(pd.DataFrame(rows), 0.02, pd.DataFrame(greedy))
    assert outcome(v, "C11") == expected
    assert "5 bases as units" in v[0].statistic
    reasons = {SUP: "slope_positive", NOT: "slope_negative", INC: "undecided", PRE: "premise_false"}
    assert v[0].reason == reasons.get(expected, "check_failed")
    assert ("no base gains by the margin 0.02" in v[0].statistic) == (expected == PRE)


def test_e5_interval_treats_the_base_as_the_unit():
    """Many seeds of few bases must not buy a narrow interval: with three bases whose means lie on no line, the
    two-stage interval stays wide however many seeds each base has."""
    rng = np.random.default_rng(1)
    rows = [
        {"group": b, "arm": lm.RANDOM_CLIP.label, "initial": x + rng.normal(0, 0.01), "change": y + rng.normal(0, 0.01)}
        for b, x, y in (("weak", 0.2, 0.0), ("mid", 0.5, 0.2), ("strong", 0.8, -0.1))
        for _ in range(40)
    ]
    assert outcome(lm.e5_verdicts(pd.DataFrame(rows), 0.02), "C11") == INC


@pytest.mark.parametrize(
    "diff, spread, share, expected",
    [(0.1, 0.01, 0.004, SUP), (-0.1, 0.01, 0.004, NOT), (0.0, 0.01, 0.004, INC), (0.0, 0.0005, 0.004, EXC)]
    + [(0.1, 0.01, 0.0, NTH)],
)
def test_e6(diff, spread, share, expected):
    base = [0.01, 0.02, 0.03]
    df = runs(
        {lm.EPS_02.label: base, lm.CLIP_HIGHER.label: [b + diff + spread * (i - 1) for i, b in enumerate(base)]},
        "eval/entropy",
    )
    df = pd.concat([df, clip_rows(lm.EPS_02.label, share), clip_rows(lm.CLIP_HIGHER.label, share)], ignore_index=True)
    assert outcome(lm.e6_verdicts(df, 0.004, 0.001), "C12") == expected


def e7_runs(gt: list, rnd: list) -> pd.DataFrame:
    return runs({lm.GROUND_TRUTH.label: gt, lm.RANDOM.label: rnd}, lm.PRIMARY)


@pytest.mark.parametrize(
    "gt, rnd, e0, e7, reason",
    [
        ([0.3, 0.32, 0.34], [0.1, 0.12, 0.14], SUP, SUP, "ordering_holds"),
        ([0.3, 0.32, 0.34], [-0.1, -0.12, -0.14], NOT, NOT, "random_lowers"),
        ([0.3, 0.32, 0.34], [0.0, 0.001, -0.001], EXC, NOT, "random_gain_excluded"),
        ([0.3, 0.32, 0.34], [-0.1, 0.0, 0.1], INC, INC, "random_undecided"),
        # random helps MORE than ground truth: E7 fails, and the front page must not say accuracy fell
        ([0.1, 0.12, 0.14], [0.3, 0.32, 0.34], SUP, NOT, "random_not_below_ground_truth"),
        ([0.2, 0.1, 0.3], [0.2, 0.25, 0.22], SUP, INC, "ordering_undecided"),
    ],
)
def test_e7_reaches_every_cause(gt, rnd, e0, e7, reason):
    df = e7_runs(gt, rnd)
    v = lm.e7_verdicts(lm.change_table(df, [lm.PRIMARY]), 0.02, df)
    claim = "E7 Shao et al.'s ordering (spurious rewards help, less than ground truth)"
    assert (outcome(v, "E0"), outcome(v, claim), row(v, claim).reason) == (e0, e7, reason)
    assert lm.E7_REASONS[reason] in row(v, claim).statistic


def test_e7_pairs_the_ordering_by_seed():
    """Ground truth beats random by 0.05 on every seed while both vary across seeds (their intervals overlap):
    paired, the ordering is decided; unpaired it is not."""
    gt = [0.30, 0.34, 0.38]
    df = e7_runs(gt, [g - 0.05 for g in gt])
    (_, e7) = lm.e7_verdicts(lm.change_table(df, [lm.PRIMARY]), 0.02, df)
    assert e7.reason == "ordering_holds"
    (_, unpaired) = lm.e7_verdicts(lm.change_table(df, [lm.PRIMARY]), 0.02)
    assert "difference of means" in unpaired.statistic and unpaired.reason != "ordering_holds"


@pytest.mark.parametrize(
    "final_ci, peak, c7",
    [
        ({**CI_EQUAL, "symmetric": 0.01}, PEAK_STABLE, SUP),
        (CI_EQUAL, {**PEAK_STABLE, "symmetric": 4.0}, NOT),
        (CI_EQUAL, {**PEAK_STABLE, "symmetric": 2.995}, INC),
    ],
)
def test_c7_verdict_directly(final_ci, peak, c7):
    assert lab.c7_verdict(dynamics(H_PARK, final_ci, peak)).verdict == c7


# ---------------------------------------------------------------------------------------------------------
# decide_effect at its edges (each case kills a planted bug that the cases above let through)


@pytest.mark.parametrize(
    "mean, half, expected",
    [
        (-0.125, 0.125, INC),  # [-0.25, 0]: touches -margin and zero, so neither inside nor below zero
        (0.125, 0.125, INC),  # [0, 0.25]: touches zero and +margin
        (0.25, 0.125, SUP),
        (-0.25, 0.125, NOT),
    ],
)
def test_decide_effect_boundaries_are_strict(mean, half, expected):
    """Binary-exact numbers (margin 0.25), so the interval ends sit exactly on zero and on the margin."""
    assert decide_effect(mean, half, 3, 0.25).verdict == expected


def test_an_interval_with_one_infinite_end_is_no_interval():
    assert decide_effect(1e308, 1e308, 3, 0.02).reason == "no_interval"  # mean + half overflows, mean - half is 0


@pytest.mark.parametrize(
    "mean, half, margin, nonzero",
    [
        (0.015, 0.004, 0.02, True),
        (-0.015, 0.004, 0.02, True),
        (0.0, 0.01, 0.02, False),
        (0.125, 0.125, 0.5, False),  # [0, 0.25]: touches zero, does not exclude it (binary-exact ends)
        (-0.125, 0.125, 0.5, False),
    ],
)
def test_effect_excluded_says_when_the_interval_also_excludes_zero(mean, half, margin, nonzero):
    d = decide_effect(mean, half, 3, margin)
    assert d.verdict == EXC and ("nonzero but smaller than the margin" in d.note) == nonzero


def test_an_unreachable_decision_says_more_than_the_cap():
    note = decide_effect(0.0, 10.0, 3, 0.02).note
    assert note.count("more than 10,000 seeds") == 2 and "about" not in note


def test_save_and_load_verdicts_and_tables_into_new_directories(tmp_path):
    from rlvr_lib.verdicts import load_verdicts, save_table, save_verdicts

    v = [Verdict("C1", SUP, "s", "exact", statement="st", polarity=0, reason="r")]
    path = save_verdicts(v, tmp_path / "a" / "b", "nb")
    assert path == tmp_path / "a" / "b" / "verdicts" / "nb.json"
    save_verdicts(v, tmp_path / "a" / "b", "nb")  # a second notebook run writes over the first
    (back,) = load_verdicts(tmp_path / "a" / "b")
    assert (back.claim, back.source, back.statement, back.polarity, back.reason) == ("C1", "nb", "st", 0, "r")
    t = pd.DataFrame({"x": [1, 2]})
    assert save_table(t, tmp_path / "c" / "d", "tab") is t
    save_table(t, tmp_path / "c" / "d", "tab")
    assert pd.read_csv(tmp_path / "c" / "d" / "tab.csv").equals(t)


def test_e1_counts_the_collapsing_runs_of_each_arm():
    """One clipped run falls below half its initial exact accuracy, no unclipped run does."""
    v = lm.e1_verdicts(*e1_data([0.0] * 3, FLAT, FLAT, [0.1] * 3, [2.0] * 3, [-0.3, 0.0, 0.0]), **M)
    assert "clip 1/3, no clip 0/3" in row(v, "C7 (chosen step size)").statistic


def test_e1_counts_the_runs_of_each_arm_when_the_arms_differ_in_size():
    """Three clipped runs (one collapses) beside two unclipped ones (one collapses): each arm's own count."""
    data = e1_data([-0.3, 0.0], FLAT, FLAT[:2], [0.1] * 3, [2.0] * 2, [-0.3, 0.0, 0.0])
    assert "clip 1/3, no clip 1/2" in row(lm.e1_verdicts(*data, **M), "C7 (chosen step size)").statistic


@pytest.mark.parametrize(
    "clean, contaminated, expected",
    [
        ((0.0, 0.05), (-0.1, 0.01), INC),  # only the clean interval reaches a gain of interest: C9 is asked
        ((-0.1, 0.01), (0.0, 0.05), NOT),  # only the contaminated one does: asked, and the clean items fell
        ((0.01, 0.01), (-0.1, 0.01), INC),  # an interval that ends exactly at the margin does not exclude a gain
        ((0.0, 0.015), (-0.1, 0.01), PRE),  # both end below the margin: no gain for contamination to explain
    ],
)
def test_e4_premise_reads_the_upper_end_of_each_item_set(clean, contaminated, expected):
    R = lm.RANDOM_CLIP.label
    t = table([("", R, "eval/clean/exact_acc", *clean), ("", R, "eval/contaminated/exact_acc", *contaminated)])
    clean_base = {"contaminated": 0.05, "clean": 0.6}
    assert outcome(lm.e4_verdicts(step0(0.6, 0.5), t, 0.02, clean_base), "C9") == expected


def e5_rows(gains: list[float], arm: str = lm.RANDOM_CLIP.label) -> list[dict]:
    xs = [0.2, 0.4, 0.6, 0.8]
    return [
        {"group": f"base {x:.1f}", "arm": arm, "initial": x, "change": y} for x, y in zip(xs, gains) for _ in range(2)
    ]


def test_e5_reads_only_finite_random_clip_runs():
    """Runs of another arm (opposite slope) and runs with a missing value must not enter the slope."""
    good = e5_rows([0.0, 0.1, 0.2, 0.3])
    noise = e5_rows([0.9, 0.6, 0.3, 0.0], arm=lm.RANDOM_NO_CLIP.label)
    missing = [
        {"group": "base 0.2", "arm": lm.RANDOM_CLIP.label, "initial": float("nan"), "change": 5.0},
        {"group": "base 0.8", "arm": lm.RANDOM_CLIP.label, "initial": 0.8, "change": float("nan")},
    ]
    v = lm.e5_verdicts(pd.DataFrame(good + noise + missing), 0.02)
    assert outcome(v, "C11") == SUP and "+0.500" in v[0].statistic


@pytest.mark.parametrize(
    "gains, expected_end", [([0.0, 0.0, 0.0, 1.0], "[+0.000, "), ([1.0, 0.0, 0.0, 0.0], ", +0.000]")]
)
def test_e5_an_interval_ending_at_zero_does_not_decide(gains, expected_end):
    """Three flat bases and one that gains by 1 (the strongest: slopes >= 0; the weakest: slopes <= 0): every
    bootstrap draw without it has slope exactly 0 (about 32% of draws), so one end of the interval is exactly
    zero, which excludes nothing."""
    v = lm.e5_verdicts(pd.DataFrame(e5_rows(gains)), 0.02)
    assert expected_end in v[0].statistic
    assert outcome(v, "C11") == INC


def test_e7_statistic_names_its_counts_and_orders_the_arms():
    gt, rnd = [0.30, 0.34, 0.38], [0.25, 0.29, 0.33]
    df = e7_runs(gt, rnd)
    e0, e7 = lm.e7_verdicts(lm.change_table(df, [lm.PRIMARY]), 0.02, df)
    assert "(n = 3, margin 0.02)" in e0.statistic
    first, second = (lm.GROUND_TRUTH.label, lm.RANDOM.label)
    assert f"exact-accuracy change by reward: {first} +0.340, {second} +0.290;" in e7.statistic
    df = e7_runs(rnd, gt)  # the random reward now gains more: it is listed first
    _, e7 = lm.e7_verdicts(lm.change_table(df, [lm.PRIMARY]), 0.02, df)
    assert f"exact-accuracy change by reward: {second} +0.340, {first} +0.290;" in e7.statistic
    _, unpaired = lm.e7_verdicts(lm.change_table(df, [lm.PRIMARY]), 0.02)
    assert "ground truth minus random -0.050 (difference of means)" in unpaired.statistic


def test_e5_premise_reads_each_bases_upper_end_and_the_margin_itself():
    """The premise (some base gains) holds when a base's 95% interval reaches the margin, although its mean does
    not; with one seed (no interval) the mean itself, which counts when it equals the margin."""
    rows = [{"group": f"base {x}", "arm": lm.RANDOM_CLIP.label, "initial": x, "change": -0.2} for x in (0.2, 0.4)]
    below = [{"group": "base 0.8", "arm": lm.RANDOM_CLIP.label, "initial": 0.8, "change": c} for c in (-0.01, 0.03)]
    assert outcome(lm.e5_verdicts(pd.DataFrame(rows + below), 0.02), "C11") != "premise absent"
    one = [{"group": "base 0.8", "arm": lm.RANDOM_CLIP.label, "initial": 0.8, "change": 0.02}]
    assert outcome(lm.e5_verdicts(pd.DataFrame(rows + one), 0.02), "C11") != "premise absent"
    nothing = [{"group": "base 0.8", "arm": lm.RANDOM_CLIP.label, "initial": 0.8, "change": 0.019}]
    assert outcome(lm.e5_verdicts(pd.DataFrame(rows + nothing), 0.02), "C11") == "premise absent"


def test_e5_lists_the_bases_in_the_order_of_the_series():
    rows = [
        {"group": g, "arm": lm.RANDOM_CLIP.label, "initial": x, "change": c}
        for g, x in (("weak", 0.2), ("strong", 0.8), ("middle", 0.5))
        for c in (0.0, 0.1)
    ]
    s = lm.e5_verdicts(pd.DataFrame(rows), 0.02)[0].statistic
    assert s.index("weak") < s.index("strong") < s.index("middle")
