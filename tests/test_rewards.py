"""Reward functions on TRL's contract: values, stable metric names, reproducible random streams, bad dials."""

import numpy as np
import pytest

from rlvr_lib._checks import ConfigError
from rlvr_lib.rl.rewards import MathVerifyReward, NegEntropyReward, make_reward

ANS = ["185", "46", "7"]
COMP = ["#7+8=15,4+3+1=8,1+0=1>185", "~>45", "garbage"]


def test_ground_truth_format_incorrect():
    assert make_reward("ground_truth")(completions=COMP, answer=ANS) == [1.0, 0.0, 0.0]
    assert make_reward("format")(completions=COMP) == [1.0, 1.0, 0.0]
    assert make_reward("incorrect")(completions=COMP, answer=ANS) == [0.0, 1.0, 1.0]
    assert make_reward("constant", constant=0.3)(completions=COMP) == [0.3] * 3


def test_fixed_wrong_label_rewards_only_that_one_wrong_answer():
    r = make_reward("fixed_wrong")
    comp = ["#...>185", "~...>175", "~...>176", "junk"]
    assert r(completions=comp, answer=["185"] * 4, wrong_answer=["175"] * 4) == [0.0, 1.0, 0.0, 0.0]


def test_majority_vote_rewards_agreement_within_each_prompt():
    r = make_reward("majority")
    prompts = ["1+1="] * 4 + ["2+2="] * 3
    comp = [">2", ">2", ">3", "junk", ">5", ">4", ">5"]
    assert r(prompts=prompts, completions=comp) == [1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0]
    # a tie goes to the answer seen first; a group with no valid answer gets nothing
    assert r(prompts=["p"] * 2 + ["q"] * 2, completions=[">7", ">8", "x", "y"]) == [1.0, 0.0, 0.0, 0.0]


def test_stable_metric_names():
    names = {
        n: make_reward(n).__name__
        for n in (
            "ground_truth",
            "random",
            "format",
            "incorrect",
            "fixed_wrong",
            "majority",
            "noisy",
            "constant",
            "neg_entropy",
        )
    }
    assert names == {n: n for n in names}


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_random_reward_mean(p):
    r = make_reward("random", p=p, seed=3)
    x = np.concatenate([r(completions=["a"] * 1000) for _ in range(20)])
    assert abs(x.mean() - p) < 4 * np.sqrt(p * (1 - p) / x.size)


def test_random_reward_ignores_the_completion_and_is_reproducible():
    a, b = make_reward("random", seed=7), make_reward("random", seed=7)
    xa = a(completions=COMP * 100, answer=ANS * 100)
    xb = b(completions=["x"] * 300, answer=["0"] * 300)
    assert xa == xb
    assert make_reward("random", seed=8)(completions=["x"] * 300) != xa
    # and uncorrelated with correctness
    truth = np.array(make_reward("ground_truth")(completions=COMP * 100, answer=ANS * 100))
    assert abs(np.corrcoef(truth, xa)[0, 1]) < 4 / np.sqrt(300)


def test_noisy_reward_misalignment_rates():
    n = 20000
    comps = ["#>1"] * n + ["#>2"] * n
    ans = ["1"] * (2 * n)
    r = np.array(make_reward("noisy", fp_rate=0.1, fn_rate=0.3, seed=0)(completions=comps, answer=ans))
    fn, fp = 1 - r[:n].mean(), r[n:].mean()
    assert abs(fn - 0.3) < 4 * np.sqrt(0.21 / n) and abs(fp - 0.1) < 4 * np.sqrt(0.09 / n)
    exact = make_reward("noisy", seed=0)(completions=comps[:5] + comps[-5:], answer=ans[:10])
    assert exact == [1.0] * 5 + [0.0] * 5


def test_neg_entropy_reward_needs_a_policy_and_is_minus_entropy(tiny_base):
    from rlvr_lib.testbed.evaluation import generate
    from rlvr_lib.testbed.models import load_policy

    r = NegEntropyReward()
    with pytest.raises(RuntimeError, match="not bound"):
        r(prompts=["1+1="], completion_ids=[[5]])
    model, tok = load_policy(tiny_base)
    _, ents, toks = generate(model, tok, ["12+34=", "56+78="], max_new_tokens=30, temperature=1.0, seed=0)
    out = r.bind(model, tok)(prompts=["12+34=", "56+78="], completion_ids=[list(t) for t in toks])
    assert out == pytest.approx([-e.mean() for e in ents], abs=1e-4)


@pytest.mark.parametrize(
    "completion, gold, expected",
    [
        ("The answer is $\\boxed{\\frac{1}{2}}$", "1/2", 1.0),
        ("so x = 0.5, i.e. \\boxed{0.5}", "\\frac{1}{2}", 1.0),
        ("\\boxed{3}", "4", 0.0),
        ("", "4", 0.0),
        ("\\boxed{", "4", 0.0),
        ("}}}{{{\\frac", "1", 0.0),
        (None, "1", 0.0),
    ],
)
def test_math_verify_reward(completion, gold, expected):
    assert MathVerifyReward.score(completion, gold) == expected


def test_bad_reward_dials():
    with pytest.raises(ConfigError, match="reward must be one of"):
        make_reward("oracle")
    with pytest.raises(ConfigError, match="false_positive_rate"):
        make_reward("noisy", fp_rate=1.5)
