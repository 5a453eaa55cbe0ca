"""Tabular simulations of the paper's theory: GRPO on softmax policies, vectorised over seeds.

The policy is a softmax over K actions at each of L positions, independent across positions
(L = 1 is a bandit; L > 1 the 'sequence model' whose response is L tokens): logits z of shape
(S, L, K) for S independent seeds. One GRPO iteration draws, for each seed, G responses from pi_old,
scores them (random Bernoulli(p) rewards, or ground truth = 1 iff every token is the correct action),
forms group-normalised advantages A_i = (r_i - mean r) / std(r) with the unbiased std and A = 0 when all
rewards are equal (no +1e-4 as in TRL: the theory is stated without it), and then takes `mu` gradient-
ascent steps of size eta on the logits of the token-mean clipped surrogate

    J(z) = (1 / (G L)) sum_i sum_t clip_rule(rho_it, A_i) + entropy_coef * H(pi_z),

with rho_it = pi_z(y_it) / pi_old(y_it). The clip rule is `rlvr_lib.clip.clip_objective`, the same function
the language-model trainer uses. Plain gradient ascent on logits is a deliberate simplification: it is the
softmax-policy setting in which the paper's and Cui et al.'s entropy dynamics are stated.

Closed forms here are labelled RECONSTRUCTED where they are this project's derivations (checked numerically
in the tests), not formulas copied from the paper.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch

from rlvr_lib._checks import check_choice, check_float, check_int, check_prob
from rlvr_lib.clip import ClipRule, clip_objective, clipping_bias
from rlvr_lib.entropy import softmax_entropy

DTYPE = torch.float64


# ---------------------------------------------------------------------------------------------------------
# advantages


def group_advantages(r: torch.Tensor) -> torch.Tensor:
    """Group-normalised advantages along the last dim: (r - mean) / std_unbiased, and 0 where std == 0."""
    mean = r.mean(-1, keepdim=True)
    std = r.std(-1, keepdim=True, correction=1)
    return torch.where(std > 0, (r - mean) / torch.where(std > 0, std, 1.0), torch.zeros_like(r))


def enumerate_advantages(G: int, p: float = 0.5):
    """All 2^G binary reward vectors, their probabilities under i.i.d. Bernoulli(p), and their advantages.

    Returns (rewards (2^G, G), probs (2^G,), advantages (2^G, G)) as float64 numpy arrays."""
    check_int("G", G, 2, 20)
    check_prob("p", p)
    r = np.array(list(itertools.product((0.0, 1.0), repeat=G)))
    k = r.sum(1)
    probs = p**k * (1 - p) ** (G - k)
    adv = group_advantages(torch.tensor(r, dtype=DTYPE)).numpy()
    return r, probs, adv


def max_abs_advantage(G: int) -> float:
    """sqrt(G) - 1/sqrt(G): the advantage of the lone success (or minus that of the lone failure) (C1)."""
    return math.sqrt(G) - 1 / math.sqrt(G)


# ---------------------------------------------------------------------------------------------------------
# entropy


def entropy_change_coefficient(pi) -> float:
    """RECONSTRUCTED (C5): c(pi) such that E[dH] = eta^2 s^2 c(pi) + O(eta^3) for the softmax step
    z_a += eta x_a, x_a i.i.d. with mean 0 and variance s^2:

        c(pi) = sum_a pi_a^2 (log pi_a + H) - (1 - sum_a pi_a^2) / 2.

    The first-order term -eta Cov_pi(log pi, x) has mean zero (C2)."""
    pi = np.asarray(pi, dtype=float)
    pi = pi[pi > 0]
    H = -(pi * np.log(pi)).sum()
    s2 = (pi**2).sum()
    return float((pi**2 * (np.log(pi) + H)).sum() - (1 - s2) / 2)


def skewed_policy(K: int, q: float) -> np.ndarray:
    """One action with probability q, the other K - 1 sharing 1 - q equally."""
    pi = np.full(K, (1 - q) / (K - 1))
    pi[0] = q
    return pi


def mc_entropy_change(pi, eta: float, s: float = 1.0, n: int = 200_000, seed: int = 0):
    """Monte Carlo of the exact one-step entropy change under z += eta x, x ~ N(0, s^2 I).

    Uses antithetic pairs (x, -x): their average cancels every odd-order term, the first-order one included,
    without changing the expectation. Returns (mean, standard error, mean of the first-order term
    -eta Cov_pi(log pi, x) over the plain draws, and its standard error)."""
    g = torch.Generator().manual_seed(seed)
    z = torch.log(torch.tensor(pi, dtype=DTYPE))
    x = torch.randn(n, len(pi), generator=g, dtype=DTYPE) * s
    dH = 0.5 * (softmax_entropy(z + eta * x) + softmax_entropy(z - eta * x)) - softmax_entropy(z)
    p = torch.softmax(z, -1)
    logp = torch.log_softmax(z, -1)
    first = -eta * ((p * (logp - (p * logp).sum())) * (x - (p * x).sum(-1, keepdim=True))).sum(-1)
    return (float(dH.mean()), float(dH.std() / math.sqrt(n)), float(first.mean()), float(first.std() / math.sqrt(n)))


# ---------------------------------------------------------------------------------------------------------
# GRPO on tabular softmax policies


@dataclass(frozen=True)
class SimConfig:
    """One tabular GRPO experiment. All fields are dials; the docstring of the module defines the update."""

    K: int = 10  # actions per position
    L: int = 1  # positions per response (1 = bandit)
    G: int = 16  # group size (paper: 16)
    eta: float = 0.1  # step size on the logits
    mu: int = 4  # gradient steps per GRPO iteration (off-policy inner steps)
    iterations: int = 100  # GRPO iterations (each with a fresh group)
    reward: str = "random"  # "random" (Bernoulli(p)) or "ground_truth" (1 iff every token == action 0)
    p: float = 0.5  # random reward success probability
    entropy_coef: float = 0.0  # J += entropy_coef * H: negative = entropy minimisation
    init: str = "flat"  # "flat" (uniform) or "skewed" (action `mode` gets prob q)
    q: float = 0.5  # skewed init: probability of the mode
    mode: int = 0  # skewed init: index of the mode (0 = the correct action)
    seeds: int = 256  # independent replicas, simulated in one tensor
    seed: int = 0

    def __post_init__(self):
        check_int("K", self.K, 2)
        check_int("L", self.L, 1)
        check_int("G", self.G, 2)
        check_float("eta", self.eta, 0.0, 1e3, lo_open=True)
        check_int("mu", self.mu, 1)
        check_int("iterations", self.iterations, 0)
        check_choice("reward", self.reward, ("random", "ground_truth"))
        check_prob("p", self.p)
        check_float("entropy_coef", self.entropy_coef)
        check_choice("init", self.init, ("flat", "skewed"))
        check_prob("q", self.q)
        check_int("mode", self.mode, 0, self.K - 1)
        check_int("seeds", self.seeds, 1)
        check_int("seed", self.seed, 0)


def initial_logits(cfg: SimConfig) -> torch.Tensor:
    if cfg.init == "flat":
        pi = np.full(cfg.K, 1.0 / cfg.K)
    else:
        pi = skewed_policy(cfg.K, cfg.q)
        pi[[0, cfg.mode]] = pi[[cfg.mode, 0]]
    z = torch.log(torch.tensor(pi, dtype=DTYPE))
    return z.expand(cfg.seeds, cfg.L, cfg.K).clone()


def grpo_iteration(z: torch.Tensor, cfg: SimConfig, rule: ClipRule, gen: torch.Generator, flip: bool = False):
    """One GRPO iteration (sample, score, mu clipped steps) on logits z (S, L, K). Returns (new z, stats)
    where stats holds per-seed tensors: clip fractions, max ratio, ``abs(N_raw)``, ``abs(C+)``, rewards' mean.

    `flip=True` replaces the rewards r by 1 - r after drawing them (same responses), which negates every
    advantage (C1): run twice from identically seeded generators, the pair is an antithetic couple."""
    S, L, K = z.shape
    G = cfg.G
    with torch.no_grad():
        probs_old = torch.softmax(z, -1)  # (S, L, K)
        y = torch.multinomial(probs_old.reshape(S * L, K), G, replacement=True, generator=gen)  # (S*L, G)
        y = y.view(S, L, G).transpose(1, 2)  # (S, G, L)
        logp_old = torch.log_softmax(z, -1).gather(-1, y.transpose(1, 2)).transpose(1, 2)  # (S, G, L)
        if cfg.reward == "random":
            r = (torch.rand(S, G, generator=gen, dtype=DTYPE) < cfg.p).to(DTYPE)
        else:
            r = (y == 0).all(-1).to(DTYPE)
        if flip:
            r = 1 - r
        A = group_advantages(r)[..., None]  # (S, G, 1)
    mask = torch.ones(S, G, L, dtype=torch.bool)
    stats = {k: torch.zeros(S, dtype=DTYPE) for k in ("low", "high", "ratio_max", "n_raw", "c_plus")}
    for _ in range(cfg.mu):
        z = z.detach().requires_grad_(True)
        logp = torch.log_softmax(z, -1).gather(-1, y.transpose(1, 2)).transpose(1, 2)  # (S, G, L)
        ratio = torch.exp(logp - logp_old)
        out = clip_objective(rule, ratio, A, mask, logp, gen)
        J = out.objective.mean(dim=(1, 2))  # (S,) token mean per seed
        if cfg.entropy_coef:
            J = J + cfg.entropy_coef * softmax_entropy(z).mean(-1)
        (grad,) = torch.autograd.grad(J.sum(), z)
        with torch.no_grad():
            b = clipping_bias(out, ratio.detach(), A, mask, dim=(1, 2))
            stats["low"] += out.low.to(DTYPE).mean(dim=(1, 2)) / cfg.mu
            stats["high"] += out.high.to(DTYPE).mean(dim=(1, 2)) / cfg.mu
            stats["ratio_max"] = torch.maximum(stats["ratio_max"], ratio.detach().amax(dim=(1, 2)))
            stats["n_raw"] += b["n_raw"] / cfg.mu
            stats["c_plus"] += b["c_plus"] / cfg.mu
        z = (z + cfg.eta * grad).detach()
    stats["reward"] = r.mean(-1)
    return z, stats


def simulate(cfg: SimConfig, rule: ClipRule):
    """Run `cfg.iterations` GRPO iterations. Returns a dict of (iterations + 1, S) numpy arrays:
    entropy (mean over positions), accuracy (prob. of the all-correct response), and per-iteration (first row
    NaN) clip_low, clip_high, ratio_max, n_raw, c_plus, reward."""
    gen = torch.Generator().manual_seed(cfg.seed)
    z = initial_logits(cfg)
    T = cfg.iterations
    out = {
        k: np.full((T + 1, cfg.seeds), np.nan)
        for k in ("entropy", "accuracy", "clip_low", "clip_high", "ratio_max", "n_raw", "c_plus", "reward")
    }

    def record(t, z):
        out["entropy"][t] = softmax_entropy(z).mean(-1).numpy()
        out["accuracy"][t] = torch.log_softmax(z, -1)[..., 0].sum(-1).exp().numpy()

    record(0, z)
    for t in range(1, T + 1):
        z, st = grpo_iteration(z, cfg, rule, gen)
        record(t, z)
        for k_out, k in (
            ("clip_low", "low"),
            ("clip_high", "high"),
            ("ratio_max", "ratio_max"),
            ("n_raw", "n_raw"),
            ("c_plus", "c_plus"),
            ("reward", "reward"),
        ):
            out[k_out][t] = st[k].numpy()
    return out
