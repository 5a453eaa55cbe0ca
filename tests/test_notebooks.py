"""Smoke runs of every notebook through papermill (profile 'smoke'), as the README's main job runs them."""

import json

import pytest

from rlvr_lib.pipeline.runner import NOTEBOOKS, PROBES, THEORY, TINY_LM, run_notebook
from rlvr_lib.verdicts import VERDICTS


def test_every_notebook_is_listed():
    assert {p.stem for p in NOTEBOOKS.glob("*.py")} == set(THEORY) | set(PROBES) | set(TINY_LM)


@pytest.mark.slow
@pytest.mark.parametrize("name", THEORY)
def test_theory_notebook_smoke(name, tmp_path):
    r = run_notebook(name, {"profile": "smoke", "results_dir": str(tmp_path / "results")}, out_dir=tmp_path)
    assert not r["cached"] and r["path"].exists()
    verdicts = json.loads(next((tmp_path / "results" / "verdicts").glob("*.json")).read_text())
    assert verdicts and all(v["verdict"] in VERDICTS for v in verdicts)
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
