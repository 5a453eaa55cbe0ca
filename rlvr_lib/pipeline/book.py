"""Helpers for the book's own pages: the scorecard, claim chapters and the testbed table.

They read what the notebooks wrote (``results/verdicts/*.json``, ``results/*.csv``, ``results/bases.json``) and
return tables; they never hold a number of their own, except the paper's and Shao et al.'s REPORTED numbers in
:data:`REPORTED`, which are labelled as reported wherever they appear.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd

from rlvr_lib.verdicts import load_verdicts

CLAIMS = {
    "C1": "Random-reward advantages are symmetric, bounded by sqrt(G) - 1/sqrt(G), with vanishing odd moments",
    "C2": "The first-order entropy change under random rewards has zero mean",
    "C3": "The clipping correction is small next to the raw surrogate (law of clipping)",
    "C4": "Random-reward training without clipping still improves accuracy",
    "C5": "Unclipped, the entropy change is second order; its sign depends on the policy's skewness",
    "C6": "With clipping, random-reward training lowers entropy",
    "C7": "Clipping stabilises training",
    "C8": "Entropy minimisation alone helps only when the mode is correct",
    "C9": "Random-reward gains are not only contamination",
    "C10": "Reward-misalignment model: moments of the lost advantage mass",
    "C11": "Stronger models gain more from spurious rewards",
    "C12": "Clipping is an entropy and stability knob, not a learning signal",
}

REPORTED = pd.DataFrame(
    [
        {
            "source": "Chen et al. 2025 (reported)",
            "quantity": "E|N_raw| / E|C+| lower bound",
            "value": "about 17",
            "setting": "eta 5e-7, eps 0.2, p+ 1e-3, G 16, L 4096",
        },
        {
            "source": "Chen et al. 2025 (reported)",
            "quantity": "share of clipped tokens",
            "value": "about 0.1%",
            "setting": "Qwen2.5-Math-7B, random reward",
        },
        {
            "source": "Chen et al. 2025 (reported)",
            "quantity": "collapse without clipping",
            "value": "around step 150",
            "setting": "R1-Distill-Llama-8B, random reward",
        },
        {
            "source": "Shao et al. 2025 (reported)",
            "quantity": "MATH-500 gain, ground truth",
            "value": "+29.1",
            "setting": "Qwen2.5-Math-7B",
        },
        {
            "source": "Shao et al. 2025 (reported)",
            "quantity": "MATH-500 gain, incorrect label",
            "value": "+24.1",
            "setting": "Qwen2.5-Math-7B",
        },
        {
            "source": "Shao et al. 2025 (reported)",
            "quantity": "MATH-500 gain, random",
            "value": "+21.4",
            "setting": "Qwen2.5-Math-7B",
        },
        {
            "source": "Shao et al. 2025 (reported)",
            "quantity": "MATH-500 gain, format",
            "value": "+13.8",
            "setting": "Qwen2.5-Math-7B",
        },
        {
            "source": "Shao et al. 2025 (reported)",
            "quantity": "Qwen2.5-Math-7B MATH-500 baseline",
            "value": "49.4 / 69.0",
            "setting": "with a prompt template / with none",
        },
    ]
)

LEVEL_ORDER = {"exact": 0, "tabular": 1, "tiny LM (mechanism)": 2, "tiny LM": 3, "not testable here": 4}


def verdict_table(results_dir: str | Path = "../results", claims: list[str] | None = None) -> pd.DataFrame:
    rows = []
    for v in load_verdicts(results_dir):
        key = v.claim.split()[0]
        if claims is not None and key not in claims:
            continue
        rows.append(
            {"claim": v.claim, "level": v.level, "verdict": v.verdict, "statistic": v.statistic, "evidence": v.source}
        )
    df = pd.DataFrame(rows, columns=["claim", "level", "verdict", "statistic", "evidence"])
    if df.empty:
        return df
    df["_c"] = df.claim.str.extract(r"C(\d+)")[0].astype(float).fillna(99)
    df["_l"] = df.level.map(LEVEL_ORDER)
    return df.sort_values(["_c", "claim", "_l"]).drop(columns=["_c", "_l"]).reset_index(drop=True)


def scorecard(results_dir: str | Path = "../results") -> pd.DataFrame:
    """One row per claim C1-C12 with every verdict computed for it (or 'not tested' when none was)."""
    v = verdict_table(results_dir)
    rows = []
    for c, text in CLAIMS.items():
        sub = v[v.claim.str.split().str[0] == c] if not v.empty else v
        if sub.empty:
            rows.append(
                {"claim": c, "statement": text, "level": "-", "verdict": "not tested", "statistic": "", "evidence": ""}
            )
        for _, r in sub.iterrows():
            rows.append({"claim": c, "statement": text, **r.drop("claim").to_dict()})
    return pd.DataFrame(rows)


def to_html(df: pd.DataFrame, link_col: str = "evidence") -> str:
    """An HTML table whose `link_col` cells link to the executed notebook pages."""
    d = df.copy()
    if link_col in d:
        d[link_col] = [
            f'<a href="executed/{html.escape(s)}.html">{html.escape(s)}</a>' if s else "" for s in d[link_col]
        ]
    for c in d.columns:
        if c != link_col:
            d[c] = d[c].map(lambda x: html.escape(str(x)))
    return d.to_html(index=False, escape=False, classes="rlvr-table", border=0)


def bases_table(results_dir: str | Path = "../results") -> pd.DataFrame:
    """The named bases' dials and, where the main job measured them, their held-out accuracies."""
    from rlvr_lib.testbed.bases import BASES

    measured = {}
    p = Path(results_dir) / "bases.json"
    if p.exists():
        measured = json.loads(p.read_text())
    rows = []
    for name, cfg in BASES.items():
        m = measured.get(name, {})
        rows.append(
            {
                "base": name,
                "reliable_share": cfg.reliable_share,
                "contamination": cfg.contamination,
                "pretrain steps": cfg.steps,
                "greedy_acc": m.get("greedy_acc"),
                "sampled_acc": m.get("sampled_acc"),
                "exact_acc": m.get("exact_acc"),
                "share_reliable": m.get("share_reliable"),
                "tokens/s": m.get("tokens_per_s"),
                "pretrain s": m.get("pretrain_wall_s"),
            }
        )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------------------
