"""Step time of RLVRTrainer against stock GRPOTrainer on the same configuration, measured in one process.

Prints the ratio (subclass / stock) and the split of a step into generation (rollout + rewards + old
log-probs), forward (loss computation), backward and other. Usage: python scripts/bench_trainer.py [steps]
"""

import sys
import time
from collections import defaultdict

import torch
from datasets import Dataset
from trl import GRPOTrainer

from rlvr_lib.rl.config import ExperimentConfig
from rlvr_lib.rl.rewards import make_reward
from rlvr_lib.rl.trainer import RLVRTrainer
from rlvr_lib.testbed.bases import base_config
from rlvr_lib.testbed.models import load_policy
from rlvr_lib.testbed.pretrain import ensure_base
from rlvr_lib.testbed.tasks import train_rows

torch.set_flush_denormal(True)
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 40
pcfg = base_config("default")
path = ensure_base(pcfg)
cfg = ExperimentConfig(reward={"random": 1.0}, max_steps=steps)
ds = Dataset.from_list(train_rows(pcfg.task))


def timed(trainer):
    times = defaultdict(float)

    def wrap(name, fn):
        def inner(*a, **k):
            t = time.perf_counter()
            out = fn(*a, **k)
            times[name] += time.perf_counter() - t
            return out

        return inner

    trainer._generate_and_score_completions = wrap("generation", trainer._generate_and_score_completions)
    trainer._compute_loss = wrap("forward", trainer._compute_loss)
    trainer.accelerator.backward = wrap("backward", trainer.accelerator.backward)
    return times


results = {}
for _rounds in range(2):  # alternate to spread machine noise over both
    for name, cls in (("stock", GRPOTrainer), ("rlvr", RLVRTrainer)):
        model, tok = load_policy(path)
        kw = {"clip_rule": cfg.clip} if cls is RLVRTrainer else {}
        tr = cls(
            model=model,
            processing_class=tok,
            args=cfg.grpo_config("/tmp/bench_trl"),
            train_dataset=ds,
            reward_funcs=[make_reward("random", seed=0)],
            **kw,
        )
        times = timed(tr)
        t0 = time.perf_counter()
        tr.train()
        total = time.perf_counter() - t0
        times["other"] = total - sum(times.values())
        agg = results.setdefault(name, defaultdict(float))
        agg["total"] += total
        for k, v in times.items():
            agg[k] += v

n = 2 * steps
for name, agg in results.items():
    parts = ", ".join(f"{k} {agg[k] / n * 1000:.1f} ms" for k in ("generation", "forward", "backward", "other"))
    print(f"{name:5s}: {agg['total'] / n * 1000:.1f} ms/step  ({parts})")
print(f"ratio rlvr / stock step time: {results['rlvr']['total'] / results['stock']['total']:.3f}")
