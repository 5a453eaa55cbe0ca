"""The tiny-LM experiments: arms, sweeps over seeds, tidy summaries and verdicts.

Every notebook ``notebooks/lm_*.py`` calls :func:`sweep` with a dict of ARMS (label -> configuration
overrides) and its seeds. All runs share one experiment namespace (``tinylm``) under ``runs_dir``, so a
configuration that two notebooks both need (the default base with a random reward, say) is trained once and
found by the other (run identity is the hash of the configuration, see ``config.run_id``); it is one piece of
evidence, shown on every page that uses it but never counted twice.

Design (see the book's pilot page): arms share seeds, and a seed fixes the first rollout batch and the random
reward stream, so arms that coincide up to their first update are compared on common random numbers and
every comparison is paired by seed. The primary outcome is the exact expected accuracy (``eval/exact_acc``,
teacher-forced, no sampling noise); greedy and sampled accuracy are secondary. How many seeds each key
comparison gets is chosen by the pilot (:func:`pilot_table`) on the tuning seeds, which are never reported.

Profiles: ``full`` trains the named bases of ``bases`` with the :data:`FULL` schedule; ``smoke`` swaps in a very
small base of the same dials and a few steps, for the test suite. Reported seeds count up from 0; the
hyperparameter and pilot seeds (1000 and up) are disjoint from them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from rlvr_lib._checks import check_choice
from rlvr_lib.rl.config import ExperimentConfig
from rlvr_lib.rl.records import load_runs
from rlvr_lib.stats import interval_sign, mean_ci, seed_band, seeds_needed, seeds_to_decide
from rlvr_lib.testbed.bases import BASES
from rlvr_lib.testbed.models import ModelConfig
from rlvr_lib.testbed.pretrain import PretrainConfig, ensure_base
from rlvr_lib.testbed.tasks import TaskConfig
from rlvr_lib.verdicts import Verdict, decide, decide_effect

EXPERIMENT = "tinylm"
REPORTED_SEEDS = [0, 1, 2]  # the least any reported arm gets
TUNING_SEEDS = [1000, 1001]
PRIMARY = "eval/exact_acc"  # the primary outcome of every accuracy verdict

# 2 prompts x 8 completions per optimizer step; a rollout of 16 prompts (128 completions) feeds 8 optimizer
# steps, as Shao et al.'s reference run does (8 optimizer steps per rollout), so every step after a rollout's
# first is off-policy and clipping can act. Held-out evaluation at 6 points (steps 0, 20, ..., 100) on 80 items with 4
# samples each (sampled metrics are secondary; the primary outcome, exact accuracy, needs no samples; the item
# set is the same for every arm, so item-to-item variation cancels in paired comparisons).
FULL = dict(
    max_steps=100,
    prompts_per_step=2,
    num_generations=8,
    steps_per_generation=8,
    eval_every=20,
    eval_items=80,
    eval_n_samples=4,
)
SMOKE = dict(
    max_steps=2,
    prompts_per_step=2,
    num_generations=4,
    steps_per_generation=2,
    eval_every=2,
    eval_items=8,
    eval_n_samples=2,
    max_completion_length=24,
)
SMOKE_BASE = PretrainConfig(
    task=TaskConfig(digits=2, n_train=64, n_eval=16),
    model=ModelConfig(hidden_size=32, intermediate_size=64, num_layers=2, num_heads=2),
    n_corpus=500,
    steps=10,
    batch_size=32,
    warmup=2,
)


@dataclass(frozen=True, eq=False)
class Arm:
    """An experiment arm: the label shown in tables and legends, and the configuration fields it sets (the base
    aside). Notebooks build their sweeps from these records and verdicts find arms through them, so no verdict
    depends on a label typed elsewhere, and every setting (the clip rule included) is explicit."""

    label: str
    fields: dict
    color: str = ""  # its colour on every page of the book (see ARM_COLORS)

    def config(self, base: str) -> dict:
        return {"base": base, **self.fields}

    def with_(self, **changes) -> Arm:
        """The same arm (same label, same colour) with some fields changed, e.g. a notebook parameter."""
        return Arm(self.label, {**self.fields, **changes}, self.color)


GROUND_TRUTH = Arm("ground truth", {"reward": {"ground_truth": 1.0}, "clip_rule": "symmetric"}, "#2ca02c")
RANDOM_CLIP = Arm("random, clip", {"reward": {"random": 1.0}, "clip_rule": "symmetric"}, "#1f77b4")
RANDOM_NO_CLIP = Arm("random, no clip", {"reward": {"random": 1.0}, "clip_rule": "none"}, "#d62728")
# + entropy_coef < 0, set by the notebook
ENTROPY_COEF = Arm(
    "entropy coef", {"reward": {"constant": 1.0}, "clip_rule": "symmetric", "entropy_coef": -0.05}, "#9467bd"
)
ENTROPY_REWARD = Arm("entropy reward", {"reward": {"neg_entropy": 1.0}, "clip_rule": "symmetric"}, "#8c564b")
EPS_02 = Arm("eps=0.2", {"reward": {"random": 1.0}, "clip_rule": "symmetric", "epsilon": 0.2}, "#1f77b4")
CLIP_HIGHER = Arm(
    "eps_high=0.28",
    {"reward": {"random": 1.0}, "clip_rule": "asymmetric", "epsilon": 0.2, "epsilon_high": 0.28},
    "#17becf",
)
# E7's name for RANDOM_CLIP, the same colour
RANDOM = Arm("random", {"reward": {"random": 1.0}, "clip_rule": "symmetric"}, "#1f77b4")
FORMAT = Arm("format", {"reward": {"format": 1.0}, "clip_rule": "symmetric"}, "#7f7f7f")
ANY_WRONG = Arm("incorrect (any wrong)", {"reward": {"incorrect": 1.0}, "clip_rule": "symmetric"}, "#e377c2")
FIXED_WRONG = Arm("incorrect (fixed label)", {"reward": {"fixed_wrong": 1.0}, "clip_rule": "symmetric"}, "#bcbd22")
MAJORITY = Arm("majority vote", {"reward": {"majority": 1.0}, "clip_rule": "symmetric"}, "#ff7f0e")
ARM_COLORS = {
    a.label: a.color
    for a in (
        GROUND_TRUTH,
        RANDOM_CLIP,
        RANDOM_NO_CLIP,
        ENTROPY_COEF,
        ENTROPY_REWARD,
        EPS_02,
        CLIP_HIGHER,
        RANDOM,
        FORMAT,
        ANY_WRONG,
        FIXED_WRONG,
        MAJORITY,
    )
}


def arms(base_path: str, arm_list: list[Arm], group: str | None = None) -> dict:
    """{label: config} (or {(group, label): config}) for :func:`sweep`, every arm on `base_path`."""
    return {(a.label if group is None else (group, a.label)): a.config(base_path) for a in arm_list}


def base(name: str, profile: str) -> str:
    """The `base` field for a named base: its name (full) or the path of its smoke-sized twin (smoke)."""
    check_choice("profile", profile, ("full", "smoke"))
    check_choice("base", name, BASES)
    if profile == "full":
        return name
    dials = {
        k: v
        for k, v in BASES[name].to_dict().items()
        if k in ("reliable_share", "contamination", "contamination_digits") and v != getattr(BASES["default"], k)
    }
    steps = {"steps": max(2, BASES[name].steps // 30)}
    task = {"task": replace(SMOKE_BASE.task, format=BASES[name].task.format)}
    return str(ensure_base(replace(SMOKE_BASE, **dials, **steps, **task), progress=False))


def common(profile: str, runs_dir: str, learning_rate: float) -> dict:
    check_choice("profile", profile, ("full", "smoke"))
    return {
        **(FULL if profile == "full" else SMOKE),
        "learning_rate": learning_rate,
        "output_root": runs_dir,
        "experiment": EXPERIMENT,
    }


def seeds_for(profile: str, seeds: list[int]) -> list[int]:
    return seeds if profile == "full" else seeds[:1]


def sweep(arms: dict, seeds, shared: dict, progress: bool = True, executor: str | None = None):
    """Run every arm x seed (finished runs are skipped) and return their records as one tidy table with an
    `arm` column, and a `group` column when the arms' keys are (group, arm) pairs (e.g. (base, reward)).
    `seeds` is one list for every arm, or a dict from arm key (or arm label) to that arm's list.
    `executor` chooses where runs train (see :mod:`rlvr_lib.rl.executors`; empty: ``$RLVR_EXECUTOR``, else
    sequential); the records do not depend on it. A diverged run is kept and marked; a failing run raises."""
    from tqdm import tqdm

    from rlvr_lib.rl.executors import parse, run_many

    spec = parse(executor)
    cfgs = []
    for key, over in arms.items():
        group, arm = key if isinstance(key, tuple) else ("", key)
        arm_seeds = seeds if isinstance(seeds, list) else seeds.get(key, seeds.get(arm))
        if arm_seeds is None:
            raise ValueError(f"no seeds given for arm {key!r}")
        for s in arm_seeds:
            label = f"{group}: {arm}" if group else arm
            cfgs.append((group, arm, ExperimentConfig.from_dict({**shared, **over, "name": label, "seed": s})))
    # a bar on a terminal; in notebooks (papermill, Jupyter) one summary line instead of a wall of bar updates
    with tqdm(total=len(cfgs), desc=f"runs ({spec})", disable=None if progress else True) as bar:
        done = run_many([c.to_dict() for _, _, c in cfgs], spec, bar=bar)
    members: dict[tuple[str, str], list[str]] = {}
    for group, arm, cfg in cfgs:
        members.setdefault((group, arm), []).append(cfg.run_id)
    if progress:
        trained = sum(d["trained"] for d in done)
        print(
            f"{len(cfgs)} runs ({trained} trained now, {len(cfgs) - trained} found finished in "
            f"{shared['output_root']}; executor {spec})"
        )
    df = load_runs(Path(shared["output_root"]) / EXPERIMENT)
    # two arms may be the same configuration (then they share the runs): one copy of the rows per arm
    parts = [df[df.run_id.isin(ids)].assign(group=group, arm=arm) for (group, arm), ids in members.items()]
    return pd.concat(parts, ignore_index=True)


def curves(df: pd.DataFrame, metrics: list[str], by: tuple[str, ...] = ("arm",)) -> pd.DataFrame:
    """The seed band (:func:`rlvr_lib.stats.seed_band`) of each metric at each step, per `by`. The per-run rows
    ride along in ``.attrs["seeds"]``, and the plot functions draw them faintly under each mean."""
    sub = df[df.metric.isin(metrics)]
    band = seed_band(sub, [*by, "metric", "step"])
    band.attrs["seeds"] = sub[[*by, "metric", "step", "run_id", "value"]].reset_index(drop=True)
    return band


def per_run_change(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per run: the metric at step 0, at the last step where it was measured, and the change."""
    sub = df[df.metric == metric]
    first = sub.sort_values("step").groupby(["group", "arm", "run_id"]).first().reset_index(["group", "arm"])
    last = sub.sort_values("step").groupby(["group", "arm", "run_id"]).last().reset_index(["group", "arm"])
    out = first[["group", "arm", "seed", "value"]].rename(columns={"value": "initial"})
    out["final"] = last["value"].to_numpy()
    out["change"] = out["final"] - out["initial"]
    out["status"] = last["status"].to_numpy()
    return out.reset_index()


