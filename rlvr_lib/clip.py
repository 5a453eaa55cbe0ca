"""Clip rules as pure tensor functions: one implementation for the trainer and the theory lab.

A clip rule maps per-token importance ratios rho = pi_theta / pi_old, advantages A, a mask and (for
Clip-Cov) log-probabilities to the per-token surrogate OBJECTIVE (to be maximised; the loss is its
negative) and flags saying which tokens were clipped. Definitions, with eps_l / eps_h the lower / upper
clip widths:

=============  =====================================================================================
rule           per-token objective
=============  =====================================================================================
none           rho * A
symmetric      min(rho A, clip(rho, 1 - eps, 1 + eps) A)                     (PPO / GRPO, eps = 0.2)
asymmetric     min(rho A, clip(rho, 1 - eps_l, 1 + eps_h) A)                 (clip-higher, DAPO)
upper_only     min(rho A, min(rho, 1 + eps_h) A)        binds only for A > 0, rho > 1 + eps_h
lower_only     min(rho A, max(rho, 1 - eps_l) A)        binds only for A < 0, rho < 1 - eps_l
two_sided      min(min(rho, delta) A, clip(rho, 1 - eps_l, 1 + eps_h) A)     (TRL's `delta`)
clip_cov       asymmetric objective, with the gradient of a random clip_cov_ratio share of the tokens
               whose centred covariance (A - mean A)(log pi - mean log pi) lies in (lb, ub) removed
               (Cui et al. 2505.22617, Clip-Cov; the selected tokens' objective is detached)
=============  =====================================================================================

Flags follow TRL's definitions so that the logged fractions mean the same thing for every rule:
``low = (rho < 1 - eps_l) & (A < 0)`` and ``high = (rho > 1 + eps_h) & (A > 0)`` where the rule has that
side; a rule without a side never flags it. Shapes: rho, A (broadcast), mask and logp are (B, T) or any
common broadcast shape; A of shape (B, 1) is broadcast over tokens.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from rlvr_lib._checks import ConfigError, check_choice, check_float, check_prob

RULES = ("none", "symmetric", "asymmetric", "upper_only", "lower_only", "two_sided", "clip_cov")
INF = float("inf")


@dataclass(frozen=True)
class ClipRule:
    """A clip rule and its widths. `eps_high=None` means eps_high = eps_low."""

    name: str = "symmetric"
    eps_low: float = 0.2  # the paper's eps (Chen et al. 2512.16912; Shao et al. 2506.10947)
    eps_high: float | None = None
    delta: float | None = None  # two_sided: cap on rho in the unclipped branch (> 1 + eps_high)
    cov_ratio: float = 2e-4  # clip_cov: share of tokens whose gradient is removed (Cui et al. default)
    cov_lb: float = 1.0  # clip_cov: lower bound of the covariance window (Cui et al. default)
    cov_ub: float = 5.0  # clip_cov: upper bound of the covariance window (Cui et al. default)

    def __post_init__(self):
        check_choice("clip_rule", self.name, RULES)
        check_float("epsilon", self.eps_low, 0.0, 1.0, lo_open=True)
        if self.eps_high is not None:
            check_float("epsilon_high", self.eps_high, 0.0, 1e9, lo_open=True)
        if self.name == "two_sided":
            if self.delta is None:
                raise ConfigError("delta must be set (a number > 1 + epsilon_high) for clip_rule 'two_sided'")
            check_float("delta", self.delta, 1.0 + self.high, 1e9, lo_open=True)
        elif self.delta is not None:
            raise ConfigError(f"delta is only used by clip_rule 'two_sided', not {self.name!r}; leave it None")
        check_prob("clip_cov_ratio", self.cov_ratio)
        if not self.cov_lb < self.cov_ub:
            raise ConfigError(f"clip_cov_lb ({self.cov_lb}) must be below clip_cov_ub ({self.cov_ub})")

    @property
    def high(self) -> float:
        return self.eps_low if self.eps_high is None else self.eps_high

    @property
    def bounds(self) -> tuple[float, float]:
        """(lower, upper) clip bounds on rho; infinite where the rule has no such side."""
        lo, hi = 1.0 - self.eps_low, 1.0 + self.high
        if self.name == "none":
            return -INF, INF
        if self.name == "upper_only":
            return -INF, hi
        if self.name == "lower_only":
            return lo, INF
        return lo, hi

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ClipOutput:
    objective: torch.Tensor  # (B, T) per-token surrogate to maximise
    low: torch.Tensor  # (B, T) bool: lower clip active
    high: torch.Tensor  # (B, T) bool: upper clip active
    cov_selected: torch.Tensor | None = None  # (B, T) bool: tokens detached by Clip-Cov


def clip_objective(
    rule: ClipRule,
    ratio: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor | None = None,
    logp: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> ClipOutput:
    """Per-token clipped surrogate of `rule`. `mask` and `logp` are needed only by clip_cov."""
    adv = advantages
    lo, hi = rule.bounds
    raw = ratio * adv
    if rule.name == "none":
        obj = raw
    else:
        clipped = torch.clamp(ratio, min=None if lo == -INF else lo, max=None if hi == INF else hi) * adv
        capped = raw if rule.name != "two_sided" else torch.clamp(ratio, max=rule.delta) * adv
        obj = torch.minimum(capped, clipped)
    low = (ratio < lo) & (adv < 0)
    high = (ratio > hi) & (adv > 0)
    low, high = torch.broadcast_tensors(low, high)
    out = ClipOutput(obj, low, high)
    if rule.name == "clip_cov":
        if mask is None or logp is None:
            raise ValueError("clip_cov needs `mask` and `logp`")
        out.cov_selected = clip_cov_select(rule, adv, logp, mask, low | high, generator)
        out.objective = torch.where(out.cov_selected, obj.detach(), obj)
    return out


def clip_cov_select(rule: ClipRule, adv, logp, mask, already_clipped, generator=None) -> torch.Tensor:
    """Clip-Cov's token selection (Cui et al. 2505.22617, Alg. 1): among valid tokens not already clipped, those
    whose centred covariance lies strictly inside (cov_lb, cov_ub); keep a random max(1, ratio * n_valid) of them."""
    m = mask.bool()
    adv = adv.expand_as(logp)
    n = m.sum().clamp(min=1)
    a_c = adv - (adv * m).sum() / n
    l_c = logp.detach() - (logp.detach() * m).sum() / n
    cov = a_c * l_c
    cand = m & ~already_clipped & (cov > rule.cov_lb) & (cov < rule.cov_ub)
    idx = cand.flatten().nonzero().squeeze(1)
    k = min(max(int(rule.cov_ratio * int(m.sum())), 1), idx.numel())
    sel = torch.zeros(cand.numel(), dtype=torch.bool, device=cand.device)
    if k > 0:
        perm = torch.randperm(idx.numel(), generator=generator, device="cpu").to(idx.device)
        sel[idx[perm[:k]]] = True
    return sel.view_as(cand)


def clipping_bias(out: ClipOutput, ratio, advantages, mask, dim=None):
    """The paper's clipping-bias decomposition over valid tokens (Chen et al. 2512.16912, 'law of clipping'):
    ``N_raw = sum_t rho_t A_t``, ``C+_tot = sum over upper-clipped tokens of (clipped - raw) objective``, and the
    ratio ``abs(N_raw) / abs(C+_tot)`` (inf when nothing is upper-clipped).

    With ``dim=None`` the sums run over everything and floats are returned; otherwise over `dim` and tensors
    are returned (the theory lab sums per seed)."""
    m = mask.bool()
    raw = (ratio * advantages).expand_as(out.objective)
    hm = out.high & m
    zero = torch.zeros((), dtype=raw.dtype, device=raw.device)
    n_raw = torch.where(m, raw, zero).sum(dim=dim).abs()
    c_plus = torch.where(hm, out.objective.detach() - raw, zero).sum(dim=dim).abs()
    ratio_ = torch.where(c_plus > 0, n_raw / torch.where(c_plus > 0, c_plus, 1.0), torch.full_like(n_raw, INF))
    if dim is None:
        return {"n_raw": float(n_raw), "c_plus": float(c_plus), "ratio": float(ratio_)}
    return {"n_raw": n_raw, "c_plus": c_plus, "ratio": ratio_}
