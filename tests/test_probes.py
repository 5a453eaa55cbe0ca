"""The mechanism probes: exact antithetic pairs, exact counterfactual steps, a deterministic entropy, verdicts
driven to every outcome on synthetic tables, and the closed form against values worked by hand."""

import copy
import math

import numpy as np
import pandas as pd
import pytest
import torch

from rlvr_lib.clip import ClipRule
from rlvr_lib.experiments import probe_run as run
from rlvr_lib.experiments import probes as pr
from rlvr_lib.stats import mean_ci, seeds_to_decide
from rlvr_lib.theory.simulator import SimConfig
from rlvr_lib.verdicts import REASONS as DECIDE_REASONS

SUP, NOT, INC, EXC, NTH = "supported", "not supported", "inconclusive", "effect excluded", "not testable here"


@pytest.fixture(scope="module")
def probe(tiny_base, tiny_base_cfg):
    from rlvr_lib.testbed.tasks import eval_items, train_rows

    model, tok = pr.load_probe_model(tiny_base)
    prompts = [r["prompt"] for r in train_rows(tiny_base_cfg.task)]
    prefixes = pr.sample_rows(model, tok, [it["prompt"] for it in eval_items(tiny_base_cfg.task, 0.0)][:4], 1, 16, 3)
    return model, tok, prompts, prefixes


def params(model):
    return torch.cat([p.detach().reshape(-1).clone() for p in model.parameters()])


def test_fixed_prefix_entropy_is_deterministic_and_float64(probe):
    model, tok, _, prefixes = probe
    a, b = pr.position_entropies(model, tok, prefixes), pr.position_entropies(model, tok, prefixes)
    assert a.dtype == torch.float64 and torch.equal(a, b) and len(a) == pr.completion_mask(prefixes).sum()


def test_float64_probe_model_has_no_float32_rounding_floor(tiny_base, probe):
    """The even part of an antithetic pair is second order down to tiny steps only when nothing in the forward pass
    rounds to float32: with the model's own RMS norm (float32 inside) the ratio of even parts at step sizes 1e-5
    and 1e-4 is off 1/100 by the rounding floor."""
    _, tok, prompts, prefixes = probe

    def even_ratio(model):
        pairs = pr.antithetic_pairs(
            model,
            tok,
            "s",
            prompts,
            prefixes,
            n_batches=1,
            prompts_per_batch=2,
            G=4,
            lrs=[1e-5, 1e-4],
            max_new_tokens=16,
            seed=0,
        )
        return pairs.even.iloc[0] / pairs.even.iloc[1]

    exact, _ = pr.load_probe_model(tiny_base)
    assert even_ratio(exact) == pytest.approx(0.01, rel=1e-3)
    plain, _ = pr.load_probe_model(tiny_base, "float32")
    plain = plain.double()  # float64 weights, but the model's own norm (float32 inside)
    assert abs(even_ratio(plain) / 0.01 - 1) > 1e-2


def test_antithetic_pair_is_two_plain_sgd_steps_with_negated_advantages(probe):
    """The one-gradient shortcut against two real SGD steps taken by the trainer's own step function."""
    model, tok, prompts, prefixes = probe
    r, A = pr.random_advantages(2, 4, np.random.default_rng(0))
    from rlvr_lib.theory.simulator import group_advantages

    assert torch.equal(group_advantages(torch.tensor(1 - r).view(2, 4)).reshape(-1), -A)  # C1: 1 - r negates A
    start = params(model)
    gen = np.random.default_rng([0, 0xA471])
    idx = gen.choice(len(prompts), 2, replace=False)
    batch = pr.rollout(model, tok, [prompts[i] for i in idx], 4, 16, seed=0)
    _, A = pr.random_advantages(2, 4, gen)
    h0 = pr.position_entropies(model, tok, prefixes)
    dh = {}
    for sign in (1.0, -1.0):
        state = pr.snapshot(model)
        pr.grpo_step(model, tok, pr.make_optimizer("sgd", model, 0.05), batch, sign * A, ClipRule("none"))
        dh[sign] = (pr.position_entropies(model, tok, prefixes) - h0).numpy()
        pr.restore(model, state)
    pairs = pr.antithetic_pairs(
        model,
        tok,
        "s",
        prompts,
        prefixes,
        n_batches=1,
        prompts_per_batch=2,
        G=4,
        lrs=[0.05],
        max_new_tokens=16,
        seed=0,
    )
    assert torch.equal(params(model), start)
    row = pairs.iloc[0]
    assert row.even == pytest.approx(0.5 * (dh[1.0] + dh[-1.0]).mean(), rel=1e-9, abs=1e-15)
    assert row.odd == pytest.approx(0.5 * (dh[1.0] - dh[-1.0]).mean(), rel=1e-9, abs=1e-15)


