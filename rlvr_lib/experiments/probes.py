"""Mechanism probes: the paper's step-level theory measured on the tiny language model itself.

Entropy here is a deterministic function of the parameters, the *fixed-prefix entropy*

    H(theta) = mean, over the completion positions of a fixed set of held-out (prompt, completion) pairs, of the
               entropy (nats, temperature 1) of pi_theta( . | prompt, completion so far),

with the completions sampled once from the base and then held fixed: two parameter vectors are compared on the
same prefixes, without sampling noise.

The GRPO step is written out here rather than taken through TRL's trainer, which cannot cheaply step from a
copied state: per-token ratio against the rollout's log-probabilities, the shared clip function
(:func:`rlvr_lib.clip.clip_objective`, the trainer's), the token mean over the minibatch (TRL's ``dapo`` loss for
one micro-batch), gradient-norm clipping as the trainer does it, and group-normalised advantages
(:func:`rlvr_lib.theory.simulator.group_advantages`: TRL adds 1e-4 to the group's standard deviation; with binary
rewards in groups of 8 that changes an advantage by less than 0.03%). Probes:

* :func:`antithetic_pairs` (C2, C5): from a fixed state, one plain-SGD step with random rewards r and one with
  1 - r (the advantages negate exactly, C1). The mean of the two entropy changes keeps only even-order terms,
  half their difference only odd ones. Runs in float64 throughout (:func:`load_probe_model` keeps the RMS norms
  in float64, where the model's own code rounds to float32), so even parts of 1e-12 nats are resolved.
* :func:`branched_trajectory` (C3, C6, Park et al.): random-reward GRPO with the book's outcome-run recipe (AdamW,
  several optimizer steps per rollout batch, float32 as the trainer runs). At every step the minibatch is applied
  from the same parameters and optimizer state under each clip rule; rule minus no clipping is clipping's own
  effect at that step. At chosen rollouts the same rollout batch is also run at other learning rates from the
  same state (branches), which gives the clip-rate curves on common random numbers.
* :func:`tabular_counterfactual`, :func:`tabular_curve`: the same counterfactual step on the tabular simulator.

Units: every rate and every entropy change is per OPTIMIZER step; a tabular GRPO iteration is ``mu`` optimizer
steps and is converted. The unit of replication of a trajectory statistic is the trajectory (its mean over its
steps), never the step, so that correlated steps within a trajectory are not counted as independent; the unit
of an antithetic statistic is the rollout batch. What this module leaves out: the trainer's logging and
evaluation, KL, entropy bonuses, and any rule but none / symmetric / upper-only / lower-only.

Verdict functions return :class:`rlvr_lib.verdicts.Verdict` rows whose ``reason`` is one of
:data:`rlvr_lib.verdicts.REASONS` or one of this module's :data:`REASONS`.
"""

from __future__ import annotations

import copy
import math
import types
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from rlvr_lib.clip import ClipRule, clip_objective, clipping_bias
from rlvr_lib.entropy import softmax_entropy
from rlvr_lib.stats import mean_ci, seeds_needed, seeds_to_decide, t975
from rlvr_lib.testbed.models import left_padded_logits
from rlvr_lib.theory.simulator import entropy_change_coefficient, group_advantages
from rlvr_lib.verdicts import Decision, Verdict, decide_effect

LEVEL = "tiny LM (mechanism)"
RULES = ("none", "symmetric", "upper_only", "lower_only")
Z975 = t975(math.inf)  # the normal 97.5% quantile, for the unclipped trajectory's spread over a horizon
PAPER_C3_RATIO = 17  # abs(N_raw) / abs(C+) bound at an upper-clip rate of 1e-3 REPORTED by Chen et al. (not measured)
SHAO_REFERENCE = "Shao et al.'s reference run (reported)"  # 200 rollouts x 8 optimizer steps

# causes returned by this module's verdict functions (beside rlvr_lib.verdicts.REASONS)
REASONS = {
    "inside_margin": "the interval lies inside the equivalence margin: the statement holds to within it",
    "outside_margin": "the interval lies entirely beyond the equivalence margin",
    "straddles_margin": "the interval reaches across a bound of the equivalence margin",
    "above_threshold": "the interval lies above the threshold",
    "below_threshold": "the interval lies below the threshold",
    "straddles_threshold": "the interval contains the threshold",
    "rate_out_of_range": "the rate asked about lies outside the measured range of rates",
    "signs_as_predicted": "every sign measured agrees with the prediction, and both predicted signs were measured",
    "sign_against": "a measured sign contradicts the prediction",
    "one_sign_measured": "no sign contradicts the prediction, but only one of the predicted signs was measured",
    "no_sign_measured": "no interval excludes zero",
}

# sizes by profile (rollouts per trajectory; the pilot chooses n_trajectories and n_batches within [min, max])
PROFILES = {
    "full": dict(
        n_prefix_prompts=32,
        traj_rollouts=4,
        pilot_rollouts=2,
        min_trajectories=6,
        max_trajectories=8,
        curve_trajectories=3,
        branch_rollouts=(2,),
        pilot_batches=6,
        min_batches=6,
        max_batches=12,
        state_rollout=4,
        tab_seeds=64,
        tab_iterations=32,
        tab_curve_iterations=16,
    ),
    "smoke": dict(
        n_prefix_prompts=4,
        traj_rollouts=2,
        pilot_rollouts=2,
        min_trajectories=2,
        max_trajectories=2,
        curve_trajectories=2,
        branch_rollouts=(0,),
        pilot_batches=2,
        min_batches=2,
        max_batches=3,
        state_rollout=1,
        tab_seeds=8,
        tab_iterations=4,
        tab_curve_iterations=2,
        # a smoke run checks that the page runs: short rollouts, short completions, one branch rate, and no native
        # replica (a second process's imports alone would take most of the smoke budget; the suite runs the
        # replica on its own, tests/test_probes.py)
        overrides=dict(
            steps_per_rollout=2,
            max_new_tokens=16,
            lr_grid=[3e-4],
            G=4,
            sgd_lrs=[1e-4, 1e-3],
            pilot_seeds=[1000, 1001],
            native_check=False,
        ),
    ),
}
# the tabular twin of the trajectories: a skewed 10-armed bandit (one action at 0.9), G = 16, mu inner steps
TAB = dict(K=10, L=1, G=16, eta=0.5, init="skewed", q=0.9)
TAB_ETAS = (0.05, 0.1, 0.125, 0.15, 0.2, 0.5, 1.0)  # tabular step sizes of the clip-rate curves (logit units)
RATE_TOLERANCE = 1.5  # a curve is read "at" a clip rate at a step size whose rate lies within this factor of it


