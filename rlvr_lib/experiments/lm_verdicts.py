"""The tiny-LM experiments' verdicts (E1-E7) and their manipulation checks.

Each verdict function decides from per-seed changes against a margin fixed before the runs (:func:`margin_verdict`
and ``rlvr_lib.verdicts.decide_effect``), checks the manipulation first (did clipping bind, did entropy fall, did
contamination make items easier) and returns :class:`~rlvr_lib.verdicts.Verdict` records with a statement, a
polarity and a machine-readable reason.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rlvr_lib.experiments.lm_arms import (
    CLIP_HIGHER,
    ENTROPY_COEF,
    ENTROPY_REWARD,
    EPS_02,
    GROUND_TRUTH,
    PRIMARY,
    RANDOM,
    RANDOM_CLIP,
    RANDOM_NO_CLIP,
    base,
    common,
)
from rlvr_lib.experiments.lm_tables import (
    _bootstrap_units,
    _change,
    _row,
    _slope_over_units,
    collapse_step,
    fmt,
    paired_difference,
)
from rlvr_lib.stats import interval_sign, mean_ci
from rlvr_lib.verdicts import Verdict, decide, decide_effect


def clip_check(df: pd.DataFrame, arm: str, floor: float) -> tuple[str, bool]:
    """Did clipping bind in `arm`? Mean share of clipped tokens over its runs' training steps against `floor`."""
    v = df[(df.arm == arm) & (df.metric == "clip_ratio/region_mean")].value
    share = float(v.mean()) if len(v) else float("nan")
    ok = bool(np.isfinite(share) and share >= floor)
    return f"clipping binds in '{arm}' (clipped tokens {share:.2%}, needs >= {floor:.2%})", ok


def lowered_check(table: pd.DataFrame, arm: str, metric: str = "eval/entropy", group: str | None = None):
    """Did `arm` lower `metric` (its change's 95% interval below zero)?"""
    t = table if group is None else table[table.group == group]
    r = _row(t, arm, metric)
    ok = r is not None and interval_sign(r.change, r.ci) < 0
    where = f" on the {group} base" if group else ""
    text = f"'{arm}' lowers {metric}{where} ({fmt(r.change, r.ci) if r is not None else 'not measured'})"
    return text, bool(ok)


def contamination_check(
    df: pd.DataFrame, margin: float, clean_base: dict, metric: str = "exact_acc"
) -> tuple[str, bool]:
    """Before any RL (step 0), does the contaminated base score higher on its contaminated items than the clean
    base does on the same items (`clean_base`: :func:`clean_base_on_contaminated_items`), by more than
    `margin`? That gain is what memorisation bought. Exact accuracy at step 0 does not depend on the seed, so
    the check is a plain comparison."""
    s0 = df[df.step == 0].pivot_table(index="run_id", columns="metric", values="value")
    col = f"eval/contaminated/{metric}"
    if col not in s0.columns:
        return "the base has no contaminated items", False
    dirty = float(s0[col].mean())
    clean_items = float(s0[f"eval/clean/{metric}"].mean())
    gain = dirty - clean_base["contaminated"]
    return (
        f"memorisation shows before RL: on the contaminated items the contaminated base scores {dirty:.3f}, the "
        f"clean base {clean_base['contaminated']:.3f} (gain {gain:+.3f}, needs > {margin:g}); on the clean items "
        f"{clean_items:.3f} and {clean_base['clean']:.3f}",
        bool(gain > margin),
    )


def clean_base_on_contaminated_items(profile: str, n_items: int | None = None) -> dict:
    """The clean `default` base's exact accuracy, before any RL, on the `contaminated` base's evaluation items
    (the first `n_items`, by default as many as the profile's runs evaluate): {"contaminated": on the items that
    base saw solved, "clean": on the others}."""
    import torch

    from rlvr_lib.rl.driver import resolve_base
    from rlvr_lib.testbed.evaluation import exact_accuracy
    from rlvr_lib.testbed.models import load_policy
    from rlvr_lib.testbed.tasks import eval_items

    _, dirty = resolve_base(base("contaminated", profile))
    clean_path, _ = resolve_base(base("default", profile))
    model, tok = load_policy(clean_path, progress=False)
    n_items = n_items or common(profile, "", 0.0)["eval_items"]
    items = eval_items(dirty.task, dirty.contamination, dirty.contamination_digits)[:n_items]
    with torch.no_grad():
        acc = exact_accuracy(model.eval(), tok, items, fmt=dirty.task.format)
    flags = np.array([it["contaminated"] for it in items])
    return {"contaminated": float(acc[flags].mean()), "clean": float(acc[~flags].mean())}


