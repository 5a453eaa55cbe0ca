"""The tiny-LM regime series: its schedule (E1's point reproduced, learning rate x steps matched), its table on
synthetic run records (changes, pairing, clip fractions), and its verdicts and front-page sentence driven to every
outcome, with inputs that differ by point and rule so a swap fails."""

import math

import numpy as np
import pandas as pd
import pytest

from rlvr_lib.experiments import lm_lab as lm
from rlvr_lib.experiments import lm_regime as lr
from rlvr_lib.pipeline import book
from rlvr_lib.rl.config import ExperimentConfig
from rlvr_lib.stats import t975

LR = 2e-5


def test_the_16_per_step_points_are_e1s_runs():
    """Same configuration, so the same run id: the series reuses E1's random-reward runs instead of retraining."""
    arms, _ = lr.series_arms(LR, "full", [(lr.Point("default", 16), "symmetric"), (lr.Point("default", 16), "none")])
    shared = lm.common("full", "runs", LR)
    for rule, e1_arm in (("symmetric", lm.RANDOM_CLIP), ("none", lm.RANDOM_NO_CLIP)):
        ours = ExperimentConfig.from_dict({**shared, **arms[("default, 16/step", rule)], "seed": 0})
        e1 = ExperimentConfig.from_dict({**shared, **e1_arm.config("default"), "seed": 0})
        assert ours.run_id == e1.run_id, rule


@pytest.mark.parametrize("size,steps", [(16, 100), (64, 25), (160, 10)])
def test_schedule_matches_completions_and_learning_rate_times_steps(size, steps):
    s = lr.schedule(lr.Point("default", size), LR, "full")
    assert s["max_steps"] == steps and s["prompts_per_step"] * 8 == size
    assert s["max_steps"] * size == 1600  # E1's completions per run
    assert s["learning_rate"] * s["max_steps"] == pytest.approx(LR * 100)  # E1's total movement
    assert s["eval_every"] * 5 == steps and s["steps_per_generation"] == 8


def test_schedule_refuses_sizes_that_do_not_split():
    with pytest.raises(ValueError, match="multiple of the group size"):
        lr.schedule(lr.Point("default", 20), LR, "full")
    with pytest.raises(ValueError, match="evaluation windows"):
        lr.schedule(lr.Point("default", 32 * 8), LR, "full")  # 1600 / 256 is not whole


def test_transect_covers_the_rules_sizes_depth_and_entropy_profile():
    pts = {(p.base, p.size, p.steps_per_generation, r) for p, r in lr.TRANSECT}
    assert {r for *_, r in pts} == set(lr.RULES)
    sizes = {s for _, s, _, _ in pts}
    assert min(sizes) == 16 and max(sizes) >= 128
    assert any(b == "free-choice" for b, *_ in pts) and any(spg != 8 for _, _, spg, _ in pts)


def records(spec: dict) -> pd.DataFrame:
    """Synthetic run records: spec[(group, arm)] = (acc changes per seed, entropy changes, clip high, clip low)."""
    rows = []
    for (group, arm), (dacc, dent, hi, lo) in spec.items():
        for seed, (a, e) in enumerate(zip(dacc, dent)):
            rid = f"{group}|{arm}|{seed}"
            base = dict(run_id=rid, group=group, arm=arm, seed=seed, status="complete")
            for step, frac in ((0, 0.0), (5, 0.5), (10, 1.0)):
                rows.append({**base, "step": step, "metric": lm.PRIMARY, "value": 0.5 + frac * a})
                rows.append({**base, "step": step, "metric": "eval/entropy", "value": 0.1 + frac * e})
            for step in range(1, 11):
                rows.append({**base, "step": step, "metric": "clip_ratio/high_mean", "value": hi * (step % 2) * 2})
                rows.append({**base, "step": step, "metric": "clip_ratio/low_mean", "value": lo})
                ratio = np.inf if hi == 0 else 10.0 * step
                rows.append({**base, "step": step, "metric": "clip/bias_ratio", "value": ratio})
    return pd.DataFrame(rows)


