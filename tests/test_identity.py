"""One idea, one function: the interval, the seed band, the entropy, the clip rules and the scoring pass are each
defined once and shared by every layer that needs them."""

import re
from pathlib import Path

import rlvr_lib
from rlvr_lib import clip, entropy, stats
from rlvr_lib.experiments import lm_lab, theory_lab
from rlvr_lib.rl import rewards
from rlvr_lib.rl import trainer as rl_trainer
from rlvr_lib.testbed import evaluation, models
from rlvr_lib.theory import simulator

PKG = Path(rlvr_lib.__file__).parent


def sources_matching(pattern: str) -> set[str]:
    rx = re.compile(pattern, re.M)
    return {str(p.relative_to(PKG)) for p in PKG.rglob("*.py") if rx.search(p.read_text())}


def test_the_simulator_uses_the_trainers_clip_functions():
    assert simulator.clip_objective is clip.clip_objective is rl_trainer.clip_objective
    assert simulator.clipping_bias is clip.clipping_bias is rl_trainer.clipping_bias


def test_one_interval_and_one_seed_band():
    assert theory_lab.mean_ci is lm_lab.mean_ci is stats.mean_ci
    assert lm_lab.seed_band is stats.seed_band and lm_lab.interval_sign is stats.interval_sign
    assert sources_matching(r"^def (mean_ci|seed_band|t975)\(") == {"stats.py"}
    assert not sources_matching(r"1\.96 \*"), "an interval typed by hand"


def test_one_entropy():
    assert simulator.softmax_entropy is evaluation.softmax_entropy is entropy.softmax_entropy
    assert sources_matching(r"\.exp\(\) \* \w+\)\.sum\(") == {"entropy.py"}


def test_one_left_padded_scoring_pass():
    assert evaluation.left_padded_logits is models.left_padded_logits
    assert sources_matching(r"cumsum\(1\) - 1") == {"testbed/models.py"}


def test_the_entropy_reward_goes_through_the_shared_functions(monkeypatch):
    calls = []
    real_logits, real_entropy = models.left_padded_logits, entropy.softmax_entropy
    monkeypatch.setattr(models, "left_padded_logits", lambda *a: calls.append("logits") or real_logits(*a))
    monkeypatch.setattr(entropy, "softmax_entropy", lambda x: calls.append("entropy") or real_entropy(x))
    tok = models.build_tokenizer()
    model = models.build_model(models.ModelConfig(hidden_size=16, intermediate_size=32, num_layers=1, num_heads=2), tok)
    r = rewards.NegEntropyReward().bind(model, tok)
    out = r(prompts=["12+34="], completion_ids=[tok("R46", add_special_tokens=False)["input_ids"]])
    assert calls == ["logits", "entropy"] and out[0] < 0


LAYER = {"": 0, "testbed": 1, "theory": 1, "rl": 2, "experiments": 3, "scale": 3, "pipeline": 4}


def test_layers_only_import_downwards():
    """A module imports from its own layer or lower ones (the aliases main.py and entry.py excepted)."""
    bad = []
    for p in PKG.rglob("*.py"):
        rel = p.relative_to(PKG)
        if rel.as_posix() in ("main.py", "entry.py"):
            continue
        own = LAYER[rel.parts[0] if len(rel.parts) > 1 else ""]
        for m in re.finditer(r"^\s*from rlvr_lib(?:\.(\w+))?(?:\.\w+)* import", p.read_text(), re.M):
            sub = m.group(1) if m.group(1) in LAYER else ""
            if LAYER[sub] > own:
                bad.append(f"{rel} imports rlvr_lib.{m.group(1)}")
    assert not bad, bad