def change_table(df: pd.DataFrame, metrics: list[str], by: tuple[str, ...] = ("arm",)) -> pd.DataFrame:
    """Change from step 0 to the end, mean and 95% interval over seeds, per `by` and metric."""
    rows = []
    for metric in metrics:
        ch = per_run_change(df, metric)
        extra = [b for b in by if b not in ("arm", "group")]
        if extra:
            ch = ch.merge(df.drop_duplicates("run_id").set_index("run_id")[extra], left_on="run_id", right_index=True)
        for key, g in ch.groupby(list(by), sort=False):
            m, h, n = mean_ci(g.change.to_numpy(float))
            mi, _, _ = mean_ci(g.initial.to_numpy(float))
            mf, _, _ = mean_ci(g.final.to_numpy(float))
            rows.append(
                {
                    **dict(zip(by, key if isinstance(key, tuple) else (key,))),
                    "metric": metric,
                    "initial": mi,
                    "final": mf,
                    "change": m,
                    "ci": h,
                    "n": n,
                    "diverged": int((g.status == "diverged").sum()),
                }
            )
    return pd.DataFrame(rows)


def paired_values(df: pd.DataFrame, metric: str, arm_a: str, arm_b: str | None, what: str = "final") -> pd.Series:
    """Per seed: arm_a's `what` (final, change or peak) of `metric`, minus arm_b's on the same seed (arm_b None:
    arm_a's alone)."""
    if what == "peak":
        per = df[df.metric == metric].groupby(["arm", "seed"]).value.max()
    else:
        per = per_run_change(df, metric).set_index(["arm", "seed"])[what]
    a = per.loc[arm_a]
    if arm_b is None:
        return a
    b = per.loc[arm_b]
    common_seeds = a.index.intersection(b.index)
    return a.loc[common_seeds] - b.loc[common_seeds]


