"""The layout rules of the code (issue 11, "Shown by"), checked statically with :mod:`ast`.

Nothing here imports the project's modules except ``nas.record.trial_record`` (for the names of the
trial record). Every import counts, also one inside a function or under ``if TYPE_CHECKING``, and
``importlib.import_module("<constant>")``: a lazy import still ties two modules together.

1. No import circle among the modules of the four packages.
2. Imports flow one way: ``search_spaces`` -> ``evaluators`` -> ``nas.record`` -> ``nas.config`` ->
   ``nas.trial`` -> ``nas.strategies`` -> ``nas.results`` -> ``nas.cli``; a module imports only its
   own layer and layers to its left, plus ``edge_profiler``, which imports none of the others.
   ``search_spaces`` imports none of the others (docs/interfaces.md). Nothing outside ``nas/cli``
   imports ``nas.cli``; no module of ``nas/cli`` imports a command module of it or the dispatcher
   (``nas/cli/__init__.py``): private helpers such as ``nas/cli/_study.py`` are the shared code.
3. No function longer than :data:`MAX_FUNCTION_LINES` lines (``benchmarks/`` aside).
4. No string key of the trial record outside ``nas/record/``: code reads and writes a
   :class:`nas.record.trial_record.TrialRecord` by attribute.

Each check is a plain function from sources to a list of offenders, so the tests at the bottom can
feed it a small synthetic source and see it fail: no rule passes because it looked at nothing.
"""

from __future__ import annotations

import ast
import dataclasses
import itertools
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("nas", "search_spaces", "evaluators", "edge_profiler")
MAX_FUNCTION_LINES = 80

# Left to right: a module may import its own layer and the layers to its left (plus edge_profiler).
LAYERS = (
    "search_spaces",
    "evaluators",
    "nas.record",
    "nas.config",
    "nas.trial",
    "nas.strategies",
    "nas.results",
    "nas.cli",
)
# The root package `nas` (its __init__) sits below every nas layer: it may import nothing else. So do
# the modules of pure maths beside it (nas/pareto.py), which every layer may use.
ROOT_NAS = "nas"
ROOT_MODULES = frozenset({"nas.pareto"})
INDEPENDENT = "edge_profiler"  # imports nothing of the other three; anyone may import it
CLI = "nas.cli"
RECORD = "nas.record"
# Methods whose first argument is a record key when it names one (`attrs.get("accuracy_int8")`).
KEY_METHODS = frozenset({"get", "pop", "setdefault", "set_user_attr"})
# (path, key) pairs where a string equal to a record name is not a trial-record key (say, a config
# section or a profiler-result field of the same name). Each entry says why; keep it short.
NAMESAKES: dict[tuple[str, str], str] = {}


# -- reading the sources ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Module:
    """One parsed module: dotted name, path relative to the repository, syntax tree."""

    name: str
    path: str
    is_package: bool
    tree: ast.Module