def margin_verdict(
    claim: str,
    est: tuple[float, float, int],
    margin: float,
    statistic: str,
    expect: int = 1,
    checks: list[tuple[str, bool]] = (),
    premise: tuple[str, bool] | None = None,
    statement: str = "",
    polarity: int = 1,
) -> Verdict:
    """A tiny-LM verdict from an estimate (mean, 95% half-width, n) against a margin, with the manipulation
    checks it depends on (see :func:`rlvr_lib.verdicts.decide_effect`, whose reason it carries). The statistic
    says what was checked; `statement` what the row tests, in the direction `expect`."""
    m, h, n = est
    verdict, note, reason = decide_effect(m, h, n, margin, expect, [t for t, ok in checks if not ok], premise)
    passed = [t for t, ok in checks if ok]
    tail = f"; checks passed: {'; '.join(passed)}" if passed and verdict != "not testable here" else ""
    return Verdict(
        claim,
        verdict,
        f"{statistic} (n = {n}, margin {margin:g}): {note}{tail}",
        "tiny LM",
        statement=statement,
        polarity=polarity,
        reason=reason,
    )


def e1_verdicts(
    df: pd.DataFrame,
    table: pd.DataFrame,
    acc_margin: float,
    entropy_margin: float,
    clip_floor: float,
    stress: pd.DataFrame | None = None,
) -> list[Verdict]:
    """C4 (random reward without clipping gains), C6 twice - relative (clip minus no clip, paired by seed) and
    absolute (does held-out entropy fall under random reward with clipping, as the paper states it) - and C7
    (clipping stabilises): C7 at the chosen step size and, with `stress` (the same two arms at a larger step
    size), in the stress regime - exact accuracy clip minus no clip, with the peak importance ratio and the time
    to collapse reported beside it."""
    c4 = _change(table, RANDOM_NO_CLIP.label, PRIMARY)
    dH = paired_difference(df, "eval/entropy", RANDOM_CLIP.label, RANDOM_NO_CLIP.label, "change")
    h_clip = _change(table, RANDOM_CLIP.label, "eval/entropy")
    binds = clip_check(df, RANDOM_CLIP.label, clip_floor)
    out = [
        margin_verdict(
            "C4",
            c4,
            acc_margin,
            f"random reward without clipping: change in held-out exact accuracy {fmt(*c4[:2])}",
            statement="random-reward GRPO without clipping raises exact accuracy",
        ),
        margin_verdict(
            "C6",
            dH,
            entropy_margin,
            f"change in held-out entropy, clip minus no clip (paired by seed): {fmt(dH[0], dH[1])} nats",
            expect=-1,
            checks=[binds],
            statement="under a random reward, clipping lowers held-out entropy relative to no clipping",
        ),
        margin_verdict(
            "C6 (absolute)",
            h_clip,
            entropy_margin,
            f"random reward with clipping: change in held-out entropy from step 0 {fmt(*h_clip[:2])} nats",
            expect=-1,
            checks=[binds],
            statement="random-reward GRPO with clipping lowers held-out entropy",
        ),
    ]
    for label, d in (("chosen step size", df), ("stress regime", stress)):
        if d is None:
            continue
        dA = paired_difference(d, PRIMARY, RANDOM_CLIP.label, RANDOM_NO_CLIP.label, "change")
        dR = paired_difference(d, "ratio/max", RANDOM_NO_CLIP.label, RANDOM_CLIP.label, "peak")
        col = collapse_step(d)
        runs = d.drop_duplicates("run_id").set_index("run_id").arm
        collapsed = {a: int(col[runs == a].notna().sum()) for a in (RANDOM_CLIP.label, RANDOM_NO_CLIP.label)}
        n_runs = {a: int((runs == a).sum()) for a in collapsed}
        out.append(
            margin_verdict(
                f"C7 ({label})",
                dA,
                acc_margin,
                f"change in exact accuracy, clip minus no clip (paired by seed): {fmt(dA[0], dA[1])}; peak "
                f"importance ratio, no clip minus clip: {fmt(dR[0], dR[1])}; runs collapsing below half their "
                f"initial exact accuracy: clip {collapsed[RANDOM_CLIP.label]}/{n_runs[RANDOM_CLIP.label]}, no clip "
                f"{collapsed[RANDOM_NO_CLIP.label]}/{n_runs[RANDOM_NO_CLIP.label]}",
                checks=[clip_check(d, RANDOM_CLIP.label, clip_floor)],
                statement=f"under a random reward, clipping keeps exact accuracy higher than no clipping ({label})",
            )
        )
    return out


