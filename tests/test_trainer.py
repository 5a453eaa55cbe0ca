"""The RLVR trainer against stock TRL, its guard, its diagnostics and its run records."""

import hashlib
import inspect
import json
import os
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import Dataset
from trl import GRPOTrainer

from rlvr_lib.rl.config import ExperimentConfig
from rlvr_lib.rl.driver import RecordCallback, build_trainer, run_dir_of, run_experiment
from rlvr_lib.rl.records import is_finished, load_runs, read_metrics, read_status
from rlvr_lib.testbed.models import load_policy

# The methods of TRL's GRPOTrainer that RLVRTrainer mirrors or relies on, as pinned (trl 1.16.0).
# If this fails, TRL's loss changed: re-read GRPOTrainer._compute_loss, update RLVRTrainer, re-run the parity
# tests, then update the hashes.
PINNED = {
    "_compute_loss": "80295546bbdbf6f7",
    "_get_per_token_logps_and_entropies": "ea73c3909275851d",
    "_generate_and_score_completions": "1fa48922792dcd5c",
}


def test_canary_trl_loss_code_unchanged():
    got = {m: hashlib.sha256(inspect.getsource(getattr(GRPOTrainer, m)).encode()).hexdigest()[:16] for m in PINNED}
    assert got == PINNED, "TRL's GRPOTrainer changed; see the comment above PINNED"


@pytest.fixture(scope="module")
def parity_trainer(tiny_base, tmp_path_factory):
    model, tok = load_policy(tiny_base)
    cfg = ExperimentConfig(
        base=str(tiny_base),
        num_generations=4,
        prompts_per_step=2,
        max_completion_length=12,
        beta=0.04,
        reward={"random": 1.0},
    )
    ds = Dataset.from_list([{"prompt": "12+34=", "answer": "46"}] * 8)
    tr = build_trainer(cfg, model, tok, ds, tmp_path_factory.mktemp("trl"))
    tr.current_gradient_accumulation_steps = 1
    tr.model.train()
    return tr, tok


def fake_inputs(tok, seed):
    g = torch.Generator().manual_seed(seed)
    B, P, T = 8, 7, 12
    prompt_ids = torch.randint(4, 20, (B, P), generator=g)
    prompt_mask = torch.ones(B, P, dtype=torch.long)
    prompt_mask[:3, :2] = 0  # left padding
    prompt_ids[prompt_mask == 0] = tok.pad_token_id
    completion_ids = torch.randint(4, 20, (B, T), generator=g)
    lengths = torch.randint(3, T + 1, (B,), generator=g)
    completion_mask = (torch.arange(T)[None] < lengths[:, None]).long()
    logp = -3.1 + 0.4 * torch.randn(B, T, generator=g)  # near an untrained model's log(1/23): ratios both sides of 1
    return {
        "prompt_ids": prompt_ids,
        "prompt_mask": prompt_mask,
        "completion_ids": completion_ids,
        "completion_mask": completion_mask,
        "advantages": torch.randn(B, generator=g) * 1.5,
        "old_per_token_logps": logp,  # not the model's log-probs: ratios far from 1, clipping binds
        "ref_per_token_logps": logp + torch.randn(B, T, generator=g) * 0.3,
        "num_items_in_batch": completion_mask.sum() * 2,
    }


PARITY_RULES = [
    ExperimentConfig(clip_rule="symmetric"),
    ExperimentConfig(clip_rule="asymmetric", epsilon_high=0.28),
    ExperimentConfig(clip_rule="none"),
    ExperimentConfig(clip_rule="upper_only"),
    ExperimentConfig(clip_rule="lower_only"),
    ExperimentConfig(clip_rule="two_sided", delta=1.6),
]


