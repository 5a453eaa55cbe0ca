"""Every verdict function, fed small synthetic tables, comes out each way it can: the verdicts are computed."""

import itertools

import numpy as np
import pandas as pd
import pytest

from rlvr_lib.experiments import lm_lab as lm
from rlvr_lib.experiments import theory_lab as lab
from rlvr_lib.stats import seeds_needed, t975
from rlvr_lib.verdicts import VERDICTS, Verdict, decide, decide_effect

SUP, NOT, INC, EXC, NTH, PRE = VERDICTS


def outcome(verdicts: list[Verdict], claim: str) -> str:
    (v,) = [v for v in verdicts if v.claim == claim]
    return v.verdict


def test_decide_truth_table():
    assert [decide(a, b) for a, b in itertools.product((True, False), repeat=2)] == [INC, SUP, NOT, INC]


@pytest.mark.parametrize(
    "mean, half, expect, kw, expected",
    [
        (0.10, 0.05, 1, {}, SUP),
        (-0.10, 0.05, -1, {}, SUP),
        (-0.10, 0.05, 1, {}, NOT),
        (0.00, 0.01, 1, {}, EXC),
        (0.015, 0.004, 1, {}, EXC),  # nonzero, but smaller than the margin
        (0.00, 0.10, 1, {}, INC),
        (0.05, 0.04, 1, {}, SUP),
        (0.10, 0.05, 1, {"failed_checks": ["clipping binds"]}, NTH),
        (0.10, 0.05, 1, {"premise": ("no gain to explain", False)}, PRE),
        (0.10, 0.05, 1, {"premise": ("no gain to explain", True)}, SUP),
        (float("nan"), float("nan"), 1, {}, INC),
    ],
)
def test_decide_effect_reaches_every_outcome(mean, half, expect, kw, expected):
    verdict, note = decide_effect(mean, half, 3, 0.02, expect, **kw)
    assert verdict == expected and note
    if expected == NTH:
        assert "clipping binds" in note
    if expected == INC and np.isfinite(half):
        assert "seeds" in note


def test_seeds_needed_is_the_smallest_sufficient_count():
    sd = 0.05
    half = t975(2) * sd / np.sqrt(3)
    k = seeds_needed(half, 3, 0.02)
    assert t975(k - 1) * sd / np.sqrt(k) <= 0.02 < t975(k - 2) * sd / np.sqrt(k - 1)
    assert seeds_needed(0.01, 3, 0.02) == 2 or t975(1) * (0.01 * np.sqrt(3) / t975(2)) / np.sqrt(2) > 0.02
    assert seeds_needed(float("nan"), 3, 0.02) == 10_000 and seeds_needed(0.1, 1, 0.02) == 10_000


# ---------------------------------------------------------------------------------------------------------
# theory lab


def test_c1():
    good = lab.c1_table([2, 4])
    assert outcome(lab.c1_verdicts(good), "C1") == SUP
    assert outcome(lab.c1_verdicts(good.assign(moment_3=0.1)), "C1") == NOT
    assert outcome(lab.c1_verdicts(good.assign(max_abs_A=good.bound + 0.5)), "C1") == NOT


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


def test_c3_without_clipping_is_inconclusive():
    t = pd.DataFrame({"vary": "eps", "value": [0.2], "ratio": [np.inf], "p_plus": [0.0]})
    assert outcome(lab.c3_verdicts(t), "C3 (small per step)") == INC


