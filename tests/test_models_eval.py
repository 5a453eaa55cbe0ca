"""Tiny models, pretraining and held-out evaluation: determinism, caching, and metrics against references."""

import itertools
import json
import math

import numpy as np
import pytest
import torch

from rlvr_lib._checks import ConfigError
from rlvr_lib.testbed.evaluation import evaluate, generate, pass_at_k, sequence_logprobs
from rlvr_lib.testbed.models import ModelConfig, build_model, build_tokenizer, load_policy
from rlvr_lib.testbed.pretrain import PretrainConfig, base_meta, ensure_base, pretrain
from rlvr_lib.testbed.tasks import eval_items


def test_tokenizer_is_character_level_with_bos_and_left_padding():
    tok = build_tokenizer()
    enc = tok(["12+3=", "5+5="], padding=True)
    assert enc["input_ids"][0][0] == tok.bos_token_id
    assert enc["input_ids"][1][:2] == [tok.pad_token_id, tok.bos_token_id]  # left padded
    assert tok.decode(tok("#7+8=15>185", add_special_tokens=False)["input_ids"]) == "#7+8=15>185"


def test_tokenizer_and_model_round_trip(tmp_path):
    tok = build_tokenizer()
    model = build_model(ModelConfig(hidden_size=32, intermediate_size=64, num_layers=2, num_heads=2), tok, seed=1)
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    m2, t2 = load_policy(tmp_path)
    ids = tok(["12+34=#4+2"], return_tensors="pt")["input_ids"]
    assert t2(["12+34=#4+2"], return_tensors="pt")["input_ids"].tolist() == ids.tolist()
    assert t2.padding_side == "left" and t2.pad_token == "<pad>" and t2.eos_token == "<eos>"
    assert torch.equal(model(ids).logits, m2(ids).logits)
    assert model.lm_head.weight.data_ptr() != model.model.embed_tokens.weight.data_ptr()  # untied


def test_default_model_has_about_a_million_parameters():
    model = build_model(ModelConfig(), build_tokenizer())
    assert 0.5e6 < sum(p.numel() for p in model.parameters()) < 1.5e6


def test_pass_at_k_against_brute_force():
    for n, c, k in itertools.product(range(1, 8), range(0, 8), range(1, 8)):
        if c > n or k > n:
            continue
        outcomes = [1] * c + [0] * (n - c)
        subsets = list(itertools.combinations(range(n), k))
        brute = sum(any(outcomes[i] for i in s) for s in subsets) / len(subsets)
        assert math.isclose(pass_at_k(n, c, k), brute, abs_tol=1e-12)
    with pytest.raises(ConfigError, match="k must be"):
        pass_at_k(4, 1, 5)


def test_pretraining_is_deterministic_and_loss_falls(tmp_path, tiny_base_cfg):
    cfg = tiny_base_cfg.with_(steps=40)
    a = pretrain(cfg, tmp_path / "a", progress=False)
    b = pretrain(cfg, tmp_path / "b", progress=False)
    assert a["losses"] == b["losses"]
    assert np.mean(a["losses"][-5:]) < 0.8 * np.mean(a["losses"][:5])


def test_cache_key_tracks_every_dial(tiny_base_cfg):
    keys = {
        tiny_base_cfg.key,
        tiny_base_cfg.with_(steps=61).key,
        tiny_base_cfg.with_(reliable_share=0.5).key,
        tiny_base_cfg.with_(contamination=0.0).key,
        tiny_base_cfg.with_(seed=1).key,
        tiny_base_cfg.with_(contamination=0.5, contamination_digits=3).key,
        tiny_base_cfg.with_(stop_at=30).key,
    }
    assert len(keys) == 7
    # a dial added later hashes only when set: every base built before it keeps the key it had then
    import hashlib

    from rlvr_lib.numerics import kernels
    from rlvr_lib.testbed.pretrain import PRETRAIN_CODE_VERSION

    before = {k: v for k, v in tiny_base_cfg.to_dict().items() if k not in ("contamination_digits", "stop_at")}
    blob = json.dumps({"v": PRETRAIN_CODE_VERSION, "kernels": kernels(), **before}, sort_keys=True)
    assert tiny_base_cfg.key == hashlib.sha256(blob.encode()).hexdigest()[:16]
    assert PretrainConfig.from_dict(json.loads(json.dumps(tiny_base_cfg.to_dict()))).key == tiny_base_cfg.key


def test_cached_base_is_reused(tiny_base, tiny_base_cfg):
    stamp = (tiny_base / "pretrain.json").stat().st_mtime_ns
    assert ensure_base(tiny_base_cfg, progress=False) == tiny_base
    assert (tiny_base / "pretrain.json").stat().st_mtime_ns == stamp
    assert base_meta(tiny_base)["key"] == tiny_base_cfg.key


def test_interrupted_pretraining_leaves_no_base(tiny_cache, tiny_base_cfg, monkeypatch):
    import rlvr_lib.testbed.pretrain as pt

    cfg = tiny_base_cfg.with_(seed=7, steps=5)

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(pt, "pretrain_run", boom)
    with pytest.raises(KeyboardInterrupt):
        ensure_base(cfg, progress=False)
    assert not pt.base_path(cfg).exists()
    assert not list(pt.base_path(cfg).parent.glob(f".tmp-{cfg.key}-*"))