def paired_difference(df: pd.DataFrame, metric: str, arm_a: str, arm_b: str, what: str = "final"):
    """Mean and 95% interval over seeds of (arm_a - arm_b) in `what` (final, change or peak), paired by seed."""
    return mean_ci(paired_values(df, metric, arm_a, arm_b, what).to_numpy(float))


def fmt(m: float, h: float) -> str:
    return f"{m:+.3f} [{m - h:+.3f}, {m + h:+.3f}]" if np.isfinite(h) else f"{m:+.3f} (one seed, no interval)"


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
# verdicts per experiment (each computed from the runs of its notebook)


def _row(table, arm, metric):
    r = table[(table.arm == arm) & (table.metric == metric)]
    return r.iloc[0] if len(r) else None


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


def clip_check(df: pd.DataFrame, arm: str, floor: float) -> tuple[str, bool]:
    """Did clipping bind in `arm`? Mean share of clipped tokens over its runs' training steps against `floor`."""
    v = df[(df.arm == arm) & (df.metric == "clip_ratio/region_mean")].value
    share = float(v.mean()) if len(v) else float("nan")
    ok = bool(np.isfinite(share) and share >= floor)
    return f"clipping binds in '{arm}' (clipped tokens {share:.2%}, needs >= {floor:.2%})", ok


def lowered_check(table: pd.DataFrame, arm: str, metric: str = "eval/entropy", group: str | None = None):
    """Did `arm` lower `metric` (its change's 95% interval below zero)?"""
    t = table if group is None else table[table.group == group]
    r = _row(t, arm, metric)
    ok = r is not None and interval_sign(r.change, r.ci) < 0
    where = f" on the {group} base" if group else ""
    text = f"'{arm}' lowers {metric}{where} ({fmt(r.change, r.ci) if r is not None else 'not measured'})"
    return text, bool(ok)


def contamination_check(
    df: pd.DataFrame, margin: float, clean_base: dict, metric: str = "exact_acc"
) -> tuple[str, bool]:
    """Before any RL (step 0), does the contaminated base score higher on its contaminated items than the clean
    base does on the same items (`clean_base`: :func:`clean_base_on_contaminated_items`), by more than
    `margin`? That gain is what memorisation bought. Exact accuracy at step 0 does not depend on the seed, so
    the check is a plain comparison."""
    s0 = df[df.step == 0].pivot_table(index="run_id", columns="metric", values="value")
    col = f"eval/contaminated/{metric}"
    if col not in s0.columns:
        return "the base has no contaminated items", False
    dirty = float(s0[col].mean())
    clean_items = float(s0[f"eval/clean/{metric}"].mean())
    gain = dirty - clean_base["contaminated"]
    return (
        f"memorisation shows before RL: on the contaminated items the contaminated base scores {dirty:.3f}, the "
        f"clean base {clean_base['contaminated']:.3f} (gain {gain:+.3f}, needs > {margin:g}); on the clean items "
        f"{clean_items:.3f} and {clean_base['clean']:.3f}",
        bool(gain > margin),
    )


