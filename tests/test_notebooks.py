"""Smoke runs of every notebook through papermill (profile 'smoke'), as the README's main job runs them."""

import json

import pytest

from rlvr_lib.pipeline.runner import NOTEBOOKS, THEORY, TINY_LM, run_notebook


def test_every_notebook_is_listed():
    assert {p.stem for p in NOTEBOOKS.glob("*.py")} == set(THEORY) | set(TINY_LM)


@pytest.mark.slow
@pytest.mark.parametrize("name", THEORY)
def test_theory_notebook_smoke(name, tmp_path):
    r = run_notebook(name, {"profile": "smoke", "results_dir": str(tmp_path / "results")}, out_dir=tmp_path)
    assert not r["cached"] and r["path"].exists()
    verdicts = json.loads(next((tmp_path / "results" / "verdicts").glob("*.json")).read_text())
    assert verdicts and all(v["verdict"] in ("supported", "not supported", "inconclusive") for v in verdicts)
    again = run_notebook(name, {"profile": "smoke", "results_dir": str(tmp_path / "results")}, out_dir=tmp_path)
    assert again["cached"]
