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
# # Mechanism probes on the tiny language model (C2, C3, C5, C6)
#
# The paper's claims about entropy are claims about what one optimizer step does. This page measures them on
# the tiny language model itself, step by step, with designs in which noise cancels by construction, along the
# book's own outcome runs: the trajectories use the recipe of E1's random-reward runs (AdamW at their learning
# rate, their completions per optimizer step and optimizer steps per rollout batch, their gradient-norm clipping,
# float32; the parameters cell holds the values, and the suite checks them against the outcome runs' settings).
#
# **Entropy, without sampling noise.** $H(\theta)$ is the mean next-token entropy of the policy along a fixed
# set of held-out prefixes: completions sampled once from the base, then held fixed (glossary: *fixed-prefix
# entropy*). Two parameter vectors are compared on the same prefixes.
#
# **Antithetic pairs (C2, C5).** From a fixed state, one plain-SGD step with random rewards $r$ and one with
# $1 - r$: the advantages negate exactly (C1), so the mean of the two entropy changes keeps only the even-order
# terms of the change and half their difference only the odd ones. C2 says the systematic part is second order:
# its per-batch log-log slope against the step size should be 2. The odd part's mean is zero by the reward
# coin's symmetry; it is shown as a check of the design, not as C2's verdict. C5 is the sign of the even part by
# position class, against the sign of the tabular closed form (reconstructed) at the LM's own next-token
# distributions. These run in float64 throughout (the model's own RMS norm rounds to float32, which put a floor
# under small even parts; the probe model computes it in float64).
#
# **Counterfactual clip steps (C3, C6, Park et al.).** Along the trajectories, every minibatch is applied from the
# same parameters and optimizer state under each clip rule; rule minus no-clip is clipping's own entropy effect at
# that step. C6 asks whether that effect lowers entropy (relative), and C6 (absolute) whether entropy falls along
# the clipped trajectory at all. C3 (negligible over training) sets clipping's cumulative contribution over a
# horizon, in optimizer steps, against the unclipped step's own drift and spread measured along the same
# trajectories, and is decided like an equivalence test. On some rollouts the same batch is also run at other
# learning rates from the same state, which gives the curves of the law-of-clipping ratio and of clipping's
# entropy effect against the clip rate. The same probe
# runs on the tabular simulator; there one GRPO iteration is `steps_per_rollout` optimizer steps, and every
# quantity is converted to per optimizer step.
#
# **Units and power.** The unit of a trajectory statistic is the trajectory (its mean over its steps), that of an
# antithetic statistic the rollout batch. A pilot on seeds that are never reported measures each verdict's effect
# and spread and chooses the numbers of trajectories and batches (within the profile's budget). Every probe also
# runs a second time, concurrently, under the machine's native kernels (no kernel pins); the reproducibility page
# shows both sets of verdicts. Margins are set in the parameters cell and printed below; a verdict never uses
# another.

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
base: str = "default"  # the named base probed
outcome_lr: float = 5e-5  # AdamW rate of the followed trajectories: the rate E1's runs train at (lm_hyperparameters)
lr_grid: list = [1e-5, 2e-5, 1e-4, 3e-4]  # further AdamW rates branched from the same states (clip-rate curves)
sgd_lrs: list = [1e-4, 3e-4, 1e-3]  # plain-SGD step sizes of the antithetic pairs (second-order regime)
eps: float = 0.2  # clip width (paper: 0.2)
G: int = 8  # group size (E1: lm_lab.FULL)
prompts_per_step: int = 2  # prompts per optimizer step, 16 completions (E1: lm_lab.FULL)
steps_per_rollout: int = 8  # optimizer steps per rollout batch (E1: lm_lab.FULL; Shao et al.'s reference run: 8)
max_grad_norm: float = 1.0  # gradient-norm clipping (E1: the trainer's default)
max_new_tokens: int = 48  # longest completion (E1: max_completion_length)
slope_margin: float = 0.25  # C2: the even part's per-batch log-log slope must lie within 2 +- this
c6_margin: float = 4e-5  # C6, Park et al.: nats per optimizer step (E1's 0.004 nats over its 100 steps)
clip_floor: float = 0.001  # C6 relative rows: share of tokens clipped for clipping to count as binding (E1's)
small_ratio: float = 5.0  # C3 (small per step): E|N_raw| / E|C+| must exceed this at the paper's rate
paper_clip_rate: float = 0.001  # C3: the paper's reported upper-clip rate (about 0.1% of tokens)
horizon: int = 100  # C3 over training: optimizer steps of the book's tiny-LM runs
reference_horizon: int = 1600  # C3 over training: Shao et al.'s reference run (reported), 200 rollouts x 8 steps
pilot_seeds: list = [1000, 1001, 1002]  # the pilot's seeds, never reported
seed: int = 0  # reported seeds start here
native_check: bool = True  # rerun the probes under the machine's native kernels, concurrently
results_dir: str = "results"
threads: int = 1  # torch threads of each of the two concurrent runs (the thread count is part of the bits)
pilot_threads: int = 1  # torch threads of the pilot, which runs alone

