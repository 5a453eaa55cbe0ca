"""The main job: build the tiny bases, run every notebook (theory lab, mechanism probes, tiny-LM experiments) and
build the book.

Usage::

    python -m rlvr_lib.main [--profile full|smoke] [--only bases|theory|probes|lm|map|book] [--force]
                            [--executor sequential|pool[:WxT]|dask[:WxT]|dask:tcp://HOST:PORT] [--jobs N]
                            [--machine]

Everything is cached: bases by pretraining configuration, training runs by experiment configuration,
executed notebooks by (source, parameters). A second run with nothing changed only rebuilds the book.
The learning rate chosen by ``lm_hyperparameters`` (tuning seeds only) is passed to every other tiny-LM
notebook as its ``learning_rate`` parameter. The tiny-LM runs train through the executor chosen by
``--executor`` (default: a process pool, one single-threaded worker per core; see `rlvr_lib.rl.executors`).
The machine's numerics fingerprint goes to ``results/machine.json`` and into every executed notebook's
metadata. The bases and the notebooks run as jobs of a dependency graph, two at a time by default
(``--jobs``, see `rlvr_lib.pipeline.schedule`), each notebook in a process of its own; results do not depend on
it. Wall times are printed at the end, per stage from its first job's start to its last job's end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

from rlvr_lib._locks import file_lock
from rlvr_lib.numerics import describe
from rlvr_lib.pipeline.runner import EXECUTED, NOTEBOOKS, PROBES, ROOT, THEORY, TINY_LM, is_cached, run_notebook
from rlvr_lib.pipeline.schedule import Job, JobFailed, run_jobs, stage_walls
from rlvr_lib.rl.executors import ENV, cores
from rlvr_lib.rl.executors import parse as parse_executor
from rlvr_lib.rl.records import atomic_write_json

STAGES = ("bases", "theory", "probes", "lm", "book")
MAP = ("theory_regime_map", "lm_regime_series")  # --only map: the two regime maps (tabular and tiny LM) alone


def pretrain_bases(names=None) -> list:
    """Pretrain every base missing from the cache (in parallel processes); the notebooks wait for this only."""
    from rlvr_lib.testbed.bases import BASES
    from rlvr_lib.testbed.pretrain import ensure_bases

    return ensure_bases([BASES[n] for n in list(names or BASES)])


def build_bases(names=None) -> dict:
    """The base card: each base (pretrained first if missing) evaluated on 200 held-out items with 8 samples each,
    on one torch thread as the runs evaluate; written to results/bases.json."""
    from rlvr_lib.numerics import torch_threads
    from rlvr_lib.rl.driver import base_eval_cached
    from rlvr_lib.testbed.bases import BASES
    from rlvr_lib.testbed.evaluation import evaluate
    from rlvr_lib.testbed.models import load_policy
    from rlvr_lib.testbed.pretrain import base_meta
    from rlvr_lib.testbed.tasks import eval_items

    names = list(names or BASES)
    paths = pretrain_bases(names)
    out = {}
    with torch_threads(1):  # the notebooks beside it have the other core
        for name, path in zip(names, paths):
            cfg = BASES[name]
            model, tok = load_policy(path, progress=False)
            items = eval_items(cfg.task, cfg.contamination, cfg.contamination_digits)[:200]
            settings = dict(fmt=cfg.task.format, n_samples=8, temperature=1.0, max_new_tokens=64, seed=0)
            evaluate_fn = partial(evaluate, tokenizer=tok, items=items, **settings)
            r = base_eval_cached(evaluate_fn, path, {"items": items, **settings})(model)
            r.pop("from_cache")
            meta = base_meta(path)
            out[name] = {**r, "tokens_per_s": meta["tokens_per_s"], "pretrain_wall_s": meta["wall_s"], "key": cfg.key}
            print(
                f"base {name:13s} greedy {r['greedy_acc']:.3f}  sampled(T=1) {r['sampled_acc']:.3f}  "
                f"exact {r['exact_acc']:.3f}"
                f"  reliable share {r['share_reliable']:.2f}  pretrain {meta['wall_s']:.0f} s at "
                f"{meta['tokens_per_s']:.0f} tokens/s"
            )
    Path("results").mkdir(exist_ok=True)
    Path("results/bases.json").write_text(json.dumps(out, indent=1))
    return out


def machine_record() -> dict:
    """The numerics fingerprint and canary of this machine (see `rlvr_lib.numerics`)."""
    from rlvr_lib.numerics import canary, fingerprint

    return {**fingerprint(), "canary": canary()}


def results_hash(results_dir: Path) -> str:
    """Hash of every file under `results_dir` (names and contents)."""
    import hashlib

    h = hashlib.sha256()
    for f in sorted(Path(results_dir).rglob("*")):
        if f.is_file():
            h.update(str(f.relative_to(results_dir)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def build_book(strict: bool = True, root: Path = ROOT) -> float:
    """Build the HTML book with warnings as errors. Sphinx rebuilds only pages whose sources changed, but the
    scorecard, the claim chapters and the testbed page compute their tables from `results/`; when that
    directory changed since the last build, every page is rebuilt (``--all``) so that none shows old numbers."""
    from rlvr_lib.pipeline.book import prepare_downloads

    t0 = time.perf_counter()
    prepare_downloads(root)  # tables, verdicts and run records, served at downloads/ (html_extra_path)
    stamp = root / "book" / "_build" / ".results-hash"
    current = results_hash(root / "results")
    cmd = [
        str(Path(sys.executable).parent / "jupyter-book"),
        "build",
        "book",
        "--config",
        "_config.yml",
        "--path-output",
        "book",
    ]
    if strict:
        cmd += ["-W", "--keep-going"]
    with file_lock(root / "book" / ".build.lock"):  # two main jobs: one Sphinx build at a time
        if not stamp.is_file() or stamp.read_text() != current:
            cmd += ["--all"]
        subprocess.run(cmd, cwd=root, check=True)
        stamp.write_text(current)
    return time.perf_counter() - t0


# what a notebook waits for beyond the bases (every probe and tiny-LM notebook trains from them) and, for the
# tiny-LM notebooks, lm_hyperparameters
AFTER = {
    "lm_regime_series": ("lm_probes",),  # reads the probes' curves
}
SIZED = ("lm_pilot",)  # the notebooks sized by the pilot (seeds_per_comparison) also wait for it


def notebook_parameters(name: str, profile: str) -> dict:
    """A notebook's parameters, read when it starts: the profile, and for the tiny-LM notebooks the learning rate
    lm_hyperparameters chose and, where the notebook takes it, the pilot's seeds per comparison."""
    params = {"profile": profile}
    if name in TINY_LM and name != "lm_hyperparameters":
        from rlvr_lib.experiments.lm_lab import load_hparams

        chosen = load_hparams("results")
        if not chosen:
            raise SystemExit(
                "results/hparams.json is missing: the lm stage runs lm_hyperparameters first; "
                "run `python -m rlvr_lib.main --only lm`"
            )
        params.update(chosen)
    if _takes_pilot(name):
        from rlvr_lib.experiments.lm_lab import load_pilot

        # the pilot's choice is a parameter, so that a new choice re-executes the notebooks it sizes
        params["seeds_per_comparison"] = load_pilot("results")
    return params


