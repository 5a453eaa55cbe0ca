"""Helpers for the book's own pages: the scorecard, claim chapters and the testbed table.

They read what the notebooks wrote (``results/verdicts/*.json``, ``results/*.csv``, ``results/bases.json``) and
return tables; they never hold a number of their own, except the paper's and Shao et al.'s REPORTED numbers in
:data:`REPORTED`, which are labelled as reported wherever they appear.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
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
    [  # "claims": the claims each reported number bears on (the chapters show their own)
        {
            "source": "Chen et al. 2025 (reported)",
            "quantity": "E|N_raw| / E|C+| lower bound",
            "claims": "C3",
            "value": "about 17",
            "setting": "eta 5e-7, eps 0.2, p+ 1e-3, G 16, L 4096",
        },
        {
            "source": "Chen et al. 2025 (reported)",
            "quantity": "share of clipped tokens",
            "claims": "C3 C6",
            "value": "about 0.1%",
            "setting": "Qwen2.5-Math-7B, random reward",
        },
        {
            "source": "Chen et al. 2025 (reported)",
            "quantity": "collapse without clipping",
            "claims": "C7",
            "value": "around step 150",
            "setting": "R1-Distill-Llama-8B, random reward; the step unit (rollout or optimizer step) is not given",
        },
        {
            "source": "Shao et al. 2025 (reported)",
            "quantity": "MATH-500 gain, ground truth",
            "claims": "C4 C8 C11 E7",
            "value": "+29.1",
            "setting": "Qwen2.5-Math-7B",
        },
        {
            "source": "Shao et al. 2025 (reported)",
            "quantity": "MATH-500 gain, incorrect label",
            "claims": "E7",
            "value": "+24.1",
            "setting": "Qwen2.5-Math-7B",
        },
        {
            "source": "Shao et al. 2025 (reported)",
            "quantity": "MATH-500 gain, random",
            "claims": "C4 C6 C11 E7",
            "value": "+21.4",
            "setting": "Qwen2.5-Math-7B",
        },
        {
            "source": "Shao et al. 2025 (reported)",
            "quantity": "MATH-500 gain, format",
            "claims": "E7",
            "value": "+13.8",
            "setting": "Qwen2.5-Math-7B",
        },
        {
            "source": "Spurious Rewards evaluation code and template (reported, in the alphaXiv reproduction's table)",
            "quantity": "Qwen2.5-Math-7B MATH-500 baseline, greedy",
            "claims": "C9 E7",
            "value": "49.4",
            "setting": "Shao et al.'s prompt template",
        },
        {
            "source": "Liu et al. 2025, Dr. GRPO (reported)",
            "quantity": "Qwen2.5-Math-7B MATH-500 baseline",
            "claims": "C9 E7",
            "value": "69.0",
            "setting": "no prompt template",
        },
    ]
)


def reported_for(claims: list[str]) -> pd.DataFrame:
    """The papers' reported numbers that bear on any of `claims` (labelled as reported)."""
    hit = REPORTED.claims.str.split().map(lambda cs: bool(set(cs) & set(claims)))
    return REPORTED[hit].drop(columns="claims").reset_index(drop=True)


def notebook_margins(names: list[str]) -> pd.DataFrame:
    """The smallest effects of interest and check thresholds that the named notebooks' parameters cells set (as
    each experiment's page prints them first)."""
    import jupytext

    from rlvr_lib.experiments.lm_lab import MARGINS

    rows = []
    for name in names:
        nb = jupytext.read(Path(__file__).resolve().parents[2] / "notebooks" / f"{name}.py")
        cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        ns: dict = {}
        exec(cell.source, ns)  # the project's own parameters cell: plain assignments
        rows += [
            {"experiment": name, "margin": k, "value": ns[k], "what it is": MARGINS[k]} for k in MARGINS if k in ns
        ]
    return pd.DataFrame(rows)


LEVEL_ORDER = {"exact": 0, "tabular": 1, "tiny LM (mechanism)": 2, "tiny LM": 3, "not testable here": 4}


def claim_key(claims: pd.Series) -> pd.Series:
    """The claim each verdict speaks to ("C8" for "C8 (entropy coef)", "E7" for "E7 Shao et al.'s ordering")."""
    return claims.str.split().str[0]


STANCE_WORDS = {1: "for", -1: "against", 0: "neither"}
VERDICT_COLUMNS = ["claim", "level", "verdict", "bears on the claim", "statement", "reason", "statistic", "evidence"]


