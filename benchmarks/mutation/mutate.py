"""A small AST mutation tester: mutate one module, run its own fast tests, count what survives.

Why not mutmut / cosmic-ray: both rewrite the checkout (mutmut 3 copies the tree into ``mutants/``
with trampolines and reads its config from setup.cfg / pyproject; cosmic-ray keeps a session
database and a config file per module). Here several helpers share one checkout and 2 cores, so the
mutants are applied to a private copy of the packages and tests (never to the checkout), one at a
time, and each runs only the given test files in a forked process with a timeout. The operators are
the classic ones (Offutt et al., "An experimental determination of sufficient mutant operators",
1996; as in mutmut): comparison boundaries and negations, arithmetic operator swaps, integer
constants +-1, ``and``/``or``, ``not`` dropped, ``ceil``/``floor`` and ``min``/``max`` swapped,
``return None``, and statement deletion (replaced by ``pass``). Strings, docstrings and annotations
are not mutated.

    .venv/bin/python -m benchmarks.mutation.mutate search_spaces/cost.py \
        --tests "tests/search_spaces/test_pinned.py -k 'not slow'" --timeout 60 --json out.json

Exit status 0 if the kill ratio (killed / all mutants, before removing equivalent ones) is at least
``--min-killed``, else 1. Survivors are printed with their line and the mutated source line.
"""

from __future__ import annotations

import argparse
import ast
import copy
import dataclasses
import json
import logging
import os
import random
import shlex
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

logger = logging.getLogger("mutate")
ROOT = Path(__file__).resolve().parents[2]
COPIED = ("nas", "search_spaces", "evaluators", "edge_profiler", "tests", "benchmarks", "pyproject.toml")
PRELOAD = ("numpy", "pytest", "sklearn.datasets", "ai_edge_litert.interpreter", "optuna", "yaml", "PIL.Image")

_COMPARE_SWAPS: dict[type, tuple[type, ...]] = {
    ast.Lt: (ast.LtE, ast.GtE), ast.LtE: (ast.Lt, ast.Gt), ast.Gt: (ast.GtE, ast.LtE),
    ast.GtE: (ast.Gt, ast.Lt), ast.Eq: (ast.NotEq,), ast.NotEq: (ast.Eq,), ast.In: (ast.NotIn,),
    ast.NotIn: (ast.In,), ast.Is: (ast.IsNot,), ast.IsNot: (ast.Is,),
}
_BINOP_SWAPS: dict[type, tuple[type, ...]] = {
    ast.Add: (ast.Sub,), ast.Sub: (ast.Add,), ast.Mult: (ast.Div,), ast.Div: (ast.Mult, ast.FloorDiv),
    ast.FloorDiv: (ast.Div,), ast.Mod: (ast.FloorDiv,), ast.Pow: (ast.Mult,), ast.BitAnd: (ast.BitOr,),
    ast.BitOr: (ast.BitAnd,),
}
_NAME_SWAPS = {"ceil": "floor", "floor": "ceil", "min": "max", "max": "min", "any": "all", "all": "any"}
_DELETABLE = (ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Raise, ast.If, ast.For, ast.Assert,
              ast.Return, ast.Try, ast.With)


@dataclasses.dataclass(frozen=True)
class Mutant:
    """One change: ``index`` counts the mutation points in walk order, ``description`` says what."""

    index: int
    line: int
    description: str


def _is_export_list(node: ast.AST) -> bool:
    """``__all__ = [...]`` only lists names for ``import *``; removing it is not a behaviour change."""
    return isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)


def _is_docstring(node: ast.AST) -> bool:
    return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str))


