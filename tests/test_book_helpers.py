"""The book's computed pages on synthetic results: the verdict matrix, the answers, the question tables, the
downloads and the run manifest."""

import json
import tarfile

import pandas as pd
import pytest

from rlvr_lib.experiments import lm_lab as lm
from rlvr_lib.pipeline import book
from rlvr_lib.verdicts import Verdict, save_verdicts


@pytest.fixture
def results(tmp_path):
    r = tmp_path / "results"
    save_verdicts(
        [
            Verdict("C6", "supported", "dH -0.01", "tabular", reason="lower_in_every_init"),
            Verdict("C6", "inconclusive", "dH -0.001 [-0.01, 0.008]", "tiny LM", reason="undecided"),
            Verdict("C8 (entropy coef)", "not supported", "x", "tiny LM", reason="gain_where_mode_wrong"),
            Verdict("C8 (entropy reward)", "not testable here", "y", "tiny LM", reason="check_failed"),
            Verdict("E7 Shao et al.'s ordering", "not supported", "z", "tiny LM", reason="random_lowers"),
        ],
        r,
        "nb_a",
    )
    pd.DataFrame({"a": [1, 2]}).to_csv(r / "tab_a.csv", index=False)
    return r


def test_matrix_has_a_chip_per_verdict_linking_its_page_with_the_statistic_on_hover(results):
    h = book.verdict_matrix(results)
    assert h.count('class="rlvr-chip" style') == 5 + len(book.VERDICT_COLORS)  # chips + legend
    assert (
        'href="executed/nb_a.html"' in h and 'title="C6 [tiny LM]: inconclusive (undecided; neither) - dH -0.001' in h
    )
    assert "<figcaption>" in h and "<details>" in h
    only = book.verdict_matrix(results, claims=["C8"])
    matrix = only.split("<details>")[0]
    assert matrix.count("<tr>") - 1 == 1 and "entropy reward" in matrix  # one claim row; qualifiers shown


E7 = "E7 Shao et al.'s ordering (spurious rewards help, less than ground truth)"


@pytest.mark.parametrize(
    "e0, e0_reason, e7, e7_reason, says, never",
    [
        ("not supported", "opposite_side", "not supported", "random_lowers", "lowers exact accuracy", "raises exact"),
        ("supported", "beyond_margin", "supported", "ordering_holds", "raises exact accuracy", "lowers"),
        # random raises accuracy MORE than ground truth: E7 is not supported, yet accuracy did not fall
        ("supported", "beyond_margin", "not supported", "random_not_below_ground_truth", "at least as much", "lowers"),
        ("effect excluded", "within_margin", "not supported", "random_gain_excluded", "less than the margin", "lowers"),
        ("inconclusive", "undecided", "inconclusive", "random_undecided", "undecided", "lowers"),
    ],
)
def test_answers_compose_the_premise_from_the_reasons(tmp_path, e0, e0_reason, e7, e7_reason, says, never):
    save_verdicts(
        [Verdict("E0", e0, "s", "tiny LM", reason=e0_reason), Verdict(E7, e7, "s", "tiny LM", reason=e7_reason)],
        tmp_path,
        "nb",
    )
    text = book.answers(tmp_path)
    first = text.split("Claim by claim")[0]
    assert says in first and never not in first
    assert lm.E7_REASONS[e7_reason] in first and f"(E7: **{e7}**)" in first
    assert ("a gain it does not show" in first) == (e0_reason in ("opposite_side", "within_margin"))
    assert "regime map" not in first  # the map has not run here
    assert "(C6: relative, absolute, and on the regime series) - not tested" in text
    assert "No results yet" in book.answers(tmp_path / "missing")


def test_answers_name_each_row_of_a_claim(tmp_path):
    save_verdicts(
        [
            Verdict("C6", "inconclusive", "s", "tiny LM", reason="undecided"),
            Verdict("C6 (absolute)", "not supported", "s", "tiny LM", reason="opposite_side"),
        ],
        tmp_path,
        "nb",
    )
    assert "tiny LM: **inconclusive**, **not supported** (absolute)" in book.answers(tmp_path)


def sv(claim, verdict, level, polarity=1):
    return Verdict(claim, verdict, "s", level, polarity=polarity, reason="r")


