"""The house rules: imports run one way, between modules and between subpackages.

The graph is read from the source, imports inside functions included (a lazy import
that only hides a circle still is one); imports under ``if TYPE_CHECKING:`` are left
out, since they never run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import nnkit

CORE = Path(nnkit.__file__).parent


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _under_type_checking(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
            if name == "TYPE_CHECKING":
                skipped.update(id(inner) for inner in ast.walk(node))
    return skipped


def imported_modules(path: Path, module: str, known: set[str]) -> Iterator[str]:
    """The package's modules that ``path`` imports when it runs."""
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped = _under_type_checking(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            # `from pkg import submodule` imports the submodule; `from pkg import name`
            # runs the package's __init__.
            targets = [f"{source}.{alias.name}" for alias in node.names]
            targets = [t if t in known else source for t in targets]
        else:
            continue
        yield from (target for target in targets if target in known and target != module)


def import_graph(root: Path) -> dict[str, set[str]]:
    files = {module_name(path, root): path for path in root.rglob("*.py")}
    known = set(files)
    return {name: set(imported_modules(path, name, known)) for name, path in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of the graph, as the list of its nodes with the first repeated at the
    end; ``None`` if there is none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def subpackage_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def subpackage_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph between ``nnkit.<subpackage>`` nodes (a top-level module is its own node);
    the package's own ``__init__``, which re-exports the public names, is left out."""
    packages: dict[str, set[str]] = {}
    for module, targets in graph.items():
        if module == "nnkit":
            continue
        source = subpackage_of(module)
        packages.setdefault(source, set()).update(
            subpackage_of(t) for t in targets if t != "nnkit" and subpackage_of(t) != source
        )
    return packages


def test_no_module_imports_itself_through_a_circle():
    cycle = find_cycle(import_graph(CORE))
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_subpackages_import_one_way():
    cycle = find_cycle(subpackage_graph(import_graph(CORE)))
    assert cycle is None, "subpackages import each other: " + " -> ".join(cycle or [])


def test_the_graph_catches_a_circle_hidden_in_a_function(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.sub.b import thing\n")
    (package / "sub" / "b.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from pkg import c\n"
        "def thing():\n    from pkg.a import other\n"
    )
    (package / "c.py").write_text("import pkg.a\n")
    graph = import_graph(package)
    assert graph["pkg.sub.b"] == {"pkg.a"}  # the TYPE_CHECKING import is not counted
    assert find_cycle(graph) == ["pkg.a", "pkg.sub.b", "pkg.a"]
    assert find_cycle(subpackage_graph(graph)) == ["pkg.a", "pkg.sub", "pkg.a"]
    (package / "sub" / "b.py").write_text("def thing():\n    pass\n")
    assert find_cycle(import_graph(package)) is None


def test_the_core_package_map_in_the_contributing_guide_names_every_subpackage():
    guide = (CORE.parent / "docs" / "contributing.md").read_text()
    subpackages = sorted(p.name for p in CORE.iterdir() if (p / "__init__.py").is_file())
    missing = [name for name in subpackages if f"`nnkit.{name}`" not in guide]
    assert missing == []