def verdict_table(results_dir: str | Path = "../results", claims: list[str] | None = None) -> pd.DataFrame:
    """Every verdict row, sorted by claim and level: what it tests (`statement`, the claim's own when empty), its
    verdict and the reason for it, and how it bears on the paper's claim (for / against / neither: the row's
    stance, its verdict's sign times its polarity)."""
    rows = []
    for v in load_verdicts(results_dir):
        key = v.claim.split()[0]
        if claims is not None and key not in claims:
            continue
        rows.append(
            {
                "claim": v.claim,
                "level": v.level,
                "verdict": v.verdict,
                "bears on the claim": STANCE_WORDS[v.stance()] if v.polarity else "neither (tests its explanation)",
                "statement": v.statement or CLAIMS.get(key, EXTRA_ROWS.get(key, "")),
                "reason": v.reason,
                "statistic": v.statistic,
                "evidence": v.source,
            }
        )
    df = pd.DataFrame(rows, columns=VERDICT_COLUMNS)
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
        sub = v[claim_key(v.claim) == c] if not v.empty else v
        if sub.empty:
            rows.append({"claim": c, "claim statement": text, "level": "-", "verdict": "not tested"})
        for _, r in sub.iterrows():
            rows.append({"claim": c, "claim statement": text, **r.drop("claim").to_dict()})
    cols = ["claim", "claim statement", *VERDICT_COLUMNS[1:]]
    return pd.DataFrame(rows, columns=cols).fillna("")


def beyond_claims(results_dir: str | Path = "../results") -> pd.DataFrame:
    """The verdict rows about statements outside the paper's twelve claims (Shao et al.'s E0, E3, E7): every row
    whose claim key is not one of C1-C12. Qualified rows of a claim ("C7 (stress regime)") belong to the claim."""
    v = verdict_table(results_dir)
    return v[~claim_key(v.claim).isin(CLAIMS)].reset_index(drop=True) if not v.empty else v


def stance_counts(results_dir: str | Path = "../results") -> pd.DataFrame:
    """Per level, how many verdict rows bear for, against, or neither way on the paper's claims (C1-C12)."""
    v = verdict_table(results_dir)
    if v.empty:
        return pd.DataFrame(columns=["level", "for", "against", "neither"])
    v = v[claim_key(v.claim).isin(CLAIMS)]
    bears = v["bears on the claim"].str.split().str[0]
    out = pd.crosstab(v.level, bears).reindex(columns=["for", "against", "neither"], fill_value=0)
    return out.reindex([lv for lv in LEVEL_ORDER if lv in out.index]).reset_index()


