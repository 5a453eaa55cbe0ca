"""The regime map: where on a tabular bandit random-reward GRPO raises accuracy, and which mechanism does it there.

The paradox the paper explains presumes that GRPO with a coin-flip reward raises accuracy (Shao et al.
2506.10947). This module asks where, if anywhere, it does on the tabular simulator (`rlvr_lib.theory.simulator`,
used by composition, unchanged): a K-armed bandit whose action 0 is correct, an initial policy with probability q
on its mode (the correct action, or a wrong one as control), and random Bernoulli(1/2) rewards. The map is a few
2-D slices through a default point, not a full factorial:

* ``step``:  step size eta x inner steps per rollout mu (the clip rates that result are drawn as contours);
* ``shape``: mode probability q x tail length K;
* ``group``: group size G x step size eta;

each under five clip rules (none, symmetric, clip-higher eps_high > eps_low, upper-only, lower-only). A cell is
one setting under one rule; every rule of a setting runs from the same seed (common random numbers), so rule
differences are paired by replica. Per cell it records the accuracy gain (final minus initial probability of the
correct action, 95% interval over replicas, :func:`rlvr_lib.stats.mean_ci`), the entropy change, the upper and
lower clip rates, and the entropy decomposition along the trajectory: at every `cf_every`-th iteration the same
iteration is taken without clipping from the same state with the same draws (as
``probes.tabular_counterfactual`` does), so clipping's drift (rule minus no clip) and the unclipped drift are
measured side by side.

The theory's boundary: at the initial policy, one iteration's clipping drift (measured, antithetic pairs) against
the unclipped drift that the C5 closed form predicts (``entropy_change_coefficient``, RECONSTRUCTED, for i.i.d.
logit noise; its noise variance is set to the measured variance across actions of the unclipped update). Where
their sum changes sign is the theory's boundary; where the measured sum does is the measured one.

A cell *gains* when its interval lies above zero and reaches the margin (``decide_effect`` says "supported").
Among a few hundred cells some would do so by chance, so the verdicts about *somewhere* on the map count a gain
only where the interval, widened for the number of cells (Bonferroni, :func:`family_half`), still does. Which
mechanism produces a gain is read from the paired difference with the unclipped rule in the same cell.

Deliberately left out: sequence models (L > 1), ground-truth rewards and explicit entropy minimisation (their own
notebooks), and any network: a step here is plain gradient ascent on logits, so step sizes are not comparable
with a network's learning rate; the clip rate is the comparable quantity, and it is how the paper's reported
regime is placed on the map (:func:`reported_placement`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd
import torch

from rlvr_lib._checks import ConfigError, check_choice, check_float, check_int, check_prob
from rlvr_lib.clip import ClipRule
from rlvr_lib.entropy import softmax_entropy
from rlvr_lib.experiments.theory_lab import PAPER_C3
from rlvr_lib.numerics import torch_threads
from rlvr_lib.stats import mean_ci, t975
from rlvr_lib.theory.simulator import SimConfig, entropy_change_coefficient, grpo_iteration, initial_logits
from rlvr_lib.verdicts import Verdict, decide_effect

NAME = "theory_regime_map"  # the notebook, its verdict file and the stem of its tables
TABLE, REPORTED_TABLE = "theory_regime_map", "theory_regime_map_reported"
RULES = ("none", "symmetric", "clip-higher", "upper-only", "lower-only")  # labels, in the map's column order
SLICES = ("step", "shape", "group")
AXES = {"step": ("eta", "mu"), "shape": ("K", "q"), "group": ("eta", "G")}  # (x, y) of each slice
AXIS_LABELS = {
    "eta": "step size $\\eta$ (logit units)",
    "mu": "inner steps per rollout $\\mu$",
    "K": "number of actions $K$ (mode + tail)",
    "q": "initial mode probability $q$",
    "G": "group size $G$",
}
# REPORTED, not reproduced: the upper-clip rate (about 0.1% of tokens for Qwen2.5-Math-7B) and the law-of-clipping
# ratio (a lower BOUND, about 17 at eta 5e-7, eps 0.2, p+ 1e-3, G 16, L 4096: not a measurement) are Chen et al.'s;
# the 8 optimizer steps per rollout are Shao et al.'s reference run (64 prompts x 16 samples, batch 128).
REPORTED = {"clip_high": PAPER_C3["p_plus"], "G": PAPER_C3["G"], "mu": 8, "bound": PAPER_C3["ratio"]}
MECHANISMS = ("clipping", "unclipped update", "unclipped update + clipping", "undetermined")


def map_rules(eps_low: float, eps_high: float) -> dict[str, ClipRule]:
    """The five rules of the map by label; clip-higher is the asymmetric rule with eps_high > eps_low (DAPO)."""
    if not eps_high > eps_low:
        raise ConfigError(f"clip-higher needs eps_high > eps_low, got {eps_high} <= {eps_low}")
    return {
        "none": ClipRule("none", eps_low),
        "symmetric": ClipRule("symmetric", eps_low),
        "clip-higher": ClipRule("asymmetric", eps_low, eps_high),
        "upper-only": ClipRule("upper_only", eps_low, eps_high=eps_low),
        "lower-only": ClipRule("lower_only", eps_low),
    }


# ---------------------------------------------------------------------------------------------------------
# configuration

PROFILES = {
    "full": dict(replicas=64, iterations=40, one_step_replicas=256, cf_every=5, thin=False),
    "smoke": dict(replicas=4, iterations=3, one_step_replicas=8, cf_every=1, thin=True),
}


@dataclass(frozen=True)
class MapConfig:
    """Every dial of the map. The default point, through which every slice passes, is the book's bandit (K = 10,
    q = 0.5, eta = 0.5, G = 16 as in the paper) at the 8 optimizer steps per rollout of Shao et al.'s reference
    run; eps = 0.2 is the paper's, eps_high = 0.28 DAPO's (Yu et al. 2503.14476)."""

    K: int = 10  # actions at the default point
    q: float = 0.5  # initial probability of the mode at the default point
    G: int = 16  # group size at the default point (the paper's)
    eta: float = 0.5  # step size on the logits at the default point
    mu: int = 8  # inner steps per rollout at the default point
    etas: tuple = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0)  # step sizes of the step slice
    mus: tuple = (1, 2, 4, 8)  # inner steps of the step slice
    qs: tuple = (0.2, 0.5, 0.8, 0.95)  # mode probabilities of the shape slice
    Ks: tuple = (10, 100, 1000)  # numbers of actions of the shape slice
    Gs: tuple = (4, 16, 64)  # group sizes of the group slice
    group_etas: tuple = (0.2, 0.5, 2.0)  # step sizes of the group slice
    eps_low: float = 0.2  # lower clip width (and the symmetric rule's width)
    eps_high: float = 0.28  # clip-higher's upper width
    iterations: int = 40  # GRPO iterations (rollouts) per trajectory
    replicas: int = 64  # independent replicas per cell (the unit of the intervals)
    one_step_replicas: int = 256  # antithetic pairs for the one-step drift at the initial policy
    cf_every: int = 5  # the counterfactual unclipped iteration is taken at every cf_every-th iteration
    margin: float = 0.02  # smallest accuracy gain of interest (probability of the correct action)
    seed: int = 0

    def __post_init__(self):
        check_int("K", self.K, 2)
        check_prob("q", self.q)
        check_int("G", self.G, 2)
        check_float("eta", self.eta, 0.0, 1e3, lo_open=True)
        check_int("mu", self.mu, 1)
        for name, lo in (("etas", None), ("mus", 1), ("qs", None), ("Ks", 2), ("Gs", 2), ("group_etas", None)):
            values = getattr(self, name)
            if not values:
                raise ConfigError(f"{name} must list at least one value")
            for v in values:
                if lo is None:
                    check_float(name, v, 0.0, 1.0 if name == "qs" else 1e3, lo_open=True)
                else:
                    check_int(name, v, lo)
        map_rules(self.eps_low, self.eps_high)
        check_int("iterations", self.iterations, 1)
        check_int("replicas", self.replicas, 2)
        check_int("one_step_replicas", self.one_step_replicas, 2)
        check_int("cf_every", self.cf_every, 1)
        check_float("margin", self.margin, 0.0, 1.0, lo_open=True)
        check_int("seed", self.seed, 0)

    @classmethod
    def from_profile(cls, profile: str, **kw) -> MapConfig:
        """The configuration at `profile` ("full" or "smoke"): the profile sets the sizes; "smoke" also keeps only
        the two ends of every axis. Keywords set the dials (lists are accepted where tuples are declared)."""
        check_choice("profile", profile, tuple(PROFILES))
        unknown = set(kw) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(f"unknown map parameters {sorted(unknown)}")
        size = dict(PROFILES[profile])
        thin = size.pop("thin")
        kw = {k: tuple(v) if isinstance(v, list) else v for k, v in kw.items()}
        cfg = cls(**{**kw, **size})
        if thin:
            ends = lambda v: tuple(dict.fromkeys((v[0], v[-1])))  # noqa: E731
            cfg = replace(cfg, **{k: ends(getattr(cfg, k)) for k in ("etas", "mus", "qs", "Ks", "Gs", "group_etas")})
        return cfg

    @property
    def rules(self) -> dict[str, ClipRule]:
        return map_rules(self.eps_low, self.eps_high)


@dataclass(frozen=True)
class Run:
    """One simulation batch: a setting (K, G, eta, mu) with the listed mode probabilities, both modes and every
    replica stacked along the simulator's seed dimension."""

    K: int
    G: int
    eta: float
    mu: int
    qs: tuple


