"""Record another build's verdicts as a reference for the reproducibility page.

Reads the executed notebooks of a git revision (their printed verdict lines, the format of `Verdict.__str__`, and
the machine in their metadata) and writes book/data/verdicts_reference.json. Usage::

    python scripts/reference_verdicts.py REVISION [--changed NOTEBOOK="what changed since" ...]

``--changed`` names notebooks whose design changed after REVISION, so that the page does not count their verdicts
as a machine difference.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINE = re.compile(
    r"^(?P<claim>.+?) \[(?P<level>[^\]]+)\]: (?P<verdict>[A-Z][A-Z ]*[A-Z]) \((?P<reason>[a-z0-9_]+)\) - "
)


def verdict_lines(nb: dict) -> list[dict]:
    """The verdicts a notebook printed (save_verdicts prints each one)."""
    out = []
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            text = "".join(o.get("text") or o.get("data", {}).get("text/plain") or "")
            for line in text.splitlines():
                m = LINE.match(line.strip())
                if m:
                    out.append({"claim": m["claim"], "level": m["level"], "verdict": m["verdict"].lower(),
                                "reason": m["reason"]})  # fmt: skip
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("revision")
    ap.add_argument("--changed", action="append", default=[], metavar="NOTEBOOK=WHAT")
    args = ap.parse_args(argv)
    rev = subprocess.run(["git", "rev-parse", args.revision], cwd=ROOT, capture_output=True, text=True, check=True)
    rev = rev.stdout.strip()
    names = subprocess.run(["git", "ls-tree", "--name-only", rev, "book/executed/"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()  # fmt: skip
    verdicts, machine = [], None
    for path in sorted(n for n in names if n.endswith(".ipynb")):
        nb = json.loads(subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, capture_output=True, text=True,
                                       check=True).stdout)  # fmt: skip
        meta = nb["metadata"].get("rlvr", {}).get("machine") or {}
        if meta and machine is None:
            machine = meta
        verdicts += [{"source": Path(path).stem, **v} for v in verdict_lines(nb)]
    changed = dict(c.split("=", 1) for c in args.changed)
    out = {"revision": rev, "machine": machine, "changed_since": changed, "verdicts": verdicts}
    dest = ROOT / "book" / "data" / "verdicts_reference.json"
    dest.write_text(json.dumps(out, indent=1) + "\n")
    print(f"{len(verdicts)} verdicts of {rev[:10]} -> {dest.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
