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
# the tiny language model itself, step by step, with designs in which noise cancels by construction.
#
# **Entropy, without sampling noise.** $H(\theta)$ is the mean next-token entropy of the policy along a fixed
# set of held-out prefixes: completions sampled once from the base, then held fixed (glossary: *fixed-prefix
# entropy*). Two parameter vectors are compared on the same prefixes. The probe model runs in float64.
#
# **Antithetic pairs (C2, C5).** From a fixed state, one step with random rewards $r$ and one with $1 - r$ from
# an identical copy: the advantages negate exactly (C1), so the mean of the two entropy changes keeps only the
# even-order terms of the change and half their difference only the odd ones. Plain SGD is where the order
# argument is exact; AdamW's first step from a fresh state is close to $\mathrm{lr}\cdot\mathrm{sign}(g)$, still
# antithetic, but no longer proportional to the gradient.
#
# **Counterfactual clip steps (C6, Park et al., C3).** Along off-policy random-reward trajectories (AdamW,
# several optimizer steps per rollout batch, so ratios move away from 1), every minibatch is applied from the
# same parameters and optimizer state under each clip rule; rule minus no-clip is clipping's own entropy effect
# at that step. The same probe runs on the tabular simulator for comparison.
#
# **Margins, fixed before the runs** (parameters cell): C2's odd part must lie within ±10% of its own mean
# absolute size; C5's log-log slope within 2 ± 0.25; C6's smallest effect of interest is 1e-5 nats per step;
# C3's horizon is the tiny-LM experiments' 100 optimizer steps. The probe step size was chosen in a pilot on
# seed 1000 (never reported) as the smallest of 1e-4 and 3e-4 at which the upper-clip rate reaches the paper's
# reported order (1e-3).

# %% tags=["colab"]
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
probe_lr: float = 3e-4  # AdamW step size of the trajectories (chosen in the pilot, see above)
sgd_lrs: list = [0.001, 0.003, 0.01]  # plain-SGD step sizes of the antithetic pairs (second-order regime)
adam_lrs: list = [1e-5, 1e-4]  # AdamW step sizes of the antithetic pairs (fresh optimizer state)
eps: float = 0.2  # clip width (paper: 0.2)
G: int = 8  # group size
prompts_per_step: int = 2  # prompts per optimizer step (16 completions)
steps_per_rollout: int = 8  # optimizer steps per rollout batch (the off-policy depth; paper: 8)
max_new_tokens: int = 48  # longest completion
c2_margin_frac: float = 0.5  # C2 margin: a fraction of the even (second-order) part's mean at the same step size
slope_margin: float = 0.25  # C5 margin on the log-log slope around 2
c6_margin: float = 1e-5  # C6 smallest effect of interest, nats per step
horizon: int = 100  # C3 horizon: optimizer steps of the tiny-LM experiments
seed: int = 0  # reported seeds start here (the pilot used 1000)
results_dir: str = "results"
threads: int = 2  # torch threads: the thread count is part of what fixes the bits (see rlvr_lib.numerics)

# %%
from rlvr_lib._checks import check_parameters

check_parameters(globals())  # a parameter of the wrong type stops here, naming it

import torch  # noqa: E402

torch.set_num_threads(threads)

# %%
import pandas as pd
from tqdm import tqdm

from rlvr_lib.experiments import plots
from rlvr_lib.experiments import probes as pr
from rlvr_lib.theory.simulator import SimConfig
from rlvr_lib.verdicts import save_table, save_verdicts

P = pr.PROFILES[profile]
print(
    f"margins: C2 +-{c2_margin_frac:.0%} of the even part's mean; C5 slope 2 +- {slope_margin}; "
    f"C6 {c6_margin:g} nats/step; C3 horizon {horizon} steps"
)
path, model, tok, prompts, prefixes = pr.setup(
    base, profile, P["n_prefix_prompts"], P["prefix_samples"], max_new_tokens, seed
)
configs = [("sgd", lr) for lr in sgd_lrs] + [("adam", lr) for lr in adam_lrs]
kw = dict(prompts_per_batch=prompts_per_step, G=G, configs=configs, max_new_tokens=max_new_tokens)
bar = tqdm(
    total=2 * P["n_batches"] + P["traj_seeds"] * P["traj_rollouts"] * steps_per_rollout,
    desc="probe steps",
    disable=None,
)
positions = [pr.position_table(model, tok, "base", prefixes)]
pairs = [
    pr.antithetic_pairs(model, tok, "base", prompts, prefixes, n_batches=P["n_batches"], seed=seed, progress=bar, **kw)
]
pr.train_random(
    model,
    tok,
    prompts,
    steps=P["trained_steps"],
    prompts_per_step=prompts_per_step,
    G=G,
    steps_per_rollout=steps_per_rollout,
    lr=probe_lr,
    eps=eps,
    max_new_tokens=max_new_tokens,
    seed=seed,
)
trained = f"after {P['trained_steps']} random-reward steps"
positions.append(pr.position_table(model, tok, trained, prefixes))
pairs.append(
    pr.antithetic_pairs(
        model, tok, trained, prompts, prefixes, n_batches=P["n_batches"], seed=seed + 1, progress=bar, **kw
    )
)
positions = save_table(pd.concat(positions, ignore_index=True), results_dir, "probe_positions")
pairs = save_table(pd.concat(pairs, ignore_index=True), results_dir, "probe_pairs")
traj = []
for s in range(seed, seed + P["traj_seeds"]):
    model, tok = pr.load_probe_model(path)
    traj.append(
        pr.counterfactual_trajectory(
            model,
            tok,
            prompts,
            prefixes,
            rollouts=P["traj_rollouts"],
            steps_per_rollout=steps_per_rollout,
            prompts_per_step=prompts_per_step,
            G=G,
            lr=probe_lr,
            eps=eps,
            max_new_tokens=max_new_tokens,
            seed=s,
            progress=bar,
        )
    )