def slice_runs(cfg: MapConfig) -> list[tuple[str, Run]]:
    """The map's runs, labelled by slice, in drawing order."""
    out = [("step", Run(cfg.K, cfg.G, float(e), int(m), (cfg.q,))) for m in cfg.mus for e in cfg.etas]
    out += [("shape", Run(int(k), cfg.G, cfg.eta, cfg.mu, tuple(float(q) for q in cfg.qs))) for k in cfg.Ks]
    out += [("group", Run(cfg.K, int(g), float(e), cfg.mu, (cfg.q,))) for g in cfg.Gs for e in cfg.group_etas]
    return out


# ---------------------------------------------------------------------------------------------------------
# simulation (the simulator's grpo_iteration, composed)


def _sim(run: Run, iterations: int, seeds: int, seed: int) -> SimConfig:
    return SimConfig(K=run.K, L=1, G=run.G, eta=run.eta, mu=run.mu, iterations=iterations, seeds=seeds, seed=seed)


def stacked_logits(run: Run, replicas: int, modes=(True, False)) -> torch.Tensor:
    """Initial logits (len(modes) * len(qs) * replicas, 1, K), blocks in the order mode x q, each block the
    simulator's own skewed initialisation (the mode is action 0 when correct, action 1 when wrong)."""
    blocks = []
    for correct in modes:
        for q in run.qs:
            cfg = replace(_sim(run, 1, replicas, 0), init="skewed", q=q, mode=0 if correct else 1)
            blocks.append(initial_logits(cfg))
    return torch.cat(blocks)


