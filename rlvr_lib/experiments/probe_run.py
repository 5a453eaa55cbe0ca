"""The mechanism probes end to end: pilot, sizing, the probes themselves, their verdicts, and a rerun under the
machine's native kernels.

:func:`pilot` runs the probes on seeds that are never reported and chooses how many trajectories and rollout
batches the reported probes get (:func:`sizes_from_pilot`: enough for each verdict to be decided at the pilot's
effect and spread, within the profile's budget). :func:`run_all` computes every table of the probes page for one
set of parameters; :func:`probe_verdicts` turns those tables into verdicts. :func:`start_replica` runs
:func:`run_all` again in a child process with ``RLVR_NUMERICS=native`` (no kernel pins, see
:mod:`rlvr_lib.numerics`) while the notebook's own process computes the pinned run, one thread each, and
:func:`kernel_table` sets the two sets of verdicts side by side. ``python -m rlvr_lib.experiments.probe_run
--params P.json --sizes S.json --out DIR`` is the child's entry point. What it leaves out: figures (the notebook
draws them from these tables).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from rlvr_lib.experiments import probes as pr
from rlvr_lib.stats import mean_ci, seeds_to_decide

TABLES = ("pairs", "positions", "trajectories", "tabular_trajectories", "tabular_curve")


def resolve(p: dict) -> dict:
    """The parameters as the probes use them: the notebook's, with the profile's overrides (the smoke profile
    shortens rollouts and completions; the full profile changes nothing)."""
    return {**p, **pr.PROFILES[p["profile"]].get("overrides", {})}


def _threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)


def resolve_base(p: dict):
    """(path, pretrain config) of the probed base: ``base_path`` when given (the replica), else the named base
    for the profile (pretrained first if missing). Written here rather than taken from the run driver, which
    imports the trainer (seconds a probe does not need)."""
    from rlvr_lib.experiments.lm_lab import base as base_for_profile
    from rlvr_lib.testbed.bases import BASES
    from rlvr_lib.testbed.pretrain import PretrainConfig, ensure_base

    name = p.get("base_path") or base_for_profile(p["base"], p["profile"])
    if name in BASES:
        return ensure_base(BASES[name], progress=False), BASES[name]
    path = Path(name)
    return path, PretrainConfig.from_dict(json.loads((path / "pretrain.json").read_text())["config"])


_LOADED: dict = {}  # base path -> (float32 model, float64 model, tokenizer, base weights): loaded once a process


def _models(path):
    """The base in float32 and in float64 (:func:`probes.load_probe_model`), reset to the base's weights."""
    import copy

    key = str(path)
    if key not in _LOADED:
        m32, tok = pr.load_probe_model(path, "float32")
        m64, _ = pr.load_probe_model(path, "float64")
        _LOADED[key] = (m32, m64, tok, copy.deepcopy(m32.state_dict()))
    m32, m64, tok, weights = _LOADED[key]
    m32.load_state_dict(weights)
    m64.load_state_dict(weights)
    return m32, m64, tok


def setup(p: dict):
    """(base path, float32 model, float64 model, tokenizer, training prompts, fixed prefixes): the prefixes are
    completions sampled once from the base (float32, as the trainer samples) on the first held-out prompts."""
    from rlvr_lib.testbed.tasks import eval_items, train_rows

    P = pr.PROFILES[p["profile"]]
    path, pcfg = resolve_base(p)
    m32, m64, tok = _models(path)
    prompts = [r["prompt"] for r in train_rows(pcfg.task)]
    held_out = [it["prompt"] for it in eval_items(pcfg.task, 0.0)][: P["n_prefix_prompts"]]
    prefixes = pr.sample_rows(m32, tok, held_out, 1, p["max_new_tokens"], seed=p["seed"] + 77)
    return path, m32, m64, tok, prompts, prefixes


def _trajectory(p, m32, tok, prompts, prefixes, base_state, seed, branches=False, keep=None, rollouts=None):
    P = pr.PROFILES[p["profile"]]
    m32.load_state_dict(base_state)
    return pr.branched_trajectory(
        m32,
        tok,
        prompts,
        prefixes,
        rollouts=rollouts or P["traj_rollouts"],
        steps_per_rollout=p["steps_per_rollout"],
        prompts_per_step=p["prompts_per_step"],
        G=p["G"],
        lr=p["outcome_lr"],
        eps=p["eps"],
        max_grad_norm=p["max_grad_norm"],
        max_new_tokens=p["max_new_tokens"],
        seed=seed,
        branch_lrs=tuple(p["lr_grid"]) if branches else (),
        branch_rollouts=tuple(P["branch_rollouts"]) if branches else (),
        keep_state_after=keep,
    )


