"""The install files agree with each other: environment.yml mirrors pyproject's pins; the book's config parses."""

import json
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[]", req, maxsplit=1)[0].lower()


def test_environment_yml_mirrors_pyproject():
    py = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    pins = {_name(r): r for r in pip if not r.startswith("-")}
    for req in py["dependencies"]:
        name = _name(req)
        assert name in pins, f"{name} missing from environment.yml"
        if name != "torch":
            assert pins[name].replace(" ", "") == req.replace(" ", ""), (pins[name], req)
    assert pins["torch"] == "torch==2.13.0+cpu"
    assert "python=3.11" in env["dependencies"]


def test_makefile_pins_the_cpu_torch_build():
    assert "TORCH_SPEC ?= torch==2.13.0" in (ROOT / "Makefile").read_text()


def test_book_config_and_toc_point_at_existing_files():
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert cfg["execute"]["exclude_patterns"] == ["executed/*"]
    toc = yaml.safe_load((ROOT / "book" / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for p in toc["parts"] for c in p["chapters"]]
    from rlvr_lib.pipeline.runner import NOTEBOOKS

    for f in files:
        if f.startswith("executed/"):
            assert (NOTEBOOKS / f"{f.split('/', 1)[1]}.py").exists(), f
        else:
            assert (ROOT / "book" / f"{f}.md").exists(), f


def test_colab_cells_install_from_the_configured_repository():
    """The repository is named in one place, _config.yml: the source notebooks leave it empty, the runner writes it
    into each executed copy (which the launch buttons open), and the committed copies agree with _config.yml."""
    import jupytext

    from rlvr_lib.pipeline.runner import fill_repository, repository_url

    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    assert repository_url() == url
    for nb in sorted((ROOT / "notebooks").glob("*.py")):
        text = nb.read_text()
        assert "github.com" not in text and 'REPOSITORY = ""' in text, nb.name
        assert text.index('tags=["colab", "hide-input"]') < text.index('tags=["parameters"]'), nb.name
        parsed = jupytext.read(nb)
        fill_repository(parsed)
        colab = next(c for c in parsed.cells if "colab" in c.metadata.get("tags", []))
        assert f"REPOSITORY = {url!r}" in colab.source
        executed = ROOT / "book" / "executed" / f"{nb.stem}.ipynb"
        if executed.exists():  # committed, written by the main job's runner
            cells = json.loads(executed.read_text())["cells"]
            source = "".join(next(c for c in cells if "colab" in c["metadata"].get("tags", []))["source"])
            assert f"REPOSITORY = {url!r}" in source, executed.name
