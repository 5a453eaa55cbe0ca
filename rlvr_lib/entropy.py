"""Entropy of a softmax, defined once: the held-out evaluation, the entropy reward and the theory lab all call it.

``softmax_entropy(z) = -sum_a softmax(z)_a log softmax(z)_a`` (nats) along the last dim. For a language model the
argument is the next-token logits at each position, so the result is the per-token entropy at temperature 1 of
the raw logits (divide the logits by T first for temperature T). Means over tokens are left to the callers,
who say which tokens they average over.
"""

from __future__ import annotations

import torch


def softmax_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Entropy (nats) of softmax(`logits`) along the last dim: (..., V) -> (...)."""
    logp = torch.log_softmax(logits, -1)
    return -(logp.exp() * logp).sum(-1)
