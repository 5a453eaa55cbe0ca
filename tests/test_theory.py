"""The theory lab: closed forms against enumeration and Monte Carlo, determinism, shared clip functions."""

import math

import numpy as np
import pytest
import torch

from rlvr_lib.clip import ClipRule
from rlvr_lib.experiments import theory_lab as lab
from rlvr_lib.theory import misalignment as mis
from rlvr_lib.theory import simulator as theory
from rlvr_lib.theory.simulator import SimConfig


@pytest.mark.parametrize("G", [2, 3, 5, 8, 16])
def test_c1_enumeration(G):
    r, probs, A = theory.enumerate_advantages(G, 0.5)
    assert probs.sum() == pytest.approx(1.0)
    assert np.abs(A).max() == pytest.approx(math.sqrt(G) - 1 / math.sqrt(G), abs=1e-12)
    for k in (1, 3, 5):
        assert abs((probs[:, None] * A**k).sum(0)).max() < 1e-12
    assert np.allclose(A[::-1], -A)  # complement vectors negate the advantages
    allsame = (r == r[:, :1]).all(1)
    assert np.all(A[allsame] == 0)


def test_group_advantages_match_a_naive_loop():
    g = torch.Generator().manual_seed(0)
    r = (torch.rand(50, 6, generator=g) < 0.4).double()
    A = theory.group_advantages(r)
    for i in range(50):
        row = r[i].tolist()
        m = sum(row) / 6
        sd = math.sqrt(sum((x - m) ** 2 for x in row) / 5)
        for j in range(6):
            assert A[i, j].item() == pytest.approx(0.0 if sd == 0 else (row[j] - m) / sd, abs=1e-12)


@pytest.mark.parametrize("pi, c", [(np.full(10, 0.1), -0.45), (theory.skewed_policy(100, 0.9), 0.4546)])
def test_c5_closed_form_values_from_the_brief(pi, c):
    assert theory.entropy_change_coefficient(pi) == pytest.approx(c, abs=1e-3)


@pytest.mark.parametrize(
    "pi", [np.full(10, 0.1), theory.skewed_policy(10, 0.5), theory.skewed_policy(100, 0.9), np.array([0.6, 0.3, 0.1])]
)
def test_c5_closed_form_against_monte_carlo(pi):
    """Tolerance: 4 standard errors plus 3% for the O(eta^3) remainder at eta = 0.02."""
    eta = 0.02
    m, se, first, first_se = theory.mc_entropy_change(pi, eta, 1.0, n=40_000, seed=1)
    cf = eta**2 * theory.entropy_change_coefficient(pi)
    assert abs(m - cf) < 4 * se + 0.03 * abs(cf)
    assert abs(first) <= 4 * first_se + 1e-15  # the first-order term has mean zero (C2); exactly 0 when uniform


def test_entropy_of_softmax():
    z = torch.log(torch.tensor([[0.5, 0.25, 0.25]], dtype=torch.float64))
    assert theory.softmax_entropy(z).item() == pytest.approx(-(0.5 * math.log(0.5) + 0.5 * math.log(0.25)))


def test_simulation_is_deterministic_for_a_seed():
    cfg = SimConfig(K=5, L=3, G=8, eta=0.5, mu=2, iterations=4, seeds=16, seed=3)
    a = theory.simulate(cfg, ClipRule("symmetric"))
    b = theory.simulate(cfg, ClipRule("symmetric"))
    assert all(np.array_equal(a[k], b[k], equal_nan=True) for k in a)
    c = theory.simulate(cfg.__class__(**{**cfg.__dict__, "seed": 4}), ClipRule("symmetric"))
    assert not np.array_equal(a["entropy"], c["entropy"])


