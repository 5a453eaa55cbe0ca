"""Verdicts: one claim, one verdict computed from data, the statistic behind it, and the level of evidence.

Notebooks end by building :class:`Verdict` objects from their own results and saving them with
:func:`save_verdicts`; the book's scorecard collects them with :func:`load_verdicts`. A verdict is never
typed by hand: it is the output of a comparison written in the notebook's library call.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from rlvr_lib._checks import check_choice

VERDICTS = ("supported", "not supported", "inconclusive")
LEVELS = ("exact", "tabular", "tiny LM (mechanism)", "tiny LM", "not testable here")


@dataclass
class Verdict:
    claim: str  # e.g. "C6"
    verdict: str  # supported / not supported / inconclusive
    statistic: str  # the numbers behind it, in words
    level: str  # exact / tabular / tiny LM / not testable here
    source: str = ""  # notebook that computed it

    def __post_init__(self):
        check_choice("verdict", self.verdict, VERDICTS)
        check_choice("level", self.level, LEVELS)

    def __str__(self):
        return f"{self.claim} [{self.level}]: {self.verdict.upper()} - {self.statistic}"


def decide(condition_for: bool, condition_against: bool) -> str:
    """'supported' if the evidence for holds, 'not supported' if the evidence against holds, else inconclusive."""
    if condition_for and not condition_against:
        return "supported"
    if condition_against and not condition_for:
        return "not supported"
    return "inconclusive"


def save_verdicts(verdicts: list[Verdict], results_dir: str | Path, source: str) -> Path:
    d = Path(results_dir) / "verdicts"
    d.mkdir(parents=True, exist_ok=True)
    for v in verdicts:
        v.source = source
        print(v)
    path = d / f"{source}.json"
    path.write_text(json.dumps([asdict(v) for v in verdicts], indent=1))
    return path


def load_verdicts(results_dir: str | Path) -> list[Verdict]:
    out = []
    for p in sorted((Path(results_dir) / "verdicts").glob("*.json")):
        out += [Verdict(**v) for v in json.loads(p.read_text())]
    return out


def save_table(table, results_dir: str | Path, name: str):
    """Write a result table as CSV under `results_dir` (created if needed) and return it for display."""
    d = Path(results_dir)
    d.mkdir(parents=True, exist_ok=True)
    table.to_csv(d / f"{name}.csv", index=False)
    return table
