"""The mechanism probes: exact antithetic pairs, exact counterfactual steps, a deterministic entropy, verdicts."""

import numpy as np
import pandas as pd
import pytest
import torch

from rlvr_lib.clip import ClipRule
from rlvr_lib.experiments import probes as pr
from rlvr_lib.theory.simulator import SimConfig
from rlvr_lib.verdicts import VERDICTS

SUP, NOT, INC = VERDICTS[:3]


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


def test_antithetic_pair_negates_advantages_and_starts_from_one_state(probe):
    model, tok, prompts, prefixes = probe
    r, A = pr.random_advantages(2, 4, np.random.default_rng(0))
    _, A_flip = pr.random_advantages(2, 4, np.random.default_rng(0), p=0.5)
    from rlvr_lib.theory.simulator import group_advantages

    flipped = group_advantages(torch.tensor(1 - r).view(2, 4)).reshape(-1)
    assert torch.equal(flipped, -A) and torch.equal(A, A_flip)
    start = params(model)
    batch = pr.rollout(model, tok, prompts[:2], 4, 16, seed=1)
    seen = []
    for sign in (1.0, -1.0):
        state = pr.snapshot(model)
        seen.append(params(model))
        pr.grpo_step(model, tok, pr.make_optimizer("sgd", model, 0.05), batch, sign * A, ClipRule("none"))
        pr.restore(model, state)
    assert torch.equal(seen[0], seen[1]) and torch.equal(params(model), start)
    # the probe itself: with a vanishing step the even part vanishes faster than the odd part
    pairs = pr.antithetic_pairs(
        model,
        tok,
        "s",
        prompts,
        prefixes,
        n_batches=1,
        prompts_per_batch=2,
        G=4,
        configs=[("sgd", 1e-4), ("sgd", 1e-3)],
        max_new_tokens=16,
        seed=0,
    )
    assert torch.equal(params(model), start)
    small, big = pairs.iloc[0], pairs.iloc[1]
    assert abs(small.even) / abs(big.even) < 0.03 and 0.05 < abs(small.odd) / abs(big.odd) < 0.2  # ~1/100, ~1/10


def test_counterfactual_none_step_equals_the_plain_step_with_optimizer_history(probe):
    import copy

    model, tok, prompts, _ = probe
    start = pr.snapshot(model)
    opt = pr.make_optimizer("adam", model, 1e-3)
    batch = pr.rollout(model, tok, prompts[:4], 4, 16, seed=2)
    _, A = pr.random_advantages(4, 4, np.random.default_rng(1))
    for j in range(2):  # Adam now has moments: the case where a careless restore goes wrong
        mb, Aj = pr.minibatch(batch, A, j, 8)
        pr.grpo_step(model, tok, opt, mb, Aj, ClipRule("symmetric", 0.2))
    mb, Aj = pr.minibatch(batch, A, 1, 8)
    plain_model, plain_opt = copy.deepcopy(model), None
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


def test_tabular_counterfactual_rules_agree_when_nothing_can_clip():
    cfg = SimConfig(K=5, G=8, eta=0.3, mu=1, iterations=3, seeds=16, seed=0)  # mu = 1: ratio 1, no clipping
    t = pr.clip_effects(pr.tabular_counterfactual(cfg, 0.2))
    assert np.abs(t[["d_symmetric", "d_upper_only", "d_lower_only"]].to_numpy()).max() == 0.0
    off = SimConfig(K=5, G=8, eta=0.5, mu=4, iterations=3, seeds=16, seed=0)
    t = pr.clip_effects(pr.tabular_counterfactual(off, 0.2))
    assert np.abs(t.d_symmetric).max() > 0 and t.clip_high.max() > 0


def test_closed_form_coefficients_are_the_simulators():
    from rlvr_lib.theory.simulator import entropy_change_coefficient, skewed_policy

    probs = np.stack([np.full(4, 0.25), skewed_policy(4, 0.97)])
    c = pr.closed_form_coefficients(probs)
    assert c[0] < 0 < c[1] and c[1] == entropy_change_coefficient(probs[1])


# ---------------------------------------------------------------------------------------------------------
# verdicts on synthetic tables, every outcome


