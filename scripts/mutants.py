"""Mutation testing of the verdict and statistics code: plant one small bug at a time, see whether a test fails.

    python scripts/mutants.py                          # the statistics, the verdict record, the verdict functions
    python scripts/mutants.py rlvr_lib/stats.py        # one module
    python scripts/mutants.py rlvr_lib/stats.py --rerun results/mutants/stats.json   # only last run's survivors

A mutant is the module with one change inside one of the functions under test: a comparison flipped (``<`` to
``<=`` or ``>=``, ``==`` to ``!=``...), an arithmetic or bitwise operator swapped (``+``/``-``, ``*``/``/``,
``&``/``|``), ``and``/``or`` swapped, a ``not`` or unary minus dropped, an ``if``/``while`` condition negated, the
branches of ``a if c else b`` swapped, a number changed (n to n + 1), ``True``/``False`` swapped, ``min``/``max`` and
``any``/``all`` swapped, ``abs(x)`` replaced by ``x``, or a verdict string replaced by another verdict. A mutant is
*killed* when a test fails (or runs past the time limit), and *survives* when every test passes: either the tests
miss a real bug there, or the change does not alter behaviour (an equivalent mutant), which a reader decides.

The functions under test: every function of ``rlvr_lib/stats.py`` and ``rlvr_lib/verdicts.py``, and in
``rlvr_lib/experiments/`` the verdict functions (named ``*_verdicts``, ``*_verdict``, ``margin_verdict`` or
``decide*``). The tests run against a mutant are the ones that call the mutated function in an unmutated run
(recorded once per module with a profiler hook), among the test files that name one of the module's functions
under test; slow tests (``-m slow``) are left out. A function no test calls is reported as not covered.

Why a runner of its own instead of mutmut or cosmic-ray: neither is in the development environment (adding one
reinstalls it for everyone), mutmut 3 runs the suite inside a rewritten copy of the tree (``mutants/``) while
these tests also start notebook kernels and worker processes that import the package, and cosmic-ray needs a
session database and its own worker configuration; restricting either to a few functions by name takes extra
code too. This script needs only the standard library and pytest: it copies the working tree to a temporary
directory (the checkout itself is never modified), imports the heavy libraries (numpy, pandas, torch,
transformers) once, and runs each mutant's tests in a forked child with a time limit, so a mutant costs its
tests' time rather than an interpreter start.

Output: per module, the mutants killed, survived, not covered and timed out, and the score (killed / mutants);
each survivor with file, line, function and the change, printed and written to
``results/mutants/<module>.txt`` and ``.json`` (the JSON is what ``--rerun`` reads); the wall time.
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VERDICT_FUNCTION = re.compile(r"(_verdicts?|^margin_verdict|^decide\w*)$")
DEFAULT_TARGETS = ["rlvr_lib/stats.py", "rlvr_lib/verdicts.py", "rlvr_lib/experiments"]
VERDICTS = ("supported", "not supported", "inconclusive", "effect excluded", "not testable here", "premise absent")
# the verdict a planted bug returns instead: the opposite where there is one
OTHER_VERDICT = {
    "supported": "not supported",
    "not supported": "supported",
    "inconclusive": "supported",
    "effect excluded": "inconclusive",
    "not testable here": "inconclusive",
    "premise absent": "inconclusive",
}
COMPARE_SWAPS = {
    ast.Lt: (ast.LtE, ast.GtE),
    ast.LtE: (ast.Lt, ast.Gt),
    ast.Gt: (ast.GtE, ast.LtE),
    ast.GtE: (ast.Gt, ast.Lt),
    ast.Eq: (ast.NotEq,),
    ast.NotEq: (ast.Eq,),
    ast.Is: (ast.IsNot,),
    ast.IsNot: (ast.Is,),
    ast.In: (ast.NotIn,),
    ast.NotIn: (ast.In,),
}
BINOP_SWAPS = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Pow: ast.Mult,
    ast.Mod: ast.FloorDiv,
    ast.BitAnd: ast.BitOr,
    ast.BitOr: ast.BitAnd,
}
CALL_SWAPS = {"min": "max", "max": "min", "any": "all", "all": "any"}


# ---------------------------------------------------------------------------------------------------------
# mutants


def targeted(module: str, name: str) -> bool:
    """Whether function `name` of `module` (a path relative to the repository) is under test."""
    if "/experiments/" in module:
        return bool(VERDICT_FUNCTION.search(name))
    return True


def functions(tree: ast.Module, module: str) -> list[tuple[str, ast.AST]]:
    """(qualified name, node) of the functions under test: top level, and methods of top-level classes."""
    out = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and targeted(module, node.name):
            out.append((node.name, node))
        elif isinstance(node, ast.ClassDef):
            for sub in node.body:
                if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)) and targeted(module, sub.name):
                    out.append((f"{node.name}.{sub.name}", sub))
    return out


def _src(node) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 70 else text[:67] + "..."


def alternatives(node: ast.AST) -> list[tuple[str, ast.AST]]:
    """Every mutation of one node: (what changed, the replacement node)."""
    out = []

    def variant(**changes):
        new = copy.deepcopy(node)
        for k, v in changes.items():
            setattr(new, k, v)
        return new

    if isinstance(node, ast.Compare):
        for j, op in enumerate(node.ops):
            for alt in COMPARE_SWAPS.get(type(op), ()):
                ops = [*node.ops[:j], alt(), *node.ops[j + 1 :]]
                new = variant(ops=ops)
                out.append((f"`{_src(node)}` -> `{_src(new)}`", new))
    elif isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in BINOP_SWAPS:
        new = variant(op=BINOP_SWAPS[type(node.op)]())
        out.append((f"`{_src(node)}` -> `{_src(new)}`", new))
    elif isinstance(node, ast.BoolOp):
        new = variant(op=ast.Or() if isinstance(node.op, ast.And) else ast.And())
        out.append((f"`{_src(node)}` -> `{_src(new)}`", new))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
        out.append((f"`{_src(node)}` -> `{_src(node.operand)}`", copy.deepcopy(node.operand)))
    elif isinstance(node, (ast.If, ast.While)) and not (
        isinstance(node.test, ast.UnaryOp) and isinstance(node.test.op, ast.Not)
    ):
        new = variant(test=ast.UnaryOp(ast.Not(), copy.deepcopy(node.test)))
        out.append((f"condition `{_src(node.test)}` negated", new))
    elif isinstance(node, ast.IfExp):
        new = variant(body=copy.deepcopy(node.orelse), orelse=copy.deepcopy(node.body))
        out.append((f"`{_src(node)}` -> `{_src(new)}`", new))
    elif isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, bool):
            out.append((f"`{v}` -> `{not v}`", ast.Constant(not v)))
        elif isinstance(v, int | float):
            out.append((f"`{v!r}` -> `{v + 1!r}`", ast.Constant(v + 1)))
        elif isinstance(v, str) and v in OTHER_VERDICT:
            out.append((f"`{v!r}` -> `{OTHER_VERDICT[v]!r}`", ast.Constant(OTHER_VERDICT[v])))
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id in CALL_SWAPS:
            new = variant(func=ast.Name(CALL_SWAPS[node.func.id], ast.Load()))
            out.append((f"`{_src(node)}` -> `{_src(new)}`", new))
        elif node.func.id == "abs" and len(node.args) == 1:
            out.append((f"`{_src(node)}` -> `{_src(node.args[0])}`", copy.deepcopy(node.args[0])))
    return out


def _skipped(node: ast.AST, parent: ast.AST | None) -> bool:
    """Nodes not mutated: docstrings, f-string pieces, annotations."""
    if isinstance(node, ast.JoinedStr | ast.FormattedValue):
        return True
    if isinstance(parent, ast.arg) and node is parent.annotation:
        return True
    if isinstance(parent, ast.FunctionDef | ast.AsyncFunctionDef) and node is parent.returns:
        return True
    return False


def _walk(node, parent=None):
    """Pre-order walk of a function's nodes, the order mutants are numbered in (docstrings and f-strings left out)."""
    if _skipped(node, parent):
        return
    yield node
    body = getattr(node, "body", None)
    doc = (
        body[0]
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
        else None
    )
    for child in ast.iter_child_nodes(node):
        if child is not doc:
            yield from _walk(child, node)