def test_counterfactual_step_shares_steps_exactly_where_rules_coincide(probe):
    """Every rule's entropy change from the shortcut equals the rule applied on its own from the same snapshot,
    and the model ends where the followed (symmetric) step takes it - at depths where clipping binds."""
    model, tok, prompts, prefixes = probe
    m = copy.deepcopy(model).float()
    start = copy.deepcopy(m.state_dict())
    opt = pr.make_optimizer("adam", m, 3e-3)
    batch = pr.rollout(m, tok, prompts[:8], 4, 16, seed=2)
    _, A = pr.random_advantages(8, 4, np.random.default_rng(1))
    h = pr.fixed_prefix_entropy(m, tok, prefixes)
    bound = set()
    for j in range(4):
        mb, Aj = pr.minibatch(batch, A, j, 8)
        state = pr.snapshot(m, opt)
        alone = {}
        for rule in pr.RULES:
            pr.restore(m, state, opt)
            st = pr.grpo_step(m, tok, opt, mb, Aj, ClipRule(rule, 0.2), 1.0)
            alone[rule] = (pr.fixed_prefix_entropy(m, tok, prefixes) - h, st)
            if rule == "symmetric":
                after_symmetric = params(m)
        pr.restore(m, state, opt)
        res = {
            x["rule"]: x
            for x in pr.counterfactual_step(
                m, tok, opt, mb, Aj, prefixes, h, eps=0.2, max_grad_norm=1.0, rules=pr.RULES, follow="symmetric"
            )
        }
        for rule in pr.RULES:
            assert res[rule]["dH"] == pytest.approx(alone[rule][0], rel=1e-5, abs=1e-7), (j, rule)
            assert res[rule]["clip_high"] == alone[rule][1]["clip_high"]
            assert res[rule]["clip_low"] == alone[rule][1]["clip_low"]
        torch.testing.assert_close(params(m), after_symmetric, rtol=0, atol=1e-6)
        bound |= {s for s in ("clip_high", "clip_low") if res["symmetric"][s] > 0}
        h += res["symmetric"]["dH"]
    assert bound == {"clip_high", "clip_low"}  # both sides bound somewhere: the sharing was exercised
    m.load_state_dict(start)


def test_counterfactual_none_step_equals_the_plain_step_with_optimizer_history(probe):
    model, tok, prompts, _ = probe
    start = pr.snapshot(model)
    opt = pr.make_optimizer("adam", model, 1e-3)
    batch = pr.rollout(model, tok, prompts[:4], 4, 16, seed=2)
    _, A = pr.random_advantages(4, 4, np.random.default_rng(1))
    for j in range(2):  # Adam now has moments: the case where a careless restore goes wrong
        mb, Aj = pr.minibatch(batch, A, j, 8)
        pr.grpo_step(model, tok, opt, mb, Aj, ClipRule("symmetric", 0.2))
    mb, Aj = pr.minibatch(batch, A, 1, 8)
    plain_model = copy.deepcopy(model)
    plain_opt = pr.make_optimizer("adam", plain_model, 1e-3)
    plain_opt.load_state_dict(copy.deepcopy(opt.state_dict()))
    pr.grpo_step(plain_model, tok, plain_opt, mb, Aj, ClipRule("none"))
    state = pr.snapshot(model, opt)
    for name in ("upper_only", "symmetric", "none"):  # 'none' last, after two other steps from the snapshot
        pr.restore(model, state, opt)
        pr.grpo_step(model, tok, opt, mb, Aj, ClipRule(name, 0.2))
    torch.testing.assert_close(params(model), params(plain_model), rtol=0, atol=1e-12)
    pr.restore(model, start)


def test_minibatch_keeps_the_rollout_log_probs_aligned(probe):
    model, tok, prompts, _ = probe
    batch = pr.rollout(model, tok, prompts[:4], 4, 16, seed=5)
    _, A = pr.random_advantages(4, 4, np.random.default_rng(0))
    for j in range(2):
        mb, _ = pr.minibatch(batch, A, j, 8)
        logp, _, mask = pr.token_logps(model, tok, mb)
        torch.testing.assert_close(logp[mask], mb.old_logp[mask], rtol=0, atol=1e-9)  # on-policy: ratio 1


def test_branches_start_from_the_rollouts_state_and_leave_the_followed_path_alone(probe):
    model, tok, prompts, prefixes = probe
    m = copy.deepcopy(model).float()
    start = copy.deepcopy(m.state_dict())
    kw = dict(
        rollouts=2,
        steps_per_rollout=2,
        prompts_per_step=2,
        G=4,
        lr=1e-3,
        eps=0.2,
        max_grad_norm=1.0,
        max_new_tokens=16,
        seed=3,
    )
    plain, _ = pr.branched_trajectory(m, tok, prompts, prefixes, **kw)
    m.load_state_dict(start)
    branched, kept = pr.branched_trajectory(
        m, tok, prompts, prefixes, branch_lrs=(1e-2,), branch_rollouts=(1,), keep_state_after=1, **kw
    )
    on_path = branched[~branched.branch].reset_index(drop=True)
    pd.testing.assert_frame_equal(on_path, plain, check_exact=False, rtol=1e-5, atol=1e-9)
    off = branched[branched.branch]
    assert set(off.lr) == {1e-2} and set(off.rollout) == {1} and len(off) == 2 * len(pr.RULES)
    assert kept is not None and set(kept) == set(start)


