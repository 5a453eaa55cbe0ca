"""Smoke run of the real-model path, on a GPU where there is one (CPU otherwise), with a checkpoint/resume cycle.

    python scripts/gpu_smoke.py [--device auto|cuda|cpu] [--out DIR] [--steps 6] [--save-steps 2]

1. pretrains a very small base of the task world and writes its data as JSONL (the DeepScaleR schema);
2. run A: the tiny local recipe through the training entry point (``python -m rlvr_lib.entry``), one process,
   bf16 where the GPU supports it, a checkpoint every `--save-steps` optimizer steps, uninterrupted;
3. run B: the same run, killed (SIGKILL) as soon as its first checkpoint is complete, then continued with
   ``--resume``;
4. prints each run's step time and peak memory, and how far B's final parameters and per-step metrics are from
   A's (resume equivalence), and exits non-zero when they differ by more than `--tol`.

The test suite runs it on CPU at this size. It needs what the project installs, and no network.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

METRICS = (
    "loss",
    "reward",
    "grad_norm",
    "entropy",
    "clip_ratio/high_mean",
    "clip_ratio/low_mean",
    "eval/greedy_acc",
    "eval/avg@2",
)


def prepare(out: Path) -> tuple[Path, Path]:
    """A very small base and the task world's training data as JSONL."""
    from rlvr_lib.testbed.models import ModelConfig
    from rlvr_lib.testbed.pretrain import PretrainConfig, ensure_base
    from rlvr_lib.testbed.tasks import TaskConfig, train_rows

    os.environ.setdefault("RLVR_CACHE_DIR", str(out / "cache"))
    cfg = PretrainConfig(
        task=TaskConfig(digits=2, n_train=64, n_eval=16),
        model=ModelConfig(hidden_size=32, intermediate_size=64, num_layers=2, num_heads=2),
        n_corpus=500,
        steps=20,
        batch_size=32,
        warmup=2,
    )
    base = ensure_base(cfg, progress=False)
    data = out / "train.jsonl"
    data.write_text(
        "".join(json.dumps({"problem": r["prompt"], "answer": r["answer"]}) + "\n" for r in train_rows(cfg.task))
    )
    return base, data


def command(base, data, root: Path, device: str, steps: int, save_steps: int, tracker: str, resume: bool) -> list[str]:
    sets = {
        "model": str(base),
        "dataset": str(data),
        "eval_dataset": str(data),  # periodic evaluation (greedy and avg@k) through the recipe's own path
        "eval_limit": 8,
        "eval_k": 2,
        "eval_max_new_tokens": 24,
        "num_processes": 1,
        "accelerate_config": "single_gpu",
        "report_to": tracker,
        "save_steps": save_steps,
        "experiment.max_steps": steps,
        "experiment.eval_every": save_steps,
    }
    if device == "cuda":
        import torch

        sets["bf16"] = bool(torch.cuda.is_bf16_supported())
    cmd = [sys.executable, "-m", "rlvr_lib.entry", "--recipe", "tiny_local", "--output-root", str(root)]
    for k, v in sets.items():
        cmd += ["--set", f"{k}={json.dumps(v) if isinstance(v, bool) else v}"]
    return cmd + (["--resume"] if resume else [])


def env_for(device: str) -> dict:
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false")
    if device == "cpu":
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env


def run_dir(root: Path) -> Path:
    (d,) = [p.parent for p in root.rglob("status.json")]
    return d


def summary(d: Path) -> dict:
    status = json.loads((d / "status.json").read_text())
    steps = max(1, int(status.get("steps", 1)))
    return {
        "status": status["status"],
        "steps": steps,
        "s_per_step": status["wall_s"] / steps,
        "peak_mem_gb": status.get("peak_mem_gb"),
        "device": status.get("device"),
    }


