"""The tiny-LM regime series: random-reward GRPO along a transect of batch size, step size and clip rule.

The tabular map (:mod:`rlvr_lib.experiments.regime_map`) says where a bandit gains from a random reward, over step
size x off-policy depth, clip rule, policy shape and group size (its computed reading). The tiny LM cannot afford
a grid, so the series is a transect through the dials the book's outcome runs hold fixed, at the total budget of
those runs (E1: 100 optimizer steps x 16 completions = 1,600 completions trained on per run):

* completions per optimizer step ``B`` (prompts x G, G = 8): with the completions trained on fixed, ``max_steps``
  = 1,600 / B, and the learning rate is scaled so that ``learning_rate x max_steps`` - the total movement AdamW
  allows, about one learning rate per parameter per step - equals E1's. (TRL generates whole rollouts of 8 x B
  completions, so a run generates up to one rollout more than it trains on.) A larger B gives each step less
  noise and a larger size at the same off-policy depth (8 optimizer steps per rollout), so that the importance
  ratios can drift further, the direction along which the tabular map's step x depth axis runs; whether clipping
  then binds more often is measured (the clip fractions of each point);
* the clip rule: symmetric (eps 0.2, the paper's), clip-higher (eps_low 0.2, eps_high 0.28), upper-only (eps_high
  0.2) and none;
* the steps per rollout at one size (fewer off-policy steps: clipping binds less);
* the base's entropy profile: the ``free-choice`` base (free digit order in every column, see
  :mod:`rlvr_lib.testbed.tasks`) carries more entropy per token than ``default`` at the same task.

Every point gets the reported seeds (the same seeds at every point: common random numbers across rules at one
setting), and reports exact-accuracy change from step 0 (the primary outcome), held-out entropy change, upper
and lower clip fractions and the per-step clipping ratio ``abs(N_raw) / abs(C+)`` along the run. On the default base
the B = 16 points with symmetric clipping and without clipping are E1's random-reward runs (seeds 0-2 of E1's) and
the clip-higher one is E6's (the same configurations, trained once).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rlvr_lib._checks import check_choice
from rlvr_lib.experiments import lm_lab as lm
from rlvr_lib.experiments.regime_map import REPORTED as REPORTED_MAP
from rlvr_lib.experiments.regime_map import family_half
from rlvr_lib.stats import interval_sign, mean_ci, t975
from rlvr_lib.verdicts import Verdict, decide_effect

NAME = "lm_regime_series"  # the notebook, its verdict file and the stem of its tables
TOTAL_COMPLETIONS = lm.FULL["max_steps"] * lm.FULL["prompts_per_step"] * lm.FULL["num_generations"]  # 1,600
REFERENCE_STEPS = lm.FULL["max_steps"]  # lr x steps is matched to E1's lr x 100
RULES = {  # label -> configuration fields (random reward everywhere)
    "symmetric": {"clip_rule": "symmetric"},
    "clip-higher": {"clip_rule": "asymmetric", "epsilon": 0.2, "epsilon_high": 0.28},
    "upper-only": {"clip_rule": "upper_only"},
    "none": {"clip_rule": "none"},
}
RULE_COLORS = {"symmetric": "#1f77b4", "clip-higher": "#17becf", "upper-only": "#9467bd", "none": "#d62728"}
METRICS = ["eval/exact_acc", "eval/entropy", "eval/sampled_acc"]
TRAIN = ["clip_ratio/high_mean", "clip_ratio/low_mean", "clip/bias_ratio", "completions/mean_length"]
# the reported regime, as reported (not reproduced): Chen et al.'s upper-clip rate, and the completions and their
# longest length per optimizer step of Shao et al.'s reference run (64 prompts x 16, 8 optimizer steps per rollout)
REPORTED = {"clip_high": REPORTED_MAP["clip_high"], "G": REPORTED_MAP["G"], "steps_per_generation": REPORTED_MAP["mu"],
            "completions_per_step": 128, "max_tokens": 3072}  # fmt: skip


@dataclass(frozen=True)
class Point:
    """A setting of the series (the clip rule aside): base, completions per optimizer step, steps per rollout."""

    base: str = "default"
    size: int = 16  # completions per optimizer step (a multiple of G = 8)
    steps_per_generation: int = 8

    @property
    def label(self) -> str:
        spg = "" if self.steps_per_generation == 8 else f", {self.steps_per_generation} steps/rollout"
        return f"{self.base}, {self.size}/step{spg}"


# The transect. Sizes 16 (E1's) to 160 on the default base: all four rules at the two ends of the size axis,
# symmetric and none in the middle (the middle point's clip-higher and upper-only arms went to keep the series
# within its time budget; at the ends the four rules are compared at the same size); the free-choice base at the
# two ends with and without clipping; one point with 2 instead of 8 optimizer steps per rollout.
TRANSECT = (
    [(Point("default", s), r) for s in (16, 160) for r in RULES]
    + [(Point("default", 64), r) for r in ("symmetric", "none")]
    + [(Point("free-choice", s), r) for s in (16, 160) for r in ("symmetric", "none")]
    + [(Point("default", 64, 2), r) for r in ("symmetric", "none")]
)
SMOKE_TRANSECT = [(Point("default", s), r) for s in (8, 16) for r in ("symmetric", "none")] + [
    (Point("free-choice", 8), "symmetric")
]


def schedule(point: Point, learning_rate: float, profile: str) -> dict:
    """The configuration fields a point sets: batch, steps, evaluation points and the matched learning rate."""
    check_choice("profile", profile, ("full", "smoke"))
    base = lm.FULL if profile == "full" else lm.SMOKE
    g = base["num_generations"]
    if point.size % g:
        raise ValueError(f"completions per step {point.size} must be a multiple of the group size {g}")
    if profile == "smoke":
        return {"prompts_per_step": point.size // g, "steps_per_generation": min(point.steps_per_generation, 2)}
    steps = TOTAL_COMPLETIONS // point.size
    if steps * point.size != TOTAL_COMPLETIONS or steps % 5:
        raise ValueError(f"{TOTAL_COMPLETIONS} completions do not split into 5 evaluation windows of size {point.size}")
    return {
        "prompts_per_step": point.size // g,
        "max_steps": steps,
        "eval_every": steps // 5,
        "steps_per_generation": point.steps_per_generation,
        "learning_rate": learning_rate * REFERENCE_STEPS / steps,
    }


def series_arms(learning_rate: float, profile: str, transect=None) -> tuple[dict, pd.DataFrame]:
    """{(point label, rule): overrides} for :func:`lm_lab.sweep`, and the table of points (one row per arm)."""
    transect = transect if transect is not None else (TRANSECT if profile == "full" else SMOKE_TRANSECT)
    arms, rows = {}, []
    for point, rule in transect:
        check_choice("rule", rule, RULES)
        sched = schedule(point, learning_rate, profile)
        arms[(point.label, rule)] = {
            "base": lm.base(point.base, profile),
            "reward": {"random": 1.0},
            **RULES[rule],
            **sched,
        }
        rows.append(
            {
                "group": point.label,
                "arm": rule,
                "base": point.base,
                "size": point.size,
                "steps_per_generation": sched["steps_per_generation"],
                "max_steps": sched.get("max_steps", lm.SMOKE["max_steps"]),
                "learning_rate": sched.get("learning_rate", learning_rate),
            }
        )
    return arms, pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------------------
# the table


def _per_run(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    return lm.per_run_change(df, metric)[["group", "arm", "seed", "change"]]


def _paired(ch: pd.DataFrame, group: str, a: str, b: str) -> tuple[float, float, int]:
    """Mean, 95% half-width and n of (a - b) in per-run change at one point, paired by seed."""
    x = ch[(ch.group == group) & (ch.arm == a)].set_index("seed").change
    y = ch[(ch.group == group) & (ch.arm == b)].set_index("seed").change
    common = x.index.intersection(y.index)
    return mean_ci((x.loc[common] - y.loc[common]).to_numpy(float))


def series_table(df: pd.DataFrame, points: pd.DataFrame) -> pd.DataFrame:
    """One row per point x rule: exact-accuracy change (`gain`, 95% half-width `gain_ci`, n), entropy change,
    the gain over no clipping at the same point (paired by seed; NaN where the point has no unclipped arm),
    mean upper and lower clip fractions over the run's steps, the median per-step ``abs(N_raw) / abs(C+)``
    (steps with no upper-clipped token give no ratio) and the completion tokens per optimizer step."""
    acc, ent = _per_run(df, lm.PRIMARY), _per_run(df, "eval/entropy")
    rows = []
    for _, p in points.iterrows():
        sel = (df.group == p.group) & (df.arm == p.arm)
        d = df[sel]
        a = acc[(acc.group == p.group) & (acc.arm == p.arm)].change.to_numpy(float)
        e = ent[(ent.group == p.group) & (ent.arm == p.arm)].change.to_numpy(float)
        g, gh, n = mean_ci(a)
        h, hh, _ = mean_ci(e)
        vs = _paired(acc, p.group, p.arm, "none") if p.arm != "none" else (np.nan, np.nan, 0)
        per_run = d[d.metric.isin(TRAIN)].groupby(["run_id", "metric"]).value
        clip = per_run.mean().unstack()
        ratio = d[(d.metric == "clip/bias_ratio") & np.isfinite(d.value)].value
        rows.append(
            {
                **p.to_dict(),
                "n": int(n),
                "gain": g,
                "gain_ci": gh,
                "entropy_change": h,
                "entropy_ci": hh,
                "gain_vs_none": vs[0],
                "gain_vs_none_ci": vs[1],
                "clip_high": float(clip.get("clip_ratio/high_mean", pd.Series([0.0])).mean()),
                "clip_low": float(clip.get("clip_ratio/low_mean", pd.Series([0.0])).mean()),
                "bias_ratio": float(ratio.median()) if len(ratio) else np.nan,
                "tokens_per_step": float(p["size"] * clip.get("completions/mean_length", pd.Series([np.nan])).mean()),
            }
        )
    return pd.DataFrame(rows)


def seeds_to_decide_fw(mean: float, half: float, n: int, margin: float, m: int, cap: int = 1000) -> int:
    """Fewest seeds whose family-wise interval (:func:`regime_map.family_half`, m comparisons) would reach a
    verdict at the measured effect and spread: the spread is read back from the point's own 95% half-width `half`
    over `n` seeds (``sd = half sqrt(n) / t975(n - 1)``), and the family-wise half-width at k seeds must be at
    most abs(mean) (the interval clears zero) or margin - abs(mean) (it fits inside the margin), whichever is
    larger - ``stats.seeds_to_decide``'s rule at the wider quantile. A planning number: it takes the measured mean
    as the true one. `cap` when no k up to it would do."""
    if not (np.isfinite(mean) and np.isfinite(half) and n > 1):
        return cap
    sd = half * np.sqrt(n) / t975(n - 1)
    target = max(abs(mean), margin - abs(mean))
    for k in range(2, cap + 1):
        if float(family_half(t975(k - 1) * sd / np.sqrt(k), k, m)) <= target:
            return k
    return cap


# The series' pilot: its first point (the default base at 16 completions per step, symmetric and none) on pilot
# seeds that are never reported. These are E1's pilot runs (lm_pilot's "random, clip" and "random, no clip" are the
# same configurations), so in the main job the pilot costs no run of its own.
PILOT_POINTS = [(Point("default", 16), "symmetric"), (Point("default", 16), "none")]
PILOT_SEEDS = [1000, 1001, 1002]


def pilot_table(df: pd.DataFrame, points: pd.DataFrame, margin: float, m: int, seeds: int) -> pd.DataFrame:
    """Per pilot point: the pilot's exact-accuracy change (mean, sd, n over the pilot seeds) and the seeds a
    family-wise decision over the series' `m` points would need at that effect and spread
    (:func:`seeds_to_decide_fw`), beside the `seeds` each point of the series gets."""
    acc = _per_run(df, lm.PRIMARY)
    rows = []
    for _, p in points.iterrows():
        v = acc[(acc.group == p.group) & (acc.arm == p.arm)].change.to_numpy(float)
        g, h, n = mean_ci(v)
        rows.append(
            {
                "group": p.group,
                "arm": p.arm,
                "pilot n": int(n),
                "pilot mean": g,
                "pilot sd": float(np.std(v, ddof=1)) if n > 1 else np.nan,
                "seeds to decide (family-wise)": seeds_to_decide_fw(g, h, int(n), margin, m) if n > 1 else np.nan,
                "series seeds": int(seeds),
            }
        )
    return pd.DataFrame(rows)


def pilot_sentence(t: pd.DataFrame, m: int) -> str:
    """What the pilot says about the series' seeds, composed from :func:`pilot_table`."""
    parts = [
        f"{r.arm} at {r.group}: mean {r['pilot mean']:+.3f}, sd {r['pilot sd']:.3f} over {r['pilot n']} pilot seeds, "
        f"about {r['seeds to decide (family-wise)']:.0f} seeds to decide"
        for _, r in t.iterrows()
    ]
    seeds = int(t["series seeds"].iloc[0])
    short = int((t["seeds to decide (family-wise)"] > seeds).sum())
    verdict = (
        f"the series' {seeds} seeds per point, set by its time budget, are fewer than the pilot asks at {short} of "
        f"its {len(t)} points: a point with the pilot's effect and spread can be expected to stay undecided at the "
        "family-wise width"
        if short
        else f"the series' {seeds} seeds per point are at least what the pilot asks at each of its points"
    )
    return f"Pilot (family-wise over the series' {m} points): " + "; ".join(parts) + f". So {verdict}."