@dataclass
class Mutant:
    module: str  # path relative to the repository
    function: str  # qualified name
    index: int  # position of the node in the function's walk
    alt: int  # which alternative of that node
    line: int
    col: int
    change: str
    outcome: str = ""  # killed / survived / not covered / timeout
    seconds: float = 0.0

    @property
    def key(self) -> tuple:
        """Which mutant this is, for --rerun (valid while the function's source is unchanged)."""
        return (self.module, self.function, self.index, self.alt, self.change)


def enumerate_mutants(module: str, source: str) -> list[Mutant]:
    tree = ast.parse(source)
    out = []
    for qual, fn in functions(tree, module):
        for i, node in enumerate(_walk(fn)):
            for j, (change, _) in enumerate(alternatives(node)):
                line, col = getattr(node, "lineno", fn.lineno), getattr(node, "col_offset", -1) + 1
                out.append(Mutant(module, qual, i, j, line, col, change))
    return out


def mutated_source(source: str, m: Mutant) -> str:
    tree = ast.parse(source)
    fn = dict(functions(tree, m.module))[m.function]
    target = next(node for i, node in enumerate(_walk(fn)) if i == m.index)
    replacement = alternatives(target)[m.alt][1]
    for parent in [fn, *_walk(fn)]:  # put the replacement where the node was
        for field, value in ast.iter_fields(parent):
            if value is target:
                setattr(parent, field, replacement)
                break
            if isinstance(value, list) and any(v is target for v in value):
                value[[id(v) for v in value].index(id(target))] = replacement
                break
        else:
            continue
        break
    return ast.unparse(ast.fix_missing_locations(tree))