def pairs_table(odd_mean=0.0, odd_sd=0.1, slope=2.0, classes=(("style choice", -1.0), ("near-deterministic", 1.0))):
    """Even part 0.1 lr^slope (1% noise); odd part (odd_mean +- odd_sd, alternating) times the even part's size."""
    rng = np.random.default_rng(0)
    rows = []
    for b in range(20):
        for lr in (0.003, 0.01, 0.03):
            size = 1e-1 * lr**slope
            even = size * (1 + 0.01 * rng.normal())
            row = {
                "state": "base",
                "batch": b,
                "optimizer": "sgd",
                "lr": lr,
                "even": even,
                "odd": size * (odd_mean + odd_sd * (1 if b % 2 else -1)),
                "abs_odd": size * odd_sd,
            }
            row.update({f"even/{c}": s * even for c, s in classes})
            rows.append(row)
    return pd.DataFrame(rows)


POSITIONS = pd.DataFrame(
    [
        {"state": "base", "class": "style choice", "positions": 10, "closed_form_c": -0.2},
        {"state": "base", "class": "near-deterministic", "positions": 90, "closed_form_c": 0.01},
    ]
)


@pytest.mark.parametrize(
    "kw, c2, c5",
    [
        ({}, SUP, SUP),
        ({"odd_mean": 2.0}, NOT, SUP),  # a first-order drift twice the second-order change
        ({"odd_mean": 0.4, "odd_sd": 0.3}, INC, SUP),  # the interval reaches over the margin
        ({"slope": 1.0}, SUP, NOT),  # the even part scaling linearly
        ({"classes": (("style choice", 1.0), ("near-deterministic", 1.0))}, SUP, NOT),  # a sign against the form
        ({"classes": (("style choice", 0.0), ("near-deterministic", 0.0))}, SUP, INC),  # no sign measured
    ],
)
def test_c2_c5_probe_verdicts(kw, c2, c5):
    v = {x.claim: x.verdict for x in pr.c2_c5_verdicts(pairs_table(**kw), POSITIONS, 0.5, 0.25)}
    assert (v["C2"], v["C5"]) == (c2, c5)


def effects_table(d_sym, d_up, d_low, noise=1e-6):
    rng = np.random.default_rng(0)
    rows = []
    for seed in range(5):
        for step in range(1, 21):
            rows.append(
                {
                    "seed": seed,
                    "step": step,
                    "depth": step % 8,
                    "dH_none": rng.normal(0, 1e-3),
                    "d_symmetric": d_sym + noise * rng.normal(),
                    "d_upper_only": d_up + noise * rng.normal(),
                    "d_lower_only": d_low + noise * rng.normal(),
                    "clip_high": 1e-3,
                    "clip_low": 1e-3,
                    "n_raw": 1.0,
                    "c_plus": 0.01,
                    "ratio_max": 1.3,
                    "ratio_min": 0.7,
                }
            )
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    "d, c6, park",
    [
        ((-1e-4, -1e-4, 1e-4), SUP, SUP),
        ((1e-4, 1e-4, -1e-4), NOT, NOT),
        ((0.0, 0.0, 0.0), INC, INC),
        ((-2e-6, -2e-6, 2e-6), INC, INC),  # below the smallest effect of interest
    ],
)
def test_c6_probe_verdicts(d, c6, park):
    v = pr.c6_verdicts(effects_table(*d), margin=1e-5)
    assert (v[0].verdict, v[1].verdict) == (c6, park)


@pytest.mark.parametrize(
    "d, small, over",
    [
        ({"surrogate_ratio": 50, "mu": -1e-5, "mu_ci": 1e-6, "crossover_step": 4000}, SUP, SUP),
        ({"surrogate_ratio": 0.5, "mu": -1e-4, "mu_ci": 1e-6, "crossover_step": 40}, NOT, NOT),
        ({"surrogate_ratio": 3, "mu": 1e-6, "mu_ci": 1e-5, "crossover_step": 40}, INC, INC),
    ],
)
def test_c3_probe_verdicts(d, small, over):
    base = {"n_seeds": 4, "sigma": 1e-3, "per_step_ratio": 10.0, "steps_per_seed": 40, "upper_clip_rate": 1e-3}
    v = pr.c3_verdicts({**base, **d}, horizon=100)
    assert (v[0].verdict, v[1].verdict) == (small, over)