def classify(t: pd.DataFrame, margin: float) -> pd.DataFrame:
    """Adds each point's decision on the gain (own 95% interval) and the family-wise one (widened for the
    series' points, Bonferroni: :func:`regime_map.family_half`), the seeds a decision would need at the measured
    effect and spread, and for gaining points the mechanism: "clipping" when the gain over no clipping (paired by
    seed) is above zero and the unclipped arm does not gain, "unclipped update" for the unclipped arm or where it
    gains as well, else "undetermined"."""
    t = t.copy()
    t["margin"] = margin
    dec = [decide_effect(g, h, int(n), margin) for g, h, n in zip(t.gain, t.gain_ci, t.n)]
    t["decision"], t["reason"] = [d.verdict for d in dec], [d.reason for d in dec]
    t["family"] = max(len(t), 1)
    t["gain_ci_fw"] = family_half(t.gain_ci, t.n, len(t)) if len(t) else []
    dec = [decide_effect(g, h, int(n), margin) for g, h, n in zip(t.gain, t.gain_ci_fw, t.n)]
    t["decision_fw"], t["reason_fw"] = [d.verdict for d in dec], [d.reason for d in dec]
    t["seeds_to_decide"] = [
        seeds_to_decide_fw(g, h, int(n), margin, len(t)) if n > 1 else np.nan for g, h, n in zip(t.gain, t.gain_ci, t.n)
    ]
    none_gains = {r.group: r.decision == "supported" for r in t[t.arm == "none"].itertuples()}
    above = (t.gain_vs_none - t.gain_vs_none_ci) > 0
    gains = t.decision == "supported"
    unclipped = (t.arm == "none") | t.group.map(lambda g: bool(none_gains.get(g, False)))
    t["mechanism"] = np.select([~gains, unclipped, above], ["", "unclipped update", "clipping"], "undetermined")
    return t


