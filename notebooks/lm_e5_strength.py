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
# # E5: improvement against initial accuracy (claim C11)
#
# **C11.** Stronger models gain more from spurious rewards. The plot the paper's reviewers asked for: for bases
# of several strengths (pretraining steps is the dial), the change in held-out sampled accuracy after random-
# reward GRPO (with clipping) and after ground-truth GRPO, against the base's initial accuracy.

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
bases: list = ["steps-150", "steps-200", "default"]  # weakest to strongest
seeds: list = [0, 1, 2]
runs_dir: str = "runs"
results_dir: str = "results"
executor: str = ""  # where runs train: empty means $RLVR_EXECUTOR, else sequential (see rlvr_lib.rl.executors)
acc_margin: float = 0.02  # smallest effect of interest: sampled accuracy, absolute

# %%
from rlvr_lib._checks import check_parameters

check_parameters(globals())  # a parameter of the wrong type stops here, naming it

# %% [markdown]
# Smallest effects of interest and manipulation-check thresholds, set in the parameters cell before the
# runs; every verdict below decides against them (see the glossary's verdict outcomes):

# %%
from rlvr_lib.experiments.lm_lab import margins_table

margins_table(acc_margin=acc_margin)

# %%
from rlvr_lib.experiments import lm_lab as lm
from rlvr_lib.experiments import plots
from rlvr_lib.verdicts import save_table, save_verdicts

arms = {
    k: v for name in bases for k, v in lm.arms(lm.base(name, profile), [lm.GROUND_TRUTH, lm.RANDOM_CLIP], name).items()
}
df = lm.sweep(arms, lm.seeds_for(profile, seeds), lm.common(profile, runs_dir, learning_rate), executor=executor)
per_run = save_table(lm.per_run_change(df, "eval/sampled_acc"), results_dir, "lm_e5")
table = lm.change_table(df, ["eval/sampled_acc", "eval/greedy_acc"], by=("group", "arm"))
table

# %% mystnb={"figure": {"caption": "Change in held-out sampled accuracy against the base's initial sampled accuracy, one point per run (bases of 150, 200 and 300 pretraining steps; 3 seeds each), for random-reward and ground-truth GRPO.", "name": "fig-e5"}}
fig = plots.scatter_ci(
    per_run,
    "initial",
    "change",
    hue="arm",
    connect=False,
    xlabel="initial sampled accuracy",
    ylabel="change in sampled accuracy",
    title="E5: gain against base strength",
)

# %% [markdown]
# ## Verdict (computed)

# %%
save_verdicts(lm.e5_verdicts(per_run, acc_margin), results_dir, "lm_e5_strength")
