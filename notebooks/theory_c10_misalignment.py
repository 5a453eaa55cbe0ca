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
# # C10 and C11: the reward-misalignment model
#
# **Claim C10.** Split a group into $n_c$ correct and $G - n_c$ incorrect rollouts. A random reward makes
# false positives $f \sim \mathrm{Bin}(G - n_c, 1/2)$ and false negatives $g \sim \mathrm{Bin}(n_c, 1/2)$. With
# mean-centred advantages the advantage mass lost on correct responses is (closed form RECONSTRUCTED here)
# $\Delta = (g(G - n_c) + f n_c)/G$, with $\mathbb{E}[\Delta] = n_c(G - n_c)/G$ and
# $\mathrm{Var}[\Delta] = n_c(G - n_c)/(4G)$ (the moments as reported for the paper); with
# $n_c \sim \mathrm{Bin}(G, p)$, $\mathbb{E}[\Delta] = (G-1)p(1-p)$.
#
# **Caveat, stated plainly.** These moments are symmetric under $p \leftrightarrow 1-p$, and a random reward
# carries zero expected signal toward correct answers: the expected advantage of a correct response is 0.
# "Stronger models benefit more" (C11) does not follow from the moments; it needs the mode sharpening of
# C6/C8, which helps only when the mode is correct.
#
# **Method.** Closed form against exact enumeration over $(f, g)$ and against a Monte Carlo that measures
# $\Delta$ directly as the advantage lost on correct responses of simulated GRPO groups.

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
G: int = 16  # group size
seed: int = 0
results_dir: str = "results"

# %% tags=["hide-input"]
from rlvr_lib._checks import check_parameters

check_parameters(globals())  # a parameter of the wrong type stops here, naming it

# %%
from rlvr_lib.experiments import plots
from rlvr_lib.experiments import theory_lab as lab
from rlvr_lib.verdicts import save_table, save_verdicts

P = lab.profile("c10", profile)
table = save_table(lab.c10_table(G, P["n_mc"], seed), results_dir, "theory_c10")
by_p = save_table(lab.c10_p_table(G), results_dir, "theory_c10_p")
adv = save_table(lab.correct_advantage_table(G, n=P["n_mc"], seed=seed), results_dir, "theory_c10_adv")
table

# %% mystnb={"figure": {"caption": "E[Delta] and Var[Delta] against the number of correct rollouts n_c (G = 16): reconstructed closed form (lines), exact enumeration and Monte Carlo (markers coincide with the lines).", "name": "fig-c10"}}
long = table.melt(
    id_vars="n_c",
    value_vars=["E_closed", "E_enum", "E_mc", "Var_closed", "Var_enum", "Var_mc"],
    var_name="quantity",
    value_name="value",
)
fig = plots.lines(
    long,
    "n_c",
    "value",
    hue="quantity",
    ci=None,
    markers=True,
    xlabel="correct rollouts $n_c$",
    ylabel="$\\Delta$ moments",
    title="Reward-misalignment model (G = 16)",
)

# %% mystnb={"figure": {"caption": "E[Delta] with n_c ~ Bin(G, p) against the base model's accuracy p, and the same expectation by enumeration at 1 - p (mirrored): the two coincide, so the moments cannot say that stronger models benefit more.", "name": "fig-c10-p"}}
fig = plots.lines(
    by_p.melt(id_vars="p", value_vars=["E_closed", "E_enum", "E_enum_mirror"], var_name="quantity", value_name="value"),
    "p",
    "value",
    hue="quantity",
    ci=None,
    markers=True,
    xlabel="accuracy $p$",
    ylabel="$\\mathbb{E}[\\Delta]$",
    title="Symmetric in $p \\leftrightarrow 1-p$",
)

# %%
adv

# %% [markdown]
# ## Verdicts (computed)

# %%
verdicts = save_verdicts(lab.c10_verdicts(table, by_p, adv), results_dir, "theory_c10_misalignment")