def attach_probe_curve(t: pd.DataFrame, curves: pd.DataFrame | None) -> pd.DataFrame:
    """Places each point on the mechanism probes' curves (``probe_curves.csv``, tiny-LM rows): the probe step size
    whose upper-clip rate lies nearest the point's mean upper-clip fraction, within the probes' tolerance (a factor
    ``probes.RATE_TOLERANCE``), and there the per-step law-of-clipping ratio abs(N_raw) / abs(C+) (`probe_ratio`,
    the geometric mean over the probe's trajectories, as ``probes.curve_table`` stores it) and upper-only
    clipping's per-step entropy effect with its 95% half-width (`probe_d_upper`, `probe_d_upper_ci`), measured by
    counterfactual steps from one state. NaN where no probe step size clips at a comparable rate. A reading of the
    probes at a matching clip rate, not a measurement on the series' own states."""
    from rlvr_lib.experiments.probes import RATE_TOLERANCE

    t = t.copy()
    cols = ("probe_lr", "probe_rate", "probe_ratio", "probe_d_upper", "probe_d_upper_ci")
    for c in cols:
        t[c] = np.nan
    if curves is None or curves.empty:
        return t
    c = curves[(curves.level == "tiny LM") & (curves.upper_rate > 0)]
    for i, rate in t.clip_high.items():
        if not rate > 0 or c.empty:
            continue
        dist = np.abs(np.log(c.upper_rate / rate))
        j = dist.idxmin()
        if dist[j] <= np.log(RATE_TOLERANCE):
            r = c.loc[j]
            t.loc[i, list(cols)] = [r.lr, r.upper_rate, r.ratio, r.d_upper, r.d_upper_ci]
    return t


