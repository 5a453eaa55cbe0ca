"""Mechanism probes: the paper's step-level theory measured on the tiny language model itself.

Entropy here is a deterministic function of the parameters, the *fixed-prefix entropy*

    H(theta) = mean, over the completion positions of a fixed set of held-out (prompt, completion) pairs, of the
               entropy (nats, temperature 1) of pi_theta( . | prompt, completion so far),

with the completions sampled once from the base and then held fixed: two parameter vectors are compared on the
same prefixes, without sampling noise. The probe model runs in float64, so that entropy changes of 1e-9 nats
are resolved.

The GRPO step is written out here rather than taken through TRL's trainer, which cannot cheaply step from a
copied state: per-token ratio against the rollout's log-probabilities, the shared clip function
(:func:`rlvr_lib.clip.clip_objective`, the trainer's), the token mean over the minibatch (TRL's ``dapo`` loss for
one micro-batch) and group-normalised advantages (:func:`rlvr_lib.theory.simulator.group_advantages`: TRL adds
1e-4 to the group's standard deviation; with binary rewards in groups of 8 that changes an advantage by less
than 0.03%). Probes:

* :func:`antithetic_pairs` (C2, C5): from a fixed state, one step with random rewards r and one with 1 - r
  from an identical copy (the advantages negate exactly, C1). The mean of the two entropy changes keeps only
  even-order terms, half their difference only odd ones.
* :func:`counterfactual_trajectory` (C3, C6, Park et al.): along an off-policy random-reward trajectory, every
  minibatch is applied from the same parameters and optimizer state under each clip rule; the entropy change
  of rule minus that of no clipping is clipping's own effect at that step.
* :func:`tabular_counterfactual`: the same counterfactual step on the tabular simulator.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from rlvr_lib.clip import ClipRule, clip_objective, clipping_bias
from rlvr_lib.entropy import softmax_entropy
from rlvr_lib.stats import mean_ci, t975
from rlvr_lib.testbed.models import left_padded_logits
from rlvr_lib.theory.simulator import entropy_change_coefficient, group_advantages
from rlvr_lib.verdicts import Verdict, decide

LEVEL = "tiny LM (mechanism)"
RULES = ("none", "symmetric", "upper_only", "lower_only")
Z975 = t975(math.inf)  # the normal 97.5% quantile, for the random-walk envelope
PAPER_C3_RATIO = 17  # |N_raw| / |C+| at an upper-clip rate of 1e-3, as REPORTED by Chen et al., not reproduced

PROFILES = {
    "full": dict(n_prefix_prompts=32, prefix_samples=1, n_batches=24, trained_steps=24, traj_seeds=4, traj_rollouts=4),
    "smoke": dict(n_prefix_prompts=4, prefix_samples=1, n_batches=3, trained_steps=2, traj_seeds=2, traj_rollouts=1),
}


# ---------------------------------------------------------------------------------------------------------
# the probe's policy, prefixes and batches


def load_probe_model(base_path):
    """The base in float64 (see the module docstring) and its tokenizer."""
    from rlvr_lib.testbed.models import load_policy

    model, tok = load_policy(base_path, progress=False)
    return model.double().eval(), tok


@dataclass
class Rows:
    """Prompt + completion token rows with their completion masks and (for rollouts) old log-probs."""

    rows: list  # list of token-id lists, prompt then completion (eos included)
    n_prompt: list  # prompt length of each row
    old_logp: torch.Tensor | None = None  # (B, W-1) log-probs of the tokens under the rollout policy


def sample_rows(model, tok, prompts: list[str], n: int, max_new_tokens: int, seed: int) -> Rows:
    """`n` completions per prompt at temperature 1 (samples of one prompt adjacent)."""
    from rlvr_lib.testbed.evaluation import generate

    _, _, toks = generate(
        model,
        tok,
        prompts,
        max_new_tokens=max_new_tokens,
        temperature=1.0,
        num_return_sequences=n,
        seed=seed,
        with_entropy=False,
    )
    p_ids = [tok(p)["input_ids"] for p in prompts for _ in range(n)]
    rows = [p + [int(t) for t in c] for p, c in zip(p_ids, toks)]
    return Rows(rows, [len(p) for p in p_ids])


def completion_mask(rows: Rows) -> torch.Tensor:
    """(B, W-1) mask of the logit columns that predict a completion token (left padding)."""
    width = max(map(len, rows.rows))
    m = torch.zeros(len(rows.rows), width - 1, dtype=torch.bool)
    for i, (r, p) in enumerate(zip(rows.rows, rows.n_prompt)):
        m[i, width - len(r) + p - 1 : width - 1] = True
    return m


def token_logps(model, tok, rows: Rows, grad: bool = False):
    """(log-probs (B, W-1) of each row's next tokens, entropies (B, W-1), completion mask (B, W-1))."""
    logits, ids = left_padded_logits(model, rows.rows, tok.pad_token_id, grad=grad)
    logits = logits[:, :-1]
    logp = torch.log_softmax(logits, -1).gather(-1, ids[:, 1:, None].to(logits.device))[..., 0]
    return logp, softmax_entropy(logits.detach()), completion_mask(rows).to(logits.device)


def position_entropies(model, tok, prefixes: Rows) -> torch.Tensor:
    """Entropy at every completion position of the fixed prefixes, flattened (N,); their mean is H(theta)."""
    _, h, m = token_logps(model, tok, prefixes)
    return h[m]


def position_distributions(model, tok, prefixes: Rows) -> tuple[np.ndarray, np.ndarray]:
    """Next-token distributions (N, V) at the completion positions, and whether each is a completion's first."""
    logits, _ = left_padded_logits(model, prefixes.rows, tok.pad_token_id)
    m = completion_mask(prefixes)
    first = torch.zeros_like(m)
    width = m.shape[1] + 1
    for i, (r, p) in enumerate(zip(prefixes.rows, prefixes.n_prompt)):
        first[i, width - len(r) + p - 1] = True
    probs = torch.softmax(logits[:, :-1], -1)[m]
    return probs.numpy(), first[m].numpy()


def rollout(model, tok, prompts: list[str], G: int, max_new_tokens: int, seed: int) -> Rows:
    """A rollout batch (G completions per prompt) with its log-probs under the current policy."""
    b = sample_rows(model, tok, prompts, G, max_new_tokens, seed)
    b.old_logp, _, _ = token_logps(model, tok, b)
    return b


def random_advantages(n_prompts: int, G: int, gen: np.random.Generator, p: float = 0.5):
    """Bernoulli(p) rewards (n_prompts * G,) and their group-normalised advantages."""
    r = (gen.random(n_prompts * G) < p).astype(float)
    A = group_advantages(torch.tensor(r, dtype=torch.float64).view(n_prompts, G)).reshape(-1)
    return r, A


def grpo_step(model, tok, opt, batch: Rows, advantages: torch.Tensor, rule: ClipRule) -> dict:
    """One optimizer step on the token-mean clipped surrogate of `batch`; returns the step's clip statistics."""
    opt.zero_grad(set_to_none=True)
    logp, _, mask = token_logps(model, tok, batch, grad=True)
    ratio = torch.exp(logp - batch.old_logp)
    A = advantages.to(logp.dtype)[:, None]
    out = clip_objective(rule, ratio, A, mask)
    loss = -(out.objective * mask).sum() / mask.sum()
    loss.backward()
    opt.step()
    with torch.no_grad():
        b = clipping_bias(out, ratio.detach(), A, mask)
        n = mask.sum().item()
        r = ratio.detach()[mask]
    return {
        "clip_low": (out.low & mask).sum().item() / n,
        "clip_high": (out.high & mask).sum().item() / n,
        "n_raw": float(b["n_raw"]),
        "c_plus": float(b["c_plus"]),
        "ratio_max": r.max().item(),
        "ratio_min": r.min().item(),
    }


def snapshot(model, opt=None):
    return copy.deepcopy(model.state_dict()), (copy.deepcopy(opt.state_dict()) if opt is not None else None)


def restore(model, state, opt=None):
    """Back to a snapshot. The optimizer state is copied again: ``Optimizer.load_state_dict`` keeps the given
    tensors when dtype and device already match, and the next step would update the snapshot in place."""
    model.load_state_dict(state[0])
    if opt is not None:
        opt.load_state_dict(copy.deepcopy(state[1]))


def make_optimizer(name: str, model, lr: float):
    """plain SGD, or AdamW as the trainer uses it (betas 0.9 / 0.999, eps 1e-8, no weight decay)."""
    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr)
    return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)


