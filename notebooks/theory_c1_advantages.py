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
# # C1: group advantages under random rewards (exact)
#
# **Claim C1.** Under random Bernoulli(1/2) rewards the group-normalised advantages
# $A_i = (r_i - \bar r)/s_r$ (unbiased $s_r$; $A = 0$ when all rewards are equal) are symmetric about 0,
# bounded by $|A| \le \sqrt{G} - 1/\sqrt{G}$, and all their odd moments vanish.
#
# **Method.** Exact enumeration of all $2^G$ reward vectors for each group size $G$, weighted by their
# Bernoulli probabilities. Symmetry is checked vector by vector: the complement $1 - r$ of every vector
# has advantages exactly $-A(r)$.

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
profile: str = "full"  # "full" for the book, "smoke" for tests (same sizes here: enumeration is exact)
Gs: list = [2, 4, 8, 12, 16]  # group sizes to enumerate (2^G vectors each)
p: float = 0.5  # success probability of the random reward
results_dir: str = "results"  # where verdicts and tables are written

# %% tags=["hide-input"]
from rlvr_lib._checks import check_parameters

check_parameters(globals())  # a parameter of the wrong type stops here, naming it

# %%
from rlvr_lib.experiments import plots
from rlvr_lib.experiments import theory_lab as lab
from rlvr_lib.verdicts import save_table, save_verdicts

table = save_table(lab.c1_table(Gs, p), results_dir, "theory_c1")
table

# %% mystnb={"figure": {"caption": "Largest |advantage| over all 2^G reward vectors (points) against the bound sqrt(G) - 1/sqrt(G) (line), and the exact first to fifth moments of one member's advantage. Odd moments are zero to rounding error.", "name": "fig-c1"}}
long = table.melt(id_vars="G", value_vars=["max_abs_A", "bound"], var_name="quantity", value_name="value")
fig = plots.lines(
    long,
    "G",
    "value",
    hue="quantity",
    ci=None,
    markers=True,
    xlabel="group size $G$",
    ylabel="$\\max |A|$",
    title="Advantage bound under random rewards",
)

# %%
table[["G", "moment_1", "moment_2", "moment_3", "moment_4", "moment_5", "p_all_equal"]]

# %% [markdown]
# ## Verdict (computed)

# %%
verdicts = save_verdicts(lab.c1_verdicts(table), results_dir, "theory_c1_advantages")
