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
# # E4: contamination (claim C9)
#
# **C9.** Random-reward gains are not only contamination: they also appear on data the model has not
# memorised. Half of the `contaminated` base's evaluation items are harder 4-digit problems (the task is 3-digit
# addition) that it saw solved, 20 times each, during pretraining. We score clean and contaminated items
# separately under a random reward (with clipping) and ground truth.

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
seeds: list = [0, 1, 2]
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

b = lm.base("contaminated", profile)
arms = lm.arms(b, [lm.GROUND_TRUTH, lm.RANDOM_CLIP])
df = lm.sweep(arms, lm.seeds_for(profile, seeds), lm.common(profile, runs_dir, learning_rate), executor=executor)
metrics = [
    "eval/clean/exact_acc",
    "eval/contaminated/exact_acc",
    "eval/clean/greedy_acc",
    "eval/contaminated/greedy_acc",
    "eval/clean/entropy",
    "eval/contaminated/entropy",
]
table = save_table(lm.change_table(df, metrics), results_dir, "lm_e4")
table

# %% [markdown]
# Manipulation check first: the contaminated items are harder 4-digit problems that the clean `default` base
# does not solve; before any RL the contaminated base, which saw them solved in pretraining, must score higher
# on them than the clean base does - memorisation made visible.

# %%
clean_base = lm.clean_base_on_contaminated_items(profile)
print(lm.contamination_check(df, acc_margin, clean_base)[0])

# %% mystnb={"figure": {"caption": "Exact accuracy and entropy on clean (left) and contaminated (right) evaluation items of the contaminated base; faint lines are single seeds, bands 95% intervals over seeds. Sampled metrics rest on 4 samples per item at steps 0 and 100 and on 1 in between (exact accuracy is complete at every step).", "name": "fig-e4"}}
fig = plots.grid(
    lm.curves(df, metrics[:2] + metrics[4:]),
    [
        ("eval/clean/exact_acc", "exact accuracy, clean items"),
        ("eval/contaminated/exact_acc", "exact accuracy, contaminated items"),
        ("eval/clean/entropy", "entropy, clean items (nats)"),
        ("eval/contaminated/entropy", "entropy, contaminated items (nats)"),
    ],
    "metric",
    "step",
    hue="arm",
    ncols=2,
    xlabel="optimizer step",
    title="E4: clean vs contaminated",
)
plots.keep(fig, "e4")

# %% [markdown]
# ## Verdict (computed)

# %%
save_verdicts(lm.e4_verdicts(df, table, acc_margin, clean_base), results_dir, "lm_e4_contamination")