# ---------------------------------------------------------------------------------------------------------
# probe 1: antithetic one-step updates (C2, C5)


def position_classes(probs: np.ndarray, first: np.ndarray, deterministic: float = 0.99) -> np.ndarray:
    """'style choice' (a completion's first position: the style tag), 'near-deterministic' (largest probability
    above `deterministic`) or 'uncertain', per position."""
    top = probs.max(-1)
    return np.where(first, "style choice", np.where(top > deterministic, "near-deterministic", "uncertain"))


def closed_form_coefficients(probs: np.ndarray) -> np.ndarray:
    """The tabular closed form c(pi) of C5 at each position's next-token distribution: the second-order entropy
    change per unit step under i.i.d. zero-mean logit noise. An APPROXIMATION on the LM: a network's update does
    not move the logits independently across tokens."""
    return np.array([entropy_change_coefficient(p) for p in probs])


def antithetic_pairs(
    model,
    tok,
    state_name: str,
    prompts: list[str],
    prefixes: Rows,
    *,
    n_batches: int,
    prompts_per_batch: int,
    G: int,
    configs: list[tuple[str, float]],
    max_new_tokens: int,
    seed: int,
    progress=None,
) -> pd.DataFrame:
    """For each of `n_batches` rollout batches from the current state, and each (optimizer, lr) in `configs`
    (a fresh optimizer each time), the entropy change of one step with rewards r and of one with 1 - r from an
    identical copy. Rows: state, batch, optimizer, lr, even, odd (means over positions), and the even part per
    position class (columns ``even/<class>``). Every configuration sees the same batches and rewards (common
    random numbers)."""
    theta0 = snapshot(model)
    h0 = position_entropies(model, tok, prefixes)
    probs, first = position_distributions(model, tok, prefixes)
    classes = position_classes(probs, first)
    gen = np.random.default_rng([seed, 0xA471])
    rows = []
    for b in range(n_batches):
        idx = gen.choice(len(prompts), prompts_per_batch, replace=False)
        batch = rollout(model, tok, [prompts[i] for i in idx], G, max_new_tokens, seed * 100_003 + b)
        _, A = random_advantages(prompts_per_batch, G, gen)
        for opt_name, lr in configs:
            dh = {}
            for sign in (1.0, -1.0):
                restore(model, theta0)
                grpo_step(model, tok, make_optimizer(opt_name, model, lr), batch, sign * A, ClipRule("none"))
                dh[sign] = (position_entropies(model, tok, prefixes) - h0).numpy()
            even, odd = 0.5 * (dh[1.0] + dh[-1.0]), 0.5 * (dh[1.0] - dh[-1.0])
            row = {
                "state": state_name,
                "batch": b,
                "optimizer": opt_name,
                "lr": lr,
                "even": even.mean(),
                "odd": odd.mean(),
                "abs_odd": np.abs(odd).mean(),
            }
            row.update({f"even/{c}": even[classes == c].mean() for c in np.unique(classes)})
            rows.append(row)
        if progress is not None:
            progress.update(1)
    restore(model, theta0)
    return pd.DataFrame(rows)


