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
# # The pilot: how many seeds each comparison needs (pilot seeds only)
#
# Before any reported run, the key comparisons - the ones that carry a claim - run on pilot seeds (1000-1002)
# that are never reported, at the learning rate the previous page chose. From each comparison's pilot mean $m$
# and spread come two seed counts (`rlvr_lib.stats.seeds_needed` and `rlvr_lib.stats.seeds_to_decide`): the seeds for a 95% interval no wider than
# the smallest effect of interest (half-width at most the margin: what excluding an effect near zero takes),
# and the seeds to **decide** at the pilot's effect size (half-width at most $|m|$, so the interval clears zero,
# or at most margin $- |m|$, so it fits inside the margin, whichever is larger). The rule:
#
# > each key comparison gets the seeds to decide, at least 3 and at most `max_seeds` (the budget of the
# > 30-minute main job on 2 cores); a comparison that needs more than the budget says so.
#
# The first pilot allotted the seeds for a half-width at most the margin; it asked 73 seeds for C4, whose pilot
# effect lies 18 margins from zero, and the rule above replaced it before any reported run was read (the lab
# log has the entry). Both counts are in the table.
#
# Every arm of a comparison gets its seeds (0, 1, ...), and a seed fixes the first rollout batch and the random
# reward stream, so arms that coincide up to their first update start on common random numbers and each
# difference is paired by seed. The primary outcome is the exact expected accuracy (teacher-forced, no
# sampling noise). The second table asks whether 100 optimizer steps are long enough: how much of each arm's
# change still happens over the last 40% of training.

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
pilot_seeds: list = [1000, 1001, 1002]  # never used for reported results
max_seeds: int = 5  # the budget: most seeds any key comparison gets
acc_margin: float = 0.02  # smallest effect of interest: exact accuracy, absolute
entropy_margin: float = 0.004  # smallest effect of interest: held-out entropy, nats per token
runs_dir: str = "runs"
results_dir: str = "results"
executor: str = ""  # where runs train: empty means $RLVR_EXECUTOR, else sequential (see rlvr_lib.rl.executors)

# %% tags=["hide-input"]
from rlvr_lib._checks import check_parameters

check_parameters(globals())  # a parameter of the wrong type stops here, naming it

# %%
from rlvr_lib.experiments import lm_lab as lm
from rlvr_lib.experiments import plots
from rlvr_lib.verdicts import save_table

b = lm.base("default", profile)
seeds = pilot_seeds if profile == "full" else pilot_seeds[:2]  # a spread needs two seeds, even at smoke size
df = lm.sweep(lm.pilot_arms(b), seeds, lm.common(profile, runs_dir, learning_rate), executor=executor)
margins = {"acc_margin": acc_margin, "entropy_margin": entropy_margin}
pilot = save_table(lm.pilot_table(df, margins, max_seeds), results_dir, "lm_pilot")
lm.save_pilot(results_dir, pilot)
pilot

# %%
late = save_table(
    lm.late_change(df, lm.PRIMARY).merge(lm.late_change(df, "eval/entropy"), on="arm", suffixes=("", " (entropy)")),
    results_dir,
    "lm_pilot_late",
)
late

# %% mystnb={"figure": {"caption": "The pilot's arms on the pilot seeds: held-out exact accuracy and entropy against optimizer steps; faint lines are single seeds, bands 95% intervals. Sampled metrics rest on 4 samples per item at steps 0 and 100 and on 1 in between (exact accuracy is complete at every step). Never reported as evidence: it sizes the experiments.", "name": "fig-pilot"}}
fig = plots.grid(
    lm.curves(df, [lm.PRIMARY, "eval/entropy"]),
    [(lm.PRIMARY, "exact accuracy"), ("eval/entropy", "held-out entropy (nats)")],
    "metric",
    "step",
    hue="arm",
    ncols=2,
    xlabel="optimizer step",
    title="Pilot (pilot seeds only)",
)

# %%
short = pilot[~pilot["within budget"]]
for _, r in pilot.iterrows():
    print(
        f"{r.claim}: mean {r['pilot mean']:+.4f}, sd {r['pilot sd']:.4f} over {r['pilot n']} pilot seeds; "
        f"{r['seeds to decide']} seeds to decide, {r['seeds for half-width <= margin']} for a half-width <= "
        f"{r.margin:g}; gets {r['seeds used']}"
    )
print(
    f"{len(short)} of {len(pilot)} comparisons need more seeds than the budget of {max_seeds}: "
    + (", ".join(short.claim) if len(short) else "none")
)
