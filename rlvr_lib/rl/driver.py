"""The run driver: train one configuration with TRL and write its run record.

:func:`run_experiment` builds or loads the base, trains with :class:`~rlvr_lib.rl.trainer.RLVRTrainer`, evaluates on
held-out items every ``eval_every`` steps (the untrained base's evaluation read from a cache beside the base,
:func:`base_eval_cached`; the evaluations between the first and the last lighter when ``eval_interior_samples``
is set) and writes the run record (see ``records``). :class:`RecordCallback` is the one ``TrainerCallback``: it
logs every step, evaluates, stops a diverging run and shows a progress bar. :func:`train_recorded` is shared with
the scale-out entry point.
"""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path

import torch
from transformers import TrainerCallback

from rlvr_lib.rl.config import ExperimentConfig
from rlvr_lib.rl.records import RunRecord, damage, is_finished, run_lock
from rlvr_lib.rl.trainer import RLVRTrainer


def params_finite(model) -> bool:
    return all(torch.isfinite(p).all() for p in model.parameters())


class RecordCallback(TrainerCallback):
    """Writes every logged step and the held-out evaluations to the run record; stops a diverging run;
    shows a progress bar. `evaluate_fn(model, interior=...)` returns the evaluation's metrics; `interior` is True
    between the first and the last evaluation, where the function may make a lighter one."""

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
        self.trackers = []  # the trainer's tracker callbacks (TensorBoard, Trackio, W&B): evaluations go there too

    def _evaluate(self, step, model, args=None, state=None, control=None):
        if self.evaluate_fn is None or step == self.last_eval_step:
            return
        t0 = time.perf_counter()
        # `interior`: between the first and the last evaluation, where a run may ask for a lighter one
        res = self.evaluate_fn(model, interior=0 < step < (getattr(state, "max_steps", 0) or 0))
        logs = {**{f"eval/{k}": v for k, v in res.items()}, "eval/wall_s": time.perf_counter() - t0}
        self.record.log(step, logs)
        for tracker in self.trackers:  # their own on_log, so the values land where the training metrics do
            tracker.on_log(args, state, control, logs={k: float(v) for k, v in logs.items()})
        self.last_eval_step = step

    def on_train_begin(self, args, state, control, model=None, **kw):
        self.model = model
        if self.progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=state.max_steps, initial=state.global_step, desc=self.record.dir.name, mininterval=1.0
            )
        if state.global_step == 0:  # a resumed run evaluated its checkpoint step before saving it
            self._evaluate(0, model, args, state, control)

    def on_step_end(self, args, state, control, model=None, **kw):
        step = state.global_step
        if step % self.check_every == 0 and not params_finite(model):
            self.diverged, control.should_training_stop = True, True
            return
        if step % self.eval_every == 0 or step == state.max_steps:
            self._evaluate(step, model, args, state, control)

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
            self._evaluate(state.global_step, model, args, state, control)
        if self.bar is not None:
            self.bar.close()


TRACKER_CALLBACKS = ("TensorBoardCallback", "TrackioCallback", "WandbCallback")
STATE_FILE = "rlvr_state-{rank}.json"  # in each checkpoint directory, one per process


class CheckpointStateCallback(TrainerCallback):
    """Saves, beside each checkpoint TRL writes, what TRL does not: the run id (so that a checkpoint is never
    resumed into another configuration) and the random-reward streams' generator states (so that a resumed
    run draws the rewards an uninterrupted one would). Written after the checkpoint itself, so a checkpoint
    with this file is complete."""

    def __init__(self, run_id: str, rewards: list, process_index: int = 0):
        self.run_id, self.rewards, self.rank = run_id, rewards, process_index

    def on_save(self, args, state, control, **kw):
        from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

        from rlvr_lib.rl.records import atomic_write_json

        ckpt = Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
        streams = [r.rng.bit_generator.state if hasattr(r, "rng") else None for r in self.rewards]
        atomic_write_json(
            ckpt / STATE_FILE.format(rank=self.rank),
            {"run_id": self.run_id, "step": state.global_step, "reward_streams": streams},
        )