def test_question_table_counts_each_row_with_the_sign_of_its_meaning(tmp_path):
    """C3 "negligible over training" SUPPORTED is evidence AGAINST "clipping lowers entropy"; C6 supported is
    evidence for it. Counting both as the same kind of verdict (the old table) would read 'for' or 'part'."""
    save_verdicts(
        [
            sv("C6", "supported", "tabular"),
            sv("C3 (negligible over 100 optimizer steps)", "supported", "tabular"),
            sv("C6", "not supported", "tiny LM"),
            sv("C6 (absolute)", "not supported", "tiny LM"),
            sv("C3 (negligible over 100 optimizer steps)", "supported", "tiny LM (mechanism)"),
        ],
        tmp_path,
        "nb",
    )
    q = book.question_table(tmp_path, "Q1").set_index("statement")
    r = q.loc["Clipping under random rewards lowers entropy"]
    assert r["tabular"].startswith("mixed") and r["tiny LM"].startswith("against")
    assert r["tiny LM (mechanism)"].startswith("against") and r["exact"] == "not tested"
    assert r["levels"] == "disagree"
    assert q.loc["The gains are not contamination", "levels"] == "not tested"
    # a row is counted only under the statements that name it
    assert q.loc["Per step, the clipping correction is small next to the raw surrogate", "levels"] == "not tested"


@pytest.mark.parametrize(
    "rows, levels",
    [
        ([sv("C8", "supported", "tabular"), sv("C8 (entropy coef)", "supported", "tiny LM")], "agree: for"),
        (
            [sv("C8", "not supported", "tabular"), sv("C8 (entropy coef)", "effect excluded", "tiny LM")],
            "agree: against",
        ),
        ([sv("C8", "supported", "tabular"), sv("C8 (entropy coef)", "inconclusive", "tiny LM")], "one level: for"),
        ([sv("C8", "not supported", "tabular")], "one level: against"),
        ([sv("C8", "supported", "tabular"), sv("C8 (entropy coef)", "not supported", "tiny LM")], "disagree"),
        ([sv("C8 (entropy coef)", "inconclusive", "tiny LM"), sv("C8", "not testable here", "tabular")], "undecided"),
        ([], "not tested"),
    ],
)
def test_question_table_reaches_every_agreement(tmp_path, rows, levels):
    save_verdicts([*rows, sv("C1", "supported", "exact")], tmp_path, "nb")
    assert book.question_table(tmp_path, "Q2").levels.iloc[0] == levels


def test_a_row_about_the_explanation_is_counted_under_the_explanation_only(tmp_path):
    save_verdicts([sv("C10 (predicts C11)", "not supported", "exact", polarity=0)], tmp_path, "nb")
    q = book.question_table(tmp_path, "Q1").set_index("statement")
    assert q.loc["The misalignment moments alone say who gains", "exact"].startswith("against")
    assert q.loc["Stronger models gain more from random rewards", "levels"] == "not tested"
    v = book.verdict_table(tmp_path)
    assert v["bears on the claim"].iloc[0] == "neither (tests its explanation)"


@pytest.mark.parametrize(
    "signs, reading",
    [([], "not tested"), ([0, 0], "undecided"), ([1, 0], "for"), ([-1], "against"), ([1, -1, 0], "mixed")],
)
def test_level_reading(signs, reading):
    assert book.level_reading(signs) == reading


def test_c5_reading_matches_the_closed_form_worked_by_hand():
    """c(pi) = sum pi^2 (log pi + H) - (1 - sum pi^2) / 2 (reconstructed, C5), by hand. Uniform over 10: every
    log pi + H is 0 and sum pi^2 = 0.1, so c = -0.45: it loses entropy. One action at 0.9 and 99 sharing 0.1
    (t = 0.1/99 each): H = 0.7846, sum pi^2 = 0.8101, the sum is 0.81 (log 0.9 + H) + 99 t^2 (log t + H) =
    0.55018 - 0.00062, so c = 0.54956 - 0.09495 = +0.4546: it gains entropy."""
    text = book.c5_reading()
    assert "10 actions loses entropy ($c = -0.450$)" in text
    assert "99 equal tail actions gains it ($c = +0.455$)" in text


