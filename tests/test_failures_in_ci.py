"""In CI a missing Chromium or instruction set fails the suite with its reason; elsewhere it skips."""

import os
import subprocess
import sys
from pathlib import Path

SKIPS = """
import pytest


def test_browser():
    pytest.skip("chromium is not installed (scripts/test_deps.sh installs it as root)")


def test_pins():
    pytest.skip("the pins apply to x86-64 machines with AVX2")


def test_optional():
    pytest.skip("an optional check")
"""


def run_suite(tmp_path, ci: str | None) -> str:
    (tmp_path / "conftest.py").write_text((Path(__file__).parent / "conftest.py").read_text())
    (tmp_path / "test_skips.py").write_text(SKIPS)
    env = {k: v for k, v in os.environ.items() if k != "CI"} | ({"CI": ci} if ci is not None else {})
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rfs", "-p", "no:cacheprovider", "test_skips.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return r.stdout + r.stderr


def test_missing_chromium_or_avx2_fail_in_ci_and_skip_elsewhere(tmp_path):
    out = run_suite(tmp_path, "1")
    assert "2 failed, 1 skipped" in out, out
    assert "CI is set, and this check may not be skipped there: chromium is not installed" in out
    assert "Remedy: install Debian's chromium" in out and "Remedy: run CI on an x86-64 machine with AVX2" in out
    for unset in (None, "false"):
        assert "3 skipped" in run_suite(tmp_path, unset)