# ---------------------------------------------------------------------------------------------------------
# running tests in forked children of a process that has imported the heavy libraries once


def forked(fn, timeout: float) -> tuple[int | None, float]:
    """Run fn() in a forked child (its return value is the exit code); (code or None on timeout, seconds)."""
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child
        code = 3
        try:
            code = int(fn())
        finally:
            os._exit(code)
    deadline = t0 + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status), time.perf_counter() - t0
        if time.perf_counter() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None, time.perf_counter() - t0
        time.sleep(0.02)


class CallRecorder:
    """A pytest plugin that records which functions under test each test calls (sys.setprofile)."""

    def __init__(self, module_file: str, names: set[str]):
        self.file, self.names = module_file, names
        self.calls: dict[str, set[str]] = {}
        self.seconds: dict[str, float] = {}
        self.current: str | None = None

    def _profile(self, frame, event, arg):
        if event == "call" and frame.f_code.co_filename == self.file:
            name = frame.f_code.co_qualname.split(".<locals>")[0]
            if name in self.names and self.current:
                self.calls.setdefault(self.current, set()).add(name)

    def pytest_runtest_protocol(self, item, nextitem):
        import threading

        self.current = item.nodeid
        sys.setprofile(self._profile)
        threading.setprofile(self._profile)

    def pytest_runtest_logreport(self, report):
        self.seconds[report.nodeid] = self.seconds.get(report.nodeid, 0.0) + report.duration

    def pytest_runtest_logfinish(self, nodeid, location):
        sys.setprofile(None)
        import threading

        threading.setprofile(None)
        self.current = None


def run_pytest(work: Path, args: list[str], quiet: bool = True, plugins=()) -> int:
    import pytest

    os.chdir(work)
    if quiet:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
    return int(pytest.main(["-q", "-p", "no:cacheprovider", f"--basetemp={work / '.basetemp'}", *args], plugins))


def copy_tree(dest: Path) -> None:
    """The working tree as it is (tracked and untracked, not ignored files), without caches."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    for rel in files:
        if (ROOT / rel).is_file():  # listed but deleted in the working tree: not copied
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest / rel)


def test_files(module: str, names: list[str], work: Path) -> list[str]:
    """Test files that name one of the module's functions under test."""
    rx = re.compile(r"\b(" + "|".join(map(re.escape, {n.split(".")[-1] for n in names})) + r")\b")
    return sorted(str(p.relative_to(work)) for p in (work / "tests").glob("test_*.py") if rx.search(p.read_text()))