def test_downloads_hold_tables_verdicts_and_runs_with_a_manifest(tmp_path, results):
    run = tmp_path / "runs" / "tinylm" / "abc"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"name": "random, clip", "seed": 3, "base": "default"}))
    (run / "meta.json").write_text(json.dumps({"git": "deadbeef", "versions": {"torch": "2"}}))
    (run / "status.json").write_text(json.dumps({"status": "complete", "wall_s": 1.0}))
    (run / "metrics.jsonl").write_text('{"step": 0}\n')
    unfinished = tmp_path / "runs" / "tinylm" / "zzz"
    unfinished.mkdir()
    (unfinished / "status.json").write_text(json.dumps({"status": "running"}))
    files = book.prepare_downloads(tmp_path)
    assert {"tables/tab_a.csv", "verdicts.csv", "verdicts.json", "runs.tar.gz", "runs_manifest.csv"} <= set(files)
    out = tmp_path / book.DOWNLOADS
    assert len(pd.read_csv(out / "verdicts.csv")) == 5
    manifest = pd.read_csv(out / "runs_manifest.csv")
    assert list(manifest.run_id) == ["abc"] and manifest.seed[0] == 3 and manifest.git[0] == "deadbeef"
    with tarfile.open(out / "runs.tar.gz") as tar:
        names = tar.getnames()
    assert "runs/manifest.csv" in names and "runs/tinylm/abc/metrics.jsonl" in names
    assert not any("zzz" in n for n in names)
    assert "runs.tar.gz" in book.download_list(tmp_path)


def test_notebook_margins_are_read_from_the_parameters_cells():
    m = book.notebook_margins(["lm_e1_clipping"]).set_index("margin")
    assert {"acc_margin", "entropy_margin", "clip_floor"} <= set(m.index)
    assert m.loc["acc_margin", "value"] == 0.02


def test_reproduce_cell_gives_a_papermill_command_that_carries_every_parameter():
    import shlex

    import yaml

    from rlvr_lib.pipeline.runner import papermill_command, reproduce_text

    params = {"profile": "full", "learning_rate": 5e-05, "seeds_per_comparison": {"C4": 3}, "seeds": [0, 1]}
    argv = shlex.split(papermill_command("lm_e1_clipping", params))
    assert argv[:2] == ["jupytext", "--to"] and "papermill" in argv
    assert yaml.safe_load(argv[argv.index("-y") + 1]) == params  # papermill reads -y as YAML
    text = reproduce_text("lm_e1_clipping", params, 203.4, ["lm_e1.csv"])
    assert "203 s" in text and 'href="../downloads/tables/lm_e1.csv"' in text


def test_setup_cells_are_hidden_on_the_rendered_pages():
    """A reader meets the question and the result first: the Colab install cell and the parameter-check cell
    stay in every notebook, their input folded away on the rendered page."""
    import jupytext

    from rlvr_lib.pipeline.runner import NOTEBOOKS

    for path in sorted(NOTEBOOKS.glob("*.py")):
        cells = jupytext.read(path).cells
        colab = [c for c in cells if "colab" in c.metadata.get("tags", [])]
        check = [c for c in cells if "check_parameters(globals())" in c.source]
        assert len(colab) == 1 and len(check) == 1, path.name
        for c in colab + check:
            assert "hide-input" in c.metadata.get("tags", []), (path.name, c.source[:60])


def test_reported_numbers_are_cited_to_their_own_sources():
    r = book.REPORTED.set_index("value")
    assert "Liu et al." in r.loc["69.0", "source"] and "Shao" not in r.loc["69.0", "source"]
    assert "Spurious Rewards" in r.loc["49.4", "source"]
    assert all("reported" in s for s in book.REPORTED.source)


def test_rows_beyond_the_twelve_claims_are_the_extra_statements_only(tmp_path):
    save_verdicts(
        [
            sv("C7 (stress regime)", "inconclusive", "tiny LM"),
            sv("C8 (entropy coef)", "supported", "tiny LM"),
            sv("E0", "not supported", "tiny LM"),
            sv("E3 prior amplification (default base, random, clip)", "effect excluded", "tiny LM"),
            sv("E7 Shao et al.'s ordering", "not supported", "tiny LM"),
            sv("C10 (predicts C11)", "not supported", "exact", polarity=0),
        ],
        tmp_path,
        "nb",
    )
    extra = book.beyond_claims(tmp_path)
    assert sorted(extra.claim.str.split().str[0]) == ["E0", "E3", "E7"]
    counts = book.stance_counts(tmp_path).set_index("level")
    assert counts.loc["tiny LM", "for"] == 1 and counts.loc["tiny LM", "neither"] == 1
    assert counts.loc["exact", "neither"] == 1 and counts.loc["exact", "against"] == 0


