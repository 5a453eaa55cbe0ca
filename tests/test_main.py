"""The main job's book stage: pages computed from results/ are rebuilt whenever results/ changed."""

import subprocess

from rlvr_lib.pipeline import main


def test_book_is_rebuilt_in_full_exactly_when_results_change(tmp_path, monkeypatch):
    (tmp_path / "results" / "verdicts").mkdir(parents=True)
    (tmp_path / "book" / "_build").mkdir(parents=True)
    verdict = tmp_path / "results" / "verdicts" / "x.json"
    one = '[{{"claim": "C1", "verdict": "{}", "statistic": "s", "level": "exact"}}]'
    verdict.write_text(one.format("supported"))
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd))

    def full_rebuild() -> bool:
        main.build_book(root=tmp_path)
        return "--all" in calls[-1]

    assert full_rebuild()  # first build: no stamp
    assert not full_rebuild()  # nothing changed: incremental
    verdict.write_text(one.format("inconclusive"))
    assert full_rebuild()  # a verdict changed: every page
    assert not full_rebuild()
    (tmp_path / "results" / "bases.json").write_text("{}")
    assert full_rebuild()  # a new results file
    assert all(c[1:3] == ["build", "book"] and "-W" in c for c in calls)