# ---------------------------------------------------------------------------------------------------------
# the probe's policy, prefixes and batches


def _rms_norm_float64(self, hidden_states):
    """RMS norm computed in the input's dtype (the model's own code rounds to float32 first)."""
    variance = hidden_states.pow(2).mean(-1, keepdim=True)
    return self.weight * (hidden_states * torch.rsqrt(variance + self.variance_epsilon))


def load_probe_model(base_path, dtype: str = "float64"):
    """The base in `dtype` and its tokenizer. In float64 every RMS norm is made to compute in float64: the model's
    own norm rounds the hidden state to float32, which puts a parameter-dependent rounding floor of about 1e-9
    nats under the fixed-prefix entropy and bends the even part's log-log slope at small steps."""
    from rlvr_lib.testbed.models import load_policy

    model, tok = load_policy(base_path, progress=False)
    model = model.to(getattr(torch, dtype)).eval()
    if dtype == "float64":
        for m in model.modules():
            if type(m).__name__.endswith("RMSNorm") and hasattr(m, "variance_epsilon"):
                m.forward = types.MethodType(_rms_norm_float64, m)
    return model, tok


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


def fixed_prefix_entropy(model, tok, prefixes: Rows) -> float:
    """H(theta): the mean of :func:`position_entropies`."""
    return position_entropies(model, tok, prefixes).mean().item()


def position_distributions(model, tok, prefixes: Rows) -> tuple[np.ndarray, np.ndarray]:
    """Next-token distributions (N, V) at the completion positions, and whether each is a completion's first."""
    logits, _ = left_padded_logits(model, prefixes.rows, tok.pad_token_id)
    m = completion_mask(prefixes)
    first = torch.zeros_like(m)
    width = m.shape[1] + 1
    for i, (r, p) in enumerate(zip(prefixes.rows, prefixes.n_prompt)):
        first[i, width - len(r) + p - 1] = True
    probs = torch.softmax(logits[:, :-1], -1)[m]
    return probs.double().numpy(), first[m].numpy()


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


def grpo_step(
    model, tok, opt, batch: Rows, advantages: torch.Tensor, rule: ClipRule, max_grad_norm: float | None = None
) -> dict:
    """One optimizer step on the token-mean clipped surrogate of `batch` (gradient norm clipped to `max_grad_norm`
    first, as the trainer does, unless None). Returns the step's clip statistics: the fractions of tokens clipped
    by `rule` (``clip_low``, ``clip_high``), the counts of tokens that the rule's widths WOULD clip on either side
    whatever the rule (``would_low``, ``would_high``: they tell which rules are the same step), abs(N_raw),
    abs(C+) and the ratio range."""
    opt.zero_grad(set_to_none=True)
    logp, _, mask = token_logps(model, tok, batch, grad=True)
    ratio = torch.exp(logp - batch.old_logp.to(logp.dtype))
    A = advantages.to(logp.dtype)[:, None]
    out = clip_objective(rule, ratio, A, mask)
    loss = -(out.objective * mask).sum() / mask.sum()
    loss.backward()
    if max_grad_norm is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    opt.step()
    with torch.no_grad():
        b = clipping_bias(out, ratio.detach(), A, mask)
        n = mask.sum().item()
        r = ratio.detach()
        would_high = ((r > 1 + rule.high) & (A > 0) & mask).sum().item()
        would_low = ((r < 1 - rule.eps_low) & (A < 0) & mask).sum().item()
        rm = r[mask]
    return {
        "clip_low": (out.low & mask).sum().item() / n,
        "clip_high": (out.high & mask).sum().item() / n,
        "would_low": int(would_low),
        "would_high": int(would_high),
        "tokens": int(n),
        "n_raw": float(b["n_raw"]),
        "c_plus": float(b["c_plus"]),
        "ratio_max": rm.max().item(),
        "ratio_min": rm.min().item(),
    }


def snapshot(model, opt=None):
    """Copies of the parameters and (if given) of the optimizer's per-parameter state and learning rates: what a
    training step changes (buffers do not change). Cheaper than copying state dicts, which matters at several
    restores per probed step."""
    params = [p.detach().clone() for p in model.parameters()]
    if opt is None:
        return params, None
    state = [
        {k: (v.clone() if torch.is_tensor(v) else v) for k, v in opt.state[p].items()} if p in opt.state else None
        for p in model.parameters()
    ]
    return params, (state, [g["lr"] for g in opt.param_groups])


def restore(model, state, opt=None):
    """Back to a snapshot, copying into the live tensors (the snapshot itself is never handed out, so the next
    step cannot update it in place)."""
    params, ostate = state
    with torch.no_grad():
        for p, s in zip(model.parameters(), params):
            p.copy_(s)
    if opt is None or ostate is None:
        return
    saved, lrs = ostate
    for p, s in zip(model.parameters(), saved):
        if s is None:
            opt.state.pop(p, None)
            continue
        live = opt.state.get(p)
        if live is None or set(live) != set(s):
            opt.state[p] = {k: (v.clone() if torch.is_tensor(v) else v) for k, v in s.items()}
            continue
        for k, v in s.items():
            if torch.is_tensor(v):
                live[k].copy_(v)
            else:
                live[k] = v
    for g, lr in zip(opt.param_groups, lrs):
        g["lr"] = lr


def make_optimizer(name: str, model, lr: float):
    """plain SGD, or AdamW as the trainer uses it (betas 0.9 / 0.999, eps 1e-8, no weight decay)."""
    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr)
    return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)


def set_lr(opt, lr: float) -> None:
    for g in opt.param_groups:
        g["lr"] = lr


def minibatch(batch: Rows, A: torch.Tensor, j: int, size: int) -> tuple[Rows, torch.Tensor]:
    """The j-th minibatch of `size` rows of a rollout batch (whole groups), padded to its own width."""
    s = slice(j * size, (j + 1) * size)
    rows, n_prompt = batch.rows[s], batch.n_prompt[s]
    width, w = max(map(len, batch.rows)), max(map(len, rows))
    old = batch.old_logp[s][:, width - w :]  # drop the columns that are padding for every row of the minibatch
    return Rows(rows, n_prompt, old), A[s]


# ---------------------------------------------------------------------------------------------------------
# probe 1: antithetic one-step updates (C2, C5)


def position_classes(probs: np.ndarray, first: np.ndarray, deterministic: float = 0.99) -> np.ndarray:
    """'style choice' (a completion's first position: the style tag), 'near-deterministic' (largest probability
    above `deterministic`) or 'uncertain', per position."""
    top = probs.max(-1)
    return np.where(first, "style choice", np.where(top > deterministic, "near-deterministic", "uncertain"))


