"""The training entry point for real models, run on one process or many through TRL's own scale-out path.

    python -m rlvr_lib.entry --recipe recipes/qwen25_math_7b_random_clip.yaml
    accelerate launch --config_file $(python -m rlvr_lib.entry --print-accelerate-config zero3) \\
        -m rlvr_lib.entry --recipe qwen25_math_7b_random_clip
    accelerate launch --multi_gpu --num_processes 2 -m rlvr_lib.entry --recipe tiny_local --set model=... ...

On a machine without a GPU the entry point puts accelerate in CPU mode itself, so the second command runs DDP
over gloo on CPU (accelerate 1.15's `--cpu` launcher starts a single process unless it is given an MPI
hostfile, so multi-process CPU runs use the `--multi_gpu` launcher, i.e. torchrun).

The recipe is validated before any model is loaded. The run record (see ``records``) is written by the main
process only, under ``<output_root>/<recipe name>/<run id>``; the notebooks read it back with
``records.load_runs``. Generation uses vLLM when the recipe says so (TRL's integration, colocate or server
mode); nothing here launches processes itself.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import yaml

from rlvr_lib._checks import ConfigError
from rlvr_lib.scale.recipes import load_recipe, trl_accelerate_config


def parse_overrides(items: list[str]) -> dict:
    out = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        k, v = item.split("=", 1)
        out[k] = yaml.safe_load(v)
    return out


def run(recipe, output_root: str = "runs", progress: bool = True) -> Path | None:
    """Train `recipe` in this process (one rank of a launch); return the run directory on the main process."""
    import torch
    from accelerate import PartialState

    from rlvr_lib.rl.driver import train_recorded
    from rlvr_lib.rl.records import RunRecord, is_finished
    from rlvr_lib.rl.rewards import MathVerifyReward
    from rlvr_lib.scale.data import apply_template, load_raw
    from rlvr_lib.testbed.evaluation import evaluate_answers
    from rlvr_lib.testbed.models import load_policy
    from rlvr_lib.testbed.tasks import is_correct

    if not torch.cuda.is_available():  # CPU-only machine: DDP over gloo (accelerate's MULTI_CPU)
        os.environ.setdefault("ACCELERATE_USE_CPU", "true")
    state = PartialState(cpu=not torch.cuda.is_available())
    if state.num_processes != recipe.num_processes:
        raise ConfigError(
            f"the recipe plans its batch for num_processes={recipe.num_processes} but this launch has "
            f"{state.num_processes}; pass --set num_processes={state.num_processes} if the batch "
            "arithmetic still works out, or launch with the planned number"
        )
    exp = recipe.exp
    run_id = exp.run_id + "-" + _recipe_hash(recipe)
    run_dir = Path(output_root) / recipe.name / run_id
    if is_finished(run_dir):
        return run_dir if state.is_main_process else None
    torch.manual_seed(exp.seed)
    train = apply_template(load_raw(recipe.dataset, limit=recipe.train_limit), recipe.template)
    evaluate_fn = None
    if recipe.eval_dataset is not None and state.is_main_process:
        ev = apply_template(load_raw(recipe.eval_dataset, limit=recipe.eval_limit), recipe.template)
        score = (lambda c, a: float(is_correct(c, a))) if recipe.template == "task" else MathVerifyReward.score

        def evaluate_fn(model):
            m = model.module if hasattr(model, "module") else model
            return evaluate_answers(
                m,
                tok,
                ev["prompt"],
                ev["answer"],
                score,
                k=recipe.eval_k,
                temperature=recipe.eval_temperature,
                max_new_tokens=min(recipe.eval_max_new_tokens, exp.max_completion_length),
                seed=exp.seed,
            )

    model, tok = load_policy(recipe.model, dtype="bfloat16" if recipe.bf16 and torch.cuda.is_available() else "float32")
    record = RunRecord(run_dir, enabled=state.is_main_process)
    record.start(
        {
            "experiment": exp.to_dict(),
            "recipe": recipe.to_dict(),
            "run_id": run_id,
            "clip_rule": exp.clip.to_dict(),
            "trl_epsilons": list(exp.trl_epsilons),
            "num_processes": state.num_processes,
        },
        exp.seed,
    )
    train_recorded(
        exp,
        model,
        tok,
        train.remove_columns(["problem"]),
        record,
        evaluate_fn,
        progress,
        grpo_overrides=recipe.grpo_overrides(),
        process_index=state.process_index,
        is_main=state.is_main_process,
        num_processes=state.num_processes,
    )
    state.wait_for_everyone()
    return run_dir if state.is_main_process else None


def _recipe_hash(recipe) -> str:
    import hashlib

    d = recipe.to_dict()
    for k in ("name", "estimate", "experiment"):
        d.pop(k, None)
    d.pop("num_processes", None)  # the same run on 1 or N processes has the same identity
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:8]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="rlvr-train", description=__doc__.split("\n")[0])
    ap.add_argument("--recipe", help="a recipe YAML (path, or a name under recipes/)")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a recipe key; experiment fields as experiment.KEY=VALUE",
    )
    ap.add_argument("--output-root", default="runs")
    ap.add_argument("--dry-run", action="store_true", help="validate the recipe and print the plan, load nothing")
    ap.add_argument("--print-accelerate-config", metavar="NAME", help="print the path of a TRL accelerate config")
    args = ap.parse_args(argv)
    if args.print_accelerate_config:
        print(trl_accelerate_config(args.print_accelerate_config))
        return 0
    if not args.recipe:
        ap.error("--recipe is required")
    try:
        recipe = load_recipe(args.recipe, parse_overrides(args.set))
    except ConfigError as e:
        print(f"recipe error: {e}", file=sys.stderr)
        return 2
    if args.dry_run:
        plan = {
            "name": recipe.name,
            "model": recipe.model,
            "template": recipe.template,
            "completions_per_step": recipe.exp.completions_per_step,
            "per_device_batch": recipe.per_device_batch,
            "grpo_overrides": recipe.grpo_overrides(),
            "accelerate_config": str(trl_accelerate_config(recipe.accelerate_config)),
        }
        print(json.dumps(plan, indent=1))
        return 0
    out = run(recipe, args.output_root)
    if out is not None:
        print(f"run record: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
