"""The task world: the column method, the two styles, the verifier, the splits and the corpus dials."""

import random
from collections import Counter

import pytest

from rlvr_lib._checks import ConfigError
from rlvr_lib.testbed.tasks import (
    Problem,
    TaskConfig,
    build_corpus,
    column_steps,
    completion_style,
    contaminated_ids,
    correct_completions,
    eval_items,
    extract_answer,
    fixed_wrong_answer,
    free_renderings,
    is_correct,
    is_well_formed,
    make_splits,
    render,
    style_answer,
    train_rows,
)


def test_column_method_matches_integer_sum():
    rng = random.Random(0)
    for _ in range(2000):
        ops = tuple(rng.randint(0, 10 ** rng.randint(1, 5)) for _ in range(rng.randint(2, 5)))
        assert column_steps(ops, carries=True)[1] == str(sum(ops))


def test_shortcut_is_right_exactly_when_no_column_overflows():
    rng = random.Random(1)
    for _ in range(2000):
        ops = (rng.randint(100, 999), rng.randint(100, 999))
        overflow = any(sum(int(str(x)[::-1][c]) for x in ops) >= 10 for c in range(2))  # all but the top column
        assert (style_answer(Problem(ops), "shortcut") == str(sum(ops))) == (not overflow)


def test_render_examples_and_style_tags():
    p = Problem((147, 38))
    assert render(p, "reliable", "worked") == "#7+8=15,4+3+1=8,1+0=1>185"
    assert render(p, "shortcut", "worked") == "~7+8=15,4+3=7,1+0=1>175"
    assert render(p, "reliable", "bare") == "#>185"
    assert completion_style(render(p, "shortcut", "bare")) == "shortcut"
    assert correct_completions(Problem((12, 34)), "worked") == ["#2+4=6,1+3=4>46", "~2+4=6,1+3=4>46"]


@pytest.mark.parametrize(
    "text",
    [
        None,
        3,
        "",
        ">",
        "#",
        "#>",
        "#>12a",
        "#>-5",
        "#> ",
        ">>",
        "#>1 2",
        "#>٣",
        "x" * 10000,
        "#>1\x00",
        ">\n",
        "#>１２",
    ],
)
def test_verifier_never_raises_and_rejects_malformed(text):
    assert extract_answer(text) is None
    assert is_correct(text, "12") is False


def test_verifier_accepts_and_rejects():
    assert is_correct("#7+8=15>185", 185)
    assert is_correct("junk>185", "185")  # the verifier checks the answer only; the style is measured apart
    assert not is_correct("#>0185", "185")
    assert not is_correct("#>184", "185")
    assert is_correct("#>185>185", "185")  # last mark wins
    assert is_well_formed("~>3") and not is_well_formed("x>3") and not is_well_formed("#3")


def test_splits_are_deterministic_and_disjoint():
    cfg = TaskConfig(n_train=500, n_eval=100, seed=3)
    a, b = make_splits(cfg), make_splits(cfg)
    assert a == b
    assert len(set(a["train"])) == 500 and len(set(a["eval"])) == 100
    assert not set(a["train"]) & set(a["eval"])
    assert make_splits(TaskConfig(n_train=500, n_eval=100, seed=4))["eval"] != a["eval"]


def test_hard_contamination_replaces_the_contaminated_items_with_harder_problems():
    cfg = TaskConfig(n_train=100, n_eval=80)
    plain, hard = eval_items(cfg, 0.25), eval_items(cfg, 0.25, contamination_digits=4)
    for p, h in zip(plain, hard):
        assert p["contaminated"] == h["contaminated"]
        if h["contaminated"]:
            assert all(len(str(x)) == 4 for x in h["problem"].operands) and h["answer"] == h["problem"].answer
        else:
            assert p == h
    assert hard == eval_items(cfg, 0.25, contamination_digits=4)  # deterministic
    rows = build_corpus(cfg, 500, 0.5, contamination=0.25, contamination_repeats=2, contamination_digits=4)
    seen = Counter(r["prompt"] for r in rows)
    assert all(seen[it["prompt"]] == 2 for it in hard if it["contaminated"])


def test_fixed_wrong_answer_is_wrong_and_is_the_carry_dropping_answer_when_that_is_wrong():
    for ops in ((147, 38), (123, 456), (999, 1)):
        p = Problem(ops)
        w = fixed_wrong_answer(p)
        assert w != p.answer
        short = style_answer(p, "shortcut")
        assert w == (short if short != p.answer else str(int(p.answer) + 1))
    assert all(r["wrong_answer"] != r["answer"] for r in train_rows(TaskConfig(n_train=50, n_eval=10)))


