"""Shared fixtures: a tiny base pretrained once per session into a temporary cache."""

import os

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


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
