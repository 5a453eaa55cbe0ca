"""The RLVR trainer: TRL's GRPOTrainer with a pluggable clip rule and clipping diagnostics - one class.

:class:`RLVRTrainer` is a `trl.GRPOTrainer`. The only change with respect to GRPOTrainer is
``_compute_loss``: the per-token objective is formed by :func:`rlvr_lib.clip.clip_objective` (the same
function the theory lab uses), and the clipping-bias decomposition and ratio statistics are logged beside
TRL's own metrics. Everything else - generation, rewards, group-normalised advantages, the old-policy
log-probs, KL, the entropy bonus, loss aggregation, optimisation - is TRL's. For every rule except
Clip-Cov the experiment configuration also expresses the rule through TRL's own ``epsilon`` /
``epsilon_high`` / ``delta``, and a parity test checks the loss against ``GRPOTrainer._compute_loss``.

Supported: loss types grpo, bnpo, dr_grpo, dapo; token-level importance sampling; beta >= 0; static
``entropy_coef``; vLLM importance-sampling correction. Other GRPOTrainer features (sequence-level
importance sampling, entropy masks, off-policy masks, adaptive entropy, router aux loss) are refused at
construction rather than silently ignored.

The run driver (callback, evaluation cache, :func:`~rlvr_lib.rl.driver.run_experiment`) lives in ``driver``.

Logged beyond TRL's metrics (names as in the book's glossary):
``clip/n_raw`` = ``abs(sum_t rho_t A_t)``, ``clip/c_plus`` = ``abs(sum over upper-clipped tokens of (clipped - raw))``,
``clip/bias_ratio`` = clip/n_raw / clip/c_plus (per step), ``ratio/max``, ``ratio/min``, ``ratio/mean``,
``ratio/q01``, ``ratio/q50``, ``ratio/q99`` over completion tokens, ``clip/cov_frac`` (Clip-Cov only).
"""

from __future__ import annotations

import torch
from trl import GRPOTrainer

from rlvr_lib.clip import ClipRule, clip_objective, clipping_bias
from rlvr_lib.rl.config import LOSS_TYPES