def trajectory(z0: torch.Tensor, sim: SimConfig, rule: ClipRule, seed: int, cf_every: int) -> dict:
    """`sim.iterations` GRPO iterations from `z0` (S, 1, K) under `rule`, with the counterfactual unclipped
    iteration (same state, same draws) at iterations 1, 1 + cf_every, ... Returns per-replica numpy arrays:
    acc0, acc (final), H0, H (final), clip_high, clip_low, n_raw, c_plus (means over iterations), and
    dH_rule, dH_none (S, n_counterfactual): the entropy change of the iteration under the rule and without
    clipping. The counterfactual consumes no draws of the trajectory, which is the simulator's own."""
    gen = torch.Generator().manual_seed(seed)
    none = ClipRule("none", rule.eps_low)
    z = z0.clone()
    S, T = z.shape[0], sim.iterations
    acc = lambda z: torch.softmax(z, -1)[:, 0, 0].numpy()  # noqa: E731  (L = 1: the correct action's prob.)
    ent = lambda z: softmax_entropy(z).mean(-1)  # noqa: E731
    out = {"acc0": acc(z), "H0": ent(z).numpy()}
    sums = {k: torch.zeros(S, dtype=z.dtype) for k in ("high", "low", "n_raw", "c_plus")}
    dh_rule, dh_none = [], []
    for t in range(T):
        h = ent(z)
        if t % cf_every == 0 and rule.name != "none":
            state = gen.get_state()
            z_none, _ = grpo_iteration(z, sim, none, gen)
            gen.set_state(state)
        z_next, st = grpo_iteration(z, sim, rule, gen)
        if t % cf_every == 0:
            dh_rule.append((ent(z_next) - h).numpy())
            dh_none.append((ent(z_none if rule.name != "none" else z_next) - h).numpy())
        for k in sums:
            sums[k] += st[k] / T
        z = z_next
    out.update(acc=acc(z), H=ent(z).numpy(), dH_rule=np.stack(dh_rule, 1), dH_none=np.stack(dh_none, 1))
    out.update({("clip_" + k if k in ("high", "low") else k): v.numpy() for k, v in sums.items()})
    return out


def one_step(z0: torch.Tensor, sim: SimConfig, rules: dict[str, ClipRule], seed: int) -> dict[str, dict]:
    """One iteration from `z0` (S, 1, K) under each rule and without clipping, each with its antithetic twin
    (rewards 1 - r: advantages negated), all from the same draws. Averaging a pair cancels the first-order term,
    leaving the second-order drift. Returns, per rule label, per-replica numpy arrays: unclipped (the pair-mean
    entropy change without clipping), clip (the pair-mean of rule minus no clip) and noise2 (variance across
    actions, ddof 1, of the unclipped update z1 - z0: the i.i.d. model's eta^2 s^2)."""
    h0 = softmax_entropy(z0).mean(-1)

    def step(rule, flip):
        z1, _ = grpo_iteration(z0, sim, rule, torch.Generator().manual_seed(seed), flip=flip)
        return z1, softmax_entropy(z1).mean(-1) - h0

    z1, plain = step(ClipRule("none"), False)
    none = {False: plain, True: step(ClipRule("none"), True)[1]}
    unclipped = (0.5 * (none[False] + none[True])).numpy()
    noise2 = (z1 - z0)[:, 0].var(-1, correction=1).numpy()
    out = {}
    for label, rule in rules.items():
        d = {f: step(rule, f)[1] - none[f] for f in (False, True)} if rule.name != "none" else None
        clip = np.zeros_like(unclipped) if d is None else (0.5 * (d[False] + d[True])).numpy()
        out[label] = {"unclipped": unclipped, "clip": clip, "noise2": noise2}
    return out


def _ci(prefix: str, x) -> dict:
    m, h, n = mean_ci(x)
    return {prefix: m, f"{prefix}_ci": h}


def run_cells(run: Run, cfg: MapConfig) -> list[dict]:
    """Every rule on `run`, from the same seed: one row per rule x mode x q (on one torch thread)."""
    # one thread: the map's tensors are small, and one thread is several times faster than two on a busy 2-core
    # machine (and gives the same sums in the same order on every run)
    with torch_threads(1):
        return _run_cells(run, cfg)


def _run_cells(run: Run, cfg: MapConfig) -> list[dict]:
    R, modes = cfg.replicas, (True, False)
    sim = _sim(run, cfg.iterations, len(modes) * len(run.qs) * R, cfg.seed)
    z0 = stacked_logits(run, R, modes)
    z1 = stacked_logits(run, cfg.one_step_replicas, modes=(True,))  # entropy is blind to which action is correct
    sim1 = replace(sim, iterations=1, seeds=z1.shape[0])
    trajs = {label: trajectory(z0, sim, rule, cfg.seed, cfg.cf_every) for label, rule in cfg.rules.items()}
    steps = one_step(z1, sim1, cfg.rules, cfg.seed)
    rows = []
    for label, rule in cfg.rules.items():
        tr, st = trajs[label], steps[label]
        for b, (correct, q) in enumerate((c, q) for c in modes for q in run.qs):
            sl = slice(b * R, (b + 1) * R)
            gain = tr["acc"][sl] - tr["acc0"][sl]
            gain_none = trajs["none"]["acc"][sl] - trajs["none"]["acc0"][sl]
            m, h, n = mean_ci(gain)
            bq = run.qs.index(q)
            s1 = slice(bq * cfg.one_step_replicas, (bq + 1) * cfg.one_step_replicas)
            noise2 = float(steps["none"]["noise2"][s1].mean())
            coef = entropy_change_coefficient(torch.softmax(z0[b * R, 0], -1).numpy())
            u, c = st["unclipped"][s1], st["clip"][s1]
            cplus = float(tr["c_plus"][sl].mean())
            rows.append(
                {
                    "K": run.K,
                    "G": run.G,
                    "eta": run.eta,
                    "mu": run.mu,
                    "q": q,
                    "rule": label,
                    "eps_low": rule.eps_low if rule.name not in ("none", "upper_only") else float("nan"),
                    "eps_high": rule.high if rule.name not in ("none", "lower_only") else float("nan"),
                    "mode": "correct" if correct else "wrong",
                    "initial_acc": float(tr["acc0"][sl].mean()),
                    "gain": m,
                    "gain_ci": h,
                    "n": n,
                    **_ci("dH", tr["H"][sl] - tr["H0"][sl]),
                    "clip_high": float(tr["clip_high"][sl].mean()),
                    "clip_low": float(tr["clip_low"][sl].mean()),
                    "law_ratio": float(tr["n_raw"][sl].mean()) / cplus if cplus > 0 else float("inf"),
                    **_ci("gain_vs_none", gain - gain_none),
                    **_ci("clip_drift", (tr["dH_rule"][sl] - tr["dH_none"][sl]).mean(1)),
                    **_ci("unclipped_drift", tr["dH_none"][sl].mean(1)),
                    **_ci("one_step_clip", c),
                    **_ci("one_step_unclipped", u),
                    "c5_coef": coef,
                    "c5_unclipped": noise2 * coef,
                    "c5_net": noise2 * coef + float(c.mean()),
                    "measured_net": float(u.mean() + c.mean()),
                    "margin": cfg.margin,
                }
            )
    return rows


