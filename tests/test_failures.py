"""Failures, each handled as documented: a run that raises (recorded failed, its error through the sequential and
the pool executors, left out by the loaders), a run whose weights go non-finite before an error (diverged), a pool
that keeps breaking (its retry limit), a notebook that fails (its ``.failed.ipynb``), and a run trained from an
older build of its base (trained again)."""

import concurrent.futures
import json
import shutil
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool

import pytest
import torch

from rlvr_lib.pipeline.book import runs_manifest
from rlvr_lib.rl import driver, executors
from rlvr_lib.rl.config import ExperimentConfig
from rlvr_lib.rl.driver import RecordCallback, run_dir_of, run_experiment
from rlvr_lib.rl.executors import ExecutorSpec, run_many
from rlvr_lib.rl.records import FINISHED, RunRecord, is_finished, load_runs, read_metrics, read_status


def tiny(base, root, **kw) -> ExperimentConfig:
    fields = dict(
        base=str(base),
        reward={"random": 1.0},
        num_generations=4,
        prompts_per_step=2,
        steps_per_generation=2,
        max_steps=4,
        max_completion_length=16,
        learning_rate=3e-3,
        eval_every=1000,
        eval_items=4,
        eval_n_samples=2,
        output_root=str(root),
        experiment="faults",
    )
    return ExperimentConfig(**{**fields, **kw})


def raise_at_step(monkeypatch, step: int, poison: bool = False):
    """Make training raise at the end of optimizer step `step` (after the earlier steps were recorded), with the
    weights turned to NaN first when `poison` (as when a step's update overflows and sampling then fails)."""
    original = RecordCallback.on_step_end

    def on_step_end(self, args, state, control, model=None, **kw):
        if state.global_step == step:
            if poison:
                with torch.no_grad():
                    next(model.parameters()).fill_(float("nan"))
            raise RuntimeError("probability tensor contains either inf, nan or element < 0")
        return original(self, args, state, control, model=model, **kw)

    monkeypatch.setattr(RecordCallback, "on_step_end", on_step_end)


def status_of(d) -> dict:
    return json.loads((d / "status.json").read_text())


def test_a_run_that_raises_is_failed_re_raised_and_left_out_by_the_loaders(tiny_base, tmp_path, monkeypatch):
    cfg = tiny(tiny_base, tmp_path)
    raise_at_step(monkeypatch, 2)
    with pytest.raises(RuntimeError, match="probability tensor"):
        run_many([cfg.to_dict()], "sequential")  # the executor passes the run's own error on
    d = run_dir_of(cfg)
    status = status_of(d)
    assert status["status"] == "failed" and "RuntimeError('probability tensor" in status["error"]
    assert not is_finished(d) and not (d / "trl").exists()
    assert [r["step"] for r in read_metrics(d)] == [0, 1]  # the evaluation at step 0 and the first step
    # left out by the tidy loader and the book's run manifest, though its metrics are there
    assert load_runs(tmp_path).empty and runs_manifest(tmp_path).empty
    assert set(load_runs(tmp_path, statuses=("failed",)).step) == {0, 1}
    # a failed run is not finished: the same configuration trains again, to completion
    monkeypatch.undo()
    run_experiment(cfg, progress=False)
    assert read_status(d) == "complete" and set(load_runs(tmp_path).run_id) == {d.name}
    assert runs_manifest(tmp_path).status.tolist() == ["complete"]


def test_weights_that_went_non_finite_make_an_error_a_divergence(tiny_base, tmp_path, monkeypatch):
    """Training that raises after the weights became NaN is recorded as diverged (its metrics kept, the error
    noted) and does not stop the sweep; the same error with finite weights is a failure (previous test)."""
    cfg = tiny(tiny_base, tmp_path)
    raise_at_step(monkeypatch, 2, poison=True)
    assert run_many([cfg.to_dict()], "sequential")[0]["run_id"] == cfg.run_id  # no exception
    d = run_dir_of(cfg)
    status = status_of(d)
    assert status["status"] == "diverged" and "probability tensor" in status["error"] and is_finished(d)
    assert [r["step"] for r in read_metrics(d)] == [0, 1]
    assert set(load_runs(tmp_path).status) == {"diverged"} and "diverged" in FINISHED
    monkeypatch.undo()
    assert run_experiment(cfg, progress=False) == d and status_of(d) == status  # finished: not trained again