def closed_form_coefficients(probs: np.ndarray) -> np.ndarray:
    """The tabular closed form c(pi) of C5 (reconstructed) at each position's next-token distribution: the
    second-order entropy change per unit step under i.i.d. zero-mean logit noise. An APPROXIMATION on the LM: a
    network's update does not move the logits independently across tokens."""
    return np.array([entropy_change_coefficient(p) for p in probs])


def surrogate_gradient(model, tok, batch: Rows, advantages: torch.Tensor) -> list[torch.Tensor]:
    """Gradient of the unclipped token-mean surrogate's LOSS at the current parameters (on-policy: ratio 1)."""
    model.zero_grad(set_to_none=True)
    logp, _, mask = token_logps(model, tok, batch, grad=True)
    ratio = torch.exp(logp - logp.detach())  # == 1, with the gradient of log pi
    loss = -(ratio * advantages.to(logp.dtype)[:, None] * mask).sum() / mask.sum()
    loss.backward()
    grads = [p.grad.detach().clone() for p in model.parameters()]
    model.zero_grad(set_to_none=True)
    return grads


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
    lrs: list[float],
    max_new_tokens: int,
    seed: int,
    sampler=None,
    progress=None,
) -> pd.DataFrame:
    """For each of `n_batches` rollout batches from the current state and each plain-SGD step size in `lrs`, the
    entropy change of one step with rewards r and of one with 1 - r. A plain-SGD step from theta is theta - lr g
    and the loss is linear in the advantages, so the pair is theta -+ lr g: one gradient per batch serves every
    step size and both signs. Rows: state, batch, lr, even, odd (means over positions), and the even part per
    position class (columns ``even/<class>``). Every step size sees the same batches and rewards. Completions are
    sampled by `sampler` (e.g. a float32 copy at the same parameters; default: `model`)."""
    params = list(model.parameters())
    theta0 = [p.detach().clone() for p in params]
    h0 = position_entropies(model, tok, prefixes)
    probs, first = position_distributions(model, tok, prefixes)
    classes = position_classes(probs, first)
    gen = np.random.default_rng([seed, 0xA471])
    rows = []
    for b in range(n_batches):
        idx = gen.choice(len(prompts), prompts_per_batch, replace=False)
        batch = sample_rows(sampler or model, tok, [prompts[i] for i in idx], G, max_new_tokens, seed * 100_003 + b)
        _, A = random_advantages(prompts_per_batch, G, gen)
        g = surrogate_gradient(model, tok, batch, A)
        for lr in lrs:
            dh = {}
            for sign in (1.0, -1.0):  # advantages sign * A: the SGD step is -lr * sign * g
                with torch.no_grad():
                    for p, t0, gg in zip(params, theta0, g):
                        p.copy_(t0 - sign * lr * gg)
                dh[sign] = (position_entropies(model, tok, prefixes) - h0).numpy()
            even, odd = 0.5 * (dh[1.0] + dh[-1.0]), 0.5 * (dh[1.0] - dh[-1.0])
            row = {"state": state_name, "batch": b, "lr": lr, "even": even.mean(), "odd": odd.mean()}
            row["abs_odd"] = np.abs(odd).mean()
            row.update({f"even/{c}": even[classes == c].mean() for c in np.unique(classes)})
            rows.append(row)
        if progress is not None:
            progress.update(1)
    with torch.no_grad():
        for p, t0 in zip(params, theta0):
            p.copy_(t0)
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


# ---------------------------------------------------------------------------------------------------------
# probe 2: counterfactual clip steps along a trajectory, with learning-rate branches (C3, C6, Park et al.)


def _rule_class(rule: str, would_high: int, would_low: int) -> frozenset:
    """The sides a rule actually clips at this step: rules with the same sides take the same step."""
    sides = {"none": set(), "upper_only": {"high"}, "lower_only": {"low"}, "symmetric": {"high", "low"}}[rule]
    active = {s for s, n in (("high", would_high), ("low", would_low)) if n > 0}
    return frozenset(sides & active)


def counterfactual_step(model, tok, opt, mb, A, prefixes, h0: float, *, eps, max_grad_norm, rules, follow) -> list:
    """All `rules` applied to minibatch `mb` from the current parameters and optimizer state; the model and the
    optimizer end in the state after the `follow` rule's step. A rule whose widths clip nothing at this step takes
    exactly the unclipped step (and one that clips on one side only, the one-sided rule's step), so each distinct
    step is computed once. Returns one dict per rule: rule, dH, and the step's statistics."""
    state = snapshot(model, opt)
    st_none = grpo_step(model, tok, opt, mb, A, ClipRule("none", eps), max_grad_norm)
    wh, wl = st_none["would_high"], st_none["would_low"]
    cls = {r: _rule_class(r, wh, wl) for r in rules}
    done = {frozenset(): (fixed_prefix_entropy(model, tok, prefixes) - h0, st_none)}
    todo = [c for c in dict.fromkeys(cls[r] for r in rules) if c not in done and c != cls[follow]]
    if cls[follow] not in done:
        todo.append(cls[follow])  # the followed step last: its state is kept
    elif todo:
        todo.append(None)  # the followed step was the unclipped one, done first: back to it at the end
    kept = snapshot(model, opt) if todo and todo[-1] is None else None
    for c in todo:
        if c is None:
            restore(model, kept, opt)
            continue
        name = follow if c == cls[follow] else next(r for r in rules if cls[r] == c)
        restore(model, state, opt)
        st = grpo_step(model, tok, opt, mb, A, ClipRule(name, eps), max_grad_norm)
        done[c] = (fixed_prefix_entropy(model, tok, prefixes) - h0, st)
    return [{"rule": r, "dH": done[cls[r]][0], **done[cls[r]][1]} for r in rules]


