"""The RLVR trainer: TRL's GRPOTrainer with a pluggable clip rule, clipping diagnostics and run records.

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

:func:`run_experiment` is the run driver: it builds or loads the base, trains, evaluates on held-out
items every ``eval_every`` steps, and writes the run record (see ``records``).

Logged beyond TRL's metrics (names as in the book's glossary):
``clip/n_raw`` = ``abs(sum_t rho_t A_t)``, ``clip/c_plus`` = ``abs(sum over upper-clipped tokens of (clipped - raw))``,
``clip/bias_ratio`` = clip/n_raw / clip/c_plus (per step), ``ratio/max``, ``ratio/min``, ``ratio/mean``,
``ratio/q01``, ``ratio/q50``, ``ratio/q99`` over completion tokens, ``clip/cov_frac`` (Clip-Cov only).
"""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path

import torch
from transformers import TrainerCallback
from trl import GRPOTrainer

from .clip import ClipRule, clip_objective, clipping_bias
from .config import LOSS_TYPES, ExperimentConfig
from .records import RunRecord, is_finished


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
            raise ValueError(f"RLVRTrainer does not support {bad}; use loss_type in {LOSS_TYPES} with token-level "
                             "importance sampling and a static entropy_coef")
        self._clip_gen = torch.Generator().manual_seed(int(self.args.seed))

    def _compute_loss(self, model, inputs):
        prompt_ids, prompt_mask = inputs["prompt_ids"], inputs["prompt_mask"]
        completion_ids, completion_mask = inputs["completion_ids"], inputs["completion_mask"]
        input_ids = torch.cat([prompt_ids, completion_ids], dim=1)
        attention_mask = torch.cat([prompt_mask, completion_mask], dim=1)
        mask = completion_mask if "tool_mask" not in inputs else completion_mask * inputs["tool_mask"]
        per_token_logps, entropies, _ = self._get_per_token_logps_and_entropies(
            model, input_ids, attention_mask, completion_ids.size(1), compute_entropy=True)  # (B, T) each

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

        self._log_diagnostics(mode, out, ratio, advantages, mask, entropies,
                              per_token_kl if self.beta != 0.0 else None)
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


# ---------------------------------------------------------------------------------------------------------
# callbacks


def params_finite(model) -> bool:
    return all(torch.isfinite(p).all() for p in model.parameters())


class RecordCallback(TrainerCallback):
    """Writes every logged step and the held-out evaluations to the run record; stops a diverging run;
    shows a progress bar."""

    def __init__(self, record: RunRecord, evaluate_fn=None, eval_every: int = 25, progress: bool = True,
                 check_params_every: int = 1):
        self.record, self.evaluate_fn, self.eval_every = record, evaluate_fn, eval_every
        self.progress, self.check_every = progress, check_params_every
        self.diverged, self.bar, self.last_eval_step = False, None, -1
        self.last_reward = float("nan")
        self.model = None

    def _evaluate(self, step, model):
        if self.evaluate_fn is None or step == self.last_eval_step:
            return
        t0 = time.perf_counter()
        res = self.evaluate_fn(model)
        self.record.log(step, {**{f"eval/{k}": v for k, v in res.items()}, "eval/wall_s": time.perf_counter() - t0})
        self.last_eval_step = step

    def on_train_begin(self, args, state, control, model=None, **kw):
        self.model = model
        if self.progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=state.max_steps, desc=self.record.dir.name, mininterval=1.0)
        self._evaluate(0, model)

    def on_step_end(self, args, state, control, model=None, **kw):
        step = state.global_step
        if step % self.check_every == 0 and not params_finite(model):
            self.diverged, control.should_training_stop = True, True
            return
        if step % self.eval_every == 0 or step == state.max_steps:
            self._evaluate(step, model)

    def on_log(self, args, state, control, logs=None, **kw):
        logs = dict(logs or {})
        if "clip/n_raw" in logs and "clip/c_plus" in logs:
            c = logs["clip/c_plus"]
            logs["clip/bias_ratio"] = logs["clip/n_raw"] / c if c else math.inf
        for key in ("loss", "grad_norm"):
            v = logs.get(key)
            if v is not None and not math.isfinite(float(v)):
                self.diverged, control.should_training_stop = True, True
        if "loss" in logs:  # a training step's log (not the end-of-training summary)
            self.record.log(state.global_step, logs)
            self.last_reward = logs.get("reward", self.last_reward)
            if self.bar is not None:
                self.bar.update(state.global_step - self.bar.n)
                self.bar.set_postfix(reward=f"{self.last_reward:.2f}",
                                     H=f"{logs.get('entropy', float('nan')):.3f}",
                                     clip_hi=f"{logs.get('clip_ratio/high_mean', 0):.3f}", refresh=False)

    def on_train_end(self, args, state, control, model=None, **kw):
        if not self.diverged:
            self._evaluate(state.global_step, model)
        if self.bar is not None:
            self.bar.close()


# ---------------------------------------------------------------------------------------------------------
# the run driver


def resolve_base(base: str):
    """(path, pretrain config or None) for a named tiny base, a local base directory or a hub name."""
    import json

    from .bases import BASES
    from .pretrain import PretrainConfig, ensure_base

    if base in BASES:
        return ensure_base(BASES[base]), BASES[base]
    p = Path(base)
    if (p / "pretrain.json").exists():
        return p, PretrainConfig.from_dict(json.loads((p / "pretrain.json").read_text())["config"])
    return base, None


def run_dir_of(cfg: ExperimentConfig) -> Path:
    return Path(cfg.output_root) / cfg.experiment / cfg.run_id


