"""Argument checks that raise one clear error naming the parameter and what is allowed.

Every public entry point of `rlvr_lib` validates its dials with these helpers, so a bad value fails at
once with a message such as ``n_operands must be an int in [2, 6], got 9``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any


class ConfigError(ValueError):
    """A parameter has an unknown name, a wrong type or a value outside its allowed range."""


def check_choice(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    allowed = tuple(allowed)
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {list(allowed)}, got {value!r}")
    return value


def check_int(name: str, value: Any, lo: int | None = None, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be an int{_range(lo, hi)}, got {value!r} ({type(value).__name__})")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ConfigError(f"{name} must be an int{_range(lo, hi)}, got {value}")
    return value


def check_float(
    name: str, value: Any, lo: float | None = None, hi: float | None = None, *, lo_open: bool = False
) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number{_range(lo, hi, lo_open)}, got {value!r}")
    value = float(value)
    bad = not math.isfinite(value)
    bad |= lo is not None and (value <= lo if lo_open else value < lo)
    bad |= hi is not None and value > hi
    if bad:
        raise ConfigError(f"{name} must be a finite number{_range(lo, hi, lo_open)}, got {value}")
    return value


def check_prob(name: str, value: Any) -> float:
    """A proportion or probability: a number in [0, 1]."""
    return check_float(name, value, 0.0, 1.0)


def _range(lo, hi, lo_open: bool = False) -> str:
    if lo is None and hi is None:
        return ""
    if hi is None:
        return f" {'>' if lo_open else '>='} {lo}"
    if lo is None:
        return f" <= {hi}"
    return f" in {'(' if lo_open else '['}{lo}, {hi}]"


def check_parameters(namespace: dict) -> None:
    """Check a notebook's parameters against the types annotated in its parameters cell.

    A notebook declares ``seeds: list = [0, 1, 2]``; papermill injects plain assignments after that cell, and
    the annotations stay in the kernel's ``__annotations__``. A value of another type (a string where a list
    belongs, a float where an int belongs) raises one error naming the parameter, before any work starts.
    Whole numbers are accepted where a float is declared."""
    for name, kind in namespace.get("__annotations__", {}).items():
        if name not in namespace or not isinstance(kind, type):
            continue
        value = namespace[name]
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        ok |= kind is float and isinstance(value, int) and not isinstance(value, bool)
        if not ok:
            raise ConfigError(
                f"notebook parameter {name!r} must be {kind.__name__}, got {type(value).__name__}: {value!r}"
            )
