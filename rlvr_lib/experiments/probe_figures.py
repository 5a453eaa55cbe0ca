"""Figures of the mechanism-probes page that the generic plot functions cannot lay out alone: the clip-rate curves
(each panel with its own x quantity, the paper's reported bound marked) and the drift-against-margin panels.
Every panel is drawn by :func:`rlvr_lib.experiments.plots.lines`, so the house style applies unchanged."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rlvr_lib.experiments import plots


def _points(ax, x, y, lo, hi, label: str, i: int, lrs=None):
    """Points with (possibly asymmetric) 95% bars, joined in step-size order (the rate need not grow with it)."""
    ax.errorbar(
        x, y, yerr=[y - lo, hi - y], fmt="o-", ms=4, lw=1, capsize=3, color=plots.color_for(label, i), label=label
    )
    for xx, yy, lr in zip(x, y, lrs if lrs is not None else []):
        ax.annotate(f"{lr:g}", (xx, yy), textcoords="offset points", xytext=(4, 4), fontsize=7, color="0.35")


def curves_figure(curves: pd.DataFrame, paper_rate: float, paper_ratio: float):
    """Three panels: E|N_raw| / E|C+| against the upper-clip rate for both levels (log-log, the paper's REPORTED
    bound marked), and clipping's per-step entropy effect against the clip rate on the tiny LM and on the tabular
    simulator (upper-only minus none against the upper-clip rate, lower-only minus none against the lower-clip
    rate). `curves` is :func:`probes.curve_table`'s output, one row per level and step size; bars are 95%
    intervals over trajectories; points are joined in step-size order and the tiny LM's ratios are labelled with
    their learning rate (ratio bars reaching beyond a decade past the points run off the panel); a dotted vertical
    line marks `paper_rate`. Step sizes at which nothing was clipped have no
    place on a log axis and are left out."""
    from matplotlib.ticker import NullFormatter

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for i, (level, c) in enumerate(curves.groupby("level", sort=False)):
        c = c[(c.upper_rate > 0) & np.isfinite(c.ratio)].sort_values("lr")
        lrs = c.lr if level == "tiny LM" else None
        _points(axes[0], c.upper_rate, c.ratio, c.ratio_lo.fillna(c.ratio), c.ratio_hi.fillna(c.ratio), level, i, lrs)
    axes[0].plot([paper_rate], [paper_ratio], "kx", ms=9, label=f"Chen et al.'s bound at {paper_rate:g} (reported)")
    axes[0].set(
        xscale="log", yscale="log", xlabel="upper-clip rate (share of tokens per step)", ylabel="E|N_raw| / E|C+|"
    )
    axes[0].set_title("law-of-clipping ratio")
    vals = curves.ratio[np.isfinite(curves.ratio) & (curves.ratio > 0)]
    if len(vals):  # a bar from two or three trajectories can span ten decades: it runs off the panel instead
        axes[0].set_ylim(min(vals.min(), paper_ratio) / 10, max(vals.max(), paper_ratio) * 10)
    for ax, level in zip(axes[1:], ("tiny LM", "tabular")):
        for i, (side, y, label) in enumerate(
            (("upper", "d_upper", "upper-only minus none"), ("lower", "d_lower", "lower-only minus none"))
        ):
            c = curves[(curves.level == level) & (curves[f"{side}_rate"] > 0)].sort_values("lr")
            h = c[f"{y}_ci"].fillna(0)
            _points(ax, c[f"{side}_rate"], c[y], c[y] - h, c[y] + h, label, i)
        ax.axhline(0, color="k", lw=0.8)
        ax.set(xscale="log", xlabel="clip rate of that side (share of tokens per step)")
        ax.set(ylabel="entropy change per optimizer step (nats)", title=level)
    for ax in axes:
        ax.axvline(paper_rate, color="0.5", lw=0.8, ls=":")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.legend(fontsize=8)
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