# the reproducibility page


def machine_table(results_dir: str | Path = "../results") -> pd.DataFrame:
    """The machine the main job ran on (``results/machine.json``): CPU, kernels, pins, threads, canary."""
    p = Path(results_dir) / "machine.json"
    if not p.exists():
        return pd.DataFrame({"field": ["(no main job has run in this checkout)"], "value": [""]})
    m = json.loads(p.read_text())
    rows = {
        "CPU": f"{m['cpu']['model']} ({m['cpu']['vendor']}, {m['machine']})",
        "instruction sets seen": ", ".join(m["cpu"]["flags"]),
        "ATen kernels in use": m["aten_capability"],
        "pins": ", ".join(f"{k}={v}" for k, v in m["pins"].items() if v) or "none (native kernels)",
        "torch threads of the main process": m["torch_threads"],
        "torch / Python": f"{m['torch']} / {m['python']}",
        "executor of the tiny-LM runs": m.get("executor", ""),
        "canary": m["canary"],
    }
    return pd.DataFrame({"field": list(rows), "value": [str(v) for v in rows.values()]})


def executed_table(executed_dir: str | Path = "executed") -> pd.DataFrame:
    """Where and how each executed notebook of this book was computed (from its metadata)."""
    rows = []
    for p in sorted(Path(executed_dir).glob("[!.]*.ipynb")):
        if p.name.endswith(".failed.ipynb"):
            continue
        meta = json.loads(p.read_text())["metadata"].get("rlvr", {})
        m = meta.get("machine") or {}
        rows.append(
            {
                "notebook": p.stem,
                "profile": meta.get("parameters", {}).get("profile", ""),
                "executor": meta.get("executor", ""),
                "CPU": (m.get("cpu") or {}).get("model", "(not recorded)"),
                "ATen kernels": m.get("aten_capability", ""),
                "wall s": round(meta["wall_s"]) if "wall_s" in meta else None,
            }
        )
    return pd.DataFrame(rows)


def fault_matrix(path: str | Path = "data/fault_matrix.csv") -> pd.DataFrame:
    """The fault matrix as written by ``scripts/fault_matrix.py``."""
    p = Path(path)
    if not p.exists():
        return pd.DataFrame({"case": ["(scripts/fault_matrix.py has not been run)"]})
    return pd.read_csv(p)


def executor_benchmark(path: str | Path = "data/bench_executors.json") -> pd.DataFrame:
    """Wall time and throughput of each executor on one set of runs, from ``scripts/bench_executors.py``."""
    p = Path(path)
    if not p.exists():
        return pd.DataFrame({"executor": ["(scripts/bench_executors.py has not been run)"]})
    b = json.loads(p.read_text())
    return pd.DataFrame(
        {
            "executor": list(b["wall_s"]),
            "wall s": [round(v, 1) for v in b["wall_s"].values()],
            "throughput vs sequential (1 thread)": [round(v, 2) for v in b["throughput_vs_sequential"].values()],
            "throughput vs one process, 2 threads": [
                round(v, 2) for v in b["throughput_vs_one_process_two_threads"].values()
            ],
        }
    )
