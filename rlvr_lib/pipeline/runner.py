"""Executes the notebooks with papermill, caching by (notebook text, parameters) and showing progress.

A notebook ``notebooks/<name>.py`` (jupytext py:percent) is executed with its parameters into
``book/executed/<name>.ipynb``. The output carries the cache key (a hash of the notebook's text, the
parameters and the library's source) in its metadata; when the key matches, the notebook is not executed
again. Execution happens with the repository root as working directory, so the notebooks' relative paths (``results/``,
``runs/``) are the repository's. A notebook that fails leaves its output (with papermill's error banner)
under ``.failed.ipynb`` and raises.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from rlvr_lib._locks import file_lock

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
EXECUTED = ROOT / "book" / "executed"

THEORY = [
    "theory_c1_advantages",
    "theory_c2_c5_entropy",
    "theory_c3_clipping_bias",
    "theory_c6_c7_clip_dynamics",
    "theory_c8_c11_bandit",
    "theory_c10_misalignment",
    "theory_regime_map",
]
PROBES = ["lm_probes"]
# In the order ready notebooks start when the main job runs them side by side: the tuning first (every other one
# trains at its rate), then the longest first once its inputs exist (walls of the fresh-clone main job of 9d9a4a6, the
# first at --jobs 2: series 881 s, E2 555, E1 552, E7 393, pilot 381 - which five of them wait for -, E5 285, E4
# 238, E6 203, E3 115), so that no long notebook is left to run alone at the end.
TINY_LM = [
    "lm_hyperparameters",
    "lm_regime_series",
    "lm_pilot",
    "lm_e2_entropy_min",
    "lm_e1_clipping",
    "lm_e7_reward_variants",
    "lm_e5_strength",
    "lm_e4_contamination",
    "lm_e6_eps_group",
    "lm_e3_strategy",
]


def library_hash() -> str:
    """Hash of the library's source: a notebook is re-executed when the code it calls changes. (Training runs
    are cached by configuration only, so re-executing a tiny-LM notebook after a plotting change is cheap.)"""
    h = hashlib.sha256()
    pkg = ROOT / "rlvr_lib"
    for p in sorted(pkg.rglob("*.py")):  # every subpackage, not only the top level
        h.update(str(p.relative_to(pkg)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:16]


def cache_key(name: str, parameters: dict) -> str:
    text = (NOTEBOOKS / f"{name}.py").read_text()
    blob = json.dumps({"source": text, "parameters": parameters, "library": library_hash()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _results_marker(name: str, parameters: dict) -> Path:
    """Written into the notebook's results directory after a successful execution. The executed notebook is
    committed but `results/` is not, so a fresh clone holds executed notebooks without the tables and verdicts
    they wrote: without this marker it would skip them and build a book from missing results."""
    return ROOT / parameters.get("results_dir", "results") / ".executed" / f"{name}.key"


def is_cached(name: str, parameters: dict, out_dir: Path = EXECUTED) -> bool:
    out = Path(out_dir) / f"{name}.ipynb"
    marker = _results_marker(name, parameters)
    if not out.exists() or not marker.is_file():
        return False
    try:
        meta = json.loads(out.read_text())["metadata"].get("rlvr", {})
    except (OSError, ValueError, KeyError):
        return False
    key = cache_key(name, parameters)
    return meta.get("cache_key") == key and marker.read_text() == key


def run_notebook(
    name: str, parameters: dict | None = None, out_dir: Path = EXECUTED, force: bool = False, timeout: int = 1800
) -> dict:
    """Execute notebook `name` with `parameters` (cached). Returns {"name", "cached", "wall_s", "path"}."""
    parameters = dict(parameters or {})
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{name}.ipynb"
    src = NOTEBOOKS / f"{name}.py"
    if not src.exists():
        raise FileNotFoundError(f"no notebook {src}; known: {sorted(p.stem for p in NOTEBOOKS.glob('*.py'))}")
    if not force and is_cached(name, parameters, out_dir):
        return {"name": name, "cached": True, "wall_s": 0.0, "path": out}
    # two main jobs in one checkout: the second waits here, then finds the first's output cached
    with file_lock(out_dir / f".{name}.lock"):
        if not force and is_cached(name, parameters, out_dir):
            return {"name": name, "cached": True, "wall_s": 0.0, "path": out}
        return _execute(name, src, out, parameters, out_dir, timeout)


def _execute(name: str, src: Path, out: Path, parameters: dict, out_dir: Path, timeout: int) -> dict:
    import jupytext
    import nbformat
    import papermill as pm

    from rlvr_lib.numerics import fingerprint

    nb = jupytext.read(src)
    fill_repository(nb)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    tmp = out_dir / f".{name}.running.ipynb"
    t0 = time.perf_counter()
    started = time.time()
    env_threads = os.environ.get("OMP_NUM_THREADS")
    try:
        pm.execute_notebook(
            nb,
            str(tmp),
            parameters=parameters,
            kernel_name="python3",
            cwd=str(ROOT),
            progress_bar=False,
            execution_timeout=timeout,
            log_output=False,
        )
    except Exception:
        if tmp.exists():
            os.replace(tmp, out_dir / f"{name}.failed.ipynb")
        raise
    wall = time.perf_counter() - t0
    done = nbformat.read(tmp, as_version=4)
    pmeta = done.metadata.get("papermill", {})
    pmeta.update(input_path=f"notebooks/{name}.py", output_path=f"{out_dir.name}/{name}.ipynb")  # no local paths
    key = cache_key(name, parameters)
    tables = written_tables(ROOT / parameters.get("results_dir", "results"), started)
    done.metadata["rlvr"] = {
        "cache_key": key,
        "parameters": parameters,
        "wall_s": wall,
        "omp_threads": env_threads,
        "executor": os.environ.get("RLVR_EXECUTOR") or "sequential",
        "machine": fingerprint(),
        "tables": tables,
    }
    done.cells.append(nbformat.v4.new_markdown_cell(reproduce_text(name, parameters, wall, tables)))
    nbformat.write(done, tmp)
    os.replace(tmp, out)
    (out_dir / f"{name}.failed.ipynb").unlink(missing_ok=True)
    marker = _results_marker(name, parameters)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(key)
    return {"name": name, "cached": False, "wall_s": wall, "path": out}


def repository_url(config: Path = ROOT / "_config.yml") -> str:
    """The project's repository, from the one place that names it: ``repository.url`` in ``_config.yml`` (the
    book's launch and repository buttons read the same key)."""
    import yaml

    return yaml.safe_load(config.read_text())["repository"]["url"]


