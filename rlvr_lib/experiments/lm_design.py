"""The tiny-LM experiments' design: the learning-rate choice, the margins, and the pilot that sizes each comparison.

The learning rate is chosen on the tuning seeds (:func:`choose_lr`); the smallest effects of interest are fixed
before the runs (:data:`MARGINS`); the pilot (:func:`pilot_table`) measures each key comparison's spread on seeds
that are never reported and gives it the seeds a decision needs, within the main job's budget.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rlvr_lib.experiments.lm_arms import (
    CLIP_HIGHER,
    ENTROPY_COEF,
    EPS_02,
    PRIMARY,
    RANDOM_CLIP,
    RANDOM_NO_CLIP,
    REPORTED_SEEDS,
    Arm,
    arms,
    seeds_for,
)
from rlvr_lib.experiments.lm_tables import paired_values
from rlvr_lib.stats import mean_ci, seeds_needed, seeds_to_decide


def save_hparams(results_dir: str, chosen: dict, table: pd.DataFrame) -> Path:
    d = Path(results_dir)
    d.mkdir(parents=True, exist_ok=True)
    path = d / "hparams.json"
    path.write_text(json.dumps({"chosen": chosen, "grid": table.to_dict(orient="records")}, indent=1))
    return path


def load_hparams(results_dir: str) -> dict:
    p = Path(results_dir) / "hparams.json"
    return json.loads(p.read_text())["chosen"] if p.exists() else {}


def grid_edge_note(chosen: float, grid: list[float]) -> str:
    """Say plainly when the chosen value sits at the edge of its grid (the optimum may lie beyond it)."""
    if chosen == max(grid):
        return (
            "note: the chosen rate is the largest in the grid; a larger one might gain more or be unstable. "
            "The grid was fixed before looking and is not extended after the fact; the rule's choice stands."
        )
    if chosen == min(grid):
        return "note: the chosen rate is the smallest in the grid; a smaller one might do better."
    return "the chosen rate is inside the grid."


def choose_lr(table: pd.DataFrame) -> float:
    """The documented rule: the learning rate with the largest mean gain in exact accuracy under the
    ground-truth reward on the tuning seeds, among those that neither diverged nor lost more than 0.05
    greedy accuracy; ties go to the smaller rate."""
    acc = table[table.metric == PRIMARY].set_index("learning_rate")
    greedy = table[table.metric == "eval/greedy_acc"].set_index("learning_rate")
    ok = [lr for lr in acc.index if acc.loc[lr, "diverged"] == 0 and greedy.loc[lr, "change"] > -0.05]
    if not ok:
        raise RuntimeError("no learning rate in the grid is stable; widen the grid")
    best = max(ok, key=lambda lr: (round(acc.loc[lr, "change"], 4), -lr))
    return float(best)


# ---------------------------------------------------------------------------------------------------------
# smallest effects of interest and manipulation checks

MARGINS = {
    "acc_margin": "exact accuracy, absolute (2 points: the smallest gain an RLVR paper would call one)",
    "entropy_margin": "held-out entropy, nats per token (10% of the default base's 0.04)",
    "share_margin": "the preferred style's share (a fifth of the 65% -> 90% amplification Shao et al. report)",
    "clip_floor": "share of tokens clipped for clipping to count as binding (the paper reports about 0.1%)",
}


def margins_table(**margins) -> pd.DataFrame:
    """The margins an experiment decides with (its parameters cell sets them), for the page to print first."""
    unknown = sorted(set(margins) - set(MARGINS))
    if unknown:
        raise ValueError(f"unknown margins {unknown}; known: {sorted(MARGINS)}")
    return pd.DataFrame([{"margin": k, "value": v, "what it is": MARGINS[k]} for k, v in margins.items()])


# ---------------------------------------------------------------------------------------------------------
# the pilot: each key comparison's spread on the pilot seeds, then the seeds it gets


@dataclass(frozen=True, eq=False)
class Comparison:
    """A comparison that carries a claim: `arm`'s change from step 0 in `metric` (`other` None), or that change
    minus `other`'s, paired by seed. `margin` names its smallest effect of interest (a key of MARGINS)."""

    claim: str
    arm: Arm
    other: Arm | None
    metric: str
    margin: str
    what: str