def run_module(module: str, work: Path, args, previous: dict | None) -> tuple[list[Mutant], dict]:
    path = work / module
    original = path.read_text()
    mutants = enumerate_mutants(module, original)
    names = sorted({m.function for m in mutants} | {q for q, _ in functions(ast.parse(original), module)})
    if previous is not None:  # only the survivors of the last run
        wanted = {tuple(s[k] for k in ("module", "function", "index", "alt", "change")) for s in previous["survivors"]}
        wanted = {w for w in wanted if w[0] == module}
        mutants = [m for m in mutants if m.key in wanted]
        if len(mutants) < len(wanted):
            print(
                f"  {len(wanted) - len(mutants)} survivors of {args.rerun} are not mutants of the source now (changed)"
            )
    mutants = mutants[: args.max_mutants]
    files = args.tests or test_files(module, names, work)
    info = {"module": module, "test_files": files, "functions": names, "rerun": previous is not None}
    if previous is not None and previous.get("module") == module:
        info["earlier"] = {"mutants": previous["mutants"], "killed": previous["killed"] + previous["timeout"]}
    print(f"\n{module}: {len(mutants)} mutants in {len(names)} functions; tests from {', '.join(files) or 'none'}")
    if not files or not mutants:
        return mutants, info
    # the unmutated run: every selected test must pass; it records which tests call which function
    calls_file = work / ".calls.json"

    def baseline():
        rec = CallRecorder(str(path), set(names))
        code = run_pytest(work, ["-m", "not slow", "-x", *files], quiet=not args.verbose, plugins=[rec])
        calls = {k: {"functions": sorted(v), "seconds": rec.seconds.get(k, 0.0)} for k, v in rec.calls.items()}
        calls_file.write_text(json.dumps(calls))
        return code

    code, seconds = forked(baseline, timeout=args.baseline_timeout)
    if code != 0:
        raise SystemExit(
            f"{module}: the tests fail (or time out) without any mutation (exit {code}); fix them or pass --tests "
            "(--verbose shows the output)"
        )
    calls = json.loads(calls_file.read_text())
    own = f"tests/test_{path.stem}.py::"
    # a mutant's tests: the module's own test file first, then the quickest, so that a killed mutant dies early
    order = sorted(calls, key=lambda t: (not t.startswith(own), calls[t]["seconds"]))
    by_function: dict[str, list[str]] = {}
    for nodeid in order:
        for f in calls[nodeid]["functions"]:
            by_function.setdefault(f, []).append(nodeid)
    info.update(baseline_s=seconds, tests_per_function={f: len(v) for f, v in sorted(by_function.items())})
    print(f"  unmutated run: {seconds:.1f} s, {len(calls)} tests call a function under test")
    limit = args.timeout or max(30.0, 3 * seconds)
    for n, m in enumerate(mutants, 1):
        tests = by_function.get(m.function, [])
        if not tests:
            m.outcome = "not covered"
            continue
        path.write_text(mutated_source(original, m))
        try:
            code, m.seconds = forked(lambda tests=tests: run_pytest(work, ["-x", *tests]), timeout=limit)
        finally:
            path.write_text(original)
        m.outcome = "timeout" if code is None else "survived" if code == 0 else "killed"
        if args.verbose or m.outcome == "survived":
            print(f"  [{n}/{len(mutants)}] {m.outcome}: {m.function} {m.line}:{m.col}: {m.change}", flush=True)
    return mutants, info


