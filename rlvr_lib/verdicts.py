"""Verdicts: one statement, one verdict computed from data, why it came out so, and how it bears on the paper.

Notebooks end by building :class:`Verdict` objects from their own results and saving them with
:func:`save_verdicts`; the book collects them with :func:`load_verdicts`. A verdict is never typed by hand: it
is the output of a comparison written in the notebook's library call.

A verdict row carries four things a reader (and the book's tables) need to count it correctly:

* ``statement``: what this row tests, worded so that *supported* means the statement holds;
* ``polarity``: how the statement relates to the paper's claim named in ``claim``: +1 it is (part of) the
  claim, -1 it is the claim's negation, 0 it bears on the claim's explanation or on the design, not on whether
  the claim is true (e.g. "the misalignment moments alone predict C11");
* ``verdict``: one of :data:`VERDICTS`;
* ``reason``: a machine-readable cause of the verdict (one of :data:`REASONS` or a verdict function's own,
  documented where it is returned), from which the book composes its sentences.

:meth:`Verdict.stance` is the row's bearing on the paper's claim: +1 evidence for, -1 against, 0 neither.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

from rlvr_lib._checks import check_choice
from rlvr_lib.stats import seeds_needed, seeds_to_decide

VERDICTS = ("supported", "not supported", "inconclusive", "effect excluded", "not testable here", "premise absent")
LEVELS = ("exact", "tabular", "tiny LM (mechanism)", "tiny LM", "not testable here")
# the sign each verdict gives its own statement: an excluded effect means the predicted effect is not there
VERDICT_SIGN = {
    "supported": 1,
    "not supported": -1,
    "effect excluded": -1,
    "inconclusive": 0,
    "not testable here": 0,
    "premise absent": 0,
}
POLARITIES = (1, 0, -1)
# causes returned by decide_effect (verdict functions add their own, named where they return them)
REASONS = {
    "check_failed": "a manipulation check failed, so the outcome says nothing about the statement",
    "premise_false": "the statement's premise does not hold here",
    "beyond_margin": "the interval lies on the predicted side of zero and reaches past the margin",
    "opposite_side": "the interval lies on the other side of zero",
    "within_margin": "the interval lies within +-margin: any effect is smaller than the margin",
    "undecided": "the interval covers zero and reaches past the margin",
    "no_interval": "no interval could be computed (too few units)",
}


@dataclass
class Verdict:
    claim: str  # e.g. "C6", or "C6 (absolute)" for one of several rows about one claim
    verdict: str  # one of VERDICTS (defined in the glossary)
    statistic: str  # the numbers behind it, in words
    level: str  # exact / tabular / tiny LM (mechanism) / tiny LM / not testable here
    source: str = ""  # notebook that computed it
    statement: str = ""  # what this row tests ("supported" = it holds); empty: the claim's own statement
    polarity: int = 1  # +1 the statement is the claim, 0 it does not bear on the claim's truth, -1 its negation
    reason: str = ""  # machine-readable cause of the verdict (REASONS or the verdict function's own)

    def __post_init__(self):
        check_choice("verdict", self.verdict, VERDICTS)
        check_choice("level", self.level, LEVELS)
        check_choice("polarity", self.polarity, POLARITIES)
        if not self.reason:
            raise ValueError(f"verdict {self.claim!r} has no reason: say why it came out as {self.verdict!r}")

    def stance(self) -> int:
        """+1 if this row is evidence for the paper's claim, -1 against it, 0 neither."""
        return self.polarity * VERDICT_SIGN[self.verdict]

    def __str__(self):
        return f"{self.claim} [{self.level}]: {self.verdict.upper()} ({self.reason}) - {self.statistic}"


def decide(condition_for: bool, condition_against: bool) -> str:
    """'supported' if the evidence for holds, 'not supported' if the evidence against holds, else inconclusive."""
    if condition_for and not condition_against:
        return "supported"
    if condition_against and not condition_for:
        return "not supported"
    return "inconclusive"


class Decision(NamedTuple):
    verdict: str
    note: str  # in words, for the statistic
    reason: str  # a key of REASONS


def decide_effect(
    mean: float,
    half: float,
    n: int,
    margin: float,
    expect: int = 1,
    failed_checks: list[str] | tuple[str, ...] = (),
    premise: tuple[str, bool] | None = None,
) -> Decision:
    """(verdict, note, reason) for an effect estimated as `mean` +- `half` (95% interval over `n` units) against
    the smallest effect of interest `margin`, in the direction `expect` (+1 or -1) the statement predicts.

    In order: a failed manipulation check makes the statement *not testable here* (the note names the checks);
    a false premise (``(what, holds)``) makes it *premise absent*; an interval inside (-margin, +margin) means
    *effect excluded* down to the margin (two one-sided tests, each at 2.5%, so conservative) - also when it
    excludes zero, as an effect too small to count; an interval entirely on the predicted side of zero (and so
    reaching past the margin) *supports* it; one entirely on the other side of zero means *not supported*;
    anything else is *inconclusive*, and the note gives two seed counts at the measured spread: the units to
    *decide* at the measured effect (an interval clear of zero or inside the margin, :func:`stats.seeds_to_decide`)
    and the units for a half-width within the margin (:func:`stats.seeds_needed`)."""
    if expect not in (1, -1):
        raise ValueError(f"expect must be +1 or -1, got {expect!r}")
    if failed_checks:
        return Decision("not testable here", "manipulation check failed: " + "; ".join(failed_checks), "check_failed")
    if premise is not None and not premise[1]:
        return Decision("premise absent", premise[0], "premise_false")
    lo, hi = sorted((expect * (mean - half), expect * (mean + half)))  # on the predicted side when positive
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return Decision("inconclusive", f"no interval (n = {n})", "no_interval")
    if -margin < lo and hi < margin:
        extra = "; nonzero but smaller than the margin" if lo > 0 or hi < 0 else ""
        return Decision("effect excluded", f"the 95% interval lies within +-{margin:g}{extra}", "within_margin")
    if lo > 0:
        return Decision(
            "supported",
            f"the 95% interval lies on the predicted side of zero and reaches past {margin:g}",
            "beyond_margin",
        )
    if hi < 0:
        return Decision("not supported", "the 95% interval lies on the other side of zero", "opposite_side")
    k_decide = seeds_to_decide(mean, half, n, margin)
    k_margin = seeds_needed(half, n, margin)
    return Decision(
        "inconclusive",
        f"deciding at the measured effect and spread would need {_units(k_decide)} in all; a half-width within "
        f"the margin {margin:g}, {_units(k_margin)}",
        "undecided",
    )


def _units(k: int, cap: int = 10_000) -> str:
    return f"about {k} seeds" if k < cap else f"more than {cap:,} seeds"


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
