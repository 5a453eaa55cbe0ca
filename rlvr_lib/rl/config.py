"""The one typed experiment configuration: every parameter a notebook or recipe may set.

:class:`ExperimentConfig` holds the base model, task, reward, clip rule, entropy term, GRPO batch
arithmetic, optimiser and evaluation schedule. It validates itself (unknown names, wrong types and
out-of-range values raise :class:`~rlvr_lib._checks.ConfigError` naming the parameter), derives
everything that follows from those choices, and produces TRL's ``GRPOConfig`` (:meth:`grpo_config`).

Defaults: where the paper (Chen et al. 2512.16912) or the Spurious Rewards reference run (Shao et al.
2506.10947) fix a value it is used and cited (eps = 0.2, beta = 0, temperature 1, random reward
Bernoulli(1/2), std-normalised group advantages, several optimizer steps per rollout). Sizes are CPU
sized: group size 8 instead of 16, 8 prompts x 8 completions per optimizer step, 4 optimizer steps per
rollout (the reference run does 8), and a learning rate chosen for the tiny bases (see the book's
hyperparameter page), not the paper's 5e-7 for 7B models.

Batch arithmetic, in completions (as TRL counts)::

  completions per optimizer step  = prompts_per_step * num_generations          (per_device_train_batch_size)
  completions per rollout         = that * steps_per_generation                  (generation_batch_size)

Each rollout batch is generated once by the current policy and consumed by `steps_per_generation`
optimizer steps, `num_iterations` times over: all but the first step are off-policy, which is what lets
clipping act. With steps_per_generation = num_iterations = 1 the importance ratio is identically 1.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from rlvr_lib._checks import ConfigError, check_choice, check_float, check_int, check_prob
from rlvr_lib.clip import RULES, ClipRule
from rlvr_lib.rl.rewards import REWARDS

LOSS_TYPES = ("grpo", "bnpo", "dr_grpo", "dapo")
HASHED_WHEN_SET = {"eval_interior_samples": 0}  # fields left out of the run id at these (their default) values


def _f(default, help: str):
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help})
    return field(default=default, metadata={"help": help})


@dataclass
class ExperimentConfig:
    # identity
    name: str = _f("run", "arm label shown in tables and legends")
    seed: int = _f(0, "seed of the policy's sampling, the random rewards, data order and evaluation")
    # base and task
    base: str = _f("default", "a named tiny base (rlvr_lib.testbed.bases.BASES) or a local path / hub name of a model")
    # reward
    reward: dict = _f(
        {"ground_truth": 1.0},
        "reward name -> weight; several names form a weighted mixture "
        "(TRL's reward_weights). Names: " + ", ".join(REWARDS),
    )
    reward_p: float = _f(0.5, "success probability of the random reward (Shao et al.: 1/2)")
    false_positive_rate: float = _f(0.0, "noisy reward: P(reward 1 | incorrect)")
    false_negative_rate: float = _f(0.0, "noisy reward: P(reward 0 | correct)")
    reward_constant: float = _f(0.0, "value of the constant reward")
    # clip rule
    clip_rule: str = _f("symmetric", "one of " + ", ".join(RULES))
    epsilon: float = _f(0.2, "lower clip width eps_low (and eps_high unless set); paper: 0.2")
    epsilon_high: float | None = _f(None, "upper clip width eps_high (clip-higher); None = epsilon")
    delta: float | None = _f(None, "two_sided: cap on the ratio in the unclipped branch")
    clip_cov_ratio: float = _f(2e-4, "clip_cov: share of tokens whose gradient is removed (Cui et al.)")
    clip_cov_lb: float = _f(1.0, "clip_cov: covariance window lower bound (Cui et al.)")
    clip_cov_ub: float = _f(5.0, "clip_cov: covariance window upper bound (Cui et al.)")
    allow_inert_clip: bool = _f(False, "allow a clip rule on an on-policy configuration (ratio == 1, rule inert)")
    # entropy
    entropy_coef: float = _f(
        0.0, "TRL's entropy_coef: loss = policy_loss - coef * mean token entropy; negative = entropy minimisation"
    )
    # GRPO
    num_generations: int = _f(8, "group size G (paper: 16)")
    prompts_per_step: int = _f(8, "prompts per optimizer step (completions = prompts_per_step * G)")
    steps_per_generation: int = _f(4, "optimizer steps per rollout batch (Shao et al.: 8); > 1 is off-policy")
    num_iterations: int = _f(1, "passes over each rollout batch (mu); > 1 is off-policy")
    loss_type: str = _f(
        "dapo",
        "loss aggregation: dapo = token mean over the batch (verl's token-mean, TRL's "
        "default); grpo = per-sequence mean then batch mean; bnpo; dr_grpo",
    )
    scale_rewards: str = _f("group", "advantage scaling: 'group' = divide by the group's std (paper), 'none'")
    beta: float = _f(0.0, "KL coefficient to the reference policy (paper: 0)")
    temperature: float = _f(1.0, "sampling temperature of rollouts (paper: 1.0)")
    max_completion_length: int = _f(48, "longest completion, in tokens")
    learning_rate: float = _f(2e-5, "AdamW learning rate (constant); see the book's hyperparameter page")
    max_grad_norm: float = _f(1.0, "gradient clipping norm (TRL default 1.0)")
    max_steps: int = _f(200, "optimizer steps")
    # evaluation
    eval_every: int = _f(25, "held-out evaluation every this many optimizer steps (and at step 0)")
    eval_n_samples: int = _f(8, "samples per held-out prompt for sampled accuracy, pass@k and entropy")
    eval_interior_samples: int = _f(
        0,
        "evaluations between step 0 and the last step: 0 = the same as at the ends; k >= 1 = a lighter one, k "
        "samples per prompt and no greedy completions (exact accuracy, which needs no samples, stays complete)",
    )
    eval_temperature: float = _f(1.0, "temperature of held-out sampling and exact accuracy")
    eval_items: int = _f(200, "held-out prompts used (the first N of the evaluation split)")
    # output
    output_root: str = _f("runs", "directory under which run directories are written")
    experiment: str = _f("adhoc", "experiment (sweep) name; runs live in <output_root>/<experiment>/<run_id>")

    def __post_init__(self):
        self._check_types()
        if not self.reward:
            raise ConfigError("reward must name at least one reward function")
        for k, w in self.reward.items():
            check_choice("reward", k, REWARDS)
            check_float(f"reward[{k!r}]", w)
        check_prob("reward_p", self.reward_p)
        check_prob("false_positive_rate", self.false_positive_rate)
        check_prob("false_negative_rate", self.false_negative_rate)
        check_int("seed", self.seed, 0)
        check_float("entropy_coef", self.entropy_coef, -10.0, 10.0)
        check_int("num_generations", self.num_generations, 2)
        check_int("prompts_per_step", self.prompts_per_step, 1)
        check_int("steps_per_generation", self.steps_per_generation, 1)
        check_int("num_iterations", self.num_iterations, 1)
        check_choice("loss_type", self.loss_type, LOSS_TYPES)
        check_choice("scale_rewards", self.scale_rewards, ("group", "none"))
        check_float("beta", self.beta, 0.0, 100.0)
        check_float("temperature", self.temperature, 0.0, 10.0, lo_open=True)
        check_int("max_completion_length", self.max_completion_length, 1)
        check_float("learning_rate", self.learning_rate, 0.0, 1.0)
        check_float("max_grad_norm", self.max_grad_norm, 0.0)
        check_int("max_steps", self.max_steps, 1)
        check_int("eval_every", self.eval_every, 1)
        check_int("eval_n_samples", self.eval_n_samples, 1)
        check_int("eval_interior_samples", self.eval_interior_samples, 0)
        check_float("eval_temperature", self.eval_temperature, 0.0, 10.0, lo_open=True)
        check_int("eval_items", self.eval_items, 1)
        _ = self.clip  # validates the clip fields
        if self.clip_rule != "none" and self.on_policy and not self.allow_inert_clip:
            raise ConfigError(
                f"clip_rule {self.clip_rule!r} can never act: with steps_per_generation = 1 and num_iterations = 1 "
                "every update is on-policy, the importance ratio pi/pi_old is identically 1 and no token is ever "
                "clipped (TRL then skips old log-probs altogether). Use steps_per_generation > 1 or "
                "num_iterations > 1, set clip_rule='none', or pass allow_inert_clip=True to run it anyway."
            )

    # ------------------------------------------------------------------ derived values
    @property
    def on_policy(self) -> bool:
        """True when the importance ratio is identically 1 (TRL's condition for skipping old log-probs,
        with gradient_accumulation_steps = 1)."""
        return 1 % (self.steps_per_generation * self.num_iterations) == 0

    @property
    def clip(self) -> ClipRule:
        return ClipRule(
            self.clip_rule,
            self.epsilon,
            self.epsilon_high,
            self.delta,
            self.clip_cov_ratio,
            self.clip_cov_lb,
            self.clip_cov_ub,
        )

    @property
    def completions_per_step(self) -> int:
        return self.prompts_per_step * self.num_generations

    @property
    def prompts_per_rollout(self) -> int:
        return self.prompts_per_step * self.steps_per_generation

    @property
    def trl_epsilons(self) -> tuple[float, float]:
        """(epsilon, epsilon_high) that make TRL's own clipped loss equal this rule (1e9 = that side off)."""
        big = 1e9
        lo, hi = self.epsilon, self.clip.high
        return {
            "none": (big, big),
            "upper_only": (big, hi),
            "lower_only": (lo, big),
        }.get(self.clip_rule, (lo, hi))

    @property
    def run_id(self) -> str:
        """Hash of every field that changes the run's result (the name, output root and experiment excluded)."""
        d = self.to_dict()
        for k in ("name", "output_root", "experiment"):
            d.pop(k)
        for k, default in HASHED_WHEN_SET.items():  # fields added later: at their default, earlier ids stand
            if d[k] == default:
                d.pop(k)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]

    # ------------------------------------------------------------------ conversion
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ExperimentConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown parameter(s) {unknown}; allowed: {sorted(known)}")
        return cls(**d)

    def replace(self, **changes) -> ExperimentConfig:
        return self.from_dict({**self.to_dict(), **changes})

    @classmethod
    def help(cls) -> str:
        return "\n".join(f"{f.name:22s} {f.metadata.get('help', '')}" for f in dataclasses.fields(cls))

    def _check_types(self):
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            v, t = getattr(self, f.name), hints[f.name]
            allowed = typing.get_args(t) if isinstance(t, types.UnionType) else (t,)
            ok = False
            for a in allowed:
                a = typing.get_origin(a) or a
                if a is type(None):
                    ok |= v is None
                elif a is float:
                    ok |= isinstance(v, (int, float)) and not isinstance(v, bool)
                elif a is int:
                    ok |= isinstance(v, int) and not isinstance(v, bool)
                else:
                    ok |= isinstance(v, a)
            if not ok:
                raise ConfigError(
                    f"{f.name} must be of type {t.__name__ if hasattr(t, '__name__') else t}, "
                    f"got {v!r} ({type(v).__name__})"
                )
            if isinstance(v, int) and not isinstance(v, bool) and float in allowed:
                setattr(self, f.name, float(v))

    # ------------------------------------------------------------------ TRL
    def grpo_config(self, output_dir: str, **overrides):
        """The `GRPOConfig` for this experiment. Every clip rule except clip_cov is expressed through TRL's own
        epsilon / epsilon_high / delta, so a stock GRPOTrainer with this config computes the same loss."""
        from trl import GRPOConfig

        eps, eps_high = self.trl_epsilons
        names = list(self.reward)
        kw = dict(
            output_dir=output_dir,
            seed=self.seed,
            data_seed=self.seed,
            learning_rate=self.learning_rate,
            lr_scheduler_type="constant",
            warmup_steps=0,
            weight_decay=0.0,
            max_grad_norm=self.max_grad_norm,
            max_steps=self.max_steps,
            per_device_train_batch_size=self.completions_per_step,
            gradient_accumulation_steps=1,
            steps_per_generation=self.steps_per_generation,
            num_iterations=self.num_iterations,
            num_generations=self.num_generations,
            max_completion_length=self.max_completion_length,
            temperature=self.temperature,
            top_p=1.0,
            top_k=0,
            beta=self.beta,
            epsilon=eps,
            epsilon_high=eps_high,
            delta=self.delta,
            loss_type=self.loss_type,
            scale_rewards=self.scale_rewards,
            entropy_coef=self.entropy_coef,
            reward_weights=[float(self.reward[n]) for n in names],
            bf16=False,
            fp16=False,
            activation_checkpointing=False,
            report_to="none",
            logging_steps=1,
            save_strategy="no",
            use_cpu=None,
            disable_tqdm=True,
            log_completions=False,
            dataloader_num_workers=0,
            dataloader_pin_memory=False,
        )
        if kw["use_cpu"] is None:
            kw.pop("use_cpu")
        kw.update(overrides)
        return GRPOConfig(**kw)