def branched_trajectory(
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
    max_grad_norm: float | None,
    max_new_tokens: int,
    seed: int,
    branch_lrs: tuple = (),
    branch_rollouts: tuple = (),
    keep_state_after: int | None = None,
    rules=RULES,
    follow: str = "symmetric",
    progress=None,
):
    """A random-reward trajectory with AdamW at `lr`, `steps_per_rollout` optimizer steps per rollout batch (all
    but the first off-policy), following `follow`, with every clip rule applied counterfactually at every step
    (:func:`counterfactual_step`). At the rollouts in `branch_rollouts`, the same rollout batch is first run at
    each learning rate in `branch_lrs` from the rollout's starting parameters and optimizer state (a branch, also
    following `follow`, then discarded). Returns (rows, kept state): rows with columns seed, rollout, step, depth
    (position in the rollout), lr, branch (True off the followed path), rule, dH and the step statistics; the
    kept state is the model's state dict after `keep_state_after` rollouts (None if not asked)."""
    opt = make_optimizer("adam", model, lr)
    gen = np.random.default_rng([seed, 0xC1F])
    out, kept = [], None
    h = fixed_prefix_entropy(model, tok, prefixes)
    kw = dict(eps=eps, max_grad_norm=max_grad_norm, rules=rules, follow=follow)
    for k in range(rollouts):
        if keep_state_after == k:
            kept = copy.deepcopy(model.state_dict())
        idx = gen.choice(len(prompts), prompts_per_step * steps_per_rollout, replace=False)
        batch = rollout(model, tok, [prompts[i] for i in idx], G, max_new_tokens, seed * 1_000_003 + k)
        _, A = random_advantages(len(idx), G, gen)
        start = snapshot(model, opt) if k in branch_rollouts else None
        for run_lr in [x for x in branch_lrs if x != lr] if start else []:
            set_lr(opt, run_lr)
            hb = h
            for j in range(steps_per_rollout):
                mb, Aj = minibatch(batch, A, j, prompts_per_step * G)
                res = counterfactual_step(model, tok, opt, mb, Aj, prefixes, hb, **kw)
                hb += next(x["dH"] for x in res if x["rule"] == follow)
                step = k * steps_per_rollout + j + 1
                out += [
                    {"seed": seed, "rollout": k, "step": step, "depth": j, "lr": run_lr, "branch": True, **x}
                    for x in res
                ]
            restore(model, start, opt)
        set_lr(opt, lr)
        for j in range(steps_per_rollout):
            mb, Aj = minibatch(batch, A, j, prompts_per_step * G)
            res = counterfactual_step(model, tok, opt, mb, Aj, prefixes, h, **kw)
            h += next(x["dH"] for x in res if x["rule"] == follow)
            step = k * steps_per_rollout + j + 1
            out += [{"seed": seed, "rollout": k, "step": step, "depth": j, "lr": lr, "branch": False, **x} for x in res]
            if progress is not None:
                progress.update(1)
    if keep_state_after == rollouts:
        kept = copy.deepcopy(model.state_dict())
    return pd.DataFrame(out), kept


STEP_STATS = ("clip_high", "clip_low", "n_raw", "c_plus", "ratio_max", "ratio_min", "tokens")


def clip_effects(traj: pd.DataFrame) -> pd.DataFrame:
    """One row per (seed, lr, branch, step): each rule's entropy change minus that of no clipping (``d_<rule>``),
    the unclipped change ``dH_none``, the followed (symmetric) step's own change ``dH_symmetric``, and the
    symmetric rule's step statistics. Tables without ``lr`` / ``branch`` columns (the tabular probe's) get
    0 / False."""
    traj = traj.copy()
    if "lr" not in traj:
        traj["lr"] = 0.0  # one step size: a key that groupby keeps
    if "branch" not in traj:
        traj["branch"] = False
    if "rollout" not in traj:
        traj["rollout"] = traj["step"]
    keys = ["seed", "lr", "branch", "rollout", "step", "depth"]
    wide = traj.pivot_table(index=keys, columns="rule", values="dH", dropna=False).reset_index()
    wide = wide.dropna(subset=["none"])
    for r in RULES[1:]:
        if r in wide:
            wide[f"d_{r}"] = wide[r] - wide["none"]
    if "symmetric" in wide:
        wide["dH_symmetric"] = wide["symmetric"]
    wide = wide.rename(columns={"none": "dH_none"}).drop(columns=[r for r in RULES[1:] if r in wide])
    sym = traj[traj.rule == "symmetric"].set_index(keys)
    idx = pd.MultiIndex.from_frame(wide[keys])
    for c in STEP_STATS:
        if c in sym:
            wide[c] = sym[c].reindex(idx).to_numpy()
    return wide


def followed(effects: pd.DataFrame) -> pd.DataFrame:
    """The steps on the followed path (no branches)."""
    return effects[~effects.branch.astype(bool)]


# ---------------------------------------------------------------------------------------------------------
# the same counterfactual step on the tabular simulator


def tabular_counterfactual(cfg, eps: float, rules=RULES, follow: str = "symmetric") -> pd.DataFrame:
    """Counterfactual clip steps on the tabular simulator: at each GRPO iteration, the iteration (mu inner steps
    on one group) from the same logits and the same random draws under each rule; the trajectory follows
    `follow`. Rows in the trajectory probe's columns, so that :func:`clip_effects` reads both: seed, step (the
    iteration), depth (0), rule, dH (mean over positions, per ITERATION), clip_high, clip_low (per inner step),
    n_raw, c_plus (per inner step), ratio_max, ratio_min (NaN: the simulator records only the largest ratio),
    opt_steps (optimizer steps so far: iteration x mu)."""
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
                    "opt_steps": t * cfg.mu,
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


def tabular_config(profile: str, mu: int, seed: int, **overrides):
    """The tabular twin of the trajectories (:data:`TAB`) with `mu` inner steps per iteration."""
    from rlvr_lib.theory.simulator import SimConfig

    P = PROFILES[profile]
    kw = dict(TAB, mu=mu, iterations=P["tab_iterations"], seeds=P["tab_seeds"], seed=seed)
    return SimConfig(**{**kw, **overrides})


def tabular_curve(cfg, etas, eps: float) -> pd.DataFrame:
    """Counterfactual clip steps of the tabular twin at each logit step size in `etas`: the effects table of each
    (:func:`clip_effects`, per iteration), with column ``lr`` = eta. Per-step conversion happens in
    :func:`curve_table`."""
    from dataclasses import replace

    out = [clip_effects(tabular_counterfactual(replace(cfg, eta=eta), eps)).assign(lr=eta) for eta in etas]
    return pd.concat(out, ignore_index=True)


# ---------------------------------------------------------------------------------------------------------
# statistics shared by the verdicts, tables and figures


def per_unit(effects: pd.DataFrame, col: str) -> np.ndarray:
    """Each trajectory's mean of `col` over its steps: the unit of replication of a trajectory statistic."""
    return effects.groupby("seed")[col].mean().to_numpy()


def unclipped_spread(effects: pd.DataFrame, block: int) -> float:
    """The unclipped change's spread per step: the standard deviation of its sums over consecutive blocks of
    `block` steps (a rollout batch, whose steps share data), pooled within trajectories and divided by
    sqrt(block), so that correlation within a block is kept in the spread. NaN with fewer than two blocks."""
    e = effects.sort_values(["seed", "step"]).copy()
    e["block"] = (e.step - 1) // block
    sums = e.groupby(["seed", "block"]).dH_none.agg(["sum", "size"]).reset_index()
    sums = sums[sums["size"] == block]
    var = sums.groupby("seed")["sum"].var(ddof=1).dropna()
    return float(np.sqrt(var.mean() / block)) if len(var) else float("nan")