def _pairs(p, m32, m64, tok, prompts, prefixes, state, name, n_batches, seed):
    m64.load_state_dict(state)
    m32.load_state_dict(state)
    pairs = pr.antithetic_pairs(
        m64,
        tok,
        name,
        prompts,
        prefixes,
        n_batches=n_batches,
        prompts_per_batch=p["prompts_per_step"],
        G=p["G"],
        lrs=list(p["sgd_lrs"]),
        max_new_tokens=p["max_new_tokens"],
        seed=seed,
        sampler=m32,
    )
    return pairs, pr.position_table(m64, tok, name, prefixes)


# ---------------------------------------------------------------------------------------------------------
# pilot and sizing


def pilot(p: dict) -> tuple[dict, pd.DataFrame]:
    """The pilot: trajectories on ``pilot_seeds`` and antithetic batches from the base on the first pilot seed,
    never reported. Returns (sizes, the pilot's table) (:func:`sizes_from_pilot`). The pilot's trajectories are
    ``pilot_rollouts`` rollouts long, shorter than the reported ones: the spread of a shorter trajectory's mean
    is larger, so the pilot errs toward more trajectories."""
    p = resolve(p)
    import copy

    _threads(p.get("pilot_threads", 1))
    P = pr.PROFILES[p["profile"]]
    _, m32, m64, tok, prompts, prefixes = setup({**p, "seed": p["pilot_seeds"][0]})
    base_state = copy.deepcopy(m32.state_dict())
    traj = pd.concat(
        [
            _trajectory(p, m32, tok, prompts, prefixes, base_state, s, rollouts=P["pilot_rollouts"])[0]
            for s in p["pilot_seeds"]
        ],
        ignore_index=True,
    )
    pairs, _ = _pairs(p, m32, m64, tok, prompts, prefixes, base_state, "base", P["pilot_batches"], p["pilot_seeds"][0])
    return sizes_from_pilot(pr.followed(pr.clip_effects(traj)), pairs, p)


def sizes_from_pilot(effects: pd.DataFrame, pairs: pd.DataFrame, p: dict) -> tuple[dict, pd.DataFrame]:
    """For each trajectory verdict (C6, C6 absolute, Park et al.'s two rules, C3 over both horizons) the trajectories,
    and for C2 the rollout batches, that would decide it at the pilot's measured effect and spread (the pilot's
    rule, :func:`rlvr_lib.stats.seeds_to_decide`; for an equivalence test, the distance to the margin is what must
    be cleared). The reported probes get the largest of these within the profile's [min, max]; the table says
    which verdicts the budget falls short for."""
    p = resolve(p)
    P = pr.PROFILES[p["profile"]]
    rows = []
    for claim, col, margin in (
        ("C6", "d_symmetric", p["c6_margin"]),
        ("C6 (absolute)", "dH_symmetric", p["c6_margin"]),
        ("C6 (Park et al.: upper clip lowers entropy)", "d_upper_only", p["c6_margin"]),
        ("C6 (Park et al.: lower clip raises entropy)", "d_lower_only", p["c6_margin"]),
    ):
        m, h, n = mean_ci(pr.per_unit(effects, col))
        rows.append(
            {
                "verdict": claim,
                "unit": "trajectories",
                "effect": m,
                "half_width": h,
                "n": n,
                "margin": margin,
                "needed": seeds_to_decide(m, h, n, margin),
            }
        )
    d = pr.drift_stats(effects, p["steps_per_rollout"])
    for T in (p["horizon"], p["reference_horizon"]):
        hm = pr.horizon_margin(d, T)
        rows.append(
            {
                "verdict": f"C3 (negligible over {T} optimizer steps)",
                "unit": "trajectories",
                "effect": hm["cum"],
                "half_width": hm["cum_ci"],
                "n": d["n_trajectories"],
                "margin": hm["margin"],
                "needed": seeds_to_decide(abs(hm["cum"]) - hm["margin"], hm["cum_ci"], d["n_trajectories"], 0.0),
            }
        )
    slopes = pr.per_batch_slopes(pairs)
    m, h, n = mean_ci(slopes)
    rows.append(
        {
            "verdict": "C2",
            "unit": "batches",
            "effect": m - 2,
            "half_width": h,
            "n": n,
            "margin": p["slope_margin"],
            "needed": seeds_to_decide(abs(m - 2) - p["slope_margin"], h, n, 0.0),
        }
    )
    table = pd.DataFrame(rows)
    traj_need = int(table[table.unit == "trajectories"].needed.max())
    batch_need = math.ceil(int(table[table.unit == "batches"].needed.max()) / 2)  # two states share the count
    sizes = {
        "n_trajectories": int(np.clip(traj_need, P["min_trajectories"], P["max_trajectories"])),
        "n_batches": int(np.clip(batch_need, P["min_batches"], P["max_batches"])),
    }
    chosen = np.where(table.unit == "trajectories", sizes["n_trajectories"], 2 * sizes["n_batches"])
    table["chosen"] = chosen
    table["budget_short"] = table.needed > chosen
    return sizes, table