# %% tags=["hide-input"]
from rlvr_lib._checks import check_parameters

check_parameters(globals())  # a parameter of the wrong type stops here, naming it

# %% [markdown]
# Smallest effects of interest, thresholds and horizons, as set in the parameters cell (every verdict below
# decides against these values):

# %%
import pandas as pd

from rlvr_lib.experiments import probe_run as run
from rlvr_lib.experiments import probes as pr

params = run.resolve(
    dict(
        profile=profile,
        base=base,
        outcome_lr=outcome_lr,
        lr_grid=lr_grid,
        sgd_lrs=sgd_lrs,
        eps=eps,
        G=G,
        prompts_per_step=prompts_per_step,
        steps_per_rollout=steps_per_rollout,
        max_grad_norm=max_grad_norm,
        max_new_tokens=max_new_tokens,
        slope_margin=slope_margin,
        c6_margin=c6_margin,
        clip_floor=clip_floor,
        small_ratio=small_ratio,
        paper_clip_rate=paper_clip_rate,
        horizon=horizon,
        reference_horizon=reference_horizon,
        pilot_seeds=pilot_seeds,
        seed=seed,
        threads=threads,
        pilot_threads=pilot_threads,
        native_check=native_check,
    )
)  # the profile's overrides applied (the smoke profile shortens everything; the full profile changes nothing)
pr.margins_table(
    slope_margin=slope_margin,
    c6_margin=c6_margin,
    clip_floor=clip_floor,
    small_ratio=small_ratio,
    paper_clip_rate=paper_clip_rate,
    horizon=horizon,
    reference_horizon=reference_horizon,
)

# %% [markdown]
# ## Pilot: how many trajectories and batches
#
# On the pilot seeds, the trajectories and antithetic batches this page reports, measured once: per verdict, the
# units that would decide it at the pilot's effect and spread. The reported probes get the largest of these within
# the profile's budget; `budget_short` marks the verdicts the budget cannot be expected to decide.

# %%
from rlvr_lib.verdicts import save_table, save_verdicts

native_dir = f"{results_dir}/probes_native"
replica = run.start_replica(params, native_dir) if params["native_check"] else None  # waits for the pilot's sizes
sizes, pilot = run.pilot(params)
if replica is not None:
    run.send_sizes(native_dir, sizes)
save_table(pilot, results_dir, "probe_pilot")
print(f"reported: {sizes['n_trajectories']} trajectories, {sizes['n_batches']} batches per state")
pilot

# %%
tables = run.run_all(params, sizes)
for name, table in tables.items():
    save_table(table, results_dir, f"probe_{name}")
d = run.derived(tables, params)
summary = save_table(pr.pair_summary(tables["pairs"]), results_dir, "probe_pair_summary")
summary

# %% mystnb={"figure": {"caption": "Antithetic pairs: size of the even part (mean over batches of |even|) and of the odd part against the plain-SGD step size, per state, on log-log axes: the order argument predicts slopes of 2 for the even part and 1 for the odd part.", "name": "fig-probe-orders"}}
from rlvr_lib.experiments import plots

fig = plots.grid(
    summary.assign(mean=summary.mean_abs, ci=float("nan")),
    [(s, "mean |part| (nats)") for s in summary.state.unique()],
    "state",
    "lr",
    hue="part",
    ncols=2,
    xlabel="plain-SGD step size",
    logy_panels=tuple(summary.state.unique()),
    logx=True,
)

# %% mystnb={"figure": {"caption": "Even part of the one-step entropy change by position class (plain SGD, middle step size), measured on the LM (bars, 95% intervals over batches), to compare with the sign of the tabular closed form c(pi) (reconstructed) evaluated on the LM's own next-token distributions at those positions (column closed_form_c of the table below; an approximation).", "name": "fig-probe-classes"}}
classes = pr.class_summary(tables["pairs"], tables["positions"], d["mid_lr"])
fig = plots.bars(
    classes.assign(arm=classes["class"]),
    "arm",
    "measured_even",
    hue="state",
    xlabel="position class",
    ylabel="even part of the entropy change (nats)",
)

# %%
classes[["state", "class", "positions", "top_prob", "entropy", "closed_form_c", "measured_even", "ci", "n"]]

# %% mystnb={"figure": {"caption": "Counterfactual clip steps at the outcome runs' learning rate: entropy change per optimizer step of each clip rule minus no clipping, by position within the rollout batch (off-policy depth), means over trajectories with 95% intervals; the clip rates by depth are in the table below.", "name": "fig-probe-clip"}}
from rlvr_lib.stats import seed_band