def drift_stats(effects: pd.DataFrame, block: int, steps_per_unit: int = 1) -> dict:
    """Per OPTIMIZER step (a row of `effects` is `steps_per_unit` optimizer steps: 1 on the LM, mu for a tabular
    GRPO iteration): clipping's drift mu_clip (symmetric minus none) with its 95% interval over trajectories, the
    unclipped step's own drift mu_raw and spread sigma per sqrt(row) (:func:`unclipped_spread` over blocks of
    `block` rows), and the followed trajectory's own change. Means are converted to per optimizer step;
    sigma stays per row (its conversion would assume how the steps inside a row correlate)."""
    mc, hc, n = mean_ci(per_unit(effects, "d_symmetric"))
    mr, hr, _ = mean_ci(per_unit(effects, "dH_none"))
    mf, hf, _ = mean_ci(per_unit(effects, "dH_symmetric"))
    c = effects[effects.c_plus > 0]
    return {
        "mu_clip": mc / steps_per_unit,
        "mu_clip_ci": hc / steps_per_unit,
        "mu_raw": mr / steps_per_unit,
        "mu_raw_ci": hr / steps_per_unit,
        "mu_followed": mf / steps_per_unit,
        "mu_followed_ci": hf / steps_per_unit,
        "sigma_row": unclipped_spread(effects, block),
        "steps_per_row": steps_per_unit,
        "n_trajectories": n,
        "rows_per_trajectory": int(effects.groupby("seed").size().min()),
        "surrogate_ratio": float(c.n_raw.mean() / c.c_plus.mean()) if len(c) else math.inf,
        "upper_clip_rate": float(effects.clip_high.mean()),
        "lower_clip_rate": float(effects.clip_low.mean()),
    }


def horizon_margin(d: dict, horizon: int, z: float = Z975) -> dict:
    """Clipping's cumulative contribution over `horizon` OPTIMIZER steps, mu_clip T with its interval, and the
    margin m(T) = abs(mu_raw) T + z sigma sqrt(T / steps_per_row) measured from the unclipped trajectory (its
    drift over T plus its spread's 95% reach), in nats."""
    T = horizon
    rows = T / d["steps_per_row"]
    m = abs(d["mu_raw"]) * T + z * d["sigma_row"] * math.sqrt(rows)
    return {"T": T, "rows": rows, "cum": d["mu_clip"] * T, "cum_ci": d["mu_clip_ci"] * T, "margin": m}


# ---------------------------------------------------------------------------------------------------------
# decision helpers


def _units(k: int, unit: str, cap: int = 10_000) -> str:
    return f"about {k} {unit}" if k < cap else f"more than {cap:,} {unit}"


def units_note(mean: float, half: float, n: int, margin: float, unit: str, boundary: float | None = None) -> str:
    """The two counts an undecided row reports, at the measured spread: the units to DECIDE at the measured
    effect (:func:`rlvr_lib.stats.seeds_to_decide`; with `boundary`, the distance that must be cleared is the
    effect's distance to that boundary, e.g. an equivalence margin or a threshold) and the units for a
    half-width within `margin` (:func:`rlvr_lib.stats.seeds_needed`; NaN margin: the rule has none)."""
    if boundary is None:
        k_decide = seeds_to_decide(mean, half, n, margin)
    else:
        k_decide = seeds_to_decide(abs(mean) - boundary, half, n, 0.0)
    text = f"deciding at the measured effect and spread would need {_units(k_decide, unit)} in all"
    if math.isfinite(margin) and margin > 0:
        text += f"; a half-width within the margin {margin:.2g}, {_units(seeds_needed(half, n, margin), unit)}"
    else:
        text += " (a threshold rule: it has no margin to fit a half-width in)"
    return text


def decide_in_units(mean: float, half: float, n: int, margin: float, expect: int, unit: str, **kw) -> Decision:
    """:func:`rlvr_lib.verdicts.decide_effect`, with an undecided row's counts given in `unit` (trajectories,
    batches) instead of seeds."""
    d = decide_effect(mean, half, n, margin, expect, **kw)
    if d.reason == "undecided":
        return Decision(d.verdict, units_note(mean, half, n, margin, unit), d.reason)
    return d


def equivalence(mean: float, half: float, n: int, margin: float, unit: str) -> Decision:
    """Equivalence test of an effect `mean` +- `half` (95%, `n` units) against +-`margin`: *supported* when the
    interval lies inside (-margin, margin), *not supported* when it lies entirely beyond (at or past +margin, or
    at or below -margin), *inconclusive* otherwise, with the units a decision would need."""
    lo, hi = mean - half, mean + half
    if not (math.isfinite(lo) and math.isfinite(hi) and math.isfinite(margin)):
        return Decision("inconclusive", f"no interval (n = {n} {unit})", "no_interval")
    if -margin < lo and hi < margin:
        return Decision("supported", f"the 95% interval lies inside +-{margin:.2g}", "inside_margin")
    if lo >= margin or hi <= -margin:
        return Decision("not supported", f"the 95% interval lies entirely beyond +-{margin:.2g}", "outside_margin")
    note = units_note(mean, half, n, margin, unit, boundary=margin)
    return Decision("inconclusive", f"the 95% interval reaches across +-{margin:.2g}: {note}", "straddles_margin")


def threshold_test(mean: float, half: float, n: int, threshold: float, unit: str, what: str) -> Decision:
    """*supported* when the 95% interval lies above `threshold`, *not supported* when below, else inconclusive."""
    lo, hi = mean - half, mean + half
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return Decision("inconclusive", f"no interval (n = {n} {unit})", "no_interval")
    if lo > threshold:
        return Decision("supported", f"the 95% interval lies above {what}", "above_threshold")
    if hi < threshold:
        return Decision("not supported", f"the 95% interval lies below {what}", "below_threshold")
    note = units_note(mean - threshold, half, n, math.nan, unit, boundary=0.0)
    return Decision("inconclusive", f"the 95% interval contains {what}: {note}", "straddles_threshold")


def _ci(m: float, h: float, fmt: str = "+.2e") -> str:
    return f"{m:{fmt}} [{m - h:{fmt}}, {m + h:{fmt}}]"


# ---------------------------------------------------------------------------------------------------------
# verdicts


def per_batch_slopes(pairs: pd.DataFrame) -> np.ndarray:
    """Per (state, batch): the least-squares log-log slope of abs(even part) against the plain-SGD step size."""
    out = []
    for _, g in pairs.groupby(["state", "batch"]):
        g = g[g.even != 0]
        if g.lr.nunique() >= 2:
            out.append(np.polyfit(np.log(g.lr), np.log(np.abs(g.even)), 1)[0])
    return np.asarray(out)