def test_tabular_counterfactual_rules_agree_when_nothing_can_clip():
    cfg = SimConfig(K=5, G=8, eta=0.3, mu=1, iterations=3, seeds=16, seed=0)  # mu = 1: ratio 1, no clipping
    t = pr.clip_effects(pr.tabular_counterfactual(cfg, 0.2))
    assert np.abs(t[["d_symmetric", "d_upper_only", "d_lower_only"]].to_numpy()).max() == 0.0
    off = SimConfig(K=5, G=8, eta=0.5, mu=4, iterations=3, seeds=16, seed=0)
    raw = pr.tabular_counterfactual(off, 0.2)
    assert list(raw.opt_steps.unique()) == [4, 8, 12]  # a GRPO iteration is mu optimizer steps
    t = pr.clip_effects(raw)
    assert np.abs(t.d_symmetric).max() > 0 and t.clip_high.max() > 0
    np.testing.assert_allclose(t.dH_symmetric, t.dH_none + t.d_symmetric, rtol=0, atol=1e-12)


def test_closed_form_coefficients_against_values_worked_by_hand():
    """c(pi) = sum pi^2 (log pi + H) - (1 - sum pi^2) / 2 (C5, reconstructed), by hand:

    uniform over 10: log pi + H = 0 for every action, sum pi^2 = 0.1, so c = -(1 - 0.1) / 2 = -0.45.
    0.9 plus 99 actions at 0.1/99: H = -0.9 ln 0.9 - 0.1 ln(0.1/99) = 0.094824 + 0.689771 = 0.784595;
    sum pi^2 = 0.81 + 0.01/99 = 0.810101; first term 0.81 (-0.105361 + 0.784595) + (0.01/99)(-6.897705 +
    0.784595) = 0.550180 - 0.000617 = 0.549563; c = 0.549563 - (1 - 0.810101) / 2 = 0.454613."""
    uniform = np.full(10, 0.1)
    skewed = np.concatenate([[0.9], np.full(99, 0.1 / 99)])
    c_uniform = pr.closed_form_coefficients(uniform[None])[0]
    c_skewed = pr.closed_form_coefficients(np.pad(skewed, (0, 0))[None])[0]
    assert c_uniform == pytest.approx(-0.45, abs=1e-12)
    assert c_skewed == pytest.approx(0.454613, abs=2e-6)


def test_position_classes_follow_their_definitions():
    probs = np.array([[0.995, 0.005], [0.6, 0.4], [0.5, 0.5]])
    first = np.array([False, False, True])
    assert list(pr.position_classes(probs, first)) == ["near-deterministic", "uncertain", "style choice"]


# ---------------------------------------------------------------------------------------------------------
# decision helpers, by hand


def test_equivalence_decisions_and_the_units_they_would_need():
    assert pr.equivalence(0.1, 0.2, 10, 0.5, "b")[::2] == (SUP, "inside_margin")
    assert pr.equivalence(0.9, 0.2, 10, 0.5, "b")[::2] == (NOT, "outside_margin")
    assert pr.equivalence(-0.9, 0.2, 10, 0.5, "b")[::2] == (NOT, "outside_margin")
    assert pr.equivalence(0.6, 0.1, 10, 0.5, "b")[::2] == (NOT, "outside_margin")  # touching the bound from beyond
    d = pr.equivalence(0.4, 0.3, 4, 0.5, "batches")
    assert d[::2] == (INC, "straddles_margin")
    # sd = 0.3 * 2 / 3.182 = 0.18856; the interval must clear the bound by 0.1: t(k-1) 0.18856 / sqrt(k) <= 0.1
    # holds first at k = 17 (2.120 * 0.18856 / 4.123 = 0.0970; k = 16: 2.131 * 0.18856 / 4 = 0.1005)
    assert "about 17 batches" in d.note
    assert pr.equivalence(0.0, math.nan, 1, 0.5, "b").reason == "no_interval"


def test_threshold_decisions():
    assert pr.threshold_test(2.0, 0.5, 5, 1.0, "t", "1").reason == "above_threshold"
    assert pr.threshold_test(0.2, 0.5, 5, 1.0, "t", "1").reason == "below_threshold"
    d = pr.threshold_test(1.2, 0.5, 5, 1.0, "t", "1")
    assert d.verdict == INC and d.reason == "straddles_threshold" and "no margin" in d.note