@pytest.mark.parametrize("loss_type", ["grpo", "bnpo", "dr_grpo", "dapo"])
@pytest.mark.parametrize("cfg", PARITY_RULES, ids=lambda c: c.clip_rule)
@pytest.mark.parametrize("entropy_coef", [0.0, -0.05])
def test_loss_and_gradient_parity_with_trl(parity_trainer, loss_type, cfg, entropy_coef):
    tr, tok = parity_trainer
    tr.loss_type = loss_type
    tr.epsilon_low, tr.epsilon_high = cfg.trl_epsilons
    tr.args.delta = cfg.delta
    tr.clip_rule = cfg.clip
    tr.entropy_coef, tr._entropy_bonus_enabled = entropy_coef, entropy_coef != 0.0
    # a seed fixed per case (Python's hash() of strings changes between processes, which made the inputs and the
    # clipped tokens vary from run to run)
    inputs = fake_inputs(tok, seed=zlib.crc32(f"{loss_type}/{cfg.clip_rule}".encode()) % 1000)
    results = []
    for fn in (
        lambda: type(tr)._compute_loss(tr, tr.model, inputs),
        lambda: GRPOTrainer._compute_loss(tr, tr.model, inputs),
    ):
        tr.model.zero_grad()
        tr._metrics["train"].clear()
        loss = fn()
        loss.backward()
        grads = torch.cat([p.grad.flatten() for p in tr.model.parameters() if p.grad is not None])
        results.append((loss.detach(), grads, {k: list(v) for k, v in tr._metrics["train"].items()}))
    (ours, g_ours, m_ours), (theirs, g_theirs, m_theirs) = results
    assert torch.allclose(ours, theirs, atol=1e-5, rtol=1e-5), (ours, theirs)
    assert torch.allclose(g_ours, g_theirs, atol=1e-5, rtol=1e-4)
    for k, v in m_theirs.items():  # TRL's own metrics mean the same in ours
        assert m_ours[k] == pytest.approx(v, abs=1e-6), k
    assert (m_ours["clip_ratio/region_mean"][0] > 0) == (cfg.clip_rule != "none")  # clipping binds where it exists


def smoke_cfg(tiny_base, tmp_path, **kw):
    base = dict(
        base=str(tiny_base),
        reward={"random": 1.0},
        num_generations=4,
        prompts_per_step=4,
        steps_per_generation=4,
        max_steps=8,
        max_completion_length=16,
        learning_rate=3e-3,
        eval_every=4,
        eval_items=8,
        eval_n_samples=4,
        output_root=str(tmp_path),
        experiment="smoke",
    )
    return ExperimentConfig(**{**base, **kw})


DOCUMENTED = [
    "loss",
    "grad_norm",
    "reward",
    "entropy",
    "clip_ratio/low_mean",
    "clip_ratio/high_mean",
    "clip_ratio/region_mean",
    "clip/n_raw",
    "clip/c_plus",
    "clip/bias_ratio",
    "ratio/max",
    "ratio/min",
    "ratio/q01",
    "ratio/q50",
    "ratio/q99",
    "rewards/random/mean",
    "frac_reward_zero_std",
    "eval/greedy_acc",
    "eval/exact_acc",
    "eval/sampled_acc",
    "eval/pass@1",
    "eval/pass@4",
    "eval/entropy",
    "eval/share_reliable",
    "eval/share_shortcut",
    "eval/clean/greedy_acc",
    "eval/contaminated/greedy_acc",
    "eval/from_cache",
]


def test_short_random_reward_run_clips_and_records(tiny_base, tmp_path):
    cfg = smoke_cfg(tiny_base, tmp_path)
    model, tok = load_policy(tiny_base)
    before = [p.detach().clone() for p in model.parameters()]
    d = run_experiment(cfg, progress=False)
    assert read_status(d) == "complete"
    rows = read_metrics(d)
    names = set().union(*rows)
    assert not [m for m in DOCUMENTED if m not in names]
    assert max(r.get("clip_ratio/region_mean", 0) for r in rows) > 0
    assert max(r.get("ratio/max", 1) for r in rows) > 1
    evals = [r["step"] for r in rows if "eval/greedy_acc" in r]
    assert evals == [0, 4, 8]
    cfg_rec = json.loads((d / "config.json").read_text())
    assert cfg_rec["experiment"]["loss_type"] == "dapo" and cfg_rec["experiment"]["seed"] == 0
    meta = json.loads((d / "meta.json").read_text())
    assert meta["versions"]["trl"].startswith("1.16")
    # parameters changed: train again in-process and compare
    tr = build_trainer(
        cfg.replace(max_steps=2),
        model,
        tok,
        Dataset.from_list([{"prompt": "12+34=", "answer": "46"}] * 64),
        tmp_path / "trl",
    )
    tr.train()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    df = load_runs(tmp_path)
    assert set(df.columns) >= {"run_id", "step", "metric", "value", "seed", "clip_rule", "reward"}
    assert (df.run_id == d.name).all()


def test_on_policy_run_never_clips(tiny_base, tmp_path):
    d = run_experiment(
        smoke_cfg(tiny_base, tmp_path, steps_per_generation=1, allow_inert_clip=True, max_steps=3, eval_every=100),
        progress=False,
    )
    rows = [r for r in read_metrics(d) if "ratio/max" in r]
    assert [r["step"] for r in rows] == [1, 2, 3]  # every step logged its ratios
    assert [(r["ratio/min"], r["ratio/max"], r["clip_ratio/region_mean"]) for r in rows] == [(1.0, 1.0, 0.0)] * 3