def e2_verdicts(table: pd.DataFrame, acc_margin: float) -> list[Verdict]:
    """C8 per entropy-minimisation arm: it should raise exact accuracy on the base whose mode is correct
    (default) and not on the base whose mode is wrong (shortcut). An arm that does not lower entropy on a base
    cannot speak for C8 there (manipulation check).

    Reasons: ``check_failed``; ``gain_only_where_mode_correct`` (supported); ``no_gain_where_mode_correct`` or
    ``gain_where_mode_wrong`` (not supported); ``undecided``."""
    out = []
    for arm in (ENTROPY_COEF.label, ENTROPY_REWARD.label):
        checks = [lowered_check(table, arm, group=g) for g in ("default", "shortcut")]
        good = _change(table, arm, PRIMARY, "default")
        bad = _change(table, arm, PRIMARY, "shortcut")
        failed = [t for t, ok in checks if not ok]
        v_good = decide_effect(*good, acc_margin, 1, failed).verdict
        v_bad = decide_effect(*bad, acc_margin, 1, failed).verdict
        if v_good == "not testable here":
            verdict, reason = "not testable here", "check_failed"
        elif v_good == "supported" and v_bad in ("effect excluded", "not supported"):
            verdict, reason = "supported", "gain_only_where_mode_correct"
        elif v_bad == "supported":
            verdict, reason = "not supported", "gain_where_mode_wrong"
        elif v_good in ("effect excluded", "not supported"):
            verdict, reason = "not supported", "no_gain_where_mode_correct"
        else:
            verdict, reason = "inconclusive", "undecided"
        stat = (
            f"{arm}: exact-accuracy change {fmt(*good[:2])} on the reliable-mode base (a gain there: {v_good}), "
            f"{fmt(*bad[:2])} on the shortcut-mode base (a gain there: {v_bad}; n = {good[2]}, margin "
            f"{acc_margin:g}); " + "; ".join(f"{t}: {'passed' if ok else 'FAILED'}" for t, ok in checks)
        )
        statement = (
            f"entropy minimisation ({arm}) raises exact accuracy on the base whose mode is correct and not on the "
            "base whose mode is wrong"
        )
        out.append(Verdict(f"C8 ({arm})", verdict, stat, "tiny LM", statement=statement, reason=reason))
    return out


def share_reading(share: tuple, acc: tuple, within: dict[str, tuple]) -> str:
    """What moved: the preferred style's share (strategy) or the accuracy within a style (execution), composed
    from the signs of the 95% intervals of the changes in the share, in exact accuracy, and in sampled accuracy
    within each style (`within`: {style: (mean, half, n)})."""
    words = {1: "rose", -1: "fell", 0: "did not move clearly"}
    s, a = interval_sign(*share[:2]), interval_sign(*acc[:2])
    text = f"the preferred style's share {words[s]}, exact accuracy {words[a]}"
    moved = {k: interval_sign(*v[:2]) for k, v in within.items()}
    inside = ", ".join(f"within the {k} style {words[v]}" for k, v in moved.items())
    if a == 0:
        return text
    if s == 0 and any(moved.values()):
        return f"{text}; accuracy {inside}: the change came through execution, not through the choice of style"
    if s == 0:
        return f"{text}; accuracy {inside}: neither level of the decomposition moved clearly on its own"
    return f"{text}; accuracy {inside}: the choice of style moved with it"


def e3_verdicts(table: pd.DataFrame, share_margin: float) -> list[Verdict]:
    """E3 (Shao et al.'s prior amplification): under a random reward the base's preferred style gains share -
    the reliable style on the default base, the shortcut style on the shortcut base - decided against
    `share_margin`. Beside it, in words computed from the intervals (:func:`share_reading`), whether accuracy
    moved through the choice of style or through execution within a style."""
    out = []
    for base_name, pref in (("default", "eval/share_reliable"), ("shortcut", "eval/share_shortcut")):
        style = pref.rsplit("_", 1)[1]
        for arm in (RANDOM_CLIP.label, RANDOM_NO_CLIP.label):
            s = _change(table, arm, pref, base_name)
            a = _change(table, arm, PRIMARY, base_name)
            rel = _change(table, arm, "eval/acc_in_reliable", base_name)
            short = _change(table, arm, "eval/acc_in_shortcut", base_name)
            out.append(
                margin_verdict(
                    f"E3 prior amplification ({base_name} base, {arm})",
                    s,
                    share_margin,
                    f"change in the preferred ({style}) style's share {fmt(*s[:2])}; exact accuracy {fmt(*a[:2])}; "
                    f"execution, sampled accuracy within the reliable style {fmt(*rel[:2])}, within the shortcut "
                    f"style {fmt(*short[:2])}; reading: {share_reading(s, a, {'reliable': rel, 'shortcut': short})}",
                    statement=f"a random reward ({arm}) raises the share of the {base_name} base's preferred style "
                    f"({style})",
                )
            )
    return out