# ---------------------------------------------------------------------------------------------------------
# verdicts on synthetic tables, every outcome


def pairs_table(
    slope=2.0,
    slope_sd=0.01,
    odd_mean=0.0,
    classes=(("style choice", -1.0), ("near-deterministic", 1.0)),
    n=20,
    cls_noise=0.01,
):
    """Even part 0.1 lr^slope_b with a per-batch slope slope_b ~ slope +- slope_sd; odd part first order."""
    rng = np.random.default_rng(0)
    rows = []
    for b in range(n):
        s_b = slope + slope_sd * rng.normal()
        for lr in (1e-4, 3e-4, 1e-3):
            even = 1e-1 * lr**s_b
            odd = lr * (odd_mean + rng.normal())
            row = {"state": "base", "batch": b, "lr": lr, "even": even, "odd": odd, "abs_odd": abs(odd)}
            row.update({f"even/{c}": even * (sgn + cls_noise * rng.normal()) for c, sgn in classes})
            rows.append(row)
    return pd.DataFrame(rows)


POSITIONS = pd.DataFrame(
    [
        {"state": "base", "class": "style choice", "positions": 10, "top_prob": 0.6, "closed_form_c": -0.2},
        {"state": "base", "class": "near-deterministic", "positions": 90, "top_prob": 0.999, "closed_form_c": 0.01},
    ]
)


@pytest.mark.parametrize(
    "kw, verdict, reason",
    [
        ({}, SUP, "inside_margin"),
        ({"slope": 1.0}, NOT, "outside_margin"),  # the even part scales linearly: not second order
        ({"slope": 2.25, "slope_sd": 0.2}, INC, "straddles_margin"),  # the interval reaches over 2.25
        ({"n": 1}, INC, "no_interval"),
    ],
)
def test_c2_verdict_decides_the_slope(kw, verdict, reason):
    v = pr.c2_verdict(pairs_table(**kw), 0.25)
    assert (v.verdict, v.reason, v.polarity) == (verdict, reason, 1) and v.claim == "C2" and v.statement


def test_c2_verdict_reports_the_odd_part_as_a_design_check_only():
    """A biased coin (odd part's mean far from zero) shows in the check, never in the verdict."""
    fair, biased = pr.c2_verdict(pairs_table(), 0.25), pr.c2_verdict(pairs_table(odd_mean=5.0), 0.25)
    assert fair.verdict == biased.verdict == SUP
    assert "covers zero" in fair.statistic and "EXCLUDES zero" in biased.statistic


@pytest.mark.parametrize(
    "classes, verdict, reason",
    [
        ((("style choice", -1.0), ("near-deterministic", 1.0)), SUP, "signs_as_predicted"),
        ((("style choice", 1.0), ("near-deterministic", 1.0)), NOT, "sign_against"),
        ((("style choice", -1.0), ("near-deterministic", 0.0)), INC, "one_sign_measured"),
        ((("style choice", 0.0), ("near-deterministic", 0.0)), INC, "no_sign_measured"),
    ],
)
def test_c5_verdict_decides_the_sign_by_class(classes, verdict, reason):
    v = pr.c5_verdict(pairs_table(classes=classes, cls_noise=0.01 if verdict != INC else 1.0), POSITIONS, 3e-4)
    assert (v.verdict, v.reason) == (verdict, reason)
    if verdict == INC:
        assert "batches" in v.statistic and "no margin" in v.statistic


def effects_table(d_sym, d_up, d_low, dh_sym, dh_none=0.0, noise=1e-6, clip=1e-3, n_seeds=5, steps=16):
    """Per-step counterfactual effects: every column its own value, so a rule reading another column fails."""
    rng = np.random.default_rng(0)
    rows = []
    for seed in range(n_seeds):
        for step in range(1, steps + 1):
            rows.append(
                {
                    "seed": seed,
                    "lr": 5e-5,
                    "branch": False,
                    "step": step,
                    "depth": (step - 1) % 8,
                    "dH_none": dh_none + noise * rng.normal(),
                    "d_symmetric": d_sym + noise * rng.normal(),
                    "d_upper_only": d_up + noise * rng.normal(),
                    "d_lower_only": d_low + noise * rng.normal(),
                    "dH_symmetric": dh_sym + noise * rng.normal(),
                    "clip_high": clip,
                    "clip_low": clip,
                    "n_raw": 1.0,
                    "c_plus": 0.01,
                }
            )
    return pd.DataFrame(rows)


def c6(table, **kw):
    return {v.claim: v for v in pr.c6_verdicts(table, margin=1e-5, clip_floor=1e-3, **kw)}


UPPER, LOWER = "C6 (Park et al.: upper clip lowers entropy)", "C6 (Park et al.: lower clip raises entropy)"