def position_table(model, tok, state_name: str, prefixes: Rows) -> pd.DataFrame:
    """Per position class at the current state: count, mean largest probability, mean entropy and the closed
    form's mean coefficient c(pi) (its sign is the prediction)."""
    probs, first = position_distributions(model, tok, prefixes)
    classes = position_classes(probs, first)
    c = closed_form_coefficients(probs)
    h = -(probs * np.log(np.clip(probs, 1e-300, None))).sum(-1)
    return pd.DataFrame(
        [
            {
                "state": state_name,
                "class": k,
                "positions": int((classes == k).sum()),
                "top_prob": float(probs.max(-1)[classes == k].mean()),
                "entropy": float(h[classes == k].mean()),
                "closed_form_c": float(c[classes == k].mean()),
            }
            for k in np.unique(classes)
        ]
    )


def train_random(
    model,
    tok,
    prompts: list[str],
    *,
    steps: int,
    prompts_per_step: int,
    G: int,
    steps_per_rollout: int,
    lr: float,
    eps: float,
    max_new_tokens: int,
    seed: int,
):
    """Plain random-reward GRPO with symmetric clipping (AdamW): the trajectory along which later states are
    probed. Returns the optimizer."""
    opt = make_optimizer("adam", model, lr)
    gen = np.random.default_rng([seed, 0x7A1])
    step = 0
    while step < steps:
        idx = gen.choice(len(prompts), prompts_per_step * steps_per_rollout, replace=False)
        batch = rollout(model, tok, [prompts[i] for i in idx], G, max_new_tokens, seed * 1_000_003 + step)
        _, A = random_advantages(len(idx), G, gen)
        for j in range(steps_per_rollout):
            if step >= steps:
                break
            mb, Aj = minibatch(batch, A, j, prompts_per_step * G)
            grpo_step(model, tok, opt, mb, Aj, ClipRule("symmetric", eps))
            step += 1
    return opt


