"""Reward functions on TRL's reward-function contract.

Each reward is a callable ``f(prompts, completions, completion_ids, answer, **kwargs) -> list[float]`` whose
``__name__`` is a stable metric name (TRL logs ``rewards/<name>/mean``). The dataset's ``answer`` column
arrives as a keyword list. Build them with :func:`make_reward`; mixtures are several rewards with weights,
passed to TRL's own ``reward_weights`` (see ``config``).

=================  ====================================================================================
name               reward of completion y to a prompt with answer a
=================  ====================================================================================
ground_truth       1 if y's answer equals a, else 0 (the task verifier; malformed = 0)
random             Bernoulli(p), drawn from a generator seeded by the run seed; ignores y entirely
format             1 if y has a style tag and an answer mark followed by digits (correctness ignored)
incorrect          1 if y's answer is wrong (or malformed), else 0 (any wrong answer: a looser variant)
fixed_wrong        1 if y's answer equals the problem's one fixed wrong label, else 0 (Shao et al.'s
                   incorrect-label reward as they define it; the label is the dataset's ``wrong_answer``
                   column, in the task world the carry-dropping answer, see ``tasks.fixed_wrong_answer``)
majority           1 if y's answer equals the most common answer among the completions of the same
                   prompt in the batch (self-consistency / TTRL-style majority vote; no label used)
noisy              ground truth with each correct y rewarded 0 with prob. fn_rate (false negative) and
                   each incorrect y rewarded 1 with prob. fp_rate (false positive): the reward-
                   misalignment model of Chen et al. as a dial; fp = fn = 0.5 is the random reward
constant           the constant c for every y: all advantages are zero, only an entropy term acts
neg_entropy        minus the mean per-token entropy of the policy along y (RENT, Prabhudesai et al.
                   2505.22660; EM-RL, Agarwal et al. 2505.15134); needs the policy, see `bind`
math_verify        1 if math-verify finds y's final answer equivalent to a (optional dependency)
=================  ====================================================================================
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rlvr_lib._checks import ConfigError, check_choice, check_float, check_int, check_prob
from rlvr_lib.testbed.tasks import extract_answer, is_correct, is_well_formed

REWARDS = (
    "ground_truth",
    "random",
    "format",
    "incorrect",
    "fixed_wrong",
    "majority",
    "noisy",
    "constant",
    "neg_entropy",
    "math_verify",
)


def ground_truth(completions, answer, **kwargs) -> list[float]:
    return [float(is_correct(c, a)) for c, a in zip(completions, answer)]


def format_reward(completions, **kwargs) -> list[float]:
    return [float(is_well_formed(c)) for c in completions]


format_reward.__name__ = "format"


def incorrect(completions, answer, **kwargs) -> list[float]:
    return [1.0 - float(is_correct(c, a)) for c, a in zip(completions, answer)]


def fixed_wrong(completions, wrong_answer, **kwargs) -> list[float]:
    return [float(is_correct(c, w)) for c, w in zip(completions, wrong_answer)]


def majority(prompts, completions, **kwargs) -> list[float]:
    """Reward agreement with the prompt's majority answer among this call's completions. Completions are grouped
    by prompt text (not by position); malformed answers never count and score 0; a tie goes to the answer that
    appeared first."""
    from collections import Counter

    answers = [extract_answer(c) for c in completions]
    votes: dict[str, Counter] = {}
    for p, a in zip(prompts, answers):
        if a is not None:
            votes.setdefault(str(p), Counter())[a] += 1
    top = {p: c.most_common(1)[0][0] for p, c in votes.items()}  # most_common keeps first-seen order on ties
    return [float(a is not None and top.get(str(p)) == a) for p, a in zip(prompts, answers)]


class RandomReward:
    """Bernoulli(p) rewards, independent of the completions, reproducible from the seed and the call order."""

    __name__ = "random"

    def __init__(self, p: float = 0.5, seed: int = 0, stream: int = 0):
        self.p = check_prob("reward_p", p)
        key = [check_int("seed", seed, 0), 0x5EED] + ([check_int("stream", stream, 0)] if stream else [])
        self.rng = np.random.default_rng(key)  # stream = process index: independent draws on every rank

    def __call__(self, completions, **kwargs) -> list[float]:
        return (self.rng.random(len(completions)) < self.p).astype(float).tolist()


class NoisyReward:
    """Ground truth passed through a binary channel with false-positive and false-negative rates."""

    __name__ = "noisy"

    def __init__(self, fp_rate: float = 0.0, fn_rate: float = 0.0, seed: int = 0, stream: int = 0):
        self.fp = check_prob("false_positive_rate", fp_rate)
        self.fn = check_prob("false_negative_rate", fn_rate)
        key = [check_int("seed", seed, 0), 0x0015E] + ([check_int("stream", stream, 0)] if stream else [])
        self.rng = np.random.default_rng(key)

    def __call__(self, completions, answer, **kwargs) -> list[float]:
        truth = np.array([is_correct(c, a) for c, a in zip(completions, answer)])
        u = self.rng.random(len(truth))
        flip = np.where(truth, u < self.fn, u < self.fp)
        return (truth ^ flip).astype(float).tolist()


class ConstantReward:
    __name__ = "constant"

    def __init__(self, value: float = 0.0):
        self.value = check_float("reward_constant", value)

    def __call__(self, completions, **kwargs) -> list[float]:
        return [self.value] * len(completions)


class NegEntropyReward:
    """Minus the mean per-token entropy (nats, temperature 1) of the policy along each completion.

    Needs the policy: the trainer calls :meth:`bind` with its model and tokenizer after construction. The
    entropy is computed with a no-grad forward pass on prompt + completion tokens (eos included)."""

    __name__ = "neg_entropy"

    def __init__(self):
        self.model = self.tokenizer = None

    def bind(self, model, tokenizer) -> NegEntropyReward:
        self.model, self.tokenizer = model, tokenizer
        return self

    def __call__(self, prompts, completion_ids, **kwargs) -> list[float]:
        from rlvr_lib.entropy import softmax_entropy
        from rlvr_lib.testbed.models import left_padded_logits

        if self.model is None:
            raise RuntimeError("neg_entropy reward is not bound to a policy: call .bind(model, tokenizer)")
        tok = self.tokenizer
        rows = [tok(p)["input_ids"] + list(c) for p, c in zip(prompts, completion_ids)]
        n_prompt = [len(tok(p)["input_ids"]) for p in prompts]
        logits, ids = left_padded_logits(self.model, rows, tok.pad_token_id)
        width = ids.shape[1]
        h = softmax_entropy(logits).cpu()  # (B, W): entropy of the next-token distribution
        out = []
        for i, r in enumerate(rows):
            start = width - len(r) + n_prompt[i] - 1  # position predicting the first completion token
            n = len(r) - n_prompt[i]
            out.append(-float(h[i, start : start + n].mean()) if n > 0 else 0.0)
        return out


class MathVerifyReward:
    """1 if math-verify judges the completion's final answer equivalent to the reference, else 0.

    For real math datasets (MATH-500, DeepScaleR). The gold answer is wrapped in ``$...$`` when it carries
    no delimiters so that plain strings such as ``3/4`` parse. Never raises: anything unparsable scores 0."""

    __name__ = "math_verify"

    def __init__(self):
        try:
            import math_verify  # noqa: F401  (presence check)
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError(
                "the math_verify reward needs the optional dependency: pip install 'rlvr_lib[math]'"
            ) from e

    def __call__(self, completions, answer, **kwargs) -> list[float]:
        return [self.score(c, a) for c, a in zip(completions, answer)]

    @staticmethod
    def score(completion, gold) -> float:
        from math_verify import parse, verify

        try:
            if not isinstance(completion, str) or not completion.strip():
                return 0.0
            g = str(gold)
            if "$" not in g and "\\boxed" not in g:
                g = f"${g}$"
            gold_parsed = parse(g)
            pred = parse(completion)
            if not gold_parsed or not pred:
                return 0.0
            return float(verify(gold_parsed, pred))
        except Exception:  # math-verify can raise on pathological input; malformed = incorrect
            return 0.0


def make_reward(
    name: str,
    *,
    seed: int = 0,
    p: float = 0.5,
    fp_rate: float = 0.0,
    fn_rate: float = 0.0,
    constant: float = 0.0,
    stream: int = 0,
) -> Callable:
    """The reward function called `name` (see the module table). `stream` (the process index under DDP) gives
    every process its own random draws for the random and noisy rewards."""
    check_choice("reward", name, REWARDS)
    if name == "ground_truth":
        return ground_truth
    if name == "format":
        return format_reward
    if name == "incorrect":
        return incorrect
    if name == "fixed_wrong":
        return fixed_wrong
    if name == "majority":
        return majority
    if name == "random":
        return RandomReward(p, seed, stream)
    if name == "noisy":
        return NoisyReward(fp_rate, fn_rate, seed, stream)
    if name == "constant":
        return ConstantReward(constant)
    if name == "neg_entropy":
        return NegEntropyReward()
    if name == "math_verify":
        return MathVerifyReward()
    raise ConfigError(name)  # unreachable