def test_bases_stopped_early_are_written_by_one_run_with_the_bits_of_each_run_alone(
    tmp_path, tiny_base_cfg, monkeypatch
):
    """The strength dial: `stop_at` stops a base early on its schedule. `ensure_bases` builds the bases of one
    schedule in one pretraining run that writes each on the way (one run, not one per base); each is bit for bit
    the base its configuration pretrains alone, with its own record (key, losses so far), and the full-schedule
    base is the one pretrained without checkpoints."""
    import torch
    from safetensors.torch import load_file

    import rlvr_lib.testbed.pretrain as pt

    full = tiny_base_cfg.with_(steps=12, seed=21)
    cfgs = [full.with_(stop_at=5), full.with_(stop_at=9), full]
    assert {c.schedule for c in cfgs} == {full} and [c.trained_steps for c in cfgs] == [5, 9, 12]
    runs = []
    real = pt.pretrain_run
    monkeypatch.setattr(
        pt, "pretrain_run", lambda cfg, outputs, *a, **k: runs.append(sorted(outputs)) or real(cfg, outputs, *a, **k)
    )
    monkeypatch.setenv("RLVR_CACHE_DIR", str(tmp_path / "together"))
    together = pt.ensure_bases(cfgs, workers=1)
    assert runs == [[5, 9, 12]]
    monkeypatch.setenv("RLVR_CACHE_DIR", str(tmp_path / "alone"))
    alone = [pt.ensure_base(c, progress=False) for c in cfgs]
    assert runs[1:] == [[5], [9], [12]]
    for c, a, b in zip(cfgs, together, alone):
        wa, wb = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
        assert len(wa) > 0 and all(torch.equal(wa[k], wb[k]) for k in wa)
        meta = base_meta(a)
        assert meta["key"] == c.key == a.name and len(meta["losses"]) == c.trained_steps
        assert meta["losses"] == base_meta(b)["losses"]
    w5, w12 = load_file(str(together[0] / "model.safetensors")), load_file(str(together[2] / "model.safetensors"))
    assert any(not torch.equal(w5[k], w12[k]) for k in w5)  # the checkpoints are not one base written twice
    with pytest.raises(ValueError, match="full schedule"):
        pt.pretrain_run(full.with_(stop_at=5), {5: tmp_path / "x"})


def test_bad_pretrain_dials():
    with pytest.raises(ConfigError, match="steps must be an int"):
        PretrainConfig(steps=0)
    with pytest.raises(ConfigError, match="stop_at must be an int"):
        PretrainConfig(steps=10, stop_at=10)
    with pytest.raises(ConfigError, match="unknown pretraining parameter"):
        PretrainConfig.from_dict({"stepz": 3})
    with pytest.raises(ConfigError, match="hidden_size"):
        ModelConfig(hidden_size=30, num_heads=4)


def test_evaluation_metrics_are_consistent(tiny_base, tiny_base_cfg):
    model, tok = load_policy(tiny_base)
    items = eval_items(tiny_base_cfg.task, tiny_base_cfg.contamination)
    r = evaluate(model, tok, items, fmt="worked", n_samples=6, ks=(1, 2, 6))
    for k in (
        "greedy_acc",
        "exact_acc",
        "sampled_acc",
        "pass@1",
        "pass@2",
        "pass@6",
        "entropy",
        "share_reliable",
        "share_shortcut",
        "share_other",
        "clean/greedy_acc",
        "contaminated/sampled_acc",
    ):
        assert k in r and np.isfinite(r[k]), k
    assert r["pass@1"] == pytest.approx(r["sampled_acc"])
    assert r["pass@1"] <= r["pass@2"] <= r["pass@6"]
    assert r["share_reliable"] + r["share_shortcut"] + r["share_other"] == pytest.approx(1.0)
    assert r["clean/n_items"] + r["contaminated/n_items"] == len(items)
    assert evaluate(model, tok, items, fmt="worked", n_samples=6, ks=(1,)) == evaluate(
        model, tok, items, fmt="worked", n_samples=6, ks=(1,)
    )


def test_exact_accuracy_matches_sampling_frequency(tiny_base):
    """Teacher-forced sequence probability against the frequency of that exact completion in samples."""
    model, tok = load_policy(tiny_base)
    prompt = "12+34="
    texts, _, _ = generate(model, tok, [prompt], max_new_tokens=40, temperature=1.0, num_return_sequences=3000, seed=0)
    target = max(set(texts), key=texts.count)
    freq = texts.count(target) / len(texts)
    p = float(np.exp(sequence_logprobs(model, tok, [prompt], [target])[0]))
    assert abs(freq - p) < 4 * math.sqrt(p * (1 - p) / len(texts)) + 1e-3


def test_generation_entropy_matches_a_forward_pass(tiny_base):
    model, tok = load_policy(tiny_base)
    _, ents, toks = generate(model, tok, ["12+34="], max_new_tokens=40, temperature=1.0, seed=3)
    ids = torch.cat([tok(["12+34="], return_tensors="pt")["input_ids"], torch.tensor(toks[0])[None]], 1)
    with torch.no_grad():
        logp = torch.log_softmax(model(ids).logits[0], -1)
    h = -(logp.exp() * logp).sum(-1)[6:-1]  # positions that predict completion tokens
    assert np.allclose(ents[0], h.numpy(), atol=1e-4)
