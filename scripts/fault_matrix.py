"""The fault matrix: kill -9 and damaged files at each stage of the main job, each case ending with a rerun that
must complete with nothing lost and nothing half-done counted.

Runs in a scratch clone of this repository's HEAD (its own runs, results, book and base cache), with the
smoke profile where the stage has one and the process-pool executor. Writes the matrix (case, what was
checked, result, seconds) as CSV and prints it. Takes about 15 minutes on 2 cores.

Usage: python scripts/fault_matrix.py [--out book/data/fault_matrix.csv] [--keep]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


class Case:
    def __init__(self, clone: Path, env: dict):
        self.clone, self.env = clone, env

    def start(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "rlvr_lib.main", *args],
            cwd=self.clone,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group: kill -9 takes the kernels and workers with it
        )

    def run(self, *args: str, timeout: int = 1500) -> str:
        p = self.start(*args)
        out, _ = p.communicate(timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError(f"main job {args} failed ({p.returncode}):\n{out[-3000:]}")
        return out

    def kill_when(self, proc: subprocess.Popen, ready, timeout: float = 900, group: bool = True) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the job ended (rc {proc.returncode}) before the moment to kill it came")
            target = ready()
            if target:
                if group:
                    os.killpg(proc.pid, signal.SIGKILL)
                else:
                    os.kill(int(target), signal.SIGKILL)
                    return
                proc.wait()
                return
            time.sleep(0.05)
        raise RuntimeError("the moment to kill never came")


def run_records(root: Path):
    from rlvr_lib.rl.records import damage, iter_run_dirs, read_metrics, read_status

    out = {}
    for d in iter_run_dirs(root):
        st = read_status(d)
        steps = [r["step"] for r in read_metrics(d) if "loss" in r]
        out[d.name] = (st, damage(d), steps)
    return out


def all_runs_clean(root: Path) -> str:
    recs = run_records(root)
    bad = {k: v for k, v in recs.items() if v[0] != "complete" or v[1] or v[2] != list(range(1, len(v[2]) + 1))}
    if bad or not recs:
        raise AssertionError(f"runs not clean: {bad or 'none found'}")
    return f"{len(recs)} run records, all complete and whole"


def running_run(root: Path):
    from rlvr_lib.rl.records import iter_run_dirs, read_metrics, read_status

    for d in iter_run_dirs(root):
        if read_status(d) == "running" and len(read_metrics(d)) >= 2:
            return json.loads((d / "status.json").read_text()).get("pid") or True
    return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(REPO / "book" / "data" / "fault_matrix.csv"))
    ap.add_argument("--keep", action="store_true", help="keep the scratch clone")
    ap.add_argument("--only", nargs="+", help="run only these cases (by key) and update their rows in --out")
    args = ap.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="fault-matrix-"))
    clone = scratch / "repo"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    env = {
        **os.environ,
        "RLVR_CACHE_DIR": str(scratch / "cache"),
        "RLVR_EXECUTOR": "pool:2x1",
        "PYTHONPATH": str(clone),
    }
    c = Case(clone, env)
    rows = []

    def case(name: str, checked: str, fn) -> None:
        t = time.perf_counter()
        try:
            detail = fn()
            result = "pass: " + detail
        except Exception as e:  # the matrix records a failing case and goes on
            result = f"FAIL: {type(e).__name__}: {str(e)[:400]}"
        rows.append({"case": name, "checked": checked, "result": result, "seconds": round(time.perf_counter() - t)})
        print(f"[{rows[-1]['seconds']:4d} s] {name}: {result}", flush=True)

    runs = clone / "runs"
    executed = clone / "book" / "executed"

    def pretraining():
        bases = scratch / "cache" / "bases"
        p = c.start("--only", "bases")
        c.kill_when(p, lambda: any(bases.glob(".tmp-*")) and True)
        half = [d.name for d in bases.glob(".tmp-*")]
        complete_before = [d.name for d in bases.iterdir() if (d / "pretrain.json").exists()]
        c.run("--only", "bases")
        done = [d for d in bases.iterdir() if d.is_dir() and not d.name.startswith(".")]
        assert all((d / "pretrain.json").exists() for d in done) and len(done) == 5, done
        assert not any(bases.glob(".tmp-*")), "a half-written base was left behind"
        return f"killed with {len(half)} half-written base(s) and {len(complete_before)} complete; rerun: 5 bases whole"

    def sweep():
        p = c.start("--profile", "smoke", "--only", "lm")
        c.kill_when(p, lambda: running_run(runs))
        running = [k for k, v in run_records(runs).items() if v[0] == "running"]
        c.run("--profile", "smoke", "--only", "lm")
        return f"killed with {len(running)} run(s) half-trained; rerun: " + all_runs_clean(runs)

    def worker():
        shutil.rmtree(runs, ignore_errors=True)
        p = c.start("--profile", "smoke", "--only", "lm", "--force")
        c.kill_when(p, lambda: running_run(runs), group=False)
        out, _ = p.communicate(timeout=1500)
        assert p.returncode == 0, out[-2000:]
        # the sweep runs inside a notebook's kernel: its message is in that notebook's output
        told = [nb.stem for nb in executed.glob("lm_*.ipynb") if "a pool worker died" in nb.read_text()]
        assert told, "no notebook reports the dead worker"
        return f"the same job went on (pool restarted, reported in {told[0]}); " + all_runs_clean(runs)

    def notebook():
        p = c.start("--profile", "smoke", "--only", "theory", "--force")
        c.kill_when(p, lambda: any(executed.glob(".*.running.ipynb")))
        c.run("--profile", "smoke", "--only", "theory")
        again = c.run("--profile", "smoke", "--only", "theory")
        lines = [ln for ln in again.splitlines() if ln.startswith("notebook ")]
        assert lines and all(ln.endswith("cached") for ln in lines), lines
        assert not any(executed.glob(".*.running.ipynb")), "a half-executed notebook was left behind"
        return f"rerun executed what was missing; a third run found all {len(lines)} theory notebooks cached"

    def book():
        html = clone / "book" / "_build" / "html"
        shutil.rmtree(html.parent, ignore_errors=True)
        p = c.start("--profile", "smoke", "--only", "book")
        c.kill_when(p, lambda: html.exists() and any(html.rglob("*.html")))
        c.run("--profile", "smoke", "--only", "book")
        assert (html / "index.html").is_file()
        return f"rerun built the book ({len(list(html.rglob('*.html')))} pages) with warnings as errors"

    def damaged():
        from rlvr_lib.rl.records import read_metrics

        dirs = sorted(d for d in runs.rglob("status.json"))[:2]
        a, b = dirs[0].parent, dirs[1].parent
        rows_a = (a / "metrics.jsonl").read_text().splitlines()
        (a / "metrics.jsonl").write_text("\n".join(rows_a[:2]) + "\n" + rows_a[2][:9])
        (b / "status.json").write_text('{"status": "compl')
        out = c.run("--profile", "smoke", "--only", "lm")
        assert "truncated" in out and "corrupt" in out, "no clear message about the damaged records"
        assert out.count("training the run again") >= 2, out[-2000:]
        assert len(read_metrics(a)) == len(rows_a)
        return "both detected with a message, both retrained; " + all_runs_clean(runs)

    def two_jobs():
        shutil.rmtree(runs, ignore_errors=True)
        for nb in executed.glob("lm_*.ipynb"):
            nb.unlink()
        jobs = [c.start("--profile", "smoke", "--only", "lm") for _ in range(2)]
        outs = [p.communicate(timeout=1500)[0] for p in jobs]
        assert all(p.returncode == 0 for p in jobs), [o[-1500:] for o in outs]
        executed_now = [ln for o in outs for ln in o.splitlines() if ln.startswith("notebook ") and ln.endswith(" s")]
        cached = [ln for o in outs for ln in o.splitlines() if ln.startswith("notebook ") and ln.endswith("cached")]
        from rlvr_lib.pipeline.runner import TINY_LM

        assert len(executed_now) == len(TINY_LM) and len(cached) == len(TINY_LM), (executed_now, cached)
        return (
            f"each of the {len(TINY_LM)} notebooks executed once (the other job waited, then found it cached); "
            + all_runs_clean(runs)
        )

    def wrong_type():
        code = (
            "from rlvr_lib.pipeline.runner import run_notebook; import tempfile; "
            "run_notebook('theory_c1_advantages', {'profile': 5}, out_dir=tempfile.mkdtemp())"
        )
        p = subprocess.run([sys.executable, "-c", code], cwd=clone, env=env, capture_output=True, text=True)
        assert p.returncode != 0
        msg = "notebook parameter 'profile' must be str, got int: 5"
        assert msg in p.stderr, p.stderr[-2000:]
        return f"papermill stopped at the check cell: {msg}"

    cases = [
        ("pretraining", "kill -9 of the main job during pretraining", "full bases stage: no half-written base used"),
        ("sweep", "kill -9 of the main job during a sweep", "smoke lm stage, pool executor: half-trained run redone"),
        ("worker", "kill -9 of a pool worker during a run", "smoke lm stage: the pool restarts the lost run"),
        ("notebook", "kill -9 of the main job during notebook execution", "smoke theory stage: no half output cached"),
        ("book", "kill -9 of the main job during the book build", "book stage: the rebuild is strict and complete"),
        ("damaged", "truncated metrics file, corrupt status file", "two run records damaged by hand: detected, redone"),
        ("wrong_type", "notebook parameter of the wrong type", "papermill execution with profile=5"),
        ("two_jobs", "two main jobs started at once in one checkout", "smoke lm stage twice, concurrently"),
    ]
    fns = {"pretraining": pretraining, "sweep": sweep, "worker": worker, "notebook": notebook, "book": book}
    fns |= {"damaged": damaged, "wrong_type": wrong_type, "two_jobs": two_jobs}
    chosen = args.only or [k for k, _, _ in cases]
    unknown = sorted(set(chosen) - set(fns))
    if unknown:
        raise SystemExit(f"unknown case(s) {unknown}; known: {[k for k, _, _ in cases]}")
    for key, name, checked in cases:
        if key not in chosen:
            continue
        if key == "book":
            c.run("--profile", "smoke", "--only", "probes", "--only", "theory")  # the book needs their results
        if key == "damaged" and not any(runs.rglob("status.json")):
            c.run("--profile", "smoke", "--only", "lm")
        case(name, checked, fns[key])

    if args.only and Path(args.out).exists():  # keep the other cases' rows from the last full run
        with open(args.out) as f:
            old_rows = list(csv.DictReader(f))
        new = {r["case"]: r for r in rows}
        rows = [new.pop(r["case"], r) for r in old_rows] + list(new.values())
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["case", "checked", "result", "seconds"])
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {args.out}")
    if not args.keep:
        shutil.rmtree(scratch, ignore_errors=True)
    if any(r["result"].startswith("FAIL") for r in rows):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