def clean_base_on_contaminated_items(profile: str, n_items: int | None = None) -> dict:
    """The clean `default` base's exact accuracy, before any RL, on the `contaminated` base's evaluation items
    (the first `n_items`, by default as many as the profile's runs evaluate): {"contaminated": on the items that
    base saw solved, "clean": on the others}."""
    import torch

    from rlvr_lib.rl.driver import resolve_base
    from rlvr_lib.testbed.evaluation import exact_accuracy
    from rlvr_lib.testbed.models import load_policy
    from rlvr_lib.testbed.tasks import eval_items

    _, dirty = resolve_base(base("contaminated", profile))
    clean_path, _ = resolve_base(base("default", profile))
    model, tok = load_policy(clean_path, progress=False)
    n_items = n_items or common(profile, "", 0.0)["eval_items"]
    items = eval_items(dirty.task, dirty.contamination, dirty.contamination_digits)[:n_items]
    with torch.no_grad():
        acc = exact_accuracy(model.eval(), tok, items, fmt=dirty.task.format)
    flags = np.array([it["contaminated"] for it in items])
    return {"contaminated": float(acc[flags].mean()), "clean": float(acc[~flags].mean())}


def margin_verdict(
    claim: str,
    est: tuple[float, float, int],
    margin: float,
    statistic: str,
    expect: int = 1,
    checks: list[tuple[str, bool]] = (),
    premise: tuple[str, bool] | None = None,
    statement: str = "",
    polarity: int = 1,
) -> Verdict:
    """A tiny-LM verdict from an estimate (mean, 95% half-width, n) against a margin, with the manipulation
    checks it depends on (see :func:`rlvr_lib.verdicts.decide_effect`, whose reason it carries). The statistic
    says what was checked; `statement` what the row tests, in the direction `expect`."""
    m, h, n = est
    verdict, note, reason = decide_effect(m, h, n, margin, expect, [t for t, ok in checks if not ok], premise)
    passed = [t for t, ok in checks if ok]
    tail = f"; checks passed: {'; '.join(passed)}" if passed and verdict != "not testable here" else ""
    return Verdict(
        claim,
        verdict,
        f"{statistic} (n = {n}, margin {margin:g}): {note}{tail}",
        "tiny LM",
        statement=statement,
        polarity=polarity,
        reason=reason,
    )


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
      at most |m| (the interval clears zero) or at most margin - |m| (it fits inside the margin), whichever is
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


def late_change(df: pd.DataFrame, metric: str = PRIMARY, from_fraction: float = 0.6) -> pd.DataFrame:
    """Per arm: the change in `metric` over the last part of training (from the evaluation nearest
    `from_fraction` of the run to the end) against the whole change, mean and 95% interval over seeds. A late
    change whose interval covers zero says the curve has flattened by then."""
    sub = df[df.metric == metric]
    last = int(sub.step.max())
    steps = np.sort(sub.step.unique())
    mid = int(steps[np.argmin(abs(steps - from_fraction * last))])
    wide = sub.pivot_table(index=["arm", "seed"], columns="step", values="value")
    rows = []
    for arm, g in wide.groupby(level="arm", sort=False):
        late = mean_ci((g[last] - g[mid]).to_numpy(float))
        total = mean_ci((g[last] - g[0]).to_numpy(float))
        rows.append(
            {
                "arm": arm,
                "metric": metric,
                f"change 0 -> {last}": fmt(*total[:2]),
                f"change {mid} -> {last}": fmt(*late[:2]),
                "flat at the end": interval_sign(*late[:2]) == 0,
            }
        )
    return pd.DataFrame(rows)


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


def collapse_step(df: pd.DataFrame, metric: str = PRIMARY, share: float = 0.5) -> pd.Series:
    """Per run: the first evaluation step at which `metric` falls below `share` of its step-0 value (NaN when it
    never does): the time to collapse of the stress regime."""
    out = {}
    for rid, g in df[df.metric == metric].sort_values("step").groupby("run_id"):
        v0 = g.value.iloc[0]
        below = g[g.value < share * v0]
        out[rid] = float(below.step.iloc[0]) if len(below) else float("nan")
    return pd.Series(out, name="collapse_step")


# ---------------------------------------------------------------------------------------------------------
# the experiments' verdicts


def _change(table, arm, metric, group=None):
    t = table if group is None else table[table.group == group]
    r = _row(t, arm, metric)
    return (float(r.change), float(r.ci), int(r.n)) if r is not None else (float("nan"), float("nan"), 0)


