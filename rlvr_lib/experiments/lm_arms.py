"""The tiny-LM experiments' arms and sweeps: the schedules, the named arms, the bases by profile, and `sweep`.

Every notebook ``notebooks/lm_*.py`` calls :func:`sweep` with a dict of arms (label -> configuration overrides)
and its seeds. All runs share one experiment namespace (``tinylm``) under ``runs_dir``, so a configuration that two
notebooks both need is trained once and found by the other (run identity is the hash of the configuration, see
``config.run_id``); it is one piece of evidence, shown on every page that uses it but never counted twice.

Profiles: ``full`` trains the named bases of ``bases`` with the :data:`FULL` schedule; ``smoke`` swaps in a very
small base of the same dials and a few steps, for the test suite. Reported seeds count up from 0; the
hyperparameter and pilot seeds (1000 and up) are disjoint from them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from rlvr_lib._checks import check_choice
from rlvr_lib.rl.config import ExperimentConfig
from rlvr_lib.rl.records import load_runs
from rlvr_lib.testbed.bases import BASES
from rlvr_lib.testbed.models import ModelConfig
from rlvr_lib.testbed.pretrain import PretrainConfig, ensure_base
from rlvr_lib.testbed.tasks import TaskConfig

EXPERIMENT = "tinylm"
REPORTED_SEEDS = [0, 1, 2]  # the least any reported arm gets
TUNING_SEEDS = [1000, 1001]
PRIMARY = "eval/exact_acc"  # the primary outcome of every accuracy verdict

# 2 prompts x 8 completions per optimizer step; a rollout of 16 prompts (128 completions) feeds 8 optimizer
# steps, as Shao et al.'s reference run does (8 optimizer steps per rollout), so every step after a rollout's
# first is off-policy and clipping can act. Held-out evaluation at 6 points (steps 0, 20, ..., 100) on 80 items:
# exact accuracy (the primary outcome, which needs no samples) complete at every point; at steps 0 and 100 also
# greedy completions and 4 samples per item, in between 1 sample per item and no greedy ones (the interior points
# draw the curves; every change from step 0 is read from the two ends). Evaluation draws from its own seeded random
# state and restores the training's, so what is evaluated in between never changes training. The item set is the
# same for every arm, so item-to-item variation cancels in paired comparisons.
FULL = dict(
    max_steps=100,
    prompts_per_step=2,
    num_generations=8,
    steps_per_generation=8,
    eval_every=20,
    eval_items=80,
    eval_n_samples=4,
    eval_interior_samples=1,
)
SMOKE = dict(
    max_steps=2,
    prompts_per_step=2,
    num_generations=4,
    steps_per_generation=2,
    eval_every=2,
    eval_items=8,
    eval_n_samples=2,
    eval_interior_samples=1,
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
    cfg = BASES[name]
    steps = {"steps": max(2, cfg.steps // 30), "stop_at": max(1, cfg.stop_at // 30) if cfg.stop_at else 0}
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