def odd_per_step(pairs: pd.DataFrame) -> np.ndarray:
    """Per (state, batch): the odd (first-order) part per unit step size, odd / lr averaged over the step sizes."""
    return pairs.assign(u=pairs.odd / pairs.lr).groupby(["state", "batch"]).u.mean().to_numpy()


def c2_verdict(pairs: pd.DataFrame, slope_margin: float) -> Verdict:
    """C2 decided by what it claims: the systematic (even-order) part of the one-step entropy change is second
    order in the step size. The per-batch log-log slope of abs(even part) against the plain-SGD step size is
    tested for equivalence with 2 (:func:`equivalence`, margin `slope_margin`; unit: the rollout batch, all
    states pooled). The first-order (odd) part's mean being zero is reported as a check of the design (C1: the
    reward coin is symmetric and the pair negates the advantages exactly), not decided."""
    slopes = per_batch_slopes(pairs)
    m, h, n = mean_ci(slopes)
    dec = equivalence(m - 2.0, h, n, slope_margin, "batches")
    om, oh, _ = mean_ci(odd_per_step(pairs))
    oa = float((pairs.abs_odd / pairs.lr).mean())
    covers = "covers zero" if om - oh <= 0 <= om + oh else "EXCLUDES zero: the draws are not symmetric"
    lrs = ", ".join(f"{x:g}" for x in sorted(pairs.lr.unique()))
    return Verdict(
        "C2",
        dec.verdict,
        f"per-batch log-log slope of |even part| of the one-step entropy change against the plain-SGD step size "
        f"(lr {lrs}): {_ci(m, h, '.3f')} (n = {n} batches over {pairs.state.nunique()} states), margin "
        f"2 +- {slope_margin:g}: {dec.note}. Design check (C1), not the verdict: the first-order (odd) part per "
        f"unit step has mean {_ci(om, oh)} nats against a mean size of {oa:.2e}; its interval {covers}",
        LEVEL,
        statement="the systematic (even-order) part of the one-step entropy change under random rewards is second "
        "order in the step size (per-batch log-log slope 2 within the margin)",
        polarity=1,
        reason=dec.reason,
    )


def c5_verdict(pairs: pd.DataFrame, positions: pd.DataFrame, lr: float) -> Verdict:
    """C5, the sign by skewness: per state and position class, the even part at plain-SGD step size `lr` (mean and
    95% interval over batches) against the sign of the closed form c(pi) (reconstructed, evaluated on the LM's own
    next-token distributions: an approximation). *Supported* when no class's interval lies on the side opposite
    the prediction and classes of both predicted signs have intervals on their predicted side; *not supported*
    when some class's interval lies on the opposite side; inconclusive otherwise (reasons: this module's
    :data:`REASONS`)."""
    g = pairs[pairs.lr == lr]
    agree, against, undecided, lines = set(), [], [], []
    predicted_signs = set()
    for _, p in positions.iterrows():
        col = f"even/{p['class']}"
        vals = g[g.state == p.state][col].dropna() if col in g else pd.Series(dtype=float)
        if len(vals) < 2:
            continue
        m, h, n = mean_ci(vals)
        measured = 1 if m - h > 0 else -1 if m + h < 0 else 0
        predicted = int(np.sign(p.closed_form_c))
        predicted_signs.add(predicted)
        if measured == predicted:
            agree.add(predicted)
        elif measured:
            against.append(f"{p.state}/{p['class']}")
        else:
            undecided.append((m, h, n))
        lines.append(
            f"{p.state}, {p['class']} ({p.positions} positions, top probability {p.top_prob:.2f}): measured "
            f"{_ci(m, h, '+.1e')}, closed form c = {p.closed_form_c:+.3f}"
        )
    if against:
        verdict, reason, note = "not supported", "sign_against", "against the closed form's sign: " + ", ".join(against)
    elif agree and agree == predicted_signs and len(agree) == 2:
        verdict, reason, note = "supported", "signs_as_predicted", "every measured sign as predicted, both signs seen"
    else:
        reason = "one_sign_measured" if agree else "no_sign_measured"
        need = [seeds_to_decide(m, h, n, 0.0) for m, h, n in undecided]
        note = REASONS[reason]
        if need:
            note += f"; the undecided classes' signs would need {_units(min(need), 'batches')} at the least"
        note += " (a sign rule: it has no margin)"
        verdict = "inconclusive"
    return Verdict(
        "C5",
        verdict,
        f"even part of the one-step entropy change by position class at plain-SGD step size {lr:g} (n = "
        f"{g.batch.nunique()} batches per state) against the sign of the closed form c(pi), reconstructed and "
        f"evaluated on the LM's own next-token distributions (an approximation): {note}. " + "; ".join(lines),
        LEVEL,
        statement="the sign of the second-order entropy change depends on the policy's skewness as the closed form "
        "predicts: flat position classes lose entropy, skewed ones gain it",
        polarity=1,
        reason=reason,
    )


def c6_verdicts(
    effects: pd.DataFrame,
    margin: float,
    clip_floor: float,
    level: str = LEVEL,
    relative: bool = True,
    steps_per_row: int = 1,
):
    """C6 per optimizer step along the followed random-reward trajectories, the trajectory as unit (its mean over
    its steps; a row of `effects` is `steps_per_row` optimizer steps: 1 on the LM, mu for a tabular GRPO
    iteration). Rows:

    * "C6" (relative, +1): symmetric clipping's own change (symmetric minus none) is below zero;
    * "C6 (absolute)" (+1): entropy falls along the clipped trajectory (the followed symmetric step's own change,
      dH_none + d_symmetric);
    * Park et al.'s two one-sided rules (0: they bear on the explanation): upper-only minus none below zero,
      lower-only minus none above zero.

    Each decided by :func:`decide_in_units` against `margin` (nats per optimizer step). The relative rows need
    clipping to bind: a symmetric clipped share below `clip_floor` makes them not testable here. `relative=False`
    gives the absolute row only (the theory lab owns the tabular relative rows)."""
    k = steps_per_row
    share = float((effects.clip_high + effects.clip_low).mean())
    checks = (
        [] if share >= clip_floor else [f"clipped share {share:.2%} under the symmetric rule, below {clip_floor:.2%}"]
    )
    rates = (
        f"upper-clip rate {effects.clip_high.mean():.2%}, lower-clip rate {effects.clip_low.mean():.2%} of tokens "
        f"per optimizer step; n = {effects.seed.nunique()} trajectories of {effects.groupby('seed').size().min() * k} "
        f"optimizer steps; margin {margin:.0e} nats per optimizer step"
    )

    def row(claim, col, expect, statement, polarity, what, check=True):
        m, h, n = mean_ci(per_unit(effects, col) / k)
        d = decide_in_units(m, h, n, margin, expect, "trajectories", failed_checks=checks if check else ())
        return Verdict(
            claim,
            d.verdict,
            f"{what}: {_ci(m, h)} nats per optimizer step: {d.note}; {rates}",
            level,
            statement=statement,
            polarity=polarity,
            reason=d.reason,
        )

    absolute = row(
        "C6 (absolute)",
        "dH_symmetric",
        -1,
        "entropy falls along the clipped random-reward trajectory",
        1,
        "entropy change per step of the followed trajectory (symmetric clipping)",
        check=False,
    )
    if not relative:
        return [absolute]
    return [
        row(
            "C6",
            "d_symmetric",
            -1,
            "symmetric clipping lowers entropy relative to no clipping under random rewards",
            1,
            "entropy change per step, symmetric clip minus no clip",
        ),
        absolute,
        row(
            "C6 (Park et al.: upper clip lowers entropy)",
            "d_upper_only",
            -1,
            "upper-only clipping lowers entropy relative to no clipping",
            0,
            "entropy change per step, upper-only clip minus no clip",
        ),
        row(
            "C6 (Park et al.: lower clip raises entropy)",
            "d_lower_only",
            1,
            "lower-only clipping raises entropy relative to no clipping",
            0,
            "entropy change per step, lower-only clip minus no clip",
        ),
    ]


