"""Throughput of the sweep executors, and the cost of the kernel pins, as ratios measured in one run.

The same set of tiny-LM runs (default base, the book's rollout sizes, shortened) is trained from scratch by
each executor into its own directory: sequential (one thread), one worker with two threads (what a single
process uses on these machines by default), a process pool and a local Dask cluster with one single-threaded
worker per core. Then the default base's first pretraining steps are timed with native kernels and with the
AVX2 pins, alternating, in fresh processes. Results (with the machine's fingerprint) go to a JSON file.

Usage: python scripts/bench_executors.py [--runs 6] [--steps 32] [--out book/data/bench_executors.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PRETRAIN = """
import time, tempfile, rlvr_lib
from rlvr_lib.testbed.bases import DEFAULT
from rlvr_lib.testbed.pretrain import pretrain
with tempfile.TemporaryDirectory() as d:
    t = time.perf_counter(); pretrain(DEFAULT.with_(steps={steps}), d, progress=False)
    print(time.perf_counter() - t)
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=6)
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--pretrain-steps", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default="book/data/bench_executors.json")
    args = ap.parse_args()

    import shutil

    from rlvr_lib.experiments import lm_lab as lm
    from rlvr_lib.numerics import canary, fingerprint
    from rlvr_lib.rl.config import ExperimentConfig
    from rlvr_lib.rl.driver import resolve_base
    from rlvr_lib.rl.executors import run_many
    from rlvr_lib.rl.records import git_revision

    base_dir = resolve_base("default")[0]  # pretrained (or found) before any timing
    specs = ["sequential", "pool:1x2", "pool:2x1", "dask:2x1"]
    walls: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as root:
        for spec in specs:
            shared = {**lm.common("full", f"{root}/{spec.replace(':', '-')}", 2e-5), "max_steps": args.steps}
            shared["eval_every"] = args.steps
            arms = [lm.GROUND_TRUTH, lm.RANDOM_CLIP, lm.RANDOM_NO_CLIP]
            cfgs = [
                ExperimentConfig.from_dict({**shared, **a.config("default"), "seed": s}).to_dict()
                for s in range((args.runs + len(arms) - 1) // len(arms))
                for a in arms
            ][: args.runs]
            shutil.rmtree(base_dir / "evals", ignore_errors=True)  # every executor computes the step-0 evaluations
            t = time.perf_counter()
            run_many(cfgs, spec)
            walls[spec] = time.perf_counter() - t
            print(f"{spec:10s} {walls[spec]:6.1f} s for {len(cfgs)} runs", flush=True)

    pin_walls: dict[str, list[float]] = {"native": [], "pinned": []}
    for _ in range(args.repeats):
        for mode in ("native", "pinned"):
            env = {**os.environ, "RLVR_NUMERICS": "native" if mode == "native" else ""}
            for k in ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "ONEDNN_MAX_CPU_ISA"):
                env.pop(k, None)
            out = subprocess.run(
                [sys.executable, "-c", PRETRAIN.format(steps=args.pretrain_steps)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            pin_walls[mode].append(float(out.stdout.strip().splitlines()[-1]))
    med = {k: statistics.median(v) for k, v in pin_walls.items()}
    res = {
        "runs": args.runs,
        "steps_per_run": args.steps,
        "wall_s": walls,
        "throughput_vs_sequential": {k: walls["sequential"] / v for k, v in walls.items()},
        "throughput_vs_one_process_two_threads": {k: walls["pool:1x2"] / v for k, v in walls.items()},
        "dask_overhead_per_run_s": (walls["dask:2x1"] - walls["pool:2x1"]) / args.runs,
        "pretrain_wall_s": pin_walls,
        "pins_cost_ratio": med["pinned"] / med["native"],
        "machine": {**fingerprint(), "canary": canary()},
        "git": git_revision(),
        "date": time.strftime("%Y-%m-%d"),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1))
    print(json.dumps({k: res[k] for k in ("throughput_vs_sequential", "dask_overhead_per_run_s", "pins_cost_ratio")}))


if __name__ == "__main__":
    main()
