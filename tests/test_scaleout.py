"""The real-model path: recipes, data loaders, bad input, and the entry point under DDP on CPU."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rlvr_lib._checks import ConfigError
from rlvr_lib.rl.records import read_metrics, read_status
from rlvr_lib.scale.data import apply_template, load_raw
from rlvr_lib.scale.recipes import RECIPE_DIR, load_recipe, trl_accelerate_config

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_files(tmp_path_factory, tiny_base, tiny_base_cfg):
    from rlvr_lib.testbed.tasks import eval_items, train_rows

    d = tmp_path_factory.mktemp("data")
    rows = [{"problem": r["prompt"], "answer": r["answer"]} for r in train_rows(tiny_base_cfg.task)]
    (d / "train.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    ev = [{"problem": r["prompt"], "answer": r["answer"]} for r in eval_items(tiny_base_cfg.task)]
    (d / "eval.jsonl").write_text("\n".join(json.dumps(r) for r in ev))
    import pandas as pd

    pd.DataFrame(rows).to_parquet(d / "train.parquet")
    return {
        "model": str(tiny_base),
        "dataset": str(d / "train.jsonl"),
        "eval_dataset": str(d / "eval.jsonl"),
        "parquet": str(d / "train.parquet"),
        "dir": d,
    }


@pytest.mark.parametrize("path", sorted(RECIPE_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_recipe_validates(path, tiny_files):
    over = {"model": tiny_files["model"], "dataset": tiny_files["dataset"]} if path.stem == "tiny_local" else {}
    r = load_recipe(path, over)
    assert r.exp.completions_per_step % (r.num_processes * r.gradient_accumulation_steps) == 0
    assert trl_accelerate_config(r.accelerate_config).exists()
    if r.name.startswith(("qwen25_math_7b", "r1_distill")):
        e = r.exp
        assert (e.learning_rate, e.num_generations, e.epsilon, e.beta, e.temperature) == (5e-7, 16, 0.2, 0.0, 1.0)
        assert e.prompts_per_step * e.steps_per_generation == 64 and e.steps_per_generation == 8
        assert e.max_completion_length == 3072


def test_paper_reward_arms():
    assert load_recipe("qwen25_math_7b_random_clip").exp.reward == {"random": 1.0}
    assert load_recipe("qwen25_math_7b_ground_truth").exp.reward == {"math_verify": 1.0}
    assert load_recipe("qwen25_math_7b_random_noclip").exp.clip_rule == "none"


@pytest.mark.parametrize(
    "over, match",
    [
        ({"experimentt": {}}, "unknown recipe key"),
        ({"experiment.prompts_per_step": 3, "num_processes": 5}, "batch arithmetic"),
        ({"experiment.learning_rat": 1e-6}, "unknown parameter"),
        ({"template": "fancy"}, "template must be one of"),
        ({"dataset": "gsm8k"}, "dataset must be one of"),
        ({"accelerate_config": "zero9"}, "accelerate_config must be one of"),
    ],
)
def test_bad_recipes_fail_before_any_model_is_loaded(over, match, monkeypatch):
    import transformers

    monkeypatch.setattr(
        transformers.AutoModelForCausalLM, "from_pretrained", lambda *a, **k: pytest.fail("a model was loaded")
    )
    with pytest.raises(ConfigError, match=match):
        load_recipe("qwen25_math_7b_random_clip", over)


def test_missing_dataset_column_fails_early(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "1+1", "answer": "2"}) + "\n")
    with pytest.raises(ConfigError, match=r"lacks column\(s\) \['problem'\]"):
        load_recipe("single_gpu_qwen25_0p5b", {"dataset": str(bad)})


def test_loaders_read_local_files_with_templates(tiny_files):
    for src in (tiny_files["dataset"], tiny_files["parquet"]):
        ds = load_raw(src, limit=5)
        assert len(ds) == 5 and {"problem", "answer"} <= set(ds.column_names)
    chat = apply_template(load_raw(tiny_files["dataset"], limit=2), "qwen_math_chat")
    assert chat[0]["prompt"][0]["role"] == "system" and chat[0]["prompt"][1]["content"] == chat[0]["problem"]
    plain = apply_template(load_raw(tiny_files["dataset"], limit=2), "plain_boxed")
    assert plain[0]["prompt"].startswith(plain[0]["problem"]) and "\\boxed{}" in plain[0]["prompt"]
    assert apply_template(load_raw(tiny_files["dataset"], limit=1), "none")[0]["prompt"] == plain[0]["problem"]


def test_dry_run_prints_the_plan(tiny_files):
    r = subprocess.run(
        [sys.executable, "-m", "rlvr_lib.entry", "--recipe", "qwen25_math_7b_random_clip", "--dry-run"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)
    assert plan["completions_per_step"] == 128 and plan["per_device_batch"] == 4
    assert plan["grpo_overrides"]["steps_per_generation"] == 32  # 8 optimizer steps x 4 micro-batches
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "rlvr_lib.entry",
            "--recipe",
            "qwen25_math_7b_random_clip",
            "--set",
            "experiment.prompts_per_step=3",
            "--set",
            "num_processes=5",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert bad.returncode == 2 and "batch arithmetic" in bad.stderr


def _launch(tiny_files, out, nproc):
    args = [
        "-m",
        "rlvr_lib.entry",
        "--recipe",
        "tiny_local",
        "--set",
        f"model={tiny_files['model']}",
        "--set",
        f"dataset={tiny_files['dataset']}",
        "--set",
        f"eval_dataset={tiny_files['eval_dataset']}",
        "--set",
        f"num_processes={nproc}",
        "--output-root",
        str(out),
    ]
    if nproc == 1:
        cmd = [sys.executable, *args]
    else:
        accelerate = shutil.which("accelerate", path=os.path.dirname(sys.executable)) or "accelerate"
        cmd = [
            accelerate,
            "launch",
            "--multi_gpu",
            "--num_processes",
            str(nproc),
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            *args,
        ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return next((out / "tiny_local").iterdir())


@pytest.mark.slow
def test_ddp_on_cpu_writes_the_same_kind_of_record(tiny_files, tmp_path):
    one = _launch(tiny_files, tmp_path / "one", 1)
    two = _launch(tiny_files, tmp_path / "two", 2)
    assert one.name == two.name  # the same configuration and seed: the same run identity
    for d, n in ((one, 1), (two, 2)):
        assert read_status(d) == "complete"
        assert json.loads((d / "status.json").read_text())["num_processes"] == n
    m1, m2 = read_metrics(one), read_metrics(two)
    keys1, keys2 = set().union(*m1), set().union(*m2)
    assert keys1 == keys2
    for key in ("loss", "clip_ratio/high_mean", "clip/n_raw", "ratio/max", "eval/greedy_acc", "eval/avg@8"):
        assert key in keys1
    assert [r["step"] for r in m1 if "loss" in r] == [r["step"] for r in m2 if "loss" in r] == [1, 2, 3, 4]
    (ROOT / "artifacts").mkdir(exist_ok=True)
    (ROOT / "artifacts" / "ddp_vs_single.json").write_text(json.dumps({"single": m1, "ddp2": m2}, indent=1))


# ---------------------------------------------------------------------------------------------------------
# checkpoints, resume, trackers


def test_checkpoint_and_tracker_fields():
    r = load_recipe("qwen25_math_7b_random_clip")
    assert r.report_to == "tensorboard" and r.save_steps == 80 and r.save_total_limit == 2
    o = r.grpo_overrides()
    assert o["save_strategy"] == "steps" and o["save_steps"] == 80 and o["report_to"] == "tensorboard"
    # neither the tracker nor the checkpoint schedule changes the run's identity
    from rlvr_lib.scale.entry import run_dir_for

    other = load_recipe("qwen25_math_7b_random_clip", {"report_to": "none", "save_steps": 160})
    assert run_dir_for(r) == run_dir_for(other)
    with pytest.raises(ConfigError, match="multiple of the optimizer steps per rollout"):
        load_recipe("qwen25_math_7b_random_clip", {"save_steps": 12})
    with pytest.raises(ConfigError, match="report_to must be one of"):
        load_recipe("qwen25_math_7b_random_clip", {"report_to": "mlflow"})


def _entry(*args, cwd):
    return subprocess.run([sys.executable, "-m", "rlvr_lib.entry", *args], capture_output=True, text=True, cwd=cwd)


def test_bad_resume_and_tracker_stop_before_any_model_is_loaded(tmp_path):
    """The model path does not exist: an error that names the checkpoint or the tracker, and not the model,
    shows that nothing was loaded."""
    missing = ["--set", f"model={tmp_path / 'no-model'}", "--set", "save_steps=8", "--output-root", str(tmp_path)]
    r = _entry("--recipe", "qwen25_math_7b_random_clip", *missing, "--resume", cwd=tmp_path)
    assert r.returncode == 2 and "no complete checkpoint of this run" in r.stderr, r.stderr
    # a checkpoint written by another configuration
    from rlvr_lib.scale.entry import run_dir_for

    other = load_recipe("qwen25_math_7b_random_clip", {"model": str(tmp_path / "no-model"), "experiment.seed": 1})
    ckpt = run_dir_for(other, str(tmp_path)) / "trl" / "checkpoint-8"
    ckpt.mkdir(parents=True)
    (ckpt / "rlvr_state-0.json").write_text(json.dumps({"run_id": run_dir_for(other, str(tmp_path)).name}))
    r = _entry("--recipe", "qwen25_math_7b_random_clip", *missing, "--resume", str(ckpt), cwd=tmp_path)
    assert r.returncode == 2 and "belongs to run" in r.stderr, r.stderr
    r = _entry("--recipe", "qwen25_math_7b_random_clip", *missing, "--set", "report_to=comet", cwd=tmp_path)
    assert r.returncode == 2 and "report_to must be one of" in r.stderr, r.stderr
    r = _entry("--recipe", "qwen25_math_7b_random_clip", *missing, "--report-to", "comet", cwd=tmp_path)
    assert r.returncode == 2 and "invalid choice" in r.stderr


@pytest.mark.slow
def test_gpu_smoke_script_on_cpu_killed_and_resumed_run_equals_uninterrupted(tmp_path):
    """scripts/gpu_smoke.py on CPU: a run SIGKILLed after its first checkpoint and resumed ends with the same
    parameters and per-step metrics (training and periodic evaluation) as an uninterrupted run, to 1e-6; the
    TensorBoard event files live in the run directory; the record was appended, not restarted."""
    r = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gpu_smoke.py"), "--device", "cpu", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=900,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "resume equivalence holds" in r.stdout and "killed (SIGKILL) after its checkpoint at step 2" in r.stdout
    diff = json.loads(r.stdout.split("resume equivalence: ", 1)[1].splitlines()[0])
    assert diff["metric_values_compared"] > 20
    (run_b,) = [p.parent for p in (tmp_path / "B").rglob("status.json")]
    assert list(run_b.rglob("events.out.tfevents*"))
    assert json.loads((run_b / "meta.json").read_text())["resumed"][0]["step"] == 2
    evals = [s for s in read_metrics(run_b) if "eval/greedy_acc" in s]
    assert [s["step"] for s in evals] == [0, 2, 4, 6]  # kept from before the kill, then continued