def last_checkpoint(trl_dir: Path) -> Path | None:
    """The latest complete checkpoint (one whose state file was written) under `trl_dir`, or None."""
    done = [d for d in Path(trl_dir).glob("checkpoint-*") if (d / STATE_FILE.format(rank=0)).is_file()]
    return max(done, key=lambda d: int(d.name.rsplit("-", 1)[1]), default=None)


def checkpoint_run_id(ckpt: Path) -> str | None:
    import json

    try:
        return json.loads((Path(ckpt) / STATE_FILE.format(rank=0)).read_text())["run_id"]
    except (OSError, ValueError, KeyError):
        return None


def restore_reward_streams(ckpt: Path, rewards: list, process_index: int = 0) -> None:
    import json

    saved = json.loads((Path(ckpt) / STATE_FILE.format(rank=process_index)).read_text())["reward_streams"]
    for r, s in zip(rewards, saved, strict=True):
        if s is not None:
            r.rng.bit_generator.state = s


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
    trained policy) always evaluate; ``interior=True`` (an evaluation between the first and the last) is passed on
    to `eval_fn`, which may then make the light evaluation."""
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

    def wrapped(model, interior: bool = False):
        nonlocal calls
        calls += 1
        if calls > 1:
            return eval_fn(model, interior=interior)
        if path.is_file():
            return {**json.loads(path.read_text()), "from_cache": 1.0}
        res = eval_fn(model)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, res)
        return {**res, "from_cache": 0.0}

    return wrapped


def run_experiment(cfg: ExperimentConfig, progress: bool = True, force: bool = False) -> Path:
    """Train one run and write its record; return the run directory.

    A run whose record is already finished (complete or diverged), undamaged and trained from the base that
    `cfg.base` names now is not run again unless `force`. A damaged record (corrupt status, truncated metrics)
    or one trained from another build of its base (other pretraining code or kernels: the base's key changed)
    is trained again, with a message. Training holds the run's lock, so a second process asking for the same
    configuration waits and then reuses the record. A run that raises is recorded as failed and the error
    re-raised; a run whose loss, gradient norm or weights become non-finite stops and is recorded as diverged
    with its metrics kept.
    """
    run_dir = run_dir_of(cfg)
    if _reusable(cfg, run_dir) and not force:
        return run_dir
    with run_lock(run_dir):  # another process may be training this configuration: wait for it
        if _reusable(cfg, run_dir) and not force:
            return run_dir
        problem = damage(run_dir) or (is_finished(run_dir) and _stale_base(cfg, run_dir))
        if problem:
            print(f"run record {run_dir}: {problem}; training the run again", flush=True)
        return _train_run(cfg, run_dir, progress)


def _stale_base(cfg: ExperimentConfig, run_dir: Path) -> str | None:
    """Why a finished record's base is not the base `cfg.base` resolves to now, or None."""
    import json

    from rlvr_lib.testbed.bases import BASES

    if cfg.base not in BASES:
        return None  # a base directory or hub name: its contents are the user's to manage
    try:
        recorded = json.loads((run_dir / "config.json").read_text()).get("base_key")
    except (OSError, ValueError):
        return "config.json is unreadable"
    current = BASES[cfg.base].key
    if recorded != current:
        return f"it was trained from base build {recorded}, and {cfg.base!r} is now build {current}"
    return None


def _reusable(cfg: ExperimentConfig, run_dir: Path) -> bool:
    return is_finished(run_dir) and _stale_base(cfg, run_dir) is None


def _train_run(cfg: ExperimentConfig, run_dir: Path, progress: bool) -> Path:
    from datasets import Dataset

    from rlvr_lib.testbed.evaluation import evaluate
    from rlvr_lib.testbed.models import load_policy
    from rlvr_lib.testbed.tasks import eval_items, train_rows

    torch.set_flush_denormal(True)
    base_path, pcfg = resolve_base(cfg.base)
    if pcfg is None:
        raise ValueError(
            f"base {cfg.base!r} is not a tiny base of the task world (no pretrain.json); real models "
            "are trained with the scale-out entry point (rlvr_lib.entry)"
        )
    model, tok = load_policy(base_path, progress=progress)
    task = pcfg.task
    items = eval_items(task, pcfg.contamination, pcfg.contamination_digits)[: cfg.eval_items]
    ds = Dataset.from_list(train_rows(task))

    settings = dict(
        fmt=task.format,
        n_samples=cfg.eval_n_samples,
        temperature=cfg.eval_temperature,
        max_new_tokens=cfg.max_completion_length,
        seed=cfg.seed,
    )

    def eval_fn(m, interior: bool = False):
        if interior and cfg.eval_interior_samples:  # the light evaluation between the first and the last
            return evaluate(m, tok, items, **{**settings, "n_samples": cfg.eval_interior_samples}, greedy=False)
        return evaluate(m, tok, items, **settings)

    eval_fn = base_eval_cached(eval_fn, base_path, {"items": items, **settings})

    record = RunRecord(run_dir)
    record.start(
        {
            "experiment": cfg.to_dict(),
            "base": pcfg.to_dict(),
            "base_key": pcfg.key,
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
    run_id: str | None = None,
    resume_from: Path | None = None,
    save_model_to: Path | None = None,
    **finish_info,
) -> str:
    """Train with the record callback and close the record: complete, diverged (metrics kept) or failed (the
    error re-raised). Returns the status. Shared by `run_experiment` and the scale-out entry point.

    Checkpoints are TRL's (``save_steps`` in `grpo_overrides`) and live in ``<run dir>/trl``; they are kept when
    the run saves any, and the directory removed otherwise. `resume_from` (a checkpoint of the same `run_id`)
    continues a run: TRL restores model, optimizer, scheduler, RNG states and data position, this function the
    random-reward streams. `save_model_to` receives the final model and tokenizer (main process)."""
    cb = RecordCallback(record, evaluate_fn, cfg.eval_every, progress and is_main)
    trl_dir = record.dir / "trl"
    checkpointing = (grpo_overrides or {}).get("save_strategy", "no") != "no"
    try:
        trainer = build_trainer(cfg, model, tokenizer, train_dataset, trl_dir, [cb], grpo_overrides, process_index)
        cb.trackers = [c for c in trainer.callback_handler.callbacks if type(c).__name__ in TRACKER_CALLBACKS]
        if checkpointing:
            trainer.add_callback(CheckpointStateCallback(run_id or "", trainer.reward_funcs, process_index))
        if resume_from is not None:
            restore_reward_streams(resume_from, trainer.reward_funcs, process_index)
        trainer.train(resume_from_checkpoint=str(resume_from) if resume_from is not None else None)
        if save_model_to is not None:
            trainer.save_model(str(save_model_to))
    except Exception as e:
        diverged = cb.diverged or not params_finite(model)
        record.finish("diverged" if diverged else "failed", error=repr(e)[:2000])
        if not diverged:
            raise
        return "diverged"
    finally:
        if is_main and not checkpointing:
            shutil.rmtree(trl_dir, ignore_errors=True)
    status = "diverged" if cb.diverged else "complete"
    record.finish(status, steps=trainer.state.global_step, **resources(model), **finish_info)
    return status


def resources(model) -> dict:
    """The device a run trained on and its peak memory in GB (CUDA: allocated by torch; CPU: the process's
    peak resident set)."""
    device = next(model.parameters()).device
    if device.type == "cuda":
        return {
            "device": torch.cuda.get_device_name(device),
            "peak_mem_gb": torch.cuda.max_memory_allocated(device) / 1e9,
        }
    import resource

    return {"device": "cpu", "peak_mem_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6}