@pytest.fixture
def base_with_unwritable_evals(tiny_base, tmp_path):
    """A copy of the tiny base whose evaluation cache cannot be written (``evals`` is a file): a run on it starts
    its record, evaluates the base at step 0 and raises FileExistsError when it stores that evaluation - in
    whichever process trains it, so the fault reaches pool workers without any patching."""
    b = tmp_path / "base"
    shutil.copytree(tiny_base, b, ignore=shutil.ignore_patterns("evals"))
    (b / "evals").write_text("a file where the evaluation cache's directory belongs")
    return b


@pytest.mark.slow
def test_a_failing_run_in_a_pool_worker_fails_the_sweep_after_the_others(
    tiny_base, base_with_unwritable_evals, tmp_path
):
    bad = tiny(base_with_unwritable_evals, tmp_path / "runs", max_steps=2)
    good = tiny(tiny_base, tmp_path / "runs", max_steps=2)
    with pytest.raises(FileExistsError):
        run_many([bad.to_dict(), good.to_dict()], "pool:1")
    status = status_of(run_dir_of(bad))
    assert status["status"] == "failed" and "FileExistsError" in status["error"]
    assert read_status(run_dir_of(good)) == "complete"  # the pool finished what it had before raising
    assert set(load_runs(tmp_path / "runs").run_id) == {good.run_id}


def fake_pool(monkeypatch, breaks):
    """Replace the process pool: on attempt k (0, 1, ...), the runs listed in ``breaks[min(k, len - 1)]`` end
    with BrokenProcessPool, as when a worker is killed; the others return a summary. Returns the list of runs
    submitted on each attempt."""
    attempts = []

    class Pool:
        def __init__(self, workers, mp_context=None):
            self.k = len(attempts)
            attempts.append([])

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def submit(self, fn, cfg, threads, env):
            attempts[self.k].append(cfg["i"])
            f = Future()
            if cfg["i"] in breaks[min(self.k, len(breaks) - 1)]:
                f.set_exception(BrokenProcessPool("a child process terminated abruptly"))
            else:
                f.set_result({"run_id": cfg["i"], "attempt": self.k})
            return f

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", Pool)
    # runs that finished before the pool broke are delivered first, as they are from a real pool
    monkeypatch.setattr(
        concurrent.futures, "as_completed", lambda fs: sorted(fs, key=lambda f: f.exception() is not None)
    )
    monkeypatch.setattr(executors, "_prepare_bases", lambda cfgs: None)
    return attempts


def test_a_broken_pool_is_restarted_for_the_unfinished_runs_only(monkeypatch, capsys):
    attempts = fake_pool(monkeypatch, breaks=[{1}, set()])
    out = run_many([{"i": 0}, {"i": 1}, {"i": 2}], "pool:2")
    assert attempts == [[0, 1, 2], [1]]
    assert [(o["run_id"], o["attempt"]) for o in out] == [(0, 0), (1, 1), (2, 0)]  # input order
    assert capsys.readouterr().out.count("a pool worker died; restarting the pool for 1 runs") == 1


@pytest.mark.parametrize("retries", [0, 1, 3])
def test_a_pool_that_keeps_breaking_gives_up_after_its_retries(monkeypatch, capsys, retries):
    attempts = fake_pool(monkeypatch, breaks=[{0}])
    with pytest.raises(BrokenProcessPool):
        executors._run_pool([{"i": 0}, {"i": 1}], ExecutorSpec("pool", 2), {}, None, retries=retries)
    assert attempts == [[0, 1]] + [[0]] * retries  # each restart resubmits only the unfinished run
    assert capsys.readouterr().out.count("a pool worker died") == retries


