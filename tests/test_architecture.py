"""The package's shape: no import cycles between its modules, the hook module imported by
no one, and the modules that run on every pytest start free of heavy imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pytest_tflite"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """Every module of the package that ``path`` imports, at the top, in a function or for
    type checking alike: a cycle through a lazy import is a cycle all the same."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                origin = ".".join(base + ([node.module] if node.module else []))
            else:
                origin = node.module or ""
            found.add(origin)
            found.update(f"{origin}.{alias.name}" for alias in node.names)
    return {m for m in found if m in known and m != name}


def import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    known = {module_name(p) for p in paths}
    graph = {module_name(p): imported_modules(p, known) for p in paths}
    for name in graph:  # a package's __init__ re-exporting its modules is not a cycle
        graph[name] = {m for m in graph[name] if not name.startswith(m + ".")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_one_that_imports_it():
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_nothing_imports_the_hook_module():
    importers = [name for name, imports in import_graph().items() if "pytest_tflite.plugin" in imports]
    assert importers == []


@pytest.mark.parametrize("heavy", [
    "tensorflow", "numpy", "tensorflow_model_optimization", "filelock", "tabulate", "ai_edge_quantizer", "torch",
    "litert_torch",
])
def test_loading_the_plugin_imports_nothing_heavy(heavy):
    code = (
        "import sys, pytest, pytest_tflite.plugin; "
        f"print(sorted(m for m in sys.modules if m == {heavy!r} or m.startswith({heavy!r} + '.')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_loading_the_plugin_imports_no_training_code():
    code = "import sys, pytest_tflite.plugin; print(sorted(m for m in sys.modules if m.startswith('pytest_tflite')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    loaded = eval(done.stdout)
    assert "pytest_tflite.conversion.training" not in loaded and "pytest_tflite.conversion.rebuild" not in loaded


@pytest.mark.parametrize("name", __import__("pytest_tflite").__all__)
def test_every_public_name_imports_from_the_package(name):
    import pytest_tflite

    assert getattr(pytest_tflite, name) is not None


def test_the_documented_compiler_log_path_keeps_working():
    from pytest_tflite.targets.edgetpu import format_compiler_log

    assert callable(format_compiler_log)
