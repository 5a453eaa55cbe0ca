"""Run records: one directory per run, written so that an interrupted run never looks complete.

Layout of ``<output_root>/<experiment>/<run_id>/``:

* ``config.json``    the resolved :class:`~rlvr_lib.rl.config.ExperimentConfig` (plus the base's pretraining
                     configuration when the base is a named tiny base);
* ``metrics.jsonl``  one JSON object per logged optimizer step (``step`` plus metric -> value), training
                     metrics and, every ``eval_every`` steps, held-out ``eval/`` metrics;
* ``meta.json``      package versions, git revision, seed, host, start time, numerics (CPU, kernels, threads);
* ``status.json``    written last, atomically: ``{"status": "complete" | "diverged" | "failed", "wall_s", ...}``.
                     While a run is in progress its status is ``running``.

:func:`load_runs` returns every run under a root as one tidy table (run x step x metric).
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from rlvr_lib._locks import file_lock
from rlvr_lib.numerics import fingerprint

STATUSES = ("running", "complete", "diverged", "failed")
FINISHED = ("complete", "diverged")  # a sweep does not re-run these


def atomic_write_json(path: Path, obj) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=1, default=_json_default)
    os.replace(tmp, path)


def _json_default(o):
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _clean(v):
    """JSON has no inf/nan: store them as strings that `load_runs` turns back into floats."""
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return v


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("rlvr_lib", "torch", "transformers", "trl", "accelerate", "datasets", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def git_revision() -> str:
    try:
        root = Path(__file__).resolve().parents[2]
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
        )
        if rev.returncode:
            return "unknown"
        return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


class RunRecord:
    """Writer for one run directory."""

    def __init__(self, run_dir: Path, enabled: bool = True):
        self.dir = Path(run_dir)
        self.t0 = time.time()
        self.enabled = enabled  # False on non-main processes of a multi-process launch: writes nothing

    @property
    def status(self) -> str | None:
        return read_status(self.dir)

    def start(self, config: dict, seed: int) -> None:
        """Begin a fresh record (anything left by an earlier, unfinished attempt is cleared)."""
        if not self.enabled:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        for name in ("metrics.jsonl", "status.json"):
            (self.dir / name).unlink(missing_ok=True)
        atomic_write_json(
            self.dir / "status.json",
            {"status": "running", "started": self.t0, "pid": os.getpid(), "host": platform.node()},
        )
        atomic_write_json(self.dir / "config.json", config)
        atomic_write_json(
            self.dir / "meta.json",
            {
                "versions": versions(),
                "git": git_revision(),
                "seed": seed,
                "host": platform.node(),
                "platform": platform.platform(),
                "numerics": fingerprint(),
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
        )

    def resume(self, step: int) -> None:
        """Continue this record from a checkpoint at optimizer step `step`: rows after it (steps the resumed run
        will redo) are dropped, the rest kept, and the status says running again, with the step resumed from."""
        if not self.enabled:
            return
        rows = [r for r in read_metrics(self.dir) if r["step"] <= step]
        tmp = self.dir / ".metrics.jsonl.tmp"
        tmp.write_text("".join(json.dumps({k: _clean(v) for k, v in r.items()}) + "\n" for r in rows))
        os.replace(tmp, self.dir / "metrics.jsonl")
        meta = json.loads((self.dir / "meta.json").read_text())
        meta.setdefault("resumed", []).append(
            {"step": step, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "git": git_revision(), "host": platform.node()}
        )
        atomic_write_json(self.dir / "meta.json", meta)
        atomic_write_json(self.dir / "status.json", {"status": "running", "started": self.t0, "resumed_from": step})

    def log(self, step: int, metrics: dict) -> None:
        if not self.enabled:
            return
        row = {
            "step": int(step),
            **{
                k: _clean(float(v))
                for k, v in metrics.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)
            },
        }
        with open(self.dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")

    def finish(self, status: str, **info) -> None:
        assert status in STATUSES[1:], status
        if not self.enabled:
            return
        rows = len(read_metrics(self.dir))  # recorded, so that a damaged metrics file is detected later
        atomic_write_json(
            self.dir / "status.json", {"status": status, "wall_s": time.time() - self.t0, "metrics_rows": rows, **info}
        )


def read_status(run_dir: Path) -> str | None:
    p = Path(run_dir) / "status.json"
    try:
        return json.loads(p.read_text())["status"]
    except (OSError, ValueError, KeyError):
        return None


def damage(run_dir: Path) -> str | None:
    """What is wrong with a run record that exists, in words, or None: a status file that is not valid JSON,
    or a finished record whose metrics file holds fewer readable rows than it had when the run finished."""
    p = Path(run_dir) / "status.json"
    if not p.exists():
        return None
    try:
        status = json.loads(p.read_text())
        status["status"]
    except (OSError, ValueError, KeyError, TypeError):
        return "status.json is unreadable (corrupt)"
    want = status.get("metrics_rows")
    if status["status"] in FINISHED and want is not None:
        have = len(read_metrics(run_dir))
        if have != want:
            return f"metrics.jsonl holds {have} readable rows of the {want} written (truncated or corrupt)"
    return None


def damaged_runs(root: Path | str) -> dict[Path, str]:
    """{run directory: what is wrong} for every damaged record under `root`."""
    out = {}
    for d in iter_run_dirs(root):
        problem = damage(d)
        if problem:
            out[d] = problem
    return out


def is_finished(run_dir: Path) -> bool:
    """Finished (complete or diverged) with an undamaged record: a damaged one counts as not finished."""
    return read_status(run_dir) in FINISHED and damage(run_dir) is None


def run_lock(run_dir: Path):
    """Hold an exclusive lock on one run (``<run_dir>.lock``) while the block runs: two processes - two
    workers, or two main jobs in one checkout - never train one configuration at once; the second waits, then
    finds the first's finished record. The kernel releases the lock of a killed process."""
    return file_lock(str(run_dir) + ".lock")


