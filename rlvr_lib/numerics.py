"""What decides the floating-point results on a CPU, pinned where that is cheap and recorded where it is not.

The same code, seeds and thread count can train different tiny models on two machines: PyTorch's ATen picks
its vectorised kernels by the CPU's instruction set at run time (AVX512 on one machine, AVX2 on another), and
Intel MKL and oneDNN do the same for matrix products. The kernels sum in different orders, the models drift
apart by rounding, and training amplifies the drift (a base pretrained with AVX2 kernels on this project's
machines scores 0.935 greedy accuracy where the same base with AVX512 kernels scores 0.950).

:func:`pin` therefore asks all three libraries for their AVX2 code paths on x86-64 machines that have AVX2
(measured cost on this project's 2-core machines: none within timing noise). It runs when ``rlvr_lib`` is
imported, before torch has chosen its kernels; a value already set in the environment wins, and
``RLVR_NUMERICS=native`` turns pinning off. The thread count does not change the results here (pretraining
at 1 and 2 threads gives bitwise-identical weights), so workers may use any number of threads.

What the pins cannot cover (library versions, a CPU without AVX2, another architecture) is recorded:
:func:`fingerprint` describes the machine and :func:`canary` computes a short training step whose hash equals
the book's exactly when this machine computes the way the book's machine did. ``python -m rlvr_lib.main --machine``
prints both.
"""

from __future__ import annotations

import hashlib
import os
import platform
import sys
from contextlib import contextmanager

PINS = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
OPT_OUT = "RLVR_NUMERICS"


def cpu_info() -> dict:
    """CPU model, vendor and the instruction-set flags that kernels dispatch on (Linux; empty elsewhere)."""
    info = {"model": platform.processor() or "", "vendor": "", "flags": []}
    try:
        text = open("/proc/cpuinfo").read()
    except OSError:
        return info
    fields = {}
    for line in text.splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            fields.setdefault(k.strip(), v.strip())
    wanted = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16")
    wanted += ("amx_tile", "asimd", "sve")
    have = set(fields.get("flags", "").split())
    info.update(
        model=fields.get("model name", info["model"]),
        vendor=fields.get("vendor_id", ""),
        flags=[f for f in wanted if f in have],
    )
    return info


def pin() -> dict:
    """Set the kernel pins in this process's environment (children inherit them) unless opted out; return
    the pins in effect. Warns when torch had already chosen other kernels."""
    if os.environ.get(OPT_OUT, "").lower() == "native":
        return {}
    if platform.machine().lower() not in ("x86_64", "amd64") or "avx2" not in cpu_info()["flags"]:
        return {}
    for k, v in PINS.items():
        os.environ.setdefault(k, v)
    if "torch" in sys.modules:  # torch chooses its kernels once, at the first operation that dispatches
        import warnings

        import torch

        cap = torch.backends.cpu.get_cpu_capability()
        if cap.lower() != os.environ["ATEN_CPU_CAPABILITY"].lower():
            warnings.warn(
                f"torch already runs {cap} kernels (it ran an operation before rlvr_lib was imported), so results "
                f"will not match the book's exactly; import rlvr_lib first or set ATEN_CPU_CAPABILITY="
                f"{os.environ['ATEN_CPU_CAPABILITY']} in the environment",
                stacklevel=2,
            )
    return {k: os.environ[k] for k in PINS}


def kernels() -> str:
    """The kernel choice in one short string (ATen capability, MKL branch), part of every cached base's key."""
    import torch

    return f"{torch.backends.cpu.get_cpu_capability()}/mkl={os.environ.get('MKL_CBWR', 'auto')}"


def fingerprint() -> dict:
    """What determines this process's floating-point results: CPU, kernel capability in use, pins, threads and
    library versions. Recorded with every run, every base and the book's executed notebooks."""
    import torch

    return {
        "machine": platform.machine(),
        "cpu": cpu_info(),
        "aten_capability": torch.backends.cpu.get_cpu_capability(),
        "pins": {k: os.environ.get(k) for k in PINS},
        "opt_out": os.environ.get(OPT_OUT),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


@contextmanager
def torch_threads(n: int | None):
    """Torch on `n` threads for the duration, the caller's setting restored after (None: left as it is). The
    thread count is part of what decides the bits: a GRPO run, and on some CPUs pretraining, differ between one
    thread and two."""
    import torch

    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def canary() -> str:
    """Hash of a tiny model's weights after a few AdamW steps on fixed data (about a second), on one torch thread
    as the bases and runs compute (the caller's setting is restored; on some CPUs two threads give other bits):
    equal on two machines exactly when their kernels compute this model's training bitwise alike, which is
    what the book's numbers need to reproduce exactly."""
    with torch_threads(1):
        return _canary()


def _canary() -> str:
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    # the shape of the testbed's default tiny base (testbed.models.ModelConfig), built here from transformers
    # directly so that this module stays below the testbed
    config = Qwen2Config(
        vocab_size=32,
        hidden_size=128,
        intermediate_size=384,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=64,
    )
    g = torch.Generator().manual_seed(0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(config)
    x = torch.randint(0, 32, (8, 48), generator=g)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for _ in range(5):
        out = model(input_ids=x, labels=x)
        out.loss.backward()
        opt.step()
        opt.zero_grad()
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode() + v.detach().numpy().tobytes())
    return h.hexdigest()[:16]


def describe() -> str:
    fp = fingerprint()
    aten = fp["pins"]["ATEN_CPU_CAPABILITY"]
    return (
        f"{fp['cpu']['model'] or fp['machine']}; torch {fp['torch']} with {fp['aten_capability']} kernels "
        f"({'ATEN_CPU_CAPABILITY=' + aten if aten else 'native'}); "
        f"{fp['torch_threads']} threads; "
        f"canary {canary()}"
    )
