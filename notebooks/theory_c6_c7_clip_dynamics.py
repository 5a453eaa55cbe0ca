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
# # C6 and C7: what clipping does to entropy over many random-reward steps
#
# **Claim C6.** With clipping, random-reward training lowers entropy systematically: clipping acts as
# implicit entropy minimisation. Park et al. (2509.26114) refine it: clip-high lowers entropy, clip-low
# raises it, and with symmetric $\epsilon$ the clip-high effect dominates.
#
# **Claim C7.** Clipping is a stabiliser: without it ratios grow and training can blow up.
#
# **Method.** Multi-step GRPO with random Bernoulli(1/2) rewards on a 10-armed bandit with $\mu$ off-policy
# inner steps per iteration, under four clip rules (none, upper-only, lower-only, symmetric), from a flat and a
# skewed initial policy. Bands are 95% intervals over independent seeds.

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
K: int = 10  # actions
G: int = 16  # group size
eta: float = 0.5  # step size on the logits
mu: int = 4  # inner steps per iteration
eps: float = 0.2  # clip width
skew_q: float = 0.9  # probability of the mode in the skewed initial policy
seed: int = 0
results_dir: str = "results"

# %% tags=["hide-input"]
from rlvr_lib._checks import check_parameters

check_parameters(globals())  # a parameter of the wrong type stops here, naming it

# %%
from rlvr_lib.experiments import plots
from rlvr_lib.experiments import theory_lab as lab
from rlvr_lib.theory.simulator import SimConfig
from rlvr_lib.verdicts import save_table, save_verdicts

P = lab.profile("c6_c7", profile)
base = SimConfig(K=K, L=1, G=G, eta=eta, mu=mu, iterations=P["iterations"], seeds=P["seeds"], seed=seed)
rules = lab.c6_rules(eps)
inits = {"flat": dict(init="flat"), f"skewed q={skew_q}": dict(init="skewed", q=skew_q)}
table = save_table(lab.dynamics_table(base, rules, inits), results_dir, "theory_c6_c7")

# %% mystnb={"figure": {"caption": "Policy entropy H (nats) during random-reward GRPO under four clip rules, from a flat (left) and a skewed (right) initial policy; bands are 95% intervals over seeds.", "name": "fig-c6-entropy"}}
fig = plots.grid(
    table[table.metric == "entropy"],
    [(k, "entropy $H$ (nats)") for k in inits],
    "init",
    "iteration",
    hue="rule",
    ncols=2,
    xlabel="GRPO iteration",
    title="Entropy under random rewards",
)

# %% mystnb={"figure": {"caption": "Upper and lower clip fractions and the largest importance ratio per iteration (flat initial policy, symmetric and one-sided rules).", "name": "fig-c6-clip"}}
flat = table[table.init == "flat"]
fig = plots.grid(
    flat,
    [
        ("clip_high", "upper-clip fraction $p^+$"),
        ("clip_low", "lower-clip fraction $p^-$"),
        ("ratio_max", "max ratio $\\rho$"),
    ],
    "metric",
    "iteration",
    hue="rule",
    ncols=3,
    xlabel="GRPO iteration",
    title="Clip activity (flat initial policy)",
)

# %% [markdown]
# ## Verdicts (computed)

# %%
verdicts = save_verdicts(lab.c6_c7_verdicts(table), results_dir, "theory_c6_c7_clip_dynamics")