@pytest.mark.parametrize(
    "cols, expect",
    [
        # (d_symmetric, d_upper_only, d_lower_only, dH_symmetric) -> (C6, absolute, upper, lower); the columns
        # differ in every case, so a verdict reading the wrong column comes out wrong
        ((-1e-4, 1e-4, -1e-4, 1e-4), (SUP, NOT, NOT, NOT)),
        ((1e-4, -1e-4, 1e-4, -1e-4), (NOT, SUP, SUP, SUP)),
        ((2e-6, -1e-4, 3e-6, -4e-6), (EXC, EXC, SUP, EXC)),
    ],
)
def test_c6_verdicts_read_their_own_columns(cols, expect):
    v = c6(effects_table(*cols))
    assert tuple(v[k].verdict for k in ("C6", "C6 (absolute)", UPPER, LOWER)) == expect
    assert (v["C6"].polarity, v["C6 (absolute)"].polarity, v[UPPER].polarity, v[LOWER].polarity) == (1, 1, 0, 0)
    assert all(x.statement and x.reason in DECIDE_REASONS for x in v.values())


def test_c6_undecided_rows_report_both_unit_counts():
    v = c6(effects_table(-1e-5, -2e-5, 2e-5, -1e-5, noise=3e-4, n_seeds=3, steps=4))
    assert v["C6"].verdict == INC and v["C6"].reason == "undecided"
    assert "trajectories in all" in v["C6"].statistic and "a half-width within the margin" in v["C6"].statistic


def test_c6_relative_rows_need_clipping_to_bind_and_the_absolute_row_does_not():
    v = c6(effects_table(-1e-4, -1e-4, 1e-4, -1e-4, clip=1e-4))
    assert {v[k].verdict for k in ("C6", UPPER, LOWER)} == {NTH} and v["C6 (absolute)"].verdict == SUP


def test_c6_tabular_rows_are_per_optimizer_step():
    """A GRPO iteration of 8 optimizer steps that changes entropy by -8e-4 changes it by -1e-4 per step."""
    v = pr.c6_verdicts(effects_table(0, 0, 0, -8e-4), margin=2e-4, clip_floor=0, relative=False, steps_per_row=8)
    assert [x.claim for x in v] == ["C6 (absolute)"] and v[0].verdict == EXC  # -1e-4 lies within +-2e-4
    assert "-1.00e-04" in v[0].statistic


def drift(d_sym, dh_none, noise, n_seeds=6, steps=32, block=8, steps_per_row=1):
    return pr.drift_stats(
        effects_table(d_sym, 0, 0, 0, dh_none=dh_none, noise=noise, n_seeds=n_seeds, steps=steps), block, steps_per_row
    )


@pytest.mark.parametrize(
    "d_sym, dh_none, noise, verdict, reason",
    [
        (1e-6, 1e-4, 1e-5, SUP, "inside_margin"),  # clipping's drift far inside the unclipped change
        (-1e-3, 1e-6, 1e-6, NOT, "outside_margin"),  # clipping's drift dominates
        (-1e-4, 0.0, 1e-3, INC, "straddles_margin"),
    ],
)
def test_c3_over_training_is_an_equivalence_test_against_the_unclipped_trajectory(
    d_sym, dh_none, noise, verdict, reason
):
    v = pr.c3_over_training_verdict(drift(d_sym, dh_none, noise), 100, "the book's tiny-LM runs")
    assert (v.verdict, v.reason) == (verdict, reason)
    assert v.claim == "C3 (negligible over 100 optimizer steps)" and "envelope" not in v.statistic
    if verdict == INC:
        assert "trajectories in all" in v.statistic


def test_c3_margin_uses_the_unclipped_drift_and_spread_in_optimizer_steps():
    """By hand: sigma of the 8-step block sums, per sqrt(step); m(T) = |mu_raw| T + 1.96 sigma sqrt(T)."""
    e = effects_table(0, 0, 0, 0, dh_none=2e-4, noise=0.0, n_seeds=2, steps=16)
    e.loc[e.step <= 8, "dH_none"] = 1e-4  # block sums 8e-4 and 16e-4 in each trajectory: sd 8e-4 / sqrt(2)
    d = pr.drift_stats(e, 8)
    # sigma per step = (8e-4 / sqrt(2)) / sqrt(8) = 2e-4
    assert d["mu_raw"] == pytest.approx(1.5e-4) and d["sigma_row"] == pytest.approx(2e-4, rel=1e-9)
    hm = pr.horizon_margin(d, 100)
    assert hm["margin"] == pytest.approx(1.5e-4 * 100 + 1.959964 * 2e-4 * 10, rel=1e-6)
    tab = pr.drift_stats(effects_table(-8e-3, 4e-3, 0, 0, dh_none=4e-3, noise=1e-4, n_seeds=4, steps=8), 1, 8)
    assert tab["mu_clip"] == pytest.approx(-1e-3, rel=0.05) and tab["mu_raw"] == pytest.approx(5e-4, rel=0.05)
    hm = pr.horizon_margin(tab, 1600)
    assert hm["rows"] == 200 and hm["cum"] == pytest.approx(-1.6, rel=0.05)  # 1600 steps = 200 iterations