def test_corpus_never_contains_clean_eval_items_and_contamination_is_exact():
    cfg = TaskConfig(n_train=100, n_eval=80)
    rows = build_corpus(cfg, 3000, 0.5, contamination=0.25, contamination_repeats=3)
    items = eval_items(cfg, 0.25)
    dirty = {it["prompt"] for it in items if it["contaminated"]}
    clean = {it["prompt"] for it in items if not it["contaminated"]}
    assert len(dirty) == 20 == len(contaminated_ids(cfg, 0.25))
    prompts = Counter(r["prompt"] for r in rows)
    assert all(prompts[p] == 3 for p in dirty)
    assert not clean & set(prompts)


@pytest.mark.parametrize("share", [0.0, 0.3, 0.6, 1.0])
def test_strategy_share_within_binomial_tolerance(share):
    n = 4000
    rows = build_corpus(TaskConfig(), n, share)
    got = sum(r["style"] == "reliable" for r in rows) / n
    tol = 4 * (share * (1 - share) / n) ** 0.5 + 1e-12  # 4 standard errors
    assert abs(got - share) <= tol
    assert all(completion_style(r["completion"]) == r["style"] for r in rows)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(task="mul"), "task must be one of"),
        (dict(digits=0), "digits must be an int in"),
        (dict(n_operands=1), "n_operands"),
        (dict(format="cot"), "format must be one of"),
        (dict(n_train=-1), "n_train"),
        (dict(digits=1, n_train=60), "at most half"),
        (dict(seed=1.5), "seed must be an int"),
    ],
)
def test_bad_task_dials(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        TaskConfig(**kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(reliable_share=1.5), "reliable_share must be a finite number in"),
        (dict(reliable_share=-0.1), "reliable_share"),
        (dict(contamination=2), "contamination"),
        (dict(n_problems=0), "n_problems"),
    ],
)
def test_bad_corpus_dials(kwargs, match):
    args = dict(n_problems=10, reliable_share=0.5) | kwargs
    with pytest.raises(ConfigError, match=match):
        build_corpus(TaskConfig(), **args)


def test_free_format_is_the_worked_method_with_free_digit_order():
    p = Problem((147, 38))
    # without an rng the canonical order, identical to the worked format
    assert render(p, "reliable", "free") == render(p, "reliable", "worked")
    # every rendering a corpus can draw is correct and is one of the enumerated ones
    every = free_renderings(p, "reliable")
    rng = random.Random(3)
    drawn = {render(p, "reliable", "free", rng) for _ in range(200)}
    assert drawn == set(every)  # 2 orders in each of 3 columns, all 8 drawn in 200 tries
    assert len(every) == 8 and "#8+7=15,3+4+1=8,0+1=1>185" in every
    assert all(is_correct(c, p.answer) and completion_style(c) == "reliable" for c in every)


def test_free_renderings_have_no_duplicates_where_digits_coincide():
    # 77 + 17: the units column reads 7+7 either way, so 2 distinct texts, not 4 (a duplicate would count the
    # same completion's probability twice in exact accuracy)
    every = free_renderings(Problem((77, 17)), "reliable")
    assert every == ["#7+7=14,7+1+1=9>94", "#7+7=14,1+7+1=9>94"]
    # three operands: 3! orders per column
    assert len(free_renderings(Problem((123, 456, 789)), "reliable")) == 6**3


def test_free_correct_completions_cover_both_styles_when_the_shortcut_is_right():
    p = Problem((12, 34))  # no carry: the shortcut is right too
    cc = correct_completions(p, "free")
    assert sorted(cc) == sorted(
        ["#2+4=6,1+3=4>46", "#4+2=6,1+3=4>46", "#2+4=6,3+1=4>46", "#4+2=6,3+1=4>46"]
        + ["~2+4=6,1+3=4>46", "~4+2=6,1+3=4>46", "~2+4=6,3+1=4>46", "~4+2=6,3+1=4>46"]
    )
    assert correct_completions(Problem((18, 34)), "free") == free_renderings(Problem((18, 34)), "reliable")


def test_worked_corpus_is_unchanged_by_the_free_format():
    # the hash of this corpus as the worked format wrote it before the free format existed: adding the dial
    # draws no random number in the other formats, so every earlier base keeps its corpus
    import hashlib
    import json

    rows = build_corpus(TaskConfig(digits=3, n_train=200, n_eval=50), 300, reliable_share=0.6, contamination=0.2)
    assert hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:16] == "9c444a34a8494839"


def test_free_corpus_draws_orders_and_every_row_is_correct():
    cfg = TaskConfig(digits=2, n_train=20, n_eval=10, format="free")
    free = build_corpus(cfg, 200, reliable_share=1.0)
    canonical = [render(Problem(tuple(map(int, r["prompt"][:-1].split("+")))), "reliable", "worked") for r in free]
    assert 0.3 < sum(r["completion"] != c for r, c in zip(free, canonical)) / len(free) < 0.9
    for r in free:
        assert is_correct(r["completion"], str(sum(map(int, r["prompt"][:-1].split("+")))))