def e4_verdicts(df: pd.DataFrame, table: pd.DataFrame, acc_margin: float, clean_base: dict) -> list[Verdict]:
    """C9: random-reward gains are not only contamination - the clean items should gain too. Testable only
    when the base has memorised its contaminated items (:func:`contamination_check` against the clean base)."""
    c = _change(table, RANDOM_CLIP.label, "eval/clean/exact_acc")
    d = _change(table, RANDOM_CLIP.label, "eval/contaminated/exact_acc")
    check = contamination_check(df, acc_margin, clean_base)
    # the premise: a gain of interest on at least one item set is not excluded by its interval
    gain_possible = max(c[0] + c[1], d[0] + d[1]) >= acc_margin
    return [
        margin_verdict(
            "C9",
            c,
            acc_margin,
            f"contaminated base, random reward with clipping: exact-accuracy change on clean items "
            f"{fmt(*c[:2])}, on contaminated items {fmt(*d[:2])}",
            checks=[check],
            premise=(
                "random-reward training gained on neither clean nor contaminated items (both intervals end below "
                "the margin): there is no gain for contamination to explain",
                bool(gain_possible),
            ),
            statement="on a contaminated base, random-reward GRPO raises exact accuracy on the clean items too",
        )
    ]


def strength_check(greedy: pd.DataFrame, lo: float = 0.2, hi: float = 0.8) -> tuple[str, bool]:
    """Does the strength series span what it claims: a base with initial greedy accuracy at most `lo` and one
    at least `hi`? `greedy` is per-run change table of eval/greedy_acc (its `initial` column)."""
    by_base = greedy.groupby("group").initial.mean()
    ok = bool(len(by_base) and by_base.min() <= lo and by_base.max() >= hi)
    span = ", ".join(f"{b} {v:.2f}" for b, v in by_base.sort_values().items())
    return f"the bases span initial greedy accuracy from <= {lo} to >= {hi} ({span})", ok


def e5_verdicts(ch: pd.DataFrame, acc_margin: float, greedy: pd.DataFrame | None = None) -> list[Verdict]:
    """C11 from per-run changes across bases (`ch`: :func:`per_run_change` of the primary outcome, random reward
    with clipping, `group` = base): the slope of the mean gain of a base against its mean initial accuracy. The
    base is the unit - seeds are nested within bases - so the interval is a two-stage percentile bootstrap
    (resample bases, then seeds within each). Its premise is that random-reward training gains on some base:
    when every base's interval ends below `acc_margin`, the verdict is *premise absent* (the slope is still
    reported). With `greedy` the series' span is checked first."""
    g = ch[(ch.arm == RANDOM_CLIP.label) & np.isfinite(ch.initial) & np.isfinite(ch.change)]
    units = [(sub.initial.to_numpy(float), sub.change.to_numpy(float)) for _, sub in g.groupby("group", sort=False)]
    slope = _slope_over_units(units)
    lo, hi = _bootstrap_units(units)
    by_base = {b: mean_ci(sub.change.to_numpy(float)) for b, sub in g.groupby("group", sort=False)}
    tops = [m + h if np.isfinite(h) else m for m, h, _ in by_base.values()]
    premise = bool(tops) and max(tops) >= acc_margin
    checks = [strength_check(greedy)] if greedy is not None else []
    failed = [t for t, ok in checks if not ok]
    if failed:
        verdict, reason = "not testable here", "check_failed"
    elif not premise:
        verdict, reason = "premise absent", "premise_false"
    else:
        verdict = decide(bool(lo > 0), bool(hi < 0))
        reason = {"supported": "slope_positive", "not supported": "slope_negative"}.get(verdict, "undecided")
    gains = "; ".join(f"{b} {fmt(m, h)}" for b, (m, h, _) in by_base.items())
    return [
        Verdict(
            "C11",
            verdict,
            f"slope of a base's mean exact-accuracy gain against its mean initial exact accuracy, random reward "
            f"with clipping, {len(units)} bases as units (seeds nested): {slope:+.3f} (two-stage bootstrap 95% "
            f"interval [{lo:+.3f}, {hi:+.3f}]); gain per base: {gains}"
            + ("" if premise else f" - no base gains by the margin {acc_margin:g}, so there is no gain to grow")
            + "".join(f"; {t}: {'passed' if ok else 'FAILED'}" for t, ok in checks),
            "tiny LM",
            statement="under a random reward, a stronger base (higher initial exact accuracy) gains more",
            reason=reason,
        )
    ]