def e1_verdicts(
    df: pd.DataFrame,
    table: pd.DataFrame,
    acc_margin: float,
    entropy_margin: float,
    clip_floor: float,
    stress: pd.DataFrame | None = None,
) -> list[Verdict]:
    """C4 (random reward without clipping gains), C6 twice - relative (clip minus no clip, paired by seed) and
    absolute (does held-out entropy fall under random reward with clipping, as the paper states it) - and C7
    (clipping stabilises): C7 at the chosen step size and, with `stress` (the same two arms at a larger step
    size), in the stress regime - exact accuracy clip minus no clip, with the peak importance ratio and the time
    to collapse reported beside it."""
    c4 = _change(table, RANDOM_NO_CLIP.label, PRIMARY)
    dH = paired_difference(df, "eval/entropy", RANDOM_CLIP.label, RANDOM_NO_CLIP.label, "change")
    h_clip = _change(table, RANDOM_CLIP.label, "eval/entropy")
    binds = clip_check(df, RANDOM_CLIP.label, clip_floor)
    out = [
        margin_verdict(
            "C4",
            c4,
            acc_margin,
            f"random reward without clipping: change in held-out exact accuracy {fmt(*c4[:2])}",
            statement="random-reward GRPO without clipping raises exact accuracy",
        ),
        margin_verdict(
            "C6",
            dH,
            entropy_margin,
            f"change in held-out entropy, clip minus no clip (paired by seed): {fmt(dH[0], dH[1])} nats",
            expect=-1,
            checks=[binds],
            statement="under a random reward, clipping lowers held-out entropy relative to no clipping",
        ),
        margin_verdict(
            "C6 (absolute)",
            h_clip,
            entropy_margin,
            f"random reward with clipping: change in held-out entropy from step 0 {fmt(*h_clip[:2])} nats",
            expect=-1,
            checks=[binds],
            statement="random-reward GRPO with clipping lowers held-out entropy",
        ),
    ]
    for label, d in (("chosen step size", df), ("stress regime", stress)):
        if d is None:
            continue
        dA = paired_difference(d, PRIMARY, RANDOM_CLIP.label, RANDOM_NO_CLIP.label, "change")
        dR = paired_difference(d, "ratio/max", RANDOM_NO_CLIP.label, RANDOM_CLIP.label, "peak")
        col = collapse_step(d)
        runs = d.drop_duplicates("run_id").set_index("run_id").arm
        collapsed = {a: int(col[runs == a].notna().sum()) for a in (RANDOM_CLIP.label, RANDOM_NO_CLIP.label)}
        n_runs = {a: int((runs == a).sum()) for a in collapsed}
        out.append(
            margin_verdict(
                f"C7 ({label})",
                dA,
                acc_margin,
                f"change in exact accuracy, clip minus no clip (paired by seed): {fmt(dA[0], dA[1])}; peak "
                f"importance ratio, no clip minus clip: {fmt(dR[0], dR[1])}; runs collapsing below half their "
                f"initial exact accuracy: clip {collapsed[RANDOM_CLIP.label]}/{n_runs[RANDOM_CLIP.label]}, no clip "
                f"{collapsed[RANDOM_NO_CLIP.label]}/{n_runs[RANDOM_NO_CLIP.label]}",
                checks=[clip_check(d, RANDOM_CLIP.label, clip_floor)],
                statement=f"under a random reward, clipping keeps exact accuracy higher than no clipping ({label})",
            )
        )
    return out


def e2_verdicts(table: pd.DataFrame, acc_margin: float) -> list[Verdict]:
    """C8 per entropy-minimisation arm: it should raise exact accuracy on the base whose mode is correct
    (default) and not on the base whose mode is wrong (shortcut). An arm that does not lower entropy on a base
    cannot speak for C8 there (manipulation check).

    Reasons: ``check_failed``; ``gain_only_where_mode_correct`` (supported); ``no_gain_where_mode_correct`` or
    ``gain_where_mode_wrong`` (not supported); ``undecided``."""
    out = []
    for arm in (ENTROPY_COEF.label, ENTROPY_REWARD.label):
        checks = [lowered_check(table, arm, group=g) for g in ("default", "shortcut")]
        good = _change(table, arm, PRIMARY, "default")
        bad = _change(table, arm, PRIMARY, "shortcut")
        failed = [t for t, ok in checks if not ok]
        v_good = decide_effect(*good, acc_margin, 1, failed).verdict
        v_bad = decide_effect(*bad, acc_margin, 1, failed).verdict
        if v_good == "not testable here":
            verdict, reason = "not testable here", "check_failed"
        elif v_good == "supported" and v_bad in ("effect excluded", "not supported"):
            verdict, reason = "supported", "gain_only_where_mode_correct"
        elif v_bad == "supported":
            verdict, reason = "not supported", "gain_where_mode_wrong"
        elif v_good in ("effect excluded", "not supported"):
            verdict, reason = "not supported", "no_gain_where_mode_correct"
        else:
            verdict, reason = "inconclusive", "undecided"
        stat = (
            f"{arm}: exact-accuracy change {fmt(*good[:2])} on the reliable-mode base (a gain there: {v_good}), "
            f"{fmt(*bad[:2])} on the shortcut-mode base (a gain there: {v_bad}; n = {good[2]}, margin "
            f"{acc_margin:g}); " + "; ".join(f"{t}: {'passed' if ok else 'FAILED'}" for t, ok in checks)
        )
        statement = (
            f"entropy minimisation ({arm}) raises exact accuracy on the base whose mode is correct and not on the "
            "base whose mode is wrong"
        )
        out.append(Verdict(f"C8 ({arm})", verdict, stat, "tiny LM", statement=statement, reason=reason))
    return out