def minibatch(batch: Rows, A: torch.Tensor, j: int, size: int) -> tuple[Rows, torch.Tensor]:
    """The j-th minibatch of `size` rows of a rollout batch (whole groups), padded to its own width."""
    s = slice(j * size, (j + 1) * size)
    rows, n_prompt = batch.rows[s], batch.n_prompt[s]
    width, w = max(map(len, batch.rows)), max(map(len, rows))
    old = batch.old_logp[s][:, width - w :]  # drop the columns that are padding for every row of the minibatch
    return Rows(rows, n_prompt, old), A[s]


# ---------------------------------------------------------------------------------------------------------
# probe 2 and 3: counterfactual clip steps along a trajectory (C6, Park et al., C3)


def counterfactual_trajectory(
    model,
    tok,
    prompts: list[str],
    prefixes: Rows,
    *,
    rollouts: int,
    steps_per_rollout: int,
    prompts_per_step: int,
    G: int,
    lr: float,
    eps: float,
    max_new_tokens: int,
    seed: int,
    rules=RULES,
    follow: str = "symmetric",
    progress=None,
) -> pd.DataFrame:
    """A random-reward trajectory with AdamW, `steps_per_rollout` optimizer steps per rollout batch (all but the
    first off-policy). At every step the minibatch is applied from the same parameters and optimizer state under
    each rule in `rules`; the trajectory then continues with `follow`. Rows: seed, step, depth (position in the
    rollout), rule, dH (fixed-prefix entropy change), clip fractions, n_raw, c_plus, ratio range."""
    opt = make_optimizer("adam", model, lr)
    gen = np.random.default_rng([seed, 0xC1F])
    order = [r for r in rules if r != follow] + [follow]  # the followed rule last: its state is kept
    out, step = [], 0
    for k in range(rollouts):
        idx = gen.choice(len(prompts), prompts_per_step * steps_per_rollout, replace=False)
        batch = rollout(model, tok, [prompts[i] for i in idx], G, max_new_tokens, seed * 1_000_003 + k)
        _, A = random_advantages(len(idx), G, gen)
        for j in range(steps_per_rollout):
            mb, Aj = minibatch(batch, A, j, prompts_per_step * G)
            state = snapshot(model, opt)
            h0 = position_entropies(model, tok, prefixes).mean().item()
            for name in order:
                restore(model, state, opt)
                st = grpo_step(model, tok, opt, mb, Aj, ClipRule(name, eps))
                dh = position_entropies(model, tok, prefixes).mean().item() - h0
                out.append({"seed": seed, "step": step + 1, "depth": j, "rule": name, "dH": dh, **st})
            step += 1
            if progress is not None:
                progress.update(1)
    return pd.DataFrame(out)


