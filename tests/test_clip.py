"""Clip rules against a naive per-token loop, and the clipping-bias decomposition against its definition."""

import itertools
import math

import pytest
import torch

from rlvr_lib._checks import ConfigError
from rlvr_lib.clip import RULES, ClipRule, clip_objective, clipping_bias


def naive(rule: ClipRule, r: float, a: float):
    """One token, written from the definitions in the clip module's table."""
    el, eh = rule.eps_low, rule.high
    if rule.name == "none":
        return r * a, False, False
    if rule.name in ("symmetric", "asymmetric", "clip_cov"):
        lo, hi = 1 - el, 1 + eh
    elif rule.name == "upper_only":
        lo, hi = -math.inf, 1 + eh
    elif rule.name == "lower_only":
        lo, hi = 1 - el, math.inf
    else:  # two_sided
        lo, hi = 1 - el, 1 + eh
    clipped = min(max(r, lo), hi) * a
    raw = (min(r, rule.delta) if rule.name == "two_sided" else r) * a
    return min(raw, clipped), (r < lo and a < 0), (r > hi and a > 0)


RULE_CASES = [
    ClipRule("none"),
    ClipRule("symmetric", 0.2),
    ClipRule("asymmetric", 0.2, 0.28),
    ClipRule("upper_only", 0.2, 0.3),
    ClipRule("lower_only", 0.1),
    ClipRule("two_sided", 0.2, 0.2, delta=1.5),
]


@pytest.mark.parametrize("rule", RULE_CASES, ids=lambda r: r.name)
def test_rule_matches_naive_loop(rule):
    g = torch.Generator().manual_seed(0)
    ratio = torch.exp(torch.randn(7, 11, generator=g, dtype=torch.float64) * 0.4)
    adv = torch.randn(7, 1, generator=g, dtype=torch.float64)
    out = clip_objective(rule, ratio, adv)
    for i, j in itertools.product(range(7), range(11)):
        obj, lo, hi = naive(rule, ratio[i, j].item(), adv[i, 0].item())
        assert out.objective[i, j].item() == pytest.approx(obj, abs=1e-12)
        assert bool(out.low[i, j]) == lo and bool(out.high[i, j]) == hi


def test_every_rule_is_covered():
    assert {r.name for r in RULE_CASES} | {"clip_cov"} == set(RULES)


def test_gradient_vanishes_exactly_on_clipped_tokens():
    rule = ClipRule("symmetric", 0.2)
    logr = torch.tensor([[0.5, -0.5, 0.05, 0.5, -0.5]], dtype=torch.float64, requires_grad=True)
    adv = torch.tensor([[1.0, -1.0, 1.0, -1.0, 1.0]], dtype=torch.float64)
    out = clip_objective(rule, logr.exp(), adv)
    out.objective.sum().backward()
    clipped = out.low | out.high
    assert clipped.tolist() == [[True, True, False, False, False]]
    assert torch.all(logr.grad[clipped] == 0) and torch.all(logr.grad[~clipped] != 0)


def test_clip_cov_detaches_a_random_share_inside_the_window():
    """Ratios on both sides of 1 (old log-probs are not the current ones), so the rules differ: Clip-Cov's values
    are clip-higher's token by token, unlike the symmetric rule's above 1.2 (A > 0) and the unclipped
    objective's on clipped tokens; its gradient vanishes on clipped tokens and on the ones it selects."""
    g = torch.Generator().manual_seed(0)
    logp = torch.randn(64, 32, generator=g, dtype=torch.float64) * 3
    old = logp + torch.randn(64, 32, generator=g, dtype=torch.float64) * 0.3
    adv = torch.randn(64, 1, generator=g, dtype=torch.float64) * 2
    mask = torch.ones(64, 32)
    rule = ClipRule("clip_cov", 0.2, 0.28, cov_ratio=0.01, cov_lb=1.0, cov_ub=5.0)
    lp = logp.clone().requires_grad_(True)
    ratio = torch.exp(lp - old)
    out = clip_objective(rule, ratio, adv, mask, lp, torch.Generator().manual_seed(1))
    sel, clipped = out.cov_selected, out.low | out.high
    assert int(sel.sum()) == int(0.01 * mask.numel()) == 20
    a = adv.expand_as(logp)
    cov = (a - a.mean()) * (logp - logp.mean())
    assert torch.all((cov[sel] > 1.0) & (cov[sel] < 5.0)) and not torch.any(sel & clipped)
    r = ratio.detach()
    want = [[naive(rule, r[i, j].item(), adv[i, 0].item()) for j in range(32)] for i in range(64)]
    assert torch.equal(out.low, torch.tensor([[w[1] for w in row] for row in want]))
    assert torch.equal(out.high, torch.tensor([[w[2] for w in row] for row in want]))
    objective = torch.tensor([[w[0] for w in row] for row in want], dtype=torch.float64)
    assert torch.allclose(out.objective, objective, rtol=0, atol=1e-12)
    higher = (r > 1.2) & (a > 0)  # the symmetric rule caps these at 1.2 A, clip-higher at min(rho, 1.28) A
    sym = clip_objective(ClipRule("symmetric", 0.2), ratio, adv).objective.detach()
    assert int(((r > 1.2) & (r < 1.28) & (a > 0)).sum()) > 5 and torch.all(out.objective[higher] > sym[higher])
    assert torch.equal(out.objective[~higher].detach(), sym[~higher])
    assert int(clipped.sum()) > 50 and torch.all(out.objective[clipped] < (r * a)[clipped])
    out.objective.sum().backward()
    assert torch.all(lp.grad[sel | clipped] == 0) and torch.all(lp.grad[~sel & ~clipped] != 0)


def test_clipping_bias_definition():
    rule = ClipRule("symmetric", 0.2)
    ratio = torch.tensor([[1.5, 1.0, 0.5], [1.3, 0.9, 1.0]])
    adv = torch.tensor([[1.0], [-2.0]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    out = clip_objective(rule, ratio, adv)
    b = clipping_bias(out, ratio, adv, mask)
    n_raw = 1.5 + 1.0 + 0.5 - 2 * (1.3 + 0.9)
    c_plus = (1.2 - 1.5) * 1.0  # only token (0, 0) is upper-clipped
    assert b["n_raw"] == pytest.approx(abs(n_raw)) and b["c_plus"] == pytest.approx(abs(c_plus))
    assert b["ratio"] == pytest.approx(abs(n_raw) / abs(c_plus))
    none = clip_objective(ClipRule("none"), ratio, adv)
    assert clipping_bias(none, ratio, adv, mask)["ratio"] == math.inf  # nothing clipped: no bias


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(name="ppo"), "clip_rule must be one of"),
        (dict(eps_low=0.0), "epsilon must be"),
        (dict(eps_low=1.5), "epsilon must be"),
        (dict(name="two_sided"), "delta must be set"),
        (dict(name="two_sided", delta=1.1), "delta must be"),
        (dict(name="symmetric", delta=3.0), "delta is only used"),
        (dict(cov_ratio=2.0), "clip_cov_ratio"),
        (dict(cov_lb=5.0, cov_ub=1.0), "clip_cov_lb"),
    ],
)
def test_bad_rules(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        ClipRule(**kwargs)