def share_reading(share: tuple, acc: tuple, within: dict[str, tuple]) -> str:
    """What moved: the preferred style's share (strategy) or the accuracy within a style (execution), composed
    from the signs of the 95% intervals of the changes in the share, in exact accuracy, and in sampled accuracy
    within each style (`within`: {style: (mean, half, n)})."""
    words = {1: "rose", -1: "fell", 0: "did not move clearly"}
    s, a = interval_sign(*share[:2]), interval_sign(*acc[:2])
    text = f"the preferred style's share {words[s]}, exact accuracy {words[a]}"
    moved = {k: interval_sign(*v[:2]) for k, v in within.items()}
    inside = ", ".join(f"within the {k} style {words[v]}" for k, v in moved.items())
    if a == 0:
        return text
    if s == 0 and any(moved.values()):
        return f"{text}; accuracy {inside}: the change came through execution, not through the choice of style"
    if s == 0:
        return f"{text}; accuracy {inside}: neither level of the decomposition moved clearly on its own"
    return f"{text}; accuracy {inside}: the choice of style moved with it"


def e3_verdicts(table: pd.DataFrame, share_margin: float) -> list[Verdict]:
    """E3 (Shao et al.'s prior amplification): under a random reward the base's preferred style gains share -
    the reliable style on the default base, the shortcut style on the shortcut base - decided against
    `share_margin`. Beside it, in words computed from the intervals (:func:`share_reading`), whether accuracy
    moved through the choice of style or through execution within a style."""
    out = []
    for base_name, pref in (("default", "eval/share_reliable"), ("shortcut", "eval/share_shortcut")):
        style = pref.rsplit("_", 1)[1]
        for arm in (RANDOM_CLIP.label, RANDOM_NO_CLIP.label):
            s = _change(table, arm, pref, base_name)
            a = _change(table, arm, PRIMARY, base_name)
            rel = _change(table, arm, "eval/acc_in_reliable", base_name)
            short = _change(table, arm, "eval/acc_in_shortcut", base_name)
            out.append(
                margin_verdict(
                    f"E3 prior amplification ({base_name} base, {arm})",
                    s,
                    share_margin,
                    f"change in the preferred ({style}) style's share {fmt(*s[:2])}; exact accuracy {fmt(*a[:2])}; "
                    f"execution, sampled accuracy within the reliable style {fmt(*rel[:2])}, within the shortcut "
                    f"style {fmt(*short[:2])}; reading: {share_reading(s, a, {'reliable': rel, 'shortcut': short})}",
                    statement=f"a random reward ({arm}) raises the share of the {base_name} base's preferred style "
                    f"({style})",
                )
            )
    return out


DECOMPOSITION = ("eval/share_reliable", "eval/acc_in_reliable", "eval/share_shortcut", "eval/acc_in_shortcut")


def decomposition(table: pd.DataFrame) -> pd.DataFrame:
    """Sampled accuracy as strategy x execution, before and after RL, per (group, arm): the share of each style
    and the accuracy within it (from a change table holding :data:`DECOMPOSITION`), and the sampled accuracy
    the two reassemble (the rare other-format samples score 0)."""
    t = table[table.metric.isin(DECOMPOSITION)]
    rows = []
    for (g, a), sub in t.groupby(["group", "arm"], sort=False):
        v = sub.set_index("metric")
        for when in ("initial", "final"):
            # a style no sample used has no within-style accuracy (NaN)
            sr, ar, ss, as_ = (float(v[when].get(m, np.nan)) for m in DECOMPOSITION)
            rows.append(
                {
                    "group": g,
                    "arm": a,
                    "when": when,
                    "share reliable": sr,
                    "acc in reliable": ar,
                    "share shortcut": ss,
                    "acc in shortcut": as_,
                    "reassembled sampled acc": np.nansum([sr * ar, ss * as_]),
                }
            )
    return pd.DataFrame(rows)


def e4_verdicts(df: pd.DataFrame, table: pd.DataFrame, acc_margin: float, clean_base: dict) -> list[Verdict]:
    """C9: random-reward gains are not only contamination - the clean items should gain too. Testable only
    when the base has memorised its contaminated items (:func:`contamination_check` against the clean base)."""
    c = _change(table, RANDOM_CLIP.label, "eval/clean/exact_acc")
    d = _change(table, RANDOM_CLIP.label, "eval/contaminated/exact_acc")
    check = contamination_check(df, acc_margin, clean_base)
    # the premise: a gain of interest on at least one item set is not excluded by its interval
    gain_possible = max(c[0] + c[1], d[0] + d[1]) >= acc_margin
    return [
        margin_verdict(
            "C9",
            c,
            acc_margin,
            f"contaminated base, random reward with clipping: exact-accuracy change on clean items "
            f"{fmt(*c[:2])}, on contaminated items {fmt(*d[:2])}",
            checks=[check],
            premise=(
                "random-reward training gained on neither clean nor contaminated items (both intervals end below "
                "the margin): there is no gain for contamination to explain",
                bool(gain_possible),
            ),
            statement="on a contaminated base, random-reward GRPO raises exact accuracy on the clean items too",
        )
    ]


