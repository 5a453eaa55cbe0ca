"""The tiny-LM experiment helpers on synthetic run tables: intervals, changes, pairing, windows, verdicts."""

import math

import numpy as np
import pandas as pd
import pytest

from rlvr_lib.experiments import lm_lab as lm


def fake_runs(changes: dict[str, list[float]], metric="eval/sampled_acc", initial=0.5):
    rows = []
    for arm, deltas in changes.items():
        for seed, d in enumerate(deltas):
            rid = f"{arm}-{seed}"
            for step, v in ((0, initial), (50, initial + d / 2), (100, initial + d)):
                rows.append(
                    {
                        "run_id": rid,
                        "group": "",
                        "arm": arm,
                        "seed": seed,
                        "status": "complete",
                        "step": step,
                        "metric": metric,
                        "value": v,
                    }
                )
    return pd.DataFrame(rows)


def test_a_metric_measured_only_at_step_0_has_no_change():
    """A greedy metric of a run stopped by divergence before its last (complete) evaluation exists at step 0 only:
    its change is NaN, not zero; a metric measured at 0 and at an interior step keeps its last value."""
    df = fake_runs({"a": [0.2, 0.4]}, metric="eval/greedy_acc")
    df = df[~((df.run_id == "a-1") & (df.step > 0))]  # run a-1: greedy measured at step 0 only
    ch = lm.per_run_change(df, "eval/greedy_acc").set_index("seed")
    assert ch.loc[0, "change"] == pytest.approx(0.2) and np.isnan(ch.loc[1, "change"]) and np.isnan(ch.loc[1, "final"])
    interior = fake_runs({"a": [0.2]})
    interior = interior[interior.step < 100]  # last measured at step 50
    assert lm.per_run_change(interior, "eval/sampled_acc").change.iloc[0] == pytest.approx(0.1)


def test_per_run_changes_come_in_seed_order_whatever_the_run_ids():
    """The run id is a hash of the configuration: a field that changes no result (how often a run evaluates in
    between) renames every run. The per-run table - and the bootstrap that reads it in order - must not move."""
    df = fake_runs({"a": [0.1, 0.2, 0.3, 0.4]})
    renamed = df.assign(run_id=df.run_id.map(lambda r: f"{9 - int(r.split('-')[1])}-{r}"))  # reversed id order
    a, b = lm.per_run_change(df, "eval/sampled_acc"), lm.per_run_change(renamed, "eval/sampled_acc")
    assert list(a.seed) == list(b.seed) == [0, 1, 2, 3]
    assert np.allclose(a.change, b.change) and np.allclose(a.change, [0.1, 0.2, 0.3, 0.4])


def test_change_table_and_paired_difference():
    df = fake_runs({"a": [0.1, 0.2, 0.3], "b": [0.0, 0.1, 0.1]})
    t = lm.change_table(df, ["eval/sampled_acc"]).set_index("arm")
    assert t.loc["a", "change"] == pytest.approx(0.2) and t.loc["a", "n"] == 3
    assert t.loc["a", "initial"] == pytest.approx(0.5) and t.loc["a", "final"] == pytest.approx(0.7)
    m, h, n = lm.paired_difference(df, "eval/sampled_acc", "a", "b", "change")
    d = np.array([0.1, 0.1, 0.2])
    assert m == pytest.approx(d.mean()) and h == pytest.approx(4.303 * d.std(ddof=1) / math.sqrt(3), rel=1e-3)


def test_arms_are_explicit_records():
    arms = lm.arms("b", [lm.RANDOM_CLIP, lm.RANDOM_NO_CLIP], group="g")
    assert arms[("g", "random, no clip")] == {"base": "b", "reward": {"random": 1.0}, "clip_rule": "none"}
    assert all("clip_rule" in a.fields for a in vars(lm).values() if isinstance(a, lm.Arm))
    assert lm.ENTROPY_COEF.with_(entropy_coef=-0.1).fields["entropy_coef"] == -0.1


