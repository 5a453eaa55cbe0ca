"""Figures of the mechanism-probes page that the generic plot functions cannot lay out alone: the clip-rate curves
(each panel with its own x quantity, the paper's reported bound marked) and the drift-against-margin panels.
Every panel is drawn by :func:`rlvr_lib.experiments.plots.lines`, so the house style applies unchanged."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rlvr_lib.experiments import plots


def curves_figure(curves: pd.DataFrame, paper_rate: float, paper_ratio: float):
    """Three panels: E|N_raw| / E|C+| against the upper-clip rate for both levels (log-log, the paper's REPORTED
    bound marked), and clipping's per-step entropy effect against the clip rate on the tiny LM and on the tabular
    simulator (upper-only minus none against the upper-clip rate, lower-only minus none against the lower-clip
    rate). `curves` is :func:`probes.curve_table`'s output, one row per level and step size; bands and bars are
    95% intervals over trajectories; a dotted vertical line marks `paper_rate`. Step sizes at which nothing was
    clipped have no place on a log axis and are left out."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    r = curves[(curves.upper_rate > 0) & np.isfinite(curves.ratio)].sort_values("upper_rate")
    plots.lines(
        r.assign(mean=r.ratio, ci=np.nan),
        "upper_rate",
        hue="level",
        ax=axes[0],
        logx=True,
        logy=True,
        markers=True,
        xlabel="upper-clip rate (share of tokens per step)",
        ylabel="E|N_raw| / E|C+|",
        title="law-of-clipping ratio",
        marks=[(paper_rate, paper_ratio, f"Chen et al.'s bound at {paper_rate:g} (reported)")],
    )
    axes[0].errorbar(r.upper_rate, r.ratio, yerr=[r.ratio - r.ratio_lo, r.ratio_hi - r.ratio], fmt="none", ecolor="0.4")
    for ax, level in zip(axes[1:], ("tiny LM", "tabular")):
        parts = []
        for side, y, label in (
            ("upper", "d_upper", "upper-only minus none"),
            ("lower", "d_lower", "lower-only minus none"),
        ):
            c = curves[(curves.level == level) & (curves[f"{side}_rate"] > 0)]
            parts.append(c.assign(rate=c[f"{side}_rate"], mean=c[y], ci=c[f"{y}_ci"], rule=label))
        plots.lines(
            pd.concat(parts).sort_values("rate"),
            "rate",
            hue="rule",
            ax=ax,
            logx=True,
            markers=True,
            hline=0,
            xlabel="clip rate of that side (share of tokens per step)",
            ylabel="entropy change per optimizer step (nats)",
            title=level,
        )
    for ax in axes:
        ax.axvline(paper_rate, color="0.5", lw=0.8, ls=":")
    fig.tight_layout()
    return fig


def drift_figure(envelope: pd.DataFrame):
    """One panel per level: cumulative clipping contribution and cumulative unclipped change (95% bands over
    trajectories) and the margin +-m(t) they are decided against, x in optimizer steps."""
    return plots.grid(
        envelope,
        [(lv, "cumulative entropy change (nats)") for lv in dict.fromkeys(envelope.level)],
        "level",
        "opt_step",
        hue="quantity",
        ncols=2,
        xlabel="optimizer step",
    )
