"""Held-out evaluation of a policy on the task world.

Metrics (names as logged; the book's glossary repeats them):

* ``greedy_acc``     share of evaluation prompts whose greedy completion is correct;
* ``exact_acc``      expected accuracy at temperature T computed by teacher forcing: the summed probability
                     of the canonical correct completions (reliable style, plus the shortcut style where it
                     happens to be right). It counts only canonical paths, so it is a lower bound on the
                     true expected accuracy; on trained bases the gap to ``sampled_acc`` is small;
* ``sampled_acc``    share of correct completions among n samples per prompt at temperature T;
* ``pass@k``         unbiased pass@k from n samples (Chen et al. 2021): 1 - C(n-c, k) / C(n, k);
* ``entropy``        mean per-token entropy (nats, at temperature 1 of the raw logits) along the sampled
                     completions, averaged over all completion tokens (eos included);
* ``share_reliable`` / ``share_shortcut`` / ``share_other``  style shares among the samples;
  ``greedy_share_reliable`` the same for greedy completions;
* ``acc_in_reliable`` / ``acc_in_shortcut``  accuracy among the samples written in that style (pooled over
  items; NaN when no sample used the style), so that sampled accuracy decomposes as
  share_reliable x acc_in_reliable + share_shortcut x acc_in_shortcut (+ the rare other-format samples);
* every metric again under ``clean/`` and ``contaminated/`` when the set has contaminated items.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from rlvr_lib._checks import check_float, check_int
from rlvr_lib.entropy import softmax_entropy
from rlvr_lib.testbed.models import left_padded_logits
from rlvr_lib.testbed.tasks import completion_style, correct_completions, is_correct


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimate of pass@k from n samples of which c are correct (Chen et al. 2021, eq. 1)."""
    check_int("n", n, 1)
    check_int("c", c, 0, n)
    check_int("k", k, 1, n)
    if n - c < k:
        return 1.0
    return 1.0 - math.prod((n - c - i) / (n - i) for i in range(k))


def generate(
    model,
    tokenizer,
    prompts: Sequence[str],
    *,
    max_new_tokens: int,
    temperature: float | None,
    num_return_sequences: int = 1,
    seed: int = 0,
    batch_size: int = 256,
    with_entropy: bool = True,
):
    """Completions for `prompts` (greedy when `temperature` is None) and the per-token entropies.

    Returns (texts, entropies, token_ids): texts is a list of len(prompts) * num_return_sequences strings
    (samples of one prompt adjacent); entropies and token_ids are lists of 1-D arrays, one per completion,
    over its tokens up to and including eos. With `with_entropy=False` the logits are not kept (a real model's
    vocabulary times the completion length is large) and the entropies are empty arrays.
    """
    import torch

    texts, ents, toks = [], [], []
    eos = tokenizer.eos_token_id
    kw = (
        dict(do_sample=False)
        if temperature is None
        else dict(do_sample=True, temperature=temperature, top_k=0, top_p=1.0)
    )
    dev = next(model.parameters()).device
    # seeded on a forked generator state: evaluating never moves the training's random stream
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []), torch.no_grad():
        torch.manual_seed(seed)
        for start in range(0, len(prompts), batch_size):
            enc = tokenizer(list(prompts[start : start + batch_size]), return_tensors="pt", padding=True).to(dev)
            out = model.generate(
                **enc,
                max_new_tokens=max_new_tokens,
                num_return_sequences=num_return_sequences,
                return_dict_in_generate=True,
                output_logits=with_entropy,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=eos,
                **kw,
            )
            new = out.sequences[:, enc["input_ids"].shape[1] :].cpu()  # (B*n, T)
            if with_entropy:
                h = softmax_entropy(torch.stack(out.logits, dim=1).float()).cpu()  # (B*n, T)
            is_eos = (new == eos).int()
            before_eos = (is_eos.cumsum(1) - is_eos) == 0  # tokens up to and including the first eos
            for row in range(new.shape[0]):
                keep = before_eos[row]
                texts.append(tokenizer.decode(new[row][keep], skip_special_tokens=True))
                ents.append(h[row][keep].numpy() if with_entropy else np.zeros(0))
                toks.append(new[row][keep].numpy())
    return texts, ents, toks


def sequence_logprobs(
    model,
    tokenizer,
    prompts: Sequence[str],
    completions: Sequence[str],
    temperature: float = 1.0,
    batch_size: int = 512,
) -> np.ndarray:
    """log pi_T(completion + eos | prompt) for each pair, by teacher forcing, at temperature T."""
    import torch

    out = []
    eos = tokenizer.eos_token_id
    for s in range(0, len(prompts), batch_size):
        P = [tokenizer(p)["input_ids"] for p in prompts[s : s + batch_size]]
        C = [tokenizer(c, add_special_tokens=False)["input_ids"] + [eos] for c in completions[s : s + batch_size]]
        logits, ids = left_padded_logits(model, [p + c for p, c in zip(P, C)], tokenizer.pad_token_id)
        width = ids.shape[1]
        logits = logits / temperature
        logp = (
            torch.log_softmax(logits[:, :-1], -1).gather(-1, ids[:, 1:, None].to(logits.device))[..., 0].cpu()
        )  # (B, W-1)
        for row, c in enumerate(C):
            out.append(float(logp[row, width - 1 - len(c) :].sum()))
    return np.array(out)