def strength_check(greedy: pd.DataFrame, lo: float = 0.2, hi: float = 0.8) -> tuple[str, bool]:
    """Does the strength series span what it claims: a base with initial greedy accuracy at most `lo` and one
    at least `hi`? `greedy` is per-run change table of eval/greedy_acc (its `initial` column)."""
    by_base = greedy.groupby("group").initial.mean()
    ok = bool(len(by_base) and by_base.min() <= lo and by_base.max() >= hi)
    span = ", ".join(f"{b} {v:.2f}" for b, v in by_base.sort_values().items())
    return f"the bases span initial greedy accuracy from <= {lo} to >= {hi} ({span})", ok


def e5_verdicts(ch: pd.DataFrame, acc_margin: float, greedy: pd.DataFrame | None = None) -> list[Verdict]:
    """C11 from per-run changes across bases (`ch`: :func:`per_run_change` of the primary outcome, random reward
    with clipping, `group` = base): the slope of the mean gain of a base against its mean initial accuracy. The
    base is the unit - seeds are nested within bases - so the interval is a two-stage percentile bootstrap
    (resample bases, then seeds within each). Its premise is that random-reward training gains on some base:
    when every base's interval ends below `acc_margin`, the verdict is *premise absent* (the slope is still
    reported). With `greedy` the series' span is checked first."""
    g = ch[(ch.arm == RANDOM_CLIP.label) & np.isfinite(ch.initial) & np.isfinite(ch.change)]
    units = [(sub.initial.to_numpy(float), sub.change.to_numpy(float)) for _, sub in g.groupby("group", sort=False)]
    slope = _slope_over_units(units)
    lo, hi = _bootstrap_units(units)
    by_base = {b: mean_ci(sub.change.to_numpy(float)) for b, sub in g.groupby("group", sort=False)}
    tops = [m + h if np.isfinite(h) else m for m, h, _ in by_base.values()]
    premise = bool(tops) and max(tops) >= acc_margin
    checks = [strength_check(greedy)] if greedy is not None else []
    failed = [t for t, ok in checks if not ok]
    if failed:
        verdict, reason = "not testable here", "check_failed"
    elif not premise:
        verdict, reason = "premise absent", "premise_false"
    else:
        verdict = decide(bool(lo > 0), bool(hi < 0))
        reason = {"supported": "slope_positive", "not supported": "slope_negative"}.get(verdict, "undecided")
    gains = "; ".join(f"{b} {fmt(m, h)}" for b, (m, h, _) in by_base.items())
    return [
        Verdict(
            "C11",
            verdict,
            f"slope of a base's mean exact-accuracy gain against its mean initial exact accuracy, random reward "
            f"with clipping, {len(units)} bases as units (seeds nested): {slope:+.3f} (two-stage bootstrap 95% "
            f"interval [{lo:+.3f}, {hi:+.3f}]); gain per base: {gains}"
            + ("" if premise else f" - no base gains by the margin {acc_margin:g}, so there is no gain to grow")
            + "".join(f"; {t}: {'passed' if ok else 'FAILED'}" for t, ok in checks),
            "tiny LM",
            statement="under a random reward, a stronger base (higher initial exact accuracy) gains more",
            reason=reason,
        )
    ]


def _slope_over_units(units) -> float:
    x = np.array([u[0].mean() for u in units])
    y = np.array([u[1].mean() for u in units])
    return float(np.polyfit(x, y, 1)[0]) if len(x) > 2 and np.ptp(x) > 0 else float("nan")