def regime_table(cfg: MapConfig, progress=None) -> pd.DataFrame:
    """The map: one row per slice x setting x rule x mode, with gain decisions and mechanisms (see the module
    docstring). A run shared by two slices (the default point) is simulated once. `progress(i, n)` is called
    after each run."""
    runs = slice_runs(cfg)
    cache, rows = {}, []
    for i, (name, run) in enumerate(runs):
        if run not in cache:
            cache[run] = run_cells(run, cfg)
        rows += [{"slice": name, **r} for r in cache[run]]
        if progress is not None:
            progress(i + 1, len(runs))
    return classify(pd.DataFrame(rows), cfg.margin)


# ---------------------------------------------------------------------------------------------------------
# decisions and mechanisms

CELL = ["slice", "K", "G", "eta", "mu", "q", "mode"]  # a setting on one slice; with "rule", a cell
SETTING = ["K", "G", "eta", "mu", "q", "rule", "mode"]  # a cell, whichever slices it lies on


def t_quantile(p: float, df: float) -> float:
    """The p-quantile of Student's t with `df` degrees of freedom: ``stats.t975`` at p = 0.975, otherwise the
    Cornish-Fisher expansion in 1/df (Abramowitz & Stegun 26.7.5, three terms, as ``stats.t975`` uses beyond its
    table), about 1e-3 from the exact value for df >= 30 and p <= 0.9995; it underestimates for a few df."""
    if p == 0.975:
        return t975(df)
    z = NormalDist().inv_cdf(p)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    return z + g1 / df + g2 / df**2 + g3 / df**3


def family_half(half, n, m: int):
    """A 95% half-width over `n` replicas widened for `m` comparisons (Bonferroni): each interval at the one-sided
    level 2.5% / m, so that over a family of m cells with no gain anywhere, the chance that any interval clears
    zero is at most 2.5%. (Without it, about 2.5% of the cells would clear zero by chance alone.)"""
    n = np.asarray(n, dtype=float)
    q = np.array([t_quantile(1 - 0.025 / m, k - 1) / t975(k - 1) if k > 1 else np.nan for k in n.ravel()])
    return np.asarray(half, dtype=float) * q.reshape(n.shape)


def classify(t: pd.DataFrame, margin: float) -> pd.DataFrame:
    """Adds `decision` and `reason` (``decide_effect`` on the gain against `margin`, predicted side: up), `gain_cell`
    (decision "supported") and `mechanism` (for gain cells; "" elsewhere):

    * "clipping": the paired gain over no clipping is above zero and the unclipped rule does not gain there;
    * "unclipped update + clipping": the paired gain over no clipping is above zero and no clipping gains too;
    * "unclipped update": the rule is none, or no clipping gains there and the paired difference is not above 0;
    * "undetermined": neither the paired difference nor no clipping alone shows a gain.

    The same decision with the intervals widened for the family of the table's mode-correct cells
    (:func:`family_half`, m = `family`) gives `decision_fw`, `reason_fw` and `gain_fw`: what a statement about
    "somewhere on the map" can rest on."""
    t = t.copy()
    dec = [decide_effect(g, h, int(n), margin) for g, h, n in zip(t.gain, t.gain_ci, t.n)]
    t["decision"] = [d.verdict for d in dec]
    t["reason"] = [d.reason for d in dec]
    t["gain_cell"] = t.decision == "supported"
    t["family"] = max(int(t[t["mode"] == "correct"].drop_duplicates(SETTING).shape[0]), 1)
    t["gain_ci_fw"] = family_half(t.gain_ci, t.n, int(t.family.iloc[0])) if len(t) else []
    dec = [decide_effect(g, h, int(n), margin) for g, h, n in zip(t.gain, t.gain_ci_fw, t.n)]
    t["decision_fw"] = [d.verdict for d in dec]
    t["reason_fw"] = [d.reason for d in dec]
    t["gain_fw"] = t.decision_fw == "supported"
    none = t[t.rule == "none"].set_index(CELL).gain_cell
    none_gains = t.set_index(CELL).index.map(lambda k: bool(none.get(k, False)))
    above = t.gain_vs_none - t.gain_vs_none_ci > 0
    mech = np.select(
        [~t.gain_cell, t.rule == "none", above & ~none_gains, above & none_gains, none_gains],
        ["", "unclipped update", "clipping", "unclipped update + clipping", "unclipped update"],
        "undetermined",
    )
    t["mechanism"] = mech
    return t


