"""Smoke runs of every notebook through papermill (profile 'smoke'), as the README's main job runs them."""

import json

import pytest

from rlvr_lib.pipeline.runner import NOTEBOOKS, PROBES, THEORY, TINY_LM, run_notebook
from rlvr_lib.verdicts import load_verdicts

# the claims each theory notebook must give a verdict on ("C6" covers "C6 (absolute)")
THEORY_CLAIMS = {
    "theory_c1_advantages": {"C1"},
    "theory_c2_c5_entropy": {"C2", "C5"},
    "theory_c3_clipping_bias": {"C3"},
    "theory_c6_c7_clip_dynamics": {"C6", "C7"},
    "theory_c8_c11_bandit": {"C8", "C11"},
    "theory_c10_misalignment": {"C10"},
    "theory_regime_map": {"E0"},
}


def test_every_notebook_is_listed():
    assert {p.stem for p in NOTEBOOKS.glob("*.py")} == set(THEORY) | set(PROBES) | set(TINY_LM)
    assert set(THEORY_CLAIMS) == set(THEORY), "name the claims of every theory notebook in THEORY_CLAIMS"


@pytest.mark.slow
@pytest.mark.parametrize("name", THEORY)
def test_theory_notebook_smoke(name, tmp_path):
    results = tmp_path / "results"
    r = run_notebook(name, {"profile": "smoke", "results_dir": str(results)}, out_dir=tmp_path)
    assert not r["cached"] and r["path"].exists()
    files = sorted((results / "verdicts").glob("*.json"))
    assert [f.name for f in files] == [f"{name}.json"]  # every verdict it writes is in one file, named after it
    rows = [row for f in files for row in json.loads(f.read_text())]
    assert {row["claim"].split()[0] for row in rows} == THEORY_CLAIMS[name]
    for row in rows:
        assert row["source"] == name and row["reason"].strip() and row["statistic"].strip(), row
        assert row["statement"].strip() or row["polarity"] == 1, row  # an empty statement is the claim's own
    assert len(load_verdicts(results)) == len(rows)  # every row passes the record's own checks
    again = run_notebook(name, {"profile": "smoke", "results_dir": str(tmp_path / "results")}, out_dir=tmp_path)
    assert again["cached"]


@pytest.mark.slow
def test_a_change_in_a_subpackage_re_executes_the_notebooks(tmp_path, monkeypatch):
    """The cache key covers every source file of the package, subpackages included."""
    import shutil

    from rlvr_lib.pipeline import runner

    copy = tmp_path / "repo"
    shutil.copytree(runner.ROOT / "rlvr_lib", copy / "rlvr_lib", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(runner, "ROOT", copy)
    params = {"profile": "smoke", "results_dir": str(tmp_path / "results")}
    name = "theory_c1_advantages"
    assert not run_notebook(name, params, out_dir=tmp_path)["cached"]
    assert run_notebook(name, params, out_dir=tmp_path)["cached"]
    deep = copy / "rlvr_lib" / "testbed" / "tasks.py"
    deep.write_text(deep.read_text() + "\n# a change two levels down\n")
    assert not runner.is_cached(name, params, tmp_path)
    assert not run_notebook(name, params, out_dir=tmp_path)["cached"]
