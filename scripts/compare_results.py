"""Compare the results of two checkouts number for number: bases, tables, verdicts and run records.

    python scripts/compare_results.py CHECKOUT_A CHECKOUT_B [--tol 0]

Reads ``results/bases.json``, every ``results/*.csv``, ``results/verdicts/*.json`` and the metrics of every
run finished in both ``runs/`` trees (matched by run id), and prints, per file, whether the two agree exactly
(or within `--tol`), which columns differ and by how much. Files present on one side only are listed.
Wall-clock fields (``wall_s``, ``eval/wall_s``, ``step_time``, ``tokens_per_s``, ``pretrain_wall_s``) and the
step-0 cache flag ``eval/from_cache`` are ignored.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pandas as pd

IGNORED = {"wall_s", "eval/wall_s", "tokens_per_s", "pretrain_wall_s", "eval/from_cache", "step_time"}


def _num_diff(a, b) -> float:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if math.isnan(a) and math.isnan(b) or a == b:
            return 0.0
        return abs(a - b) if math.isfinite(a) and math.isfinite(b) else math.inf
    return 0.0 if a == b else math.inf


def compare_frames(a: pd.DataFrame, b: pd.DataFrame) -> dict[str, float]:
    """Largest difference per column (inf for a non-numeric mismatch or a column on one side only)."""
    out = {}
    if len(a) != len(b):
        return {"<rows>": math.inf}
    for c in sorted(set(a.columns) | set(b.columns)):
        if c in IGNORED:
            continue
        if c not in a or c not in b:
            out[c] = math.inf
            continue
        d = max((_num_diff(x, y) for x, y in zip(a[c].tolist(), b[c].tolist())), default=0.0)
        if d:
            out[c] = d
    return out


def run_metrics(root: Path) -> dict[str, pd.DataFrame]:
    out = {}
    for status in root.glob("runs/*/*/status.json"):
        try:
            if json.loads(status.read_text())["status"] not in ("complete", "diverged"):
                continue
        except (OSError, ValueError, KeyError):
            continue
        rows = [json.loads(line) for line in (status.parent / "metrics.jsonl").read_text().splitlines() if line]
        out[status.parent.name] = pd.DataFrame(rows)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--tol", type=float, default=0.0)
    args = ap.parse_args(argv)
    same, differ = 0, 0

    def report(name: str, diffs: dict[str, float]):
        nonlocal same, differ
        big = {k: v for k, v in diffs.items() if v > args.tol}
        if big:
            differ += 1
            print(f"DIFFER  {name}: " + ", ".join(f"{k} (max |diff| {v:.3g})" for k, v in sorted(big.items())))
        else:
            same += 1
            print(f"same    {name}")

    ra, rb = args.a / "results", args.b / "results"
    if (ra / "bases.json").is_file() and (rb / "bases.json").is_file():
        ba, bb = json.loads((ra / "bases.json").read_text()), json.loads((rb / "bases.json").read_text())
        for name in sorted(set(ba) | set(bb)):
            if name in ba and name in bb:
                report(f"bases.json[{name}]", compare_frames(pd.DataFrame([ba[name]]), pd.DataFrame([bb[name]])))
    files = sorted({p.relative_to(ra) for p in ra.rglob("*.csv")} | {p.relative_to(rb) for p in rb.rglob("*.csv")})
    for f in files:
        if not (ra / f).is_file() or not (rb / f).is_file():
            print(f"one side {f}")
            continue
        report(str(f), compare_frames(pd.read_csv(ra / f), pd.read_csv(rb / f)))
    for f in sorted(
        {p.name for p in (ra / "verdicts").glob("*.json")} | {p.name for p in (rb / "verdicts").glob("*.json")}
    ):
        if not (ra / "verdicts" / f).is_file() or not (rb / "verdicts" / f).is_file():
            print(f"one side verdicts/{f}")
            continue
        va, vb = (pd.DataFrame(json.loads((r / "verdicts" / f).read_text())) for r in (ra, rb))
        report(f"verdicts/{f}", compare_frames(va, vb))
    ma, mb = run_metrics(args.a), run_metrics(args.b)
    for rid in sorted(set(ma) & set(mb)):
        report(f"run {rid}", compare_frames(ma[rid], mb[rid]))
    print(
        f"{same} agree, {differ} differ; runs finished in both: {len(set(ma) & set(mb))} "
        f"(A only: {len(set(ma) - set(mb))}, B only: {len(set(mb) - set(ma))})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
