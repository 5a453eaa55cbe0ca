"""Recipes for real models: a YAML file that names the model, data, template, engine and an experiment.

A recipe's ``experiment`` block is validated by the same :class:`~rlvr_lib.rl.config.ExperimentConfig` the
notebooks use; the rest says how to scale it out. Everything is checked before any model is loaded:
unknown keys, impossible batch arithmetic (completions per optimizer step not divisible by
processes x gradient-accumulation steps), a missing dataset column, an unknown template or accelerate
config.

Batch arithmetic (global, in completions): ``prompts_per_step * num_generations`` completions per optimizer
step, split over ``num_processes`` devices and ``gradient_accumulation_steps`` micro-batches; each rollout
batch feeds ``steps_per_generation`` optimizer steps. The paper's reference (Shao et al.): 64 prompts x 16
samples per rollout and 8 optimizer steps per rollout = 8 prompts x 16 per optimizer step.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from rlvr_lib._checks import ConfigError, check_choice, check_int
from rlvr_lib.rl.config import ExperimentConfig
from rlvr_lib.scale.data import TEMPLATES, check_columns_of_file, check_source

TRACKERS = ("none", "tensorboard", "trackio", "wandb")
TRACKER_MODULES = {"tensorboard": "tensorboard", "trackio": "trackio", "wandb": "wandb"}
ACCELERATE_CONFIGS = ("single_gpu", "multi_gpu", "zero1", "zero2", "zero3", "fsdp1", "fsdp2")
RECIPE_DIR = Path(__file__).resolve().parents[2] / "recipes"


@dataclass
class Recipe:
    name: str  # run group name
    model: str  # hub name or local path of the policy
    dataset: str  # training data: a name in data.DATASETS or a local .jsonl/.json/.parquet
    experiment: dict  # ExperimentConfig fields (reward, clip rule, G, lr, steps, ...)
    template: str = "qwen_math_chat"  # prompt template (data.TEMPLATES), recorded with the run
    eval_dataset: str | None = "math500"  # held-out data (same schema), None for none
    eval_limit: int | None = None  # first N eval problems (None = all)
    eval_k: int = 8  # samples per eval problem for avg@k and pass@k
    eval_temperature: float = 0.6  # Shao et al. evaluate avg@8 at T = 0.6
    eval_max_new_tokens: int = 3072
    train_limit: int | None = None  # first N training problems (None = all)
    num_processes: int = 1  # devices the batch arithmetic is planned for (checked at launch)
    gradient_accumulation_steps: int = 1
    accelerate_config: str = "single_gpu"  # one of TRL's shipped accelerate configs
    use_vllm: bool = False  # generation with vLLM (TRL's integration)
    vllm_mode: str = "colocate"  # "colocate" or "server" (then start `trl vllm-serve` separately)
    bf16: bool = True
    gradient_checkpointing: bool = True
    save_steps: int | None = (
        None  # a checkpoint every N optimizer steps (a multiple of the rollout length); None = none
    )
    save_total_limit: int = 2  # checkpoints kept (the oldest are deleted); each holds model + optimizer state
    report_to: str = "tensorboard"  # tracker: none, tensorboard (event files in the run directory), trackio, wandb
    estimate: dict = field(default_factory=dict)  # hardware and time ESTIMATES, for the book; not measured

    def __post_init__(self):
        if not isinstance(self.experiment, dict):
            raise ConfigError("experiment must be a mapping of ExperimentConfig fields")
        self.exp = ExperimentConfig.from_dict(
            {
                **self.experiment,
                "base": self.model,
                "max_completion_length": self.experiment.get("max_completion_length", 3072),
            }
        )
        check_choice("template", self.template, TEMPLATES)
        check_source(self.dataset)
        if self.eval_dataset is not None:
            check_source(self.eval_dataset)
        check_int("num_processes", self.num_processes, 1)
        check_int("gradient_accumulation_steps", self.gradient_accumulation_steps, 1)
        check_int("eval_k", self.eval_k, 1)
        check_choice("accelerate_config", self.accelerate_config, ACCELERATE_CONFIGS)
        check_choice("vllm_mode", self.vllm_mode, ("colocate", "server"))
        check_choice("report_to", self.report_to, TRACKERS)
        check_int("save_total_limit", self.save_total_limit, 1)
        if self.save_steps is not None:
            check_int("save_steps", self.save_steps, 1)
            rollout = self.exp.steps_per_generation * self.exp.num_iterations
            if self.save_steps % rollout:
                raise ConfigError(
                    f"save_steps = {self.save_steps} must be a multiple of the optimizer steps per rollout "
                    f"(steps_per_generation x num_iterations = {rollout}): a checkpoint taken inside a rollout "
                    "would lose the rest of that rollout's completions, and a resumed run would differ from an "
                    "uninterrupted one"
                )
        per_step = self.exp.completions_per_step
        split = self.num_processes * self.gradient_accumulation_steps
        if per_step % split:
            raise ConfigError(
                f"batch arithmetic: {self.exp.prompts_per_step} prompts x {self.exp.num_generations} generations = "
                f"{per_step} completions per optimizer step is not divisible by num_processes x "
                f"gradient_accumulation_steps = {self.num_processes} x {self.gradient_accumulation_steps}"
            )
        for src in (self.dataset, self.eval_dataset):
            if src is not None:
                check_columns_of_file(src)

    @property
    def per_device_batch(self) -> int:
        return self.exp.completions_per_step // (self.num_processes * self.gradient_accumulation_steps)

    def grpo_overrides(self) -> dict:
        """GRPOConfig fields beyond ExperimentConfig's: the per-device split and the engines. TRL counts
        steps_per_generation in micro-batches, hence the product with gradient_accumulation_steps."""
        import torch

        cuda = torch.cuda.is_available()
        return dict(
            per_device_train_batch_size=self.per_device_batch,
            gradient_accumulation_steps=self.gradient_accumulation_steps,
            steps_per_generation=self.exp.steps_per_generation * self.gradient_accumulation_steps,
            bf16=self.bf16 and cuda,
            activation_checkpointing=self.gradient_checkpointing and cuda,
            use_vllm=self.use_vllm,
            **({"vllm_mode": self.vllm_mode} if self.use_vllm else {}),
            report_to=self.report_to,
            save_strategy="steps" if self.save_steps else "no",
            **({"save_steps": self.save_steps, "save_total_limit": self.save_total_limit} if self.save_steps else {}),
        )

    def check_tracker(self) -> None:
        """Raise a ConfigError naming the missing package when the chosen tracker is not installed."""
        import importlib.util

        module = TRACKER_MODULES.get(self.report_to)
        if module and importlib.util.find_spec(module) is None:
            raise ConfigError(
                f"report_to={self.report_to!r} needs the package {module!r}: pip install {module} "
                "(or choose report_to=none)"
            )

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("exp", None)
        return d


def load_recipe(path: str | Path, overrides: dict | None = None) -> Recipe:
    """Read and validate a recipe; `overrides` are {'key': value} or {'experiment.key': value}."""
    p = Path(path)
    if not p.is_file() and (RECIPE_DIR / f"{path}.yaml").is_file():  # a name (a directory of that name aside)
        p = RECIPE_DIR / f"{path}.yaml"
    raw = yaml.safe_load(p.read_text())
    if not isinstance(raw, dict):
        raise ConfigError(f"recipe {p} must be a mapping")
    raw["experiment"] = dict(raw.get("experiment") or {})
    for k, v in (overrides or {}).items():
        if k.startswith("experiment."):
            raw["experiment"][k.split(".", 1)[1]] = v
        else:
            raw[k] = v
    known = {f.name for f in dataclasses.fields(Recipe)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"unknown recipe key(s) {unknown} in {p}; allowed: {sorted(known)}")
    return Recipe(**raw)


def trl_accelerate_config(name: str) -> Path:
    """Path of one of the accelerate configs that TRL ships."""
    import trl

    check_choice("accelerate_config", name, ACCELERATE_CONFIGS)
    return Path(trl.__file__).parent / "accelerate_configs" / f"{name}.yaml"
