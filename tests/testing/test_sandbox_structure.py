"""The sandbox's shape, read statically: no import cycle between its modules (imports inside
functions and under ``TYPE_CHECKING`` count), no function over 60 lines, no module over 400."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

import moengage_provider.testing.sandbox as sandbox_package

PACKAGE = Path(sandbox_package.__file__).resolve().parent
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 400


def _modules() -> dict[str, Path]:
    found = {}
    for file in sorted(PACKAGE.rglob("*.py")):
        parts = ["moengage_provider", "testing", *file.relative_to(PACKAGE.parent).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = file
    return found


def _imported(module: str, file: Path, modules: dict[str, Path]) -> set[str]:
    """Every module of the package that ``module`` imports, anywhere in its text."""
    targets: set[str] = set()
    package = module if file.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            submodules = {f"{base}.{alias.name}" for alias in node.names} & modules.keys()
            # ``from package import submodule`` imports the submodule, not a name of the package.
            targets.update(submodules if len(submodules) == len(node.names) else {base, *submodules})
    return {t for t in targets if t in modules and t != module}


def test_no_import_cycle_in_the_sandbox():
    modules = _modules()
    graph = {module: _imported(module, file, modules) for module, file in modules.items()}
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as cycle:
        pytest.fail(f"import cycle: {' -> '.join(cycle.args[1])}")


@pytest.mark.parametrize(
    "file", sorted(PACKAGE.rglob("*.py")), ids=lambda f: f.relative_to(PACKAGE).as_posix()
)
def test_functions_and_modules_stay_short(file: Path):
    source = file.read_text(encoding="utf-8")
    assert len(source.splitlines()) <= MAX_MODULE_LINES
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, long
