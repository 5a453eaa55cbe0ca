"""Tiny causal language models and their character-level tokenizer; one loader for local paths and hub names.

The tokenizer maps each character of the task alphabet to one token (built with `tokenizers`, wrapped as a
`PreTrainedTokenizerFast`): left padding, ``<pad>``, ``<bos>`` (prepended to every encoded text, as TRL
encodes prompts with special tokens on) and ``<eos>`` (ends every completion). The model is a Qwen2 (or
Llama) causal LM built from a config, about 1M parameters by default, with untied input and output
embeddings. Nothing here downloads anything; :func:`load_policy` is the one door through which both the
tiny local bases and real hub models come in.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from rlvr_lib._checks import check_choice, check_int

SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>", "<unk>")
ALPHABET = "0123456789+-*=,>#~ "


def build_tokenizer(alphabet: str = ALPHABET):
    """A character-level `PreTrainedTokenizerFast` over `alphabet` (ids: specials first, then characters)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(SPECIAL_TOKENS)}
    for ch in alphabet:
        vocab.setdefault(ch, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok.decoder = decoders.Fuse()
    bos = vocab["<bos>"]
    tok.post_processor = processors.TemplateProcessing(
        single="<bos> $A", pair="<bos> $A $B", special_tokens=[("<bos>", bos)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        bos_token="<bos>",
        eos_token="<eos>",
        unk_token="<unk>",
        padding_side="left",
        model_max_length=512,
    )


@dataclass(frozen=True)
class ModelConfig:
    """Shape of a tiny base model. The default has about 0.9M parameters."""

    family: str = "qwen2"  # "qwen2" or "llama"
    hidden_size: int = 128
    intermediate_size: int = 384
    num_layers: int = 4
    num_heads: int = 4
    max_positions: int = 128  # longest prompt + completion, in characters, plus two special tokens

    def __post_init__(self):
        check_choice("family", self.family, ("qwen2", "llama"))
        check_int("hidden_size", self.hidden_size, 8)
        check_int("intermediate_size", self.intermediate_size, 8)
        check_int("num_layers", self.num_layers, 1)
        check_int("num_heads", self.num_heads, 1)
        check_int("max_positions", self.max_positions, 16)
        if self.hidden_size % self.num_heads:
            from rlvr_lib._checks import ConfigError

            raise ConfigError(f"hidden_size ({self.hidden_size}) must be divisible by num_heads ({self.num_heads})")

    def to_dict(self) -> dict:
        return asdict(self)


def build_model(cfg: ModelConfig, tokenizer, seed: int = 0):
    """A freshly initialised causal LM (float32) for `tokenizer`, deterministic for `seed`."""
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config

    cls = Qwen2Config if cfg.family == "qwen2" else LlamaConfig
    config = cls(
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_heads,
        max_position_embeddings=cfg.max_positions,
        tie_word_embeddings=False,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    return model


def n_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


def load_policy(name_or_path: str | Path, dtype: str = "float32", device: str | None = None, progress: bool = True):
    """(model, tokenizer) from a local directory or a hub name - the same call for tiny bases and real models.

    Left padding is enforced (generation for a batch of prompts needs it). Remote code is never trusted.
    `progress=False` silences transformers' weight-loading bar for this call (sweeps load a base per run).
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    check_choice("dtype", dtype, ("float32", "bfloat16", "float16"))
    tok = AutoTokenizer.from_pretrained(str(name_or_path))
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    bars_were_on = hf_logging.is_progress_bar_enabled()
    if not progress:
        hf_logging.disable_progress_bar()
    try:
        model = AutoModelForCausalLM.from_pretrained(str(name_or_path), dtype=getattr(torch, dtype))
    finally:
        if bars_were_on:
            hf_logging.enable_progress_bar()
    if device is not None:
        model.to(device)
    return model, tok


def left_padded_logits(model, rows, pad_id: int, grad: bool = False):
    """The one scoring forward pass: logits of `model` on token-id `rows` left-padded to a common width W, with
    position ids that start at 0 on each row's first real token (as generation sees them).

    Logits come back in float32, or float64 for a float64 model (the mechanism probes use one). No gradient
    unless `grad`. Returns (logits (B, W, V) on the model's device, ids (B, W) on the CPU); the logits at
    column j predict the token at column j + 1."""
    import contextlib

    import torch

    width = max(map(len, rows))
    ids = torch.tensor([[pad_id] * (width - len(r)) + list(r) for r in rows])  # (B, W)
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])  # (B, W)
    pos = (mask.cumsum(1) - 1).clamp(min=0)
    device = next(model.parameters()).device
    with contextlib.nullcontext() if grad else torch.no_grad():
        logits = model(input_ids=ids.to(device), attention_mask=mask.to(device), position_ids=pos.to(device)).logits
    return (logits if logits.dtype == torch.float64 else logits.float()), ids