bar.close()
traj = save_table(pd.concat(traj, ignore_index=True), results_dir, "probe_trajectories")
effects = pr.clip_effects(traj)
sim = SimConfig(
    K=10,
    L=1,
    G=16,
    eta=0.5,
    mu=steps_per_rollout,
    iterations=P["traj_rollouts"] * 8,
    seeds=64,
    init="skewed",
    q=0.9,
    seed=seed,
)
tab_effects = pr.clip_effects(pr.tabular_counterfactual(sim, eps))
summary = save_table(pr.pair_summary(pairs), results_dir, "probe_pair_summary")
summary

# %% mystnb={"figure": {"caption": "Antithetic pairs: size of the even part (mean over batches of |even|) and of the odd part against the step size, per state and optimizer, on log-log axes: the order argument predicts slopes of 2 for the even part and 1 for the odd part under plain SGD.", "name": "fig-probe-orders"}}
sizes = summary.assign(value=summary.mean_abs, curve=summary.part + ", " + summary.optimizer)
fig = plots.grid(
    sizes.assign(ci=float("nan"), mean=sizes.value),
    [(s, "mean |part| (nats)") for s in sizes.state.unique()],
    "state",
    "lr",
    hue="curve",
    ncols=2,
    xlabel="step size",
    logy_panels=tuple(sizes.state.unique()),
    logx=True,
)

# %% mystnb={"figure": {"caption": "Even part of the one-step entropy change by position class (plain SGD, middle step size), measured on the LM (bars, 95% intervals over batches), to compare with the sign of the tabular closed form c(pi) evaluated on the LM's own next-token distributions at those positions (column closed_form_c of the table below; an approximation).", "name": "fig-probe-classes"}}
classes = pr.class_summary(pairs, positions, sorted(sgd_lrs)[len(sgd_lrs) // 2])
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

# %% mystnb={"figure": {"caption": "Counterfactual clip steps: entropy change per step of each clip rule minus no clipping, by position within the rollout batch (off-policy depth), per-seed means with 95% intervals over seeds; the clip fractions by depth are in the table below.", "name": "fig-probe-clip"}}
long = effects.melt(
    id_vars=["seed", "step", "depth"],
    value_vars=["d_symmetric", "d_upper_only", "d_lower_only"],
    var_name="rule",
    value_name="value",
)
from rlvr_lib.stats import seed_band

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
clip_fractions = save_table(
    effects.groupby("depth")[["clip_high", "clip_low", "ratio_max"]].mean().reset_index(),
    results_dir,
    "probe_clip_fractions",
)

# %%
clip_fractions

# %% mystnb={"figure": {"caption": "Drift against noise: the cumulative clipping contribution to entropy (symmetric minus none) and the cumulative unclipped change along random-reward trajectories, means over seeds with 95% intervals, and the unclipped term's 95% envelope 1.96 sigma sqrt(t); tiny LM (left) and the tabular simulator (right, 10-armed bandit, q = 0.9).", "name": "fig-probe-drift"}}
env = pd.concat([pr.envelope_table(effects, "tiny LM"), pr.envelope_table(tab_effects, "tabular")])
fig = plots.grid(
    env,
    [("tiny LM", "nats"), ("tabular", "nats")],
    "level",
    "step",
    hue="quantity",
    ncols=2,
    xlabel="optimizer step (LM) / GRPO iteration (tabular)",
)
plots.keep(fig, "probe-drift")
d_lm, d_tab = pr.drift_vs_noise(effects), pr.drift_vs_noise(tab_effects)
drift = save_table(
    pd.DataFrame([{"level": "tiny LM", **d_lm}, {"level": "tabular", **d_tab}]), results_dir, "probe_drift"
)

# %%
drift

# %% [markdown]
# ## Verdicts (computed)

# %%
verdicts = (
    pr.c2_c5_verdicts(pairs, positions, c2_margin_frac, slope_margin)
    + pr.c6_verdicts(effects, c6_margin)
    + pr.c3_verdicts(d_lm, horizon)
    + pr.c3_verdicts(d_tab, horizon, level="tabular")[1:]
)
save_verdicts(verdicts, results_dir, "lm_probes")
