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
# # A regime map: when does random-reward GRPO raise accuracy?
#
# **The premise (E0).** The paradox the paper explains starts from an observation: GRPO with a coin-flip reward
# raises Qwen2.5-Math-7B's accuracy (Shao et al., arXiv 2506.10947). Whether it does in a model depends on
# quantities the other experiments hold fixed: how often and how one-sidedly clipping binds (step size, inner
# steps per rollout, the clip rule), the policy's shape (mode probability, length of the tail) and the group
# size. This page maps them on the tabular bandit.
#
# **Method.** A K-armed bandit whose action 0 is correct, with initial probability q on its mode (the correct
# action; as control, a wrong one), trained by the tabular simulator's GRPO (random Bernoulli(1/2) rewards,
# group-normalised advantages, $\mu$ gradient steps of size $\eta$ on the logits per rollout) under five clip
# rules: none, symmetric ($\epsilon = 0.2$), clip-higher ($\epsilon_{high} > \epsilon_{low}$), upper-only and
# lower-only. The map is three 2-D slices (step size x inner steps, mode probability x number of actions, group
# size x step size), not a full factorial, through a default point: the book's bandit (10 actions, q = 0.5, step
# size 0.5, G = 16) at the 8 optimizer steps per rollout of Shao et al.'s reference run. Every rule of a setting
# starts from the same seed (common random numbers), so rule differences are paired by replica.
#
# A cell *gains* when the 95% interval of its accuracy gain (final minus initial probability of the correct
# action, over replicas) lies above zero and reaches the margin set below. Among a few hundred cells, a few would
# do so by chance alone, so the verdicts, which are about *somewhere* on the map, widen each interval for the
# number of cells they range over (Bonferroni) before they count a gain. The mechanism is read from the paired
# difference with no clipping, and from the entropy decomposition: at regular iterations the same iteration is
# taken without clipping from the same state with the same draws, which separates clipping's drift (rule minus
# no clip) from the unclipped drift. The theory's boundary compares clipping's measured one-step drift at the
# initial policy with the unclipped drift predicted by the C5 closed form (reconstructed, for i.i.d. logit noise,
# here at the measured variance of the unclipped update).
#
# **Units.** A tabular step size is not a network's learning rate; the clip rate is the quantity the map shares
# with a real run, and it is how the paper's reported regime is placed on it. A bandit response is a single
# token, where the reported clip rate is per token of responses thousands of tokens long.

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
profile: str = "full"  # "full" for the book, "smoke" for tests (few replicas and iterations, axis ends only)
K: int = 10  # actions at the default point
q: float = 0.5  # initial probability of the mode at the default point
G: int = 16  # group size at the default point (the paper's)
eta: float = 0.5  # step size on the logits at the default point (the book's bandit)
mu: int = 8  # inner steps per rollout at the default point (Shao et al.'s reference run)
etas: list = [0.05, 0.1, 0.2, 0.5, 1.0, 2.0]  # step sizes of the step slice
mus: list = [1, 2, 4, 8]  # inner steps per rollout of the step slice (8: the reference run's)
qs: list = [0.2, 0.5, 0.8, 0.95]  # mode probabilities of the shape slice
Ks: list = [10, 100, 1000]  # numbers of actions of the shape slice
Gs: list = [4, 16, 64]  # group sizes of the group slice
group_etas: list = [0.2, 0.5, 2.0]  # step sizes of the group slice
eps_low: float = 0.2  # lower clip width, and the symmetric rule's (the paper's eps)
eps_high: float = 0.28  # clip-higher's upper width (DAPO's)
margin: float = 0.02  # smallest accuracy gain of interest (probability of the correct action)
seed: int = 0
results_dir: str = "results"

# %% tags=["hide-input"]
from rlvr_lib._checks import check_parameters

check_parameters(globals())  # a parameter of the wrong type stops here, naming it

# %%
from IPython.display import Markdown

from rlvr_lib.experiments import regime_map as rm
from rlvr_lib.verdicts import save_table, save_verdicts

cfg = rm.MapConfig.from_profile(
    profile,
    K=K,
    q=q,
    G=G,
    eta=eta,
    mu=mu,
    etas=etas,
    mus=mus,
    qs=qs,
    Ks=Ks,
    Gs=Gs,
    group_etas=group_etas,
    eps_low=eps_low,
    eps_high=eps_high,
    margin=margin,
    seed=seed,
)
table = save_table(rm.regime_table(cfg), results_dir, rm.TABLE)
reported = save_table(rm.reported_placement(table), results_dir, rm.REPORTED_TABLE)
print(f"{len(rm.unique_cells(table))} cells, {cfg.replicas} replicas each, {cfg.iterations} GRPO iterations")

# %% [markdown]
# ## The map

# %% mystnb={"figure": {"caption": "Accuracy gain after random-reward GRPO with the mode correct, per clip rule (columns) and slice (rows); one diverging colour scale, blue above zero. Crosses: cells whose 95% interval lies above zero and reaches the margin; squares: also with the intervals widened for the number of cells on the map (Bonferroni). Black contours: upper (solid) and lower (dashed) clip rates at 1e-3, 1e-2 and 1e-1. Coloured contours: where the one-step net entropy drift changes sign, by the theory (reconstructed C5 closed form plus clipping's measured drift, dotted) and as measured (dash-dot). Star: the paper's regime, placed by its reported upper-clip rate at 8 steps per rollout (reported, not reproduced).", "name": "fig-regime-map"}}
fig = rm.regime_map_figure(results_dir)

# %% mystnb={"figure": {"caption": "Entropy change (nats) over the same training, mode correct, on the same slices and rules; markers and contours as above.", "name": "fig-regime-map-entropy"}}
fig = rm.regime_map_figure(results_dir, quantity="dH")

# %% [markdown]
# ## Where it gains, and why (computed)
#
# Every cell with a gain, with its paired gain over no clipping, the control (the same setting with the mode
# wrong), the clip rates and the entropy decomposition along the trajectory (nats per GRPO iteration). Then one
# row per rule: how many of its cells gain, and its best cell.

# %%
save_table(rm.gain_table(table), results_dir, "theory_regime_map_gains")

# %%
save_table(rm.rule_summary(table), results_dir, "theory_regime_map_rules")

# %% [markdown]
# ## The paper's regime on the map

# %%
Markdown(rm.reported_sentence(reported))

# %% [markdown]
# ## Reading (computed)

# %%
Markdown(rm.reading(table, reported))

# %% [markdown]
# ## Verdicts (computed)

# %%
verdicts = save_verdicts(rm.e0_verdicts(table, margin), results_dir, rm.NAME)
