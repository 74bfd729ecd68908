"""The docs stay true: quoted code exists in the files it names, and examples run."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```", re.M | re.S)


SNIPPET = re.compile(r'^--8<-- "([^"]+)"$', re.M)
SNIPPET_BASE = DOCS / "examples"


def code_blocks(path: Path) -> list[tuple[str, str, str]]:
    """(language, fence attributes, code) for every fenced block of a Markdown file,
    with ``--8<-- "file"`` lines replaced by the file, as the docs build does."""
    text = SNIPPET.sub(lambda m: (SNIPPET_BASE / m.group(1)).read_text(), path.read_text())
    return [(m.group(1), m.group(2), m.group(3)) for m in FENCE.finditer(text)]


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
VISION_SOURCE = ROOT / "plugins" / "nnkit-vision" / "src"


def provide_vision(registry, monkeypatch) -> None:
    """The image layers the vision page uses: from the checkout when the nnkit-vision
    distribution is not installed (the README's test command does not install it)."""
    if not registry.has("layer", "conv2d"):
        monkeypatch.syspath_prepend(str(VISION_SOURCE))
        registry.add_plugin(importlib.import_module("nnkit_vision"), "nnkit_vision")


#: Pages whose examples a test of their own runs, and checks what they print.
RUN_BY_THEIR_OWN_TEST = {"vision.md"}
RUN_HERE = [page for page in PAGES if page.name not in RUN_BY_THEIR_OWN_TEST]


@pytest.mark.parametrize("path", RUN_HERE, ids=[p.name for p in RUN_HERE])
def test_every_python_example_on_a_page_runs(
    path, capsys, tmp_path, monkeypatch, isolated_registry
):
    """The blocks of a page run in order in one namespace, as a reader would paste them,
    with the guide's example plugin installed; quoted source (blocks with a title) is
    checked above instead."""
    monkeypatch.syspath_prepend(str(SNIPPET_BASE / "acme-nn"))
    registry = isolated_registry()
    registry.add_plugin(importlib.import_module("acme_nn"), "acme")
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


def test_the_command_line_reference_is_the_help_of_every_command():
    import sys

    sys.path.insert(0, str(DOCS / "hooks"))
    try:
        import cli_help
    finally:
        sys.path.pop(0)
    from nnkit.cli import build_parser

    page = cli_help.render((DOCS / "cli.md").read_text())
    commands = build_parser()._subparsers._group_actions[0].choices
    for name, parser in commands.items():
        assert f"usage: nnkit {name}" in page, name
        for action in parser._actions:
            for option in action.option_strings:
                assert option in page, (name, option)
    assert "<!-- nnkit-help" not in page


def test_the_guide_lists_every_check_of_the_kit():
    from nnkit.testing import KIND_CHECKS, common_checks

    page = (DOCS / "writing-plugins.md").read_text()
    names = [f.__name__ for checks in KIND_CHECKS.values() for f in checks]
    names += [f.__name__ for f in common_checks.CHECKS]
    assert [name for name in names if f"| `{name}` |" not in page] == []


def test_the_guides_plugin_package_is_under_40_lines():
    files = sorted((DOCS / "examples" / "acme-nn").iterdir())
    lines = [line for f in files for line in f.read_text().splitlines() if line.strip()]
    assert [f.name for f in files] == ["acme_nn.py", "pyproject.toml", "test_acme_nn.py"]
    assert len(lines) < 40
    assert f"Three files, {len(lines)} lines" in (DOCS / "writing-plugins.md").read_text()


def test_every_public_name_is_in_the_api_reference():
    import nnkit

    api = (DOCS / "api.md").read_text()
    missing = [
        name
        for name in nnkit.__all__
        if f"::: nnkit.{name}\n" not in api and f"`nnkit.{name}`" not in api
    ]
    assert missing == []


def test_the_tutorial_says_what_its_code_does(tmp_path, monkeypatch, isolated_registry):
    """The numbers the tutorial states in words are the ones its code produces."""
    import numpy as np

    monkeypatch.syspath_prepend(str(SNIPPET_BASE / "acme-nn"))
    isolated_registry().add_plugin(importlib.import_module("acme_nn"), "acme")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for language, _attributes, code in code_blocks(DOCS / "tutorial.md"):
        if language == "python":
            exec(compile(code, "tutorial.md", "exec"), namespace)
    page = (DOCS / "tutorial.md").read_text()
    xor = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    assert namespace["net"].predict(xor).round().ravel().tolist() == [0, 1, 1, 0]
    wrong = len(namespace["wrong"])
    assert f"These are the {wrong}" in page
    assert f"# {wrong} of 449" in page
    accuracy = namespace["digits"].evaluate(namespace["X_test"], namespace["y_test"])["accuracy"]
    assert f"'accuracy': {accuracy:.3f}" in page
    mae = namespace["curve"].evaluate(namespace["x_test"], namespace["sin_test"])["mae"]
    assert f"'mae': {mae:.3f}" in page and mae < 0.06
    assert np.array_equal(
        namespace["again"].predict(namespace["X_test"]),
        namespace["digits"].predict(namespace["X_test"]),
    )


def test_the_vision_page_runs_and_says_what_its_cnn_scores(
    tmp_path, monkeypatch, isolated_registry
):
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    provide_vision(isolated_registry(), monkeypatch)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    # The CNN's products are small: on a busy machine BLAS threads only wait for each other.
    with threadpool_limits(1):
        for language, attributes, code in code_blocks(DOCS / "vision.md"):
            if language == "python" and "title=" not in attributes:
                exec(compile(code, "vision.md", "exec"), namespace)
    page = (DOCS / "vision.md").read_text()
    y_test = namespace["y_test"]
    accuracy = namespace["cnn"].evaluate(namespace["X_test"], y_test)["accuracy"]
    assert accuracy >= 0.98 and f"'accuracy': {accuracy:.3f}" in page
    wrong = round((1 - accuracy) * len(y_test))
    assert f"It misclassifies {wrong} of the {len(y_test)} test digits" in page