def test_e1_training_caption_matches_the_window_and_the_rollout():
    """The caption's window is what the cell passes to `windowed`, and one window is one rollout batch."""
    import re

    import jupytext

    from rlvr_lib.pipeline.runner import NOTEBOOKS

    cells = jupytext.read(NOTEBOOKS / "lm_e1_clipping.py").cells
    (cell,) = [c for c in cells if "lm.windowed(df, train" in c.source]
    window = int(re.search(r"lm\.windowed\(df, train, (\d+)\)", cell.source).group(1))
    caption = cell.metadata["mystnb"]["figure"]["caption"]
    said = [int(k) for k in re.findall(r"(\d+) optimizer steps", caption)]
    assert said and set(said) == {window} == {lm.FULL["steps_per_generation"]}
    assert "one rollout batch" in caption


@pytest.mark.parametrize(
    "reason, sym_reason, says",
    [
        ("gain_somewhere", "undecided_cells", "raises a bandit's accuracy in some of the map's cells"),
        ("no_gain_anywhere", "no_gain_anywhere", "raises a bandit's accuracy nowhere on the map"),
        ("within_margin_everywhere", "check_failed", "changes a bandit's accuracy by less than the margin everywhere"),
    ],
)
def test_answers_add_the_regime_map_from_its_reasons(tmp_path, reason, sym_reason, says):
    verdict = {"gain_somewhere": "supported", "no_gain_anywhere": "not supported"}.get(reason, "effect excluded")
    save_verdicts(
        [
            Verdict("E0 (any clip rule)", verdict, "s", "tabular", reason=reason),
            Verdict("E0 (symmetric clipping)", "inconclusive", "s", "tabular", reason=sym_reason),
            Verdict("E0", "not supported", "s", "tiny LM", reason="opposite_side"),
        ],
        tmp_path,
        "nb",
    )
    first = book.answers(tmp_path).split("Claim by claim")[0]
    assert "lowers exact accuracy on the tiny language model" in first
    assert f"on the tabular regime map, random-reward GRPO {says}" in first
    assert book.MAP_WORDS[sym_reason] in first


@pytest.mark.parametrize("series_reason", ["gain_somewhere", "no_gain_anywhere"])
def test_answers_add_the_regime_series_and_qualify_the_no_gain_sentence(tmp_path, series_reason):
    save_verdicts(
        [
            Verdict("E0", "not supported", "s", "tiny LM", reason="opposite_side"),
            Verdict(
                "E0 (tiny LM, any clip rule)",
                {"gain_somewhere": "supported"}.get(series_reason, "not supported"),
                "s",
                "tiny LM",
                reason=series_reason,
            ),  # fmt: skip
            Verdict("E0 (tiny LM, symmetric clipping)", "not supported", "s", "tiny LM", reason="no_gain_anywhere"),
        ],
        tmp_path,
        "nb",
    )
    first = book.answers(tmp_path).split("Claim by claim")[0]
    assert (
        f"on the tiny-LM regime series (batch size, step size, clip rule and entropy profile varied), "
        f"random-reward GRPO {book.SERIES_WORDS[series_reason]}" in first
    )
    assert "with symmetric clipping alone it raises exact accuracy at none of its points" in first
    # a gain on the series and none at E7's point: the no-gain sentence is about the outcome experiments' setting
    qualified = "at the outcome experiments' setting the paper's mechanisms are asked to explain a gain" in first
    assert qualified == (series_reason == "gain_somewhere")
    assert ("so on the tiny language model the paper's mechanisms" in first) == (series_reason != "gain_somewhere")


