"""The docs stay true: quoted code exists in the files it names, and examples run."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```", re.M | re.S)


def code_blocks(path: Path) -> list[tuple[str, str, str]]:
    """(language, fence attributes, code) for every fenced block of a Markdown file."""
    return [(m.group(1), m.group(2), m.group(3)) for m in FENCE.finditer(path.read_text())]


QUOTES = [
    (page.name, title, code)
    for page in sorted(DOCS.glob("*.md"))
    for _, attributes, code in code_blocks(page)
    if (title := re.search(r'title="([^"]+)"', attributes)) and (title := title.group(1))
]


@pytest.mark.parametrize("page, source, code", QUOTES, ids=[f"{p}:{s}" for p, s, _ in QUOTES])
def test_every_quoted_line_is_in_the_file_it_names(page, source, code):
    text = (ROOT / source).read_text()
    source_lines = {line.strip() for line in text.splitlines()}
    missing = [
        line for line in code.splitlines() if line.strip() and line.strip() not in source_lines
    ]
    assert not missing, f"{page} quotes lines that are not in {source}: {missing}"


def test_the_math_page_quotes_each_part_of_the_algorithm():
    assert {source for page, source, _ in QUOTES if page == "math.md"} >= {
        "nnkit/dense.py",
        "nnkit/network.py",
        "nnkit/losses.py",
        "plugins/nnkit_std/optimizers.py",
    }


PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


@pytest.mark.parametrize("path", PAGES, ids=[p.name for p in PAGES])
def test_every_python_example_on_a_page_runs(path, capsys, tmp_path, monkeypatch):
    """The blocks of a page run in order in one namespace, as a reader would paste them;
    quoted source (blocks with a title) is checked above instead."""
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for language, attributes, code in code_blocks(path):
        if language == "python" and "title=" not in attributes:
            exec(compile(code, str(path), "exec"), namespace)


def test_the_first_network_example_prints_its_test_scores(capsys):
    (code, *_) = [c for lang, _, c in code_blocks(ROOT / "README.md") if lang == "python"]
    exec(compile(code, "README.md", "exec"), {})
    printed = ast.literal_eval(capsys.readouterr().out.strip())  # the test scores it prints
    assert printed["accuracy"] >= 0.95


def test_the_training_page_shows_what_its_examples_print(capsys):
    namespace: dict = {}
    for language, _, code in code_blocks(DOCS / "training.md"):
        if language == "python":
            exec(compile(code, "training.md", "exec"), namespace)
    # The schedule example's comment states the rates it prints.
    assert "[0.001, 0.0005, 0.00025]" in capsys.readouterr().out


def test_the_readme_gives_the_two_setup_commands():
    readme = (ROOT / "README.md").read_text()
    assert "pip install . && nnkit train" in readme
    assert 'pip install -e ".[dev]" && pytest' in readme


def test_the_plugin_page_example_is_a_working_plugin():
    import types

    import numpy as np

    import nnkit
    from nnkit.registry import Registry

    (code,) = [
        c for lang, _, c in code_blocks(DOCS / "plugins.md") if lang == "python" and "hookimpl" in c
    ]
    module = types.ModuleType("docs_plugin")
    exec(compile(code, "plugins.md", "exec"), module.__dict__)
    registry = Registry.from_entry_points()
    assert registry.add_plugin(module, "acme")
    softsign = registry.create("activation", "acme.softsign")
    Z = np.array([[-2.0, 0.0, 3.0]])
    np.testing.assert_allclose(softsign.forward(Z), [[-2 / 3, 0, 0.75]])
    assert isinstance(softsign, nnkit.Activation)


def test_the_command_line_page_documents_every_option():
    from nnkit.cli import build_parser

    page = (DOCS / "cli.md").read_text()
    commands = build_parser()._subparsers._group_actions[0].choices
    for name, parser in commands.items():
        assert f"## `nnkit {name}" in page, name
        for action in parser._actions:
            long = [o for o in action.option_strings if o.startswith("--") and o != "--help"]
            assert not long or f"`{long[0]}" in page, (name, long)