long = d["path"].melt(
    id_vars=["seed", "step", "depth"],
    value_vars=["d_symmetric", "d_upper_only", "d_lower_only"],
    var_name="rule",
    value_name="value",
)
band = seed_band(long.groupby(["rule", "depth", "seed"], as_index=False).value.mean(), ["rule", "depth"])
fig = plots.lines(
    band,
    "depth",
    hue="rule",
    xlabel="optimizer step within the rollout batch",
    ylabel="entropy change, rule minus none (nats)",
    hline=0,
    markers=True,
)
clip_rates = save_table(
    d["path"].groupby("depth")[["clip_high", "clip_low", "ratio_max"]].mean().reset_index(),
    results_dir,
    "probe_clip_fractions",
)

# %%
clip_rates

# %% [markdown]
# ## Curves against the clip rate
#
# Each point is one learning rate (tiny LM: AdamW rates branched from the same states; tabular: logit step
# sizes), placed at the clip rate it produced. The paper's bound on the law-of-clipping ratio at its stated
# parameters is marked as reported: it is not a measurement. C3 (small per step) is read off the curve at the
# paper's upper-clip rate (dotted line): at the step size whose upper-clip rate lies within a factor 1.5 of it,
# the one measured on the most trajectories (a point rather than an interpolation, because the tiny LM's upper-clip
# rate need not grow with the learning rate).

# %% mystnb={"figure": {"caption": "Law-of-clipping ratio E|N_raw| / E|C+| per optimizer step against the upper-clip rate (left; geometric mean over trajectories with 95% bars, tiny LM and tabular simulator, points joined in step-size order, the tiny LM's labelled with their learning rate, bars reaching beyond a decade past the points cut at the panel's edge; the cross is Chen et al.'s bound at their stated parameters, reported, not measured), and the per-step entropy effect of upper-only clipping against the upper-clip rate and of lower-only clipping against the lower-clip rate, means over trajectories with 95% bars, on the tiny LM (middle) and the tabular simulator (right; one GRPO iteration converted to its optimizer steps). Dotted: the paper's reported clip rate.", "name": "fig-probe-curves"}}
from rlvr_lib.experiments import probe_figures

curves = save_table(
    pd.concat([pr.curve_table(d["lm_units"], "tiny LM"), pr.curve_table(d["tab_units"], "tabular")]),
    results_dir,
    "probe_curves",
)
fig = probe_figures.curves_figure(curves, paper_clip_rate, pr.PAPER_C3_RATIO)

# %%
curves

# %% [markdown]
# The two curves at the paper's clip rate, read at the step size whose clip rate of that side lies within a factor
# 1.5 of it (NaN where none does):

# %%
save_table(run.paper_rate_table(d, paper_clip_rate), results_dir, "probe_at_paper_rate")

# %% mystnb={"figure": {"caption": "Drift against the unclipped trajectory's own change: the cumulative clipping contribution to entropy (symmetric minus none) and the cumulative unclipped change along the random-reward trajectories, means over trajectories with 95% intervals, and the margin m(t) = |unclipped drift| t + 1.96 x (spread per rollout batch) x sqrt(t / steps per rollout batch) that C3 (negligible over training) is decided against; x in optimizer steps on both levels (a tabular GRPO iteration is steps_per_rollout optimizer steps). Tiny LM (left) and the tabular simulator (right, 10-armed bandit, one action at 0.9).", "name": "fig-probe-drift"}}
fig = probe_figures.drift_figure(d["envelope"])
plots.keep(fig, "probe-drift")
drift = save_table(
    pd.DataFrame([{"level": "tiny LM", **d["lm_drift"]}, {"level": "tabular", **d["tab_drift"]}]),
    results_dir,
    "probe_drift",
)

# %%
drift

# %% [markdown]
# ## Verdicts (computed)
#
# The verdicts under the pinned kernels are this page's; the same probes under the machine's native kernels are
# set beside them on the reproducibility page.

# %%
verdicts = run.probe_verdicts(tables, params)
if replica is not None:
    native_tables, native_numerics = run.collect_replica(replica, native_dir)
    kernels = run.kernel_table(verdicts, run.probe_verdicts(native_tables, params))
    kernels = kernels.assign(native_kernels=native_numerics["kernels"], pinned_kernels=run.numerics_record()["kernels"])
    save_table(kernels, results_dir, "probe_kernels")
    save_table(run.replica_difference(tables, native_tables), results_dir, "probe_kernels_diff")
    print(f"verdicts agreeing under pinned and native kernels: {kernels.agree.sum()} of {len(kernels)}")
save_verdicts(verdicts, results_dir, "lm_probes")
