"""The reward-misalignment model (Chen et al. 2512.16912, claims C10-C11) in closed form and by enumeration.

A group of G rollouts has n_c correct ones. A random Bernoulli(1/2) reward gives false positives
f ~ Bin(G - n_c, 1/2) (incorrect rollouts rewarded) and false negatives g ~ Bin(n_c, 1/2) (correct rollouts
not rewarded). With mean-centred advantages the advantage mass lost on correct responses is

    Delta = (g (G - n_c) + f n_c) / G                                   (RECONSTRUCTED closed form)

with E[Delta] = n_c (G - n_c) / G and Var[Delta] = n_c (G - n_c) / (4 G) (the moments reported for the
paper; the closed form for Delta is this project's reconstruction and reproduces them exactly). With
n_c ~ Bin(G, p): E[Delta] = (G - 1) p (1 - p).

Caveat, stated plainly: these moments are symmetric under p <-> 1 - p, and a random reward carries zero
expected signal toward correct answers (the expected advantage of a correct response is 0). 'Stronger
models benefit more' does not follow from them alone; it needs the mode-sharpening of clipping and
entropy reduction, which helps only when the policy's mode is correct.
"""

from __future__ import annotations

import numpy as np

from rlvr_lib._checks import check_int, check_prob


def binom_pmf(k, n: int, q: float) -> np.ndarray:
    """Binomial(n, q) probability mass at k (array), exact through math.comb."""
    from math import comb

    k = np.atleast_1d(k)
    return np.array([comb(n, int(j)) * q ** int(j) * (1 - q) ** (n - int(j)) for j in k])


def delta(f, g, n_c: int, G: int):
    """Advantage mass lost on correct responses (reconstructed closed form)."""
    return (np.asarray(g) * (G - n_c) + np.asarray(f) * n_c) / G


def delta_moments(n_c: int, G: int) -> tuple[float, float]:
    """(E[Delta], Var[Delta]) in closed form for fixed n_c."""
    check_int("G", G, 1)
    check_int("n_c", n_c, 0, G)
    return n_c * (G - n_c) / G, n_c * (G - n_c) / (4 * G)


def delta_moments_enumerated(n_c: int, G: int, q: float = 0.5) -> tuple[float, float]:
    """(E[Delta], Var[Delta]) by exact enumeration over f ~ Bin(G - n_c, q) and g ~ Bin(n_c, 1 - q), with q the
    random reward's success probability (q = 1/2 in the paper)."""
    check_prob("q", q)
    fs = np.arange(G - n_c + 1)
    gs = np.arange(n_c + 1)
    pf = binom_pmf(fs, G - n_c, q)
    pg = binom_pmf(gs, n_c, 1 - q)
    F, Gm = np.meshgrid(fs, gs, indexing="ij")
    P = pf[:, None] * pg[None, :]
    D = delta(F, Gm, n_c, G)
    m = float((P * D).sum())
    return m, float((P * (D - m) ** 2).sum())


def expected_delta_over_p(p: float, G: int) -> float:
    """E[Delta] with n_c ~ Bin(G, p), closed form: (G - 1) p (1 - p)."""
    check_prob("p", p)
    return (G - 1) * p * (1 - p)


def expected_delta_over_p_enumerated(p: float, G: int) -> float:
    """E[Delta] with n_c ~ Bin(G, p), by exact enumeration over n_c and, within each, over f and g
    (:func:`delta_moments_enumerated`): it never calls the closed forms it is compared with."""
    ns = np.arange(G + 1)
    return float(sum(binom_pmf(n, G, p)[0] * delta_moments_enumerated(int(n), G)[0] for n in ns))


def simulate_delta(n_c: int, G: int, n: int = 200_000, seed: int = 0):
    """Monte Carlo of Delta, measured as the lost advantage mass of a GRPO group under a random reward:
    sum over correct responses of (A_true - A_random) with mean-centred (not std-scaled) advantages, where
    A_true is the advantage under a reward equal to correctness. Returns the samples."""
    rng = np.random.default_rng(seed)
    correct = np.zeros(G, bool)
    correct[:n_c] = True
    r = rng.random((n, G)) < 0.5
    a_rand = r - r.mean(1, keepdims=True)
    a_true = correct - correct.mean()
    return (a_true[None, correct] - a_rand[:, correct]).sum(1)


def correct_advantage_mean(p_correct: float, G: int, n: int = 200_000, seed: int = 0):
    """Monte Carlo of E[A_i | response i correct] under a random reward with std-normalised advantages, where
    each response is correct with probability p_correct. Returns (mean, standard error)."""
    import torch

    from rlvr_lib.theory.simulator import group_advantages

    rng = np.random.default_rng(seed)
    correct = rng.random((n, G)) < p_correct
    r = torch.tensor(rng.random((n, G)) < 0.5, dtype=torch.float64)
    A = group_advantages(r).numpy()
    a = A[correct]
    return float(a.mean()), float(a.std() / np.sqrt(a.size))
