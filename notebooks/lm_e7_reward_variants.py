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
# One table of rewards on the `default` base, each with the change in held-out exact accuracy and its 95%
# interval: ground truth, random, format-only, two incorrect-label rewards - Shao et al.'s as they define it
# (reward 1 only for one fixed wrong answer per problem; here the carry-dropping answer, the error a
# shortcut-style solver makes) and a looser variant (any wrong answer) - a majority-vote reward
# (self-consistency within the group, no label; Shao et al.'s majority vote is instead a fixed label, the
# majority answer of 64 samples from the initial policy), and the negative-entropy reward. Noisy ground truth (the
# reward-misalignment model as a dial) runs with `flip_rates` (none in the book's run). Two verdict rows: E0,
# the paradox's premise (the random reward raises exact accuracy), and E7, Shao et al.'s ordering (it does, by
# less than ground truth, paired by seed). Shao et al.'s Qwen2.5-Math-7B numbers (MATH-500 gain: ground truth +29.1, incorrect +24.1,
# random +21.4, format +13.8) are reported numbers from a different model and benchmark, placed for
# comparison only.

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
flip_rates: list = []  # symmetric false-positive and false-negative rates of noisy-reward arms (none in the book)
seeds: list = [0, 1, 2]  # reported seeds of arms outside the pilot's key comparisons (and without a pilot)
seeds_per_comparison: dict = {}  # set by the main job from the pilot; empty: read results/pilot.json
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

b = lm.base("default", profile)
arm_list = [lm.GROUND_TRUTH, lm.RANDOM, lm.FORMAT, lm.ANY_WRONG, lm.FIXED_WRONG, lm.MAJORITY, lm.ENTROPY_REWARD]
arms = {
    **lm.arms(b, arm_list),
    **{
        f"noisy {f:g}": {"base": b, "reward": {"noisy": 1.0}, "false_positive_rate": f, "false_negative_rate": f}
        for f in flip_rates
    },
}
# the random reward is E1's "random, clip" (same runs): it gets the seeds the pilot chose for it
per_arm = lm.reported_seeds(seeds_per_comparison or lm.load_pilot(results_dir), profile, [lm.RANDOM_CLIP], seeds)[
    lm.RANDOM_CLIP.label
]
per_key = {k: per_arm if k == lm.RANDOM.label else lm.seeds_for(profile, seeds) for k in arms}
df = lm.sweep(arms, per_key, lm.common(profile, runs_dir, learning_rate), executor=executor)
metrics = [lm.PRIMARY, "eval/sampled_acc", "eval/greedy_acc", "eval/entropy"]
table = save_table(lm.change_table(df, metrics), results_dir, "lm_e7")
table[table.metric == lm.PRIMARY]

# %% mystnb={"figure": {"caption": "Change in held-out exact accuracy after 100 optimizer steps (12.5 rollout batches) for each reward on the default base; error bars are 95% intervals over seeds.", "name": "fig-e7"}}
fig = plots.bars(
    table[table.metric == lm.PRIMARY],
    "arm",
    "change",
    xlabel="reward",
    ylabel="change in exact accuracy",
    title="E7: reward variants",
    rotate=30,
)

# %% [markdown]
# ## Verdict (computed)

# %%
save_verdicts(lm.e7_verdicts(table, acc_margin, df), results_dir, "lm_e7_reward_variants")
