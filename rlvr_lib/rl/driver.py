"""The run driver: train one configuration with TRL and write its run record.

:func:`run_experiment` builds or loads the base, trains with :class:`~rlvr_lib.rl.trainer.RLVRTrainer`, evaluates on
held-out items every ``eval_every`` steps (the untrained base's evaluation read from a cache beside the base,
:func:`base_eval_cached`) and writes the run record (see ``records``). :class:`RecordCallback` is the one
``TrainerCallback``: it logs every step, evaluates, stops a diverging run and shows a progress bar.
:func:`train_recorded` is shared with the scale-out entry point.
"""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path

import torch
from transformers import TrainerCallback

from rlvr_lib.rl.config import ExperimentConfig
from rlvr_lib.rl.records import RunRecord, is_finished
from rlvr_lib.rl.trainer import RLVRTrainer


def params_finite(model) -> bool:
    return all(torch.isfinite(p).all() for p in model.parameters())


class RecordCallback(TrainerCallback):
    """Writes every logged step and the held-out evaluations to the run record; stops a diverging run;
    shows a progress bar."""

    def __init__(
        self,
        record: RunRecord,
        evaluate_fn=None,
        eval_every: int = 25,
        progress: bool = True,
        check_params_every: int = 1,
    ):
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
                self.bar.set_postfix(
                    reward=f"{self.last_reward:.2f}",
                    H=f"{logs.get('entropy', float('nan')):.3f}",
                    clip_hi=f"{logs.get('clip_ratio/high_mean', 0):.3f}",
                    refresh=False,
                )

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

    from rlvr_lib.testbed.bases import BASES
    from rlvr_lib.testbed.pretrain import PretrainConfig, ensure_base

    if base in BASES:
        return ensure_base(BASES[base]), BASES[base]
    p = Path(base)
    if (p / "pretrain.json").exists():
        return p, PretrainConfig.from_dict(json.loads((p / "pretrain.json").read_text())["config"])
    return base, None


def run_dir_of(cfg: ExperimentConfig) -> Path:
    return Path(cfg.output_root) / cfg.experiment / cfg.run_id


def build_trainer(
    cfg: ExperimentConfig,
    model,
    tokenizer,
    train_dataset,
    output_dir: Path,
    callbacks=(),
    grpo_overrides: dict | None = None,
    process_index: int = 0,
):
    """The RLVRTrainer for `cfg` (rewards built and bound, clip rule set). `grpo_overrides` go to
    `ExperimentConfig.grpo_config` (the scale-out entry point sets batch splits and engines there)."""
    from rlvr_lib.rl.rewards import NegEntropyReward, make_reward

    rewards = [
        make_reward(
            n,
            seed=cfg.seed,
            p=cfg.reward_p,
            fp_rate=cfg.false_positive_rate,
            fn_rate=cfg.false_negative_rate,
            constant=cfg.reward_constant,
            stream=process_index,
        )
        for n in cfg.reward
    ]
    trainer = RLVRTrainer(
        model=model,
        processing_class=tokenizer,
        args=cfg.grpo_config(str(output_dir), **(grpo_overrides or {})),
        train_dataset=train_dataset,
        reward_funcs=rewards,
        clip_rule=cfg.clip,
        callbacks=list(callbacks),
    )
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

    from rlvr_lib.rl.records import atomic_write_json
    from rlvr_lib.testbed import evaluation, tasks

    src = Path(evaluation.__file__).read_bytes() + Path(tasks.__file__).read_bytes()
    blob = json.dumps(
        {**key, "source": hashlib.sha256(src).hexdigest(), "torch": torch.__version__}, sort_keys=True, default=str
    )
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

    from rlvr_lib.testbed.evaluation import evaluate
    from rlvr_lib.testbed.models import load_policy
    from rlvr_lib.testbed.tasks import eval_items, train_rows

    run_dir = run_dir_of(cfg)
    if is_finished(run_dir) and not force:
        return run_dir
    torch.set_flush_denormal(True)
    base_path, pcfg = resolve_base(cfg.base)
    if pcfg is None:
        raise ValueError(
            f"base {cfg.base!r} is not a tiny base of the task world (no pretrain.json); real models "
            "are trained with the scale-out entry point (rlvr_lib.entry)"
        )
    model, tok = load_policy(base_path, progress=progress)
    task = pcfg.task
    items = eval_items(task, pcfg.contamination)[: cfg.eval_items]
    ds = Dataset.from_list(train_rows(task))

    settings = dict(
        fmt=task.format,
        n_samples=cfg.eval_n_samples,
        temperature=cfg.eval_temperature,
        max_new_tokens=cfg.max_completion_length,
        seed=cfg.seed,
    )

    def eval_fn(m):
        return evaluate(m, tok, items, **settings)

    eval_fn = base_eval_cached(eval_fn, base_path, {"items": items, **settings})

    record = RunRecord(run_dir)
    record.start(
        {
            "experiment": cfg.to_dict(),
            "base": pcfg.to_dict(),
            "base_path": str(base_path),
            "run_id": cfg.run_id,
            "clip_rule": cfg.clip.to_dict(),
            "trl_epsilons": list(cfg.trl_epsilons),
        },
        cfg.seed,
    )
    train_recorded(cfg, model, tok, ds, record, eval_fn, progress)
    return run_dir


def train_recorded(
    cfg: ExperimentConfig,
    model,
    tokenizer,
    train_dataset,
    record: RunRecord,
    evaluate_fn=None,
    progress: bool = True,
    grpo_overrides: dict | None = None,
    process_index: int = 0,
    is_main: bool = True,
    **finish_info,
) -> str:
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
