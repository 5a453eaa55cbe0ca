"""Tidy summaries of tiny-LM run records: seed bands, changes from step 0, paired differences, windows.

Arms share seeds (the same first rollout batch and random-reward stream), so every comparison between arms is
paired by seed (:func:`paired_values`); a change is the last measured value minus the value at step 0, per run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rlvr_lib.experiments.lm_arms import PRIMARY
from rlvr_lib.stats import interval_sign, mean_ci, seed_band


def curves(df: pd.DataFrame, metrics: list[str], by: tuple[str, ...] = ("arm",)) -> pd.DataFrame:
    """The seed band (:func:`rlvr_lib.stats.seed_band`) of each metric at each step, per `by`. The per-run rows
    ride along in ``.attrs["seeds"]``, and the plot functions draw them faintly under each mean."""
    sub = df[df.metric.isin(metrics)]
    band = seed_band(sub, [*by, "metric", "step"])
    band.attrs["seeds"] = sub[[*by, "metric", "step", "run_id", "value"]].reset_index(drop=True)
    return band


def per_run_change(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per run: the metric at step 0, at the last step where it was measured, and the change. A metric measured
    only once (a greedy metric of a run stopped by divergence before its last, complete evaluation) has no final
    value: NaN, not a change of zero."""
    sub = df[df.metric == metric]
    first = sub.sort_values("step").groupby(["group", "arm", "run_id"]).first().reset_index(["group", "arm"])
    last = sub.sort_values("step").groupby(["group", "arm", "run_id"]).last().reset_index(["group", "arm"])
    out = first[["group", "arm", "seed", "value"]].rename(columns={"value": "initial"})
    out["final"] = np.where(last["step"].to_numpy() > first["step"].to_numpy(), last["value"].to_numpy(), np.nan)
    out["change"] = out["final"] - out["initial"]
    out["status"] = last["status"].to_numpy()
    # rows by seed, not by run id (a hash): what reads them in order - the bootstrap's draws - then never depends on
    # a configuration field that changes no result
    return out.reset_index().sort_values(["group", "arm", "seed"], kind="stable").reset_index(drop=True)


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


# ---------------------------------------------------------------------------------------------------------
# verdicts per experiment (each computed from the runs of its notebook)


def _row(table, arm, metric):
    r = table[(table.arm == arm) & (table.metric == metric)]
    return r.iloc[0] if len(r) else None


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