def points_of(spec: dict) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "group": g,
                "arm": a,
                "base": g.split(",")[0],
                "size": int(g.split(", ")[1].split("/")[0]),
                "steps_per_generation": 8,
                "max_steps": 10,
                "learning_rate": 1e-4,
            }  # fmt: skip
            for g, a in spec
        ]
    )


def table_of(spec: dict, margin=0.02) -> pd.DataFrame:
    return lr.classify(lr.series_table(records(spec), points_of(spec)), margin)


def test_series_table_against_hand_computed_values():
    spec = {
        ("default, 64/step", "symmetric"): ([0.10, 0.12, 0.14], [-0.01, -0.02, -0.03], 0.01, 0.002),
        ("default, 64/step", "none"): ([0.01, 0.02, 0.06], [0.01, 0.01, 0.01], 0.0, 0.0),
    }
    t = table_of(spec).set_index("arm")
    s = t.loc["symmetric"]
    assert s.gain == pytest.approx(0.12) and s.n == 3
    assert s.gain_ci == pytest.approx(4.303 * 0.02 / math.sqrt(3), rel=1e-3)
    assert s.entropy_change == pytest.approx(-0.02)
    d = np.array([0.09, 0.10, 0.08])  # symmetric minus none, paired by seed
    assert s.gain_vs_none == pytest.approx(d.mean())
    assert s.gain_vs_none_ci == pytest.approx(4.303 * d.std(ddof=1) / math.sqrt(3), rel=1e-3)
    assert s.clip_high == pytest.approx(0.01) and s.clip_low == pytest.approx(0.002)
    assert s.bias_ratio == pytest.approx(55.0)  # median of 10, 20, ..., 100
    assert math.isnan(t.loc["none"].gain_vs_none) and math.isnan(t.loc["none"].bias_ratio)


def test_mechanism_clipping_unclipped_and_none():
    spec = {
        ("default, 64/step", "upper-only"): ([0.10, 0.12, 0.14], [0, 0, 0], 0.01, 0.0),
        ("default, 64/step", "none"): ([-0.01, 0.0, 0.01], [0, 0, 0], 0.0, 0.0),
        ("default, 160/step", "symmetric"): ([0.10, 0.12, 0.14], [0, 0, 0], 0.01, 0.01),
        ("default, 160/step", "none"): ([0.10, 0.11, 0.12], [0, 0, 0], 0.0, 0.0),
    }
    t = table_of(spec).set_index(["group", "arm"]).mechanism
    assert t[("default, 64/step", "upper-only")] == "clipping"
    assert t[("default, 64/step", "none")] == ""  # no gain, no mechanism
    assert t[("default, 160/step", "symmetric")] == "unclipped update"  # the unclipped arm gains as well
    assert t[("default, 160/step", "none")] == "unclipped update"


GAIN = ([0.10, 0.12, 0.14], [-0.01, -0.01, -0.01], 0.01, 0.001)
LOSS = ([-0.10, -0.12, -0.14], [0.01, 0.01, 0.01], 0.01, 0.001)
FLAT = ([0.001, -0.001, 0.0], [0.0, 0.0, 0.0], 0.01, 0.001)
NOISY = ([0.3, -0.3, 0.1], [0.0, 0.0, 0.0], 0.01, 0.001)
NOCLIP = ([0.001, -0.001, 0.0], [0.0, 0.0, 0.0], 0.0, 0.0)


@pytest.mark.parametrize(
    "sym,upper,verdict,reason",
    [
        (LOSS, GAIN, "supported", "gain_somewhere"),
        (LOSS, NOISY, "inconclusive", "undecided_points"),
        (FLAT, FLAT, "effect excluded", "within_margin_everywhere"),
        (LOSS, FLAT, "not supported", "no_gain_anywhere"),
    ],
)
def test_e0_reaches_every_outcome_and_reads_the_right_rule(sym, upper, verdict, reason):
    spec = {("default, 64/step", "symmetric"): sym, ("default, 64/step", "upper-only"): upper}
    e0, e0_sym = lr.e0_verdicts(table_of(spec), 0.02, 0.001)
    assert (e0.claim, e0.verdict, e0.reason, e0.level, e0.polarity) == (
        "E0 (tiny LM, any clip rule)",
        verdict,
        reason,
        "tiny LM",
        1,
    )
    # the symmetric-only row sees only the symmetric point, which loses in every case but one
    expected = ("effect excluded", "within_margin_everywhere") if sym is FLAT else ("not supported", "no_gain_anywhere")
    assert (e0_sym.verdict, e0_sym.reason) == expected
    if verdict == "supported":
        assert "upper-only at default, 64/step" in e0.statistic and "symmetric at" not in e0.statistic.split("Gains")[1]


