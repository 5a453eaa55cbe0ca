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
seeds: list = [0, 1, 2]
runs_dir: str = "runs"
results_dir: str = "results"
executor: str = ""  # where runs train: empty means $RLVR_EXECUTOR, else sequential (see rlvr_lib.rl.executors)
share_margin: float = 0.05  # smallest effect of interest: the preferred style's share
acc_margin: float = 0.02  # smallest effect of interest: sampled accuracy, absolute

# %%
from rlvr_lib._checks import check_parameters

check_parameters(globals())  # a parameter of the wrong type stops here, naming it

# %% [markdown]
# Smallest effects of interest and manipulation-check thresholds, set in the parameters cell before the
# runs; every verdict below decides against them (see the glossary's verdict outcomes):

# %%
from rlvr_lib.experiments.lm_lab import margins_table

margins_table(share_margin=share_margin, acc_margin=acc_margin)

# %%
from rlvr_lib.experiments import lm_lab as lm
from rlvr_lib.experiments import plots
from rlvr_lib.verdicts import save_table, save_verdicts

arm_list = [lm.RANDOM_CLIP, lm.RANDOM_NO_CLIP]
arms = {k: v for name in ("default", "shortcut") for k, v in lm.arms(lm.base(name, profile), arm_list, name).items()}
df = lm.sweep(arms, lm.seeds_for(profile, seeds), lm.common(profile, runs_dir, learning_rate), executor=executor)
metrics = ["eval/share_reliable", "eval/share_shortcut", "eval/sampled_acc", "eval/greedy_acc"]
table = save_table(lm.change_table(df, metrics, by=("group", "arm")), results_dir, "lm_e3")
table

# %% mystnb={"figure": {"caption": "Share of held-out samples written in the reliable style (top) and sampled accuracy (bottom) under a random reward with and without clipping, for the reliable-preferring (left) and shortcut-preferring (right) base; bands are 95% intervals over seeds.", "name": "fig-e3"}}
metrics = {"eval/share_reliable": "reliable-style share", "eval/sampled_acc": "sampled accuracy"}
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
save_verdicts(lm.e3_verdicts(table, share_margin, acc_margin), results_dir, "lm_e3_strategy")
