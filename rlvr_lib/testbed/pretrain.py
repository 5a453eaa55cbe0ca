"""Pretraining of tiny base models on the synthetic corpus, cached on disk by configuration.

A base is fully determined by a :class:`PretrainConfig` (task, corpus dials, model shape, optimiser and
step budget, seed). Its checkpoint lives in ``<cache>/bases/<key>`` where ``key`` hashes that whole
configuration, so changing any dial builds a new base and an unchanged one is loaded from disk. A base is
written to a temporary directory and renamed into place only when complete: an interrupted pretraining
run leaves nothing that looks like a finished base.

The loss is next-token cross-entropy on the completion tokens only (the prompt's digits are uniform noise
and carry nothing to learn). BASE STRENGTH is the number of optimizer steps trained: `steps` sets the schedule
(warm-up and cosine decay over `steps`), `stop_at` stops a base early on that schedule. The bases stopped early
on one schedule are the checkpoints of one pretraining run: :func:`ensure_bases` trains the schedule once and
writes each of them on the way (the same bits as training each alone, checked in the suite).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from rlvr_lib._checks import ConfigError, check_float, check_int, check_prob
from rlvr_lib._locks import file_lock
from rlvr_lib.numerics import fingerprint, torch_threads
from rlvr_lib.testbed.models import ModelConfig, build_model, build_tokenizer
from rlvr_lib.testbed.tasks import TaskConfig, build_corpus

PRETRAIN_CODE_VERSION = 1  # bump when the pretraining procedure changes, to invalidate cached bases


def cache_dir() -> Path:
    """Root of the on-disk cache: $RLVR_CACHE_DIR, else `.cache/` at the repository root."""
    env = os.environ.get("RLVR_CACHE_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / ".cache"


@dataclass(frozen=True)
class PretrainConfig:
    """Everything that determines a base model. See `tasks` for the corpus dials."""

    task: TaskConfig = field(default_factory=TaskConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    reliable_share: float = 0.6  # strategy dial: share of corpus solutions written in the reliable style
    contamination: float = 0.0  # fraction of evaluation problems copied (with answers) into the corpus
    contamination_repeats: int = 20  # copies of each contaminated problem in the corpus
    contamination_digits: int = 0  # > 0: contaminated items are harder problems with this many digits
    n_corpus: int = 20000  # distinct clean problems in the corpus
    steps: int = 300  # optimizer steps of the schedule (300 take about 80 s on one core)
    stop_at: int = 0  # base-strength dial: > 0 stops after this many steps of the `steps` schedule (a checkpoint)
    batch_size: int = 64  # sequences per step
    lr: float = 3e-3  # peak AdamW learning rate (linear warm-up, cosine decay to 10%)
    warmup: int = 50  # warm-up steps
    weight_decay: float = 0.01
    seed: int = 0  # initialisation and data order

    def __post_init__(self):
        if not isinstance(self.task, TaskConfig):
            raise ConfigError(f"task must be a TaskConfig, got {type(self.task).__name__}")
        if not isinstance(self.model, ModelConfig):
            raise ConfigError(f"model must be a ModelConfig, got {type(self.model).__name__}")
        check_prob("reliable_share", self.reliable_share)
        check_prob("contamination", self.contamination)
        check_int("contamination_repeats", self.contamination_repeats, 1)
        check_int("contamination_digits", self.contamination_digits, 0, 9)
        check_int("n_corpus", self.n_corpus, 1)
        check_int("steps", self.steps, 1)
        check_int("stop_at", self.stop_at, 0, self.steps - 1)
        check_int("batch_size", self.batch_size, 1)
        check_float("lr", self.lr, 0.0, 1.0, lo_open=True)
        check_int("warmup", self.warmup, 0)
        check_float("weight_decay", self.weight_decay, 0.0, 1.0)
        check_int("seed", self.seed, 0)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> PretrainConfig:
        d = dict(d)
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ConfigError(f"unknown pretraining parameter(s) {sorted(unknown)}; allowed: {sorted(known)}")
        if isinstance(d.get("task"), dict):
            d["task"] = TaskConfig(**d["task"])
        if isinstance(d.get("model"), dict):
            d["model"] = ModelConfig(**d["model"])
        return cls(**d)

    def with_(self, **changes) -> PretrainConfig:
        return replace(self, **changes)

    @property
    def trained_steps(self) -> int:
        """The optimizer steps this base is trained for: `stop_at` when set, else the whole schedule."""
        return self.stop_at or self.steps

    @property
    def schedule(self) -> PretrainConfig:
        """The full-schedule configuration whose pretraining run this base is a checkpoint of (itself if none)."""
        return replace(self, stop_at=0)

    @property
    def key(self) -> str:
        """Hash of the configuration, the pretraining code's version and the kernels this process computes with
        (a base pretrained with other kernels is another base: see `rlvr_lib.numerics`)."""
        from rlvr_lib.numerics import kernels

        d = self.to_dict()
        for name in _HASHED_WHEN_SET:  # dials added later: unset, they leave every earlier base's key unchanged
            if d[name] == 0:
                del d[name]
        blob = json.dumps({"v": PRETRAIN_CODE_VERSION, "kernels": kernels(), **d}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


_HASHED_WHEN_SET = ("contamination_digits", "stop_at")


def encode_rows(rows: list[dict], tokenizer, max_len: int):
    """(input_ids, attention_mask, labels) right-padded tensors; labels are -100 outside the completion."""
    import torch

    ids, labels = [], []
    for r in rows:
        p = tokenizer(r["prompt"])["input_ids"]  # <bos> + prompt
        c = tokenizer(r["completion"], add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        seq = (p + c)[:max_len]
        ids.append(seq)
        labels.append(([-100] * len(p) + c)[:max_len])
    width = max(map(len, ids))
    pad = tokenizer.pad_token_id
    input_ids = torch.tensor([s + [pad] * (width - len(s)) for s in ids])
    mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in ids])
    lab = torch.tensor([s + [-100] * (width - len(s)) for s in labels])
    return input_ids, mask, lab


def pretrain(cfg: PretrainConfig, out_dir: Path, progress: bool = True, flush_denormal: bool = True) -> dict:
    """Train a base from scratch and save model, tokenizer and `pretrain.json` into `out_dir`.

    `flush_denormal` flushes subnormal floats to zero: several times faster on CPU for tiny models (see
    scripts/bench_pretrain.py); it is on for every cached base."""
    return pretrain_run(cfg.schedule, {cfg.trained_steps: Path(out_dir)}, progress, flush_denormal)[cfg.trained_steps]


def pretrain_run(
    cfg: PretrainConfig, outputs: dict[int, Path], progress: bool = True, flush_denormal: bool = True
) -> dict[int, dict]:
    """One pretraining run on `cfg`'s schedule (`cfg.stop_at` must be 0), saving a base after each step count in
    `outputs` ({steps trained: directory}) and stopping at the largest; the base after k < ``cfg.steps`` steps is
    ``cfg.with_(stop_at=k)``, and its files are those a run of that configuration alone writes. Pretraining runs
    on one torch thread whatever the caller's setting (restored after), so a base is the same bits wherever it
    was built. Returns {steps trained: the base's `pretrain.json` record}."""
    if cfg.stop_at:
        raise ValueError(f"pretrain_run takes the full schedule (stop_at = 0), got stop_at = {cfg.stop_at}")
    bad = [k for k in outputs if not 1 <= k <= cfg.steps]
    if not outputs or bad:
        raise ValueError(f"outputs must name step counts in 1..{cfg.steps}, got {sorted(outputs)}")
    with torch_threads(1):  # a base's bits must not depend on the caller's threads (they do at two on some CPUs)
        return _pretrain_run(cfg, outputs, progress, flush_denormal)


def _pretrain_run(cfg: PretrainConfig, outputs: dict[int, Path], progress: bool, flush_denormal: bool) -> dict:
    import torch
    from tqdm.auto import tqdm

    torch.set_flush_denormal(flush_denormal)
    torch.manual_seed(cfg.seed)
    tok = build_tokenizer()
    model = build_model(cfg.model, tok, seed=cfg.seed)
    rows = build_corpus(
        cfg.task,
        cfg.n_corpus,
        cfg.reliable_share,
        cfg.contamination,
        cfg.contamination_repeats,
        seed=cfg.seed,
        contamination_digits=cfg.contamination_digits,
    )
    input_ids, mask, labels = encode_rows(rows, tok, cfg.model.max_positions)
    n_tokens_per_epoch = int(mask.sum())
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.98))

    def lr_at(step):
        if step < cfg.warmup:
            return cfg.lr * (step + 1) / cfg.warmup
        t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
        return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))

    gen = torch.Generator().manual_seed(cfg.seed)
    order = torch.randperm(len(rows), generator=gen)
    pos, losses, tokens_seen = 0, [], 0
    model.train()
    t0 = time.perf_counter()
    saved, saving = {}, 0.0  # saving: seconds spent writing checkpoints, not counted as pretraining time
    last = max(outputs)
    bar = tqdm(range(last), desc=f"pretrain {cfg.key}", disable=not progress, mininterval=1.0)
    for step in bar:
        if pos + cfg.batch_size > len(order):
            order, pos = torch.randperm(len(rows), generator=gen), 0
        idx = order[pos : pos + cfg.batch_size]
        pos += cfg.batch_size
        m = mask[idx]
        width = int(m.sum(1).max())
        batch_ids, batch_mask, batch_lab = input_ids[idx, :width], m[:, :width], labels[idx, :width]
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        loss = model(input_ids=batch_ids, attention_mask=batch_mask, labels=batch_lab).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        tokens_seen += int(batch_mask.sum())
        if step % 20 == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}")
        k = step + 1
        if k in outputs:
            t_save = time.perf_counter()
            wall = t_save - t0 - saving
            base_cfg = cfg if k == cfg.steps else cfg.with_(stop_at=k)
            meta = {
                "config": base_cfg.to_dict(),
                "key": base_cfg.key,
                "losses": list(losses),
                "wall_s": wall,
                "tokens_seen": tokens_seen,
                "tokens_per_s": tokens_seen / wall,
                "corpus_rows": len(rows),
                "corpus_tokens": n_tokens_per_epoch,
                "n_parameters": sum(p.numel() for p in model.parameters()),
                "torch_threads": torch.get_num_threads(),
                "numerics": fingerprint(),
            }
            out_dir = Path(outputs[k])
            out_dir.mkdir(parents=True, exist_ok=True)
            model.eval()
            model.save_pretrained(out_dir)
            tok.save_pretrained(out_dir)
            model.train()
            (out_dir / "pretrain.json").write_text(json.dumps(meta, indent=1))
            saved[k] = meta
            saving += time.perf_counter() - t_save
    model.eval()
    return saved


