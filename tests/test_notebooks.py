"""The notebook runner: every notebook listed, and the cache key covering the package's subpackages. (The smoke
runs of every notebook through papermill, as the main job runs them, are in tests/test_book.py.)"""

import pytest

from rlvr_lib.pipeline.runner import NOTEBOOKS, PROBES, THEORY, TINY_LM, run_notebook


def test_every_notebook_is_listed():
    """Every notebook runs in the main job (and once, at smoke size, in tests/test_book.py, whose checks of each
    notebook's verdict file live beside that run)."""
    assert {p.stem for p in NOTEBOOKS.glob("*.py")} == set(THEORY) | set(PROBES) | set(TINY_LM)


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
