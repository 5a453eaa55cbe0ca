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
# # C3: how large is the clipping bias?
#
# **Claim C3** ("law of clipping"). The clipping correction to the surrogate is small next to the raw
# surrogate: with $N_{raw} = \sum_t \rho_t A_t$ and $C^+_{tot} = \sum$ over upper-clipped tokens of
# (clipped $-$ raw), the paper bounds $\mathbb{E}|N_{raw}| / \mathbb{E}|C^+_{tot}|$ from below, about 17 at
# $\eta = 5\times10^{-7}$, $\epsilon = 0.2$, upper-clip rate $p^+ = 10^{-3}$, $G = 16$, $L = 4096$ (reported,
# not reproduced here).
#
# **Method.** One GRPO iteration with $\mu$ off-policy inner steps on tabular softmax policies (a bandit,
# $L = 1$, and a sequence model with per-token softmax), random rewards, symmetric clipping. We measure
# $\mathbb{E}|N_{raw}|$, $\mathbb{E}|C^+|$ (averaged over inner steps and seeds), their ratio and $p^+$ while
# varying one of $\eta$, $\epsilon$, $G$, $L$. Step sizes are on the logits of a tabular policy, so their
# scale is not comparable with a network's learning rate; $p^+$ is the comparable quantity.

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
K: int = 50  # actions per position
G: int = 16  # group size
mu: int = 4  # inner steps per iteration
eps: float = 0.2  # clip width
bandit_etas: list = [0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0]  # bandit step sizes
seq_L: int = 64  # sequence length of the sequence model
seq_etas: list = [12.0, 16.0, 24.0, 32.0, 48.0, 64.0, 128.0]  # sequence-model step sizes (gradient is / (G L))
seq_eps: list = [0.1, 0.2, 0.3, 0.4]  # clip widths (sequence model, eta 48)
seq_Gs: list = [4, 8, 16, 32]  # group sizes (sequence model, eta 48)
seq_Ls: list = [16, 64, 256]  # lengths (sequence model, eta scaled with L so that the per-token step is fixed)
seed: int = 0
results_dir: str = "results"

# %% tags=["hide-input"]
from rlvr_lib._checks import check_parameters

check_parameters(globals())  # a parameter of the wrong type stops here, naming it

# %%
import pandas as pd

from rlvr_lib.clip import ClipRule
from rlvr_lib.experiments import plots
from rlvr_lib.experiments import theory_lab as lab
from rlvr_lib.theory.simulator import SimConfig
from rlvr_lib.verdicts import save_table, save_verdicts

P = lab.profile("c3", profile)
rule = ClipRule("symmetric", eps)
bandit = SimConfig(K=K, L=1, G=G, mu=mu, seeds=P["seeds"], seed=seed)
seq = SimConfig(K=K, L=min(seq_L, P["L_max"]), G=G, mu=mu, eta=48.0, seeds=P["seeds"], seed=seed)
table = save_table(
    pd.concat(
        [
            lab.c3_scan(bandit, rule, "eta", bandit_etas).assign(model="bandit (L=1)"),
            lab.c3_scan(seq, rule, "eta", seq_etas).assign(model=f"sequence (L={seq.L})"),
            lab.c3_scan(seq, rule, "eps", seq_eps).assign(model=f"sequence (L={seq.L})"),
            lab.c3_scan(seq, rule, "G", seq_Gs).assign(model=f"sequence (L={seq.L})"),
            lab.c3_scan(seq, rule, "L", [L for L in seq_Ls if L <= P["L_max"]]).assign(
                model="sequence (eta proportional to L)"
            ),
        ],
        ignore_index=True,
    ),
    results_dir,
    "theory_c3",
)
table[["model", "vary", "value", "E_abs_N_raw", "E_abs_C_plus", "ratio", "p_plus"]]

# %% mystnb={"figure": {"caption": "The clipping-bias ratio E|N_raw| / E|C+| against the upper-clip rate p+, for every setting of the scan (bandit and sequence model; one colour per varied quantity). The cross marks the paper's reported lower bound on the ratio (about 17, evaluated at eta 5e-7, eps 0.2, p+ 1e-3, G 16, L 4096): a bound at stated parameters, not a measurement on a model, shown as reported.", "name": "fig-c3"}}
finite = table[(table.p_plus > 0) & (table.ratio < float("inf"))].assign(setting=lambda d: d.model + ": vary " + d.vary)
fig = plots.lines(
    finite,
    "p_plus",
    "ratio",
    hue="setting",
    ci=None,
    markers=True,
    logx=True,
    logy=True,
    xlabel="upper-clip rate $p^+$",
    ylabel="$\\mathbb{E}|N_{raw}| / \\mathbb{E}|C^+_{tot}|$",
    title="Clipping bias is small where few tokens clip",
    marks=[(lab.PAPER_C3["p_plus"], lab.PAPER_C3["ratio"], "paper's bound (reported)")],
)

# %% [markdown]
# ## Verdict (computed)

# %%
verdicts = save_verdicts(lab.c3_verdicts(table), results_dir, "theory_c3_clipping_bias")