def test_grpo_step_gradient_matches_the_policy_gradient_formula():
    """On-policy first inner step without clipping: dz = eta / (G L) * sum_i A_i (e_{y_i} - pi) per position."""
    cfg = SimConfig(K=4, L=1, G=6, eta=0.3, mu=1, iterations=1, seeds=5, seed=0, init="skewed", q=0.6)
    z0 = theory.initial_logits(cfg)
    z1, _ = theory.grpo_iteration(z0, cfg, ClipRule("none"), torch.Generator().manual_seed(7))
    g = torch.Generator().manual_seed(7)
    probs = torch.softmax(z0, -1)
    y = torch.multinomial(probs.reshape(5, 4), 6, replacement=True, generator=g)  # (S, G)
    r = (torch.rand(5, 6, generator=g, dtype=torch.float64) < 0.5).double()
    A = theory.group_advantages(r)
    onehot = torch.nn.functional.one_hot(y, 4).double()  # (S, G, K)
    expected = z0[:, 0] + cfg.eta / 6 * (A[..., None] * (onehot - probs[:, 0, None, :])).sum(1)
    assert torch.allclose(z1[:, 0], expected, atol=1e-12)


def test_c10_closed_form_enumeration_and_monte_carlo():
    for n_c in range(17):
        e, v = mis.delta_moments(n_c, 16)
        ee, ve = mis.delta_moments_enumerated(n_c, 16)
        assert e == pytest.approx(ee, abs=1e-12) and v == pytest.approx(ve, abs=1e-12)
    assert mis.delta_moments(8, 16) == (4.0, 1.0)
    x = mis.simulate_delta(5, 16, n=100_000, seed=2)
    e, v = mis.delta_moments(5, 16)
    assert abs(x.mean() - e) < 4 * x.std() / math.sqrt(x.size)
    assert x.var() == pytest.approx(v, rel=0.03)
    # (G - 1) p (1 - p) worked by hand for G = 16: 15 x 0.25 x 0.75 = 2.8125, 15 x 0.2 x 0.8 = 2.4, 0 at p = 0
    for p, by_hand in ((0.0, 0.0), (0.25, 2.8125), (0.75, 2.8125), (0.2, 2.4), (0.8, 2.4), (0.5, 3.75)):
        assert mis.expected_delta_over_p(p, 16) == pytest.approx(by_hand, abs=1e-12)
        assert mis.expected_delta_over_p_enumerated(p, 16) == pytest.approx(by_hand, abs=1e-12)


def test_the_enumerated_mixture_does_not_call_the_closed_forms(monkeypatch):
    """The enumeration over n_c sums enumerated conditional means, so breaking the closed forms changes nothing."""
    monkeypatch.setattr(mis, "delta_moments", lambda n_c, G: (float("nan"), float("nan")))
    monkeypatch.setattr(mis, "expected_delta_over_p", lambda p, G: float("nan"))
    assert mis.expected_delta_over_p_enumerated(0.25, 16) == pytest.approx(2.8125, abs=1e-12)


def test_expected_advantage_of_correct_responses_is_zero_under_random_rewards():
    for p in (0.2, 0.8):
        m, se = mis.correct_advantage_mean(p, 16, n=50_000, seed=1)
        assert abs(m) < 4 * se


def test_clipping_bias_ratio_is_large_when_few_tokens_clip_and_falls_as_more_do():
    """The law of clipping's shape: at the smallest step no token clips (ratio infinite); where a few percent
    clip the raw surrogate is more than 5 times the correction (the C3 threshold); the ratio falls as the clip
    rate rises, towards 1 when a third of the tokens clip."""
    etas = [2.0, 4.0, 10.0, 40.0]
    t = lab.c3_scan(SimConfig(K=20, L=8, G=8, mu=3, eta=10.0, seeds=32), ClipRule("symmetric"), "eta", etas)
    assert (t.E_abs_N_raw > 0).all()
    assert t.p_plus.iloc[0] == 0 and np.isinf(t.ratio.iloc[0])
    clipped = t[t.p_plus > 0]
    assert (np.diff(clipped.p_plus) > 0).all() and (np.diff(clipped.ratio) < 0).all()
    few = clipped[clipped.p_plus < 0.05]
    assert len(few) and (few.ratio > 5).all()
    assert clipped.ratio.iloc[-1] < 3