def test_premise_counts_symmetric_and_unclipped_rows_and_the_maps_any_rule_rows_apart(tmp_path):
    """The paper's premise is about GRPO as run (symmetric clipping, or none for C4): a gain found only under some
    other clip rule on a regime map is counted under its own statement, not for the premise."""
    save_verdicts(
        [
            Verdict("E0 (any clip rule)", "supported", "s", "tabular", reason="gain_somewhere"),
            Verdict("E0 (symmetric clipping)", "not supported", "s", "tabular", reason="no_gain_anywhere"),
            Verdict("E0 (tiny LM, any clip rule)", "supported", "s", "tiny LM", reason="gain_somewhere"),
            Verdict("E0 (tiny LM, symmetric clipping)", "not supported", "s", "tiny LM", reason="no_gain_anywhere"),
        ],
        tmp_path,
        "nb",
    )
    q = book.question_table(tmp_path, "Q1").set_index("statement")
    premise = q.loc[[s for s in q.index if s.startswith("Random rewards raise accuracy (the paradox")][0]]
    some_rule = q.loc["Random rewards raise accuracy under some clip rule (the regime maps)"]
    assert "any clip rule" not in " ".join(premise.astype(str)) and "symmetric clipping" in premise["tabular"]
    assert "E0 (any clip rule): supported" in some_rule["tabular"]
    assert "E0 (tiny LM, any clip rule): supported" in some_rule["tiny LM"]
    assert "symmetric" not in " ".join(some_rule.astype(str))


def _machine(model: str) -> dict:
    return {"cpu": {"model": model}, "aten_capability": "AVX2", "pins": {"ATEN_CPU_CAPABILITY": "avx2"}}


@pytest.mark.parametrize("same", [True, False])
def test_cross_machine_table_compares_outcomes_and_sets_changed_designs_apart(tmp_path, results, same):
    """Each verdict beside the reference build's: agreeing, differing, only on one side, and a notebook whose
    design changed since (listed, never counted as a machine difference); the paragraph counts what it shows."""
    (results / "machine.json").write_text(json.dumps(_machine("CPU here")))
    save_verdicts([Verdict("C11", "inconclusive", "s", "tiny LM", reason="undecided")], results, "nb_b")
    ref = {
        "revision": "0123456789abcdef",
        "machine": _machine("CPU there"),
        "changed_since": {"nb_b": "its bases changed"},
        "verdicts": [
            {"source": "nb_a", "claim": "C6", "level": "tabular", "verdict": "supported", "reason": "r"},
            {
                "source": "nb_a",
                "claim": "C6",
                "level": "tiny LM",
                "verdict": "inconclusive" if same else "supported",
                "reason": "r",
            },  # fmt: skip
            {
                "source": "nb_a",
                "claim": "C8 (entropy coef)",
                "level": "tiny LM",
                "verdict": "not supported",
                "reason": "r",
            },  # fmt: skip
            {"source": "nb_b", "claim": "C11", "level": "tiny LM", "verdict": "not supported", "reason": "r"},
            {"source": "nb_c", "claim": "C1", "level": "exact", "verdict": "supported", "reason": "r"},
        ],
    }
    path = tmp_path / "ref.json"
    path.write_text(json.dumps(ref))
    t = book.cross_machine_table(results, path)
    assert len(t) == 7  # 6 here (5 + C11), 5 there, 4 in common
    row = t.set_index(["notebook", "claim", "level"])
    assert bool(row.loc[("nb_a", "C6", "tiny LM"), "same outcome"]) is same
    assert row.loc[("nb_b", "C11", "tiny LM"), "note"] == "its bases changed"
    assert row.loc[("nb_c", "C1", "exact"), "this build"] == "" and not row.loc[("nb_c", "C1", "exact"), "same outcome"]
    assert row.loc[("nb_a", "C8 (entropy reward)", "tiny LM"), "reference build"] == ""
    text = book.cross_machine_sentence(results, path)
    assert "CPU here (AVX2 kernels, pinned)" in text and "CPU there" in text and "revision 0123456" in text
    differ = 0 if same else 1
    assert f"design, {3 - differ} came out the same and {differ} differently" in text and "Of the 3 verdicts" in text
    assert ("by level: 1 tiny LM" in text) is not same and ("by level: none" in text) is same
    assert "4 more are not compared" in text
    agree = "levels tabular, tiny LM came out the same" if same else "level tabular came out the same"
    assert agree in text
