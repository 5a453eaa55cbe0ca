"""The house figure style and the plot functions: each takes a tidy table and returns a figure.

One style for every figure (`apply_style`), lower-case axis labels with symbols, a legend on every
multi-line figure, and 95% bands from seeds where the table carries them (a ``ci`` column holding the
half-width, as :func:`rlvr_lib.stats.seed_band` writes it). Each tiny-LM arm keeps its colour on every page
(`rlvr_lib.experiments.lm_lab.ARM_COLORS`); where a band's table carries its per-run rows
(``.attrs["seeds"]``, as `lm_lab.curves` attaches them), each run is drawn as a faint line under the mean.
Bands are truncated at the range of their quantity (:func:`bounds_for`): a fraction's band stays in [0, 1],
an entropy's, a norm's or a ratio's above 0.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f", "#17becf"]
# lines that are not tiny-LM arms (learning rates, bases, theory curves) draw from colours no arm uses
OTHER = ["#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354", "#756bb1"]


def apply_style():
    plt.rcParams.update(
        {
            "figure.dpi": 110,
            "savefig.dpi": 110,
            "figure.figsize": (6.4, 4.0),
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "legend.frameon": False,
            "font.size": 10,
            "axes.titlesize": 11,
            "axes.labelsize": 10,
            "axes.prop_cycle": plt.cycler(color=PALETTE),
        }
    )


apply_style()


def color_for(label, i: int) -> str:
    """An arm's own colour when it has one, else the i-th colour of the palette."""
    from rlvr_lib.experiments.lm_lab import ARM_COLORS

    if label in ARM_COLORS:
        return ARM_COLORS[label]
    free = [c for c in PALETTE + OTHER if c not in set(ARM_COLORS.values())]  # other lines never look like an arm
    return free[i % len(free)]


def _seed_rows(df: pd.DataFrame, x: str) -> pd.DataFrame | None:
    """The per-run rows behind a band table, restricted to the keys (arm, metric, ...) this table holds."""
    raw = df.attrs.get("seeds")
    if raw is None or df.empty:
        return None
    keys = [c for c in raw.columns if c in df.columns and c not in (x, "value", "run_id")]
    if not keys:
        return raw
    present = df[keys].drop_duplicates()
    return raw.merge(present, on=keys, how="inner")


def bounds_for(metric) -> tuple[float | None, float | None]:
    """The range a quantity can take, from its name: fractions (accuracies, shares, clip fractions, pass@k) lie
    in [0, 1]; entropies, norms and ratios are never negative; anything else is unbounded."""
    m = str(metric)
    if any(k in m for k in ("acc", "share", "clip_ratio", "pass@", "frac")):
        return 0.0, 1.0
    if any(k in m for k in ("entropy", "grad_norm", "ratio", "norm")):
        return 0.0, None
    return None, None