def test_windowed_recomputes_the_bias_ratio_from_window_means():
    rows = []
    for step in range(1, 11):
        rows += [
            {
                "run_id": "r",
                "group": "",
                "arm": "a",
                "seed": 0,
                "status": "complete",
                "step": step,
                "metric": "clip/n_raw",
                "value": 10.0,
            },
            {
                "run_id": "r",
                "group": "",
                "arm": "a",
                "seed": 0,
                "status": "complete",
                "step": step,
                "metric": "clip/c_plus",
                "value": 1.0 if step == 2 else 0.0,
            },
            {
                "run_id": "r",
                "group": "",
                "arm": "a",
                "seed": 0,
                "status": "complete",
                "step": step,
                "metric": "entropy",
                "value": float(step),
            },
        ]
    w = lm.windowed(pd.DataFrame(rows), ["entropy", "clip/bias_ratio"], window=4)
    ent = w[w.metric == "entropy"].set_index("step").value
    assert ent.to_dict() == {4: 2.5, 8: 6.5, 10: 9.5}  # the last window holds steps 9-10 and is labelled 10
    ratio = w[w.metric == "clip/bias_ratio"].set_index("step").value
    assert ratio[4] == pytest.approx(10.0 / 0.25) and math.isnan(ratio[8])


def test_choose_lr_rule():
    rows = []
    for lr, gain, greedy, div in ((1e-5, 0.1, 0.0, 0), (2e-5, 0.3, -0.1, 0), (5e-5, 0.2, 0.0, 0), (1e-4, 0.9, 0.0, 1)):
        rows += [
            {"arm": f"lr={lr}", "learning_rate": lr, "metric": lm.PRIMARY, "change": gain, "diverged": div},
            {"arm": f"lr={lr}", "learning_rate": lr, "metric": "eval/greedy_acc", "change": greedy, "diverged": div},
        ]
    assert lm.choose_lr(pd.DataFrame(rows)) == 5e-5  # 2e-5 lost greedy accuracy, 1e-4 diverged
    assert "largest in the grid" in lm.grid_edge_note(5e-5, [1e-5, 5e-5])


def test_smoke_and_full_profiles_differ_only_in_size():
    full, smoke = lm.common("full", "runs", 1e-5), lm.common("smoke", "runs", 1e-5)
    assert set(full) <= set(smoke) | {"max_completion_length"}
    assert full["steps_per_generation"] > 1 and smoke["steps_per_generation"] > 1  # clipping can act in both
    assert lm.seeds_for("full", [0, 1, 2]) == [0, 1, 2] and lm.seeds_for("smoke", [0, 1, 2]) == [0]
    assert not set(lm.REPORTED_SEEDS) & set(lm.TUNING_SEEDS)


def pilot_runs(sd_acc: float, sd_h: float, n: int = 3) -> pd.DataFrame:
    """Pilot-shaped runs: every key comparison's arms, per-seed changes spread by the given sds."""
    rng = np.random.default_rng(0)
    arms = {a.label for c in lm.KEY_COMPARISONS for a in (c.arm, c.other) if a is not None}
    parts = []
    for metric, sd in ((lm.PRIMARY, sd_acc), ("eval/entropy", sd_h)):
        parts.append(fake_runs({a: list(rng.normal(0, sd, n)) for a in sorted(arms)}, metric))
    return pd.concat(parts, ignore_index=True)


def test_pilot_sizes_each_comparison_from_its_spread_and_caps_it_at_the_budget():
    margins = {"acc_margin": 0.02, "entropy_margin": 0.004}
    quiet = lm.pilot_table(pilot_runs(0.001, 0.0001), margins, max_seeds=6).set_index("claim")
    assert (quiet["seeds used"] == len(lm.REPORTED_SEEDS)).all() and quiet["within budget"].all()
    noisy = lm.pilot_table(pilot_runs(0.05, 0.01), margins, max_seeds=6).set_index("claim")
    assert (noisy["seeds for half-width <= margin"] > 6).all() and (noisy["seeds used"] == 6).all()
    assert set(noisy.index) == {c.claim for c in lm.KEY_COMPARISONS}
    # the count is the smallest n whose t-interval half-width is at most the margin
    from rlvr_lib.stats import t975

    for _, r in noisy.iterrows():
        n, sd = r["seeds for half-width <= margin"], r["pilot sd"]
        assert t975(n - 1) * sd / math.sqrt(n) <= r["margin"] < t975(n - 2) * sd / math.sqrt(n - 1)