def read_metrics(run_dir: Path) -> list[dict]:
    p = Path(run_dir) / "metrics.jsonl"
    if not p.exists():
        return []
    rows = []
    for line in p.read_text().splitlines():
        try:
            rows.append({k: float(v) if isinstance(v, str) else v for k, v in json.loads(line).items()})
        except ValueError:  # a line cut by a kill
            continue
    return rows


def iter_run_dirs(root: Path) -> Iterable[Path]:
    root = Path(root)
    if not root.exists():
        return []
    return sorted(p.parent for p in root.rglob("config.json"))


def load_runs(root: Path | str, statuses: Iterable[str] = FINISHED, config_fields: Iterable[str] | None = None):
    """Every run under `root` with a status in `statuses` as a tidy DataFrame with columns
    run_id, experiment, name, seed, status, step, metric, value, plus the requested config fields
    (default: all scalar config fields)."""
    import pandas as pd

    frames = []
    for d in iter_run_dirs(root):
        status = read_status(d)
        if status not in set(statuses):
            continue
        cfg = json.loads((d / "config.json").read_text())
        exp = cfg.get("experiment", {})
        keys = (
            config_fields
            if config_fields is not None
            else [k for k, v in exp.items() if isinstance(v, (str, int, float, bool, type(None)))]
        )
        rows = read_metrics(d)
        if not rows:
            continue
        wide = pd.DataFrame(rows)
        long = wide.melt(id_vars="step", var_name="metric", value_name="value").dropna(subset=["value"])
        long.insert(0, "run_id", d.name)
        long.insert(1, "status", status)
        for k in keys:
            v = exp.get(k)
            long[k] = json.dumps(v) if isinstance(v, (dict, list)) else v
        if "reward" not in keys:
            long["reward"] = "+".join(f"{k}:{v:g}" for k, v in exp.get("reward", {}).items())
        frames.append(long)
    if not frames:
        return pd.DataFrame(columns=["run_id", "status", "step", "metric", "value"])
    return pd.concat(frames, ignore_index=True)
