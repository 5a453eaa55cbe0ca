"""Verdicts: one claim, one verdict computed from data, the statistic behind it, and the level of evidence.

Notebooks end by building :class:`Verdict` objects from their own results and saving them with
:func:`save_verdicts`; the book's scorecard collects them with :func:`load_verdicts`. A verdict is never
typed by hand: it is the output of a comparison written in the notebook's library call.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from rlvr_lib._checks import check_choice
from rlvr_lib.stats import seeds_needed

VERDICTS = ("supported", "not supported", "inconclusive", "effect excluded", "not testable here", "premise absent")
LEVELS = ("exact", "tabular", "tiny LM (mechanism)", "tiny LM", "not testable here")


@dataclass
class Verdict:
    claim: str  # e.g. "C6"
    verdict: str  # one of VERDICTS (defined in the glossary)
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


def decide_effect(
    mean: float,
    half: float,
    n: int,
    margin: float,
    expect: int = 1,
    failed_checks: list[str] | tuple[str, ...] = (),
    premise: tuple[str, bool] | None = None,
) -> tuple[str, str]:
    """(verdict, note) for an effect estimated as `mean` +- `half` (95% interval over `n` units) against the
    smallest effect of interest `margin`, in the direction `expect` (+1 or -1) the claim predicts.

    In order: a failed manipulation check makes the claim *not testable here* (the note names the checks); a
    false premise (``(what, holds)``) makes it *premise absent*; an interval entirely on the predicted side of
    zero that reaches past the margin *supports* it; one entirely on the other side of zero means *not
    supported*; an interval inside (-margin, +margin) means *effect excluded* down to the margin (two
    one-sided tests, each at 2.5%, so conservative) - also when it excludes zero, as an effect too small to
    count; anything else is *inconclusive*, and the note gives the seeds a decisive interval would need."""
    if expect not in (1, -1):
        raise ValueError(f"expect must be +1 or -1, got {expect!r}")
    if failed_checks:
        return "not testable here", "manipulation check failed: " + "; ".join(failed_checks)
    if premise is not None and not premise[1]:
        return "premise absent", premise[0]
    lo, hi = sorted((expect * (mean - half), expect * (mean + half)))  # on the predicted side when positive
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "inconclusive", f"no interval (n = {n})"
    inside = -margin < lo and hi < margin
    if inside:
        extra = "; nonzero but smaller than the margin" if lo > 0 or hi < 0 else ""
        return "effect excluded", f"the 95% interval lies within +-{margin:g}{extra}"
    if lo > 0:
        return "supported", f"the 95% interval lies on the predicted side of zero and reaches past {margin:g}"
    if hi < 0:
        return "not supported", "the 95% interval lies on the other side of zero"
    k = seeds_needed(half, n, margin)
    more = f"about {k} seeds" if k < 10_000 else "more than 10,000 seeds"
    return "inconclusive", f"a half-width within the margin {margin:g} would need {more} at the measured spread"


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