def exact_accuracy(model, tokenizer, items: Sequence[dict], *, fmt: str, temperature: float = 1.0) -> np.ndarray:
    """Per item: the probability at temperature T of the canonical correct completions (``exact_acc``)."""
    pairs = [(i, c) for i, it in enumerate(items) for c in correct_completions(it["problem"], fmt)]
    prompts = [items[i]["prompt"] for i, _ in pairs]
    lp = sequence_logprobs(model, tokenizer, prompts, [c for _, c in pairs], temperature)
    exact = np.zeros(len(items))
    np.add.at(exact, [i for i, _ in pairs], np.exp(lp))
    return exact


def evaluate(
    model,
    tokenizer,
    items: Sequence[dict],
    *,
    fmt: str,
    n_samples: int = 8,
    temperature: float = 1.0,
    ks: Sequence[int] = (1, 4, 8),
    max_new_tokens: int = 64,
    seed: int = 0,
    greedy: bool = True,
) -> dict[str, float]:
    """All held-out metrics for `items` (from `tasks.eval_items`). Deterministic for `seed`.

    `greedy=False` skips the greedy completions (no ``greedy_acc`` / ``greedy_share_reliable``): with few
    samples, the light evaluation a run makes between its first and last one."""
    check_int("n_samples", n_samples, 1)
    check_float("temperature", temperature, 0.0, 10.0, lo_open=True)
    ks = [k for k in ks if k <= n_samples]
    was_training = model.training
    model.eval()
    prompts = [it["prompt"] for it in items]
    with_greedy = greedy
    if with_greedy:
        greedy, _, _ = generate(model, tokenizer, prompts, max_new_tokens=max_new_tokens, temperature=None, seed=seed)
    samples, ents, _ = generate(
        model,
        tokenizer,
        prompts,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        num_return_sequences=n_samples,
        seed=seed,
    )
    exact = exact_accuracy(model, tokenizer, items, fmt=fmt, temperature=temperature)
    if was_training:
        model.train()

    per_item = []
    for i, it in enumerate(items):
        outs = samples[i * n_samples : (i + 1) * n_samples]
        correct = [is_correct(o, it["answer"]) for o in outs]
        styles = [completion_style(o) for o in outs]
        tok_ent = np.concatenate(ents[i * n_samples : (i + 1) * n_samples])
        per_item.append(
            {
                "contaminated": it["contaminated"],
                **({"greedy_acc": float(is_correct(greedy[i], it["answer"]))} if with_greedy else {}),
                "exact_acc": float(exact[i]),
                "sampled_acc": float(np.mean(correct)),
                **{f"pass@{k}": pass_at_k(n_samples, int(sum(correct)), k) for k in ks},
                "ent_sum": float(tok_ent.sum()),
                "ent_n": len(tok_ent),
                "share_reliable": styles.count("reliable") / n_samples,
                "share_shortcut": styles.count("shortcut") / n_samples,
                "share_other": styles.count("other") / n_samples,
                **({"greedy_share_reliable": float(completion_style(greedy[i]) == "reliable")} if with_greedy else {}),
                **{
                    f"{k}_{style}": sum(ok for ok, st in zip(correct, styles) if st == style) if k == "c" else n
                    for style in ("reliable", "shortcut")
                    for k, n in (("c", 0), ("n", styles.count(style)))
                },
            }
        )
    out = _aggregate(per_item)
    flags = {r["contaminated"] for r in per_item}
    if flags == {True, False}:
        for name, flag in (("clean", False), ("contaminated", True)):
            out.update(
                {f"{name}/{k}": v for k, v in _aggregate([r for r in per_item if r["contaminated"] == flag]).items()}
            )
    return out


def _aggregate(rows: list[dict]) -> dict[str, float]:
    counts = ("c_reliable", "n_reliable", "c_shortcut", "n_shortcut")
    keys = [k for k in rows[0] if k not in ("contaminated", "ent_sum", "ent_n", *counts)]
    out = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    for style in ("reliable", "shortcut"):
        n = sum(r[f"n_{style}"] for r in rows)
        out[f"acc_in_{style}"] = sum(r[f"c_{style}"] for r in rows) / n if n else float("nan")
    out["entropy"] = sum(r["ent_sum"] for r in rows) / max(1, sum(r["ent_n"] for r in rows))
    out["n_items"] = float(len(rows))
    return out


def evaluate_answers(
    model,
    tokenizer,
    prompts: Sequence,
    answers: Sequence[str],
    score,
    *,
    k: int = 8,
    temperature: float = 0.6,
    max_new_tokens: int = 512,
    seed: int = 0,
    batch_size: int = 32,
) -> dict[str, float]:
    """Real-math evaluation: greedy accuracy, avg@k (mean accuracy of k samples at `temperature`) and unbiased
    pass@k, with `score(completion, answer) -> 0/1` (math-verify for real data). Prompts may be strings or
    conversations (the tokenizer's chat template is applied)."""
    check_int("k", k, 1)
    texts = [
        tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) if isinstance(p, list) else p
        for p in prompts
    ]
    greedy, _, _ = generate(
        model,
        tokenizer,
        texts,
        max_new_tokens=max_new_tokens,
        temperature=None,
        seed=seed,
        batch_size=batch_size,
        with_entropy=False,
    )
    samples, _, _ = generate(
        model,
        tokenizer,
        texts,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        num_return_sequences=k,
        seed=seed,
        batch_size=batch_size,
        with_entropy=False,
    )
    g = np.array([score(c, a) for c, a in zip(greedy, answers)], dtype=float)
    s = np.array([score(samples[i * k + j], a) for i, a in enumerate(answers) for j in range(k)]).reshape(-1, k)
    return {
        "greedy_acc": float(g.mean()),
        f"avg@{k}": float(s.mean()),
        f"pass@{k}": float(np.mean([pass_at_k(k, int(c), k) for c in s.sum(1)])),
        "n_items": float(len(answers)),
    }