def unique_cells(t: pd.DataFrame) -> pd.DataFrame:
    """One row per cell: a cell on several slices (the default point) is counted once, with its first measurement,
    its `slice` naming them all."""
    names = t.groupby(SETTING, sort=False).slice.agg(lambda s: ", ".join(dict.fromkeys(s)))
    u = t.drop_duplicates(SETTING).copy()
    u["slice"] = [names[k] for k in u[SETTING].itertuples(index=False, name=None)]
    return u


def gain_cells(t: pd.DataFrame, rules=None, family_wise: bool = False) -> pd.DataFrame:
    """The mode-correct cells that gain (by their own interval, or by the family-wise one), each once, under
    `rules` (all when None), largest gain first."""
    g = unique_cells(t[(t["mode"] == "correct") & t["gain_fw" if family_wise else "gain_cell"].astype(bool)])
    if rules is not None:
        g = g[g.rule.isin(rules)]
    return g.sort_values("gain", ascending=False)


def where(row) -> str:
    """A cell in words: its rule, slice(s) and setting."""
    plural = "s" if "," in str(row["slice"]) else ""
    return (
        f"{row['rule']}, {row['slice']} slice{plural}: eta {row['eta']:g} x mu {int(row['mu'])}, q {row['q']:g}, "
        f"K {int(row['K'])}, G {int(row['G'])}"
    )


def _comparisons(m: int) -> str:
    return f"{m} comparison{'' if m == 1 else 's'}"


def _num(x: float) -> str:
    return f"{x:+.3f}" if abs(x) >= 5e-4 or x == 0 else f"{x:+.1e}"


def _interval(row, col: str = "gain") -> str:
    m, h = row[col], row[f"{col}_ci"]
    return f"{_num(m)} [{_num(m - h)}, {_num(m + h)}]"


# ---------------------------------------------------------------------------------------------------------
# the paper's regime, from its reported numbers


def reported_placement(t: pd.DataFrame) -> pd.DataFrame:
    """Where the reported regime (upper-clip rate 1e-3 at 8 steps per rollout and G = 16) falls on the step slice:
    among the symmetric rule's mode-correct cells at mu = 8, the step size at which the upper-clip rate would be
    1e-3 (log-log interpolation between the two cells that bracket it; NaN when none do) and the nearest cell by
    log clip rate. One row; NaN throughout when the slice has no such cells."""
    s = t[(t.slice == "step") & (t.rule == "symmetric") & (t["mode"] == "correct") & (t.mu == REPORTED["mu"])]
    s = s.sort_values("eta")
    row = {f"reported_{k}": v for k, v in REPORTED.items()}
    row.update(map_G=float(s.G.iloc[0]) if len(s) else float("nan"), cells=len(s))
    pos = s[s.clip_high > 0]
    if pos.empty:
        nan = float("nan")
        return pd.DataFrame([{**row, "eta_at_reported": nan, "nearest_eta": nan, "nearest_clip_high": nan,
                              "nearest_gain": nan, "nearest_gain_ci": nan, "nearest_law_ratio": nan,
                              "min_clip_high": nan, "max_clip_high": nan, "within_reach": False}])  # fmt: skip
    lr, le = np.log10(pos.clip_high.to_numpy()), np.log10(pos.eta.to_numpy())
    target = math.log10(REPORTED["clip_high"])
    eta_at = float("nan")
    for i in range(len(lr) - 1):
        if (lr[i] - target) * (lr[i + 1] - target) <= 0 and lr[i] != lr[i + 1]:
            eta_at = float(10 ** (le[i] + (target - lr[i]) * (le[i + 1] - le[i]) / (lr[i + 1] - lr[i])))
            break
    near = pos.iloc[int(np.argmin(np.abs(lr - target)))]
    row.update(
        eta_at_reported=eta_at,
        nearest_eta=float(near.eta),
        nearest_clip_high=float(near.clip_high),
        nearest_gain=float(near.gain),
        nearest_gain_ci=float(near.gain_ci),
        nearest_law_ratio=float(near.law_ratio),
        min_clip_high=float(pos.clip_high.min()),
        max_clip_high=float(pos.clip_high.max()),
        within_reach=bool(np.isfinite(eta_at)),
    )
    return pd.DataFrame([row])


def reported_sentence(rep: pd.DataFrame) -> str:
    """The distance of the map's reach from the reported regime, in one computed sentence."""
    r = rep.iloc[0]
    head = (
        f"The paper's regime, as reported (upper-clip rate {r.reported_clip_high:g} for Qwen2.5-Math-7B at "
        f"G = {int(r.reported_G)}, with the {int(r.reported_mu)} optimizer steps per rollout of Shao et al.'s "
        "reference run)"
    )
    if not np.isfinite(r.nearest_clip_high):
        return head + " cannot be placed: no symmetric cell of the step slice at that depth clipped any token."
    factor = r.nearest_clip_high / r.reported_clip_high
    side = "above" if factor >= 1 else "below"
    place = (
        f"lies within the map's reach: the symmetric rule reaches that clip rate at eta ~ {r.eta_at_reported:.2g}"
        if r.within_reach
        else f"lies beyond the map's reach: its symmetric cells at that depth clip {r.min_clip_high:.1e} to "
        f"{r.max_clip_high:.1e} of the samples"
    )
    ratio = f"{r.nearest_law_ratio:.0f}" if np.isfinite(r.nearest_law_ratio) else "infinite"
    return (
        f"{head} {place}; the nearest cell (eta {r.nearest_eta:g}, mu {int(r.reported_mu)}, G {int(r.map_G)}) clips "
        f"{r.nearest_clip_high:.1e}, {max(factor, 1 / factor):.1f} times {side} the reported rate, and its accuracy "
        f"gain is {r.nearest_gain:+.3f} +- {r.nearest_gain_ci:.3f}, with |N_raw| / |C+| = {ratio} there (the "
        f"paper's ~{r.reported_bound:g} is a bound at its stated parameters, not a measurement)."
    )