def lines(
    df: pd.DataFrame,
    x: str,
    y: str = "mean",
    hue: str | None = None,
    ci: str | None = "ci",
    *,
    ax=None,
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
    logx: bool = False,
    logy: bool = False,
    style: str | None = None,
    legend_title: str | None = None,
    markers: bool = False,
    hline: float | None = None,
    marks: list[tuple[float, float, str]] = (),
):
    """One line per `hue` (and dash per `style`) with a shaded band of +-`ci`; optional horizontal reference
    line `hline` and labelled reference points `marks` = [(x, y, label), ...] (e.g. a paper's reported value)."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots()
    groups = [(None, df)] if hue is None else list(df.groupby(hue, sort=False))
    dashes = ["-", "--", ":", "-."]
    raw = _seed_rows(df, x)
    for i, (h, g) in enumerate(groups):
        color = color_for(h, i)
        sub = [(None, g)] if style is None else list(g.groupby(style, sort=False))
        for j, (s, gg) in enumerate(sub):
            gg = gg.sort_values(x)
            label = " / ".join(str(v) for v in (h, s) if v is not None) or None
            if raw is not None:
                mine = raw
                for col, val in ((hue, h), (style, s)):
                    if col is not None and col in mine:
                        mine = mine[mine[col] == val]
                for _, run in mine.groupby("run_id", sort=False):
                    run = run.sort_values(x)
                    ax.plot(run[x], run["value"], dashes[j % 4], color=color, alpha=0.22, lw=0.7, zorder=1)
            ax.plot(
                gg[x],
                gg[y],
                dashes[j % 4],
                color=color,
                label=label,
                marker="o" if markers else None,
                ms=3,
            )
            if ci is not None and ci in gg and np.isfinite(gg[ci]).any():
                lo, hi = bounds_for(gg["metric"].iloc[0]) if "metric" in gg else (None, None)
                ax.fill_between(
                    gg[x],
                    np.clip(gg[y] - gg[ci], lo, hi),  # a band never leaves the quantity's range (truncated)
                    np.clip(gg[y] + gg[ci], lo, hi),
                    color=color,
                    alpha=0.18,
                    lw=0,
                )
    if hline is not None:
        ax.axhline(hline, color="k", lw=0.8)
    for mx, my, mlabel in marks:
        ax.plot([mx], [my], "kx", ms=9, label=mlabel)
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel or y)
    if title:
        ax.set_title(title)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    if (hue is not None or style is not None or marks) and ax.get_legend_handles_labels()[0]:
        ax.legend(title=legend_title, fontsize=8)  # a panel with nothing to draw (all NaN) gets no legend
    return fig


def grid(
    df: pd.DataFrame,
    panels: list[tuple[str, str]],
    panel_col: str,
    x: str,
    hue: str,
    *,
    ncols: int = 3,
    xlabel: str = "",
    title: str = "",
    style: str | None = None,
    logy_panels: tuple = (),
    logx: bool = False,
    width: float = 4.2,
    height: float = 3.2,
):
    """A grid of `lines` panels, one per (value of `panel_col`, y-label) in `panels`, sharing the legend."""
    n = len(panels)
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    for k, (key, ylabel) in enumerate(panels):
        ax = axes.flat[k]
        lines(
            df[df[panel_col] == key],
            x,
            hue=hue,
            style=style,
            ax=ax,
            xlabel=xlabel,
            ylabel=ylabel,
            logy=key in logy_panels,
            logx=logx,
            title=str(key),
        )
        if k != 0 and ax.get_legend() is not None:
            ax.get_legend().remove()
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def bars(
    df: pd.DataFrame,
    x: str,
    y: str = "mean",
    ci: str = "ci",
    hue: str | None = None,
    *,
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
    ax=None,
    rotate: int = 0,
):
    """Grouped bars with 95% error bars. Without `hue`, each bar takes its category's colour (an arm's own colour
    where the category is an arm)."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots()
    cats = list(dict.fromkeys(df[x]))
    hues = [None] if hue is None else list(dict.fromkeys(df[hue]))
    w = 0.8 / len(hues)
    for i, h in enumerate(hues):
        g = df if h is None else df[df[hue] == h]
        g = g.set_index(x).reindex(cats)
        pos = np.arange(len(cats)) + (i - (len(hues) - 1) / 2) * w
        ax.bar(
            pos,
            g[y],
            w,
            yerr=g[ci] if ci in g else None,
            capsize=3,
            color=color_for(h, i) if h is not None else [color_for(c, j) for j, c in enumerate(cats)],
            label=None if h is None else str(h),
        )
    ax.set_xticks(np.arange(len(cats)), [str(c) for c in cats], rotation=rotate, ha="right" if rotate else "center")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel or y)
    if title:
        ax.set_title(title)
    if hue is not None:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def scatter_ci(
    df: pd.DataFrame,
    x: str,
    y: str,
    hue: str,
    yerr: str | None = None,
    *,
    xlabel: str = "",
    ylabel: str = "",
    title: str = "",
    ax=None,
    connect: bool = True,
):
    """Points (with error bars) per `hue`, optionally joined in x order; a zero line for gains."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots()
    for i, (h, g) in enumerate(df.groupby(hue, sort=False)):
        g = g.sort_values(x)
        ax.errorbar(
            g[x],
            g[y],
            yerr=g[yerr] if yerr else None,
            fmt="o-" if connect else "o",
            ms=4,
            capsize=3,
            color=color_for(h, i),
            label=str(h),
        )
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel or y)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def keep(fig, key: str) -> None:
    """Store `fig` under `key` in the executed notebook (myst-nb's glue), so that a claim chapter of the book can
    show it without computing it again. Where myst-nb is not installed (e.g. Colab) this does nothing."""
    try:
        from myst_nb import glue
    except ImportError:  # pragma: no cover - depends on the environment
        return
    glue(key, fig, display=False)
