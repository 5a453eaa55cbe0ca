"""Pretraining throughput of the default tiny base, with and without flush-to-zero for denormals, in one process.

Also prints the default base's accuracies after a full pretraining run (greedy >= 0.8 with sampled accuracy at
T = 1 <= 0.7 is the target: headroom for RL). Usage: python scripts/bench_pretrain.py [steps_for_throughput]
"""

import sys
import tempfile
import time

from rlvr_lib.testbed.bases import DEFAULT
from rlvr_lib.testbed.evaluation import evaluate
from rlvr_lib.testbed.models import load_policy
from rlvr_lib.testbed.pretrain import pretrain
from rlvr_lib.testbed.tasks import eval_items

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 40
for flush in (False, True):
    with tempfile.TemporaryDirectory() as d:
        meta = pretrain(DEFAULT.with_(steps=steps), d, progress=False, flush_denormal=flush)
    print(f"flush_denormal={flush}: {meta['tokens_per_s']:.0f} tokens/s over {steps} steps")

with tempfile.TemporaryDirectory() as d:
    t0 = time.perf_counter()
    meta = pretrain(DEFAULT, d, progress=False)
    model, tok = load_policy(d)
    r = evaluate(model, tok, eval_items(DEFAULT.task)[:200], fmt=DEFAULT.task.format, n_samples=8)
print(
    f"default base: {meta['wall_s']:.0f} s pretraining at {meta['tokens_per_s']:.0f} tokens/s; greedy "
    f"{r['greedy_acc']:.3f}, sampled(T=1) {r['sampled_acc']:.3f}, exact {r['exact_acc']:.3f}"
)
