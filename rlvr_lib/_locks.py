"""One inter-process lock: an OS file lock that the kernel releases when its holder dies."""

from __future__ import annotations

import contextlib
from pathlib import Path


@contextlib.contextmanager
def file_lock(path: Path | str):
    """Hold an exclusive lock on `path` (created if missing) while the block runs. A second process asking
    for the same lock waits; a process killed while holding it (kill -9 included) releases it."""
    import fcntl

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