def test_e0_family_wise_width_can_undo_a_gain_by_its_own_interval():
    weak = ([0.03, 0.05, 0.07], [0, 0, 0], 0.01, 0.001)  # own interval [0.0003, 0.0997]: a gain alone
    spec = {("default, 64/step", r): weak for r in ("symmetric", "clip-higher", "upper-only")}
    t = table_of(spec)
    assert (t.decision == "supported").all() and not (t.decision_fw == "supported").any()
    e0 = lr.e0_verdicts(t, 0.02, 0.001)[0]
    assert e0.verdict == "inconclusive" and "own 95% interval 3 gain" in e0.statistic


def test_e0_not_testable_without_points_or_without_clipping():
    e0, sym = lr.e0_verdicts(table_of({("default, 64/step", "symmetric"): NOCLIP}), 0.02, 0.001)
    assert (sym.verdict, sym.reason) == ("not testable here", "check_failed")
    assert (e0.verdict, e0.reason) == ("not testable here", "check_failed")
    e0, sym = lr.e0_verdicts(table_of({("default, 64/step", "none"): FLAT}), 0.02, 0.001)
    assert e0.verdict == "effect excluded"  # no clipped rule: nothing to check
    assert (sym.verdict, sym.reason) == ("not testable here", "no_points")


def test_seeds_to_decide_is_reported_for_undecided_points():
    t = table_of({("default, 64/step", "symmetric"): NOISY})
    assert t.seeds_to_decide.iloc[0] > 3
    e0 = lr.e0_verdicts(t, 0.02, 0.001)[0]
    assert f"about {int(t.seeds_to_decide.iloc[0])} seeds" in e0.statistic


def test_c6_series_uses_the_symmetric_point_that_clips_most():
    spec = {
        ("default, 16/step", "symmetric"): ([0, 0, 0], [0.02, 0.03, 0.025], 0.001, 0.001),  # entropy rises
        ("default, 160/step", "symmetric"): ([0, 0, 0], [-0.02, -0.03, -0.025], 0.05, 0.01),  # falls, clips most
        ("default, 160/step", "upper-only"): ([0, 0, 0], [0.05, 0.05, 0.06], 0.2, 0.0),  # other rule: ignored
    }
    (v,) = lr.c6_verdicts(table_of(spec), 0.004, 0.001)
    assert (v.claim, v.verdict, v.polarity) == ("C6 (regime series)", "supported", 1) and "160/step" in v.statistic
    spec[("default, 160/step", "symmetric")] = ([0, 0, 0], [0.02, 0.03, 0.025], 0.05, 0.01)
    assert lr.c6_verdicts(table_of(spec), 0.004, 0.001)[0].verdict == "not supported"
    low = {("default, 16/step", "symmetric"): ([0, 0, 0], [-0.02, -0.03, -0.025], 1e-4, 1e-4)}
    assert lr.c6_verdicts(table_of(low), 0.004, 0.001)[0].verdict == "not testable here"
    assert lr.c6_verdicts(table_of({("default, 16/step", "none"): FLAT}), 0.004, 0.001) == []


def test_reading_is_composed_from_the_table():
    spec = {("default, 64/step", "symmetric"): LOSS, ("default, 160/step", "upper-only"): GAIN[:2] + (0.05, 0.0)}
    text = lr.reading(table_of(spec), 0.02)
    assert "-0.120 [" in text and "(symmetric at default, 64/step" in text
    assert "+0.120 [" in text and "upper-only at default, 160/step: clipping" not in text  # no unclipped arm
    assert "1 point(s) gain" in text and "falls" in text
    text = lr.reading(table_of({("default, 64/step", "symmetric"): LOSS}), 0.02)
    assert "No point gains" in text and "rises" in text