# ---------------------------------------------------------------------------------------------------------
# verdicts

REASONS = {
    "gain_somewhere": "at least one point's family-wise interval lies above zero and reaches the margin",
    "undecided_points": "no point gains, and some points' family-wise intervals cover zero and reach past the margin",
    "within_margin_everywhere": "every point's family-wise interval lies within +-margin",
    "no_gain_anywhere": "every point's family-wise interval lies below zero or within the margin, some below zero",
    "no_points": "the series has no point under these rules",
    "check_failed": "clipping bound at no point of the series, so it tests nothing about clipping",
}
STATEMENT = "random-reward GRPO raises the tiny LM's exact accuracy somewhere on the regime series"


def _interval(m: float, h: float) -> str:
    return f"{m:+.3f} [{m - h:+.3f}, {m + h:+.3f}]"


def _where(r) -> str:
    return f"{r.arm} at {r.group} (lr {r.learning_rate:.1e} x {int(r.max_steps)} steps)"


def _e0_verdict(t: pd.DataFrame, margin: float, clip_floor: float, claim: str, statement: str, rules) -> Verdict:
    c = t[t.arm.isin(rules)]
    mk = lambda verdict, reason, stat: Verdict(claim, verdict, stat, "tiny LM", statement=statement,  # noqa: E731
                                               polarity=1, reason=reason)  # fmt: skip
    if c.empty:
        return mk("not testable here", "no_points", f"no point under {list(rules)}")
    # the family is this row's points; the mechanism needs the unclipped arm, so it comes from the whole table
    c = classify(c, margin).assign(mechanism=classify(t, margin).mechanism.loc[c.index])
    clipped = c[c.arm != "none"]
    if len(clipped) and len(clipped) == len(c) and not ((clipped.clip_high + clipped.clip_low) >= clip_floor).any():
        return mk("not testable here", "check_failed",
                  f"clip fractions below {clip_floor:g} at all {len(c)} points")  # fmt: skip
    m, own, lose = len(c), int((c.decision == "supported").sum()), int((c.reason == "opposite_side").sum())
    over = (
        f"{m} points, margin {margin:g}, intervals widened for {m} comparisons (Bonferroni); by each point's own "
        f"95% interval {own} gain, where chance alone would give about {0.025 * m:.1f}, and {lose} lose"
    )
    g = c[c.decision_fw == "supported"].sort_values("gain", ascending=False)
    if len(g):
        top = "; ".join(f"{_where(r)}: {_interval(r.gain, r.gain_ci)} ({r.mechanism})" for r in g.itertuples())
        return mk("supported", "gain_somewhere", f"{len(g)} of {over}. Gains (own 95% intervals): {top}")
    best = c.loc[c.gain.idxmax()]
    best_s = f"the best point: {_where(best)}, {_interval(best.gain, best.gain_ci)}"
    undecided = c.reason_fw.isin(["undecided", "no_interval"])
    if undecided.any():
        k = c.loc[undecided, "seeds_to_decide"].dropna()
        need = (
            f"at the family-wise width the nearest to a decision needs about {int(k.min())} seeds, all of them "
            f"about {int(k.max())}"
            if len(k)
            else "an interval needs at least 2 seeds"
        )
        return mk("inconclusive", "undecided_points",
                  f"none of {over}; {int(undecided.sum())} undecided ({need}); {best_s}")  # fmt: skip
    if (c.reason_fw == "within_margin").all():
        return mk("effect excluded", "within_margin_everywhere", f"none of {over}; {best_s}")
    below = int((c.reason_fw == "opposite_side").sum())
    return mk("not supported", "no_gain_anywhere", f"none of {over} ({below} lose); {best_s}")


