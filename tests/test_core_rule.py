"""The rule that makes nnkit a framework: the core never imports a plugin."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import nnkit

CORE = Path(nnkit.__file__).parent
PLUGIN_PACKAGES = {path.name for path in (CORE.parent / "plugins").iterdir() if path.is_dir()} | {
    "nnkit_std",
    "nnkit_extras",
}


def imported_and_named_modules(path: Path) -> set[str]:
    """Every module a source file imports, and every string constant that names one."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.add(node.value)  # catches importlib.import_module("nnkit_std") and the like
    return names


def test_no_core_module_imports_or_names_a_plugin_package():
    offenders = []
    for path in sorted(CORE.rglob("*.py")):
        for name in imported_and_named_modules(path):
            if name.split(".")[0] in PLUGIN_PACKAGES:
                offenders.append(f"{path.relative_to(CORE.parent)}: {name}")
    assert not offenders, "the core must reach plugins only through entry points:\n" + "\n".join(
        offenders
    )


def test_the_walk_would_catch_an_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import nnkit_std.activations\nfrom nnkit_std import losses\nx = 'nnkit_std'\n"
    )
    assert {"nnkit_std.activations", "nnkit_std"} <= imported_and_named_modules(sample)


def test_importing_nnkit_and_using_the_registry_loads_the_plugin_only_via_its_entry_point():
    code = (
        "import sys, nnkit\n"
        "assert 'nnkit_std' not in sys.modules, 'imported by the core itself'\n"
        "nnkit.activation('relu')\n"
        "print(sys.modules['nnkit_std'].__name__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "nnkit_std"