def clip_effects(traj: pd.DataFrame) -> pd.DataFrame:
    """Per seed and step: each rule's entropy change minus that of no clipping (``d_<rule>``), the unclipped
    change ``dH_none``, and the symmetric rule's clip fractions."""
    wide = traj.pivot_table(index=["seed", "step", "depth"], columns="rule", values="dH").reset_index()
    for r in RULES[1:]:
        if r in wide:
            wide[f"d_{r}"] = wide[r] - wide["none"]
    sym = traj[traj.rule == "symmetric"].set_index(["seed", "step"])
    wide = wide.rename(columns={"none": "dH_none"})
    for c in ("clip_high", "clip_low", "n_raw", "c_plus", "ratio_max", "ratio_min"):
        wide[c] = sym.loc[list(zip(wide.seed, wide.step)), c].to_numpy()
    return wide


def cumulative(effects: pd.DataFrame) -> pd.DataFrame:
    """Per seed and step: the cumulative clipping contribution (symmetric minus none) and the cumulative raw
    (unclipped) change."""
    e = effects.sort_values(["seed", "step"]).copy()
    e["cum_clip"] = e.groupby("seed").d_symmetric.cumsum()
    e["cum_raw"] = e.groupby("seed").dH_none.cumsum()
    return e


def drift_vs_noise(effects: pd.DataFrame, z: float | None = None) -> dict:
    """C3 over training: the clipping contribution's drift per step mu (mean over seeds of each trajectory's mean,
    with its 95% interval over seeds), the unclipped change's per-step spread sigma (pooled within seeds), the
    per-step ratio sigma / abs(mu), and the crossover step T* = (z sigma / abs(mu))^2 at which the drift mu T leaves
    the raw term's 95% envelope z sigma sqrt(T)."""
    z = Z975 if z is None else z
    per_seed = effects.groupby("seed").d_symmetric.mean().to_numpy()
    mu, h, n = mean_ci(per_seed)
    sigma = float(np.sqrt(effects.groupby("seed").dH_none.var(ddof=1).mean()))
    ratio = sigma / abs(mu) if mu else math.inf
    c = effects[effects.c_plus > 0]
    surrogate = float(c.n_raw.mean() / c.c_plus.mean()) if len(c) else math.inf
    return {
        "mu": mu,
        "mu_ci": h,
        "n_seeds": n,
        "sigma": sigma,
        "per_step_ratio": ratio,
        "crossover_step": (z * ratio) ** 2,
        "steps_per_seed": int(effects.groupby("seed").size().min()),
        "surrogate_ratio": surrogate,
        "upper_clip_rate": float(effects.clip_high.mean()),
    }


# ---------------------------------------------------------------------------------------------------------
# the same counterfactual step on the tabular simulator


