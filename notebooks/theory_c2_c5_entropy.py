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
# # C2 and C5: one-step entropy change under random rewards
#
# **Claim C2.** Under random rewards the first-order entropy change (Cui et al. 2505.22617:
# $\Delta H \approx -\eta\,\mathrm{Cov}(\log\pi, A)$) has zero mean, so any systematic change is second order
# in the step size $\eta$.
#
# **Claim C5.** Without clipping the expected one-step change is second order and its sign depends on the
# policy's skewness: a near-uniform policy loses entropy, a highly skewed one can gain it.
#
# **Reconstructed closed form** (this project's derivation, not the paper's formula): for the softmax step
# $z_a \mathrel{+}= \eta x_a$ with $x_a$ i.i.d., mean 0, variance $s^2$,
# $\mathbb{E}[\Delta H] = \eta^2 s^2\big[\sum_a \pi_a^2(\log\pi_a + H) - \tfrac12(1 - \sum_a\pi_a^2)\big] + O(\eta^3)$.
#
# **Method.** Monte Carlo of the exact entropy change with antithetic pairs $(x, -x)$, which cancel every
# odd-order term without changing the mean; the first-order term is averaged separately. Then one real,
# unclipped GRPO step on a bandit (G = 16, random rewards), paired with its antithetic twin (rewards
# $1 - r$, which negate the advantages by C1).

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
etas: list = [0.01, 0.02, 0.05, 0.1, 0.2]  # step sizes for the i.i.d. model
grpo_etas: list = [0.05, 0.1, 0.2, 0.4]  # step sizes for the GRPO bandit step
skew_K: int = 100  # actions in the skewness scan (one dominant action plus a tail)
skew_eta: float = 0.05  # step size of the skewness scan
seed: int = 0
results_dir: str = "results"

# %% tags=["hide-input"]
from rlvr_lib._checks import check_parameters

check_parameters(globals())  # a parameter of the wrong type stops here, naming it

# %%
import pandas as pd

from rlvr_lib.experiments import plots
from rlvr_lib.experiments import theory_lab as lab
from rlvr_lib.verdicts import save_table, save_verdicts

P = lab.profile("c2_c5", profile)
step = save_table(lab.c2_c5_step_table(etas, P["n"], seed), results_dir, "theory_c2_c5_step")
skew = save_table(lab.c5_skew_table(skew_K, None, skew_eta, P["n_skew"], seed), results_dir, "theory_c5_skew")
grpo = save_table(
    lab.grpo_entropy_step_table(grpo_etas, seeds=P["grpo_seeds"], seed=seed), results_dir, "theory_c2_grpo_step"
)
step

# %% mystnb={"figure": {"caption": "|E[dH]| against the step size on log-log axes for three policies: Monte Carlo (lines with 95% bands) and the reconstructed closed form eta^2 c(pi) (the lines labelled 'closed form', no band). A slope of 2 means the change is second order.", "name": "fig-c2-slope"}}
long = step.assign(abs_mc=step.mc_mean.abs(), abs_cf=step.closed_form.abs(), ci=step.mc_ci)
fig = plots.lines(
    long,
    "eta",
    "abs_mc",
    hue="policy",
    ci="ci",
    logx=True,
    logy=True,
    xlabel="step size $\\eta$",
    ylabel="$|\\mathbb{E}[\\Delta H]|$ (nats)",
    title="Entropy change is second order",
)
fig = plots.lines(
    long.assign(policy=long.policy + " (closed form)"),
    "eta",
    "abs_cf",
    hue="policy",
    ci=None,
    style=None,
    ax=fig.axes[0],
    xlabel="step size $\\eta$",
    ylabel="$|\\mathbb{E}[\\Delta H]|$ (nats)",
    logx=True,
    logy=True,
)

# %% mystnb={"figure": {"caption": "Sign of the expected one-step entropy change against the probability q of the dominant action among 100 actions (eta = 0.05): reconstructed closed form (line) and Monte Carlo (band). Below the crossing a random update lowers entropy, above it raises it.", "name": "fig-c5-skew"}}
skew_long = skew.assign(ci=skew.mc_ci, kind="Monte Carlo").rename(columns={"mc_mean": "value"})
cf_long = skew.assign(ci=float("nan"), kind="closed form").rename(columns={"closed_form": "value"})
fig = plots.lines(
    pd.concat([skew_long[["q", "value", "ci", "kind"]], cf_long[["q", "value", "ci", "kind"]]]),
    "q",
    "value",
    hue="kind",
    xlabel="probability of the dominant action $q$",
    ylabel="$\\mathbb{E}[\\Delta H]$ (nats)",
    title="Where the sign flips (K = 100)",
    hline=0,
)

# %% mystnb={"figure": {"caption": "Mean entropy change of one unclipped GRPO step with random rewards on a 10-armed bandit (G = 16), from a flat and a skewed (q = 0.9) policy, with 95% intervals over antithetic pairs.", "name": "fig-c2-grpo"}}
fig = plots.lines(
    grpo.assign(value=grpo.mean_dH),
    "eta",
    "value",
    hue="init",
    ci="ci",
    markers=True,
    xlabel="step size $\\eta$",
    ylabel="$\\mathbb{E}[\\Delta H]$ (nats)",
    title="One GRPO step under random rewards",
    hline=0,
)

# %% [markdown]
# ## Verdicts (computed)

# %%
verdicts = save_verdicts(lab.c2_c5_verdicts(step, skew, grpo), results_dir, "theory_c2_c5_entropy")