class RLVRTrainer(GRPOTrainer):
    """GRPOTrainer whose per-token objective comes from a :class:`~rlvr_lib.clip.ClipRule`."""

    def __init__(self, *args, clip_rule: ClipRule, **kwargs):
        super().__init__(*args, **kwargs)
        self.clip_rule = clip_rule
        refused = {
            "loss_type": self.loss_type not in LOSS_TYPES,
            "importance_sampling_level": self.importance_sampling_level != "token",
            "top_entropy_quantile": self.top_entropy_quantile < 1.0,
            "off_policy_mask_threshold": self.off_policy_mask_threshold is not None,
            "use_adaptive_entropy": self.use_adaptive_entropy,
            "router_aux_loss_coef (aux loss)": self.aux_loss_enabled,
        }
        bad = [k for k, v in refused.items() if v]
        if bad:
            raise ValueError(
                f"RLVRTrainer does not support {bad}; use loss_type in {LOSS_TYPES} with token-level "
                "importance sampling and a static entropy_coef"
            )
        self._clip_gen = torch.Generator().manual_seed(int(self.args.seed))

    def _compute_loss(self, model, inputs):
        prompt_ids, prompt_mask = inputs["prompt_ids"], inputs["prompt_mask"]
        completion_ids, completion_mask = inputs["completion_ids"], inputs["completion_mask"]
        input_ids = torch.cat([prompt_ids, completion_ids], dim=1)
        attention_mask = torch.cat([prompt_mask, completion_mask], dim=1)
        mask = completion_mask if "tool_mask" not in inputs else completion_mask * inputs["tool_mask"]
        per_token_logps, entropies, _ = self._get_per_token_logps_and_entropies(
            model, input_ids, attention_mask, completion_ids.size(1), compute_entropy=True
        )  # (B, T) each

        advantages = inputs["advantages"]
        if advantages.dim() == 1:
            advantages = advantages.unsqueeze(1)  # (B, 1)
        old = inputs.get("old_per_token_logps")
        old = per_token_logps.detach() if old is None else old  # on-policy: ratio == 1 exactly
        ratio = torch.exp(per_token_logps - old)  # (B, T)

        if self.beta != 0.0:
            ref = inputs["ref_per_token_logps"]
            per_token_kl = torch.exp(ref - per_token_logps) - (ref - per_token_logps) - 1
            if self.args.use_bias_correction_kl:
                per_token_kl = per_token_kl * ratio

        out = clip_objective(self.clip_rule, ratio, advantages, mask, per_token_logps, self._clip_gen)
        per_token_loss = -out.objective
        if self.use_vllm and self.vllm_importance_sampling_correction:
            per_token_loss = per_token_loss * inputs["importance_sampling_ratio"]
        if self.beta != 0.0:
            per_token_loss = per_token_loss + self.beta * per_token_kl

        mode = "train" if self.model.training else "eval"
        accum = self.current_gradient_accumulation_steps if mode == "train" else 1.0
        masked = per_token_loss * mask
        if self.loss_type == "grpo":
            loss = (masked.sum(-1) / mask.sum(-1).clamp(min=1.0)).mean() / accum
        elif self.loss_type == "bnpo":
            loss = masked.sum() / mask.sum().clamp(min=1.0) / accum
        elif self.loss_type == "dr_grpo":
            loss = masked.sum() / (per_token_loss.size(0) * self.max_completion_length) / accum
        else:  # dapo: token sum normalised by the tokens of one accumulation window
            normalizer = inputs["num_items_in_batch"].clamp(min=1.0) / self.accelerator.num_processes
            if mode == "train":
                normalizer = normalizer * self.current_gradient_accumulation_steps / self.args.steps_per_generation
            loss = masked.sum() / normalizer
        policy_loss = loss.detach() * (1.0 if self.loss_type == "dapo" else accum)

        if self._entropy_bonus_enabled:  # TRL's static entropy bonus: loss - coef * mean token entropy
            entropy_mean = (entropies * mask).sum() / mask.sum().clamp(min=1.0) / accum
            loss = loss - self.entropy_coef * entropy_mean
            self._metrics[mode]["policy_loss"].append(self.accelerator.gather(policy_loss).nanmean().item())
            if mode == "train" and self.accelerator.sync_gradients:
                self._metrics[mode]["entropy_coef"].append(self.entropy_coef)

        self._log_diagnostics(mode, out, ratio, advantages, mask, entropies, per_token_kl if self.beta != 0.0 else None)
        return loss

    def _log_diagnostics(self, mode, out, ratio, advantages, mask, entropies, per_token_kl):
        m = mask.bool()

        def global_mean(x):
            totals = self.accelerator.reduce(torch.stack([(x * mask).sum(), mask.sum().float()]), reduction="sum")
            return (totals[0] / totals[1].clamp(min=1.0)).item()

        def seq_mean(x):
            return (x * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)

        metrics = self._metrics[mode]
        if per_token_kl is not None:
            metrics["kl"].append(global_mean(per_token_kl))
        metrics["entropy"].append(global_mean(entropies))
        low, high = out.low.float(), out.high.float()
        metrics["clip_ratio/low_mean"].append(global_mean(low))
        metrics["clip_ratio/high_mean"].append(global_mean(high))
        metrics["clip_ratio/region_mean"].append(global_mean((out.low | out.high).float()))
        metrics["clip_ratio/low_min"].append(self.accelerator.gather(seq_mean(low)).min().item())
        metrics["clip_ratio/high_max"].append(self.accelerator.gather(seq_mean(high)).max().item())
        bias = clipping_bias(out, ratio.detach(), advantages, mask)
        sums = self.accelerator.reduce(torch.tensor([bias["n_raw"], bias["c_plus"]], device=mask.device), "sum")
        metrics["clip/n_raw"].append(sums[0].item())
        metrics["clip/c_plus"].append(sums[1].item())
        r = ratio.detach()[m].float()
        if r.numel():
            q = torch.quantile(r, torch.tensor([0.01, 0.5, 0.99], device=r.device))
            stats = torch.stack([r.max(), -r.min(), r.mean(), *q])
        else:
            stats = torch.tensor([1.0, -1.0, 1.0, 1.0, 1.0, 1.0], device=mask.device)
        g = self.accelerator.gather(stats[None]).view(-1, 6)
        metrics["ratio/max"].append(g[:, 0].max().item())
        metrics["ratio/min"].append(-g[:, 1].max().item())
        for j, name in enumerate(("ratio/mean", "ratio/q01", "ratio/q50", "ratio/q99"), start=2):
            metrics[name].append(g[:, j].mean().item())
        if out.cov_selected is not None:
            metrics["clip/cov_frac"].append(global_mean(out.cov_selected.float()))
