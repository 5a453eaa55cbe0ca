"""The regime map: its simulation against the simulator and hand-derived moments, its decisions, verdicts,
reported placement and reading on synthetic tables (every outcome and branch), and its figure."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from rlvr_lib._checks import ConfigError
from rlvr_lib.clip import ClipRule
from rlvr_lib.experiments import regime_map as rm
from rlvr_lib.theory.simulator import SimConfig, initial_logits, simulate, skewed_policy

# ---------------------------------------------------------------------------------------------------------
# the simulation


def test_trajectory_is_the_simulators_own_and_the_counterfactual_draws_nothing():
    """With a counterfactual at every iteration, the rule's trajectory is exactly `simulate`'s."""
    cfg = SimConfig(K=5, G=8, eta=0.8, mu=4, iterations=6, init="skewed", q=0.5, seeds=16, seed=3)
    rule = ClipRule("symmetric", 0.2)
    ref = simulate(cfg, rule)
    tr = rm.trajectory(initial_logits(cfg), cfg, rule, seed=3, cf_every=1)
    np.testing.assert_allclose(tr["acc"], ref["accuracy"][-1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(tr["H"], ref["entropy"][-1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(tr["clip_high"], ref["clip_high"][1:].mean(0), rtol=0, atol=1e-12)
    np.testing.assert_allclose(tr["clip_low"], ref["clip_low"][1:].mean(0), rtol=0, atol=1e-12)
    assert tr["dH_rule"].shape == (16, 6) and tr["clip_high"].max() > 0
    # the rule's per-iteration entropy changes add up to the total change
    np.testing.assert_allclose(tr["dH_rule"].sum(1), tr["H"] - tr["H0"], rtol=0, atol=1e-12)


def small_config(**kw):
    base = dict(K=5, G=8, eta=1.0, mu=4, iterations=3, replicas=6, one_step_replicas=6, cf_every=1)
    return rm.MapConfig(**{**base, **kw})


def test_on_policy_every_rule_is_the_unclipped_update():
    """mu = 1: the ratio is exactly 1, so the same seed gives every rule the same trajectory (paired design)."""
    cfg = small_config()
    rows = pd.DataFrame(rm.run_cells(rm.Run(5, 8, 1.0, 1, (0.5,)), cfg))
    assert set(rows.rule) == set(rm.RULES) and len(rows) == 2 * len(rm.RULES)
    for col in ("gain_vs_none", "clip_drift", "one_step_clip", "clip_high", "clip_low"):
        assert (rows[col] == 0).all(), col
    deep = pd.DataFrame(rm.run_cells(rm.Run(5, 8, 2.0, 8, (0.5,)), cfg))
    assert (deep[deep.rule != "none"].gain_vs_none.abs() > 0).any() and deep.clip_high.max() > 0


def fisher_noise2(pi, G, eta):
    """E[var across actions (ddof 1) of one unclipped step], worked by hand: the step is eta x with
    x_a = (1/G) sum_i A_i 1[y_i = a] (the -pi_a sum_i A_i term vanishes as sum_i A_i = 0), A independent of y,
    sum_i A_i^2 = G - 1 unless all rewards are equal (probability 2^(1-G)), E[A_i A_j] = -E[A_i^2] / (G - 1); so
    E[x_a x_b] = (v / G)(pi_a delta_ab - pi_a pi_b) with v = E[A_i^2], and sum_a x_a = 0."""
    v = (G - 1) / G * (1 - 2.0 ** (1 - G))
    return eta**2 * v / G * (1 - (pi**2).sum()) / (len(pi) - 1), v


def test_one_step_noise_and_drift_against_the_fisher_moments():
    K, G, eta, n = 5, 8, 0.05, 20_000
    pi = skewed_policy(K, 0.5)
    sim = SimConfig(K=K, G=G, eta=eta, mu=1, iterations=1, init="skewed", q=0.5, seeds=n, seed=0)
    out = rm.one_step(initial_logits(sim), sim, {"none": ClipRule("none")}, seed=0)["none"]
    want, v = fisher_noise2(pi, G, eta)
    x = out["noise2"]
    assert abs(x.mean() - want) < 4 * x.std() / math.sqrt(n)
    # the antithetic pair leaves the second-order drift (eta^2 / 2) tr(Hess H . Sigma), Sigma the covariance above
    z = torch.log(torch.tensor(pi, dtype=torch.float64))
    hess = torch.autograd.functional.hessian(lambda z: -(torch.softmax(z, 0) * torch.log_softmax(z, 0)).sum(), z)
    p = torch.tensor(pi, dtype=torch.float64)
    sigma = v / G * (torch.diag(p) - torch.outer(p, p))
    second = float(0.5 * eta**2 * (hess * sigma).sum())
    u = out["unclipped"]
    assert abs(u.mean() - second) < 4 * u.std() / math.sqrt(n) + 0.03 * abs(second)
    assert (out["clip"] == 0).all()


def test_the_wrong_mode_control_mirrors_the_correct_mode():
    """Tail actions are exchangeable and rewards ignore the action, so in expectation the wrong-mode gain (a tail
    action's) is minus the mode's gain shared among the K - 1 tail actions."""
    K = 4
    cfg = small_config(K=K, iterations=8, replicas=300, one_step_replicas=4, cf_every=4)
    t = pd.DataFrame(rm.run_cells(rm.Run(K, 8, 1.0, 4, (0.5,)), cfg)).set_index(["rule", "mode"])
    for rule in rm.RULES:
        c, w = t.loc[(rule, "correct")], t.loc[(rule, "wrong")]
        assert c.initial_acc == pytest.approx(0.5) and w.initial_acc == pytest.approx(0.5 / (K - 1))
        assert abs(w.gain + c.gain / (K - 1)) < math.hypot(w.gain_ci, c.gain_ci / (K - 1)) * 1.5, rule


def test_regime_table_slices_rules_and_shared_runs():
    cfg = small_config(etas=(0.5, 1.0), mus=(1, 4), qs=(0.5, 0.9), Ks=(5, 20), Gs=(4, 8), group_etas=(1.0,))
    threads = torch.get_num_threads()
    calls = []
    t = rm.regime_table(cfg, progress=lambda i, n: calls.append((i, n)))
    assert torch.get_num_threads() == threads
    assert calls[-1] == (len(rm.slice_runs(cfg)),) * 2
    per = t.groupby("slice").size()
    assert per["step"] == 4 * 5 * 2 and per["shape"] == 2 * 2 * 5 * 2 and per["group"] == 2 * 5 * 2
    # the default point (K 5, G 8, eta 1, mu 4, q 0.5) lies on every slice; on the step and group slices it is one
    # simulation (the shape slice simulates it beside q 0.9, from other draws), and it counts as one cell
    a = t[(t.slice == "step") & (t.eta == 1.0) & (t.mu == 4)].reset_index(drop=True)
    b = t[(t.slice == "group") & (t.G == 8)].reset_index(drop=True)
    assert a.gain.tolist() == b.gain.tolist()
    u = rm.unique_cells(t)
    assert len(u) == len(t) - 2 * 10 and "step, shape, group" in set(u.slice)


def test_map_config_profiles_and_checks():
    smoke = rm.MapConfig.from_profile("smoke", etas=[0.1, 0.2, 0.5], qs=[0.3])
    assert smoke.etas == (0.1, 0.5) and smoke.qs == (0.3,) and smoke.replicas == rm.PROFILES["smoke"]["replicas"]
    full = rm.MapConfig.from_profile("full")
    assert full.mus == rm.MapConfig().mus and full.replicas == rm.PROFILES["full"]["replicas"]
    with pytest.raises(ConfigError, match="unknown"):
        rm.MapConfig.from_profile("full", etaa=[1.0])
    with pytest.raises(ConfigError, match="eps_high"):
        rm.MapConfig(eps_high=0.2)
    with pytest.raises(ConfigError, match="qs"):
        rm.MapConfig(qs=(1.5,))
    with pytest.raises(ConfigError, match="profile"):
        rm.MapConfig.from_profile("huge")


# ---------------------------------------------------------------------------------------------------------
# synthetic tables

MARGIN = 0.02


def cell(rule="symmetric", mode="correct", gain=-0.05, ci=0.01, **kw):
    clipped = rule != "none"
    row = dict(
        slice="step", K=10, G=16, eta=0.5, mu=8, q=0.5, rule=rule, mode=mode, initial_acc=0.5, gain=gain, gain_ci=ci,
        n=64, dH=-0.1, dH_ci=0.01, clip_high=0.01 if clipped else 0.0, clip_low=0.01 if clipped else 0.0,
        law_ratio=20.0, gain_vs_none=0.0, gain_vs_none_ci=0.01, clip_drift=-0.01 if clipped else 0.0,
        clip_drift_ci=0.001, unclipped_drift=0.002, unclipped_drift_ci=0.001, c5_net=-1.0, measured_net=-1.0,
        margin=MARGIN,
    )  # fmt: skip
    return {**row, **kw}


def table(*cells):
    return rm.classify(pd.DataFrame(list(cells)), MARGIN)


def by_rule(t):
    return t.set_index(["rule", "eta"])


def test_classify_decisions_and_every_mechanism():
    t = table(
        cell("none", gain=0.05, eta=0.1),  # the unclipped update gains on its own
        cell("symmetric", gain=0.05, eta=0.1, gain_vs_none=0.02),  # ... and clipping adds to it
        cell("upper-only", gain=0.05, eta=0.1, gain_vs_none=0.0),  # ... clipping adds nothing detectable
        cell("none", gain=-0.05, eta=0.2),
        cell("symmetric", gain=0.05, eta=0.2, gain_vs_none=0.1),  # only clipping
        cell("upper-only", gain=0.05, eta=0.2, gain_vs_none=0.005),  # neither shows it
        cell("lower-only", gain=0.005, ci=0.005, eta=0.2),  # within the margin
        cell("clip-higher", gain=0.01, ci=0.05, eta=0.2),  # undecided
    )
    r = by_rule(t)
    assert r.loc[("none", 0.1), "mechanism"] == "unclipped update"
    assert r.loc[("symmetric", 0.1), "mechanism"] == "unclipped update + clipping"
    assert r.loc[("upper-only", 0.1), "mechanism"] == "unclipped update"
    assert r.loc[("symmetric", 0.2), "mechanism"] == "clipping"
    assert r.loc[("upper-only", 0.2), "mechanism"] == "undetermined"
    assert r.loc[("none", 0.2), "decision"] == "not supported" and r.loc[("none", 0.2), "mechanism"] == ""
    assert r.loc[("lower-only", 0.2), "decision"] == "effect excluded"
    assert r.loc[("clip-higher", 0.2), "decision"] == "inconclusive"
    assert set(t.mechanism) - {""} <= set(rm.MECHANISMS)


def verdicts(*cells):
    e0, sym = rm.e0_verdicts(table(*cells), MARGIN)
    assert e0.claim == "E0 (any clip rule)" and sym.claim == "E0 (symmetric clipping)"
    for v in (e0, sym):
        assert v.level == "tabular" and v.polarity == 1 and v.statement.startswith("random-reward GRPO")
        assert v.reason in rm.REASONS
    return e0, sym


def test_e0_supported_names_where():
    e0, sym = verdicts(cell("symmetric", gain=0.05, eta=0.2, gain_vs_none=0.1), cell("none", eta=0.2))
    assert (e0.verdict, e0.reason) == ("supported", "gain_somewhere")
    assert (sym.verdict, sym.reason) == ("supported", "gain_somewhere")
    assert "symmetric, step slice: eta 0.2 x mu 8" in e0.statistic and "(clipping)" in e0.statistic
    assert e0.stance() == 1


def test_e0_supported_while_symmetric_clipping_loses():
    e0, sym = verdicts(cell("upper-only", gain=0.05), cell("symmetric", gain=-0.05), cell("none", gain=0.001))
    assert e0.verdict == "supported" and "upper-only" in e0.statistic
    assert (sym.verdict, sym.reason) == ("not supported", "no_gain_anywhere") and sym.stance() == -1


def test_e0_inconclusive_with_the_seeds_to_decide():
    e0, sym = verdicts(cell("symmetric", gain=0.01, ci=0.05), cell("none", gain=-0.05))
    assert (e0.verdict, e0.reason) == ("inconclusive", "undecided_cells") and "seeds" in e0.statistic
    assert sym.verdict == "inconclusive"


def test_e0_effect_excluded_when_every_cell_is_within_the_margin():
    e0, sym = verdicts(cell("symmetric", gain=0.005, ci=0.005), cell("none", gain=-0.005, ci=0.005))
    assert (e0.verdict, e0.reason) == ("effect excluded", "within_margin_everywhere")
    assert sym.verdict == "effect excluded"


def test_e0_not_testable_without_cells_or_without_clipping():
    e0, sym = verdicts(cell("symmetric", mode="wrong", gain=0.05))
    assert (e0.verdict, e0.reason) == ("not testable here", "no_cells") and sym.reason == "no_cells"
    e0, sym = verdicts(cell("symmetric", gain=0.05, clip_high=0.0, clip_low=0.0), cell("none", gain=0.05))
    assert e0.verdict == "supported"
    assert (sym.verdict, sym.reason) == ("not testable here", "check_failed")


def test_a_cell_on_two_slices_counts_once():
    shared = dict(rule="upper-only", gain=0.05)
    e0, _ = verdicts(cell(**shared), cell(**shared, slice="group"), cell("symmetric"))
    assert e0.statistic.startswith("1 of 2 mode-correct cells") and "step, group slices" in e0.statistic


def test_e0_judges_somewhere_with_intervals_widened_for_the_family():
    """One cell of 40 clears zero by its own interval (as about 1 in 40 would by chance): not enough."""
    lone = cell("symmetric", gain=0.05, ci=0.045, gain_vs_none=0.1)
    rest = [cell("symmetric", gain=-0.01, ci=0.03, eta=0.01 * (i + 1)) for i in range(39)]
    e0, sym = verdicts(lone, *rest)
    assert (e0.verdict, e0.reason) == ("inconclusive", "undecided_cells")
    assert "40 comparisons (Bonferroni); by each cell's own 95% interval 1 gain" in e0.statistic
    assert "chance alone would give about 1.0" in e0.statistic and sym.verdict == "inconclusive"
    t = table(lone, *rest)
    assert bool(t.gain_cell.iloc[0]) and not bool(t.gain_fw.iloc[0]) and (t.family == 40).all()


@pytest.mark.parametrize(
    "p, df, value",
    [(0.995, 30, 2.750), (0.9995, 60, 3.460), (0.9995, 120, 3.373), (0.995, 120, 2.617)],  # standard t tables
)
def test_t_quantile_against_tables(p, df, value):
    assert rm.t_quantile(p, df) == pytest.approx(value, abs=2e-3)


def test_family_half_is_the_plain_interval_for_one_comparison_and_widens_with_more():
    from rlvr_lib.stats import t975

    assert rm.family_half([0.1], [64], 1)[0] == pytest.approx(0.1, rel=1e-12)
    assert rm.family_half([0.1], [61], 20)[0] == pytest.approx(0.1 * rm.t_quantile(1 - 0.025 / 20, 60) / t975(60))
    assert rm.family_half([0.1], [61], 20)[0] > 0.15 and np.isnan(rm.family_half([0.1], [1], 3)[0])


# ---------------------------------------------------------------------------------------------------------
# the reported regime


def step_rows(rates: dict, mu=8):
    return table(*[cell("symmetric", eta=e, mu=mu, clip_high=r, law_ratio=30.0) for e, r in rates.items()])


def test_reported_placement_interpolates_the_clip_rate_in_log_log():
    rep = rm.reported_placement(step_rows({0.1: 2e-4, 1.0: 1e-2, 2.0: 1e-1}, mu=8)).iloc[0]
    # log10 2e-4 = -3.699 and -2 bracket -3: a fraction 0.699 / 1.699 of the way from log10 0.1 to log10 1.0
    frac = (math.log10(2e-4) + 3) / (math.log10(2e-4) + 2)
    assert rep.eta_at_reported == pytest.approx(10 ** (-1 + frac), rel=1e-12)
    assert rep.within_reach and rep.nearest_eta == 0.1 and rep.nearest_clip_high == 2e-4
    s = rm.reported_sentence(pd.DataFrame([rep]))
    assert "lies within the map's reach" in s and "5.0 times below the reported rate" in s
    assert "|N_raw| / |C+| = 30" in s and "bound at its stated parameters, not a measurement" in s


def test_reported_placement_beyond_reach_and_not_placeable():
    rep = rm.reported_placement(step_rows({0.5: 4e-2, 1.0: 8e-2}))
    r = rep.iloc[0]
    assert not r.within_reach and np.isnan(r.eta_at_reported) and r.nearest_eta == 0.5
    s = rm.reported_sentence(rep)
    assert "beyond the map's reach" in s and "4.0e-02 to 8.0e-02" in s and "40.0 times above" in s
    none = rm.reported_placement(step_rows({0.5: 0.0, 1.0: 0.0}))
    assert "cannot be placed" in rm.reported_sentence(none)
    other_depth = rm.reported_placement(step_rows({0.5: 1e-3}, mu=4))
    assert other_depth.iloc[0].cells == 0 and "cannot be placed" in rm.reported_sentence(other_depth)


# ---------------------------------------------------------------------------------------------------------
# the reading, branch by branch


def within_rep():
    return rm.reported_placement(step_rows({0.1: 2e-4, 1.0: 1e-2}))


def test_reading_with_gains_under_symmetric_clipping():
    t = table(
        cell("upper-only", gain=0.3, ci=0.05, gain_vs_none=0.4, clip_drift=-0.05, unclipped_drift=0.02),
        cell("symmetric", gain=0.1, ci=0.05, gain_vs_none=0.2, clip_drift=0.03, clip_drift_ci=0.01),
        cell("none", gain=-0.2, c5_net=1.0, measured_net=-1.0),
        cell("upper-only", mode="wrong", gain=-0.04),
        cell("symmetric", mode="wrong", gain=-0.01),
        cell("lower-only", gain=-0.1, c5_net=1.0, measured_net=-1.0),
    )
    text = rm.reading(t, within_rep())
    assert (
        "by at least the margin 0.02 in 2 of the map's 4 cells by each cell's own 95% interval (chance alone would "
        "give about 0.1), 2 of them with the intervals widened for 4 comparisons, under upper-only, symmetric" in text
    )
    assert "the largest gain is +0.300 [+0.250, +0.350] (upper-only, step slice: eta 0.5 x mu 8" in text
    assert "Symmetric clipping does in 1 of its 1 cells, 1 with the intervals widened for 1 comparison (best" in text
    assert "(best +0.100 [+0.050, +0.150], symmetric, step slice" in text
    assert "clipping produces 2." in text
    assert "lowers entropy in 1 and raises it in 1 of the 2 clipped gain cells" in text
    assert "(median -0.010 nats per iteration, against +0.011 for the unclipped update there)" in text
    assert "With the mode wrong, the same settings change accuracy by -0.040 to -0.010." in text
    # clipped cells: upper-only and symmetric agree (-1, -1), lower-only does not (+1 vs -1)
    assert "has the sign of the measured one-step entropy drift in 2 of the 3 clipped cells" in text
    assert "lies within the map's reach" in text


def test_reading_without_any_gain():
    t = table(cell("symmetric", gain=-0.05), cell("none", gain=-0.02), cell("upper-only", gain=0.004, ci=0.005))
    text = rm.reading(t, within_rep())
    assert "in none of the map's 3 cells; the best is +0.004 [-0.001, +0.009] (upper-only" in text
    assert "Symmetric clipping never does on this map: its best cell is -0.050 [-0.060, -0.040]." in text
    assert "paired difference" not in text and "mode wrong" not in text


def test_reading_gain_without_clipping_and_without_symmetric_cells():
    t = table(cell("none", gain=0.05), cell("upper-only", gain=0.05, gain_vs_none=0.0))
    text = rm.reading(t, rm.reported_placement(t))
    assert "under none, upper-only" in text and "The map has no symmetric cell." in text
    assert "the unclipped update 2." in text
    assert "cannot be placed" in text


def test_reading_mechanisms_together_and_undetermined():
    t = table(
        cell("none", gain=0.05, eta=0.1),
        cell("symmetric", gain=0.05, eta=0.1, gain_vs_none=0.05),
        cell("none", gain=0.0, ci=0.1, eta=0.2),
        cell("upper-only", gain=0.05, eta=0.2, gain_vs_none=0.0),
    )
    text = rm.reading(t, within_rep())
    assert "the unclipped update 1, the two together 1, 1 stay undetermined." in text


def test_the_gain_table_pairs_each_gain_with_its_control():
    t = table(cell("upper-only", gain=0.3), cell("upper-only", mode="wrong", gain=-0.03), cell("none"))
    g = rm.gain_table(t)
    assert len(g) == 1 and g.gain_mode_wrong.iloc[0] == -0.03 and g.mechanism.iloc[0] == "undetermined"
    s = rm.rule_summary(t).set_index("rule")
    assert s.loc["upper-only", "gain_cells"] == 1 and s.loc["none", "gain_cells"] == 0
    assert list(s.index) == ["none", "upper-only"]


# ---------------------------------------------------------------------------------------------------------
# the figure and the front-page entry points


def test_figure_and_reading_from_saved_results(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    assert rm.regime_map_figure(tmp_path) is None and rm.regime_map_reading(tmp_path) is None
    cfg = small_config(etas=(0.1, 1.0), mus=(1, 8), qs=(0.5, 0.9), Ks=(5, 20), Gs=(4, 8), group_etas=(0.5, 1.0))
    t = rm.regime_table(cfg)
    t.to_csv(tmp_path / f"{rm.TABLE}.csv", index=False)
    rm.reported_placement(t).to_csv(tmp_path / f"{rm.REPORTED_TABLE}.csv", index=False)
    fig = rm.regime_map_figure(tmp_path)
    axes = [a for a in fig.axes if a.get_label() != "<colorbar>"][: 3 * len(rm.RULES)]
    assert len(axes) == 3 * len(rm.RULES)
    labels = [ax.get_xlabel() for ax in axes if ax.get_xlabel()] + [ax.get_ylabel() for ax in axes if ax.get_ylabel()]
    assert len(labels) == 3 + 3 and all(lbl[:1].islower() for lbl in labels)
    assert [ax.get_title() for ax in axes[: len(rm.RULES)]] == [f"clip rule: {r}" for r in rm.RULES]
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any(lbl.startswith("reported") for lbl in labels) and any("clip rate" in lbl for lbl in labels)
    assert rm.regime_map_figure(tmp_path, quantity="dH") is not None
    text = rm.regime_map_reading(tmp_path)
    assert text.startswith("Random-reward GRPO raised") and "The paper's regime, as reported" in text


def test_e0_statistic_names_five_gains_and_counts_the_rest_and_the_losses():
    gains = [cell("upper-only", gain=0.05 + 0.01 * i, eta=0.1 * (i + 1)) for i in range(7)]
    e0, _ = verdicts(*gains, cell("symmetric"))
    assert e0.statistic.count("upper-only, step slice") == 5 and e0.statistic.endswith(" and 2 more")
    e0, _ = verdicts(*gains[:6], cell("symmetric"))
    assert e0.statistic.endswith(" and 1 more")
    e0, _ = verdicts(*gains[:5], cell("symmetric"))
    assert e0.statistic.count("upper-only, step slice") == 5 and "more" not in e0.statistic
    # two cells lose, one lies within the margin: not supported, and the losses counted as two
    e0, _ = verdicts(cell("symmetric", eta=0.1), cell("none", eta=0.1), cell("upper-only", gain=0.0, ci=0.005))
    assert (e0.verdict, e0.reason) == ("not supported", "no_gain_anywhere") and "(2 lose)" in e0.statistic