def test_finished_runs_are_skipped(tiny_base, tmp_path):
    cfg = smoke_cfg(tiny_base, tmp_path, max_steps=2, eval_every=100)
    d = run_experiment(cfg, progress=False)
    stamp = (d / "status.json").stat().st_mtime_ns
    t0 = time.perf_counter()
    assert run_experiment(cfg, progress=False) == d
    assert time.perf_counter() - t0 < 1.0 and (d / "status.json").stat().st_mtime_ns == stamp
    assert run_dir_of(cfg.replace(name="other label")) == d  # labels do not change the run's identity
    assert run_dir_of(cfg.replace(seed=1)) != d


def test_divergence_ends_cleanly_with_metrics_kept(tiny_base, tmp_path, monkeypatch):
    original = RecordCallback.on_step_end

    def poison(self, args, state, control, model=None, **kw):
        if state.global_step == 3:
            with torch.no_grad():
                next(model.parameters()).fill_(float("nan"))
        return original(self, args, state, control, model=model, **kw)

    monkeypatch.setattr(RecordCallback, "on_step_end", poison)
    d = run_experiment(smoke_cfg(tiny_base, tmp_path, max_steps=8, eval_every=100), progress=False)
    assert read_status(d) == "diverged" and is_finished(d)
    steps = [r["step"] for r in read_metrics(d) if "loss" in r]
    assert steps and max(steps) <= 4


def test_killed_run_is_not_complete_and_resumes(tiny_base, tmp_path):
    cfg = smoke_cfg(tiny_base, tmp_path, max_steps=40, eval_every=1000)
    code = (
        "import sys, json; from rlvr_lib.rl.config import ExperimentConfig; "
        "from rlvr_lib.rl.driver import run_experiment;"
        "run_experiment(ExperimentConfig(**json.loads(sys.argv[1])), progress=False)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, json.dumps(cfg.to_dict())],
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    d = run_dir_of(cfg)
    deadline = time.time() + 120
    while time.time() < deadline and len(read_metrics(d)) < 3:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(read_metrics(d)) >= 3
    assert read_status(d) == "running" and not is_finished(d)
    assert load_runs(tmp_path).empty  # unfinished runs are not loaded by default
    # the same configuration again: the unfinished record is discarded and the run starts over to completion
    assert run_experiment(cfg, progress=False) == d
    assert read_status(d) == "complete"
    assert [r["step"] for r in read_metrics(d) if "loss" in r] == list(range(1, cfg.max_steps + 1))


def test_step0_evaluation_is_shared_and_never_moves_training(tiny_base, tmp_path):
    """Two arms on the same base and seed share the base's step-0 evaluation (read back, same values), and
    a run whose step-0 evaluation came from the file trains exactly like one that computed it - and like one
    that evaluated at other steps: evaluation does not touch the training's random stream."""
    import shutil

    evals_dir = Path(tiny_base) / "evals"
    shutil.rmtree(evals_dir, ignore_errors=True)
    a = run_experiment(smoke_cfg(tiny_base, tmp_path / "a", max_steps=4), progress=False)
    b = run_experiment(
        smoke_cfg(tiny_base, tmp_path / "b", max_steps=4, clip_rule="none", name="other arm"), progress=False
    )
    c = run_experiment(smoke_cfg(tiny_base, tmp_path / "c", max_steps=4, eval_every=1), progress=False)
    ra, rb, rc = read_metrics(a), read_metrics(b), read_metrics(c)
    e0 = {d.name: next(r for r in rows if r["step"] == 0) for d, rows in ((a, ra), (b, rb), (c, rc))}
    assert e0[a.name]["eval/from_cache"] == 0.0 and e0[b.name]["eval/from_cache"] == 1.0
    assert {k: v for k, v in e0[a.name].items() if k not in ("eval/from_cache", "eval/wall_s")} == {
        k: v for k, v in e0[b.name].items() if k not in ("eval/from_cache", "eval/wall_s")
    }
    later = [r for r in ra if r["step"] == 4 and "eval/greedy_acc" in r]
    assert later and "eval/from_cache" not in later[0]  # the trained policy is always evaluated

    # same config except eval_every: a cached step 0 and three extra evaluations leave training unchanged
    def train_rows(rows):
        return [(r["step"], r["loss"], r.get("reward"), r["grad_norm"]) for r in rows if "loss" in r]

    assert train_rows(ra) == train_rows(rc) and len(train_rows(ra)) == 4


def test_light_interior_evaluations_leave_training_and_the_ends_unchanged(tiny_base, tmp_path):
    """eval_interior_samples = 1: the evaluations between step 0 and the last draw 1 sample per item and no greedy
    completions, exact accuracy stays complete; training, the step-0 and the last evaluation are those of the same
    run with full evaluations everywhere (evaluation samples on a generator of its own)."""
    full = run_experiment(smoke_cfg(tiny_base, tmp_path / "f", max_steps=3, eval_every=1), progress=False)
    light = run_experiment(
        smoke_cfg(tiny_base, tmp_path / "l", max_steps=3, eval_every=1, eval_interior_samples=1), progress=False
    )
    rf, rl = read_metrics(full), read_metrics(light)

    def evals(rows):
        return {r["step"]: r for r in rows if "eval/exact_acc" in r}

    ef, el = evals(rf), evals(rl)
    assert sorted(ef) == sorted(el) == [0, 1, 2, 3]
    drop = ("eval/from_cache", "eval/wall_s")
    for step in (0, 3):  # the two ends: complete and identical
        a, b = ({k: v for k, v in e[step].items() if k not in drop} for e in (ef, el))
        assert a.keys() == b.keys() and all(a[k] == b[k] or (np.isnan(a[k]) and np.isnan(b[k])) for k in a)
        assert "eval/greedy_acc" in el[step] and "eval/pass@4" in el[step]
    for step in (1, 2):  # in between: light, with exact accuracy unchanged
        assert "eval/greedy_acc" not in el[step] and "eval/pass@4" not in el[step] and "eval/pass@1" in el[step]
        assert "eval/greedy_acc" in ef[step]
        assert el[step]["eval/exact_acc"] == ef[step]["eval/exact_acc"]
        assert np.isfinite(el[step]["eval/entropy"]) and el[step]["eval/entropy"] > 0

    def train_rows(rows):
        return [(r["step"], r["loss"], r.get("reward"), r["grad_norm"]) for r in rows if "loss" in r]

    assert train_rows(rf) == train_rows(rl) and len(train_rows(rf)) == 3


def test_a_field_at_its_default_leaves_the_run_id_of_earlier_configurations(tmp_path):
    """Fields added later (HASHED_WHEN_SET) enter the run id only when set: a configuration at their default keeps
    the id it had before they existed, and setting one gives a new id."""
    import hashlib
    import json

    from rlvr_lib.rl.config import HASHED_WHEN_SET

    cfg = ExperimentConfig(base="default", reward={"random": 1.0}, output_root=str(tmp_path))
    d = cfg.to_dict()
    for k in ("name", "output_root", "experiment", *HASHED_WHEN_SET):
        d.pop(k)
    assert cfg.run_id == hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]
    assert ExperimentConfig(**{**cfg.to_dict(), "eval_interior_samples": 1}).run_id != cfg.run_id


