"""The plot functions: arm colours kept across figures, per-run lines drawn under each mean."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from rlvr_lib.experiments import lm_lab as lm  # noqa: E402
from rlvr_lib.experiments import plots  # noqa: E402


def tidy(arms, seeds=3, steps=(0, 50, 100)):
    rows = []
    for a in arms:
        for s in range(seeds):
            for t in steps:
                rows.append(
                    {"run_id": f"{a}-{s}", "arm": a, "seed": s, "step": t, "metric": "eval/sampled_acc", "value": s + t}
                )
    return pd.DataFrame(rows)


def test_each_arm_keeps_its_colour_and_runs_are_drawn_faintly():
    arms = [lm.RANDOM_NO_CLIP.label, lm.GROUND_TRUTH.label]
    band = lm.curves(tidy(arms), ["eval/sampled_acc"])
    assert len(band.attrs["seeds"]) == 2 * 3 * 3
    fig = plots.lines(band, "step", hue="arm")
    ax = fig.axes[0]
    faint = [ln for ln in ax.lines if ln.get_alpha() is not None and ln.get_alpha() < 0.5]
    means = [ln for ln in ax.lines if ln.get_label() in arms]
    assert len(faint) == 6  # one per run
    assert {ln.get_label(): to_hex(ln.get_color()) for ln in means} == {a: lm.ARM_COLORS[a] for a in arms}
    # the same arm, listed in another order in another figure, keeps its colour
    fig2 = plots.lines(lm.curves(tidy(arms[::-1]), ["eval/sampled_acc"]), "step", hue="arm")
    assert {ln.get_label(): to_hex(ln.get_color()) for ln in fig2.axes[0].lines if ln.get_label() in arms} == {
        a: lm.ARM_COLORS[a] for a in arms
    }
    # lines that are not arms never take an arm's colour
    other = plots.lines(lm.curves(tidy(["lr=1e-5", "lr=2e-5"]), ["eval/sampled_acc"]), "step", hue="arm")
    assert not {to_hex(ln.get_color()) for ln in other.axes[0].lines} & set(lm.ARM_COLORS.values())


def test_a_grid_panel_draws_only_its_own_runs():
    df = pd.concat([tidy([lm.RANDOM_CLIP.label]), tidy([lm.RANDOM_CLIP.label]).assign(metric="eval/entropy")])
    band = lm.curves(df, ["eval/sampled_acc", "eval/entropy"])
    fig = plots.grid(band, [("eval/sampled_acc", "acc"), ("eval/entropy", "H")], "metric", "step", hue="arm")
    for ax in fig.axes[:2]:
        assert len([ln for ln in ax.lines if ln.get_alpha() is not None and ln.get_alpha() < 0.5]) == 3


def test_bands_stay_inside_the_quantity_range():
    from rlvr_lib.experiments.plots import bounds_for

    assert bounds_for("eval/sampled_acc") == (0.0, 1.0) and bounds_for("clip_ratio/high_mean") == (0.0, 1.0)
    assert bounds_for("eval/entropy") == (0.0, None) and bounds_for("ratio/max") == (0.0, None)
    assert bounds_for("loss") == (None, None)
    df = tidy([lm.RANDOM_CLIP.label])
    df["value"] = [0.0, 0.9, 1.0] * (len(df) // 3)  # seeds spread wide near the bounds
    df.loc[df.seed == 0, "value"] = [0.0, 0.1, 0.2]
    fig = plots.lines(lm.curves(df, ["eval/sampled_acc"]), "step", hue="arm")
    (band,) = fig.axes[0].collections
    ys = np.concatenate([p.vertices[:, 1] for p in band.get_paths()])
    assert ys.min() >= 0.0 and ys.max() <= 1.0