# ---------------------------------------------------------------------------------------------------------
# the probes


def run_tabular(p: dict) -> dict[str, pd.DataFrame]:
    """The tabular twin's trajectories and its clip-rate curve (they need no sizes from the pilot)."""
    p = resolve(p)
    P = pr.PROFILES[p["profile"]]
    mu = p["steps_per_rollout"]
    sim = pr.tabular_config(p["profile"], mu, p["seed"])
    curve_sim = pr.tabular_config(p["profile"], mu, p["seed"], iterations=P["tab_curve_iterations"])
    return {
        "tabular_trajectories": pr.tabular_counterfactual(sim, p["eps"]),
        "tabular_curve": pr.tabular_curve(curve_sim, pr.TAB_ETAS, p["eps"]),
    }


def run_lm(p: dict, sizes: dict, progress: bool = False) -> dict[str, pd.DataFrame]:
    """The tiny-LM probes for `sizes` (from the pilot): the trajectories (the first ``curve_trajectories`` with
    learning-rate branches), then the antithetic pairs and position classes at the base and at the state the first
    trajectory reaches after ``state_rollout`` rollouts."""
    p = resolve(p)
    import copy

    _threads(p["threads"])
    P = pr.PROFILES[p["profile"]]
    _, m32, m64, tok, prompts, prefixes = setup(p)
    base_state = copy.deepcopy(m32.state_dict())
    traj, kept = [], None
    seeds = range(p["seed"], p["seed"] + sizes["n_trajectories"])
    for i, s in enumerate(tqdm_or_list(seeds, progress, "trajectories")):
        branches, keep = i < P["curve_trajectories"], (P["state_rollout"] if i == 0 else None)
        rows, state = _trajectory(p, m32, tok, prompts, prefixes, base_state, s, branches=branches, keep=keep)
        traj.append(rows)
        kept = state if i == 0 else kept
    along = f"after {P['state_rollout'] * p['steps_per_rollout']} steps of the outcome-run recipe"
    pairs, positions = [], []
    for k, (name, state) in enumerate((("base", base_state), (along, kept))):
        a, b = _pairs(p, m32, m64, tok, prompts, prefixes, state, name, sizes["n_batches"], p["seed"] + k)
        pairs.append(a)
        positions.append(b)
    return {
        "pairs": pd.concat(pairs, ignore_index=True),
        "positions": pd.concat(positions, ignore_index=True),
        "trajectories": pd.concat(traj, ignore_index=True),
    }


def run_all(p: dict, sizes: dict, progress: bool = False) -> dict[str, pd.DataFrame]:
    """Every table of the probes page (:func:`run_lm` and :func:`run_tabular`) for parameters `p` and `sizes`."""
    return {**run_lm(p, sizes, progress), **run_tabular(p)}


def tqdm_or_list(it, progress: bool, desc: str):
    if not progress:
        return it
    from tqdm import tqdm

    return tqdm(it, desc=desc, disable=None)


