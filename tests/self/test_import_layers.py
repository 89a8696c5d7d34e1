"""synthgate's import graph has layers and no cycle: a module imports only its own layer or lower ones.

Every import counts, function-level (deferred) ones too; only `if TYPE_CHECKING:` blocks are left out (they never
run). The layers are declared once, in LAYERS, lowest first; ARCHITECTURE.md describes the same table.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import synthgate

ROOT = Path(synthgate.__file__).parent

# lowest first: a module may import modules of its own layer and of the layers before it, never after
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("foundation", ("synthgate", "synthgate._bundled", "synthgate.bundled", "synthgate.redact", "synthgate.bounded",
                    "synthgate.filelock", "synthgate.appended", "synthgate.procs", "synthgate.results",
                    "synthgate.hookspecs", "synthgate.session", "synthgate.console", "synthgate.run_context",
                    "synthgate.stage_options", "synthgate.run_state")),
    ("reports", ("synthgate.reports", "synthgate.scrub", "synthgate.e2e.evidence")),
    ("profile", ("synthgate.profile", "synthgate.fuzz.local_spec")),
    ("transport", ("synthgate.http", "synthgate.check_client", "synthgate.server_errors", "synthgate.version_pin")),
    ("checks", ("synthgate.checks", "synthgate.auth", "synthgate.readiness", "synthgate.accept", "synthgate.debt")),
    ("engines", ("synthgate.e2e", "synthgate.fuzz", "synthgate.loadgen", "synthgate.store", "synthgate.baseline",
                 "synthgate.baseline_source", "synthgate.deadline", "synthgate.demo", "synthgate.target")),
    ("stages", ("synthgate.stages", "synthgate.plugin", "synthgate.plugin_user")),
    ("orchestration", ("synthgate.gate", "synthgate.rollback", "synthgate.probe", "synthgate.rollout")),
    ("cli", ("synthgate.cli", "synthgate.__main__", "synthgate.project")),
]


@functools.cache
def module_names() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name)."""
    out = {}
    for file in ROOT.rglob("*.py"):
        parts = ["synthgate", *file.relative_to(ROOT).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = file
    return out


def layer_of(module: str) -> int:
    """The index of the module's layer: the longest matching prefix in LAYERS wins ("synthgate" is itself only)."""
    best, best_len = -1, -1
    for index, (_name, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            inside = module.startswith(prefix + ".") and prefix != "synthgate"
            if (module == prefix or inside) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    if best < 0:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS (and to ARCHITECTURE.md)")
    return best


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for sub in node.body:
                lines.update(n.lineno for n in ast.walk(sub) if hasattr(n, "lineno"))
    return lines


@functools.cache
def import_graph() -> dict[str, dict[str, int]]:
    """module -> {imported synthgate module: line}, deferred imports included, TYPE_CHECKING ones not."""
    mods = module_names()

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, dict[str, int]] = {}
    for module, file in mods.items():
        tree = ast.parse(file.read_text(encoding="utf-8"))
        skip = _type_checking_lines(tree)
        package = module if file.name == "__init__.py" else module.rpartition(".")[0]
        edges: dict[str, int] = {}
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) in skip:
                continue
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join(up + ([base] if base else []))
                names = [base] + [f"{base}.{alias.name}" for alias in node.names]
            for name in names:
                found = resolve(name)
                if found and found != module and found.startswith("synthgate"):
                    edges.setdefault(found, node.lineno)
        graph[module] = edges
    return graph


def strongly_connected(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Tarjan's components of more than one module (a package and its own submodules excepted)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return [c for c in found
            if not all(x == c[0] or x.startswith(c[0] + ".") or c[0].startswith(x + ".") for x in c)]


def test_no_lower_layer_imports_a_higher_one() -> None:
    graph = import_graph()
    assert {layer_of(m) for m in graph}  # every module is in a layer (layer_of raises otherwise)
    wrong = [f"{module} ({LAYERS[layer_of(module)][0]}) imports {target} ({LAYERS[layer_of(target)][0]}), "
             f"line {line}" for module, edges in sorted(graph.items()) for target, line in sorted(edges.items())
             if layer_of(target) > layer_of(module)]
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_no_import_cycle() -> None:
    cycles = strongly_connected(import_graph())
    assert not cycles, "import cycles (deferred imports included): " + "; ".join(", ".join(c) for c in cycles)


def deferred_imports() -> list[tuple[str, int, str]]:
    """(module, line, reason-bearing text) of every function-level import of a synthgate module.

    The text is the import's line and the import lines right above it: one comment serves a block of imports."""
    out = []
    for module, file in module_names().items():
        text = file.read_text(encoding="utf-8")
        lines = text.splitlines()
        for fn in ast.walk(ast.parse(text)):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("synthgate") or (
                        isinstance(node, ast.Import) and any(a.name.startswith("synthgate") for a in node.names)):
                    first = node.lineno - 1
                    while first > 0 and lines[first - 1].lstrip().startswith(("from ", "import ")):
                        first -= 1
                    out.append((module, node.lineno, "\n".join(lines[first:node.lineno])))
    return out


def test_a_deferred_import_says_why() -> None:
    """A function-level import is a start-up or optional-dependency deferral, with its reason on the line."""
    silent = [f"{module}:{line}: {text.splitlines()[-1].strip()}" for module, line, text in deferred_imports()
              if "#" not in text]
    assert not silent, "function-level imports without a reason (hoist them, or say why):\n" + "\n".join(silent)


def test_the_checker_sees_deferred_imports_and_skips_type_checking_ones() -> None:
    graph = import_graph()
    # synthgate.cli defers its subcommands' imports for start-up speed: they still count
    assert "synthgate.gate" in graph["synthgate.cli"]
    # session.py imports Request under TYPE_CHECKING only: no edge
    assert "synthgate.profile.model" not in graph["synthgate.session"]
    assert layer_of("synthgate.checks.smoke") == layer_of("synthgate.checks")
    assert layer_of("synthgate.http") < layer_of("synthgate.checks.cold") < layer_of("synthgate.gate")