def to_html(df: pd.DataFrame, link_col: str = "evidence", link_prefix: str = "executed/") -> str:
    """An HTML table whose `link_col` cells link to the executed notebook pages."""
    d = df.copy()
    if link_col in d:
        d[link_col] = [
            f'<a href="{link_prefix}{html.escape(s)}.html">{html.escape(s)}</a>' if s else "" for s in d[link_col]
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
                "format": cfg.task.format,
                "reliable_share": cfg.reliable_share,
                "contamination": cfg.contamination,
                "pretrain steps": cfg.trained_steps,
                "greedy_acc": m.get("greedy_acc"),
                "sampled_acc": m.get("sampled_acc"),
                "exact_acc": m.get("exact_acc"),
                "share_reliable": m.get("share_reliable"),
                "entropy (nats/token)": m.get("entropy"),
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


def _machine_words(m: dict) -> str:
    return (
        f"{m['cpu']['model']} ({m['aten_capability']} kernels{', pinned' if any(m.get('pins', {}).values()) else ''})"
    )


def cross_machine_table(
    results_dir: str | Path = "../results", reference: str | Path = "data/verdicts_reference.json"
) -> pd.DataFrame:
    """Each verdict of this build beside the same verdict of a reference build on another machine (a file written
    by ``scripts/reference_verdicts.py``): outcome here, outcome there, whether they agree, and a note where the
    notebook's design changed after the reference revision (such a row is not a machine difference). Verdicts
    only one build has are listed with the other side empty."""
    ref = json.loads(Path(reference).read_text())
    there = {(v["source"], v["claim"], v["level"]): v["verdict"] for v in ref["verdicts"]}
    here = {(v.source, v.claim, v.level): v.verdict for v in load_verdicts(results_dir)}
    changed = ref.get("changed_since", {})
    rows = []
    for key in sorted(set(here) | set(there)):
        a, b = here.get(key, ""), there.get(key, "")
        rows.append(
            {
                "claim": key[1],
                "level": key[2],
                "notebook": key[0],
                "this build": a,
                "reference build": b,
                "same outcome": bool(a and b and a == b),
                "note": changed.get(key[0], ""),
            }
        )
    return pd.DataFrame(rows)


def cross_machine_sentence(
    results_dir: str | Path = "../results", reference: str | Path = "data/verdicts_reference.json"
) -> str:
    """One paragraph composed from :func:`cross_machine_table`: the two machines, how many verdicts both builds
    decided with an unchanged design, how many of those agree, and which differ."""
    ref = json.loads(Path(reference).read_text())
    t = cross_machine_table(results_dir, reference)
    comparable = t[(t["this build"] != "") & (t["reference build"] != "") & (t.note == "")]
    differ = comparable[~comparable["same outcome"]]
    mp = Path(results_dir) / "machine.json"
    here = _machine_words(json.loads(mp.read_text())) if mp.exists() else "this machine"
    levels = differ.groupby("level").size().to_dict()
    by_level = ", ".join(f"{n} {lv}" for lv, n in sorted(levels.items())) or "none"
    agree = sorted(set(comparable.level) - set(levels))
    text = (
        f"This build ran on {here}; the reference build (revision {ref['revision'][:7]}) on "
        f"{_machine_words(ref['machine'])}. Of the {len(comparable)} verdicts both builds computed with the same "
        f"design, {len(comparable) - len(differ)} came out the same and {len(differ)} differently (by level: "
        f"{by_level})."
    )
    if agree:
        text += f" Every verdict at the level{'s' if len(agree) > 1 else ''} {', '.join(agree)} came out the same."
    rest = len(t) - len(comparable)
    if rest:
        text += (
            f" {rest} more {'is' if rest == 1 else 'are'} not compared: a design change since the reference, or a "
            "verdict only one build has."
        )
    return text


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


# ---------------------------------------------------------------------------------------------------------
# downloads: the tables behind every page, the verdicts, the run records


DOWNLOADS = Path("book/generated/extra/downloads")


def download_list(root: str | Path = "..") -> str:
    """HTML list of the downloads that :func:`prepare_downloads` wrote, with sizes, linked from a page at the root
    of the book."""
    out = Path(root) / DOWNLOADS
    if not out.is_dir():
        return "<p>No downloads: the main job's book stage has not run in this checkout.</p>"
    items = [
        f'<li><a href="downloads/{html.escape(str(p.relative_to(out)))}">{html.escape(str(p.relative_to(out)))}</a>'
        f" ({p.stat().st_size / 1024:.1f} KiB)</li>"
        for p in sorted(out.rglob("*"))
        if p.is_file()
    ]
    return f"<ul>{''.join(items)}</ul>"


def prepare_downloads(root: str | Path, runs_dir: str = "runs") -> dict:
    """Write the book's downloads: every result table (``tables/*.csv``), all verdicts as one CSV and one JSON
    file, and the book's tiny-LM run records as ``runs.tar.gz`` with ``runs_manifest.csv`` (one row per run:
    configuration, seed, status, versions, machine). They go to ``book/generated/extra/downloads/``, which Sphinx
    copies to ``downloads/`` at the root of the built site (``html_extra_path``). Returns {file name: size}."""
    import shutil
    import tarfile

    root = Path(root)
    out = root / DOWNLOADS
    shutil.rmtree(out, ignore_errors=True)
    (out / "tables").mkdir(parents=True)
    results = root / "results"
    for p in sorted(results.glob("*.csv")):
        shutil.copy2(p, out / "tables" / p.name)
    v = verdict_table(results)
    v.to_csv(out / "verdicts.csv", index=False)
    (out / "verdicts.json").write_text(json.dumps(v.to_dict(orient="records"), indent=1))
    manifest = runs_manifest(root / runs_dir)
    manifest.to_csv(out / "runs_manifest.csv", index=False)
    with tarfile.open(out / "runs.tar.gz", "w:gz") as tar:
        tar.add(out / "runs_manifest.csv", arcname="runs/manifest.csv")
        for rel in manifest.get("path", []):
            for f in ("config.json", "meta.json", "status.json", "metrics.jsonl"):
                p = root / runs_dir / rel / f
                if p.is_file():
                    tar.add(p, arcname=f"runs/{rel}/{f}")
    return {str(p.relative_to(out)): p.stat().st_size for p in sorted(out.rglob("*")) if p.is_file()}


def runs_manifest(runs_root: str | Path) -> pd.DataFrame:
    """One row per finished run under `runs_root` (``<experiment>/<run_id>``): what it was and where it ran."""
    rows = []
    for status_file in sorted(Path(runs_root).glob("*/*/status.json")):
        d = status_file.parent
        try:
            status = json.loads(status_file.read_text())
            cfg = json.loads((d / "config.json").read_text())
            meta = json.loads((d / "meta.json").read_text())
        except (OSError, ValueError):
            continue
        if status.get("status") not in ("complete", "diverged"):
            continue
        cfg = cfg.get("config", cfg)
        num = meta.get("numerics") or {}
        rows.append(
            {
                "path": f"{d.parent.name}/{d.name}",
                "run_id": d.name,
                "name": cfg.get("name"),
                "seed": cfg.get("seed"),
                "base": cfg.get("base"),
                "reward": json.dumps(cfg.get("reward")),
                "clip_rule": cfg.get("clip_rule"),
                "learning_rate": cfg.get("learning_rate"),
                "entropy_coef": cfg.get("entropy_coef"),
                "max_steps": cfg.get("max_steps"),
                "status": status.get("status"),
                "wall_s": status.get("wall_s"),
                "git": meta.get("git"),
                **{v: (meta.get("versions") or {}).get(v) for v in ("torch", "transformers", "trl")},
                "cpu": (num.get("cpu") or {}).get("model"),
                "aten_kernels": num.get("aten_capability"),
                "torch_threads": num.get("torch_threads"),
            }
        )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------------------
# the verdict matrix and the synthesis

VERDICT_COLORS = {
    "supported": "#2e7d32",
    "not supported": "#c62828",
    "effect excluded": "#1565c0",
    "inconclusive": "#757575",
    "not testable here": "#ef6c00",
    "premise absent": "#6a1b9a",
}
LEVELS = ("exact", "tabular", "tiny LM (mechanism)", "tiny LM")
EXTRA_ROWS = {
    "E0": "Random rewards raise accuracy (Shao et al.'s finding, the paradox's premise)",
    "E3": "A random reward amplifies the base's preferred strategy (Shao et al.)",
    "E7": "Spurious rewards help, by less than ground truth (Shao et al.'s ordering)",
}


def _chip(v: pd.Series, link_prefix: str) -> str:
    color = VERDICT_COLORS.get(v.verdict, "#999")
    bears = v.get("bears on the claim", "")
    tip = html.escape(f"{v.claim} [{v.level}]: {v.verdict} ({v.reason}; {bears}) - {v.statistic}", quote=True)
    label = html.escape(v.verdict)
    qualifier = v.claim.split(" ", 1)[1] if " " in v.claim else ""
    if qualifier:
        label += f" <small>{html.escape(qualifier)}</small>"
    href = f"{link_prefix}{html.escape(v.evidence)}.html" if v.evidence else "#"
    return f'<a class="rlvr-chip" style="background:{color}" href="{href}" title="{tip}">{label}</a>'


def verdict_matrix(
    results_dir: str | Path = "../results", link_prefix: str = "executed/", caption: str = "", claims=None
) -> str:
    """The claims x levels matrix as an HTML figure: one coloured chip per verdict (several where a claim has
    several verdicts at one level), each a link to the page that computed it, with the statistic on hover; a
    legend; and the full statistics in a collapsible table beneath."""
    v = verdict_table(results_dir)
    rows = {**CLAIMS, **EXTRA_ROWS}
    if claims is not None:
        rows = {c: rows[c] for c in claims}
        v = v[claim_key(v.claim).isin(claims)].reset_index(drop=True) if not v.empty else v
    key = claim_key(v.claim) if not v.empty else pd.Series(dtype=str)
    head = "".join(f"<th>{html.escape(lv)}</th>" for lv in LEVELS)
    body = []
    for c, text in rows.items():
        cells = []
        for lv in LEVELS:
            sub = v[(key == c) & (v.level == lv)] if not v.empty else v
            chips = "".join(_chip(r, link_prefix) for _, r in sub.iterrows())
            cells.append(f"<td>{chips or '<span class=rlvr-none>-</span>'}</td>")
        body.append(f'<tr><th class="rlvr-claim"><b>{c}</b> {html.escape(text)}</th>{"".join(cells)}</tr>')
    legend = " ".join(
        f'<span class="rlvr-chip" style="background:{col}">{html.escape(name)}</span>'
        for name, col in VERDICT_COLORS.items()
    )
    details = to_html(v, link_prefix=link_prefix) if not v.empty else "<p>no verdicts computed yet</p>"
    caption = caption or (
        "Every verdict this book computed, by claim and level of evidence. Hover a verdict for its statistic, "
        "click it for the page that computed it; '-' marks a level with no test of that claim."
    )
    return (
        f"<style>{_MATRIX_CSS}</style>"
        f'<figure class="rlvr-matrix"><table class="rlvr-matrix"><thead><tr><th>claim</th>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
        f"<figcaption>{html.escape(caption)}<br>{legend}</figcaption></figure>"
        f"<details><summary>All statistics (one row per verdict)</summary>{details}</details>"
    )


_MATRIX_CSS = (
    "table.rlvr-matrix{border-collapse:collapse;font-size:0.85em;width:100%}"
    "table.rlvr-matrix th,table.rlvr-matrix td{border:1px solid #ddd;padding:3px 5px;vertical-align:top}"
    "th.rlvr-claim{text-align:left;font-weight:normal;min-width:15em;max-width:24em}"
    ".rlvr-chip{display:inline-block;color:#fff !important;border-radius:3px;padding:1px 5px;margin:1px;"
    "font-size:0.9em;text-decoration:none}"
    ".rlvr-none{color:#bbb}"
)


@dataclass(frozen=True)
class Statement:
    """A statement one of the paper's questions rests on, and the verdict rows that test it: {claim selector:
    sign}, where the selector is a row's exact ``claim`` or a prefix ending in ``*``, and the sign is what a
    *supported* row says of the statement (+1 it holds, -1 it fails). A row counts only under the statements that
    name it; a level with no such row has not tested the statement."""

    text: str
    rows: dict


QUESTIONS = {
    "Q1": (
        "Why do random (spurious) rewards improve GRPO-trained reasoning models?",
        [
            Statement(
                "Random rewards raise accuracy (the paradox's premise: GRPO with symmetric clipping, or none)",
                {"E0": 1, "E0 (symmetric clipping)": 1, "E0 (tiny LM, symmetric clipping)": 1, "C4": 1},
            ),
            Statement(
                "Random rewards raise accuracy under some clip rule (the regime maps)",
                {"E0 (any clip rule)": 1, "E0 (tiny LM, any clip rule)": 1},
            ),
            Statement(
                "Clipping under random rewards lowers entropy",
                {"C6": 1, "C6 (absolute)": 1, "C6 (regime series)": 1, "C12": 1, "C3 (negligible*": -1},
            ),
            Statement("Upper clipping lowers entropy, lower clipping raises it (Park et al.)", {"C6 (Park*": 1}),
            Statement(
                "Per step, the clipping correction is small next to the raw surrogate", {"C3 (small per step)": 1}
            ),
            Statement(
                "Without clipping the systematic entropy change is second order, its sign set by skewness",
                {"C2": 1, "C5": 1},
            ),
            Statement("Clipping stabilises training", {"C7": 1, "C7 (*": 1}),
            Statement("Stronger models gain more from random rewards", {"C11": 1}),
            Statement("The misalignment moments alone say who gains", {"C10 (predicts C11)": 1}),
            Statement("The gains are not contamination", {"C9": 1}),
            Statement("A random reward amplifies the base's preferred strategy", {"E3*": 1}),
        ],
    ),
    "Q2": (
        "Does entropy minimisation alone explain the gains?",
        [Statement("Entropy minimisation helps only when the base's mode is correct", {"C8": 1, "C8 (*": 1})],
    ),
}


def _selects(selector: str, claim: str) -> bool:
    return claim.startswith(selector[:-1]) if selector.endswith("*") else claim == selector


def statement_rows(v: pd.DataFrame, st: Statement) -> pd.DataFrame:
    """The verdict rows that test `st`, each with ``sign``: +1 the row is evidence for the statement, -1
    against, 0 neither (undecided, not testable, premise absent)."""
    from rlvr_lib.verdicts import VERDICT_SIGN

    out = []
    for _, r in v.iterrows():
        signs = [sg for sel, sg in st.rows.items() if _selects(sel, r.claim)]
        if signs:
            out.append({**r.to_dict(), "sign": signs[0] * VERDICT_SIGN[r.verdict]})
    return pd.DataFrame(out, columns=[*v.columns, "sign"])


def level_reading(signs: list[int]) -> str:
    """How one level's rows bear on a statement: 'for', 'against', 'mixed' (both), 'undecided' (rows, none
    decisive) or 'not tested' (no row)."""
    if not signs:
        return "not tested"
    decided = set(signs) - {0}
    return {frozenset({1}): "for", frozenset({-1}): "against"}.get(
        frozenset(decided), "mixed" if decided else "undecided"
    )


def levels_reading(readings: dict[str, str]) -> str:
    """Across levels: 'agree: for' / 'agree: against' (two or more levels decided, all the same way), 'one
    level: for' / 'one level: against', 'disagree' (levels decided differently, or one level mixed),
    'undecided' (tested, nothing decided) or 'not tested'."""
    tested = {lv: r for lv, r in readings.items() if r != "not tested"}
    if not tested:
        return "not tested"
    decided = {lv: r for lv, r in tested.items() if r in ("for", "against", "mixed")}
    if not decided:
        return "undecided"
    ways = set(decided.values())
    if ways == {"for"} or ways == {"against"}:
        (way,) = ways
        return f"agree: {way}" if len(decided) > 1 else f"one level: {way}"
    return "disagree"


def question_table(results_dir: str | Path, q: str) -> pd.DataFrame:
    """For one of the paper's two questions: each statement it rests on, per level how the rows that test it
    bear on it (with each row's verdict), and whether the levels agree. Rows are counted only under the
    statements that name them, with the sign their meaning gives (see :class:`Statement`)."""
    v = verdict_table(results_dir)
    rows = []
    for st in QUESTIONS[q][1]:
        sub = statement_rows(v, st) if not v.empty else pd.DataFrame(columns=["level", "sign"])
        readings, cells = {}, {}
        for lv in LEVELS:
            at = sub[sub.level == lv]
            readings[lv] = level_reading([int(x) for x in at.sign])
            detail = "; ".join(f"{r.claim}: {r.verdict}" for _, r in at.iterrows())
            cells[lv] = readings[lv] + (f" ({detail})" if detail else "")
        rows.append({"statement": st.text, **cells, "levels": levels_reading(readings)})
    return pd.DataFrame(rows, columns=["statement", *LEVELS, "levels"])


def claim_levels(v: pd.DataFrame, claim: str) -> str:
    """Every verdict of `claim` by level, each row named by its qualifier when it has one, e.g. "tiny LM:
    **inconclusive**, **not supported** (absolute)"."""
    parts = []
    for lv in LEVELS:
        sub = v[(claim_key(v.claim) == claim) & (v.level == lv)]
        if len(sub):
            rows = [
                f"**{r.verdict}**" + (f" {r.claim.split(' ', 1)[1]}" if " " in r.claim else "")
                for _, r in sub.iterrows()
            ]
            parts.append(f"{lv}: " + ", ".join(rows))
    return "; ".join(parts) or "not tested"


def _row(v: pd.DataFrame, claim: str, level: str) -> pd.Series | None:
    sub = v[(v.claim == claim) & (v.level == level)]
    return None if sub.empty else sub.iloc[0]


# what the front page says of the premise, by the reason of the tiny-LM E0 row (see rlvr_lib.verdicts.REASONS)
PREMISE_WORDS = {
    "beyond_margin": "random-reward GRPO raises exact accuracy on the tiny language model",
    "opposite_side": "random-reward GRPO lowers exact accuracy on the tiny language model instead of raising it",
    "within_margin": "random-reward GRPO changes exact accuracy on the tiny language model by less than the margin",
    "undecided": "whether random-reward GRPO raises exact accuracy on the tiny language model is undecided",
    "no_interval": "whether random-reward GRPO raises exact accuracy on the tiny language model is undecided",
    "check_failed": "the random-reward gain could not be tested on the tiny language model",
    "premise_false": "the random-reward gain could not be tested on the tiny language model",
}


# what the front page says of the tabular regime map, by the reason of its E0 rows (rlvr_lib.experiments.regime_map)
MAP_WORDS = {
    "gain_somewhere": "raises a bandit's accuracy in some of the map's cells",
    "undecided_cells": "raises a bandit's accuracy in no cell of the map clearly (some cells undecided)",
    "within_margin_everywhere": "changes a bandit's accuracy by less than the margin everywhere on the map",
    "no_gain_anywhere": "raises a bandit's accuracy nowhere on the map",
    "no_cells": "was not tested on the map",
    "check_failed": "could not be tested on the map (clipping never bound)",
}


def map_sentence(v: pd.DataFrame) -> str:
    """The tabular regime map's answer to the premise, composed from the reasons of its two E0 rows ('' when the
    map has not run)."""
    e0, sym = _row(v, "E0 (any clip rule)", "tabular"), _row(v, "E0 (symmetric clipping)", "tabular")
    if e0 is None:
        return ""
    text = f"on the tabular regime map, random-reward GRPO {MAP_WORDS.get(e0.reason, e0.reason)} (E0: **{e0.verdict}**)"
    if sym is not None:
        text += f", and with symmetric clipping alone it {MAP_WORDS.get(sym.reason, sym.reason)} (**{sym.verdict}**)"
    return text


# what the front page says of the tiny-LM regime series, by the reason of its E0 rows (experiments.lm_regime)
SERIES_WORDS = {
    "gain_somewhere": "raises exact accuracy at some of its points",
    "undecided_points": "raises exact accuracy at no point clearly (none gains at the family-wise width, some "
    "points undecided)",
    "within_margin_everywhere": "changes exact accuracy by less than the margin at every point",
    "no_gain_anywhere": "raises exact accuracy at none of its points",
    "no_points": "was not run",
    "check_failed": "could not be tested (clipping never bound)",
}


def series_sentence(v: pd.DataFrame) -> str:
    """The tiny-LM regime series' answer to the premise, from the reasons of its two E0 rows ('' when not run)."""
    e0 = _row(v, "E0 (tiny LM, any clip rule)", "tiny LM")
    sym = _row(v, "E0 (tiny LM, symmetric clipping)", "tiny LM")
    if e0 is None:
        return ""
    text = (
        f"on the tiny-LM regime series (batch size, step size, clip rule and entropy profile varied), random-reward "
        f"GRPO {SERIES_WORDS.get(e0.reason, e0.reason)} (E0 (tiny LM, any clip rule): **{e0.verdict}**)"
    )
    if sym is not None:
        text += f", and with symmetric clipping alone it {SERIES_WORDS.get(sym.reason, sym.reason)} (**{sym.verdict}**)"
    return text


def premise_sentence(v: pd.DataFrame) -> str:
    """The premise and Shao et al.'s ordering in words, composed from the reasons of the tiny-LM E0 and E7 rows."""
    from rlvr_lib.experiments.lm_lab import E7_REASONS

    e0 = _row(v, "E0", "tiny LM")
    e7 = v[(claim_key(v.claim) == "E7") & (v.level == "tiny LM")]
    if e0 is None:
        text = "the random-reward gain was not measured on the tiny language model"
    else:
        text = f"{PREMISE_WORDS.get(e0.reason, e0.reason)} (E0: **{e0.verdict}**)"
    if len(e7):
        r = e7.iloc[0]
        text += f"; against ground truth, {E7_REASONS.get(r.reason, r.reason)} (E7: **{r.verdict}**)"
    return text


def answers(results_dir: str | Path = "../results") -> str:
    """The front page's answers, as Markdown, composed from the verdicts and their reasons (no number or
    direction typed here)."""
    v = verdict_table(results_dir)
    if v.empty:
        return "*No results yet: run `make all` to compute the verdicts this page summarises.*"
    e0 = _row(v, "E0", "tiny LM")
    no_gain = e0 is not None and e0.reason in ("opposite_side", "within_margin")

    def levels(claim: str) -> str:
        return claim_levels(v, claim)

    on_map = map_sentence(v)
    on_series = series_sentence(v)
    series = _row(v, "E0 (tiny LM, any clip rule)", "tiny LM")
    series_gain = series is not None and series.reason == "gain_somewhere"
    q1 = (
        f"**{QUESTIONS['Q1'][0]}** In this companion {premise_sentence(v)}"
        + (
            (
                ", so at the outcome experiments' setting the paper's mechanisms are asked to explain a gain the tiny "
                "language model does not show"
                if series_gain
                else ", so on the tiny language model the paper's mechanisms are asked to explain a gain it does "
                "not show"
            )
            if no_gain
            else ""
        )
        + (f"; {on_map}" if on_map else "")
        + (f"; {on_series}" if on_series else "")
        + ". Claim by claim:\n\n"
        f"* clipping lowers entropy under random rewards (C6: relative, absolute, and on the regime series) - "
        f"{levels('C6')};\n"
        f"* without clipping the entropy change's sign follows the policy's skewness (C5) - {levels('C5')};\n"
        f"* clipping stabilises training (C7) - {levels('C7')};\n"
        f"* stronger models gain more (C11) - {levels('C11')};\n"
        f"* the gains are not contamination (C9) - {levels('C9')}."
    )
    q2 = (
        f"**{QUESTIONS['Q2'][0]}** The paper says no: entropy minimisation helps only when the base's mode is "
        f"already correct (C8) - {levels('C8')}."
    )
    return q1 + "\n\n" + q2


def _csv(results_dir: str | Path, name: str) -> pd.DataFrame | None:
    p = Path(results_dir) / f"{name}.csv"
    return pd.read_csv(p) if p.exists() else None


def gain_figure(results_dir: str | Path = "../results"):
    """Do random rewards raise accuracy, and more for stronger models? Left: the tabular bandit (mode correct),
    gain against initial accuracy per arm. Right: the tiny LM's five-base series, change in exact accuracy
    against initial exact accuracy per run, with each base's mean. None when the results are missing."""
    import matplotlib.pyplot as plt

    from rlvr_lib.experiments import plots

    tab, lm5 = _csv(results_dir, "theory_c8_c11"), _csv(results_dir, "lm_e5")
    dec = _csv(results_dir, "lm_e3_decomposition")
    if tab is None or lm5 is None:
        return None
    fig, axes = plt.subplots(1, 3 if dec is not None else 2, figsize=(15 if dec is not None else 10, 3.8))
    t = tab[tab.mode_correct.astype(str) == "True"]
    for i, (arm, g) in enumerate(t.groupby("arm", sort=False)):
        g = g.sort_values("initial_acc")
        axes[0].errorbar(g.initial_acc, g.gain, yerr=g.gain_ci, marker="o", ms=3, label=arm, color=plots.OTHER[i])
    axes[0].set(xlabel="initial accuracy (tabular)", ylabel="gain in accuracy", title="tabular bandit, mode correct")
    for i, (base, g) in enumerate(lm5.groupby("group", sort=False)):
        c = plots.OTHER[i % len(plots.OTHER)]
        axes[1].scatter(g.initial, g.change, s=14, color=c, alpha=0.5)
        axes[1].errorbar(g.initial.mean(), g.change.mean(), yerr=g.change.std(ddof=1) if len(g) > 1 else None,
                         marker="D", color=c, label=base, capsize=3)  # fmt: skip
    axes[1].set(xlabel="initial exact accuracy", ylabel="change in exact accuracy", title="tiny LM, random reward")
    for ax in axes[:2]:
        ax.axhline(0, color="k", lw=0.8)
        ax.legend(fontsize=8)
    if dec is not None:  # strategy or execution: before -> after, per arm, on the reliable-preferring base
        d = dec[dec.group == "default"]
        for arm, g in d.groupby("arm", sort=False):
            g = g.set_index("when")
            c = plots.color_for(arm, 0)
            for col, ls in (("share reliable", ":"), ("acc in reliable", "-")):
                axes[2].plot([0, 1], [g.loc["initial", col], g.loc["final", col]], ls, marker="o", color=c,
                             label=f"{arm}: {col}")  # fmt: skip
        axes[2].set_xticks([0, 1], ["before RL", "after RL (E3's run length)"])
        axes[2].set(ylabel="share / accuracy", title="tiny LM: strategy (dotted) vs execution (solid)")
        axes[2].legend(fontsize=7)
    fig.tight_layout()
    return fig


def c5_reading() -> str:
    """The C5 sign by skewness in words, computed from the reconstructed closed form
    (:func:`rlvr_lib.theory.simulator.entropy_change_coefficient`) for the two policies the brief names."""
    import numpy as np

    from rlvr_lib.theory.simulator import entropy_change_coefficient, skewed_policy

    u = entropy_change_coefficient(np.full(10, 0.1))
    k = entropy_change_coefficient(skewed_policy(100, 0.9))
    word = lambda c: "loses" if c < 0 else "gains"
    return (
        f"by the reconstructed closed form $\\mathbb{{E}}[\\Delta H] = \\eta^2 s^2 c(\\pi)$, a uniform policy over 10 "
        f"actions {word(u)} entropy ($c = {u:+.3f}$) and a policy with one action at 0.9 and 99 equal tail actions "
        f"{word(k)} it ($c = {k:+.3f}$)"
    )


def entropy_figure(results_dir: str | Path = "../results"):
    """What moves entropy? Left: the reconstructed closed-form one-step entropy change in the i.i.d. logit-noise
    model of C5 (z_a += eta x_a, x_a i.i.d. zero-mean: a model of a random-reward update, not a GRPO step)
    against the policy's skewness, with its Monte Carlo check. Right: the tiny LM's change in held-out entropy
    per arm (E1), with 95% intervals over seeds. None when the results are missing."""
    import matplotlib.pyplot as plt

    from rlvr_lib.experiments import plots

    skew, e1 = _csv(results_dir, "theory_c5_skew"), _csv(results_dir, "lm_e1")
    if skew is None or e1 is None:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    axes[0].plot(skew.q, skew.closed_form, color=plots.OTHER[0], label="closed form (reconstructed)")
    axes[0].errorbar(skew.q, skew.mc_mean, yerr=skew.mc_ci, fmt="o", ms=3, color=plots.OTHER[1], label="Monte Carlo")
    axes[0].axhline(0, color="k", lw=0.8)
    axes[0].set(xlabel="probability of the dominant action $q$", ylabel="expected entropy change per step",
                title="logit-noise model: sign against skewness (C5)")  # fmt: skip
    axes[0].legend(fontsize=8)
    h = e1[e1.metric == "eval/entropy"].reset_index(drop=True)
    plots.bars(h, "arm", "change", ax=axes[1], xlabel="arm", ylabel="change in held-out entropy (nats)", rotate=15)
    axes[1].set_title("tiny LM: random reward with and without clipping")
    fig.tight_layout()
    return fig


def chapter_html(results_dir: str | Path, claims: list[str], experiments: list[str]) -> str:
    """A claim chapter's body after its figure: the chapter's verdicts at every level side by side (with every
    statistic, manipulation checks included, in the collapsible table), the margins its tiny-LM experiments
    decide against, and the papers' reported numbers that bear on it."""
    parts = [verdict_matrix(results_dir, claims=claims, caption="The chapter's verdicts by level of evidence.")]
    m = notebook_margins(experiments)
    if len(m):
        parts.append("<h4>Margins and check thresholds, fixed in the experiments' parameters cells</h4>")
        parts.append(to_html(m))
    r = reported_for(claims)
    if len(r):
        parts.append("<h4>Reported by the papers (7B-scale models, real benchmarks; not reproduced here)</h4>")
        parts.append(to_html(r))
    return "".join(parts)