def derived(tables: dict, p: dict) -> dict:
    """The tables the verdicts and figures read: effects (LM, every rate), the followed path at the outcome rate,
    the tabular effects, the per-trajectory curve units of both levels, both levels' drift statistics and drift
    figure table, and the middle plain-SGD step size (C5's)."""
    p = resolve(p)
    P = pr.PROFILES[p["profile"]]
    mu = p["steps_per_rollout"]
    effects = pr.clip_effects(tables["trajectories"])
    path = pr.followed(effects)
    tab = pr.clip_effects(tables["tabular_trajectories"])
    return {
        "effects": effects,
        "path": path,
        "tab": tab,
        "lm_units": pr.curve_units(effects),
        "tab_units": pr.curve_units(tables["tabular_curve"], mu),
        "lm_drift": pr.drift_stats(path, mu),
        "tab_drift": pr.drift_stats(tab, 1, mu),
        "lm_steps": P["traj_rollouts"] * mu,
        "tab_steps": P["tab_iterations"] * mu,
        "mid_lr": sorted(p["sgd_lrs"])[len(p["sgd_lrs"]) // 2],
        "envelope": pd.concat(
            [pr.envelope_table(path, "tiny LM", mu), pr.envelope_table(tab, "tabular", 1, mu)], ignore_index=True
        ),
    }


def probe_verdicts(tables: dict, p: dict) -> list:
    """Every verdict of the probes page from the tables of :func:`run_all` (see :mod:`rlvr_lib.experiments.probes`
    for each rule)."""
    p = resolve(p)
    d = derived(tables, p)
    mu = p["steps_per_rollout"]
    mid = d["mid_lr"]
    lab = "the book's tiny-LM runs"
    return [
        pr.c2_verdict(tables["pairs"], p["slope_margin"]),
        pr.c5_verdict(tables["pairs"], tables["positions"], mid),
        *pr.c6_verdicts(d["path"], p["c6_margin"], p["clip_floor"]),
        *pr.c6_verdicts(d["tab"], p["c6_margin"], p["clip_floor"], level="tabular", relative=False, steps_per_row=mu),
        pr.c3_small_verdict(d["lm_units"], p["paper_clip_rate"], p["small_ratio"]),
        pr.c3_over_training_verdict(d["lm_drift"], p["horizon"], lab, measured_steps=d["lm_steps"]),
        pr.c3_over_training_verdict(
            d["lm_drift"], p["reference_horizon"], pr.SHAO_REFERENCE, measured_steps=d["lm_steps"]
        ),
        pr.c3_over_training_verdict(d["tab_drift"], p["horizon"], lab, "tabular", measured_steps=d["tab_steps"]),
        pr.c3_over_training_verdict(
            d["tab_drift"], p["reference_horizon"], pr.SHAO_REFERENCE, "tabular", measured_steps=d["tab_steps"]
        ),
    ]


def paper_rate_table(d: dict, rate: float) -> pd.DataFrame:
    """The two curves' values at the paper's clip rate, per level, each at the step size whose clip rate of that
    side is the paper's (:func:`probes.rate_point`): E|N_raw| / E|C+| (geometric mean over trajectories) at upper
    rate `rate`, upper-only clipping's per-step entropy effect at upper rate `rate`, and lower-only clipping's at
    lower rate `rate` (means over trajectories, 95% intervals; NaN where no step size comes close enough)."""
    rows = []
    for level, units in (("tiny LM", d["lm_units"]), ("tabular", d["tab_units"])):
        for what, value, side, log in (
            ("E|N_raw| / E|C+|", "ratio", "upper_rate", True),
            ("upper-only minus none, nats per optimizer step", "d_upper", "upper_rate", False),
            ("lower-only minus none, nats per optimizer step", "d_lower", "lower_rate", False),
        ):
            lr, r, vals = pr.at_rate(units, rate, value, side, log_value=log)
            m, h, n = mean_ci(vals)
            lo, hi = (10 ** (m - h), 10 ** (m + h)) if log else (m - h, m + h)
            rows.append(
                {
                    "level": level,
                    "quantity": what,
                    "at": f"{side.replace('_', '-')} {rate:g}",
                    "step size": lr,
                    "its clip rate": r,
                    "value": 10**m if log else m,
                    "lo": lo,
                    "hi": hi,
                    "n": n,
                }
            )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------------------
# the native-kernel replica


def start_replica(p: dict, out_dir: str | Path) -> subprocess.Popen:
    """Start the probes in a child process under the machine's native kernels (``RLVR_NUMERICS=native`` and none
    of the pins in its environment), writing its tables to `out_dir`. The child probes the same base (the weights
    pretrained under the pins, passed by path): what changes is only how the probes compute. It starts before the
    pilot: it loads, runs the tabular probes, then waits for :func:`send_sizes` (or for its parent to die)."""
    from rlvr_lib.numerics import OPT_OUT, PINS

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sizes.json").unlink(missing_ok=True)
    path, _ = resolve_base(resolve(p))
    (out / "params.json").write_text(json.dumps({**p, "base_path": str(path)}))
    env = {k: v for k, v in os.environ.items() if k not in PINS}
    env[OPT_OUT] = "native"
    cmd = [sys.executable, "-m", "rlvr_lib.experiments.probe_run", "--params", str(out / "params.json")]
    cmd += ["--sizes", str(out / "sizes.json"), "--out", str(out)]
    log = open(out / "log.txt", "w")
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=os.getcwd())


def send_sizes(out_dir: str | Path, sizes: dict) -> None:
    """Hand the pilot's sizes to a waiting replica (written whole, then renamed into place)."""
    out = Path(out_dir)
    tmp = out / "sizes.json.tmp"
    tmp.write_text(json.dumps(sizes))
    tmp.rename(out / "sizes.json")


