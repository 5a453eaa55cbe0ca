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
# # E2: entropy minimisation alone (claim C8)
#
# **C8.** Lowering entropy helps only when the policy's mode is already correct. Two bases differ in one dial:
# `default` prefers the reliable column method (60% of its corpus), `shortcut` prefers the carry-dropping
# shortcut (70% of its corpus), so its mode is usually wrong. Arms: entropy minimisation through TRL's
# `entropy_coef` (negative) with a constant reward (every advantage zero, so only the entropy term acts);
# the negative-entropy reward (RENT-style); the random reward with clipping as a reference (ground truth is on
# E1's page). The entropy-minimisation arms get the seeds the pilot chose for C8 on both bases.

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
entropy_coef: float = -0.05  # TRL entropy_coef of the entropy-minimisation arm; negative minimises
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

arm_list = [lm.RANDOM_CLIP, lm.ENTROPY_COEF.with_(entropy_coef=entropy_coef), lm.ENTROPY_REWARD]
arms = {k: v for name in ("default", "shortcut") for k, v in lm.arms(lm.base(name, profile), arm_list, name).items()}
per_arm = lm.reported_seeds(seeds_per_comparison or lm.load_pilot(results_dir), profile, arm_list, seeds)
# the random-reward reference keeps the fallback seeds on the shortcut base (there it carries no claim)
per_key = {k: lm.seeds_for(profile, seeds) if k == ("shortcut", lm.RANDOM_CLIP.label) else per_arm[k[1]] for k in arms}
df = lm.sweep(arms, per_key, lm.common(profile, runs_dir, learning_rate), executor=executor)
metrics = [lm.PRIMARY, "eval/sampled_acc", "eval/greedy_acc", "eval/entropy", "eval/share_reliable"]
table = save_table(lm.change_table(df, metrics, by=("group", "arm")), results_dir, "lm_e2")
table

# %% mystnb={"figure": {"caption": "Held-out exact accuracy (top) and entropy (bottom) for the reliable-mode base (left) and the shortcut-mode base (right), entropy minimisation beside the random reward; faint lines are single seeds, bands 95% intervals over seeds. Sampled metrics rest on 4 samples per item at steps 0 and 100 and on 1 in between (exact accuracy is complete at every step).", "name": "fig-e2"}}
metrics = {lm.PRIMARY: "exact accuracy", "eval/entropy": "held-out entropy (nats)"}
cur, panels = lm.group_panels(df, metrics, ["default", "shortcut"])
fig = plots.grid(
    cur,
    panels,
    "panel",
    "step",
    hue="arm",
    ncols=2,
    xlabel="optimizer step",
    title="E2: entropy minimisation against rewards",
)
plots.keep(fig, "e2")

# %% [markdown]
# ## Verdict (computed)

# %%
save_verdicts(lm.e2_verdicts(table, acc_margin), results_dir, "lm_e2_entropy_min")
