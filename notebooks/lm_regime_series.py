# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # A regime series on the tiny LM: batch size, step size, clip rule and entropy profile
#
# The book's outcome runs hold one point of a large space fixed: 16 completions per optimizer step, the chosen
# learning rate, 8 optimizer steps per rollout, symmetric $\epsilon = 0.2$, a base with little entropy per token.
# The tabular map (its computed reading is on the front page) varies step size x off-policy depth, the clip rule,
# the policy's shape and the group size. This page runs random-reward GRPO on a transect through the dials the
# tiny LM can move, at the budget of one E1 run (1,600 completions trained on; TRL generates whole rollouts of
# 8 x B completions, so a run generates up to one rollout more):
#
# * **completions per optimizer step** 16, 64 and 160, with `max_steps` = 1600 / B and the learning rate scaled so
#   that learning rate x steps matches E1's (AdamW moves each parameter by about one learning rate per step, so
#   this holds the total movement fixed while each step gets less noise and a larger size; at 8 steps per rollout
#   the importance ratios can then drift further - the direction of the tabular map's step x depth axis - and the
#   clip fractions below show how often clipping binds at each point);
# * **the clip rule**: symmetric (the paper's), clip-higher ($\epsilon_{high} = 0.28$), upper-only and none, all
#   four on the default base at 16 and 160 completions per step, symmetric and none at 64 (the middle point's other two arms were
#   dropped to keep the series within its time budget, a choice of cost, not of their outcomes);
# * **steps per rollout**: 2 instead of 8 at 64 completions per step (less off-policy depth);
# * **the entropy profile**: the `free-choice` base, whose solutions write each column's digits in a free order
#   (a choice that never changes correctness, see the testbed page), against `default`.
#
# Every point gets the same reported seeds (common random numbers across the rules at one setting); on the default
# base the B = 16 points with symmetric clipping and without are E1's runs (seeds 0-2 of E1's) and the clip-higher
# one is E6's. Outcome: the change in exact accuracy from step 0
# (primary), with held-out entropy, clip fractions and the per-step clipping ratio |N_raw| / |C+| along the run.
# The points were fixed from the tabular map's axes and the main job's budget before the runs. The seeds per point
# are set by the series' time budget; a pilot at the series' first point (the default base at 16 completions per
# step, symmetric and none, on pilot seeds never reported: E1's pilot runs, the same configurations) says how many a
# family-wise decision would need, and each point reports the same at its own measured spread.

# %% tags=["colab", "hide-input"]
# On Colab, install this project first; elsewhere this cell does nothing. The book's copy of this notebook (what
# its launch buttons open) carries the repository named in _config.yml; the runner writes it into this cell.
import subprocess
import sys

REPOSITORY = ""  # the repository's git URL, from _config.yml (repository.url)
if "google.colab" in sys.modules:
    if not REPOSITORY:
        raise RuntimeError("open this notebook from the book's launch button, or set REPOSITORY to the project's URL")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"rlvr_lib[math] @ git+{REPOSITORY}"], check=True)

# %% tags=["parameters"]
profile: str = "full"  # "full" for the book, "smoke" for tests
learning_rate: float = 2e-5  # set by the main job from lm_hyperparameters: the rate at 16 completions per step
seeds: list = [0, 1, 2]  # the reported seeds of every point (the series' time budget)
pilot_seeds: list = [1000, 1001, 1002]  # the pilot's seeds (E1's pilot seeds), never reported
runs_dir: str = "runs"
results_dir: str = "results"
executor: str = ""  # where runs train: empty means $RLVR_EXECUTOR, else sequential (see rlvr_lib.rl.executors)
acc_margin: float = 0.02  # smallest effect of interest: exact accuracy, absolute
entropy_margin: float = 0.004  # smallest effect of interest: held-out entropy, nats per token
clip_floor: float = 0.001  # manipulation check: share of clipped tokens for clipping to count as binding

# %% tags=["hide-input"]
from rlvr_lib._checks import check_parameters

check_parameters(globals())  # a parameter of the wrong type stops here, naming it

# %% [markdown]
# Smallest effects of interest and manipulation-check thresholds, set in the parameters cell before the runs:

# %%
from rlvr_lib.experiments.lm_lab import margins_table

margins_table(acc_margin=acc_margin, entropy_margin=entropy_margin, clip_floor=clip_floor)

# %%
from pathlib import Path

import pandas as pd

from rlvr_lib.experiments import lm_lab as lm
from rlvr_lib.experiments import lm_regime as lr
from rlvr_lib.verdicts import save_table, save_verdicts

arms, points = lr.series_arms(learning_rate, profile)
shared = lm.common(profile, runs_dir, learning_rate)

# the pilot: the first point's two arms on the pilot seeds (at smoke size two of them, for a spread)
pilot_arms, pilot_points = lr.series_arms(learning_rate, profile, transect=lr.PILOT_POINTS)
pilot_df = lm.sweep(pilot_arms, pilot_seeds if profile == "full" else pilot_seeds[:2], shared, executor=executor)
pilot = lr.pilot_table(pilot_df, pilot_points, acc_margin, m=len(points), seeds=len(lm.seeds_for(profile, seeds)))
save_table(pilot, results_dir, f"{lr.NAME}_pilot")
print(lr.pilot_sentence(pilot, m=len(points)))

df = lm.sweep(arms, lm.seeds_for(profile, seeds), shared, executor=executor)
table = lr.classify(lr.series_table(df, points), acc_margin)
# each point on the mechanism probes' curves (results/probe_curves.csv, when the probes have run) at its clip rate
probe_curves = Path(results_dir) / "probe_curves.csv"
table = lr.attach_probe_curve(table, pd.read_csv(probe_curves) if probe_curves.exists() else None)
save_table(table, results_dir, lr.NAME)
cols = ["group", "arm", "learning_rate", "max_steps", "n", "gain", "gain_ci", "decision_fw", "entropy_change",
        "entropy_ci", "clip_high", "clip_low", "bias_ratio", "probe_d_upper", "seeds_to_decide", "mechanism"]  # fmt: skip
table[cols]

# %% mystnb={"figure": {"caption": "The regime series: change in exact accuracy (left) and in held-out entropy (middle) from step 0 after random-reward GRPO, and the mean upper-clip fraction over the run (right, log scale; dotted: the paper's reported rate, about 1e-3, reported), per point (x: completions per optimizer step, learning rate x steps matched) and clip rule (colour); solid lines: the default base at 8 steps per rollout; open markers on dashed lines: the free-choice base; crosses: 2 steps per rollout; the unclipped arm has no upper-clip fraction to draw on the log scale. Error bars: 95% intervals over seeds.", "name": "fig-lm-regime"}}
fig = lr.series_figure(table)

# %% [markdown]
# ## Reading (computed)

# %%
from IPython.display import Markdown

Markdown(lr.reading(table, acc_margin))

# %% [markdown]
# ## Verdicts (computed)

# %%
save_verdicts(
    lr.e0_verdicts(table, acc_margin, clip_floor) + lr.c6_verdicts(table, entropy_margin, clip_floor),
    results_dir,
    lr.NAME,
)
