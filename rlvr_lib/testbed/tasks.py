"""The synthetic task world: column addition with a difficulty dial, two solution styles and contamination.

A problem is ``a+b(+c...)=``; its answer is the sum. Completions come in two formats:

* ``worked``: the column method written out, least significant column first, then the answer::

      147+38=  ->  #7+8=15,4+3+1=8,1+0=1>185

  (``+1`` is the carry from the previous column; the column sums are always printed in full);
* ``bare``: the style tag and the answer only: ``#>185``;
* ``free``: the column method with FREE CHOICES, the entropy-profile dial: in every column the operands'
  digits may be written in any order (the carry stays last), so ``#8+7=15,3+4+1=8,0+1=1>185`` is as correct as
  the worked form. The choices never change correctness; a corpus written in this format picks each column's
  order uniformly at random, so a base trained on it carries more entropy per token (up to ln 2 per column for
  two operands) at the same accuracy. Exact accuracy sums over every distinct correct completion.

Two solution STYLES are mixed in a base model's pretraining corpus (the strategy dial):

* ``reliable`` (tag ``#``): the column method with carries - always correct;
* ``shortcut`` (tag ``~``): the same method that drops every carry - a systematic error that is right only
  when no column overflows (about 30% of 3-digit sums, 55% of 2-digit sums).

The first character of a completion reveals the style, so its share can be measured at any time. This is
the testbed's analogue of a base model's preferred way of reasoning (Qwen2.5-Math's code-style prior in
Shao et al. 2506.10947): which style a model prefers and whether that style is correct are set
independently.

The CONTAMINATION dial copies a chosen fraction of the evaluation problems, with reliable worked
solutions, into the pretraining corpus (:func:`build_corpus`); evaluation items carry a
``contaminated`` flag so clean and contaminated items can be scored separately. With
``contamination_digits`` set, the contaminated evaluation items are replaced by harder problems (more
digits) that a clean base does not solve, so that memorisation shows before any RL.

Only addition is implemented: it is enough to give the base-strength, style and contamination dials
their meaning, and its answers are unique and cheap to verify.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import asdict, dataclass, replace

from rlvr_lib._checks import ConfigError, check_choice, check_int, check_prob

TASKS = ("add",)
FORMATS = ("worked", "bare", "free")
STYLES = ("reliable", "shortcut")
STYLE_TAGS = {"reliable": "#", "shortcut": "~"}
TAG_STYLES = {v: k for k, v in STYLE_TAGS.items()}
ANSWER_MARK = ">"


@dataclass(frozen=True)
class TaskConfig:
    """Which problems exist and how they are split. All fields are dials; `seed` fixes the split."""

    task: str = "add"  # problem family; only "add" (column addition) exists
    digits: int = 3  # digits of every operand (the leading digit is non-zero unless digits == 1)
    n_operands: int = 2  # numbers added per problem
    format: str = "worked"  # "worked": column steps then answer; "bare": style tag and answer only; "free": worked
    # with each column's digits in a free order (the entropy-profile dial)
    n_train: int = 2000  # prompts in the RL training split
    n_eval: int = 200  # problems in the held-out evaluation split (disjoint from everything else)
    seed: int = 0  # seed of the split

    def __post_init__(self):
        check_choice("task", self.task, TASKS)
        check_int("digits", self.digits, 1, 9)
        check_int("n_operands", self.n_operands, 2, 6)
        check_choice("format", self.format, FORMATS)
        check_int("n_train", self.n_train, 1)
        check_int("n_eval", self.n_eval, 1)
        check_int("seed", self.seed, 0)
        if self.n_train + self.n_eval > self.space_size // 2:
            raise ConfigError(
                f"n_train + n_eval = {self.n_train + self.n_eval} must be at most half the number of distinct "
                f"problems ({self.space_size} for digits={self.digits}, n_operands={self.n_operands}); "
                "raise digits or n_operands, or lower the split sizes"
            )

    @property
    def space_size(self) -> int:
        """Number of distinct (ordered) problems."""
        per_operand = 10 if self.digits == 1 else 9 * 10 ** (self.digits - 1)
        return per_operand**self.n_operands

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Problem:
    operands: tuple[int, ...]

    @property
    def prompt(self) -> str:
        return "+".join(map(str, self.operands)) + "="

    @property
    def answer(self) -> str:
        return str(sum(self.operands))


def column_steps(
    operands: tuple[int, ...], carries: bool, orders: list[tuple[int, ...]] | None = None
) -> tuple[list[str], str]:
    """The column method: a step string per column and the resulting answer string.

    With ``carries=False`` the carry into each column is dropped (the shortcut style's systematic error);
    the last column's sum is still written in full. `orders`, one permutation of the operand indices per
    column, sets the order in which that column's digits are written (default: the operands' order); the
    carry is always written last and the sums do not depend on the order.
    """
    width = max(len(str(x)) for x in operands)
    digits = [str(x).zfill(width)[::-1] for x in operands]  # least significant first
    steps, out, carry = [], [], 0
    for col in range(width):
        order = orders[col] if orders is not None else range(len(operands))
        terms = [digits[i][col] for i in order]
        if carries and carry:
            terms.append(str(carry))
        s = sum(int(t) for t in terms)
        steps.append("+".join(terms) + "=" + str(s))
        last = col == width - 1
        out.append(str(s)[::-1] if last else str(s % 10))
        carry = s // 10
    return steps, "".join(out)[::-1].lstrip("0") or "0"


def n_columns(problem: Problem) -> int:
    return max(len(str(x)) for x in problem.operands)


def render(problem: Problem, style: str, fmt: str, rng: random.Random | None = None) -> str:
    """The completion text (no special tokens) of `problem` solved in `style` and written in `fmt`.

    In the ``free`` format each column's digit order is drawn from `rng` (uniform over the permutations);
    without `rng` the canonical order is written, as in ``worked``."""
    check_choice("style", style, STYLES)
    check_choice("format", fmt, FORMATS)
    orders = None
    if fmt == "free" and rng is not None:
        n = len(problem.operands)
        orders = [tuple(rng.sample(range(n), n)) for _ in range(n_columns(problem))]
    steps, answer = column_steps(problem.operands, carries=style == "reliable", orders=orders)
    body = ",".join(steps) if fmt != "bare" else ""
    return STYLE_TAGS[style] + body + ANSWER_MARK + answer


def free_renderings(problem: Problem, style: str) -> list[str]:
    """Every distinct ``free``-format completion of `problem` in `style` (columns whose digits coincide give
    the same text in either order, so the list has no duplicates), canonical order first."""
    perms = list(itertools.permutations(range(len(problem.operands))))
    out: dict[str, None] = {}
    for orders in itertools.product(perms, repeat=n_columns(problem)):
        steps, answer = column_steps(problem.operands, carries=style == "reliable", orders=list(orders))
        out[STYLE_TAGS[style] + ",".join(steps) + ANSWER_MARK + answer] = None
    return list(out)


def style_answer(problem: Problem, style: str) -> str:
    """The answer that `style` produces for `problem` (the true sum for the reliable style)."""
    return column_steps(problem.operands, carries=style == "reliable")[1]


def fixed_wrong_answer(problem: Problem) -> str:
    """One fixed wrong answer per problem, for Shao et al.'s incorrect-label reward: the shortcut style's answer
    (the sum with every carry dropped, the systematic error a shortcut-preferring solver makes) when it is
    wrong, else the true sum plus one."""
    short = style_answer(problem, "shortcut")
    return short if short != problem.answer else str(int(problem.answer) + 1)


def correct_completions(problem: Problem, fmt: str) -> list[str]:
    """The canonical completions that end in the correct answer: the reliable one, plus the shortcut one
    when the shortcut happens to be right (no carries); in the ``free`` format every distinct digit order of
    each. Used for exact accuracy by teacher forcing."""
    styles = ["reliable"] + (["shortcut"] if style_answer(problem, "shortcut") == problem.answer else [])
    if fmt == "free":
        return [c for st in styles for c in free_renderings(problem, st)]
    return [render(problem, st, fmt) for st in styles]


# ---------------------------------------------------------------------------------------------------------
# verification: never raises; malformed text is simply incorrect


def extract_answer(completion) -> str | None:
    """The digits after the last answer mark, or None when there are none or anything else follows."""
    if not isinstance(completion, str) or ANSWER_MARK not in completion:
        return None
    tail = completion.rsplit(ANSWER_MARK, 1)[1].strip()
    if not tail or not tail.isascii() or not tail.isdigit():
        return None
    return tail


def is_correct(completion, answer) -> bool:
    """1 iff the extracted answer equals the reference exactly (no leading zeros, no extra text)."""
    got = extract_answer(completion)
    return got is not None and got == str(answer).strip()


def completion_style(completion) -> str:
    """'reliable', 'shortcut' or 'other', read from the completion's first character."""
    if not isinstance(completion, str) or not completion:
        return "other"
    return TAG_STYLES.get(completion[0], "other")