def c3_over_training_verdict(d: dict, horizon: int, label: str, level: str = LEVEL, measured_steps: int = 0) -> Verdict:
    """C3 "negligible over training" at a horizon of `horizon` OPTIMIZER steps, decided like an equivalence test:
    clipping's cumulative entropy contribution mu_clip T (its 95% interval over trajectories, times T) against the
    margin m(T) = abs(mu_raw) T + z sigma sqrt(T) measured from the unclipped step's own change along the same
    trajectories (:func:`horizon_margin`). Supported when the interval lies inside (-m, m), not supported when it
    lies entirely beyond, inconclusive otherwise (with the trajectories a decision would need). `label` names the
    horizon (e.g. the book's tiny-LM runs); `measured_steps` > 0 and below `horizon` marks an extrapolation."""
    hm = horizon_margin(d, horizon)
    dec = equivalence(hm["cum"], hm["cum_ci"], d["n_trajectories"], hm["margin"], "trajectories")
    k = d["steps_per_row"]
    unit = "optimizer step" if k == 1 else f"optimizer step (a GRPO iteration is {k} optimizer steps)"
    rows = "" if k == 1 else f" = {hm['rows']:g} GRPO iterations"
    extrap = (
        f"; extrapolated from {measured_steps} measured optimizer steps per trajectory, assuming the per-step "
        "drift and spread stay as measured"
        if 0 < measured_steps < horizon
        else ""
    )
    return Verdict(
        f"C3 (negligible over {horizon} optimizer steps)",
        dec.verdict,
        f"horizon T = {horizon} optimizer steps{rows} ({label}){extrap}. Clipping's drift (symmetric minus none) "
        f"{_ci(d['mu_clip'], d['mu_clip_ci'])} nats per {unit} (n = {d['n_trajectories']} trajectories); the "
        f"unclipped step's own drift {d['mu_raw']:+.2e} nats per optimizer step and spread {d['sigma_row']:.2e} "
        f"per sqrt({'step' if k == 1 else 'iteration'}). Clipping's cumulative contribution over T: "
        f"{_ci(hm['cum'], hm['cum_ci'], '+.3f')} nats against the unclipped trajectory's own change over T, "
        f"m(T) = |drift| T + {Z975:.2f} spread sqrt(T) = {hm['margin']:.3f} nats: {dec.note}",
        level,
        statement=f"clipping's cumulative entropy contribution over {horizon} optimizer steps is negligible next to "
        "the unclipped trajectory's own change",
        polarity=1,
        reason=dec.reason,
    )


def curve_units(effects: pd.DataFrame, steps_per_row: int = 1) -> pd.DataFrame:
    """Per trajectory (seed) and learning rate: the upper and lower clip rates (per optimizer step, symmetric
    rule), E abs(N_raw) / E abs(C+) over its steps (inf where nothing was upper-clipped), and clipping's per-step
    entropy effects (d_upper_only, d_lower_only, d_symmetric), from every step at that rate (branches and the
    followed path). A row is `steps_per_row` optimizer steps (a tabular GRPO iteration: mu); effects are
    converted to per optimizer step."""
    k = steps_per_row
    rows = []
    for (s, lr), g in effects.groupby(["seed", "lr"]):
        cp = g.c_plus.mean()
        rows.append(
            {
                "seed": s,
                "lr": lr,
                "upper_rate": g.clip_high.mean(),
                "lower_rate": g.clip_low.mean(),
                "ratio": g.n_raw.mean() / cp if cp > 0 else math.inf,
                "d_upper": g.d_upper_only.mean() / k,
                "d_lower": g.d_lower_only.mean() / k,
                "d_symmetric": g.d_symmetric.mean() / k,
                "steps": len(g) * k,
            }
        )
    return pd.DataFrame(rows)


def curve_table(units: pd.DataFrame, level: str) -> pd.DataFrame:
    """Per learning rate: means and 95% intervals over trajectories of the clip rates and the per-step entropy
    effects, and the pooled ratio E abs(N_raw) / E abs(C+) (mean of the trajectories' finite ratios)."""
    rows = []
    for lr, g in units.groupby("lr"):
        row = {"level": level, "lr": lr, "n": len(g)}
        for c in ("upper_rate", "lower_rate", "d_upper", "d_lower", "d_symmetric"):
            row[c], row[f"{c}_ci"], _ = mean_ci(g[c])
        fin = np.log10(g.ratio[np.isfinite(g.ratio) & (g.ratio > 0)])
        m, h, n = mean_ci(fin)
        row.update(ratio=10**m if n else math.inf, ratio_lo=10 ** (m - h), ratio_hi=10 ** (m + h), ratio_n=n)
        rows.append(row)
    return pd.DataFrame(rows)


def rate_point(units: pd.DataFrame, rate: float, rate_col: str = "upper_rate", tolerance: float = RATE_TOLERANCE):
    """The grid point (step size) at which to read a curve "at" clip rate `rate`: among the step sizes whose clip
    rate (mean over trajectories) lies within a factor `tolerance` of `rate`, the one measured on the most
    trajectories, ties broken by the nearer rate. None when no step size comes that close. A point rather than an
    interpolation: on the tiny LM the upper-clip rate hardly moves over a six-fold range of learning rates,
    so the curve is not a function of the rate there."""
    g = units.groupby("lr").agg(rate=(rate_col, "mean"), n=("seed", "nunique")).reset_index()
    g = g[g.rate > 0]
    g = g[np.abs(np.log(g.rate / rate)) <= math.log(tolerance)]
    if g.empty:
        return None
    g = g.assign(dist=np.abs(np.log(g.rate / rate))).sort_values(["n", "dist"], ascending=[False, True])
    return float(g.lr.iloc[0])