def _wait_for(path: Path, poll_s: float = 0.2) -> dict:
    import time

    parent = os.getppid()
    while not path.exists():
        if os.getppid() != parent:  # the notebook died before its pilot finished
            raise SystemExit("parent process gone; no sizes")
        time.sleep(poll_s)
    return json.loads(path.read_text())


def collect_replica(proc: subprocess.Popen, out_dir: str | Path) -> tuple[dict, dict]:
    """Wait for the replica; (its tables, its numerics record). Raises with the replica's log when it failed."""
    out = Path(out_dir)
    if proc.wait() != 0:
        raise RuntimeError(f"the native-kernel replica failed:\n{(out / 'log.txt').read_text()[-4000:]}")
    tables = {k: pd.read_csv(out / f"{k}.csv") for k in TABLES}
    return tables, json.loads((out / "numerics.json").read_text())


def numerics_record() -> dict:
    """The kernels this process computes with (for the reproducibility page)."""
    from rlvr_lib.numerics import OPT_OUT, kernels

    return {"kernels": kernels(), "opt_out": os.environ.get(OPT_OUT)}


def kernel_table(pinned: list, native: list) -> pd.DataFrame:
    """The verdicts under pinned and under native kernels side by side, one row per (claim, level)."""
    nat = {(v.claim, v.level): v for v in native}
    rows = []
    for v in pinned:
        w = nat.get((v.claim, v.level))
        rows.append(
            {
                "claim": v.claim,
                "level": v.level,
                "pinned": v.verdict,
                "pinned reason": v.reason,
                "native": w.verdict if w else "missing",
                "native reason": w.reason if w else "",
                "agree": bool(w and w.verdict == v.verdict),
                "pinned statistic": v.statistic,
                "native statistic": w.statistic if w else "",
            }
        )
    return pd.DataFrame(rows)


def replica_difference(pinned: dict, native: dict) -> pd.DataFrame:
    """Per table: rows in each run and the largest absolute difference between their numeric columns (0: the
    same bits; NaN: the tables differ in shape, e.g. a sampled completion of another length)."""
    rows = []
    for k in TABLES:
        a, b = pinned[k].reset_index(drop=True), native[k].reset_index(drop=True)
        num = [c for c in a.select_dtypes("number").columns if c in b]
        same_shape = a.shape == b.shape
        diff = (
            float(np.nanmax(np.abs(a[num].to_numpy(float) - b[num].to_numpy(float)), initial=0.0))
            if same_shape
            else math.nan
        )
        rows.append({"table": k, "rows pinned": len(a), "rows native": len(b), "max abs difference": diff})
    return pd.DataFrame(rows)


def kernels_page(results_dir: str | Path = "../results") -> tuple[pd.DataFrame, str]:
    """For the reproducibility page: the probes' verdicts under pinned and native kernels (``probe_kernels.csv``,
    written by the probes notebook) and one sentence composed from them."""
    path = Path(results_dir) / "probe_kernels.csv"
    if not path.exists():
        return pd.DataFrame(), "The probes have not been run under native kernels in this build."
    k = pd.read_csv(path)
    table = k[["claim", "level", "pinned", "native", "agree"]]
    differ = ", ".join(f"{r.claim} [{r.level}]" for r in k[~k.agree].itertuples()) or "none"
    pinned, native = k.pinned_kernels.iloc[0], k.native_kernels.iloc[0]
    sentence = f"Pinned kernels: {pinned}; native kernels of the machine that built this page: {native}"
    sentence += (
        " (the same ATen kernels: only the library's matrix-product branch differs). "
        if pinned.split("/")[0] == native.split("/")[0]
        else ". "
    )
    diff_path = Path(results_dir) / "probe_kernels_diff.csv"
    if diff_path.exists():
        d = pd.read_csv(diff_path)
        same = [r.table for r in d.itertuples() if r[4] == 0]
        sentence += (
            f"Largest difference between the two runs' tables: {d['max abs difference'].max():.1e}; "
            f"identical bits in: {', '.join(same) or 'none'}. "
        )
    sentence += f"{int(k.agree.sum())} of {len(k)} probe verdicts agree; those that differ: {differ}."
    return table, sentence


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", required=True)
    ap.add_argument("--sizes", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    p = json.loads(Path(a.params).read_text())
    tables = run_tabular(p)
    tables.update(run_lm(p, _wait_for(Path(a.sizes))))
    out = Path(a.out)
    for k in TABLES:
        tables[k].to_csv(out / f"{k}.csv", index=False)
    (out / "numerics.json").write_text(json.dumps(numerics_record()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