def is_well_formed(completion) -> bool:
    """A style tag first and an answer last: what the format-only reward checks."""
    return completion_style(completion) != "other" and extract_answer(completion) is not None


# ---------------------------------------------------------------------------------------------------------
# splits


def _sample_problem(rng: random.Random, cfg: TaskConfig) -> Problem:
    lo = 0 if cfg.digits == 1 else 10 ** (cfg.digits - 1)
    hi = 10**cfg.digits - 1
    return Problem(tuple(rng.randint(lo, hi) for _ in range(cfg.n_operands)))


def make_splits(cfg: TaskConfig) -> dict[str, list[Problem]]:
    """Disjoint 'eval' and 'train' lists of distinct problems, deterministic for `cfg`."""
    rng = random.Random(f"splits-{cfg.seed}")
    seen: set[Problem] = set()
    out: dict[str, list[Problem]] = {"eval": [], "train": []}
    for split, n in (("eval", cfg.n_eval), ("train", cfg.n_train)):
        while len(out[split]) < n:
            p = _sample_problem(rng, cfg)
            if p not in seen:
                seen.add(p)
                out[split].append(p)
    return out


def contaminated_ids(cfg: TaskConfig, contamination: float) -> set[int]:
    """Indices of the evaluation problems that are copied into the corpus: exactly round(frac * n_eval)."""
    check_prob("contamination", contamination)
    k = round(contamination * cfg.n_eval)
    return set(random.Random(f"contam-{cfg.seed}").sample(range(cfg.n_eval), k))