def dynamics(final_H: dict, final_ci: dict, peak: dict, peak_ci: float = 0.01, inits=("flat", "skewed")):
    """A C6 / C7 table: entropy 1.0 at iteration 0 and final_H[rule] (+- final_ci[rule]) at iteration 2;
    max ratio peak[rule] (+- peak_ci) at iteration 1."""
    rows = []
    for init, rule in itertools.product(inits, lab.C6_RULES):
        rows += [
            {"init": init, "rule": rule, "iteration": 0, "metric": "entropy", "mean": 1.0, "ci": 0.0},
            {
                "init": init,
                "rule": rule,
                "iteration": 2,
                "metric": "entropy",
                "mean": final_H[rule],
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
    "final_H, c6",
    [
        (H_PARK, SUP),
        ({**H_PARK, "symmetric": 1.0}, NOT),  # clipping raised entropy
        ({**H_PARK, "symmetric": 0.9}, INC),  # no difference
    ],
)
def test_c6(final_H, c6):
    assert outcome(lab.c6_c7_verdicts(dynamics(final_H, CI_EQUAL, PEAK_STABLE)), "C6") == c6


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


def c10_tables(enum_gap=0.0, mc_z=0.0, mirror=0.0, adv_z=0.0):
    t = pd.DataFrame(
        {
            "E_closed": [1.0, 2.0],
            "E_enum": [1.0 + enum_gap, 2.0],
            "Var_closed": [1.0, 1.0],
            "Var_enum": [1.0, 1.0],
            "E_mc": [1.0 + mc_z * 0.01, 2.0],
            "E_mc_se": [0.01, 0.01],
            "Var_mc": [1.0, 1.0],
        }
    )
    tp = pd.DataFrame(
        {"p": [0.3, 0.7], "E_closed": [1.0, 1.0], "E_enum": [1.0, 1.0], "E_closed_mirror": [1.0 + mirror, 1.0]}
    )
    adv = pd.DataFrame({"p": [0.5], "mean": [adv_z * 0.01], "se": [0.01]})
    return t, tp, adv


@pytest.mark.parametrize(
    "kw, c10, c11",
    [({}, SUP, NOT), ({"enum_gap": 1e-3}, NOT, NOT), ({"mc_z": 6.0}, INC, NOT), ({"adv_z": 6.0}, SUP, INC)],
)
def test_c10_and_c11_from_the_moments(kw, c10, c11):
    v = lab.c10_verdicts(*c10_tables(**kw))
    assert (outcome(v, "C10"), outcome(v, "C11")) == (c10, c11)


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
        ((UP, [-0.2, -0.21, -0.22], [0.0] * 3, [0.1, 0.1, 0.1], [2.0, 2.1, 2.2], UP), (SUP, SUP, EXC)),
        ((DOWN, [0.2, 0.21, 0.22], [0.0] * 3, [2.0, 2.1, 2.2], [0.1, 0.1, 0.1], UP), (NOT, NOT, SUP)),
        ((FLAT, FLAT, FLAT[::-1], [0.1, 0.1, 0.1], [2.0, 2.1, 2.2], [0.3, 0.32, 0.34]), (INC, INC, SUP)),
        ((TINY, TINY, [0.0] * 3, [0.1, 0.1, 0.1], [2.0, 2.1, 2.2], UP), (EXC, EXC, SUP)),
        ((UP, FLAT, [0.0] * 3, [0.1, 0.1, 0.1], [2.0, 2.1, 2.2], DOWN), (SUP, INC, NOT)),
        ((UP, FLAT, [0.0] * 3, [0.1, 0.1, 0.1], [2.0, 2.1, 2.2], FLAT[::-1]), (SUP, INC, INC)),
        ((UP, [-0.2, -0.21, -0.22], [0.0] * 3, [0.1, 0.1, 0.1], [2.0, 2.1, 2.2], UP, 0.0001), (SUP, NTH, NTH)),
    ],
)
def test_e1(data, expected):
    v = lm.e1_verdicts(*e1_data(*data), **M)
    got = (outcome(v, "C4"), outcome(v, "C6"), outcome(v, "C7 (chosen step size)"))
    assert got == expected
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


@pytest.mark.parametrize(
    "reliable, ci, shortcut, entropy, expected",
    [
        (0.1, 0.05, -0.1, -0.01, SUP),
        (0.1, 0.05, 0.1, -0.01, NOT),
        (0.0, 0.05, -0.1, -0.01, INC),
        (0.001, 0.005, -0.1, -0.01, NOT),  # no gain on the reliable-mode base, down to the margin
        (0.1, 0.05, -0.1, 0.0, NTH),  # entropy did not go down: the arm cannot speak for C8
    ],
)
def test_e2(reliable, ci, shortcut, entropy, expected):
    t = table(
        [
            (g, a.label, metric, value, half)
            for a in (lm.ENTROPY_COEF, lm.ENTROPY_REWARD)
            for g, acc, acc_ci in (("default", reliable, ci), ("shortcut", shortcut, 0.05))
            for metric, value, half in ((lm.PRIMARY, acc, acc_ci), ("eval/entropy", entropy, 0.005))
        ]
    )
    v = lm.e2_verdicts(t, 0.02)
    assert len(v) == 2 and {x.verdict for x in v} == {expected}


@pytest.mark.parametrize(
    "share, ci, expected", [(0.2, 0.05, SUP), (-0.2, 0.05, NOT), (0.0, 0.1, INC), (0.0, 0.01, EXC)]
)
def test_e3(share, ci, expected):
    rows = []
    for g, pref in (("default", "eval/share_reliable"), ("shortcut", "eval/share_shortcut")):
        for a in (lm.RANDOM_CLIP, lm.RANDOM_NO_CLIP):
            rows += [(g, a.label, pref, share, ci), (g, a.label, lm.PRIMARY, share, ci)]
    v = lm.e3_verdicts(table(rows), 0.05, 0.02)
    assert len(v) == 4 and {x.verdict for x in v} == {expected}


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


@pytest.mark.parametrize(
    "gt, rnd, ci, expected",
    [
        (0.3, 0.1, 0.05, SUP),
        (0.3, -0.1, 0.05, NOT),
        (0.3, 0.0, 0.05, INC),
        (0.1, 0.3, 0.05, NOT),
        (0.3, 0.0, 0.005, NOT),
    ],
)
def test_e7(gt, rnd, ci, expected):
    t = table(
        [
            ("", lm.GROUND_TRUTH.label, lm.PRIMARY, gt, 0.05),
            ("", lm.RANDOM.label, lm.PRIMARY, rnd, ci),
        ]
    )
    (v,) = lm.e7_verdicts(t, 0.02)
    assert v.verdict == expected


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
