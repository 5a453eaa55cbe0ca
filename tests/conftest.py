"""Shared fixtures (a tiny base pretrained once per session into a temporary cache) and, where ``CI`` is set, the
rule that a check which needs a tool or an instruction set the machine lacks fails instead of skipping."""

import os

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# Skips that would hide the only check of something: the rendered book in a headless browser (Chromium) and the
# kernel pins (AVX2). Locally they skip with their reason; in CI (CI set, as .ci/run sets it) they fail with it.
REQUIRED_IN_CI = {
    "chromium": "install Debian's chromium (scripts/test_deps.sh does it when run as root)",
    "avx2": "run CI on an x86-64 machine with AVX2, where the kernel pins apply",
}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    if not (in_ci() and report.skipped and call.excinfo is not None):
        return
    if not call.excinfo.errisinstance(pytest.skip.Exception):  # an expected failure (xfail) is not a skip
        return
    reason = str(call.excinfo.value)
    for word, remedy in REQUIRED_IN_CI.items():
        if word in reason.lower():
            report.outcome = "failed"
            report.longrepr = f"CI is set, and this check may not be skipped there: {reason}. Remedy: {remedy}."
            return


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory):
    path = tmp_path_factory.mktemp("cache")
    old = os.environ.get("RLVR_CACHE_DIR")
    os.environ["RLVR_CACHE_DIR"] = str(path)
    yield path
    if old is None:
        os.environ.pop("RLVR_CACHE_DIR", None)
    else:
        os.environ["RLVR_CACHE_DIR"] = old


@pytest.fixture(scope="session")
def tiny_base_cfg():
    from rlvr_lib.testbed.models import ModelConfig
    from rlvr_lib.testbed.pretrain import PretrainConfig
    from rlvr_lib.testbed.tasks import TaskConfig

    return PretrainConfig(
        task=TaskConfig(digits=2, n_train=64, n_eval=16),
        model=ModelConfig(hidden_size=32, intermediate_size=64, num_layers=2, num_heads=2),
        n_corpus=2000,
        steps=60,
        batch_size=32,
        lr=3e-3,
        warmup=5,
        contamination=0.25,
    )


@pytest.fixture(scope="session")
def tiny_base(tiny_cache, tiny_base_cfg):
    from rlvr_lib.testbed.pretrain import ensure_base

    return ensure_base(tiny_base_cfg, progress=False)