class _Mutator(ast.NodeTransformer):
    """Walks the tree; at mutation point ``target`` applies the change (or only lists them)."""

    def __init__(self, functions: set[str] | None, target: int | None = None) -> None:
        self.functions = functions
        self.target = target
        self.found: list[Mutant] = []
        self._scope: list[str] = []

    # ----- scope: only the named functions (qualified, e.g. "TFLiteClassifier._invoke") --------
    def _active(self) -> bool:
        if self.functions is None:
            return True
        qualified = ".".join(self._scope)
        return any(qualified == f or qualified.startswith(f + ".") for f in self.functions)

    def _enter(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> ast.AST:
        self._scope.append(node.name)
        node.body = self._visit_statements(node.body)  # arguments, decorators and annotations stay
        self._scope.pop()
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _enter

    def _visit_statements(self, statements: list[ast.stmt]) -> list[ast.stmt]:
        out = []
        for statement in statements:
            if isinstance(statement, ast.AnnAssign) and statement.value is None:
                out.append(statement)  # a bare declaration (dataclass field): nothing runs
                continue
            if (self._active() and isinstance(statement, _DELETABLE) and not _is_docstring(statement)
                    and self._point(statement, "statement deleted")):
                out.append(ast.copy_location(ast.Pass(), statement))
                continue
            if _is_docstring(statement) or _is_export_list(statement):
                out.append(statement)
                continue
            result = self.visit(statement)
            out.extend(result if isinstance(result, list) else [result])
        return out

    def generic_visit(self, node: ast.AST) -> ast.AST:
        for field, value in ast.iter_fields(node):
            if field in ("annotation", "returns"):
                continue
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                setattr(node, field, self._visit_statements(value))
            elif isinstance(value, list):
                setattr(node, field, [self.visit(v) if isinstance(v, ast.AST) else v for v in value])
            elif isinstance(value, ast.AST):
                setattr(node, field, self.visit(value))
        return node

    # ----- mutation points -------------------------------------------------------------------
    def _point(self, node: ast.AST, description: str) -> bool:
        index = len(self.found)
        self.found.append(Mutant(index, getattr(node, "lineno", 0), description))
        return index == self.target

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        node = self.generic_visit(node)
        if self._active():
            for position, op in enumerate(list(node.ops)):
                for swap in _COMPARE_SWAPS.get(type(op), ()):
                    if self._point(node, f"{type(op).__name__} -> {swap.__name__}"):
                        node.ops[position] = swap()
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        node = self.generic_visit(node)
        if self._active():
            for swap in _BINOP_SWAPS.get(type(node.op), ()):
                if self._point(node, f"{type(node.op).__name__} -> {swap.__name__}"):
                    node.op = swap()
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        node = self.generic_visit(node)
        if self._active():
            for swap in _BINOP_SWAPS.get(type(node.op), ())[:1]:
                if self._point(node, f"{type(node.op).__name__}= -> {swap.__name__}="):
                    node.op = swap()
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        node = self.generic_visit(node)
        swap = ast.Or if isinstance(node.op, ast.And) else ast.And
        if self._active() and self._point(node, f"{type(node.op).__name__} -> {swap.__name__}"):
            node.op = swap()
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        node = self.generic_visit(node)
        if self._active() and isinstance(node.op, (ast.Not, ast.USub, ast.Invert)):
            if self._point(node, f"{type(node.op).__name__} dropped"):
                return node.operand
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if not self._active() or isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            return node
        for delta in (1, -1):
            if self._point(node, f"constant {node.value!r} -> {node.value + delta!r}"):
                return ast.copy_location(ast.Constant(node.value + delta), node)
        return node

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if self._active() and node.id in _NAME_SWAPS and self._point(node, f"{node.id} -> {_NAME_SWAPS[node.id]}"):
            return ast.copy_location(ast.Name(_NAME_SWAPS[node.id], node.ctx), node)
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        node = self.generic_visit(node)
        if self._active() and node.attr in ("ceil", "floor", "min", "max"):
            if self._point(node, f".{node.attr} -> .{_NAME_SWAPS[node.attr]}"):
                node.attr = _NAME_SWAPS[node.attr]
        return node

    def visit_Return(self, node: ast.Return) -> ast.AST:
        node = self.generic_visit(node)
        if self._active() and node.value is not None and not (
                isinstance(node.value, ast.Constant) and node.value.value is None):
            if self._point(node, "return None"):
                node.value = ast.Constant(None)
        return node


def list_mutants(source: str, functions: set[str] | None) -> list[Mutant]:
    mutator = _Mutator(functions)
    mutator.visit(ast.parse(source))
    return mutator.found


def mutated_source(source: str, functions: set[str] | None, index: int) -> str:
    mutator = _Mutator(functions, target=index)
    tree = ast.fix_missing_locations(mutator.visit(copy.deepcopy(ast.parse(source))))
    return ast.unparse(tree)


def _ignore(folder: str, names: list[str]) -> set[str]:
    """Byte code and the benchmarks' recorded results stay out of the copy (``nas/results`` is code)."""
    skipped = {"__pycache__"}
    if Path(folder).name == "benchmarks" or Path(folder).parent.name == "benchmarks":
        skipped.add("results")
    return skipped & set(names)


def _copy_tree(destination: Path) -> None:
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=_ignore)
        elif source.exists():
            shutil.copy2(source, destination / name)