def _bootstrap_units(units, n: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Two-stage percentile bootstrap of :func:`_slope_over_units`: bases with replacement, then the runs of
    each drawn base with replacement."""
    if len(units) < 3:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    s = []
    for _ in range(n):
        draw = []
        for k in rng.integers(0, len(units), len(units)):
            x, y = units[k]
            i = rng.integers(0, len(x), len(x))
            draw.append((x[i], y[i]))
        v = _slope_over_units(draw)
        if np.isfinite(v):
            s.append(v)
    if not s:
        return float("nan"), float("nan")
    return float(np.percentile(s, 2.5)), float(np.percentile(s, 97.5))


def e6_verdicts(df: pd.DataFrame, entropy_margin: float, clip_floor: float) -> list[Verdict]:
    d = paired_difference(df, "eval/entropy", CLIP_HIGHER.label, EPS_02.label, "change")
    checks = [clip_check(df, CLIP_HIGHER.label, clip_floor), clip_check(df, EPS_02.label, clip_floor)]
    return [
        margin_verdict(
            "C12",
            d,
            entropy_margin,
            "clip-higher as an entropy dial: change in held-out entropy with eps_high = 0.28 minus symmetric "
            f"eps = 0.2 (random reward, paired by seed): {fmt(d[0], d[1])} nats",
            checks=checks,
            statement="widening the upper clip (eps_high 0.28 against 0.2) raises held-out entropy under a random "
            "reward: clipping works as an entropy dial",
        )
    ]


E7_REASONS = {
    "ordering_holds": "random reward raises exact accuracy, and ground truth raises it more (paired by seed)",
    "random_lowers": "random reward lowers exact accuracy",
    "random_gain_excluded": "random reward changes exact accuracy by less than the margin",
    "random_not_below_ground_truth": "random reward raises exact accuracy at least as much as ground truth",
    "random_undecided": "whether random reward raises exact accuracy is undecided",
    "ordering_undecided": "random reward raises exact accuracy; whether ground truth raises it more is undecided",
}


def e7_verdicts(table: pd.DataFrame, acc_margin: float, df: pd.DataFrame | None = None) -> list[Verdict]:
    """Two rows. E0, the paradox's premise: the random reward raises exact accuracy (decided against
    `acc_margin`). E7, Shao et al.'s ordering: it does, by less than the ground truth does - the ground-truth
    minus random change, paired by seed on the seeds both arms have (from `df`; without it, the difference of
    the two arms' means, with no interval). The E7 reason is one of :data:`E7_REASONS`; the front page composes
    its sentence from it."""
    acc = table[table.metric == PRIMARY].set_index("arm")
    gt, rnd = acc.loc[GROUND_TRUTH.label], acc.loc[RANDOM.label]
    n = int(rnd["n"])
    v_rnd, note, why = decide_effect(float(rnd.change), float(rnd.ci), n, acc_margin)
    if df is not None:
        dm, dh, dn = paired_difference(df, PRIMARY, GROUND_TRUTH.label, RANDOM.label, "change")
        gap_text = f"{fmt(dm, dh)} (paired, n = {dn})"
    else:  # no interval without the runs: the ordering stays undecided
        dm, dh = float(gt.change - rnd.change), float("nan")
        gap_text = f"{dm:+.3f} (difference of means)"
    gap = interval_sign(dm, dh) if np.isfinite(dh) else 0
    if v_rnd == "supported":
        verdict, reason = {
            1: ("supported", "ordering_holds"),
            -1: ("not supported", "random_not_below_ground_truth"),
            0: ("inconclusive", "ordering_undecided"),
        }[gap]
    elif v_rnd == "not supported":
        verdict, reason = "not supported", "random_lowers"
    elif v_rnd == "effect excluded":
        verdict, reason = "not supported", "random_gain_excluded"
    else:
        verdict, reason = "inconclusive", "random_undecided"
    order = ", ".join(f"{a} {acc.loc[a, 'change']:+.3f}" for a in acc.sort_values("change", ascending=False).index)
    return [
        Verdict(
            "E0",
            v_rnd,
            f"random reward with clipping: change in exact accuracy {fmt(rnd.change, rnd.ci)} (n = {n}, margin "
            f"{acc_margin:g}): {note}",
            "tiny LM",
            statement="random-reward GRPO (symmetric clipping) raises exact accuracy",
            reason=why,
        ),
        Verdict(
            "E7 Shao et al.'s ordering (spurious rewards help, less than ground truth)",
            verdict,
            f"exact-accuracy change by reward: {order}; ground truth {fmt(gt.change, gt.ci)}, random "
            f"{fmt(rnd.change, rnd.ci)} (a gain of the random reward: {v_rnd}); ground truth minus random "
            f"{gap_text}; so: {E7_REASONS[reason]}",
            "tiny LM",
            statement="a random reward raises exact accuracy, by less than the ground-truth reward",
            reason=reason,
        ),
    ]


def windowed(df: pd.DataFrame, metrics: list[str], window: int = 8) -> pd.DataFrame:
    """Per run, the training metrics averaged over consecutive windows of `window` optimizer steps (labelled by
    the last step the window holds), so that seed bands show trends rather than step-to-step sampling noise.
    ``clip/bias_ratio`` is recomputed per window as mean clip/n_raw / mean clip/c_plus (inf when no token was
    upper-clipped in the window) instead of averaging per-step ratios."""
    sub = df[df.metric.isin(set(metrics) | {"clip/n_raw", "clip/c_plus"}) & (df.step > 0)].copy()
    win = (sub.step - 1) // window
    sub["step"] = sub.step.groupby(win).transform("max")  # the last step the window holds (100, not 104)
    keys = [c for c in ("group", "arm", "run_id", "seed", "status") if c in sub]
    out = sub.groupby([*keys, "step", "metric"], as_index=False).value.mean()
    if "clip/bias_ratio" in metrics:
        wide = out.pivot_table(index=[*keys, "step"], columns="metric", values="value").reset_index()
        if {"clip/n_raw", "clip/c_plus"} <= set(wide.columns):
            ratio = wide["clip/n_raw"] / wide["clip/c_plus"].where(wide["clip/c_plus"] > 0)
            extra = wide[[*keys, "step"]].assign(metric="clip/bias_ratio", value=ratio.to_numpy())
            out = pd.concat([out[out.metric != "clip/bias_ratio"], extra], ignore_index=True)
    return out[out.metric.isin(metrics)]


def group_panels(df: pd.DataFrame, metrics: dict[str, str], groups: list[str]):
    """Curves per (group, arm) and the panel list for `plots.grid`: one panel per metric x group, in that order.
    `metrics` maps a metric name to its axis label. Returns (curves with a `panel` column, panels)."""
    cur = curves(df, list(metrics), by=("group", "arm"))
    cur["panel"] = cur.group + " base: " + cur.metric
    panels = [(f"{g} base: {m}", label) for m, label in metrics.items() for g in groups]
    return cur, panels