def base_path(cfg: PretrainConfig) -> Path:
    return cache_dir() / "bases" / cfg.key


def ensure_base(cfg: PretrainConfig, progress: bool = True) -> Path:
    """Path of the cached base for `cfg`, pretraining it first if no complete checkpoint exists.

    The checkpoint is written into a temporary sibling directory and renamed into place at the end, so an
    interrupted run leaves no half-written base behind (only a stale ``.tmp-*`` directory, which is ignored
    and cleaned up by the next build).
    """
    return _ensure_group([cfg], progress)[0]


def _ensure_group(cfgs: list[PretrainConfig], progress: bool = True) -> list[Path]:
    """:func:`ensure_base` for bases of one schedule (``cfg.schedule`` equal): the missing ones come from one
    pretraining run that writes each of them on the way. Holds every member's lock (in key order, so two
    processes cannot deadlock): a second process waits, then finds them built."""
    from contextlib import ExitStack

    schedule = {c.schedule for c in cfgs}
    if len(schedule) != 1:
        raise ValueError(f"bases of one pretraining run share a schedule; got {len(schedule)} schedules")
    finals = [base_path(c) for c in cfgs]
    if all((f / "pretrain.json").exists() for f in finals):
        return finals
    with ExitStack() as stack:
        for c in sorted(set(cfgs), key=lambda c: c.key):
            stack.enter_context(file_lock(base_path(c).parent / f".{c.key}.lock"))
        missing = {c.trained_steps: c for c in cfgs if not (base_path(c) / "pretrain.json").exists()}
        if missing:
            _build_bases(schedule.pop(), missing, progress)
    return finals