@pytest.mark.parametrize("reason", list(lr.REASONS))
def test_front_page_series_sentence_for_every_reason(reason):
    v = pd.DataFrame(
        [
            {
                "claim": "E0 (tiny LM, any clip rule)",
                "level": "tiny LM",
                "verdict": "x",
                "reason": reason,
                "statistic": "",
            }
        ]
    )
    assert book.SERIES_WORDS[reason] in book.series_sentence(v)
    assert book.series_sentence(v.iloc[0:0]) == ""


def test_probe_curve_is_read_at_the_nearest_clip_rate_within_tolerance():
    t = table_of({("default, 64/step", "symmetric"): GAIN, ("default, 160/step", "symmetric"): GAIN[:2] + (0.3, 0.0)})
    curves = pd.DataFrame(
        {
            "level": ["tiny LM", "tiny LM", "tabular"],
            "lr": [1e-5, 3e-4, 1.0],
            "upper_rate": [0.004, 0.012, 0.01],  # the tabular row, at exactly 0.01, must be ignored
            "ratio": [30.0, 5.0, 99.0],
            "d_upper": [-1e-4, -5e-4, 9.0],
            "d_upper_ci": [1e-5, 2e-5, 1.0],
        }
    )
    got = lr.attach_probe_curve(t, curves).set_index("group")
    near = got.loc["default, 64/step"]  # clip rate 0.01: 0.012 is within the factor 1.5, 0.004 is not
    assert (near.probe_lr, near.probe_ratio, near.probe_d_upper) == (3e-4, 5.0, -5e-4)
    assert math.isnan(got.loc["default, 160/step"].probe_lr)  # 0.3 is 15x the nearest probe rate
    assert lr.attach_probe_curve(t, None).probe_lr.isna().all()


def test_reported_regime_is_placed_inside_or_outside_the_series_reach():
    inside = {
        ("default, 16/step", "symmetric"): GAIN[:2] + (5e-4, 0.0),
        ("default, 160/step", "symmetric"): GAIN[:2] + (4e-3, 0.0),
    }
    t = lr.series_table(records(inside), points_of(inside))
    t["tokens_per_step"] = [400.0, 4000.0]
    text = lr.reported_sentence(t)
    assert "lies inside the range" in text and "5.0e-04 to 4.0e-03" in text
    assert "nearest point by clip rate is symmetric at default, 16/step" in text and "a factor 2.0" in text
    assert "400 to 4000 completion tokens" in text and "up to 393,216" in text and "at most 98 times" in text
    outside = {("default, 16/step", "symmetric"): GAIN[:2] + (0.02, 0.0)}
    text = lr.reported_sentence(lr.series_table(records(outside), points_of(outside)))
    assert "lies outside the range" in text and "a factor 20.0" in text
    none = {("default, 16/step", "none"): NOCLIP}
    assert "cannot be placed" in lr.reported_sentence(lr.series_table(records(none), points_of(none)))


def test_reading_says_when_clipping_never_bound():
    text = lr.reading(table_of({("default, 64/step", "symmetric"): NOCLIP}), 0.02)
    assert "Clipping bound at no point" in text and "binds most" not in text


def test_seeds_to_decide_fw_at_one_comparison_is_the_pilots_rule_and_grows_with_the_family():
    from rlvr_lib.stats import seeds_to_decide

    for mean, half in ((-0.15, 0.12), (0.05, 0.2), (0.005, 0.03)):
        assert lr.seeds_to_decide_fw(mean, half, 3, 0.02, 1) == seeds_to_decide(mean, half, 3, 0.02)
        k1, k18 = lr.seeds_to_decide_fw(mean, half, 3, 0.02, 1), lr.seeds_to_decide_fw(mean, half, 3, 0.02, 18)
        assert k18 > k1