def report(module: str, mutants: list[Mutant], info: dict, out_dir: Path, seconds: float) -> dict:
    counts = {k: sum(m.outcome == k for m in mutants) for k in ("killed", "timeout", "survived", "not covered")}
    total = len(mutants)
    score = (counts["killed"] + counts["timeout"]) / total if total else float("nan")
    lines = [
        f"{module}: {total} mutants, {counts['killed']} killed, {counts['timeout']} timed out (killed), "
        f"{counts['survived']} survived, {counts['not covered']} not covered; score {score:.1%}; {seconds:.0f} s",
    ]
    if "earlier" in info:  # the earlier run's killed mutants stay killed: the module's score now
        e = info["earlier"]
        now = e["killed"] + counts["killed"] + counts["timeout"]
        lines.append(
            f"  with the {e['killed']} killed in the earlier run: {now} of {e['mutants']} ({now / e['mutants']:.1%})"
        )
    for m in mutants:
        if m.outcome in ("survived", "not covered"):
            lines.append(f"  {m.outcome}: {m.module}:{m.line}:{m.col} {m.function}: {m.change}")
    text = "\n".join(lines)
    print(text)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = Path(module).stem + (".rerun" if info.get("rerun") else "")
    (out_dir / f"{stem}.txt").write_text(text + "\n")
    data = {
        **info,
        **counts,
        "mutants": total,
        "score": score,
        "wall_s": seconds,
        "survivors": [asdict(m) for m in mutants if m.outcome in ("survived", "not covered")],
    }
    (out_dir / f"{stem}.json").write_text(json.dumps(data, indent=1))
    return data


def modules_of(targets: list[str]) -> list[str]:
    out = []
    for t in targets:
        p = ROOT / t
        if p.is_dir():
            for f in sorted(p.glob("*.py")):
                tree = ast.parse(f.read_text())
                rel = str(f.relative_to(ROOT))
                if functions(tree, rel):
                    out.append(rel)
        else:
            out.append(str(p.relative_to(ROOT)))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("targets", nargs="*", default=DEFAULT_TARGETS, help="modules or directories (default: %(default)s)")
    ap.add_argument("--tests", nargs="+", help="test files to run (default: those that name a function under test)")
    ap.add_argument("--timeout", type=float, help="seconds per mutant (default: 3x the unmutated run, at least 30)")
    ap.add_argument("--baseline-timeout", type=float, default=1800, help="seconds for the unmutated run")
    ap.add_argument("--out", default="results/mutants", help="where the reports go (default: %(default)s)")
    ap.add_argument("--rerun", help="a report (.json) of an earlier run: test only its survivors")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--max-mutants", type=int, help="test only the first N mutants of each module (a trial run)")
    ap.add_argument("--verbose", action="store_true", help="show the unmutated run's output and every mutant")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    modules = modules_of(args.targets)
    if args.list:
        for module in modules:
            for m in enumerate_mutants(module, (ROOT / module).read_text()):
                print(f"{m.module}:{m.line}:{m.col} {m.function}: {m.change}")
        return 0
    previous = json.loads(Path(args.rerun).read_text()) if args.rerun else None
    # the heavy libraries, once, before any child forks; one thread each (forked children and BLAS threads)
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(k, "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.dont_write_bytecode = True  # a mutant's module must never be read back from a stale .pyc
    summary = []
    with tempfile.TemporaryDirectory(prefix="mutants-") as tmp:
        work = Path(tmp)
        copy_tree(work)
        sys.path.insert(0, str(work))
        os.environ["PYTHONPATH"] = str(work) + os.pathsep + os.environ.get("PYTHONPATH", "")
        import rlvr_lib  # the copy's package (sets the kernel pins before torch is imported)

        assert Path(rlvr_lib.__file__).is_relative_to(work), rlvr_lib.__file__
        for lib in ("numpy", "pandas", "torch", "transformers", "datasets", "trl", "pytest"):
            try:
                __import__(lib)
            except ImportError:
                pass
        for module in modules:
            t = time.perf_counter()
            mutants, info = run_module(module, work, args, previous)
            summary.append(report(module, mutants, info, ROOT / args.out, time.perf_counter() - t))
            os.chdir(ROOT)
    print("\nmutation score per module:")
    for s in summary:
        print(
            f"  {s['module']:42s} {s['score']:7.1%}  ({s['mutants']} mutants, {s['survived']} survived, "
            f"{s['not covered']} not covered, {s['wall_s']:.0f} s)"
        )
    print(f"total wall time {time.perf_counter() - t0:.0f} s; reports in {args.out}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