def eval_items(cfg: TaskConfig, contamination: float = 0.0, contamination_digits: int = 0) -> list[dict]:
    """The evaluation split as dicts: id, prompt, answer, contaminated, problem.

    With `contamination_digits` > 0 each contaminated item is a fresh problem with that many digits per operand
    (deterministic for the split's seed and the item's index) instead of the split's own problem."""
    bad = contaminated_ids(cfg, contamination)
    problems = make_splits(cfg)["eval"]
    if contamination_digits:
        check_int("contamination_digits", contamination_digits, 1, 9)
        hard = replace(cfg, digits=contamination_digits)
        for i in sorted(bad):
            problems[i] = _sample_problem(random.Random(f"hard-{cfg.seed}-{i}"), hard)
    return [
        {"id": i, "prompt": p.prompt, "answer": p.answer, "contaminated": i in bad, "problem": p}
        for i, p in enumerate(problems)
    ]


def train_rows(cfg: TaskConfig) -> list[dict]:
    """The RL training split as rows for a `datasets.Dataset`: prompt, answer and the problem's fixed wrong
    answer (:func:`fixed_wrong_answer`, for the ``fixed_wrong`` reward)."""
    return [
        {"prompt": p.prompt, "answer": p.answer, "wrong_answer": fixed_wrong_answer(p)}
        for p in make_splits(cfg)["train"]
    ]


def build_corpus(
    cfg: TaskConfig,
    n_problems: int,
    reliable_share: float,
    contamination: float = 0.0,
    contamination_repeats: int = 20,
    seed: int = 0,
    contamination_digits: int = 0,
) -> list[dict]:
    """The pretraining corpus: rows with prompt, completion, style and a `contaminated` flag.

    `n_problems` fresh problems (never an evaluation problem) are each written once, in the reliable
    style with probability `reliable_share` and in the shortcut style otherwise. Then each contaminated
    evaluation problem is added `contamination_repeats` times with its reliable worked solution, so the
    model can memorise it. The rows are shuffled.
    """
    check_int("n_problems", n_problems, 1)
    check_prob("reliable_share", reliable_share)
    check_prob("contamination", contamination)
    check_int("contamination_repeats", contamination_repeats, 1)
    check_int("seed", seed, 0)
    rng = random.Random(f"corpus-{cfg.seed}-{seed}")
    held_out = set(make_splits(cfg)["eval"])
    rows = []
    while len(rows) < n_problems:
        p = _sample_problem(rng, cfg)
        if p in held_out:
            continue
        style = "reliable" if rng.random() < reliable_share else "shortcut"
        rows.append(
            {"prompt": p.prompt, "completion": render(p, style, cfg.format, rng), "style": style, "contaminated": False}
        )
    for item in eval_items(cfg, contamination, contamination_digits):
        if item["contaminated"]:
            text = render(item["problem"], "reliable", cfg.format)
            rows += [
                {"prompt": item["prompt"], "completion": text, "style": "reliable", "contaminated": True}
                for _ in range(contamination_repeats)
            ]
    rng.shuffle(rows)
    return rows