def e0_verdicts(t: pd.DataFrame, margin: float, clip_floor: float) -> list[Verdict]:
    """E0 (tiny LM, any clip rule) over every point and rule, and restricted to symmetric clipping (the paper's
    rule)."""
    return [
        _e0_verdict(t, margin, clip_floor, "E0 (tiny LM, any clip rule)", STATEMENT, tuple(RULES)),
        _e0_verdict(
            t,
            margin,
            clip_floor,
            "E0 (tiny LM, symmetric clipping)",
            STATEMENT.replace("GRPO", "GRPO with symmetric clipping"),
            ("symmetric",),
        ),  # fmt: skip
    ]


def c6_verdicts(t: pd.DataFrame, entropy_margin: float, clip_floor: float) -> list[Verdict]:
    """C6 (absolute) along the series: does held-out entropy fall under random reward with symmetric clipping, at
    the symmetric point (any base) where clipping binds most, upper plus lower fraction (the series' strongest test
    of the claim)."""
    s = t[t.arm == "symmetric"]
    statement = "random-reward GRPO with clipping lowers held-out entropy (regime series)"
    if s.empty:
        return []
    r = s.loc[s.clip_high.add(s.clip_low).idxmax()]
    binds = float(r.clip_high + r.clip_low)
    checks = [] if binds >= clip_floor else [f"clip fraction {binds:.2e} below the floor {clip_floor:g}"]
    d = decide_effect(r.entropy_change, r.entropy_ci, int(r.n), entropy_margin, expect=-1, failed_checks=checks)
    stat = (
        f"at {r.group} (clip fractions upper {r.clip_high:.2e}, lower {r.clip_low:.2e}, the most of the series' "
        f"symmetric points, upper plus lower): change in held-out entropy {_interval(r.entropy_change, r.entropy_ci)} "
        f"nats over {int(r.n)} seeds ({d.note})"
    )
    return [Verdict("C6 (regime series)", d.verdict, stat, "tiny LM", statement=statement, polarity=1,
                    reason=d.reason)]  # fmt: skip