# ---------------------------------------------------------------------------------------------------------
# verdicts

REASONS = {
    "gain_somewhere": "at least one cell's family-wise interval lies above zero and reaches the margin",
    "undecided_cells": "no cell gains, and some cells' family-wise intervals cover zero and reach past the margin",
    "within_margin_everywhere": "every cell's family-wise interval lies within +-margin",
    "no_gain_anywhere": "every cell's family-wise interval lies below zero or within the margin, some below zero",
    "no_cells": "the map has no cell under these rules with the mode correct",
    "check_failed": "the rule never clipped a token anywhere on the map, so it tests nothing about clipping",
}
E0_STATEMENT = "random-reward GRPO raises a bandit's accuracy somewhere on the map (mode correct)"


def _e0_verdict(t: pd.DataFrame, margin: float, claim: str, statement: str, rules, check_clipping: bool) -> Verdict:
    """One E0 row. The statement is about *somewhere* on the map, so each of its m cells is judged by its interval
    widened for the m comparisons (:func:`family_half`); the statistic also gives the count by each cell's own
    interval, and how many of those chance alone would give."""
    c = t[(t["mode"] == "correct") & t.rule.isin(rules)]
    c = unique_cells(classify(c, margin)) if len(c) else c
    mk = lambda verdict, reason, stat: Verdict(claim, verdict, stat, "tabular", statement=statement,  # noqa: E731
                                               polarity=1, reason=reason)  # fmt: skip
    if c.empty:
        return mk("not testable here", "no_cells", f"no mode-correct cell under {list(rules)}")
    if check_clipping and not ((c.clip_high + c.clip_low) > 0).any():
        return mk("not testable here", "check_failed", f"{list(rules)} clipped no token in any of {len(c)} cells")
    m, own = len(c), int(c.gain_cell.sum())
    over = (
        f"{m} mode-correct cells, margin {margin:g}, intervals widened for {_comparisons(m)} (Bonferroni); by each "
        f"cell's own 95% interval {own} gain, where chance alone would give about {0.025 * m:.1f}"
    )
    g = gain_cells(c, family_wise=True)
    if len(g):
        top = "; ".join(f"{where(r)}: {_interval(r)} ({r.mechanism})" for _, r in g.head(5).iterrows())
        more = f" and {len(g) - 5} more" if len(g) > 5 else ""
        return mk("supported", "gain_somewhere", f"{len(g)} of {over}. Gains (own 95% intervals): {top}{more}")
    best = c.loc[c.gain.idxmax()]
    best_s = f"the best cell: {where(best)}, {_interval(best)}"
    undecided = c.reason_fw.isin(["undecided", "no_interval"])
    if undecided.any():
        note = decide_effect(best.gain, best.gain_ci_fw, int(best.n), margin).note
        return mk("inconclusive", "undecided_cells", f"none of {over}; {int(undecided.sum())} undecided; {best_s} "
                  f"({note}, at the family-wise width)")  # fmt: skip
    if (c.reason_fw == "within_margin").all():
        return mk("effect excluded", "within_margin_everywhere", f"none of {over}; {best_s}")
    below = int((c.reason_fw == "opposite_side").sum())
    return mk("not supported", "no_gain_anywhere", f"none of {over} ({below} lose); {best_s}")


def e0_verdicts(t: pd.DataFrame, margin: float) -> list[Verdict]:
    """E0 over every rule, and E0 restricted to symmetric clipping (which must clip somewhere to test anything)."""
    return [
        _e0_verdict(t, margin, "E0 (any clip rule)", E0_STATEMENT, RULES, check_clipping=False),
        _e0_verdict(
            t,
            margin,
            "E0 (symmetric clipping)",
            E0_STATEMENT.replace("GRPO", "GRPO with symmetric clipping"),
            ("symmetric",),
            check_clipping=True,
        ),  # fmt: skip
    ]


# ---------------------------------------------------------------------------------------------------------
# tables for the book


def gain_table(t: pd.DataFrame) -> pd.DataFrame:
    """The cells with a gain (mode correct), with their interval, control, clip rates and entropy decomposition."""
    g = gain_cells(t)
    key = [k for k in SETTING if k != "mode"]
    wrong = t[t["mode"] == "wrong"].drop_duplicates(key).set_index(key)
    cols = ["slice", "rule", "eta", "mu", "q", "K", "G", "gain", "gain_ci", "n", "gain_fw", "mechanism", "gain_vs_none",
            "gain_vs_none_ci", "clip_high", "clip_low", "dH", "clip_drift", "clip_drift_ci", "unclipped_drift",
            "unclipped_drift_ci"]  # fmt: skip
    out = g[cols].copy()
    out["gain_mode_wrong"] = [wrong.gain.get(k, np.nan) for k in g[key].itertuples(index=False, name=None)]
    return out.reset_index(drop=True)


def rule_summary(t: pd.DataFrame) -> pd.DataFrame:
    """One row per rule (mode correct, each cell once): its cells, how many gain (by their own intervals, and with
    the intervals widened for the map's cells), the mechanisms of those gains, and its best cell."""
    c = unique_cells(t[t["mode"] == "correct"])
    rows = []
    for rule in [r for r in RULES if (c.rule == r).any()]:
        r = c[c.rule == rule]
        g = r[r.gain_cell.astype(bool)]
        best = r.loc[r.gain.idxmax()]
        counts = g.mechanism.value_counts()
        rows.append(
            {
                "rule": rule,
                "cells": len(r),
                "gain_cells": len(g),
                "gain_cells_fw": int(g.gain_fw.astype(bool).sum()),
                "mechanisms": ", ".join(f"{m}: {counts[m]}" for m in MECHANISMS if m in counts),
                "best_gain": float(best.gain),
                "best_gain_ci": float(best.gain_ci),
                "best_cell": where(best),
                "largest_clip_high": float(r.clip_high.max()),
                "largest_clip_low": float(r.clip_low.max()),
            }
        )
    return pd.DataFrame(rows)