def test_seeds_to_decide_fw_is_the_first_k_whose_family_wise_width_fits():
    """Independently: sd from the half-width by hand (t975(2) = 4.303), the family-wise quantile from the t
    quantile at 1 - 0.025 / m."""
    from rlvr_lib.experiments.regime_map import t_quantile

    mean, half, m = -0.15, 0.116, 18
    sd = half * math.sqrt(3) / 4.303
    width = lambda k: t_quantile(1 - 0.025 / m, k - 1) * sd / math.sqrt(k)  # noqa: E731
    k = lr.seeds_to_decide_fw(mean, half, 3, 0.02, m)
    assert width(k) <= 0.15 < width(k - 1)
    assert lr.seeds_to_decide_fw(float("nan"), half, 3, 0.02, m) == 1000
    assert lr.seeds_to_decide_fw(mean, half, 1, 0.02, m) == 1000


def test_reading_counts_points_by_their_own_interval():
    spec = {
        ("default, 64/step", "symmetric"): LOSS,
        ("default, 64/step", "none"): LOSS,
        ("default, 160/step", "symmetric"): FLAT,
    }
    text = lr.reading(table_of(spec), 0.02)
    assert "By its own 95% interval, 2 of the 3 points lose exact accuracy and 0 gain." in text


def test_c6_series_looks_at_every_base_and_the_mechanism_comes_from_the_whole_table():
    spec = {
        ("default, 160/step", "symmetric"): ([0, 0, 0], [-0.02, -0.03, -0.025], 0.01, 0.01),
        ("free-choice, 160/step", "symmetric"): ([0, 0, 0], [0.06, 0.07, 0.065], 0.02, 0.02),  # clips most
    }
    (v,) = lr.c6_verdicts(table_of(spec), 0.004, 0.001)
    assert v.verdict == "not supported" and "free-choice, 160/step" in v.statistic
    gains = {
        ("default, 64/step", "symmetric"): ([0.10, 0.12, 0.14], [0, 0, 0], 0.01, 0.01),
        ("default, 64/step", "none"): ([0.10, 0.11, 0.12], [0, 0, 0], 0.0, 0.0),
    }
    _, sym = lr.e0_verdicts(table_of(gains), 0.02, 0.001)
    assert sym.verdict == "supported" and "(unclipped update)" in sym.statistic  # not "clipping": none gains too


def test_c6_series_counts_a_clip_fraction_exactly_at_the_floor_as_binding():
    at_floor = {("default, 160/step", "symmetric"): ([0, 0, 0], [-0.02, -0.03, -0.025], 0.0005, 0.0005)}
    (v,) = lr.c6_verdicts(table_of(at_floor), 0.004, 0.001)
    assert v.verdict == "supported"
    (v,) = lr.c6_verdicts(table_of(at_floor), 0.004, 0.0011)
    assert v.verdict == "not testable here"


def test_e0_statistic_counts_losses_orders_gains_and_takes_the_floor_as_binding():
    spec = {("default, 64/step", "symmetric"): LOSS, ("default, 64/step", "upper-only"): FLAT,
            ("default, 160/step", "symmetric"): LOSS}  # fmt: skip
    e0 = lr.e0_verdicts(table_of(spec), 0.02, 0.001)[0]
    assert e0.verdict == "not supported" and "about 0.1, and 2 lose" in e0.statistic
    assert "(2 lose)" in e0.statistic
    big = ([0.30, 0.32, 0.34], [0, 0, 0], 0.01, 0.0)
    spec = {("default, 64/step", "upper-only"): GAIN, ("default, 160/step", "upper-only"): big}
    stat = lr.e0_verdicts(table_of(spec), 0.02, 0.001)[0].statistic
    assert stat.index("160/step") < stat.index("64/step")  # largest gain first
    floor = ([0.001, -0.001, 0.0], [0.0, 0.0, 0.0], 0.0005, 0.0005)  # clip fraction exactly at the floor
    sym = lr.e0_verdicts(table_of({("default, 64/step", "symmetric"): floor}), 0.02, 0.001)[1]
    assert sym.reason != "check_failed"