def _takes_pilot(name: str) -> bool:
    return name in TINY_LM and "seeds_per_comparison:" in (NOTEBOOKS / f"{name}.py").read_text()


def _notebook_job(name: str, stage: str, profile: str, force: bool, width: int) -> Job:
    after = ("bases",) if stage != "theory" else ()
    if name in TINY_LM and name != "lm_hyperparameters":
        after += ("lm_hyperparameters",)  # every other tiny-LM notebook trains at the learning rate it chose
    after += AFTER.get(name, ())
    if _takes_pilot(name):
        after += SIZED

    def run() -> dict:
        params = notebook_parameters(name, profile)
        if width == 1 or (not force and is_cached(name, params, EXECUTED)):
            r = run_notebook(name, params, EXECUTED, force=force)
        else:  # its own process: papermill drives one kernel per process
            t = time.perf_counter()
            cmd = [sys.executable, "-m", "rlvr_lib.pipeline.runner", name, json.dumps(params)]
            subprocess.run(cmd + (["--force"] if force else []), cwd=ROOT, check=True)
            r = {"cached": False, "wall_s": time.perf_counter() - t}
        status = "cached" if r["cached"] else f"{r['wall_s']:.1f} s"
        print(f"notebook {name:28s} {status}", flush=True)
        return r

    return Job(name, run, tuple(dict.fromkeys(after)), stage)