def load(results_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The saved map and its reported placement, or None when either is missing."""
    p, r = Path(results_dir) / f"{TABLE}.csv", Path(results_dir) / f"{REPORTED_TABLE}.csv"
    if not (p.exists() and r.exists()):
        return None
    return pd.read_csv(p), pd.read_csv(r)


# ---------------------------------------------------------------------------------------------------------
# the reading, composed from the saved tables


MECHANISM_WORDS = {
    "clipping": "clipping produces {n}",
    "unclipped update": "the unclipped update {n}",
    "unclipped update + clipping": "the two together {n}",
    "undetermined": "{n} stay undetermined",
}


def reading(t: pd.DataFrame, rep: pd.DataFrame) -> str:
    """One paragraph of Markdown that reads the map: where it gains and by how much, under symmetric clipping or
    not, which mechanism, what the control does, whether the theory's boundary agrees, and where the reported
    regime sits. Every number and direction comes from `t` and `rep`."""
    c = unique_cells(t[t["mode"] == "correct"])
    margin = float(c.margin.iloc[0])
    g = gain_cells(t)
    lead = f"Random-reward GRPO raised the bandit's accuracy (mode correct) by at least the margin {margin:g}"
    m = len(c)
    if len(g):
        top, fw = g.iloc[0], int(g.gain_fw.astype(bool).sum())
        s1 = (
            f"{lead} in {len(g)} of the map's {m} cells by each cell's own 95% interval (chance alone would give "
            f"about {0.025 * m:.1f}), {fw} of them with the intervals widened for {_comparisons(m)}, under "
            f"{', '.join(dict.fromkeys(g.rule))}; the largest gain is {_interval(top)} ({where(top)})."
        )
    else:
        best = c.loc[c.gain.idxmax()]
        s1 = f"{lead} in none of the map's {m} cells; the best is {_interval(best)} ({where(best)})."
    cs = c[c.rule == "symmetric"]
    sym = gain_cells(classify(cs, margin)) if len(cs) else cs
    if len(sym):
        s2 = (
            f"Symmetric clipping does in {len(sym)} of its {len(cs)} cells, {int(sym.gain_fw.sum())} with the "
            f"intervals widened for {_comparisons(len(cs))} (best {_interval(sym.iloc[0])}, {where(sym.iloc[0])})."
        )
    elif len(cs):
        s2 = f"Symmetric clipping never does on this map: its best cell is {_interval(cs.loc[cs.gain.idxmax()])}."
    else:
        s2 = "The map has no symmetric cell."
    s3 = ""
    if len(g):
        counts = g.mechanism.value_counts()
        parts = [MECHANISM_WORDS[m].format(n=counts[m]) for m in MECHANISMS if m in counts]
        s3 = f"Judged by the paired difference with no clipping from the same seed, {', '.join(parts)}."
        d = g[g.rule != "none"]
        if len(d):
            lowers = int((d.clip_drift + d.clip_drift_ci < 0).sum())
            raises = int((d.clip_drift - d.clip_drift_ci > 0).sum())
            s3 += (
                f" Clipping's own entropy drift (rule minus no clip, same state and draws) lowers entropy in {lowers} "
                f"and raises it in {raises} of the {len(d)} clipped gain cells (median {_num(d.clip_drift.median())} "
                f"nats per iteration, against {_num(d.unclipped_drift.median())} for the unclipped update there)."
            )
        w = gain_table(t).gain_mode_wrong.dropna()
        if len(w):
            s3 += f" With the mode wrong, the same settings change accuracy by {_num(w.min())} to {_num(w.max())}."
    clipped = c[c.rule != "none"]
    agree = int((np.sign(clipped.c5_net) == np.sign(clipped.measured_net)).sum())
    s4 = (
        "The theory's boundary (the reconstructed C5 coefficient at the measured update variance, plus clipping's "
        f"measured one-step drift) has the sign of the measured one-step entropy drift in {agree} of the "
        f"{len(clipped)} clipped cells."
    )
    return " ".join(x for x in (s1, s2, s3, s4, reported_sentence(rep)) if x)


def regime_map_reading(results_dir: str | Path = "../results") -> str | None:
    """The reading of the saved map (:func:`reading`), or None when the results are missing."""
    loaded = load(results_dir)
    return None if loaded is None else reading(*loaded)


# ---------------------------------------------------------------------------------------------------------
# the figure


def _grids(s: pd.DataFrame, x: str, y: str, cols: list[str]) -> tuple[list, list, dict[str, np.ndarray]]:
    """The panel's x and y values (sorted) and each column of `cols` as a (len(ys), len(xs)) array."""
    xs, ys = sorted(s[x].unique()), sorted(s[y].unique())
    s = s.drop_duplicates([x, y]).set_index([y, x]).reindex(pd.MultiIndex.from_product([ys, xs]))
    return xs, ys, {c: s[c].to_numpy(dtype=float).reshape(len(ys), len(xs)) for c in cols}


def regime_map_figure(results_dir: str | Path = "../results", quantity: str = "gain"):
    """The map as heatmaps, one row per slice and one column per rule, of the mode-correct accuracy gain
    (`quantity` "gain") or entropy change ("dH"), on one diverging colour scale. Crosses: cells with a gain.
    On the step slice, contours of the upper (solid) and lower (dashed) clip rates at 1e-3, 1e-2 and 1e-1; on the
    step and shape slices, the zero contours of the one-step net entropy drift at the initial policy, the theory's
    (reconstructed C5 plus clipping's measured drift, dotted) and the measured one (dash-dot). A star marks the
    reported regime on the step slice's clipped panels. None when the results are missing."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.lines import Line2D

    from rlvr_lib.experiments import plots

    check_choice("quantity", quantity, ("gain", "dH"))
    loaded = load(results_dir)
    if loaded is None:
        return None
    t, rep = loaded
    c = t[t["mode"] == "correct"]
    slices = [s for s in SLICES if (c.slice == s).any()]
    rules = [r for r in RULES if (c.rule == r).any()]
    vmax = float(np.nanmax(np.abs(c[quantity]))) or 1.0
    norm = TwoSlopeNorm(0.0, -vmax, vmax)
    fig, axes = plt.subplots(len(slices), len(rules), figsize=(3.1 * len(rules), 2.7 * len(slices)), squeeze=False)
    rep0 = rep.iloc[0]
    for i, sl in enumerate(slices):
        x, y = AXES[sl]
        for j, rule in enumerate(rules):
            ax = axes[i, j]
            s = c[(c.slice == sl) & (c.rule == rule)]
            cols = [quantity, "gain_cell", "gain_fw", "clip_high", "clip_low", "c5_net", "measured_net"]
            xs, ys, grid = _grids(s, x, y, cols)
            z = grid[quantity]
            mesh = ax.pcolormesh(np.arange(len(xs)), np.arange(len(ys)), z, cmap="RdBu", norm=norm, shading="nearest")
            gx, gy = (grid["gain_cell"] == 1).nonzero()[::-1]
            ax.plot(gx, gy, "kx", ms=6, mew=1.5, ls="none")
            gx, gy = (grid["gain_fw"] == 1).nonzero()[::-1]
            ax.plot(gx, gy, "ks", ms=12, mfc="none", mew=1.0, ls="none")
            X, Y = np.meshgrid(np.arange(len(xs)), np.arange(len(ys)))
            if sl == "step" and len(xs) > 1 and len(ys) > 1:  # the clip rates that step size and depth produce
                for col, ls in (("clip_high", "-"), ("clip_low", "--")):
                    lz = np.log10(np.maximum(grid[col], 1e-9))
                    if np.nanmax(lz) > -3:
                        cs = ax.contour(X, Y, lz, levels=[-3, -2, -1], colors="0.15", linestyles=ls, linewidths=0.9)
                        ax.clabel(cs, fmt=lambda v: f"{10**v:.0e}", fontsize=6)
            if sl in ("step", "shape") and len(xs) > 1 and len(ys) > 1:  # where the one-step net drift flips
                for col, ls, colour in (("c5_net", ":", plots.OTHER[4]), ("measured_net", "-.", plots.OTHER[1])):
                    bz = grid[col]
                    if np.nanmin(bz) < 0 < np.nanmax(bz):
                        ax.contour(X, Y, bz, levels=[0], colors=colour, linestyles=ls, linewidths=1.6)
            if sl == "step" and rule != "none" and REPORTED["mu"] in ys and np.isfinite(rep0.nearest_eta):
                e = rep0.eta_at_reported if rep0.within_reach else rep0.nearest_eta
                px = np.interp(np.log10(e), np.log10(xs), np.arange(len(xs)))
                ax.plot([px], [ys.index(REPORTED["mu"])], marker="*", ms=13, color="gold", mec="k", ls="none")
            ax.set_xticks(range(len(xs)), [f"{v:g}" for v in xs], fontsize=7)
            ax.set_yticks(range(len(ys)), [f"{v:g}" for v in ys], fontsize=7)
            ax.grid(False)
            if i == 0:
                ax.set_title(f"clip rule: {rule}", fontsize=9)
            if j == len(rules) // 2:  # one x label per row, under the middle panel
                ax.set_xlabel(AXIS_LABELS[x], fontsize=8)
            if j == 0:
                ax.set_ylabel(f"{sl} slice\n{AXIS_LABELS[y]}", fontsize=8)
    label = "accuracy gain $\\pi_T(a^*) - \\pi_0(a^*)$" if quantity == "gain" else "entropy change (nats)"
    fig.subplots_adjust(bottom=0.16, hspace=0.55, wspace=0.3, right=0.88)
    fig.colorbar(mesh, cax=fig.add_axes([0.91, 0.3, 0.012, 0.45]), label=f"{label}, mode correct")
    gain_label = f"gain: its 95% interval above 0, reaching {c.margin.iloc[0]:g}"
    fw_label = f"... also when widened for the map's {int(t.family.iloc[0])} cells (Bonferroni)"
    handles = [
        Line2D([], [], color="k", marker="x", ls="none", label=gain_label),
        Line2D([], [], color="k", marker="s", mfc="none", ls="none", label=fw_label),
        Line2D([], [], color="0.15", ls="-", label="upper clip rate (contours 1e-3, 1e-2, 1e-1)"),
        Line2D([], [], color="0.15", ls="--", label="lower clip rate (same levels)"),
        Line2D([], [], color=plots.OTHER[4], ls=":", lw=1.6,
               label="theory's boundary: C5 (reconstructed) + clip drift = 0"),
        Line2D([], [], color=plots.OTHER[1], ls="-.", lw=1.6, label="measured boundary: one-step net drift = 0"),
        Line2D([], [], color="gold", mec="k", marker="*", ms=11, ls="none",
               label=f"reported: upper clip rate {REPORTED['clip_high']:g}, {REPORTED['mu']} steps per rollout, "
               f"G = {REPORTED['G']} (placed by the symmetric rule's clip rate)"),
    ]  # fmt: skip
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8, bbox_to_anchor=(0.45, -0.01))
    fig.suptitle(
        "Where random-reward GRPO raises a bandit's accuracy (tabular)"
        if quantity == "gain"
        else "Entropy change after random-reward GRPO (tabular)"
    )
    return fig