def build_trainer(cfg: ExperimentConfig, model, tokenizer, train_dataset, output_dir: Path, callbacks=(),
                  grpo_overrides: dict | None = None, process_index: int = 0):
    """The RLVRTrainer for `cfg` (rewards built and bound, clip rule set). `grpo_overrides` go to
    `ExperimentConfig.grpo_config` (the scale-out entry point sets batch splits and engines there)."""
    from .rewards import NegEntropyReward, make_reward

    rewards = [make_reward(n, seed=cfg.seed, p=cfg.reward_p, fp_rate=cfg.false_positive_rate,
                           fn_rate=cfg.false_negative_rate, constant=cfg.reward_constant, stream=process_index)
               for n in cfg.reward]
    trainer = RLVRTrainer(model=model, processing_class=tokenizer,
                          args=cfg.grpo_config(str(output_dir), **(grpo_overrides or {})),
                          train_dataset=train_dataset, reward_funcs=rewards, clip_rule=cfg.clip,
                          callbacks=list(callbacks))
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    for cb in (PrinterCallback, ProgressCallback):  # the run record and our own progress bar replace them
        trainer.remove_callback(cb)
    for r in rewards:
        if isinstance(r, NegEntropyReward):
            r.bind(trainer.model, tokenizer)
    return trainer


def base_eval_cached(eval_fn, base_path: Path, key: dict):
    """`eval_fn` whose FIRST call - the evaluation of the untrained base at step 0 - is read from a file beside
    the base when one exists for the same evaluation (items, settings, seed, evaluation source, torch
    version), and written there otherwise. Runs that share a base and a seed share that evaluation, so it is
    computed once instead of once per arm; the values are those the call would return (the evaluation is
    deterministic for its seed), and the record marks them with ``eval/from_cache = 1``. Later calls (the
    trained policy) always evaluate."""
    import hashlib
    import json

    from .records import atomic_write_json

    src = Path(__file__).with_name("evaluation.py").read_bytes() + Path(__file__).with_name("tasks.py").read_bytes()
    blob = json.dumps({**key, "source": hashlib.sha256(src).hexdigest(), "torch": torch.__version__},
                      sort_keys=True, default=str)
    path = Path(base_path) / "evals" / f"{hashlib.sha256(blob.encode()).hexdigest()[:16]}.json"
    calls = 0

    def wrapped(model):
        nonlocal calls
        calls += 1
        if calls > 1:
            return eval_fn(model)
        if path.is_file():
            return {**json.loads(path.read_text()), "from_cache": 1.0}
        res = eval_fn(model)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, res)
        return {**res, "from_cache": 0.0}

    return wrapped


def run_experiment(cfg: ExperimentConfig, progress: bool = True, force: bool = False) -> Path:
    """Train one run and write its record; return the run directory.

    A run whose record is already finished (complete or diverged) is not run again unless `force`. A run
    that raises is recorded as failed and the error re-raised; a run whose loss, gradient norm or weights
    become non-finite stops and is recorded as diverged with its metrics kept.
    """
    from datasets import Dataset

    from .evaluation import evaluate
    from .models import load_policy
    from .tasks import eval_items, train_rows

    run_dir = run_dir_of(cfg)
    if is_finished(run_dir) and not force:
        return run_dir
    torch.set_flush_denormal(True)
    base_path, pcfg = resolve_base(cfg.base)
    if pcfg is None:
        raise ValueError(f"base {cfg.base!r} is not a tiny base of the task world (no pretrain.json); real models "
                         "are trained with the scale-out entry point (rlvr_lib.entry)")
    model, tok = load_policy(base_path, progress=progress)
    task = pcfg.task
    items = eval_items(task, pcfg.contamination)[: cfg.eval_items]
    ds = Dataset.from_list(train_rows(task))

    settings = dict(fmt=task.format, n_samples=cfg.eval_n_samples, temperature=cfg.eval_temperature,
                    max_new_tokens=cfg.max_completion_length, seed=cfg.seed)

    def eval_fn(m):
        return evaluate(m, tok, items, **settings)

    eval_fn = base_eval_cached(eval_fn, base_path, {"items": items, **settings})

    record = RunRecord(run_dir)
    record.start({"experiment": cfg.to_dict(), "base": pcfg.to_dict(), "base_path": str(base_path),
                  "run_id": cfg.run_id, "clip_rule": cfg.clip.to_dict(),
                  "trl_epsilons": list(cfg.trl_epsilons)}, cfg.seed)
    train_recorded(cfg, model, tok, ds, record, eval_fn, progress)
    return run_dir


def train_recorded(cfg: ExperimentConfig, model, tokenizer, train_dataset, record: RunRecord, evaluate_fn=None,
                   progress: bool = True, grpo_overrides: dict | None = None, process_index: int = 0,
                   is_main: bool = True, **finish_info) -> str:
    """Train with the record callback and close the record: complete, diverged (metrics kept) or failed (the
    error re-raised). Returns the status. Shared by `run_experiment` and the scale-out entry point."""
    cb = RecordCallback(record, evaluate_fn, cfg.eval_every, progress and is_main)
    trl_dir = record.dir / "trl"
    try:
        trainer = build_trainer(cfg, model, tokenizer, train_dataset, trl_dir, [cb], grpo_overrides, process_index)
        trainer.train()
    except Exception as e:
        diverged = cb.diverged or not params_finite(model)
        record.finish("diverged" if diverged else "failed", error=repr(e)[:2000])
        if not diverged:
            raise
        return "diverged"
    finally:
        if is_main:
            shutil.rmtree(trl_dir, ignore_errors=True)
    status = "diverged" if cb.diverged else "complete"
    record.finish(status, steps=trainer.state.global_step, **finish_info)
    return status