def _run_tests(workdir: Path, pytest_args: list[str], timeout_s: float) -> str:
    """``killed`` / ``survived`` / ``timeout``: the tests in a forked child, which imports the copy."""
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.chdir(workdir)
            sys.path.insert(0, str(workdir))
            log = os.open(workdir / "pytest-last.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(log, 1)
            os.dup2(log, 2)
            import pytest

            code = pytest.main(["-x", "-q", "-p", "no:cacheprovider", *pytest_args])
        except BaseException:  # noqa: BLE001 - any error in the child means the mutant broke something
            code = 3
        os._exit(int(code))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return "survived" if os.waitstatus_to_exitcode(status) == 0 else "killed"
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return "timeout"


def _preload() -> None:
    """Third-party modules imported once in the parent, so each forked child starts warm."""
    os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for name in PRELOAD:
        try:
            __import__(name)
        except ImportError:
            logger.info("not preloaded: %s", name)


def run(module: str, pytest_args: list[str], functions: set[str] | None, timeout_s: float,
        sample: int | None = None, seed: int = 0, only: set[int] | None = None) -> Iterator[dict]:
    source = (ROOT / module).read_text(encoding="utf-8")
    mutants = list_mutants(source, functions)
    if sample is not None and sample < len(mutants):  # a seeded uniform sample, in source order
        mutants = sorted(random.Random(seed).sample(mutants, sample), key=lambda m: m.index)
    if only is not None:  # re-run given mutants (e.g. the survivors of an earlier run, after new tests)
        mutants = [m for m in mutants if m.index in only]
    sys.dont_write_bytecode = True
    _preload()
    with tempfile.TemporaryDirectory(prefix="mutate-") as tmp:
        workdir = Path(tmp)
        _copy_tree(workdir)
        target = workdir / module
        baseline = _run_tests(workdir, pytest_args, timeout_s * 3)
        if baseline != "survived":
            log = (workdir / "pytest-last.log").read_text(encoding="utf-8", errors="replace")[-3000:]
            raise SystemExit(f"the tests do not pass on the unmutated code ({baseline}); fix that first\n{log}")
        for number, mutant in enumerate(mutants, start=1):
            text = mutated_source(source, functions, mutant.index)
            if ast.dump(ast.parse(text)) == ast.dump(ast.parse(source)):
                continue
            target.write_text(text, encoding="utf-8")
            started = time.monotonic()
            outcome = _run_tests(workdir, pytest_args, timeout_s)
            line = source.splitlines()[mutant.line - 1].strip() if mutant.line else ""
            logger.info("[%d/%d] %s line %d %s: %s", number, len(mutants), module, mutant.line,
                        mutant.description, outcome)
            yield {"index": mutant.index, "line": mutant.line, "mutation": mutant.description, "source": line,
                   "outcome": outcome, "seconds": round(time.monotonic() - started, 2)}
        target.write_text(source, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("module", help="path of the module to mutate, relative to the repository root")
    parser.add_argument("--tests", required=True, help="pytest arguments in one string (test files, -k ...)")
    parser.add_argument("--functions", help="comma-separated qualified names to mutate (default: all)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per mutant (a timeout counts as killed)")
    parser.add_argument("--sample", type=int, help="run only a seeded random sample of this many mutants")
    parser.add_argument("--seed", type=int, default=0, help="seed of --sample")
    parser.add_argument("--only", help="comma-separated mutant indices to run (from an earlier --json)")
    parser.add_argument("--json", type=Path, help="write every mutant's outcome here")
    parser.add_argument("--min-killed", type=float, default=0.0, help="exit 1 below this kill ratio")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    functions = set(args.functions.split(",")) if args.functions else None
    results = list(run(args.module, shlex.split(args.tests), functions, args.timeout, args.sample, args.seed,
                       {int(i) for i in args.only.split(",")} if args.only else None))
    killed = sum(r["outcome"] != "survived" for r in results)
    summary = {"module": args.module, "tests": args.tests, "functions": sorted(functions or []),
               "sample": args.sample, "seed": args.seed, "all_mutants": len(list_mutants(
                   (ROOT / args.module).read_text(encoding="utf-8"), functions)),
               "mutants": len(results), "killed": killed, "survived": len(results) - killed,
               "kill_ratio": round(killed / len(results), 4) if results else None,
               "survivors": [r for r in results if r["outcome"] == "survived"]}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary | {"results": results}, indent=1) + "\n", encoding="utf-8")
    for survivor in summary["survivors"]:
        print(f"SURVIVED {args.module}:{survivor['line']} {survivor['mutation']}  | {survivor['source']}")
    print(f"{args.module}: {killed}/{len(results)} mutants killed ({summary['kill_ratio']})")
    return 0 if results and killed / len(results) >= args.min_killed else 1


if __name__ == "__main__":
    sys.exit(main())
