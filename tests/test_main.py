"""The main job's book stage: pages computed from results/ are rebuilt whenever results/ changed."""

import subprocess

from rlvr_lib.pipeline import main


def test_book_is_rebuilt_in_full_exactly_when_results_change(tmp_path, monkeypatch):
    (tmp_path / "results" / "verdicts").mkdir(parents=True)
    (tmp_path / "book" / "_build").mkdir(parents=True)
    verdict = tmp_path / "results" / "verdicts" / "x.json"
    one = '[{{"claim": "C1", "verdict": "{}", "statistic": "s", "level": "exact", "reason": "{}"}}]'
    verdict.write_text(one.format("supported", "beyond_margin"))
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: calls.append(cmd))

    def full_rebuild() -> bool:
        main.build_book(root=tmp_path)
        return "--all" in calls[-1]

    assert full_rebuild()  # first build: no stamp
    assert not full_rebuild()  # nothing changed: incremental
    verdict.write_text(one.format("inconclusive", "undecided"))
    assert full_rebuild()  # a verdict changed: every page
    assert not full_rebuild()
    (tmp_path / "results" / "bases.json").write_text("{}")
    assert full_rebuild()  # a new results file
    assert all(c[1:3] == ["build", "book"] and "-W" in c for c in calls)


def _fake_notebooks(monkeypatch, tmp_path):
    """The main job in `tmp_path` with notebooks recorded instead of executed: [(name, parameters, force)]."""
    calls = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(main, "ROOT", tmp_path)
    monkeypatch.setattr(main, "machine_record", lambda: {"canary": "-"})  # the canary takes seconds
    monkeypatch.setattr(main, "describe", lambda: "numerics not measured here")
    monkeypatch.setenv(main.ENV, "sequential")  # restored afterwards (the job sets it for its kernels)
    monkeypatch.setattr(
        main,
        "run_notebook",
        lambda name, params, out, force=False: calls.append((name, params, force)) or {"cached": True},
    )
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "hparams.json").write_text('{"chosen": {"learning_rate": 0.002}}')
    (tmp_path / "results" / "pilot.json").write_text('{"seeds": {"E1": 4}}')
    return calls


def test_a_damaged_run_makes_the_tiny_lm_notebooks_execute_again(tmp_path, monkeypatch, capsys):
    """Cached notebooks do not look at their runs, so a damaged run record (a metrics file cut short) makes the
    main job re-execute every tiny-LM notebook, which trains the run again; the other stages are not forced."""
    from rlvr_lib.pipeline.runner import THEORY, TINY_LM
    from rlvr_lib.rl.records import RunRecord

    calls = _fake_notebooks(monkeypatch, tmp_path)
    assert main.main(["--only", "lm", "--only", "theory", "--jobs", "1"]) == 0
    assert [c[0] for c in calls] == THEORY + TINY_LM and not any(c[2] for c in calls)  # nothing damaged
    assert all(c[1]["learning_rate"] == 0.002 for c in calls if c[0] in TINY_LM[1:])

    run = tmp_path / "runs" / "tinylm" / "r1"
    record = RunRecord(run)
    record.start({"experiment": {}}, seed=0)
    for step in range(3):
        record.log(step, {"loss": 1.0})
    record.finish("complete")
    lines = (run / "metrics.jsonl").read_text().splitlines()
    (run / "metrics.jsonl").write_text("\n".join(lines[:2]) + "\n" + lines[2][:5])  # cut by a crash
    calls.clear()
    capsys.readouterr()
    assert main.main(["--only", "lm", "--only", "theory", "--jobs", "1"]) == 0
    forced = {name: force for name, _, force in calls}
    assert forced == {**dict.fromkeys(THEORY, False), **dict.fromkeys(TINY_LM, True)}
    out = capsys.readouterr().out
    assert "run record runs/tinylm/r1: metrics.jsonl holds 2 readable rows of the 3 written" in out
    assert "its notebook runs again and retrains it" in out


def test_only_map_runs_the_two_regime_maps_with_the_chosen_learning_rate(tmp_path, monkeypatch):
    calls = _fake_notebooks(monkeypatch, tmp_path)
    assert main.main(["--only", "map", "--jobs", "1"]) == 0
    assert [c[0] for c in calls] == ["theory_regime_map", "lm_regime_series"]
    assert calls[1][1]["learning_rate"] == 0.002 and "learning_rate" not in calls[0][1]
