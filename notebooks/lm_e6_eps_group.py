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
# # E6: clip width and group size
#
# **C12**: clip-higher ($\epsilon_{high} = 0.28$, $\epsilon_{low} = 0.2$) as an entropy dial against symmetric
# $\epsilon = 0.2$, random-reward GRPO on the default base, with the seeds the pilot chose for C12 (paired by
# seed). Outcome: the change in held-out entropy (and in exact accuracy).
#
# The wider ablation the paper's reviewers asked for - symmetric $\epsilon$ of 0.1 and 0.3, group sizes $G$ of 4
# and 16 at $\epsilon = 0.2$ with the prompts per step adjusted so that every arm sees the same number of
# completions per step - runs with `ablation=True`. The book's main job leaves it off: its budget goes to the
# seeds of the comparison that carries the claim.

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
ablation: bool = False  # also eps 0.1 and 0.3, G 4 and 16, at the fallback seeds
runs_dir: str = "runs"
results_dir: str = "results"
executor: str = ""  # where runs train: empty means $RLVR_EXECUTOR, else sequential (see rlvr_lib.rl.executors)
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

margins_table(entropy_margin=entropy_margin, clip_floor=clip_floor)

# %%
from rlvr_lib.experiments import lm_lab as lm
from rlvr_lib.experiments import plots
from rlvr_lib.verdicts import save_table, save_verdicts

b = lm.base("default", profile)
rand = {"base": b, "reward": {"random": 1.0}}
shared = lm.common(profile, runs_dir, learning_rate)
n = shared["prompts_per_step"] * shared["num_generations"]  # completions per step, kept fixed
arms = lm.arms(b, [lm.EPS_02, lm.CLIP_HIGHER])
per_arm = lm.reported_seeds(
    seeds_per_comparison or lm.load_pilot(results_dir), profile, [lm.EPS_02, lm.CLIP_HIGHER], seeds
)
if ablation:
    extra = {
        "eps=0.1": {**rand, "epsilon": 0.1},
        "eps=0.3": {**rand, "epsilon": 0.3},
        "G=4": {**rand, "num_generations": 4, "prompts_per_step": n // 4},
        "G=16": {**rand, "num_generations": 16, "prompts_per_step": max(1, n // 16)},
    }
    arms |= extra
    per_arm |= {k: lm.seeds_for(profile, seeds) for k in extra}
df = lm.sweep(arms, per_arm, shared, executor=executor)
table = save_table(lm.change_table(df, ["eval/entropy", lm.PRIMARY, "eval/greedy_acc"]), results_dir, "lm_e6")
table

# %% mystnb={"figure": {"caption": "Change in held-out entropy (left) and exact accuracy (right) after random-reward GRPO for each clip setting; error bars are 95% intervals over seeds.", "name": "fig-e6"}}
import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
plots.bars(
    table[table.metric == "eval/entropy"],
    "arm",
    "change",
    ax=axes[0],
    xlabel="arm",
    ylabel="change in held-out entropy (nats)",
    rotate=30,
)
plots.bars(
    table[table.metric == lm.PRIMARY],
    "arm",
    "change",
    ax=axes[1],
    xlabel="arm",
    ylabel="change in exact accuracy",
    rotate=30,
)
fig.suptitle("E6: clip settings under random rewards")
fig.tight_layout()

# %% [markdown]
# ## Verdict (computed)

# %%
save_verdicts(lm.e6_verdicts(df, entropy_margin, clip_floor), results_dir, "lm_e6_eps_group")