def tabular_counterfactual(cfg, eps: float, rules=RULES, follow: str = "symmetric") -> pd.DataFrame:
    """Counterfactual clip steps on the tabular simulator: at each GRPO iteration, the iteration (mu inner steps
    on one group) from the same logits and the same random draws under each rule; the trajectory follows
    `follow`. Rows in the trajectory probe's columns, so that :func:`clip_effects` reads both: seed, step, depth
    (0: one group per iteration), rule, dH (mean over positions), clip_high, clip_low, n_raw, c_plus, ratio_max,
    ratio_min (NaN: the simulator records only the largest ratio)."""
    from rlvr_lib.theory.simulator import grpo_iteration, initial_logits

    gen = torch.Generator().manual_seed(cfg.seed)
    z = initial_logits(cfg)
    rows = []
    for t in range(1, cfg.iterations + 1):
        h0 = softmax_entropy(z).mean(-1)
        state = gen.get_state()
        nxt = None
        for name in rules:
            gen.set_state(state)
            z1, st = grpo_iteration(z, cfg, ClipRule(name, eps), gen)
            dh = (softmax_entropy(z1).mean(-1) - h0).numpy()
            rows += [
                {
                    "seed": s,
                    "step": t,
                    "depth": 0,
                    "rule": name,
                    "dH": float(dh[s]),
                    "clip_high": float(st["high"][s]),
                    "clip_low": float(st["low"][s]),
                    "n_raw": float(st["n_raw"][s]),
                    "c_plus": float(st["c_plus"][s]),
                    "ratio_max": float(st["ratio_max"][s]),
                    "ratio_min": float("nan"),
                }
                for s in range(cfg.seeds)
            ]
            if name == follow:
                nxt, after = z1, gen.get_state()
        z = nxt
        gen.set_state(after)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------------------
# verdicts


