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
# # C8 and C11: a bandit with a correct answer
#
# **Claim C8.** Entropy minimisation alone is not enough: lower entropy helps only when the policy's mode is
# already correct.
#
# **Claim C11.** Stronger models (higher baseline accuracy) gain more from spurious rewards.
#
# **Method.** A 10-armed bandit whose action 0 is correct; the initial policy puts probability q on its mode,
# which is either the correct action or a wrong one. Four arms: ground-truth reward with symmetric clipping,
# random reward with clipping, random reward without clipping, and explicit entropy minimisation alone
# (every advantage zero, $J = -H$). Accuracy is the probability of the correct action.

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
qs: list = [0.2, 0.35, 0.5, 0.65, 0.8]  # probability of the mode at the start
curve_q: float = 0.5  # q of the trajectories figure
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

P = lab.profile("c8_c11", profile)
base = SimConfig(K=K, L=1, G=G, eta=eta, mu=mu, iterations=P["iterations"], seeds=P["seeds"], seed=seed)
curves = save_table(lab.bandit_curves(base, curve_q, eps), results_dir, "theory_c8_curves")
table = save_table(lab.bandit_table(base, qs, eps), results_dir, "theory_c8_c11")

# %% mystnb={"figure": {"caption": "Accuracy (probability of the correct action) during training when the initial mode (q = 0.5) is the correct action (left) or a wrong one (right); 95% bands over seeds.", "name": "fig-c8-curves"}}
acc = curves[curves.metric == "accuracy"].assign(
    mode=lambda d: d.mode_correct.map({True: "mode correct", False: "mode wrong"})
)
fig = plots.grid(
    acc,
    [("mode correct", "accuracy $\\pi(a^*)$"), ("mode wrong", "accuracy $\\pi(a^*)$")],
    "mode",
    "iteration",
    hue="arm",
    ncols=2,
    xlabel="GRPO iteration",
    title="Bandit with a correct action",
)

# %% mystnb={"figure": {"caption": "Improvement in accuracy after training against the initial accuracy, for each arm: the points at initial accuracy q have the mode correct, those at low initial accuracy (1 - q) / 9 have it wrong (same markers for both). Error bars: 95% intervals over seeds.", "name": "fig-c11-gain"}}
fig = plots.scatter_ci(
    table.sort_values("initial_acc"),
    "initial_acc",
    "gain",
    hue="arm",
    yerr="gain_ci",
    xlabel="initial accuracy $\\pi_0(a^*)$",
    ylabel="accuracy gain",
    connect=False,
    title="Gain against baseline accuracy",
)

# %% [markdown]
# ## Verdicts (computed)

# %%
verdicts = save_verdicts(lab.c8_c11_verdicts(table), results_dir, "theory_c8_c11_bandit")
