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