def test_a_pilot_needing_more_than_the_budget_says_so():
    """Small effects with a large spread: deciding them needs more seeds than the budget; each gets the budget and
    is marked as not within it, while a comparison that fits is marked as within."""
    df = pilot_runs(0.05, 0.01)
    t = lm.pilot_table(df, {"acc_margin": 0.02, "entropy_margin": 0.004}, max_seeds=4).set_index("claim")
    over = t[t["seeds to decide"] > 4]
    assert len(over) and (over["seeds used"] == 4).all() and not over["within budget"].any()
    roomy = lm.pilot_table(df, {"acc_margin": 0.02, "entropy_margin": 0.004}, max_seeds=1000).set_index("claim")
    assert roomy["within budget"].all() and (roomy["seeds used"] == roomy["seeds to decide"].clip(lower=3)).all()


def test_a_large_pilot_effect_is_decided_with_few_seeds():
    """An effect many spreads from zero needs few seeds to decide, however many the margin-wide interval needs."""
    df = pilot_runs(0.01, 0.0001)
    shift = df.arm.eq(lm.RANDOM_NO_CLIP.label) & df.metric.eq(lm.PRIMARY) & df.step.gt(0)
    df.loc[shift, "value"] -= 0.3  # C4's arm loses 0.3 (its change, step 0 to 100)
    t = lm.pilot_table(df, {"acc_margin": 0.02, "entropy_margin": 0.004}, max_seeds=6).set_index("claim")
    assert t.loc["C4", "pilot mean"] < -0.25 and t.loc["C4", "seeds to decide"] <= 3
    assert t.loc["C4", "seeds used"] == len(lm.REPORTED_SEEDS)


def test_reported_seeds_follow_the_pilot_per_arm(tmp_path):
    table = pd.DataFrame({"claim": ["C4", "C6", "C8", "C12", "E7"], "seeds used": [4, 6, 5, 3, 3]})
    lm.save_pilot(str(tmp_path), table)
    chosen = lm.load_pilot(str(tmp_path))
    arms = [lm.RANDOM_CLIP, lm.RANDOM_NO_CLIP, lm.GROUND_TRUTH, lm.ENTROPY_COEF]
    seeds = lm.reported_seeds(chosen, "full", arms, [0, 1, 2])
    assert seeds[lm.RANDOM_CLIP.label] == list(range(6))  # C6, C12 and E7: the largest
    assert seeds[lm.RANDOM_NO_CLIP.label] == list(range(6))  # C4 and C6
    assert seeds[lm.ENTROPY_COEF.label] == list(range(5))
    assert seeds[lm.GROUND_TRUTH.label] == [0, 1, 2]  # in no key comparison: the fallback
    assert lm.reported_seeds({}, "full", arms, [0, 1])[lm.RANDOM_CLIP.label] == [0, 1]
    assert lm.reported_seeds(chosen, "smoke", arms, [0, 1, 2])[lm.RANDOM_CLIP.label] == [0]


def test_late_change_says_whether_a_curve_has_flattened():
    rows = []
    for arm, late in (("flat", 0.0), ("rising", 0.1)):
        for seed in range(3):
            for step, v in ((0, 0.5), (60, 0.6), (100, 0.6 + late + 0.01 * (seed - 1))):
                rows.append({"arm": arm, "seed": seed, "step": step, "metric": lm.PRIMARY, "value": v})
    t = lm.late_change(pd.DataFrame(rows)).set_index("arm")
    assert bool(t.loc["flat", "flat at the end"]) is True
    assert bool(t.loc["rising", "flat at the end"]) is False


def test_decomposition_reassembles_sampled_accuracy():
    t = pd.DataFrame(
        [
            {"group": "default", "arm": "a", "metric": m, "initial": i, "final": f}
            for m, i, f in zip(lm.DECOMPOSITION, (0.6, 0.9, 0.4, 0.3), (0.8, 0.85, 0.2, np.nan))
        ]
    )
    d = lm.decomposition(t).set_index("when")
    assert d.loc["initial", "reassembled sampled acc"] == pytest.approx(0.6 * 0.9 + 0.4 * 0.3)
    assert d.loc["final", "reassembled sampled acc"] == pytest.approx(0.8 * 0.85)  # an unused style adds nothing


def test_sweep_takes_seeds_per_arm():
    with pytest.raises(ValueError, match="no seeds given for arm"):
        lm.sweep({"x": {}}, {"y": [0]}, {"output_root": "/nonexistent"}, progress=False, executor="sequential")
