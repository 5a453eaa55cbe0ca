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
# # E3: does a random reward amplify the base's preferred strategy?
#
# Shao et al. (2506.10947) credit Qwen2.5-Math's random-reward gains to clipping amplifying a behaviour the base
# already prefers (code-style reasoning) that happens to be accurate. Here the preferred style is a dial: the
# `default` base prefers the reliable column method, the `shortcut` base the carry-dropping shortcut. We
# follow each style's share of held-out samples under a random reward, with and without clipping.

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
runs_dir: str = "runs"
results_dir: str = "results"
executor: str = ""  # where runs train: empty means $RLVR_EXECUTOR, else sequential (see rlvr_lib.rl.executors)
share_margin: float = 0.05  # smallest effect of interest: the preferred style's share

# %% tags=["hide-input"]
from rlvr_lib._checks import check_parameters

check_parameters(globals())  # a parameter of the wrong type stops here, naming it

# %% [markdown]
# Smallest effects of interest and manipulation-check thresholds, set in the parameters cell before the
# runs; every verdict below decides against them (see the glossary's verdict outcomes):

# %%
from rlvr_lib.experiments.lm_lab import margins_table

margins_table(share_margin=share_margin)

# %%
from rlvr_lib.experiments import lm_lab as lm
from rlvr_lib.experiments import plots
from rlvr_lib.verdicts import save_table, save_verdicts

arm_list = [lm.RANDOM_CLIP, lm.RANDOM_NO_CLIP]
arms = {k: v for name in ("default", "shortcut") for k, v in lm.arms(lm.base(name, profile), arm_list, name).items()}
per_arm = lm.reported_seeds(seeds_per_comparison or lm.load_pilot(results_dir), profile, arm_list, seeds)
# the default base's arms are E1's runs (as many seeds as the pilot gave them); the shortcut base gets `seeds`
per_key = {k: per_arm[k[1]] if k[0] == "default" else lm.seeds_for(profile, seeds) for k in arms}
df = lm.sweep(arms, per_key, lm.common(profile, runs_dir, learning_rate), executor=executor)
metrics = [lm.PRIMARY, "eval/sampled_acc", "eval/greedy_acc", *lm.DECOMPOSITION]
table = save_table(lm.change_table(df, metrics, by=("group", "arm")), results_dir, "lm_e3")
table

# %% [markdown]
# Strategy x execution: sampled accuracy decomposes into each style's share times the accuracy of the samples
# written in that style. A reward that moves the strategy changes the shares; one that damages execution
# lowers the accuracy within a style. Means over seeds, before and after RL:

# %%
save_table(lm.decomposition(table), results_dir, "lm_e3_decomposition")

# %% mystnb={"figure": {"caption": "Strategy and execution under a random reward with and without clipping, for the reliable-preferring (left) and shortcut-preferring (right) base: share of held-out samples in the reliable style (top), accuracy of the samples written in the reliable style (middle), exact accuracy (bottom); faint lines are single seeds, bands 95% intervals over seeds. Sampled metrics rest on 4 samples per item at steps 0 and 100 and on 1 in between (exact accuracy is complete at every step).", "name": "fig-e3"}}
metrics = {
    "eval/share_reliable": "reliable-style share",
    "eval/acc_in_reliable": "accuracy within the reliable style",
    lm.PRIMARY: "exact accuracy",
}
cur, panels = lm.group_panels(df, metrics, ["default", "shortcut"])
fig = plots.grid(
    cur,
    panels,
    "panel",
    "step",
    hue="arm",
    ncols=2,
    xlabel="optimizer step",
    title="E3: strategy shares under random rewards",
)

# %% [markdown]
# ## Verdicts (computed)

# %%
save_verdicts(lm.e3_verdicts(table, share_margin), results_dir, "lm_e3_strategy")
