"""The book's computed pages on synthetic results: the verdict matrix, the answers, the question tables, the
downloads and the run manifest."""

import json
import tarfile

import pandas as pd
import pytest

from rlvr_lib.pipeline import book
from rlvr_lib.verdicts import Verdict, save_verdicts


@pytest.fixture
def results(tmp_path):
    r = tmp_path / "results"
    save_verdicts(
        [
            Verdict("C6", "supported", "dH -0.01", "tabular"),
            Verdict("C6", "inconclusive", "dH -0.001 [-0.01, 0.008]", "tiny LM"),
            Verdict("C8 (entropy coef)", "not supported", "x", "tiny LM"),
            Verdict("C8 (entropy reward)", "not testable here", "y", "tiny LM"),
            Verdict("E7 Shao et al.'s ordering", "not supported", "z", "tiny LM"),
        ],
        r,
        "nb_a",
    )
    pd.DataFrame({"a": [1, 2]}).to_csv(r / "tab_a.csv", index=False)
    return r


def test_matrix_has_a_chip_per_verdict_linking_its_page_with_the_statistic_on_hover(results):
    h = book.verdict_matrix(results)
    assert h.count('class="rlvr-chip" style') == 5 + len(book.VERDICT_COLORS)  # chips + legend
    assert 'href="executed/nb_a.html"' in h and 'title="C6 [tiny LM]: inconclusive - dH -0.001' in h
    assert "<figcaption>" in h and "<details>" in h
    only = book.verdict_matrix(results, claims=["C8"])
    matrix = only.split("<details>")[0]
    assert matrix.count("<tr>") - 1 == 1 and "entropy reward" in matrix  # one claim row; qualifiers shown


@pytest.mark.parametrize(
    "e7, phrase",
    [
        ("not supported", "lowers accuracy"),
        ("supported", "raises accuracy"),
        ("effect excluded", "unchanged"),
        ("inconclusive", "undecided"),
    ],
)
def test_answers_follow_the_verdicts(tmp_path, e7, phrase):
    save_verdicts([Verdict("E7 x", e7, "s", "tiny LM")], tmp_path, "nb")
    text = book.answers(tmp_path)
    assert phrase in text and "(C6) - not tested" in text
    assert "No results yet" in book.answers(tmp_path / "missing")


def test_question_table_says_whether_levels_agree(results):
    q1 = book.question_table(results, "Q1").set_index("statement")
    assert q1.loc["Clipping under random rewards lowers entropy", "levels"] == "part"
    assert q1.loc["The gains are not contamination", "levels"] == "not tested"
    q2 = book.question_table(results, "Q2")
    assert q2.levels.iloc[0] == "part"  # two different verdicts at the one level


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