def parse_modules(sources: Mapping[str, str]) -> dict[str, Module]:
    """Parse ``{relative path: source}`` (``nas/cli/search.py`` -> module ``nas.cli.search``)."""
    modules = {}
    for path, source in sources.items():
        parts = list(Path(path).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        name = ".".join(parts)
        modules[name] = Module(name, path, is_package, ast.parse(source, filename=path))
    return modules


def project_sources(packages: Iterable[str] = PACKAGES) -> dict[str, str]:
    """The sources of the project's packages, keyed by path relative to the repository."""
    sources = {}
    for package in packages:
        for file in sorted((ROOT / package).rglob("*.py")):
            sources[file.relative_to(ROOT).as_posix()] = file.read_text(encoding="utf-8")
    return sources


@pytest.fixture(scope="module")
def modules() -> dict[str, Module]:
    parsed = parse_modules(project_sources())
    assert len(parsed) > 50, f"found only {len(parsed)} modules under {ROOT}: wrong root?"
    return parsed


# -- imports ---------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Import:
    """``source`` imports project module ``target`` at ``line``."""

    source: str
    target: str
    line: int


def _known_prefix(name: str, known: Mapping[str, Module]) -> str | None:
    """The longest dotted prefix of ``name`` that is a project module (``a.b.func`` -> ``a.b``)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return None


def _from_base(module: Module, node: ast.ImportFrom) -> str:
    """The absolute module a ``from ... import`` reads from (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    package = module.name.split(".") if module.is_package else module.name.split(".")[:-1]
    package = package[: len(package) - (node.level - 1)]
    return ".".join([*package, node.module] if node.module else package)


def _imported_names(module: Module, node: ast.AST) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        base = _from_base(module, node)
        for alias in node.names:
            # `from pkg import sub` imports the submodule `pkg.sub` when there is one.
            yield base if alias.name == "*" else f"{base}.{alias.name}"
    elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
        func = node.func
        func_name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if func_name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
            yield node.args[0].value


def project_imports(modules: Mapping[str, Module]) -> list[Import]:
    """Every import of a project module by a project module (lazy ones too), in source order."""
    found = []
    for module in modules.values():
        for node in ast.walk(module.tree):
            for name in _imported_names(module, node):
                target = _known_prefix(name, modules)
                if target is not None and target != module.name:
                    found.append(Import(module.name, target, node.lineno))
    return sorted(found, key=lambda i: (i.source, i.line, i.target))


def _where(modules: Mapping[str, Module], imp: Import) -> str:
    return f"{modules[imp.source].path}:{imp.line}"


# -- check 1: no import circle ---------------------------------------------------------------------
def _strongly_connected(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative), each sorted, components in name order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return sorted(components)


def _shortest_cycle(graph: Mapping[str, set[str]], start: str, within: set[str]) -> list[str]:
    """The shortest chain ``start -> ... -> start`` inside one component (breadth first)."""
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph.get(node, ())):
                if child not in within:
                    continue
                if child == start:
                    chain = [node]
                    while chain[-1] != start:
                        chain.append(parents[chain[-1]])
                    return [*reversed(chain), start]
                if child not in parents:
                    parents[child] = node
                    following.append(child)
        frontier = following
    return [start]


def import_cycles(modules: Mapping[str, Module]) -> list[str]:
    """One shortest circle per group of modules that import each other, with the import lines."""
    imports = project_imports(modules)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    first_line: dict[tuple[str, str], Import] = {}
    for imp in imports:
        graph[imp.source].add(imp.target)
        first_line.setdefault((imp.source, imp.target), imp)
    offenders = []
    for component in _strongly_connected(graph):
        if len(component) < 2:
            continue
        chain = _shortest_cycle(graph, component[0], set(component))
        steps = [f"    {_where(modules, first_line[a, b])}: {a} -> {b}" for a, b in itertools.pairwise(chain)]
        others = sorted(set(component) - set(chain))
        tail = [f"    (same circle group: {', '.join(others)})"] if others else []
        offenders.append("\n".join([" -> ".join(chain), *steps, *tail]))
    return offenders


# -- check 2: layers -------------------------------------------------------------------------------
def _layer(module: str) -> str | None:
    """A module's layer: its longest prefix in :data:`LAYERS`, edge_profiler, the root ``nas``, or None."""
    if module == ROOT_NAS or module in ROOT_MODULES:
        return ROOT_NAS
    for layer in sorted((*LAYERS, INDEPENDENT), key=len, reverse=True):
        if module == layer or module.startswith(layer + "."):
            return layer
    return None


def _is_cli_command(module: str) -> bool:
    """A command module of nas/cli (``nas.cli.search``), not the package or a ``_private`` helper."""
    if not module.startswith(CLI + "."):
        return False
    return not any(part.startswith("_") for part in module[len(CLI) + 1:].split("."))


def _layer_problem(imp: Import) -> str | None:
    """Why ``imp`` breaks the layer order, or None. Modules in no layer are reported once, elsewhere."""
    source, target = _layer(imp.source), _layer(imp.target)
    if source is None or target is None:
        return None
    if target == CLI and source != CLI:
        return f"{imp.source} imports {imp.target}: nothing outside nas/cli imports nas.cli"
    if source == CLI and imp.source != CLI and (_is_cli_command(imp.target) or imp.target == CLI):
        return (f"{imp.source} imports {imp.target}: CLI modules do not import one another nor the "
                "dispatcher (share code through a private nas/cli/_helper.py or a lower layer)")
    if target == source:
        return None
    if source == INDEPENDENT:
        return f"edge_profiler imports {imp.target}: it imports none of the other packages"
    if source == "search_spaces":
        return f"search_spaces imports {imp.target}: it imports none of the other packages"
    if source == ROOT_NAS:
        return f"{imp.source} imports {imp.target}: the root package nas imports nothing of the project"
    if target in (INDEPENDENT, ROOT_NAS):
        return None
    if LAYERS.index(target) > LAYERS.index(source):
        return f"{imp.source} ({source}) imports {imp.target} ({target}), a layer above it"
    return None


def layer_violations(modules: Mapping[str, Module]) -> list[str]:
    """Imports against the layer order, one line each with file and line."""
    offenders = []
    for imp in project_imports(modules):
        problem = _layer_problem(imp)
        if problem:
            offenders.append(f"{_where(modules, imp)}: {problem}")
    for name in modules:
        if _layer(name) is None:
            offenders.append(f"{modules[name].path}: {name} is in no layer (add it to LAYERS)")
    return sorted(set(offenders))


# -- check 3: function length ----------------------------------------------------------------------
def long_functions(modules: Mapping[str, Module], limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """Functions and methods (nested ones too) longer than ``limit`` lines, ``def`` line to last line."""
    offenders = []
    for module in modules.values():
        for node in ast.walk(module.tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > limit:
                    offenders.append((-length, f"{module.path}:{node.lineno} {node.name}: {length} lines"))
    return [text for _, text in sorted(offenders)]


# -- check 4: record keys --------------------------------------------------------------------------
def record_key_names() -> frozenset[str]:
    """The trial record's attribute names: the fields of ``TrialRecord`` (``extra`` is not one: it
    holds the keys of older versions and is never written as a key of its own)."""
    trial_record = pytest.importorskip("nas.record.trial_record")
    return frozenset(f.name for f in dataclasses.fields(trial_record.TrialRecord)) - {"extra"}


def _string(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _key_uses(tree: ast.AST) -> Iterator[tuple[int, int, str, str]]:
    """``(line, column, key, how)`` for each string used as a key: ``[...]``, ``.get(...)``, ``{...: }``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and _string(node.slice) is not None:
            yield node.slice.lineno, node.slice.col_offset + 1, _string(node.slice), "[...]"
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in KEY_METHODS and node.args and _string(node.args[0]) is not None):
            yield node.args[0].lineno, node.args[0].col_offset + 1, _string(node.args[0]), f".{node.func.attr}(...)"
        elif isinstance(node, ast.Dict):
            for key in node.keys:
                if _string(key) is not None:
                    yield key.lineno, key.col_offset + 1, _string(key), "{...: }"


def record_keys_outside_record(modules: Mapping[str, Module], names: frozenset[str]) -> list[str]:
    """String keys equal to a record attribute name in nas/ outside nas/record/."""
    offenders = []
    for module in modules.values():
        inside_nas = module.name == ROOT_NAS or module.name.startswith(ROOT_NAS + ".")
        if not inside_nas or module.name == RECORD or module.name.startswith(RECORD + "."):
            continue
        for line, column, key, how in _key_uses(module.tree):
            if key in names and (module.path, key) not in NAMESAKES:
                offenders.append(f"{module.path}:{line}:{column} {key!r} as {how}")
    return sorted(offenders, key=_path_line)


def _path_line(text: str) -> tuple[str, int, int]:
    path, line, column = text.split(" ", 1)[0].split(":")
    return path, int(line), int(column)


# -- the rules on the project ----------------------------------------------------------------------
def _fail_on(offenders: list[str], title: str) -> None:
    """Fail with every offender, one per line (no traceback: the list is the message)."""
    if offenders:
        pytest.fail(f"{len(offenders)} {title}:\n" + "\n".join(offenders), pytrace=False)


def test_no_import_circle(modules):
    _fail_on(import_cycles(modules), "import circles (shortest chain per group, then each import's line)")


def test_imports_follow_the_layers(modules):
    _fail_on(layer_violations(modules), "imports against " + " -> ".join(LAYERS) + " (edge_profiler apart)")


def test_no_long_function(modules):
    _fail_on(long_functions(modules), f"functions longer than {MAX_FUNCTION_LINES} lines")


def test_no_record_key_outside_record(modules):
    _fail_on(record_keys_outside_record(modules, record_key_names()),
             "trial-record keys spelled out outside nas/record/ (read and write a TrialRecord instead)")


# -- each rule can fail ----------------------------------------------------------------------------
def _synthetic(files: Mapping[str, str]) -> dict[str, Module]:
    return parse_modules(dict(files))


def test_cycle_check_finds_a_circle_through_a_lazy_relative_import():
    modules = _synthetic({
        "nas/__init__.py": "",
        "nas/strategies/__init__.py": "",
        "nas/strategies/_loop.py": "from nas.strategies._ray import run_ray\n",
        "nas/strategies/_ray.py": "def run_ray():\n    from ._loop import setup\n",
        "nas/strategies/_optuna.py": "from nas.strategies import _loop\n",
    })
    offenders = import_cycles(modules)
    assert len(offenders) == 1
    assert offenders[0].startswith("nas.strategies._loop -> nas.strategies._ray -> nas.strategies._loop")
    assert "nas/strategies/_ray.py:2" in offenders[0]


def test_cycle_check_accepts_a_tree():
    modules = _synthetic({"nas/__init__.py": "", "nas/a.py": "import nas.b\n", "nas/b.py": "import os\n"})
    assert import_cycles(modules) == []


@pytest.mark.parametrize(("path", "source", "expected"), [
    ("search_spaces/space.py", "import evaluators\n", "search_spaces imports evaluators"),
    ("evaluators/data.py", "def f():\n    from nas.record.study import open_study\n", "a layer above"),
    ("nas/record/study.py", "from nas.trial import pipeline\n", "a layer above"),
    ("nas/strategies/_loop.py", "import importlib\nimportlib.import_module('nas.results.front')\n",
     "a layer above"),
    ("nas/results/front.py", "from nas.cli import _study\n", "nothing outside nas/cli imports nas.cli"),
    ("edge_profiler/client.py", "import search_spaces\n", "edge_profiler imports search_spaces"),
    ("nas/cli/report.py", "from nas.cli.pareto import run\n", "CLI modules do not import one another"),
    ("nas/cli/report.py", "from ..cli import pareto\n", "CLI modules do not import one another"),
    ("nas/cli/_study.py", "from nas.cli import pareto\n", "CLI modules do not import one another"),
    ("nas/cli/pareto.py", "import nas.cli\n", "nor the dispatcher"),
    ("search_spaces/space.py", "from edge_profiler import client\n", "search_spaces imports edge_profiler"),
    ("nas/__init__.py", "from nas.record import study\n", "the root package nas imports nothing"),
    ("nas/newthing/x.py", "import os\n", "in no layer"),
])
def test_layer_check_finds(path, source, expected):
    files = dict.fromkeys([
        "nas/__init__.py", "nas/cli/__init__.py", "nas/cli/_study.py", "nas/cli/pareto.py", "nas/cli/report.py",
        "nas/record/__init__.py", "nas/record/study.py", "nas/trial/__init__.py", "nas/trial/pipeline.py",
        "nas/results/__init__.py", "nas/results/front.py", "nas/strategies/__init__.py",
        "search_spaces/__init__.py", "evaluators/__init__.py", "edge_profiler/__init__.py",
    ], "")
    files[path] = source
    offenders = layer_violations(_synthetic(files))
    assert any(expected in o for o in offenders), offenders


def test_layer_check_accepts_the_allowed_directions():
    modules = _synthetic({
        "nas/__init__.py": "", "nas/cli/__init__.py": "def main():\n    import nas.cli.report\n",
        "nas/cli/_study.py": "from nas.record import study\n",
        "nas/cli/report.py": "from nas.cli._study import x\nfrom nas.results import front\nimport edge_profiler\n",
        "nas/results/__init__.py": "", "nas/results/front.py": "from nas.record.study import open_study\n",
        "nas/record/__init__.py": "", "nas/record/study.py": "import evaluators\nimport nas\n",
        "nas/trial/__init__.py": "", "nas/trial/pipeline.py": "from nas.record import study\nimport nas.config\n",
        "nas/config/__init__.py": "from nas.record.study import open_study\nimport evaluators\n",
        "evaluators/__init__.py": "import search_spaces\nfrom edge_profiler import client\n",
        "search_spaces/__init__.py": "import numpy\n", "edge_profiler/__init__.py": "",
        "edge_profiler/client.py": "from . import errors\n", "edge_profiler/errors.py": "",
    })
    assert layer_violations(modules) == []


def _function(name: str, lines: int, indent: str = "") -> str:
    """A function of exactly ``lines`` lines (``def`` line included)."""
    return f"{indent}def {name}():\n" + f"{indent}    x = 1\n" * (lines - 1)


def test_long_function_check_counts_methods_and_nested_functions():
    modules = _synthetic({
        "evaluators/long.py": "class C:\n" + _function("method", MAX_FUNCTION_LINES + 1, indent="    "),
        "nas/nested.py": "def outer():\n" + _function("inner", MAX_FUNCTION_LINES + 5, indent="    "),
        "nas/ok.py": _function("just_fits", MAX_FUNCTION_LINES),
    })
    offenders = long_functions(modules)
    assert offenders == [
        f"nas/nested.py:1 outer: {MAX_FUNCTION_LINES + 6} lines",
        f"nas/nested.py:2 inner: {MAX_FUNCTION_LINES + 5} lines",
        f"evaluators/long.py:2 method: {MAX_FUNCTION_LINES + 1} lines",
    ], offenders


def test_record_key_check_finds_each_kind_of_use():
    names = frozenset({"accuracy_int8", "status", "size_bytes", "architecture"})
    source = (
        "def f(trial, attrs, study):\n"
        "    a = trial.user_attrs['accuracy_int8']\n"
        "    b = attrs.get('status')\n"
        "    trial.set_user_attr('size_bytes', 3)\n"
        "    return {'architecture': a, 'other': b}\n"
        "    return attrs['unrelated'], attrs.pop('unrelated'), getattr(attrs, 'status')\n"
    )
    modules = _synthetic({"nas/trial/pipeline.py": source, "nas/record/study.py": source})
    offenders = record_keys_outside_record(modules, names)
    assert [o.split(" ", 1)[0] for o in offenders] == [
        "nas/trial/pipeline.py:2:26", "nas/trial/pipeline.py:3:19", "nas/trial/pipeline.py:4:25",
        "nas/trial/pipeline.py:5:13"], offenders
    assert "'accuracy_int8' as [...]" in offenders[0] and "'size_bytes' as .set_user_attr(...)" in offenders[2]


def test_record_key_names_follow_the_record():
    names = record_key_names()
    assert {"accuracy_int8", "latency_ms_p50", "size_bytes", "status", "architecture"} <= names
    assert "extra" not in names