def e6_verdicts(df: pd.DataFrame, entropy_margin: float, clip_floor: float) -> list[Verdict]:
    d = paired_difference(df, "eval/entropy", CLIP_HIGHER.label, EPS_02.label, "change")
    checks = [clip_check(df, CLIP_HIGHER.label, clip_floor), clip_check(df, EPS_02.label, clip_floor)]
    return [
        margin_verdict(
            "C12",
            d,
            entropy_margin,
            "clip-higher as an entropy dial: change in held-out entropy with eps_high = 0.28 minus symmetric "
            f"eps = 0.2 (random reward, paired by seed): {fmt(d[0], d[1])} nats",
            checks=checks,
            statement="widening the upper clip (eps_high 0.28 against 0.2) raises held-out entropy under a random "
            "reward: clipping works as an entropy dial",
        )
    ]


E7_REASONS = {
    "ordering_holds": "random reward raises exact accuracy, and ground truth raises it more (paired by seed)",
    "random_lowers": "random reward lowers exact accuracy",
    "random_gain_excluded": "random reward changes exact accuracy by less than the margin",
    "random_not_below_ground_truth": "random reward raises exact accuracy at least as much as ground truth",
    "random_undecided": "whether random reward raises exact accuracy is undecided",
    "ordering_undecided": "random reward raises exact accuracy; whether ground truth raises it more is undecided",
}


def e7_verdicts(table: pd.DataFrame, acc_margin: float, df: pd.DataFrame | None = None) -> list[Verdict]:
    """Two rows. E0, the paradox's premise: the random reward raises exact accuracy (decided against
    `acc_margin`). E7, Shao et al.'s ordering: it does, by less than the ground truth does - the ground-truth
    minus random change, paired by seed on the seeds both arms have (from `df`; without it, the difference of
    the two arms' means, with no interval). The E7 reason is one of :data:`E7_REASONS`; the front page composes
    its sentence from it."""
    acc = table[table.metric == PRIMARY].set_index("arm")
    gt, rnd = acc.loc[GROUND_TRUTH.label], acc.loc[RANDOM.label]
    n = int(rnd["n"])
    v_rnd, note, why = decide_effect(float(rnd.change), float(rnd.ci), n, acc_margin)
    if df is not None:
        dm, dh, dn = paired_difference(df, PRIMARY, GROUND_TRUTH.label, RANDOM.label, "change")
        gap_text = f"{fmt(dm, dh)} (paired, n = {dn})"
    else:  # no interval without the runs: the ordering stays undecided
        dm, dh = float(gt.change - rnd.change), float("nan")
        gap_text = f"{dm:+.3f} (difference of means)"
    gap = interval_sign(dm, dh) if np.isfinite(dh) else 0
    if v_rnd == "supported":
        verdict, reason = {
            1: ("supported", "ordering_holds"),
            -1: ("not supported", "random_not_below_ground_truth"),
            0: ("inconclusive", "ordering_undecided"),
        }[gap]
    elif v_rnd == "not supported":
        verdict, reason = "not supported", "random_lowers"
    elif v_rnd == "effect excluded":
        verdict, reason = "not supported", "random_gain_excluded"
    else:
        verdict, reason = "inconclusive", "random_undecided"
    order = ", ".join(f"{a} {acc.loc[a, 'change']:+.3f}" for a in acc.sort_values("change", ascending=False).index)
    return [
        Verdict(
            "E0",
            v_rnd,
            f"random reward with clipping: change in exact accuracy {fmt(rnd.change, rnd.ci)} (n = {n}, margin "
            f"{acc_margin:g}): {note}",
            "tiny LM",
            statement="random-reward GRPO (symmetric clipping) raises exact accuracy",
            reason=why,
        ),
        Verdict(
            "E7 Shao et al.'s ordering (spurious rewards help, less than ground truth)",
            verdict,
            f"exact-accuracy change by reward: {order}; ground truth {fmt(gt.change, gt.ci)}, random "
            f"{fmt(rnd.change, rnd.ci)} (a gain of the random reward: {v_rnd}); ground truth minus random "
            f"{gap_text}; so: {E7_REASONS[reason]}",
            "tiny LM",
            statement="a random reward raises exact accuracy, by less than the ground-truth reward",
            reason=reason,
        ),
    ]