def at_rate(units: pd.DataFrame, rate: float, value: str, rate_col: str = "upper_rate", log_value: bool = True):
    """(step size chosen by :func:`rate_point`, its mean clip rate, per-trajectory values of `value` there, log10
    when `log_value`, non-finite ones dropped). (None, NaN, empty) when no step size is close enough."""
    lr = rate_point(units, rate, rate_col)
    if lr is None:
        return None, math.nan, np.array([])
    g = units[units.lr == lr]
    v = np.asarray(g[value], float)
    v = np.log10(v[(v > 0) & np.isfinite(v)]) if log_value else v[np.isfinite(v)]
    return lr, float(g[rate_col].mean()), v


def c3_small_verdict(units: pd.DataFrame, paper_rate: float, threshold: float, level: str = LEVEL) -> Verdict:
    """C3 "small per step" at the paper's upper-clip rate, read off the curve: E abs(N_raw) / E abs(C+) per
    trajectory at the step size whose upper-clip rate is the paper's (:func:`rate_point`), decided on log10
    against `threshold` (:func:`threshold_test`; unit: the trajectory). Not testable here when no step size's
    rate comes within :data:`RATE_TOLERANCE` of the paper's."""
    lr, r, logs = at_rate(units, paper_rate, "ratio")
    rates = units.groupby("lr").upper_rate.mean()
    grid = ", ".join(f"{k:g}: {v:.1e}" for k, v in rates.items())
    m, h, n = mean_ci(logs)
    if lr is None:
        dec = Decision(
            "not testable here",
            f"no step size's upper-clip rate comes within a factor {RATE_TOLERANCE:g} of {paper_rate:g}",
            "rate_out_of_range",
        )
        stat = "none"
    else:
        dec = threshold_test(m, h, n, math.log10(threshold), "trajectories", f"the threshold {threshold:g}")
        stat = (
            f"at step size {lr:g} (upper-clip rate {r:.2e}): {10**m:.1f} [{10 ** (m - h):.1f}, {10 ** (m + h):.1f}] "
            f"(geometric mean over n = {n} trajectories)"
        )
    return Verdict(
        "C3 (small per step)",
        dec.verdict,
        f"E|N_raw| / E|C+| per optimizer step at the paper's upper-clip rate {paper_rate:g}, read off the curve over "
        f"step sizes (upper-clip rate by step size: {grid}) {stat}, against {threshold:g}: {dec.note}. The paper's "
        f"bound of about {PAPER_C3_RATIO} at that rate is REPORTED (a bound at stated parameters, not a measurement)",
        level,
        statement=f"at the paper's clip rate the raw surrogate outweighs the upper-clipping correction more than "
        f"{threshold:g}-fold per step",
        polarity=1,
        reason=dec.reason,
    )


# ---------------------------------------------------------------------------------------------------------
# tables for the notebook


def margins_table(**margins) -> pd.DataFrame:
    """The smallest effects of interest and thresholds, as set in the parameters cell, with their meaning."""
    what = {
        "slope_margin": "C2: the per-batch log-log slope of |even part| must lie within 2 +- this",
        "c6_margin": "C6, C6 (absolute), Park et al.: smallest entropy change of interest, nats per optimizer step",
        "clip_floor": "C6 and Park et al. relative rows: share of tokens clipped for clipping to count as binding",
        "small_ratio": "C3 (small per step): E|N_raw| / E|C+| must exceed this at the paper's clip rate",
        "paper_clip_rate": "C3 (small per step): the upper-clip rate the paper reports (about 0.1% of tokens)",
        "horizon": "C3 (negligible over training): the book's tiny-LM runs, optimizer steps",
        "reference_horizon": f"C3 (negligible over training): {SHAO_REFERENCE}, 200 rollouts x 8 optimizer steps",
    }
    return pd.DataFrame([{"margin": k, "value": v, "what it is": what.get(k, "")} for k, v in margins.items()])


def pair_summary(pairs: pd.DataFrame) -> pd.DataFrame:
    """Per state and step size: mean and 95% interval over batches of the even and odd parts, and mean sizes."""
    rows = []
    for (state, lr), g in pairs.groupby(["state", "lr"]):
        for part in ("even", "odd"):
            m, h, n = mean_ci(g[part])
            rows.append(
                {
                    "state": state,
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
    g = pairs[pairs.lr == lr]
    rows = []
    for _, p in positions.iterrows():
        col = f"even/{p['class']}"
        vals = g[g.state == p.state][col].dropna() if col in g else pd.Series(dtype=float)
        m, h, n = mean_ci(vals)
        rows.append({**p.to_dict(), "measured_even": m, "ci": h, "n": n, "lr": lr})
    return pd.DataFrame(rows)


def envelope_table(effects: pd.DataFrame, level: str, block: int, steps_per_row: int = 1) -> pd.DataFrame:
    """Tidy curves for the drift figure, x in OPTIMIZER steps: the seed-mean cumulative clipping contribution and
    the cumulative unclipped change with 95% intervals over trajectories, and the margin m(t) = abs(mu_raw) t +
    z sigma sqrt(t) that :func:`c3_over_training_verdict` decides against (+- curves)."""
    from rlvr_lib.stats import seed_band

    k = steps_per_row
    e = effects.sort_values(["seed", "step"]).copy()
    e["cum_clip"] = e.groupby("seed").d_symmetric.cumsum()
    e["cum_raw"] = e.groupby("seed").dH_none.cumsum()
    e["opt_step"] = e.step * k
    long = pd.concat(
        [
            e.assign(quantity="cumulative clipping contribution", value=e.cum_clip),
            e.assign(quantity="cumulative unclipped change", value=e.cum_raw),
        ]
    )
    band = seed_band(long, ["quantity", "opt_step"])
    d = drift_stats(effects, block, k)
    t = np.sort(e.opt_step.unique()).astype(float)
    m = np.array([horizon_margin(d, x)["margin"] for x in t])
    env = [
        pd.DataFrame({"quantity": q, "opt_step": t, "mean": s * m, "ci": np.nan, "n": np.nan})
        for q, s in (("margin m(t) (+)", 1), ("margin m(t) (-)", -1))
    ]
    return pd.concat([band, *env], ignore_index=True).assign(level=level)