def curve_units_table(ratios, rates=(3e-4, 1e-3, 3e-3), n=4, sd=0.05):
    """Per trajectory and rate: a law-of-clipping ratio (with log-normal noise)."""
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        [
            {
                "seed": s,
                "lr": i,
                "upper_rate": r,
                "lower_rate": r,
                "ratio": q * math.exp(sd * rng.normal()),
                "d_upper": -1e-5,
                "d_lower": 1e-5,
                "d_symmetric": 0.0,
                "steps": 8,
            }
            for s in range(n)
            for i, (r, q) in enumerate(zip(rates, ratios))
        ]
    )


@pytest.mark.parametrize(
    "ratios, rates, verdict, reason",
    [
        ((40, 20, 10), (3e-4, 1e-3, 3e-3), SUP, "above_threshold"),
        ((4, 2, 1), (3e-4, 1e-3, 3e-3), NOT, "below_threshold"),
        ((8, 5, 3), (3e-4, 1e-3, 3e-3), INC, "straddles_threshold"),
        ((40, 20, 10), (3e-3, 1e-2, 3e-2), NTH, "rate_out_of_range"),  # the paper's rate is not on the curve
    ],
)
def test_c3_small_per_step_is_read_off_the_curve_at_the_papers_rate(ratios, rates, verdict, reason):
    v = pr.c3_small_verdict(curve_units_table(ratios, rates), 1e-3, 5.0)
    assert (v.verdict, v.reason) == (verdict, reason)
    assert "REPORTED" in v.statistic and "not a measurement" in v.statistic


def test_curve_is_read_at_the_step_size_whose_rate_is_the_papers():
    """Within a factor 1.5 of the paper's rate, the step size measured on the most trajectories; ties: the nearer."""
    u = pd.concat(
        [
            curve_units_table((30,), rates=(1.1e-3,), n=2).assign(lr=1e-4),  # nearest, but on 2 trajectories
            curve_units_table((20,), rates=(0.8e-3,), n=6).assign(lr=5e-5),  # within 1.5x, on 6 trajectories
            curve_units_table((9,), rates=(3e-3,), n=6).assign(lr=3e-4),  # 3x away: never chosen
        ]
    )
    assert pr.rate_point(u, 1e-3) == 5e-5
    assert pr.rate_point(u[u.lr != 5e-5], 1e-3) == 1e-4
    assert pr.rate_point(u[u.lr == 3e-4], 1e-3) is None
    lr, rate, vals = pr.at_rate(u, 1e-3, "ratio")
    assert (lr, len(vals)) == (5e-5, 6) and rate == pytest.approx(0.8e-3)
    np.testing.assert_allclose(vals, np.log10(20), atol=0.1)


def test_pilot_sizes_within_the_budget_and_flags_what_falls_short():
    p = run.resolve(
        dict(
            profile="full", c6_margin=1e-5, steps_per_rollout=8, horizon=100, reference_horizon=1600, slope_margin=0.25
        )
    )
    big = effects_table(-1e-4, -1e-4, 1e-4, -1e-4, noise=1e-6, n_seeds=3, steps=16)
    sizes, table = run.sizes_from_pilot(big, pairs_table(), p)
    P = pr.PROFILES["full"]
    assert sizes == {"n_trajectories": P["min_trajectories"], "n_batches": P["min_batches"]}
    assert not table.budget_short.any()
    faint = effects_table(-1e-5, -1e-5, 1e-5, -1e-5, noise=3e-4, n_seeds=3, steps=16)
    sizes, table = run.sizes_from_pilot(faint, pairs_table(), p)
    assert sizes["n_trajectories"] == P["max_trajectories"] and table.budget_short.any()


def test_kernel_table_sets_the_two_verdicts_side_by_side():
    from rlvr_lib.verdicts import Verdict

    a = [Verdict("C2", SUP, "s", pr.LEVEL, reason="inside_margin"), Verdict("C5", NOT, "s", pr.LEVEL, reason="x")]
    b = [Verdict("C2", SUP, "t", pr.LEVEL, reason="inside_margin"), Verdict("C5", INC, "t", pr.LEVEL, reason="y")]
    k = run.kernel_table(a, b)
    assert list(k.agree) == [True, False] and list(k.native) == [SUP, INC]