def c2_c5_verdicts(pairs: pd.DataFrame, positions: pd.DataFrame, margin_frac: float, slope_margin: float):
    """C2: the odd (first-order) part's mean is within +-margin of 0, the margin being `margin_frac` times the
    magnitude of the even part's mean at the same step size (a first-order drift that large would compete with
    the second-order change the claim says is all that remains). Decided at the largest plain-SGD step size,
    where the ratio of even to odd is most favourable; the others are reported. Unit: the batch (both states
    pooled). C5: the plain-SGD even part scales as lr^2 (per-batch log-log slope, mean within `slope_margin` of
    2) and its sign per position class agrees with the closed form's wherever the measured mean's interval
    excludes 0."""
    sgd = pairs[pairs.optimizer == "sgd"]
    lines, verdict_at = [], max(sgd.lr)
    for lr, g in sgd.groupby("lr"):
        m, h, n = mean_ci(g.odd)
        margin = margin_frac * abs(float(g.even.mean()))
        if lr == verdict_at:
            inside = m - h > -margin and m + h < margin
            outside = m - h > margin or m + h < -margin
        lines.append(f"lr {lr:g}: {m:+.2e} [{m - h:+.2e}, {m + h:+.2e}] vs margin +-{margin:.1e} (n = {n} batches)")
    c2 = Verdict(
        "C2",
        decide(inside, outside),
        f"odd part of the one-step entropy change (half the difference of the antithetic pair), plain SGD, "
        f"decided at lr {verdict_at:g} against a margin of {margin_frac:.0%} of the even part's mean: "
        + "; ".join(lines),
        LEVEL,
    )
    slopes = per_batch_slopes(sgd)
    sm, sh, sn = mean_ci(slopes)
    slope_ok = abs(sm - 2) + sh < slope_margin
    slope_bad = abs(sm - 2) - sh > slope_margin
    agree, disagree, cls_lines = [], [], []
    mid = sgd[sgd.lr == sorted(sgd.lr.unique())[len(sgd.lr.unique()) // 2]]
    for _, p in positions.iterrows():
        col = f"even/{p['class']}"
        vals = mid[mid.state == p.state][col].dropna() if col in mid else pd.Series(dtype=float)
        if len(vals) < 2:
            continue
        m, h, _ = mean_ci(vals)
        measured = 1 if m - h > 0 else -1 if m + h < 0 else 0
        predicted = int(np.sign(p.closed_form_c))
        if measured:
            (agree if measured == predicted else disagree).append(f"{p.state}/{p['class']}")
        cls_lines.append(
            f"{p.state}, {p['class']} ({p.positions} positions): measured {m:+.1e} [+-{h:.1e}], "
            f"closed form sign {predicted:+d}"
        )
    c5 = Verdict(
        "C5",
        decide(slope_ok and bool(agree) and not disagree, slope_bad or bool(disagree)),
        f"log-log slope of the even part against the SGD step size {sm:.2f} [{sm - sh:.2f}, {sm + sh:.2f}] "
        f"(n = {sn} batches, margin +-{slope_margin}); sign by position class (closed form evaluated on "
        "the LM's own next-token distributions, an approximation): " + "; ".join(cls_lines),
        LEVEL,
    )
    return [c2, c5]


def per_batch_slopes(sgd: pd.DataFrame) -> np.ndarray:
    """Per (state, batch): the log-log slope of |even part| against the step size."""
    out = []
    for _, g in sgd.groupby(["state", "batch"]):
        g = g[g.even != 0]
        if len(g) >= 2:
            out.append(np.polyfit(np.log(g.lr), np.log(np.abs(g.even)), 1)[0])
    return np.asarray(out)


def c6_verdicts(effects: pd.DataFrame, margin: float) -> list[Verdict]:
    """C6: symmetric clipping's own entropy change per step (symmetric minus none) is below -`margin`; Park et
    al.: upper-only below -margin and lower-only above +margin. Unit: the seed (each trajectory's mean over its
    steps), so correlated steps within a trajectory are not counted as independent."""
    stats = {}
    for r in RULES[1:]:
        stats[r] = mean_ci(effects.groupby("seed")[f"d_{r}"].mean().to_numpy())

    def sign(r):  # +1 above +margin, -1 below -margin, 0 if the interval reaches into [-margin, margin]
        m, h, _ = stats[r]
        return 1 if m - h > margin else -1 if m + h < -margin else 0

    fmt = lambda r: f"{stats[r][0]:+.2e} [{stats[r][0] - stats[r][1]:+.2e}, {stats[r][0] + stats[r][1]:+.2e}]"
    clip = (
        f"upper-clip fraction {effects.clip_high.mean():.2%}, lower-clip {effects.clip_low.mean():.2%} of tokens "
        f"under the symmetric rule; n = {stats['symmetric'][2]} trajectories of {effects.groupby('seed').size().min()} "
        f"steps; margin {margin:.0e} nats per step"
    )
    c6 = Verdict(
        "C6",
        decide(sign("symmetric") < 0, sign("symmetric") > 0),
        f"entropy change per step, symmetric clip minus no clip: {fmt('symmetric')} nats; {clip}",
        LEVEL,
    )
    park = Verdict(
        "C6 (Park et al.: upper clip lowers entropy, lower clip raises it)",
        decide(sign("upper_only") < 0 and sign("lower_only") > 0, sign("upper_only") > 0 or sign("lower_only") < 0),
        f"per step, upper-only minus none {fmt('upper_only')}, lower-only minus none {fmt('lower_only')}; " + clip,
        LEVEL,
    )
    return [c6, park]


def c3_verdicts(d: dict, horizon: int, level: str = LEVEL, small_ratio: float = 5.0) -> list[Verdict]:
    """Two rows. "Small per step": the surrogate-level ratio E abs(N_raw) / E abs(C+) exceeds `small_ratio` (the tabular
    C3 threshold), not supported below 1. "Negligible over training": the crossover step T* lies beyond
    `horizon` (the length of the training runs in question); not supported when it lies within it;
    inconclusive while the drift's interval covers 0 (no one-signed drift established)."""
    small = Verdict(
        "C3 (small per step)",
        decide(d["surrogate_ratio"] > small_ratio, d["surrogate_ratio"] < 1),
        f"E|N_raw| / E|C+| = {d['surrogate_ratio']:.1f} at an upper-clip rate of {d['upper_clip_rate']:.1e} "
        f"(threshold {small_ratio:g}); reported by Chen et al.: about {PAPER_C3_RATIO} at 1e-3",
        level,
    )
    drift = d["mu_ci"] < abs(d["mu"])
    over = Verdict(
        "C3 (negligible over training)",
        decide(drift and d["crossover_step"] > horizon, drift and d["crossover_step"] <= horizon),
        f"clipping's entropy drift {d['mu']:+.2e} [+-{d['mu_ci']:.1e}] nats per step (n = {d['n_seeds']} "
        f"seeds of {d['steps_per_seed']} steps) against the unclipped change's spread {d['sigma']:.2e}: "
        f"per-step ratio {d['per_step_ratio']:.1f}, so the one-signed drift leaves the raw term's 95% "
        f"envelope after T* = {d['crossover_step']:.0f} steps (horizon: {horizon} steps)",
        level,
    )
    return [small, over]


# ---------------------------------------------------------------------------------------------------------
# notebook helpers


def setup(base: str, profile: str, n_prefix_prompts: int, prefix_samples: int, max_new_tokens: int, seed: int):
    """(base path, model, tokenizer, training prompts, fixed prefixes) for a named base under `profile`: the
    prefixes are completions sampled once from the base on the first held-out prompts."""
    from rlvr_lib.experiments.lm_lab import base as base_for_profile
    from rlvr_lib.rl.driver import resolve_base
    from rlvr_lib.testbed.tasks import eval_items, train_rows

    path, pcfg = resolve_base(base_for_profile(base, profile))
    model, tok = load_probe_model(path)
    prompts = [r["prompt"] for r in train_rows(pcfg.task)]
    held_out = [it["prompt"] for it in eval_items(pcfg.task, 0.0)][:n_prefix_prompts]
    prefixes = sample_rows(model, tok, held_out, prefix_samples, max_new_tokens, seed=seed + 77)
    return path, model, tok, prompts, prefixes


def pair_summary(pairs: pd.DataFrame) -> pd.DataFrame:
    """Per state, optimizer and lr: mean and 95% interval over batches of the even and odd parts."""
    rows = []
    for (state, opt, lr), g in pairs.groupby(["state", "optimizer", "lr"]):
        for part in ("even", "odd"):
            m, h, n = mean_ci(g[part])
            rows.append(
                {
                    "state": state,
                    "optimizer": opt,
                    "lr": lr,
                    "part": part,
                    "mean": m,
                    "ci": h,
                    "n": n,
                    "mean_abs": float(g[part].abs().mean()),
                }
            )
    return pd.DataFrame(rows)


def class_summary(pairs: pd.DataFrame, positions: pd.DataFrame, lr: float) -> pd.DataFrame:
    """Per state and position class, at plain-SGD step size `lr`: the measured even part (mean, 95% interval over
    batches) beside the closed form's coefficient."""
    sgd = pairs[(pairs.optimizer == "sgd") & (pairs.lr == lr)]
    rows = []
    for _, p in positions.iterrows():
        col = f"even/{p['class']}"
        vals = sgd[sgd.state == p.state][col].dropna() if col in sgd else pd.Series(dtype=float)
        m, h, n = mean_ci(vals)
        rows.append({**p.to_dict(), "measured_even": m, "ci": h, "n": n, "lr": lr})
    return pd.DataFrame(rows)


def envelope_table(effects: pd.DataFrame, level: str) -> pd.DataFrame:
    """Tidy curves for the drift-against-noise figure: per step, the seed-mean cumulative clipping contribution
    and cumulative raw change with 95% intervals over seeds, and the raw term's envelope 1.96 sigma sqrt(t)."""
    from rlvr_lib.stats import seed_band

    c = cumulative(effects)
    long = pd.concat(
        [
            c.assign(quantity="cumulative clipping contribution", value=c.cum_clip),
            c.assign(quantity="cumulative unclipped change", value=c.cum_raw),
        ]
    )
    band = seed_band(long, ["quantity", "step"])
    sigma = drift_vs_noise(effects)["sigma"]
    steps = np.sort(c.step.unique())
    env = pd.DataFrame(
        {
            "quantity": "raw term's 95% envelope (+-)",
            "step": steps,
            "mean": Z975 * sigma * np.sqrt(steps),
            "ci": np.nan,
            "n": np.nan,
        }
    )
    return pd.concat([band, env], ignore_index=True).assign(level=level)