KEY_COMPARISONS = (
    Comparison("C4", RANDOM_NO_CLIP, None, PRIMARY, "acc_margin", "random reward, no clip: change in exact accuracy"),
    Comparison(
        "C6", RANDOM_CLIP, RANDOM_NO_CLIP, "eval/entropy", "entropy_margin", "entropy change, clip minus no clip"
    ),
    Comparison("C8", ENTROPY_COEF, None, PRIMARY, "acc_margin", "entropy coef: change in exact accuracy"),
    Comparison(
        "C12", CLIP_HIGHER, EPS_02, "eval/entropy", "entropy_margin", "entropy change, eps_high=0.28 minus eps=0.2"
    ),
    Comparison("E7", RANDOM_CLIP, None, PRIMARY, "acc_margin", "random reward, clip: change in exact accuracy"),
)


def comparison_values(df: pd.DataFrame, c: Comparison) -> pd.Series:
    """Per seed: the comparison's value (the arm's change, or the paired difference of changes)."""
    return paired_values(df, c.metric, c.arm.label, c.other.label if c.other else None, "change")


def pilot_arms(base_path: str) -> dict:
    """{label: config} of every arm the key comparisons need, on `base_path`."""
    arm_list = {a.label: a for c in KEY_COMPARISONS for a in (c.arm, c.other) if a is not None}
    return arms(base_path, list(arm_list.values()))


def pilot_table(df: pd.DataFrame, margins: dict, max_seeds: int) -> pd.DataFrame:
    """Per key comparison: its pilot mean m and spread, and two seed counts from them (``stats.seeds_needed``):

    * ``seeds for half-width <= margin``: the interval no wider than the margin (what "effect excluded" needs
      when the effect is near zero);
    * ``seeds to decide``: the interval narrow enough to reach a verdict at the pilot's effect size - half-width
      at most abs(m) (the interval clears zero) or at most margin - abs(m) (it fits inside the margin), whichever is
      larger.

    A comparison gets ``seeds to decide`` seeds, at least len(REPORTED_SEEDS), at most `max_seeds` (the budget).
    """
    rows = []
    for c in KEY_COMPARISONS:
        v = comparison_values(df, c).to_numpy(float)
        m, h, n = mean_ci(v)
        margin = float(margins[c.margin])
        decide_n = seeds_to_decide(m, h, n, margin, cap=1000)
        rows.append(
            {
                "claim": c.claim,
                "comparison": c.what,
                "pilot mean": m,
                "pilot sd": float(np.std(v, ddof=1)) if n > 1 else float("nan"),
                "pilot n": n,
                "margin": margin,
                "seeds for half-width <= margin": seeds_needed(h, n, margin, cap=1000),
                "seeds to decide": decide_n,
                "seeds used": int(min(max(decide_n, len(REPORTED_SEEDS)), max_seeds)),
            }
        )
    out = pd.DataFrame(rows)
    out["within budget"] = out["seeds used"] >= out["seeds to decide"]
    return out


def save_pilot(results_dir: str, table: pd.DataFrame) -> Path:
    d = Path(results_dir)
    d.mkdir(parents=True, exist_ok=True)
    path = d / "pilot.json"
    path.write_text(json.dumps({"seeds": dict(zip(table.claim, table["seeds used"].astype(int).tolist()))}, indent=1))
    return path


def load_pilot(results_dir: str) -> dict:
    """{claim: seeds} as the pilot chose them (empty when the pilot has not run)."""
    p = Path(results_dir) / "pilot.json"
    return json.loads(p.read_text())["seeds"] if p.exists() else {}


def reported_seeds(chosen: dict, profile: str, arm_list: list[Arm], fallback: list[int]) -> dict:
    """{arm label: seeds} for a notebook's arms: an arm in a key comparison gets as many seeds (0, 1, ...) as the
    pilot chose for its comparisons (`chosen`: {claim: seeds}, see :func:`load_pilot`); any other arm, and every
    arm when the pilot has not run, gets `fallback`. The smoke profile uses one seed."""
    out = {}
    for a in arm_list:
        ns = [chosen[c.claim] for c in KEY_COMPARISONS if c.claim in chosen and a.label in _labels(c)]
        out[a.label] = seeds_for(profile, list(range(max(ns))) if ns else list(fallback))
    return out


def _labels(c: Comparison) -> set[str]:
    return {c.arm.label} | ({c.other.label} if c.other is not None else set())
