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
# **C11.** Stronger models gain more from spurious rewards. The plot the paper's reviewers asked for: for five
# bases of increasing strength at the same style share (pretraining steps is the dial: the `default` base's
# pretraining run stopped after 150, 175, 200, 250 and all 300 of its steps - checkpoints of one run, so the
# bases share initialisation, data order and schedule and differ only in how far they got), the change in held-out exact accuracy after random-reward GRPO (with clipping) against the base's
# initial accuracy. The base is the unit of the regression: its seeds are nested within it, and the interval
# resamples bases first, then seeds within each. The series must span weak to strong bases (a manipulation
# check on initial greedy accuracy) before it can speak. Ground-truth GRPO is left out: the budget goes to bases.

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
bases: list = ["steps-150", "steps-175", "steps-200", "steps-250", "default"]  # weakest to strongest
seeds: list = [0, 1]  # seeds per base (nested within it)
runs_dir: str = "runs"
results_dir: str = "results"
executor: str = ""  # where runs train: empty means $RLVR_EXECUTOR, else sequential (see rlvr_lib.rl.executors)
acc_margin: float = 0.02  # smallest effect of interest: exact accuracy, absolute

# %% tags=["hide-input"]
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

arms = {k: v for name in bases for k, v in lm.arms(lm.base(name, profile), [lm.RANDOM_CLIP], name).items()}
df = lm.sweep(arms, lm.seeds_for(profile, seeds), lm.common(profile, runs_dir, learning_rate), executor=executor)
per_run = save_table(lm.per_run_change(df, lm.PRIMARY), results_dir, "lm_e5")
greedy = lm.per_run_change(df, "eval/greedy_acc")
table = lm.change_table(df, [lm.PRIMARY, "eval/sampled_acc", "eval/greedy_acc"], by=("group", "arm"))
print(lm.strength_check(greedy)[0])
table

# %% mystnb={"figure": {"caption": "Change in held-out exact accuracy after random-reward GRPO against the base's initial exact accuracy, one point per run, one colour per base (150 to 300 pretraining steps).", "name": "fig-e5"}}
fig = plots.scatter_ci(
    per_run,
    "initial",
    "change",
    hue="group",
    connect=False,
    xlabel="initial exact accuracy",
    ylabel="change in exact accuracy",
    title="E5: gain against base strength",
)
plots.keep(fig, "e5")

# %% [markdown]
# ## Verdict (computed)

# %%
save_verdicts(lm.e5_verdicts(per_run, acc_margin, greedy), results_dir, "lm_e5_strength")
