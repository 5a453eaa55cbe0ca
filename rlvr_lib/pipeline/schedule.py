"""The main job's jobs as a dependency graph, run with up to `width` of them at once.

A notebook's runs train in a pool of one worker per core, but a notebook also spends time where one core or none
is busy: its last runs (fewer left than workers), its tables, bootstraps and figures, a kernel starting. Running
two jobs side by side fills those gaps. A job starts once every job it depends on has finished, so the order that
matters is kept (the bases before any tiny-LM notebook, ``lm_hyperparameters`` before the notebooks that read its
learning rate, the pilot before the notebooks it sizes, the probes before the regime series that reads their
curves). Among jobs that are ready, the one listed first starts first; with ``width = 1`` the jobs run one after
another in list order, exactly as listed.

Results do not depend on the width: every run is fixed by its configuration (single-threaded workers, seeded),
a configuration that two notebooks need at once is trained by one of them while the other waits on its lock
(`rlvr_lib.rl.driver.run_experiment`), and notebooks write results files of their own names.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Job:
    name: str
    run: Callable[[], object]  # does the work; called in a thread of its own (it may wait on a subprocess)
    after: tuple[str, ...] = ()  # names of the jobs that must finish first
    stage: str = ""  # shown in the wall-time summary
    started: float = field(default=float("nan"), init=False)
    finished: float = field(default=float("nan"), init=False)
    result: object = field(default=None, init=False)


class JobFailed(RuntimeError):
    """A job raised; the jobs already running were let finish, none was started after it."""


def run_jobs(jobs: list[Job], width: int = 1, on_done: Callable[[Job], None] | None = None) -> list[Job]:
    """Run `jobs` respecting their `after` lists, at most `width` at once; returns them with start and end times.

    A job whose dependency is not in `jobs` is treated as already done (a stage left out with ``--only``). When a
    job raises, no further job starts, the running ones finish, and :class:`JobFailed` names the first failure
    (the original error chained)."""
    if width < 1:
        raise ValueError(f"width must be at least 1, got {width}")
    names = [j.name for j in jobs]
    if len(set(names)) != len(names):
        raise ValueError(f"job names repeat: {names}")
    known = set(names)
    pending = list(jobs)
    done: set[str] = set()
    running: dict[str, threading.Thread] = {}
    errors: list[tuple[Job, BaseException]] = []
    cond = threading.Condition()

    def ready(job: Job) -> bool:
        return all(d in done or d not in known for d in job.after)

    def work(job: Job) -> None:
        try:
            job.result = job.run()
        except BaseException as e:  # noqa: BLE001 - reported to the caller's thread below
            with cond:
                errors.append((job, e))
        finally:
            job.finished = time.perf_counter()
            with cond:
                done.add(job.name)
                running.pop(job.name, None)
                cond.notify_all()
            if on_done is not None and not errors:
                on_done(job)

    order = {n: i for i, n in enumerate(names)}
    for j in jobs:
        unknown_cycle = [d for d in j.after if d in known and order[d] >= order[j.name]]
        if unknown_cycle:
            raise ValueError(f"job {j.name!r} depends on {unknown_cycle}, listed after it: list jobs in a valid order")
    with cond:
        while pending or running:
            if not errors:
                while len(running) < width:
                    nxt = next((j for j in pending if ready(j)), None)
                    if nxt is None:
                        break
                    pending.remove(nxt)
                    nxt.started = time.perf_counter()
                    t = threading.Thread(target=work, args=(nxt,), name=f"job-{nxt.name}", daemon=True)
                    running[nxt.name] = t
                    t.start()
            elif not running:
                break
            cond.wait()
    if errors:
        job, e = errors[0]
        raise JobFailed(f"{job.name} failed: {e}") from e
    return jobs


def stage_walls(jobs: list[Job]) -> dict[str, float]:
    """Per stage, in order of first appearance: seconds from its first job's start to its last job's end (stages
    that overlap in time each count their own span)."""
    out: dict[str, tuple[float, float]] = {}
    for j in jobs:
        if j.started != j.started:  # never started (NaN)
            continue
        a, b = out.get(j.stage, (j.started, j.finished))
        out[j.stage] = (min(a, j.started), max(b, j.finished))
    return {k: b - a for k, (a, b) in out.items()}
