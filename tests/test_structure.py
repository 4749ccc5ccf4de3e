"""
The package's shape, read statically (no import runs): few entries at its top level, short modules,
short functions, and no import cycle between its modules, imports inside functions and under
``TYPE_CHECKING`` included (a cycle through a type hint is still two modules that need each other).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "moengage_provider"
MAX_TOP_LEVEL_ENTRIES = 10
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60

SANDBOX = "moengage_provider.testing.sandbox"


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {
        module_name(path): path for path in sorted(PACKAGE.rglob("*.py")) if "__pycache__" not in path.parts
    }


def in_sandbox(name: str) -> bool:
    return name == SANDBOX or name.startswith(SANDBOX + ".")


def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


# -- top level --------------------------------------------------------------------------------------


def test_the_package_top_level_has_at_most_ten_entries():
    entries = sorted(p.name for p in PACKAGE.iterdir() if p.name != "__pycache__")
    assert len(entries) <= MAX_TOP_LEVEL_ENTRIES, entries


def test_the_readme_tree_lists_each_folder_of_the_package():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    tree = re.search(r"```text\nmoengage_provider/\n(.*?)```", readme, re.DOTALL)
    assert tree, "README's 'Where things live' section lost the tree of moengage_provider/"
    listed = [line.split()[0] for line in tree.group(1).splitlines() if line.strip()]
    entries = [
        p.name + ("/" if p.is_dir() else "")
        for p in PACKAGE.iterdir()
        if p.name not in ("__pycache__", "__init__.py", "py.typed")
    ]
    assert sorted(listed) == sorted(entries)


# -- module length ----------------------------------------------------------------------------------


def long_modules(select) -> list[str]:
    found = []
    for name, path in modules().items():
        if select(name):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_MODULE_LINES:
                found.append(f"{name}: {lines} lines")
    return found


def test_no_module_is_over_400_lines():
    assert long_modules(lambda name: True) == []


# -- function length --------------------------------------------------------------------------------


def _functions(
    tree: ast.AST, prefix: str = ""
) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield prefix + node.name, node
            yield from _functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}{node.name}.")
        else:
            yield from _functions(node, prefix)


def returns_only_a_literal(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Data written as a function (``get_provider_info``): an optional docstring, then ``return {...}``."""
    body = list(function.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return (
        len(body) == 1
        and isinstance(body[0], ast.Return)
        and isinstance(body[0].value, (ast.Dict, ast.List, ast.Tuple, ast.Set))
    )


def long_functions(select) -> list[str]:
    found = []
    for name, path in modules().items():
        if not select(name):
            continue
        for qualname, function in _functions(parse(path)):
            first = min([function.lineno, *(d.lineno for d in function.decorator_list)])
            length = (function.end_lineno or function.lineno) - first + 1
            if length > MAX_FUNCTION_LINES and not returns_only_a_literal(function):
                found.append(f"{name}.{qualname}: {length} lines")
    return found


def test_no_function_is_over_60_lines():
    assert long_functions(lambda name: not in_sandbox(name)) == []


def test_no_function_in_the_sandbox_is_over_60_lines():
    assert long_functions(in_sandbox) == []


def test_the_literal_exemption_covers_only_data():
    """``get_provider_info`` is data; a function that computes is not exempt, whatever its return."""
    data = ast.parse("def f():\n    '''doc'''\n    return {'a': [1, 2]}\n").body[0]
    code = ast.parse("def f():\n    x = 1\n    return {'a': x}\n").body[0]
    assert isinstance(data, ast.FunctionDef) and isinstance(code, ast.FunctionDef)
    assert returns_only_a_literal(data) and not returns_only_a_literal(code)


# -- import cycles ----------------------------------------------------------------------------------


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """Every module of the package that ``name`` imports, anywhere in its file (in functions, under
    ``TYPE_CHECKING``): ``import a.b`` names ``a.b``; ``from a import b`` names ``a.b`` when that is a
    module, else ``a``. (A package's ``__init__`` that imports its own modules is not a cycle with
    them: Python runs it first, whichever of them is imported.)"""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(parse(path)):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names
            ]
        found.update(target for target in targets if target in known and target != name)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = modules()
    known = set(paths)
    return {name: imported_modules(name, path, known) for name, path in paths.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def the_sandbox_cycle(component: list[str]) -> bool:
    """The sandbox's own cycle (its server imports ``testing/dag_runs``, which imports the sandbox)."""
    return any(in_sandbox(m) for m in component) and all(
        m.startswith("moengage_provider.testing") for m in component
    )


def test_no_import_cycle_between_the_package_modules():
    assert [c for c in cycles(import_graph()) if not the_sandbox_cycle(c)] == []


def test_no_import_cycle_in_the_sandbox():
    assert [c for c in cycles(import_graph()) if the_sandbox_cycle(c)] == []


def test_imports_inside_functions_and_for_type_hints_count(tmp_path: Path):
    source = tmp_path / "mod.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from pkg.hinted import Thing\n"
        "def f():\n"
        "    from pkg import lazy\n"
        "    import pkg.sub.deep\n"
    )
    known = {"pkg", "pkg.hinted", "pkg.lazy", "pkg.sub", "pkg.sub.deep", "pkg.mod", "pkg.other"}
    assert imported_modules("pkg.mod", source, known) == {"pkg.hinted", "pkg.lazy", "pkg.sub.deep"}


def test_the_cycle_finder_finds_each_cycle_once():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "e"}, "e": {"d"}, "f": set()}
    assert sorted(cycles(graph)) == [["a", "b", "c"], ["d", "e"]]
