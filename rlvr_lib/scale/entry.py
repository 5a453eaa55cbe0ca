"""The training entry point for real models, run on one process or many through TRL's own scale-out path.

Usage::

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
from rlvr_lib.scale.recipes import TRACKERS, load_recipe, trl_accelerate_config


def parse_overrides(items: list[str]) -> dict:
    out = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        k, v = item.split("=", 1)
        out[k] = yaml.safe_load(v)
    return out


def run_dir_for(recipe, output_root: str = "runs") -> Path:
    """``<output_root>/<recipe name>/<run id>``: the run id hashes the experiment and the recipe's settings."""
    return Path(output_root) / recipe.name / (recipe.exp.run_id + "-" + _recipe_hash(recipe))


def resolve_resume(recipe, output_root: str, resume: str | None) -> Path | None:
    """The checkpoint to resume from, or None for a fresh run; a ConfigError, before any model is loaded, when
    `resume` is given and there is no complete checkpoint of this run, or the one named belongs to another
    configuration. `resume` is "last" (the latest checkpoint of this run) or a checkpoint directory."""
    from rlvr_lib.rl.driver import checkpoint_run_id, last_checkpoint

    if resume is None:
        return None
    run_dir = run_dir_for(recipe, output_root)
    ckpt = last_checkpoint(run_dir / "trl") if resume == "last" else Path(resume)
    if ckpt is None:
        raise ConfigError(
            f"--resume: no complete checkpoint of this run under {run_dir / 'trl'} (set save_steps in the recipe "
            "to write checkpoints; the run directory is determined by the recipe and its overrides)"
        )
    found = checkpoint_run_id(ckpt)
    if found is None:
        raise ConfigError(f"--resume: {ckpt} is not a complete checkpoint written by rlvr-train")
    if found != run_dir.name:
        raise ConfigError(
            f"--resume: {ckpt} belongs to run {found}, but this recipe and its overrides are run {run_dir.name}; "
            "resume with the configuration that wrote it"
        )
    return ckpt


def run(recipe, output_root: str = "runs", progress: bool = True, resume: str | None = None) -> Path | None:
    """Train `recipe` in this process (one rank of a launch); return the run directory on the main process.
    `resume`: None (fresh run), "last" or a checkpoint directory (see :func:`resolve_resume`)."""
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
    run_dir = run_dir_for(recipe, output_root)
    run_id = run_dir.name
    recipe.check_tracker()
    ckpt = resolve_resume(recipe, output_root, resume)
    if is_finished(run_dir):
        return run_dir if state.is_main_process else None
    torch.manual_seed(exp.seed)
    train = apply_template(load_raw(recipe.dataset, limit=recipe.train_limit), recipe.template)
    evaluate_fn = None
    if recipe.eval_dataset is not None and state.is_main_process:
        ev = apply_template(load_raw(recipe.eval_dataset, limit=recipe.eval_limit), recipe.template)
        score = (lambda c, a: float(is_correct(c, a))) if recipe.template == "task" else MathVerifyReward.score

        def evaluate_fn(model, interior: bool = False):  # the same evaluation at every step
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
    if ckpt is not None:
        record.resume(int(ckpt.name.rsplit("-", 1)[1]))
    else:
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
        run_id=run_id,
        resume_from=ckpt,
        save_model_to=run_dir / "model",
        num_processes=state.num_processes,
    )
    state.wait_for_everyone()
    return run_dir if state.is_main_process else None


def _recipe_hash(recipe) -> str:
    import hashlib

    d = recipe.to_dict()
    # neither the tracker nor the checkpoint schedule changes what a run computes
    for k in ("name", "estimate", "experiment", "report_to", "save_steps", "save_total_limit"):
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
    ap.add_argument(
        "--resume",
        nargs="?",
        const="last",
        metavar="CHECKPOINT",
        help="continue this run from its last complete checkpoint (or the checkpoint directory given)",
    )
    ap.add_argument("--report-to", choices=TRACKERS, help="tracker override (recipe field report_to)")
    ap.add_argument("--print-accelerate-config", metavar="NAME", help="print the path of a TRL accelerate config")
    args = ap.parse_args(argv)
    if args.print_accelerate_config:
        print(trl_accelerate_config(args.print_accelerate_config))
        return 0
    if not args.recipe:
        ap.error("--recipe is required")
    try:
        overrides = parse_overrides(args.set)
        if args.report_to:
            overrides["report_to"] = args.report_to
        recipe = load_recipe(args.recipe, overrides)
        recipe.check_tracker()
        resolve_resume(recipe, args.output_root, args.resume)  # fails here, before any model is loaded
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
            "run_dir": str(run_dir_for(recipe, args.output_root)),
            "accelerate_config": str(trl_accelerate_config(recipe.accelerate_config)),
        }
        print(json.dumps(plan, indent=1))
        return 0
    out = run(recipe, args.output_root, resume=args.resume)
    if out is not None:
        print(f"run record: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
