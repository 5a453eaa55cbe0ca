"""Where a sweep's runs are trained, chosen by one setting.

The setting is a short string, given as the main job's ``--executor``, the environment variable
``RLVR_EXECUTOR`` or the tiny-LM notebooks' ``executor`` parameter (in that order of precedence for the
notebooks' kernels, which inherit the main job's environment):

* ``sequential``: one run after another in this process, one torch thread per run (the default);
* ``pool``: a local process pool, as many workers as cores, one torch thread each;
  ``pool:W`` / ``pool:WxT``: W workers with T threads each (T defaults to 1);
* ``dask``: a local Dask cluster on 127.0.0.1, sized as ``pool`` (``dask:WxT`` to size it);
* ``dask:ADDRESS``: an existing Dask scheduler, e.g. ``dask:tcp://10.0.0.5:8786``; start one with
  ``dask scheduler`` / ``dask worker``, or on SLURM / PBS / LSF with dask-jobqueue.

Dask distributed (the ``cluster`` extra) rather than Ray: a pure-Python install of a few MB, a local cluster
that starts in about a second on two cores (the test suite starts one), process workers that re-run a lost
task when a worker dies, and the usual route onto batch clusters (dask-jobqueue) and Kubernetes.

Every executor calls the same :func:`rlvr_lib.rl.driver.run_experiment` on the same configuration with the
same number of torch threads per run (one, unless a spec says ``xT``), so a run's record does not depend on
which executor trained it. The thread count is part of what decides a run's bits: a GRPO run at two threads
differs in the last digits from the same run at one (pretraining always computes on one thread), so it is
recorded in each run's ``meta.json``. The run lock keeps two workers - or two sweeps - from training one
configuration at once. Scripts that use ``pool`` or ``dask`` need the usual ``if __name__ == "__main__":``
guard of Python's spawned processes (notebooks do not). Workers on a cluster must see the same filesystem (run
directories and the base cache) at the same paths, as on a shared cluster filesystem; a worker works in the
dispatcher's directory.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from rlvr_lib._checks import ConfigError

ENV = "RLVR_EXECUTOR"


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class ExecutorSpec:
    kind: str  # "sequential", "pool" or "dask"
    workers: int = 1
    threads: int | None = 1  # torch threads per run; None = torch's default (for an external cluster's workers)
    address: str | None = None  # dask scheduler address; None = start a local cluster

    def __str__(self) -> str:
        if self.kind == "sequential":
            return "sequential"
        if self.address:
            return f"dask:{self.address}"
        return f"{self.kind}:{self.workers}x{self.threads}"

    @property
    def slots(self) -> int:
        """Runs trained at once."""
        return 1 if self.kind == "sequential" else self.workers


def parse(spec: str | None = None) -> ExecutorSpec:
    """The executor for `spec`; an empty or missing `spec` falls back to ``$RLVR_EXECUTOR``, then sequential."""
    raw = (spec or os.environ.get(ENV) or "sequential").strip()
    kind, _, rest = raw.partition(":")
    if kind == "sequential" and not rest:
        return ExecutorSpec("sequential")
    if kind == "dask" and "://" in rest:
        return ExecutorSpec("dask", workers=1, threads=None, address=rest)
    if kind in ("pool", "dask"):
        workers, threads = None, 1
        if rest:
            w, _, t = rest.partition("x")
            try:
                workers = int(w)
                threads = int(t) if t else 1
            except ValueError:
                workers = 0
            if workers < 1 or threads < 1:
                raise ConfigError(f"executor {raw!r}: expected {kind}:W or {kind}:WxT with whole numbers >= 1")
        return ExecutorSpec(kind, workers or max(1, cores() // threads), threads)
    raise ConfigError(
        f"executor {raw!r} is not one of: sequential, pool, pool:W, pool:WxT, dask, dask:WxT, dask:tcp://HOST:PORT"
    )


def _worker_env() -> dict:
    """What a worker must share with the dispatcher: the working directory (run directories are relative to
    it), the base cache and the numerics settings."""
    from rlvr_lib.numerics import OPT_OUT, PINS
    from rlvr_lib.testbed.pretrain import cache_dir

    keys = (*PINS, OPT_OUT)
    env = {"RLVR_CACHE_DIR": str(cache_dir().resolve()), **{k: os.environ[k] for k in keys if k in os.environ}}
    return {"cwd": os.getcwd(), "env": env}


def train_one(cfg_dict: dict, threads: int | None, where: dict) -> dict:
    """Train (or find finished) one run in a worker process. Top level, so that pools can pickle it."""
    os.environ.update(where.get("env", {}))
    if where.get("cwd"):
        os.chdir(where["cwd"])
    from rlvr_lib.numerics import pin, torch_threads

    pin()  # the dispatcher's pins are in `where`; torch has run no operation yet in this task's process

    from rlvr_lib.rl.config import ExperimentConfig
    from rlvr_lib.rl.driver import run_dir_of, run_experiment
    from rlvr_lib.rl.records import is_finished

    cfg = ExperimentConfig.from_dict(cfg_dict)
    was_finished = is_finished(run_dir_of(cfg))
    t0 = time.perf_counter()
    with torch_threads(threads):  # restored after: the sequential executor runs in the caller's process
        run_experiment(cfg, progress=False)
    return {"run_id": cfg.run_id, "trained": not was_finished, "wall_s": time.perf_counter() - t0, "pid": os.getpid()}


def run_many(cfg_dicts: list[dict], executor: str | ExecutorSpec | None = None, bar=None) -> list[dict]:
    """Train every configuration through `executor`; return one summary per configuration, in input order.
    `bar` (a tqdm bar over the configurations) advances as runs finish. A failing run raises once the others
    that were already running have stopped."""
    spec = executor if isinstance(executor, ExecutorSpec) else parse(executor)
    _prepare_bases(cfg_dicts)
    if spec.kind == "sequential" or not cfg_dicts:
        out = []
        for c in cfg_dicts:
            out.append(train_one(c, spec.threads, {}))
            if bar is not None:
                bar.update(1)
        return out
    env = _worker_env()
    if spec.kind == "pool":
        return _run_pool(cfg_dicts, spec, env, bar)
    return _run_dask(cfg_dicts, spec, env, bar)


def _prepare_bases(cfg_dicts: list[dict]) -> None:
    """Pretrain each named base once, here, before any worker needs it (workers would otherwise each start
    pretraining the same base; the cache keeps the first, but the work would be wasted)."""
    from rlvr_lib.rl.driver import resolve_base

    for base in dict.fromkeys(c["base"] for c in cfg_dicts):
        resolve_base(base)


def _run_pool(cfg_dicts, spec: ExecutorSpec, env: dict, bar, retries: int = 1) -> list[dict]:
    """A spawn-started process pool (fork after torch's thread pools start can deadlock). A worker that dies
    (killed, out of memory) breaks the pool: the pool is started again and the unfinished runs resubmitted,
    `retries` times; the run lock and the record's damage checks make a half-written run start over."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    results: dict[int, dict] = {}
    for attempt in range(retries + 1):
        todo = [i for i in range(len(cfg_dicts)) if i not in results]
        if not todo:
            break
        workers = min(spec.workers, len(todo))
        try:
            with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
                futures = {pool.submit(train_one, cfg_dicts[i], spec.threads, env): i for i in todo}
                for f in as_completed(futures):
                    results[futures[f]] = f.result()
                    if bar is not None:
                        bar.update(1)
        except BrokenProcessPool:
            if attempt == retries:
                raise
            print(f"a pool worker died; restarting the pool for {len(cfg_dicts) - len(results)} runs", flush=True)
    return [results[i] for i in range(len(cfg_dicts))]


def _run_dask(cfg_dicts, spec: ExecutorSpec, env: dict, bar) -> list[dict]:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as e:
        raise ConfigError(
            "the dask executor needs Dask distributed: pip install 'rlvr_lib[cluster]' (or 'distributed')"
        ) from e
    import dask

    cluster = None
    if spec.address is None:
        # Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which makes these runs about a quarter
        # slower (measured: 8.0 s against 6.3 s per run); the thread caps it sets along with it are kept.
        environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
        environ.pop("MALLOC_TRIM_THRESHOLD_", None)
        with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
            cluster = LocalCluster(
                n_workers=spec.workers,
                threads_per_worker=1,  # one task per worker process; torch's own threads are set per task
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            )
    client = Client(cluster if cluster is not None else spec.address)
    try:
        futures = [client.submit(train_one, c, spec.threads, env, pure=False) for c in cfg_dicts]
        index = {f.key: i for i, f in enumerate(futures)}
        results: dict[int, dict] = {}
        for f in as_completed(futures):
            results[index[f.key]] = f.result()
            if bar is not None:
                bar.update(1)
        return [results[i] for i in range(len(cfg_dicts))]
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