def test_the_default_pool_retries_once(monkeypatch):
    attempts = fake_pool(monkeypatch, breaks=[{0}])
    with pytest.raises(BrokenProcessPool):
        run_many([{"i": 0}], "pool:1")
    assert len(attempts) == 2


FAILING_NOTEBOOK = """# %% tags=["parameters"]
fail: bool = True  # raise in the second cell

# %%
if fail:
    raise ValueError("the data say no")
print("done")
"""


@pytest.mark.slow
def test_a_failing_notebook_leaves_its_failed_output_and_raises(tmp_path, monkeypatch):
    from papermill.exceptions import PapermillExecutionError

    from rlvr_lib.pipeline import runner

    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "boom.py").write_text(FAILING_NOTEBOOK)
    monkeypatch.setattr(runner, "NOTEBOOKS", tmp_path / "notebooks")
    out, params = tmp_path / "executed", {"results_dir": str(tmp_path / "results")}
    with pytest.raises(PapermillExecutionError, match="the data say no"):
        runner.run_notebook("boom", params, out_dir=out)
    failed = out / "boom.failed.ipynb"
    assert failed.is_file() and not (out / "boom.ipynb").exists() and not (out / ".boom.running.ipynb").exists()
    outputs = json.dumps([c.get("outputs", []) for c in json.loads(failed.read_text())["cells"]])
    assert "ValueError" in outputs and "the data say no" in outputs
    assert not runner.is_cached("boom", params, out) and not (tmp_path / "results" / ".executed").exists()
    # fixed, it runs, and its output replaces the failed one
    ok = {**params, "fail": False}
    r = runner.run_notebook("boom", ok, out_dir=out)
    assert not r["cached"] and r["path"] == out / "boom.ipynb" and not failed.exists()
    assert runner.is_cached("boom", ok, out)


def test_a_run_from_an_older_build_of_its_named_base_is_trained_again(
    tiny_base, tiny_base_cfg, tmp_path, monkeypatch, capsys
):
    from rlvr_lib.testbed.bases import BASES

    monkeypatch.setitem(BASES, "suite", tiny_base_cfg)  # a named base, built as the tiny base (already cached)
    cfg = tiny("suite", tmp_path, max_steps=1)
    d = run_experiment(cfg, progress=False)
    old = tiny_base_cfg.key
    assert json.loads((d / "config.json").read_text())["base_key"] == old
    assert driver._stale_base(cfg, d) is None

    trained = []

    def train_run(cfg, run_dir, progress):  # records the run as _train_run does, without training
        trained.append(run_dir)
        record = RunRecord(run_dir)
        record.start({"experiment": cfg.to_dict(), "base_key": BASES[cfg.base].key}, cfg.seed)
        record.log(1, {"loss": 0.0})
        record.finish("complete")
        return run_dir

    monkeypatch.setattr(driver, "_train_run", train_run)
    assert run_experiment(cfg, progress=False) == d and trained == []  # same build: reused
    new_cfg = tiny_base_cfg.with_(steps=tiny_base_cfg.steps + 1)
    monkeypatch.setitem(BASES, "suite", new_cfg)  # the base's pretraining changed: a new build
    why = f"it was trained from base build {old}, and 'suite' is now build {new_cfg.key}"
    assert new_cfg.key != old and driver._stale_base(cfg, d) == why
    assert run_experiment(cfg, progress=False) == d and trained == [d]
    assert f"run record {d}: {why}; training the run again" in capsys.readouterr().out
    assert json.loads((d / "config.json").read_text())["base_key"] == new_cfg.key
    assert run_experiment(cfg, progress=False) == d and trained == [d]  # now current: reused
    (d / "config.json").write_text("{")
    assert driver._stale_base(cfg, d) == "config.json is unreadable"
    run_experiment(cfg, progress=False)
    assert trained == [d, d] and "config.json is unreadable; training the run again" in capsys.readouterr().out
    # a base given as a directory is the user's to manage: never stale
    assert driver._stale_base(cfg.replace(base=str(tiny_base)), d) is None