def test_notebook_defaults_are_the_outcome_runs_recipe():
    """The probes' trajectories follow E1's recipe: the notebook's defaults against lm_lab.FULL and the run
    configuration's defaults, not typed twice."""
    import jupytext

    from rlvr_lib.experiments.lm_lab import FULL
    from rlvr_lib.pipeline.runner import NOTEBOOKS
    from rlvr_lib.rl.config import ExperimentConfig

    cell = next(
        c for c in jupytext.read(NOTEBOOKS / "lm_probes.py").cells if "parameters" in c.metadata.get("tags", [])
    )
    ns: dict = {}
    exec(cell.source, ns)
    cfg = ExperimentConfig()
    assert (ns["G"], ns["prompts_per_step"], ns["steps_per_rollout"]) == (
        FULL["num_generations"],
        FULL["prompts_per_step"],
        FULL["steps_per_generation"],
    )
    assert (ns["max_grad_norm"], ns["eps"], ns["max_new_tokens"]) == (
        cfg.max_grad_norm,
        cfg.epsilon,
        cfg.max_completion_length,
    )
    assert ns["reference_horizon"] == 200 * 8  # Shao et al.'s reference run: 200 rollouts x 8 optimizer steps


def test_replica_waits_for_the_pilots_sizes(tmp_path):
    import threading
    import time

    out = tmp_path / "native"
    out.mkdir()
    got = {}
    t = threading.Thread(target=lambda: got.update(run._wait_for(out / "sizes.json", poll_s=0.01)))
    t.start()
    time.sleep(0.1)
    assert t.is_alive() and not got  # nothing sent yet
    run.send_sizes(out, {"n_trajectories": 6, "n_batches": 8})
    t.join(5)
    assert got == {"n_trajectories": 6, "n_batches": 8} and not (out / "sizes.json.tmp").exists()


def test_smoke_overrides_leave_the_full_profile_unchanged():
    p = {"profile": "full", "steps_per_rollout": 8, "G": 8}
    assert run.resolve(p) == p
    s = run.resolve({**p, "profile": "smoke"})
    assert s["steps_per_rollout"] < 8 and s["profile"] == "smoke"


def test_replica_difference_and_the_page_sentence(tmp_path):
    t = {k: pd.DataFrame({"x": [1.0, 2.0], "name": ["a", "b"]}) for k in run.TABLES}
    n = {k: v.copy() for k, v in t.items()}
    n["pairs"] = pd.DataFrame({"x": [1.0, 2.5], "name": ["a", "b"]})
    n["trajectories"] = pd.DataFrame({"x": [1.0], "name": ["a"]})
    d = run.replica_difference(t, n).set_index("table")
    assert d.loc["pairs", "max abs difference"] == 0.5 and d.loc["positions", "max abs difference"] == 0.0
    assert math.isnan(d.loc["trajectories", "max abs difference"])
    from rlvr_lib.verdicts import Verdict

    a = [Verdict("C2", SUP, "s", pr.LEVEL, reason="r"), Verdict("C5", NOT, "s", pr.LEVEL, reason="r")]
    b = [Verdict("C2", SUP, "s", pr.LEVEL, reason="r"), Verdict("C5", INC, "s", pr.LEVEL, reason="r")]
    k = run.kernel_table(a, b).assign(pinned_kernels="AVX2/mkl=AVX2", native_kernels="AVX512/mkl=auto")
    k.to_csv(tmp_path / "probe_kernels.csv", index=False)
    d.reset_index().to_csv(tmp_path / "probe_kernels_diff.csv", index=False)
    table, sentence = run.kernels_page(tmp_path)
    assert list(table.agree) == [True, False]
    assert "1 of 2 probe verdicts agree" in sentence and "C5 [tiny LM (mechanism)]" in sentence
    assert "AVX512" in sentence and "the same ATen kernels" not in sentence
    assert run.kernels_page(tmp_path / "none")[0].empty


def test_native_replica_runs_the_same_probes_in_a_child_process(tiny_cache, tmp_path):
    """The replica at smoke size: it starts before the sizes exist, waits, and writes every table and its kernels;
    its verdicts line up with the parent's row by row."""
    p = run.resolve(
        dict(
            profile="smoke",
            base="default",
            outcome_lr=5e-5,
            lr_grid=[3e-4],
            sgd_lrs=[1e-4, 1e-3],
            eps=0.2,
            G=8,
            prompts_per_step=2,
            steps_per_rollout=8,
            max_grad_norm=1.0,
            max_new_tokens=48,
            slope_margin=0.25,
            c6_margin=4e-5,
            clip_floor=1e-3,
            small_ratio=5.0,
            paper_clip_rate=1e-3,
            horizon=100,
            reference_horizon=1600,
            pilot_seeds=[1000, 1001],
            seed=0,
            threads=1,
            pilot_threads=1,
        )
    )
    sizes = {"n_trajectories": 2, "n_batches": 2}
    proc = run.start_replica(p, tmp_path / "native")
    tables = run.run_all(p, sizes)
    run.send_sizes(tmp_path / "native", sizes)
    native, numerics = run.collect_replica(proc, tmp_path / "native")
    assert set(native) == set(run.TABLES) and "kernels" in numerics
    assert json_params(tmp_path / "native")["base_path"]  # the child probes the parent's base, by path
    d = run.replica_difference(tables, native)
    assert (d["rows pinned"] == d["rows native"]).all()
    k = run.kernel_table(run.probe_verdicts(tables, p), run.probe_verdicts(native, p))
    assert len(k) == len(run.probe_verdicts(tables, p)) and "missing" not in set(k.native)
    # the tabular level gives the absolute C6 row only: its relative rows are the theory lab's
    assert [v.claim for v in run.probe_verdicts(tables, p) if v.level == "tabular" and "C6" in v.claim] == [
        "C6 (absolute)"
    ]


