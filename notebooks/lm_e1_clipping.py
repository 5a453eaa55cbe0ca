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
# off-policy (8 optimizer steps per rollout batch, as in the paper's runs), so clipping can act; the clip fractions below show that
# it does. Base: `default` (prefers the reliable style; greedy accuracy high, sampled accuracy lower).
#
# * **C4** random-reward training without clipping still improves accuracy;
# * **C6** with clipping, random-reward training lowers entropy;
# * **C7** clipping stabilises: without it ratios and gradient norms grow and accuracy can collapse.

# %% tags=["colab"]
# On Colab, install this project first; elsewhere this cell does nothing.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "rlvr_lib[math] @ git+https://github.com/rlvr-companion/rlvr-clipping-entropy",
        ],
        check=True,
    )

# %% tags=["parameters"]
profile: str = "full"  # "full" for the book, "smoke" for tests
learning_rate: float = 2e-5  # set by the main job from lm_hyperparameters
seeds: list = [0, 1, 2]  # reported seeds
runs_dir: str = "runs"
results_dir: str = "results"
executor: str = ""  # where runs train: empty means $RLVR_EXECUTOR, else sequential (see rlvr_lib.rl.executors)
acc_margin: float = 0.02  # smallest effect of interest: sampled accuracy, absolute
entropy_margin: float = 0.004  # smallest effect of interest: held-out entropy, nats per token
clip_floor: float = 0.001  # manipulation check: share of clipped tokens for clipping to count as binding

# %%
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
arms = lm.arms(b, [lm.GROUND_TRUTH, lm.RANDOM_CLIP, lm.RANDOM_NO_CLIP])
df = lm.sweep(arms, lm.seeds_for(profile, seeds), lm.common(profile, runs_dir, learning_rate), executor=executor)
evals = ["eval/greedy_acc", "eval/sampled_acc", "eval/exact_acc", "eval/entropy"]
train = ["entropy", "clip_ratio/high_mean", "clip_ratio/low_mean", "clip/bias_ratio", "grad_norm", "ratio/max"]
table = save_table(lm.change_table(df, evals), results_dir, "lm_e1")
table

# %% mystnb={"figure": {"caption": "Held-out greedy, sampled (T = 1) and exact accuracy and held-out token entropy against optimizer steps for the three arms (default base); bands are 95% intervals over 3 seeds.", "name": "fig-e1-eval"}}
fig = plots.grid(
    lm.curves(df, evals),
    [
        ("eval/greedy_acc", "greedy accuracy"),
        ("eval/sampled_acc", "sampled accuracy"),
        ("eval/exact_acc", "exact accuracy"),
        ("eval/entropy", "held-out entropy (nats)"),
    ],
    "metric",
    "step",
    hue="arm",
    ncols=2,
    xlabel="optimizer step",
    title="E1: held-out metrics",
)

# %% mystnb={"figure": {"caption": "Training diagnostics, averaged per run over windows of 8 optimizer steps (2 rollout batches): rollout entropy, upper and lower clip fractions, clipping-bias ratio |N_raw|/|C+| (ratio of window means; gaps where no token was upper-clipped), gradient norm and largest importance ratio; bands are 95% intervals over seeds.", "name": "fig-e1-train"}}
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
# ## Verdicts (computed)

# %%
save_verdicts(lm.e1_verdicts(df, table, acc_margin, entropy_margin, clip_floor), results_dir, "lm_e1_clipping")