def _build_bases(schedule: PretrainConfig, missing: dict[int, PretrainConfig], progress: bool) -> None:
    root = cache_dir() / "bases"
    root.mkdir(parents=True, exist_ok=True)
    tmps = {}
    try:
        for k, c in missing.items():
            for stale in root.glob(f".tmp-{c.key}-*"):
                shutil.rmtree(stale, ignore_errors=True)
            tmps[k] = Path(tempfile.mkdtemp(prefix=f".tmp-{c.key}-", dir=root))
        pretrain_run(schedule, tmps, progress=progress)
        for k, c in missing.items():
            (tmps[k] / "config.key").write_text(c.key)
            if base_path(c).exists():  # a concurrent build finished first; keep theirs
                shutil.rmtree(tmps[k])
            else:
                os.replace(tmps[k], base_path(c))
    except BaseException:
        for t in tmps.values():
            shutil.rmtree(t, ignore_errors=True)
        raise


def base_meta(path: Path) -> dict:
    return json.loads((Path(path) / "pretrain.json").read_text())


def _ensure_single_threaded(cfgs: list[PretrainConfig]) -> list[str]:
    import torch

    torch.set_num_threads(1)
    return [str(p) for p in _ensure_group(cfgs, progress=False)]


def ensure_bases(cfgs: list[PretrainConfig], workers: int | None = None) -> list[Path]:
    """:func:`ensure_base` for several bases, the missing ones pretrained side by side in `workers` spawned
    single-threaded processes (default: one per core), one pretraining run per schedule: the bases stopped early
    on a schedule (``stop_at``) are written on the way by its run. Pretraining always computes on one thread, so
    a base does not depend on how it was built (checked in the suite)."""
    missing = [c for c in dict.fromkeys(cfgs) if not (base_path(c) / "pretrain.json").exists()]
    runs: dict[PretrainConfig, list[PretrainConfig]] = {}
    for c in missing:
        runs.setdefault(c.schedule, []).append(c)
    workers = min(workers or os.cpu_count() or 1, len(runs))
    if workers > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        print(f"pretraining {len(missing)} bases in {len(runs)} runs, {workers} processes", flush=True)
        # the longest runs first, so that the last to start is a short one
        order = sorted(runs.values(), key=lambda g: -max(c.trained_steps for c in g))
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
            list(pool.map(_ensure_single_threaded, order))
    else:
        for group in runs.values():
            _ensure_group(group)
    return [ensure_base(c) for c in cfgs]