def json_params(out):
    import json

    return json.loads((out / "params.json").read_text())


def test_c2_statistic_gives_the_odd_part_per_unit_step_and_a_point_at_zero_covers_zero():
    t = pairs_table()
    size = float(np.mean([abs(o) / lr for o, lr in zip(t.odd, t.lr)]))  # a plain loop over the rows
    assert f"against a mean size of {size:.2e}" in pr.c2_verdict(t, 0.25).statistic
    exact = t.assign(odd=0.0, abs_odd=0.0)  # a pair that cancels to the last bit: interval [0, 0]
    assert "its interval covers zero" in pr.c2_verdict(exact, 0.25).statistic


def test_c5_reads_the_step_size_it_is_given():
    """The even parts have the predicted signs at lr 3e-4 and the opposite ones at the other step sizes."""
    t = pairs_table()
    other = t.lr != 3e-4
    for c in ("even/style choice", "even/near-deterministic"):
        t.loc[other, c] = -t.loc[other, c]
    assert pr.c5_verdict(t, POSITIONS, 3e-4).verdict == SUP
    assert pr.c5_verdict(t, POSITIONS, 1e-3).verdict == NOT


def test_c5_decides_from_two_batches_and_a_zero_interval_measures_no_sign():
    assert pr.c5_verdict(pairs_table(n=2), POSITIONS, 3e-4).verdict == SUP  # two batches give an interval
    flat = pairs_table(classes=(("style choice", 0.0), ("near-deterministic", 0.0)), cls_noise=0.0)
    v = pr.c5_verdict(flat, POSITIONS, 3e-4)  # every even part exactly 0: [0, 0] is neither side
    assert (v.verdict, v.reason) == (INC, "no_sign_measured")


def test_c5_undecided_classes_report_the_batches_a_sign_would_need():
    t = pairs_table(classes=(("style choice", -1.0), ("near-deterministic", 0.0)), cls_noise=1.0)
    v = pr.c5_verdict(t, POSITIONS, 3e-4)
    assert v.reason == "one_sign_measured"
    vals = t[(t.lr == 3e-4)]["even/near-deterministic"]
    k = seeds_to_decide(*mean_ci(vals), 0.0)  # a sign rule: the distance to clear is the mean's distance to 0
    assert f"the undecided classes' signs would need about {k} batches at the least" in v.statistic


def test_c6_per_step_values_and_the_clip_floor_itself_binds():
    e = effects_table(-1e-4, 1e-4, -1e-4, 1e-4)
    assert "-1.00e-04 [" in c6(e)["C6"].statistic  # one row is one optimizer step on the LM
    share = float((e.clip_high + e.clip_low).mean())
    v = {x.claim: x for x in pr.c6_verdicts(e, margin=1e-5, clip_floor=share)}
    assert v["C6"].verdict == SUP  # a clipped share equal to the floor counts as binding


@pytest.mark.parametrize("measured, extrapolated", [(0, False), (1, True), (32, True), (100, False), (200, False)])
def test_c3_over_training_says_when_it_extrapolates(measured, extrapolated):
    kw = {"measured_steps": measured} if measured else {}
    v = pr.c3_over_training_verdict(drift(1e-6, 1e-4, 1e-5), 100, "the book's tiny-LM runs", **kw)
    assert (f"extrapolated from {measured} measured optimizer steps" in v.statistic) == extrapolated
    assert ("extrapolated" in v.statistic) == extrapolated


def test_c3_over_training_names_grpo_iterations_only_on_the_tabular_level():
    lm_ = pr.c3_over_training_verdict(drift(1e-6, 1e-4, 1e-5), 100, "x").statistic
    tab = pr.c3_over_training_verdict(drift(1e-6, 1e-4, 1e-5, steps=64, steps_per_row=8), 100, "x").statistic
    assert "GRPO iteration" not in lm_ and "per sqrt(step)" in lm_
    assert "horizon T = 100 optimizer steps = 12.5 GRPO iterations" in tab
    assert "nats per optimizer step (a GRPO iteration is 8 optimizer steps)" in tab and "per sqrt(iteration)" in tab