def reported_sentence(t: pd.DataFrame) -> str:
    """Where the reported regime lies from the series' reach: its upper-clip rate against the range the series'
    clipped points reached, and its tokens per optimizer step against the series' (both reported, not reproduced)."""
    r = REPORTED
    c = t[(t.arm != "none") & (t.clip_high > 0)]
    if c.empty:
        return "No point of the series clipped a token, so the reported clip rate cannot be placed on it."
    lo, hi = c.clip_high.min(), c.clip_high.max()
    near = c.loc[np.abs(np.log(c.clip_high / r["clip_high"])).idxmin()]
    inside = "inside" if lo <= r["clip_high"] <= hi else "outside"
    factor = max(near.clip_high / r["clip_high"], r["clip_high"] / near.clip_high)
    s = (
        f"The paper's reported upper-clip rate (about {r['clip_high']:g}, reported) lies {inside} the range the "
        f"series' clipped points reached ({lo:.1e} to {hi:.1e}); the nearest point by clip rate is {_where(near)} at "
        f"{near.clip_high:.1e}, a factor {factor:.1f} from it."
    )
    tok = t.tokens_per_step.dropna()
    if len(tok):
        ref = r["completions_per_step"] * r["max_tokens"]
        s += (
            f" Per optimizer step the series sees {tok.min():.0f} to {tok.max():.0f} completion tokens; Shao et al.'s "
            f"reference run sees {r['completions_per_step']} completions of up to {r['max_tokens']:,} tokens (up to "
            f"{ref:,}, reported), at most {ref / tok.max():.0f} times the series' largest."
        )
    return s