def main_jobs(stages, profile: str, force: bool, width: int) -> list[Job]:
    """The main job's work as jobs in dependency order: bases, the theory notebooks, the probes, the tiny-LM
    notebooks (`stages` as ``--only`` gives them; ``map`` adds the two regime maps)."""
    jobs = []
    if "bases" in stages and profile == "full":  # smoke notebooks build their own toy-sized bases
        jobs.append(Job("bases", pretrain_bases, (), "bases"))
        # the base card (each base evaluated on 200 items, results/bases.json) runs beside the notebooks
        jobs.append(Job("base_card", build_bases, ("bases",), "bases"))
    for stage, names in (("theory", THEORY), ("probes", PROBES), ("lm", TINY_LM)):
        if stage not in stages:
            if "map" not in stages or not set(MAP) & set(names):
                continue
            names = [n for n in names if n in MAP]
        stage_force = force
        if stage == "lm":
            from rlvr_lib.rl.records import damaged_runs

            damaged = damaged_runs("runs")
            for d, problem in damaged.items():
                print(f"run record {d}: {problem}; its notebook runs again and retrains it", flush=True)
            stage_force |= bool(damaged)  # cached notebooks would not look at their runs: re-execute them
        jobs += [_notebook_job(n, stage, profile, stage_force, width) for n in names]
    return jobs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profile", choices=("full", "smoke"), default="full")
    ap.add_argument(
        "--only",
        choices=STAGES + ("map",),
        action="append",
        help="run only these stages (repeatable); map: only the regime maps (the tiny-LM series needs the lm "
        "stage's results/hparams.json)",
    )
    ap.add_argument("--force", action="store_true", help="re-execute notebooks even when cached")
    ap.add_argument(
        "--executor",
        default=os.environ.get(ENV) or "pool",
        help="where the tiny-LM runs train: sequential, pool[:WxT], dask[:WxT], dask:tcp://HOST:PORT "
        "(default: $RLVR_EXECUTOR, else a process pool with one worker per core)",
    )
    ap.add_argument(
        "--jobs",
        type=int,
        default=max(1, min(2, cores())),
        help="notebooks (and the bases) run side by side, at most this many at once, in the order their inputs "
        "allow (default: 2, or 1 on one core); 1 runs them one after another in this process",
    )
    ap.add_argument("--machine", action="store_true", help="print this machine's numerics fingerprint and exit")
    args = ap.parse_args(argv)
    if args.machine:
        print(json.dumps(machine_record(), indent=1))
        return 0
    if args.jobs < 1:
        ap.error(f"--jobs must be at least 1, got {args.jobs}")
    spec = parse_executor(args.executor)  # a bad spec fails here, before any work
    os.environ[ENV] = str(spec)  # the notebooks' kernels inherit it (their `executor` parameter is empty)
    # every notebook's kernel computes on one torch thread unless told otherwise: the tensors outside the runs are
    # small, and one thread is the faster (theory_c8_c11_bandit alone: 20 s against 28 s at two threads, the same
    # outputs) and keeps two jobs side by side from fighting over the two cores; the runs set their own threads
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    stages = args.only or list(STAGES)
    os.chdir(ROOT)
    print(f"executor {spec}; {describe()}", flush=True)
    Path("results").mkdir(exist_ok=True)
    atomic_write_json(Path("results/machine.json"), {**machine_record(), "executor": str(spec)})
    t0 = time.perf_counter()
    jobs = main_jobs(stages, args.profile, args.force, args.jobs)
    print(f"{len(jobs)} jobs, up to {args.jobs} at once", flush=True)
    try:
        run_jobs(jobs, args.jobs)
    except JobFailed as e:
        raise SystemExit(f"main job stopped: {e}") from e.__cause__
    times = stage_walls(jobs)
    if "book" in stages:
        times["book"] = build_book()
        print(f"book: {ROOT / 'book' / '_build' / 'html' / 'index.html'}")
    total = time.perf_counter() - t0
    print("wall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()) + f"; total {total:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
