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
# # E1: random rewards with and without clipping (claims C4, C6, C7)
#
# The paper's Figures 1-2 on the tiny testbed: GRPO with a random Bernoulli(1/2) reward, with symmetric
# clipping ($\epsilon = 0.2$) and without clipping, and ground-truth GRPO as the reference. Updates are
# off-policy (8 optimizer steps per rollout batch, as in Shao et al.'s reference run), so clipping can act; the clip fractions below show how
# often it does (the verdicts' manipulation check). Base: `default` (prefers the reliable style; greedy accuracy high, sampled accuracy lower).
#
# * **C4** random-reward training without clipping still improves accuracy;
# * **C6** with clipping, random-reward training lowers entropy - decided twice: *relative* (the change in
#   held-out entropy with clipping minus without, paired by seed) and *absolute* (the change with clipping from
#   step 0, as the paper states the claim); the two can part when entropy rises without clipping;
# * **C7** clipping stabilises: without it ratios and gradient norms grow and accuracy can collapse. Besides the
#   chosen step size, C7 gets a stress regime: the same two random-reward arms at `stress_lr_factor` times the
#   learning rate, where unclipped updates have room to run away (time to collapse and peak ratio per seed).
#
# Seeds per arm come from the pilot (the previous page); the primary outcome is exact accuracy.

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
learning_rate: float = 2e-5  # set by the main job from lm_hyperparameters
seeds: list = [0, 1, 2]  # reported seeds of arms outside the pilot's key comparisons (and without a pilot)
seeds_per_comparison: dict = {}  # set by the main job from the pilot; empty: read results/pilot.json
stress_lr_factor: float = 4.0  # C7's stress regime: this many times the learning rate
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
# Smallest effects of interest and manipulation-check thresholds, set in the parameters cell before the
# runs; every verdict below decides against them (see the glossary's verdict outcomes):

# %%
from rlvr_lib.experiments.lm_lab import margins_table

margins_table(acc_margin=acc_margin, entropy_margin=entropy_margin, clip_floor=clip_floor)

# %%
from rlvr_lib.experiments import lm_lab as lm
from rlvr_lib.experiments import plots
from rlvr_lib.verdicts import save_table, save_verdicts

b = lm.base("default", profile)
arm_list = [lm.GROUND_TRUTH, lm.RANDOM_CLIP, lm.RANDOM_NO_CLIP]
per_arm = lm.reported_seeds(seeds_per_comparison or lm.load_pilot(results_dir), profile, arm_list, seeds)
shared = lm.common(profile, runs_dir, learning_rate)
df = lm.sweep(lm.arms(b, arm_list), per_arm, shared, executor=executor)
evals = ["eval/exact_acc", "eval/sampled_acc", "eval/greedy_acc", "eval/entropy"]
train = ["entropy", "clip_ratio/high_mean", "clip_ratio/low_mean", "clip/bias_ratio", "grad_norm", "ratio/max"]
table = save_table(lm.change_table(df, evals), results_dir, "lm_e1")
table

# %% mystnb={"figure": {"caption": "Held-out exact (the primary outcome) and sampled (T = 1) accuracy and held-out token entropy against optimizer steps for the three arms (default base); sampled accuracy and entropy rest on 4 samples per item at steps 0 and 100 and on 1 in between (greedy accuracy, measured at the two ends only, is in the table above); faint lines are single seeds, bands 95% intervals over seeds.", "name": "fig-e1-eval"}}
fig = plots.grid(
    lm.curves(df, [m for m in evals if m != "eval/greedy_acc"]),
    [
        ("eval/exact_acc", "exact accuracy"),
        ("eval/sampled_acc", "sampled accuracy"),
        ("eval/entropy", "held-out entropy (nats)"),
    ],
    "metric",
    "step",
    hue="arm",
    ncols=3,
    xlabel="optimizer step",
    title="E1: held-out metrics",
)
plots.keep(fig, "e1-eval")

# %% mystnb={"figure": {"caption": "Training diagnostics, averaged per run over windows of 8 optimizer steps (one rollout batch each: 8 optimizer steps per rollout): rollout entropy, upper and lower clip fractions, clipping-bias ratio |N_raw|/|C+| (ratio of window means; gaps where no token was upper-clipped), gradient norm and largest importance ratio; bands are 95% intervals over seeds.", "name": "fig-e1-train"}}
fig = plots.grid(
    lm.curves(lm.windowed(df, train, 8), train),
    [
        ("entropy", "entropy (nats)"),
        ("clip_ratio/high_mean", "upper-clip fraction"),
        ("clip_ratio/low_mean", "lower-clip fraction"),
        ("clip/bias_ratio", "|N_raw| / |C+|"),
        ("grad_norm", "gradient norm"),
        ("ratio/max", "max ratio"),
    ],
    "metric",
    "step",
    hue="arm",
    ncols=3,
    xlabel="optimizer step",
    title="E1: training diagnostics",
    logy_panels=("clip/bias_ratio",),
)

# %% [markdown]
# ## C7's stress regime
#
# The two random-reward arms again at a larger step size, on the reported seeds. Collapse: the first held-out
# evaluation at which exact accuracy falls below half its initial value.

# %%
import pandas as pd

stress_arms = [a.with_(learning_rate=learning_rate * stress_lr_factor) for a in (lm.RANDOM_CLIP, lm.RANDOM_NO_CLIP)]
stress = lm.sweep(lm.arms(b, stress_arms), lm.seeds_for(profile, seeds), shared, executor=executor)
curves_of = [lm.PRIMARY, "ratio/max"]
collapse = lm.collapse_step(stress).rename_axis("run_id").reset_index()
collapse = collapse.merge(stress.drop_duplicates("run_id")[["run_id", "arm", "seed"]], on="run_id")
peak = stress[stress.metric == "ratio/max"].groupby("run_id").value.max().rename("peak ratio").reset_index()
save_table(
    collapse.merge(peak, on="run_id")[["arm", "seed", "collapse_step", "peak ratio"]]
    .sort_values(["arm", "seed"])
    .reset_index(drop=True),
    results_dir,
    "lm_e1_stress",
)

# %% mystnb={"figure": {"caption": "C7's stress regime (learning rate times stress_lr_factor): held-out exact accuracy and the largest importance ratio per window of 8 steps, with and without clipping; faint lines are single seeds.", "name": "fig-e1-stress"}}
fig = plots.grid(
    lm.curves(pd.concat([stress[stress.metric == lm.PRIMARY], lm.windowed(stress, ["ratio/max"], 8)]), curves_of),
    [(lm.PRIMARY, "exact accuracy"), ("ratio/max", "max ratio")],
    "metric",
    "step",
    hue="arm",
    ncols=2,
    xlabel="optimizer step",
    title="E1: stress regime",
    logy_panels=("ratio/max",),
)

# %% [markdown]
# ## Verdicts (computed)

# %%
save_verdicts(
    lm.e1_verdicts(df, table, acc_margin, entropy_margin, clip_floor, stress=stress), results_dir, "lm_e1_clipping"
)