WAY = {1: "rises", -1: "falls", 0: "changes by an amount whose interval covers zero"}


def reading(t: pd.DataFrame, margin: float) -> str:
    """One paragraph on the series, composed from its table."""
    c = classify(t, margin)
    g = c[c.decision_fw == "supported"]
    lo, hi = c.loc[c.gain.idxmin()], c.loc[c.gain.idxmax()]
    sizes = sorted(c["size"].unique())
    s = (
        f"Over {len(c)} points of the tiny-LM series ({', '.join(map(str, sizes))} completions per optimizer step "
        f"at matched learning rate x steps; rules {', '.join(dict.fromkeys(c.arm))}), exact accuracy changes by "
        f"{_interval(lo.gain, lo.gain_ci)} at worst ({_where(lo)}) and {_interval(hi.gain, hi.gain_ci)} at best "
        f"({_where(hi)}). "
    )
    lose, gain_own = int((c.reason == "opposite_side").sum()), int((c.decision == "supported").sum())
    s += f"By its own 95% interval, {lose} of the {len(c)} points lose exact accuracy and {gain_own} gain. "
    if len(g):
        s += (
            f"{len(g)} point(s) gain with the family-wise interval; the mechanism there: "
            + ", ".join(f"{_where(r)}: {r.mechanism}" for r in g.itertuples())
            + ". "
        )
    else:
        s += f"No point gains with the family-wise interval (margin {margin:g}). "
    hc = c.loc[c.clip_high.idxmax()]
    if not (hc.clip_high > 0):
        return s + "Clipping bound at no point of the series. " + reported_sentence(t)
    s += (
        f"Clipping binds most at {_where(hc)} (upper-clip fraction {hc.clip_high:.1e}, lower {hc.clip_low:.1e}); "
        f"held-out entropy there {WAY[interval_sign(hc.entropy_change, hc.entropy_ci)]} "
        f"({_interval(hc.entropy_change, hc.entropy_ci)} nats). "
    )
    return s + reported_sentence(t)