def fill_repository(nb, url: str | None = None) -> None:
    """Write the repository URL into the notebook's Colab install cell (tagged ``colab``), whose source copy
    leaves ``REPOSITORY`` empty."""
    url = url or repository_url()
    for cell in nb.cells:
        if "colab" in cell.metadata.get("tags", []):
            if 'REPOSITORY = ""' not in cell.source:
                raise ValueError('the colab cell must assign REPOSITORY = "" for the runner to fill in')
            cell.source = cell.source.replace('REPOSITORY = ""', f"REPOSITORY = {url!r}", 1)


def written_tables(results_dir: Path, since: float) -> list[str]:
    """The result tables (CSV) a notebook wrote under `results_dir` while it ran (modified since `since`)."""
    if not results_dir.is_dir():
        return []
    return sorted(p.name for p in results_dir.glob("*.csv") if p.stat().st_mtime >= since - 1)


def papermill_command(name: str, parameters: dict) -> str:
    """The shell command that re-executes notebook `name` with `parameters` through papermill."""
    import shlex

    import yaml

    # papermill reads -y with PyYAML, which takes 5e-05 for a string: PyYAML's own dumper writes what it reads back
    flow = yaml.safe_dump(parameters, default_flow_style=True, width=10**6).strip() if parameters else ""
    args = f" -y {shlex.quote(flow)}" if parameters else ""
    return (
        f"jupytext --to ipynb notebooks/{name}.py -o /tmp/{name}.ipynb && "
        f"papermill /tmp/{name}.ipynb /tmp/{name}.out.ipynb --cwd .{args}"
    )


def reproduce_text(name: str, parameters: dict, wall_s: float, tables: list[str]) -> str:
    """The closing cell of an executed notebook: how to reproduce it and where its tables download from."""
    links = ", ".join(f'<a href="../downloads/tables/{t}">{t}</a>' for t in tables) or "none"
    return (
        "## Reproduce this page\n\n"
        "From the repository root, after `make venv` and `source .venv/bin/activate` (`make all` runs every "
        "page in order):\n\n"
        f"```bash\n{papermill_command(name, parameters)}\n```\n\n"
        f"This execution took {wall_s:.0f} s on the machine in the [reproducibility](../reproducibility.md) "
        "page's table (2 CPU cores; runs that another page had already trained were reused, so a page run "
        "alone can take longer). The tiny-LM runs train through the executor in `$RLVR_EXECUTOR` (default "
        f"sequential when a notebook runs alone).\n\nTables behind this page (CSV): {links}. All verdicts and "
        "the run records are on the [downloads](../downloads.md) page (in a book built by the main job)."
    )


def run_all(
    names: list[str],
    parameters: dict | None = None,
    out_dir: Path = EXECUTED,
    force: bool = False,
    progress: bool = True,
) -> list[dict]:
    """Run several notebooks in order with a progress line each; the same `parameters` go to all of them."""
    from tqdm.auto import tqdm

    results = []
    bar = tqdm(names, desc="notebooks", disable=not progress)
    for name in bar:
        bar.set_postfix_str(name)
        r = run_notebook(name, parameters, out_dir, force)
        results.append(r)
        if progress:
            status = "cached" if r["cached"] else f"{r['wall_s']:.1f} s"
            tqdm.write(f"  {name}: {status}")
    return results


if __name__ == "__main__":  # one notebook in a process of its own (the main job's side-by-side jobs)
    import argparse

    ap = argparse.ArgumentParser(description="execute one notebook (cached) into book/executed/")
    ap.add_argument("name")
    ap.add_argument("parameters", help="the notebook's parameters as JSON")
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args()
    run_notebook(a.name, json.loads(a.parameters), EXECUTED, force=a.force)