@pytest.mark.parametrize(
    "spec,rules,verdict,reason",
    [
        ({("default, 64/step", "upper-only"): GAIN}, ("upper-only",), "supported", "gain_somewhere"),
        ({("default, 64/step", "upper-only"): NOISY}, ("upper-only",), "inconclusive", "undecided_points"),
        ({("default, 64/step", "upper-only"): FLAT}, ("upper-only",), "effect excluded", "within_margin_everywhere"),
        ({("default, 64/step", "upper-only"): LOSS}, ("upper-only",), "not supported", "no_gain_anywhere"),
        ({("default, 64/step", "upper-only"): LOSS}, ("symmetric",), "not testable here", "no_points"),
        ({("default, 64/step", "upper-only"): NOCLIP}, ("upper-only",), "not testable here", "check_failed"),
    ],
)
def test_e0_verdict_rule_reaches_every_outcome(spec, rules, verdict, reason):
    v = lr._e0_verdict(table_of(spec), 0.02, 0.001, "E0 (x)", "s", rules)
    assert (v.claim, v.verdict, v.reason, v.statement) == ("E0 (x)", verdict, reason, "s")


def test_series_pilot_is_the_first_point_on_pilot_seeds_and_e1s_pilot_runs():
    """The pilot's points are the series' first point, whose configurations are E1's pilot arms (so the main job
    trains them once), and its seeds are the E1 pilot's."""
    arms, points = lr.series_arms(5e-5, "full", transect=lr.PILOT_POINTS)
    assert list(points.group.unique()) == ["default, 16/step"] and set(points.arm) == {"symmetric", "none"}
    shared = lm.common("full", "runs", 5e-5)
    e1 = lm.pilot_arms("default")
    for (_, rule), over in arms.items():
        label = lm.RANDOM_CLIP.label if rule == "symmetric" else lm.RANDOM_NO_CLIP.label
        a = ExperimentConfig.from_dict({**shared, **over, "name": "x", "seed": 1000})
        b = ExperimentConfig.from_dict({**shared, **e1[label], "name": "y", "seed": 1000})
        assert a.run_id == b.run_id
    from rlvr_lib.pipeline.runner import NOTEBOOKS

    for name in ("lm_pilot", "lm_regime_series"):  # the series' pilot seeds are E1's pilot's
        assert f"pilot_seeds: list = {lr.PILOT_SEEDS}" in (NOTEBOOKS / f"{name}.py").read_text()


@pytest.mark.parametrize("spread, short", [(0.005, 0), (0.2, 2)])
def test_series_pilot_says_whether_the_budget_reaches_a_decision(spread, short):
    """The pilot's seeds to decide at the family-wise width, beside the series' seeds; the sentence says the
    budget falls short exactly when the pilot asks more than it gives."""
    spec = {
        ("default, 16/step", "symmetric"): ([-0.2 - spread, -0.2, -0.2 + spread], [0, 0, 0], 0.001, 0.001),
        ("default, 16/step", "none"): ([-0.3 - spread, -0.3, -0.3 + spread], [0, 0, 0], 0.0, 0.0),
    }
    t = lr.pilot_table(records(spec), points_of(spec), 0.02, m=16, seeds=3)
    assert list(t["pilot n"]) == [3, 3] and t["pilot mean"].round(6).tolist() == [-0.2, -0.3]
    assert t["pilot sd"].tolist() == pytest.approx([spread, spread])
    for _, r in t.iterrows():
        half = t975(2) * spread / math.sqrt(3)
        assert r["seeds to decide (family-wise)"] == lr.seeds_to_decide_fw(r["pilot mean"], half, 3, 0.02, 16)
    assert int((t["seeds to decide (family-wise)"] > 3).sum()) == short
    text = lr.pilot_sentence(t, m=16)
    assert "over the series' 16 points" in text and f"sd {spread:.3f}" in text
    assert ("fewer than the pilot asks at 2 of its 2 points" in text) is bool(short)
    assert ("at least what the pilot asks" in text) is not bool(short)
