"""The main job's scheduler: dependencies kept, at most `width` jobs at once, failures stop new starts."""

import threading
import time

import pytest

from rlvr_lib.pipeline import main
from rlvr_lib.pipeline.schedule import Job, JobFailed, run_jobs, stage_walls


def _recording(log, name, seconds=0.02, fail=False):
    def run():
        log.append(("start", name))
        time.sleep(seconds)
        log.append(("end", name))
        if fail:
            raise RuntimeError(f"{name} broke")
        return name

    return run


def test_width_one_runs_the_jobs_in_list_order_one_at_a_time():
    log = []
    jobs = [Job(n, _recording(log, n), after) for n, after in (("a", ()), ("b", ()), ("c", ("a",)), ("d", ()))]
    run_jobs(jobs, 1)
    assert log == [(e, n) for n in "abcd" for e in ("start", "end")]
    assert [j.result for j in jobs] == list("abcd")


def test_dependencies_hold_and_width_bounds_the_jobs_running_at_once():
    log, lock, running, peak = [], threading.Lock(), [0], [0]

    def job(name, seconds):
        def run():
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            _recording(log, name, seconds)()
            with lock:
                running[0] -= 1

        return run

    spec = [("a", (), 0.05), ("b", (), 0.01), ("c", ("a",), 0.01), ("d", ("b",), 0.05), ("e", ("c", "d"), 0.01)]
    spec += [(f"x{i}", (), 0.01) for i in range(4)]
    jobs = run_jobs([Job(n, job(n, s), after) for n, after, s in spec], 2)
    assert peak[0] == 2
    pos = {ev: i for i, ev in enumerate(log)}
    for name, after, _ in spec:
        for dep in after:
            assert pos[("end", dep)] < pos[("start", name)]
    assert all(j.finished >= j.started for j in jobs)


def test_two_independent_jobs_do_run_side_by_side():
    barrier = threading.Barrier(2, timeout=10)  # passes only if both jobs are running at the same time
    run_jobs([Job("a", barrier.wait), Job("b", barrier.wait)], 2)


def test_a_failure_stops_new_jobs_lets_running_ones_finish_and_names_the_job():
    log = []
    jobs = [
        Job("slow", _recording(log, "slow", 0.2)),
        Job("bad", _recording(log, "bad", 0.01, fail=True)),
        Job("after_bad", _recording(log, "after_bad"), ("bad",)),
        Job("later", _recording(log, "later")),
    ]
    with pytest.raises(JobFailed, match="bad failed: bad broke") as e:
        run_jobs(jobs, 2)
    assert isinstance(e.value.__cause__, RuntimeError)
    assert ("end", "slow") in log  # the running job was let finish
    assert ("start", "after_bad") not in log and ("start", "later") not in log


def test_a_dependency_left_out_counts_as_done_and_bad_lists_are_refused():
    log = []
    run_jobs([Job("lm", _recording(log, "lm"), ("bases",))], 2)  # `--only lm`: the bases are not a job
    assert log == [("start", "lm"), ("end", "lm")]
    with pytest.raises(ValueError, match="listed after it"):
        run_jobs([Job("a", lambda: 0, ("b",)), Job("b", lambda: 0)], 2)
    with pytest.raises(ValueError, match="repeat"):
        run_jobs([Job("a", lambda: 0), Job("a", lambda: 0)])
    with pytest.raises(ValueError, match="at least 1"):
        run_jobs([], 0)


def test_stage_walls_span_each_stage_from_first_start_to_last_end():
    jobs = [Job("a", lambda: 0, stage="s"), Job("b", lambda: 0, stage="s"), Job("c", lambda: 0, stage="t")]
    for j, (s, f) in zip(jobs, ((0.0, 2.0), (1.0, 5.0), (4.0, 4.5))):
        j.started, j.finished = s, f
    assert stage_walls(jobs) == {"s": 5.0, "t": 0.5}
    assert stage_walls([Job("never", lambda: 0, stage="u")]) == {}


def test_the_main_jobs_wait_for_what_they_read(tmp_path, monkeypatch):
    """The order the results need: bases before every notebook that trains from them, the learning rate before
    the pilot, the pilot before the notebooks it sizes, the probes' curves before the regime series."""
    monkeypatch.chdir(tmp_path)
    jobs = {j.name: j for j in main.main_jobs(list(main.STAGES), "full", False, 2)}
    assert list(jobs)[0] == "bases" and jobs["bases"].after == ()
    assert jobs["base_card"].after == ("bases",)  # the base card runs beside the notebooks: none waits for it
    assert not any("base_card" in j.after for j in jobs.values())
    assert all(jobs[n].after == () and jobs[n].stage == "theory" for n in main.THEORY)
    assert jobs["lm_probes"].after == ("bases",)
    assert jobs["lm_hyperparameters"].after == ("bases",)
    assert set(jobs["lm_pilot"].after) == {"bases", "lm_hyperparameters"}
    assert set(jobs["lm_regime_series"].after) == {"bases", "lm_hyperparameters", "lm_probes"}
    for n in ("lm_e1_clipping", "lm_e2_entropy_min", "lm_e3_strategy", "lm_e6_eps_group", "lm_e7_reward_variants"):
        assert set(jobs[n].after) == {"bases", "lm_hyperparameters", "lm_pilot"}, n
    for n in main.TINY_LM:  # a notebook that reads the pilot's seeds waits for the pilot, and only those
        reads_pilot = "seeds_per_comparison:" in (main.NOTEBOOKS / f"{n}.py").read_text()
        assert ("lm_pilot" in jobs[n].after) == reads_pilot, n
    for n in ("lm_e4_contamination", "lm_e5_strength"):  # not sized by the pilot: they need only the rate
        assert set(jobs[n].after) == {"bases", "lm_hyperparameters"}, n
    order = list(jobs)
    assert all(order.index(d) < order.index(n) for n, j in jobs.items() for d in j.after)