def killed_after_first_checkpoint(cmd: list[str], root: Path, env: dict, timeout: float = 600) -> int:
    """Start `cmd`, SIGKILL it once a complete checkpoint exists; return the checkpoint's step."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    t0 = time.time()
    while time.time() - t0 < timeout:
        done = list(root.rglob("rlvr_state-0.json"))
        if done:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return int(done[0].parent.name.rsplit("-", 1)[1])
        if proc.poll() is not None:
            raise RuntimeError(
                f"run B ended (rc {proc.returncode}) before it could be interrupted:\n"
                + proc.stderr.read().decode()[-3000:]
            )
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    raise RuntimeError("run B wrote no checkpoint in time")


def compare(a: Path, b: Path) -> dict:
    """Largest absolute differences between two finished runs: final parameters and per-step metrics."""
    import torch
    from safetensors.torch import load_file

    pa, pb = load_file(a / "model" / "model.safetensors"), load_file(b / "model" / "model.safetensors")
    assert pa.keys() == pb.keys()
    param = max(float((pa[k].float() - pb[k].float()).abs().max()) for k in pa)
    rows = {}
    for name, d in (("a", a), ("b", b)):
        for line in (d / "metrics.jsonl").read_text().splitlines():
            r = json.loads(line)
            rows.setdefault(r["step"], {}).setdefault(name, {}).update(r)
    metric, n = 0.0, 0
    for step, by in sorted(rows.items()):
        for m in METRICS:
            va, vb = by.get("a", {}).get(m), by.get("b", {}).get(m)
            if va is None and vb is None:
                continue
            if va is None or vb is None:
                raise AssertionError(f"metric {m} at step {step} in one run only")
            metric, n = max(metric, abs(float(va) - float(vb))), n + 1
    steps_a = sorted(s for s, by in rows.items() if "a" in by)
    steps_b = sorted(s for s, by in rows.items() if "b" in by)
    assert steps_a == steps_b, (steps_a, steps_b)
    return {
        "max_param_diff": param,
        "max_metric_diff": metric,
        "metric_values_compared": n,
        "params": sum(t.numel() for t in pa.values()),
        "torch": torch.__version__,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto")
    ap.add_argument("--out", default="artifacts/gpu_smoke")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--save-steps", type=int, default=2)
    ap.add_argument("--tol", type=float, default=1e-6, help="largest allowed difference, parameters and metrics")
    ap.add_argument("--report-to", default="tensorboard", choices=("none", "tensorboard"), help="tracker of both runs")
    args = ap.parse_args(argv)
    import torch

    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    print(f"device {device}" + (f" ({torch.cuda.get_device_name(0)})" if device == "cuda" else ""), flush=True)
    base, data = prepare(out)
    env = env_for(device)
    for sub in ("A", "B"):
        if (out / sub).exists():
            import shutil

            shutil.rmtree(out / sub)
    t0 = time.time()
    subprocess.run(
        command(base, data, out / "A", device, args.steps, args.save_steps, args.report_to, False), env=env, check=True
    )
    print(f"run A (uninterrupted): {time.time() - t0:.1f} s wall, {summary(run_dir(out / 'A'))}", flush=True)
    cmd_b = command(base, data, out / "B", device, args.steps, args.save_steps, args.report_to, False)
    step = killed_after_first_checkpoint(cmd_b, out / "B", env)
    print(f"run B killed (SIGKILL) after its checkpoint at step {step}", flush=True)
    t0 = time.time()
    subprocess.run(
        command(base, data, out / "B", device, args.steps, args.save_steps, args.report_to, True), env=env, check=True
    )
    b = run_dir(out / "B")
    meta = json.loads((b / "meta.json").read_text())
    print(f"run B resumed: {time.time() - t0:.1f} s wall, {summary(b)}; resumed {meta.get('resumed')}", flush=True)
    events = sorted(str(e.relative_to(b)) for e in b.rglob("events.out.tfevents*"))
    print(f"tracker event files in run B: {events}", flush=True)
    diff = compare(run_dir(out / "A"), b)
    print(f"resume equivalence: {json.dumps(diff)}", flush=True)
    ok = diff["max_param_diff"] <= args.tol and diff["max_metric_diff"] <= args.tol
    print("resume equivalence " + ("holds" if ok else "FAILS") + f" at tolerance {args.tol:g}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
