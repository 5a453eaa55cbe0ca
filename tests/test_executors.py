"""Sweep executors (sequential, process pool, a real local Dask cluster), locks between processes, parameter
types, and the numerics pins."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from rlvr_lib._checks import ConfigError, check_parameters
from rlvr_lib.rl.config import ExperimentConfig
from rlvr_lib.rl.driver import run_dir_of
from rlvr_lib.rl.executors import ExecutorSpec, cores, parse, run_many
from rlvr_lib.rl.records import is_finished, read_metrics, read_status

# wall-clock fields and the step-0 cache flag (which run computed the shared step-0 evaluation depends on order)
IGNORED = {"wall_s", "eval/wall_s", "step_time", "eval/from_cache"}


def tiny_run(tiny_base, root, experiment="ex") -> dict:
    """The configuration fields of a run small enough for the suite."""
    return dict(
        base=str(tiny_base),
        num_generations=4,
        prompts_per_step=2,
        steps_per_generation=2,
        max_steps=4,
        max_completion_length=16,
        learning_rate=3e-3,
        eval_every=2,
        eval_items=8,
        eval_n_samples=2,
        output_root=str(root),
        experiment=experiment,
    )


def cfgs(tiny_base, root, seeds=(0, 1), **kw):
    base = tiny_run(tiny_base, root)
    arms = [{"reward": {"random": 1.0}}, {"reward": {"ground_truth": 1.0}, "clip_rule": "none"}]
    return [ExperimentConfig(**{**base, **a, "seed": s, **kw}).to_dict() for a in arms for s in seeds]


def records(cfg_dicts) -> dict:
    out = {}
    for c in cfg_dicts:
        d = run_dir_of(ExperimentConfig.from_dict(c))
        out[d.name] = [{k: _nan_free(v) for k, v in r.items() if k not in IGNORED} for r in read_metrics(d)]
    return out


def _nan_free(v):
    """NaN (a within-style accuracy with no sample in that style) never equals itself: compare it as a tag."""
    return "nan" if isinstance(v, float) and v != v else v


def test_executor_settings_parse_and_fail_clearly(monkeypatch):
    monkeypatch.delenv("RLVR_EXECUTOR", raising=False)
    assert parse(None) == parse("") == parse("sequential") == ExecutorSpec("sequential")
    assert parse("pool") == ExecutorSpec("pool", workers=cores(), threads=1)
    assert parse("pool:3") == ExecutorSpec("pool", workers=3, threads=1)
    assert parse("pool:2x4") == ExecutorSpec("pool", workers=2, threads=4)
    assert parse("dask:1x2") == ExecutorSpec("dask", workers=1, threads=2)
    assert parse("dask:tcp://10.0.0.5:8786") == ExecutorSpec("dask", 1, None, "tcp://10.0.0.5:8786")
    assert str(parse("pool:2x1")) == "pool:2x1" and parse("pool:2x1").slots == 2
    monkeypatch.setenv("RLVR_EXECUTOR", "pool:1")
    assert parse("") == ExecutorSpec("pool", 1, 1) and parse("sequential").kind == "sequential"
    for bad in ("threads", "pool:0", "pool:2x0", "pool:two", "sequential:2", "dask:x"):
        with pytest.raises(ConfigError, match="executor"):
            parse(bad)


@pytest.mark.slow
def test_every_executor_writes_the_same_records(tiny_base, tmp_path):
    """The same configurations through the sequential executor, a process pool and a real local Dask cluster
    on 127.0.0.1 (no mock): identical records, every run finished."""
    got = {}
    for spec in ("sequential", "pool:2x1", "dask:2x1"):
        c = cfgs(tiny_base, tmp_path / spec.replace(":", "-"))
        out = run_many(c, spec)
        assert [o["run_id"] for o in out] == [ExperimentConfig.from_dict(x).run_id for x in c]
        assert all(o["trained"] for o in out)
        assert all(is_finished(run_dir_of(ExperimentConfig.from_dict(x))) for x in c)
        if spec != "sequential":
            assert len({o["pid"] for o in out} - {os.getpid()}) >= 1  # trained in other processes
        got[spec] = records(c)
    assert got["sequential"] == got["pool:2x1"] == got["dask:2x1"]
    assert all(len(rows) > 4 for rows in got["sequential"].values())
    # a second sweep finds everything finished and trains nothing
    again = run_many(cfgs(tiny_base, tmp_path / "pool-2x1"), "pool:2x1")
    assert not any(o["trained"] for o in again)


@pytest.mark.slow
def test_a_killed_pool_worker_is_replaced_and_nothing_is_lost(tiny_base, tmp_path, capsys):
    """kill -9 of a worker in the middle of a run: the pool is restarted, the half-written run trains again
    from the start, and the sweep ends with every record complete."""
    c = cfgs(tiny_base, tmp_path, seeds=(0,), max_steps=40, eval_every=1000)
    dirs = [run_dir_of(ExperimentConfig.from_dict(x)) for x in c]
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("out", run_many(c, "pool:1x1")))
    t.start()
    deadline = time.time() + 300
    victim = None
    while time.time() < deadline and victim is None:
        for d in dirs:
            if read_status(d) == "running" and len(read_metrics(d)) >= 3:
                victim = json.loads((d / "status.json").read_text())["pid"]
                break
        time.sleep(0.05)
    assert victim and victim != os.getpid()
    os.kill(victim, signal.SIGKILL)
    t.join(timeout=600)
    assert "out" in result, "the sweep did not finish"
    assert "a pool worker died" in capsys.readouterr().out
    for d in dirs:
        assert read_status(d) == "complete" and is_finished(d)
        assert [r["step"] for r in read_metrics(d) if "loss" in r] == list(range(1, 41))


@pytest.mark.slow
def test_two_processes_pretrain_one_base_once(tmp_path, tiny_base_cfg):
    """Two processes ask for the same uncached base at once: one pretrains it, the other waits and reuses it."""
    cfg = tiny_base_cfg.with_(steps=15, seed=7)
    code = (
        "import sys, json; import rlvr_lib.testbed.pretrain as pt; real = pt.pretrain_run; "
        "pt.pretrain_run = lambda *a, **k: (print('PRETRAINED', flush=True), real(*a, **k))[1]; "
        "print(pt.ensure_base(pt.PretrainConfig.from_dict(json.loads(sys.argv[1])), progress=False))"
    )
    env = {**os.environ, "RLVR_CACHE_DIR": str(tmp_path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, json.dumps(cfg.to_dict())], stdout=subprocess.PIPE, text=True, env=env
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert sum(o.count("PRETRAINED") for o in outs) == 1, outs
    paths = {o.strip().splitlines()[-1] for o in outs}
    assert len(paths) == 1 and (Path(paths.pop()) / "pretrain.json").is_file()


def test_notebook_parameters_are_checked_against_their_annotations():
    ns = {"__annotations__": {"profile": str, "seeds": list, "lr": float, "n": int}}
    check_parameters({**ns, "profile": "smoke", "seeds": [0], "lr": 1, "n": 3})  # an int is a fine float
    for bad, name in (
        ({"profile": 5}, "profile"),
        ({"seeds": "0,1"}, "seeds"),
        ({"n": 2.5}, "n"),
        ({"n": True}, "n"),
        ({"lr": "1e-3"}, "lr"),
    ):
        with pytest.raises(ConfigError, match=f"notebook parameter '{name}' must be"):
            check_parameters({**ns, "profile": "smoke", "seeds": [0], "lr": 1e-3, "n": 3, **bad})


def test_kernel_pins_are_in_effect_and_change_the_bits():
    """rlvr_lib pins AVX2 kernels at import (on x86-64 with AVX2); the canary differs under other kernels, which
    is what makes it a check of the pins; the caller's thread count does not change it (it computes on one thread:
    on some CPUs two give other bits)."""
    from rlvr_lib.numerics import PINS, cpu_info, fingerprint

    if "avx2" not in cpu_info()["flags"]:
        pytest.skip("the pins apply to x86-64 machines with AVX2")
    fp = fingerprint()
    assert fp["aten_capability"] == "AVX2" and fp["pins"] == PINS

    def canary(env, threads=1):
        code = (
            f"import torch; torch.set_num_threads({threads}); import rlvr_lib; from rlvr_lib.numerics import canary; "
            "print(canary())"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True, check=True
        )
        return out.stdout.strip().splitlines()[-1]

    pinned = canary({})
    assert pinned == canary({}, threads=2)
    code = "import torch; torch.set_num_threads(2); import rlvr_lib.numerics as n; n.canary(); "
    out = subprocess.run(
        [sys.executable, "-c", code + "print(torch.get_num_threads())"], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "2"  # the caller's setting is restored
    assert pinned != canary({"ATEN_CPU_CAPABILITY": "default"})


def test_arms_share_common_random_numbers(tiny_base, tmp_path):
    """Same seed, different clip rule: the first rollout batch, its random rewards and the first (on-policy)
    update are identical, and later random rewards come from the same stream, so an arm difference rests on
    common random numbers; another seed differs."""
    from rlvr_lib.rl.driver import run_experiment

    kw = {**tiny_run(tiny_base, tmp_path, "crn"), "reward": {"random": 1.0}, "eval_every": 1000, "eval_items": 4}
    rec = {}
    for name, rule, seed in (("clip", "symmetric", 0), ("none", "none", 0), ("other", "symmetric", 1)):
        d = run_experiment(ExperimentConfig(**kw, clip_rule=rule, seed=seed), progress=False)
        rec[name] = {r["step"]: r for r in read_metrics(d) if r["step"] > 0}
    same = ("reward", "completions/mean_length", "entropy", "loss", "grad_norm")
    for k in same:
        assert rec["clip"][1][k] == rec["none"][1][k], k
    # the second rollout comes from policies that differ by now, but the random-reward stream is the same
    assert rec["clip"][3]["reward"] == rec["none"][3]["reward"]
    assert any(rec["clip"][1][k] != rec["other"][1][k] for k in same)


def test_bases_pretrained_side_by_side_are_the_bases_pretrained_alone(tmp_path, tiny_base_cfg, monkeypatch):
    """`ensure_bases` pretrains missing bases in worker processes; the weights are those of a base pretrained
    here, in a process set to two threads (pretraining computes on one thread wherever it runs: at two, some CPUs
    give other bits), and the caller's thread setting is left as it was."""
    import torch
    from safetensors.torch import load_file

    from rlvr_lib.testbed.pretrain import ensure_base, ensure_bases

    cfgs = [tiny_base_cfg.with_(steps=12, seed=s) for s in (11, 12)]
    monkeypatch.setenv("RLVR_CACHE_DIR", str(tmp_path / "side"))
    side = ensure_bases(cfgs, workers=2)
    monkeypatch.setenv("RLVR_CACHE_DIR", str(tmp_path / "alone"))
    torch.set_num_threads(2)
    alone = [ensure_base(c, progress=False) for c in cfgs]
    assert torch.get_num_threads() == 2
    for a, b in zip(side, alone):
        wa, wb = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
        assert len(wa) > 0 and wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_sweep_takes_seeds_per_arm_group_keys_and_arms_that_share_a_configuration(tmp_path, monkeypatch):
    """`lm_lab.sweep` with (group, arm) keys, seeds given per arm (by key, which wins, or by label), and two arms
    that are one configuration ("random" and "random, clip"): each arm gets its own seeds' runs, a shared run is
    trained once and shows under both arms, and an arm without seeds is an error. The executor is replaced by one
    that writes each run's record at once, with a final value that names the run's seed and arm."""
    from rlvr_lib.experiments import lm_lab
    from rlvr_lib.rl import executors
    from rlvr_lib.rl.records import RunRecord

    code = {"random, clip": 1, "ground truth": 2}
    trained = []

    def run_many_now(cfg_dicts, spec, bar=None):
        out = []
        for c in cfg_dicts:
            cfg = ExperimentConfig.from_dict(c)
            d, arm = run_dir_of(cfg), cfg.name.split(": ")[1]
            fresh = not is_finished(d)
            if fresh:
                trained.append((cfg.name, cfg.seed))
                record = RunRecord(d)
                record.start({"experiment": cfg.to_dict()}, cfg.seed)
                group_code = 100 if cfg.base == "weak-base" else 0
                record.log(2, {"eval/exact_acc": group_code + 10 * cfg.seed + code.get(arm, 1)})
                record.finish("complete")
            out.append({"run_id": cfg.run_id, "trained": fresh})
        return out

    monkeypatch.setattr(executors, "run_many", run_many_now)
    arms = {
        **lm_lab.arms("default", [lm_lab.RANDOM_CLIP, lm_lab.GROUND_TRUTH, lm_lab.RANDOM], group="strong"),
        **lm_lab.arms("weak-base", [lm_lab.RANDOM_CLIP, lm_lab.GROUND_TRUTH], group="weak"),
    }
    seeds = {("strong", "random, clip"): [0, 1], "random, clip": [7], "ground truth": [0], "random": [1, 2]}
    shared = lm_lab.common("smoke", str(tmp_path), 1e-3)
    df = lm_lab.sweep(arms, seeds, shared, progress=False)
    got = {
        (g, a): sorted(zip(sub.seed, sub.value))
        for (g, a), sub in df[df.metric == "eval/exact_acc"].groupby(["group", "arm"])
    }
    assert got == {
        ("strong", "random, clip"): [(0, 1.0), (1, 11.0)],  # the key's seeds, not the label's
        ("strong", "ground truth"): [(0, 2.0)],
        ("strong", "random"): [(1, 11.0), (2, 21.0)],  # seed 1 is the run of "random, clip", seed 1
        ("weak", "random, clip"): [(7, 171.0)],  # the label's seeds
        ("weak", "ground truth"): [(0, 102.0)],
    }
    assert sorted(trained) == [  # the run that two arms share, once
        ("strong: ground truth", 0),
        ("strong: random", 2),
        ("strong: random, clip", 0),
        ("strong: random, clip", 1),
        ("weak: ground truth", 0),
        ("weak: random, clip", 7),
    ]
    shared_run = df[(df.arm == "random") & (df.seed == 1)].run_id.unique()
    assert len(shared_run) == 1 and set(df[df.run_id == shared_run[0]].arm) == {"random", "random, clip"}
    # one list for every arm; an arm that no entry names is an error
    again = lm_lab.sweep(arms, [0], shared, progress=False)
    assert set(again.groupby(["group", "arm"]).seed.unique().map(list).map(tuple)) == {(0,)}
    with pytest.raises(ValueError, match=r"no seeds given for arm \('weak', 'ground truth'\)"):
        lm_lab.sweep(arms, {"random, clip": [0], "random": [0], ("strong", "ground truth"): [0]}, shared)