def series_figure(t: pd.DataFrame):
    """Exact-accuracy change, entropy change and upper-clip fraction against completions per step, per rule: solid
    lines for the default base at 8 steps per rollout, open markers on dashed lines for the free-choice base, crosses
    for 2 steps per rollout; the unclipped arm has no upper-clip fraction to draw on the log scale."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    panels = [
        ("gain", "gain_ci", "change in exact accuracy"),
        ("entropy_change", "entropy_ci", "change in entropy (nats)"),
        ("clip_high", None, "upper-clip fraction"),
    ]
    for ax, (y, err, label) in zip(axes, panels):
        for rule, color in RULE_COLORS.items():
            r = t[t.arm == rule]
            main = r[(r.base == "default") & (r.steps_per_generation == r.steps_per_generation.max())]
            kinds = (
                (main, dict(marker="o", ls="-", mfc=color)),
                (r[r.base != "default"], dict(marker="o", ls="--", mfc="white")),
                (r[(r.base == "default") & ~r.index.isin(main.index)], dict(marker="x", ls="none")),
            )
            for i, (d, style) in enumerate(kinds):
                if d.empty:
                    continue
                d = d.sort_values("size")
                yerr = d[err] if err else None
                ax.errorbar(d["size"], d[y], yerr=yerr, color=color, ms=5, lw=1, capsize=2,
                            label=rule if i == 0 else None, **style)  # fmt: skip
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xticks(sorted(t["size"].unique()), [str(s) for s in sorted(t["size"].unique())])
        ax.set_xlabel("completions per optimizer step")
        ax.set_ylabel(label)
        if err:
            ax.axhline(0, color="0.6", lw=0.8)
    if (t.clip_high > 0).any():
        axes[2].set_yscale("log")
    axes[2].axhline(REPORTED["clip_high"], color="0.3", ls=":", lw=1)
    axes[2].annotate("reported (Chen et al.)", (0.02, REPORTED["clip_high"]), xycoords=("axes fraction", "data"),
                     fontsize=7, va="bottom", color="0.3")  # fmt: skip
    axes[0].legend(fontsize=8, title="clip rule", title_fontsize=8)
    fig.suptitle("Tiny-LM regime series: random reward, learning rate x steps matched")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------------------------
# the book's pages read the saved table


def load(results_dir: str | Path = "../results") -> pd.DataFrame | None:
    p = Path(results_dir) / f"{NAME}.csv"
    return pd.read_csv(p) if p.exists() else None


def series_reading(results_dir: str | Path = "../results") -> str | None:
    """The paragraph of :func:`reading` from the saved table (None when the series has not run)."""
    t = load(results_dir)
    return None if t is None or t.empty else reading(t, float(t.margin.iloc[0]))


def series_figure_from(results_dir: str | Path = "../results"):
    t = load(results_dir)
    return None if t is None or t.empty else series_figure(t)


def book_table(results_dir: str | Path = "../results") -> pd.DataFrame | None:
    """Every point of the series in the units a reader wants: setting, n, changes with intervals, clip fractions."""
    t = load(results_dir)
    if t is None:
        return None
    iv = lambda m, h: f"{m:+.3f} ± {h:.3f}"  # noqa: E731
    return pd.DataFrame(
        {
            "setting": t.group,
            "rule": t.arm,
            "lr x steps": [f"{lr:.1e} x {int(s)}" for lr, s in zip(t.learning_rate, t.max_steps)],
            "n": t.n,
            "exact-acc change": [iv(m, h) for m, h in zip(t.gain, t.gain_ci)],
            "decision (family-wise)": t.decision_fw,
            "entropy change (nats)": [iv(m, h) for m, h in zip(t.entropy_change, t.entropy_ci)],
            "upper clip": t.clip_high.map(lambda x: f"{x:.1e}"),
            "lower clip": t.clip_low.map(lambda x: f"{x:.1e}"),
            "median |N_raw|/|C+|": t.bias_ratio.map(lambda x: f"{x:.0f}" if np.isfinite(x) else "-"),
            "probe at this clip rate: upper-only dH/step": [
                "-" if not np.isfinite(m) else f"{m:+.1e} ± {h:.1e}"
                for m, h in zip(t.probe_d_upper, t.probe_d_upper_ci)
            ],
        }
    )