def test_generate_leaves_the_global_random_state_alone(tiny_base):
    from rlvr_lib.testbed.evaluation import generate

    model, tok = load_policy(tiny_base)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    generate(model, tok, ["12+34="], max_new_tokens=4, temperature=1.0, num_return_sequences=2, seed=5)
    assert torch.equal(torch.get_rng_state(), state)


@pytest.mark.slow
def test_two_processes_never_train_one_configuration_twice(tiny_base, tmp_path):
    """Two real processes started at once on the same configuration: one trains, the other waits for its lock
    and reuses the finished record; the record is written once (every step once, in order)."""
    cfg = smoke_cfg(tiny_base, tmp_path, max_steps=8, eval_every=1000)
    code = (
        "import sys, json; from rlvr_lib.rl.config import ExperimentConfig; "
        "import rlvr_lib.rl.driver as d; real = d._train_run; "
        "d._train_run = lambda *a: (print('TRAINED', flush=True), real(*a))[1]; "
        "d.run_experiment(ExperimentConfig(**json.loads(sys.argv[1])), progress=False)"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, json.dumps(cfg.to_dict())], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sum(o.count("TRAINED") for o in outs) == 1, outs
    steps = [r["step"] for r in read_metrics(run_dir_of(cfg)) if "loss" in r]
    assert steps == list(range(1, 9)) and is_finished(run_dir_of(cfg))


def test_a_damaged_record_is_detected_and_the_run_redone(tiny_base, tmp_path, capsys):
    from rlvr_lib.rl.records import damage

    cfg = smoke_cfg(tiny_base, tmp_path, max_steps=4, eval_every=1000)
    d = run_experiment(cfg, progress=False)
    rows = (d / "metrics.jsonl").read_text().splitlines()
    (d / "metrics.jsonl").write_text("\n".join(rows[:2]) + "\n" + rows[2][:7])  # truncated mid-line
    assert "truncated" in damage(d) and not is_finished(d)
    run_experiment(cfg, progress=False)
    assert "training the run again" in capsys.readouterr().out
    assert damage(d) is None and len(read_metrics(d)) == len(rows)
    (d / "status.json").write_text('{"status": "compl')  # cut by a crash of the disk, say
    assert "corrupt" in damage(d) and not is_finished(d)
    run_experiment(cfg, progress=False)
    assert is_finished(d) and read_status(d) == "complete"
