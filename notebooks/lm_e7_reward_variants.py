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
# # E7: reward variants, in the manner of Shao et al.
#
# One table of rewards on the `default` base, each with the change in held-out sampled accuracy and its 95%
# interval: ground truth, random, format-only, incorrect-label, noisy ground truth at two symmetric flip rates
# (the reward-misalignment model as a dial: flip rate 0.5 is the random reward), and the negative-entropy
# reward. Shao et al.'s Qwen2.5-Math-7B numbers (MATH-500 gain: ground truth +29.1, incorrect +24.1,
# random +21.4, format +13.8) are reported numbers from a different model and benchmark, placed for
# comparison only.

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
flip_rates: list = [0.1, 0.3]  # symmetric false-positive and false-negative rates of the noisy reward
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

b = lm.base("default", profile)
arms = {
    **lm.arms(b, [lm.GROUND_TRUTH, lm.RANDOM]),
    "format": {"base": b, "reward": {"format": 1.0}},
    "incorrect": {"base": b, "reward": {"incorrect": 1.0}},
    **{
        f"noisy {f:g}": {"base": b, "reward": {"noisy": 1.0}, "false_positive_rate": f, "false_negative_rate": f}
        for f in flip_rates
    },
    "entropy reward": {"base": b, "reward": {"neg_entropy": 1.0}},
}
df = lm.sweep(arms, lm.seeds_for(profile, seeds), lm.common(profile, runs_dir, learning_rate), executor=executor)
table = save_table(lm.change_table(df, ["eval/sampled_acc", "eval/greedy_acc", "eval/entropy"]), results_dir, "lm_e7")
table[table.metric == "eval/sampled_acc"]

# %% mystnb={"figure": {"caption": "Change in held-out sampled accuracy after 100 GRPO steps for each reward on the default base; error bars are 95% intervals over seeds.", "name": "fig-e7"}}
fig = plots.bars(
    table[table.metric == "eval/sampled_acc"],
    "arm",
    "change",
    xlabel="reward",
    ylabel="change in sampled accuracy",
    title="E7: reward variants",
    rotate=30,
)

# %% [markdown]
# ## Verdict (computed)

# %%
save_verdicts(lm.e7_verdicts(table, acc_margin), results_dir, "lm_e7_reward_variants")
