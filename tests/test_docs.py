"""The docs stay true: quoted code exists in the files it names, and examples run."""

from __future__ import annotations

import ast
import importlib
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import NamedTuple

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
    missing = [  # a line "..." marks lines the excerpt leaves out
        line
        for line in code.splitlines()
        if line.strip() not in ("", "...") and line.strip() not in source_lines
    ]
    assert not missing, f"{page} quotes lines that are not in {source}: {missing}"


def test_the_math_page_quotes_each_part_of_the_algorithm():
    assert {source for page, source, _ in QUOTES if page == "math.md"} >= {
        "nnkit/layers/dense.py",
        "nnkit/engine/network.py",
        "nnkit/interfaces/loss.py",
        "plugins/nnkit_std/optimizers.py",
    }


PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
# A console block that installs the guide's example plugin, as a reader types it.
INSTALLS_ACME = re.compile(r"^\$ pip install \S*acme-nn$", re.M)


@pytest.fixture
def install_acme(tmp_path, monkeypatch) -> Iterator[Callable[[], None]]:
    """Install ``docs/examples/acme-nn`` as pip leaves it (the module and a dist-info
    naming its entry point on ``sys.path``), without touching the registry."""

    def install() -> None:
        site = tmp_path / "site-packages"
        info = site / "acme_nn-0.1.0.dist-info"
        info.mkdir(parents=True, exist_ok=True)
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-nn\nVersion: 0.1.0\n")
        (info / "entry_points.txt").write_text("[nnkit]\nacme = acme_nn\n")
        monkeypatch.syspath_prepend(str(SNIPPET_BASE / "acme-nn"))
        monkeypatch.syspath_prepend(str(site))

    yield install
    sys.modules.pop("acme_nn", None)


def run_page(
    path: Path, namespace: dict, install_acme: Callable[[], None], one_session: bool = False
) -> None:
    """Run a page's Python blocks in order in ``namespace``, with the example plugin.

    A page read as one session (the tutorial) gets the plugin where its console block
    installs it, after nnkit has loaded its plugins, as a reader's session does. Other
    pages show the plugin's files beside shell steps, so it is installed from the start.
    """
    import nnkit.registry.registry

    if not one_session:
        install_acme()
        nnkit.registry.registry.reload_plugins()
    for language, attributes, code in code_blocks(path):
        if one_session and language == "console" and INSTALLS_ACME.search(code):
            install_acme()
        elif language == "python" and "title=" not in attributes:
            exec(compile(code, str(path), "exec"), namespace)
VISION_SOURCE = ROOT / "plugins" / "nnkit-vision" / "src"


def provide_vision(registry, monkeypatch) -> None:
    """The image layers the vision page uses: from the checkout when the nnkit-vision
    distribution is not installed (the README's test command does not install it)."""
    if not registry.has("layer", "conv2d"):
        monkeypatch.syspath_prepend(str(VISION_SOURCE))
        registry.add_plugin(importlib.import_module("nnkit_vision"), "nnkit_vision")


TEXT_SOURCE = ROOT / "plugins" / "nnkit-text" / "src"
TEXT_README = ROOT / "plugins" / "nnkit-text" / "README.md"


def provide_text(registry, monkeypatch) -> None:
    """The sequence layers the text page uses: from the checkout when the nnkit-text
    distribution is not installed (the README's test command does not install it)."""
    if not registry.has("layer", "lstm"):
        monkeypatch.syspath_prepend(str(TEXT_SOURCE))
        registry.add_plugin(importlib.import_module("nnkit_text"), "nnkit_text")


#: Pages whose examples a test of their own runs, and checks what they print.
RUN_BY_THEIR_OWN_TEST = {"vision.md", "text.md"}
RUN_HERE = [page for page in PAGES if page.name not in RUN_BY_THEIR_OWN_TEST]


@pytest.mark.parametrize("path", RUN_HERE, ids=[p.name for p in RUN_HERE])
def test_every_python_example_on_a_page_runs(
    path, capsys, tmp_path, monkeypatch, isolated_registry, install_acme
):
    """The blocks of a page run in order in one namespace, as a reader would paste them,
    with the guide's example plugin installed where the page installs it; quoted source
    (blocks with a title) is checked above instead."""
    isolated_registry()
    monkeypatch.chdir(tmp_path)
    run_page(path, {"__name__": "__docs__"}, install_acme, one_session=path.name == "tutorial.md")


def test_the_first_network_example_prints_its_test_scores(capsys):
    (code, *_) = [c for lang, _, c in code_blocks(ROOT / "README.md") if lang == "python"]
    exec(compile(code, "README.md", "exec"), {})
    printed = ast.literal_eval(capsys.readouterr().out.strip())  # the test scores it prints
    assert printed["accuracy"] >= 0.95


def test_the_training_page_shows_what_its_examples_print(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the examples write a checkpoint, a CSV log, a plot
    namespace: dict = {}
    for language, _, code in code_blocks(DOCS / "training.md"):
        if language == "python":
            exec(compile(code, "training.md", "exec"), namespace)
    printed = capsys.readouterr().out
    # The schedule example's comment states the rates it prints.
    assert "[0.001, 0.0005, 0.00025]" in printed
    # The checkpoint example's header, the named metric variants, the untouched probe.
    assert "epoch,loss,accuracy,val_loss,val_accuracy\n" in printed
    assert "['auc', 'f1_macro', 'f1_micro', 'loss']" in printed
    assert re.search(r"^\S+ \d+ False$", printed, re.MULTILINE)  # suggestion, steps, built
    assert (tmp_path / "lr_find.png").exists() and (tmp_path / "best.nnkit").exists()


def test_the_table_page_shows_the_scores_its_training_command_prints(capsys, tmp_path, monkeypatch):
    """The console block of docs/tables.md shows the test scores the command prints on
    the table the page's first example writes (the run is seeded)."""
    monkeypatch.chdir(tmp_path)
    page = (DOCS / "tables.md").read_text()
    (make_table, *_) = [c for lang, _, c in code_blocks(DOCS / "tables.md") if lang == "python"]
    exec(compile(make_table, "tables.md", "exec"), {})
    from nnkit.cli import main

    main(["train", "--data", "penguins.csv", "--target", "species", "--epochs", "30",
          "--save", "penguins.nnkit"])
    printed = capsys.readouterr().out
    first_epoch = re.search(r"^epoch 1/30 .*$", printed, re.MULTILINE)
    scores = re.search(r"^test loss: [\d.]+, test accuracy: [\d.]+", printed, re.MULTILINE)
    assert first_epoch and scores
    assert first_epoch.group(0) in page and scores.group(0) in page


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

    api = "".join(page.read_text() for page in sorted((DOCS / "api").glob("*.md")))
    missing = [
        name
        for name in nnkit.__all__
        if f"::: nnkit.{name}\n" not in api and f"`nnkit.{name}`" not in api
    ]
    assert missing == []


def test_the_tutorial_says_what_its_code_does(
    tmp_path, monkeypatch, isolated_registry, install_acme
):
    """The numbers the tutorial states in words are the ones its code produces, with the
    plugin of lesson 5 installed mid-session, after nnkit has loaded its plugins."""
    import numpy as np

    isolated_registry()
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    run_page(DOCS / "tutorial.md", namespace, install_acme, one_session=True)
    assert namespace["soft"].evaluate(namespace["X_test"], namespace["y_test"])["accuracy"] > 0.9
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
    scores = namespace["scores"]
    assert f"# {scores['price_mae']:.3f} {scores['expensive_accuracy']:.3g}" in page
    assert scores["price_mae"] < 0.2 and scores["expensive_accuracy"] > 0.9


def test_quoted_excerpts_indent_only_under_a_block_or_a_gap():
    """An excerpt that leaves out the ``if``/``else`` around a line must say so with a
    ``...`` line, rather than show the line indented under nothing."""
    orphans = []
    for page, source, code in QUOTES:
        previous = ""
        for line in code.splitlines():
            if not line.strip():
                continue
            opens_block = previous.split("  #")[0].rstrip().endswith(":")
            if indent(line) > indent(previous) and not opens_block and previous.strip() != "...":
                orphans.append((page, source, line.strip()))
            previous = line
    assert orphans == []


def indent(line: str) -> int:
    return len(line) - len(line.lstrip())


# -- the built site, as a reader's browser gets it --------------------------------------

#: The longest line a code block shows without scrolling on a 1280 px wide screen: the
#: content column is about 730 px there, and the theme's code font is 8.6 px per
#: character (measured in headless Chromium; 85 fit, 86 scroll).
CODE_COLUMNS_AT_1280_PX = 84
#: Elements whose ``src`` or ``href`` the browser fetches while loading a page (not a
#: ``rel="canonical"`` link, which only names the page's published address).
FETCHED = re.compile(
    r"<(?:script|link(?![^>]*\brel=[\"']?canonical\b)|img|iframe|source|video|audio|embed)"
    r"\b[^>]*?\b(?:src|href)="
    r"[\"']?((?:https?:)?//[^\"'\s>]+)",
    re.I,
)


class _PageText(HTMLParser):
    """The text of a built page's article, and the text of each ``<pre>`` in it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.blocks: list[str] = []
        #: Indices of the blocks of generated output marked as wide tables, which scroll.
        self.wide: set[int] = set()
        self._article = self._pre = self._skip = 0
        self._wide = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self._article += tag == "article"
        self._skip += tag in ("script", "style")
        self._wide |= "nnkit-wide" in (dict(attrs).get("class") or "").split()
        if tag == "pre":
            self._pre += 1
            self.blocks.append("")
            if self._wide:
                self.wide.add(len(self.blocks) - 1)
                self._wide = False

    def handle_endtag(self, tag: str) -> None:
        self._article -= tag == "article"
        self._skip -= tag in ("script", "style")
        self._pre -= tag == "pre"

    def handle_data(self, data: str) -> None:
        if self._article and not self._skip:
            self.text.append(data)
            if self._pre:
                self.blocks[-1] += data


class Site(NamedTuple):
    """The built docs: every page's HTML by path, every file the site publishes, and its
    sitemap ("" if it has none)."""

    pages: dict[str, str]
    files: set[str]
    sitemap: str


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Site:
    """The docs built the strict way, as CI builds them."""
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), str(ROOT / "plugins"), env.get("PYTHONPATH", "")]
    )
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    pages = {p.relative_to(out).as_posix(): p.read_text() for p in out.rglob("*.html")}
    files = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    sitemap = out / "sitemap.xml"
    return Site(pages, files, sitemap.read_text() if sitemap.exists() else "")


def page_text(html: str) -> _PageText:
    parser = _PageText()
    parser.feed(html)
    return parser


def test_no_code_block_is_wider_than_the_page_at_1280_px(site):
    """Only a table a build-time run printed may be wider (a wrapped table is unreadable)."""
    too_wide = set()
    for path, html in site.pages.items():
        text = page_text(html)
        for index, block in enumerate(text.blocks):
            widest = max(block.splitlines(), key=len, default="")
            if index not in text.wide and len(widest) > CODE_COLUMNS_AT_1280_PX:
                too_wide.add((path, widest))
    assert too_wide == set()
    wide = [path for path, html in site.pages.items() if page_text(html).wide]
    assert wide == ["vision/index.html"]  # the CNN's summary() table


def test_no_markup_leftovers_in_the_rendered_text(site):
    leftovers = {
        (path, leftover)
        for path, html in site.pages.items()
        for leftover in ("\\|", "table::")
        if leftover in "".join(page_text(html).text)
    }
    assert leftovers == set()


def test_the_pages_load_nothing_from_other_hosts(site):
    fetched = {(path, url) for path, html in site.pages.items() for url in FETCHED.findall(html)}
    assert fetched == set()


def test_the_catalogue_lists_every_standard_component(site):
    import nnkit

    catalogue = site.pages["components/index.html"]
    standard = [c for c in nnkit.components() if c.plugin.name == "nnkit_std"]
    assert len(standard) > 30
    missing = [
        (c.kind, c.name)
        for c in standard
        if f'<tr id="{c.kind}-{c.name}"><td><code>{c.name}</code></td>' not in catalogue
    ]
    assert missing == []
    assert "<code>alpha=0.01</code>" in catalogue  # leaky_relu's argument, with its default


def test_the_site_shows_its_version_and_groups_its_navigation(site):
    import nnkit

    home = site.pages["index.html"]
    assert f"nnkit {nnkit.__version__}" in home
    groups = ["Get started", "User guide", "Concepts", "Extending", "Reference", "Project"]
    assert [g for g in groups if not re.search(rf">\s*{g}\s*<", home)] == []
    assert "md-footer__link--next" in home  # previous/next links at the foot of pages
    assert [f for f in site.files if f == "figures.py" or f.startswith("hooks/")] == []


#: The files of a sitemap, in the root of the built site.
SITEMAP_FILES = {"sitemap.xml", "sitemap.xml.gz"}


def sitemap_addresses(sitemap: str) -> list[str]:
    return sorted(re.findall(r"<loc>\s*(\S+?)\s*</loc>", sitemap))


def page_addresses(site_url: str, pages: Iterable[str]) -> list[str]:
    """The published address of every built page (404.html answers for missing ones)."""
    base = site_url.rstrip("/") + "/"
    return sorted(base + p.removesuffix("index.html") for p in pages if p != "404.html")


def test_the_site_has_a_sitemap_of_every_page_or_none(site):
    """A sitemap names pages by their published address, which only the publishing build
    knows (``NNKIT_DOCS_URL``): a build without it has no sitemap rather than an empty one."""
    site_url = os.environ.get("NNKIT_DOCS_URL")
    if site_url:
        assert sitemap_addresses(site.sitemap) == page_addresses(site_url, site.pages)
    else:
        assert SITEMAP_FILES & site.files == set()


@pytest.mark.parametrize("site_url", ["", "https://docs.example.org/nnkit"])
def test_the_sitemap_follows_the_address_the_publishing_build_gives(site_url, tmp_path):
    """mkdocs.yml reads ``NNKIT_DOCS_URL`` (docs/contributing.md): with it the sitemap
    lists every page under it, without it there is none. Only the sitemap's own hook and
    no API reference are built here, as the pages and their addresses are the same."""
    config = tmp_path / "mkdocs.yml"
    config.write_text(
        f"INHERIT: {ROOT / 'mkdocs.yml'}\ndocs_dir: {DOCS}\nstrict: false\n"
        f"hooks: [{DOCS / 'hooks' / 'sitemap.py'}]\nplugins: [search]\n"
    )
    out = tmp_path / "site"
    env = {k: v for k, v in os.environ.items() if k != "NNKIT_DOCS_URL"}
    env.update(NO_MKDOCS_2_WARNING="1", **({"NNKIT_DOCS_URL": site_url} if site_url else {}))
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "-f", str(config), "--site-dir", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    pages = [p.relative_to(out).as_posix() for p in out.rglob("*.html")]
    assert len(pages) > 20
    sitemaps = {p.name for p in out.iterdir()} & SITEMAP_FILES
    if site_url:
        assert sitemaps == SITEMAP_FILES
        addresses = sitemap_addresses((out / "sitemap.xml").read_text())
        assert addresses == page_addresses(site_url, pages)
    else:
        assert sitemaps == set()


def test_the_vision_page_runs_and_says_what_its_cnn_scores(
    capsys, tmp_path, monkeypatch, isolated_registry
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
    # The autoencoder's line: its test error, well below that of the mean image.
    (line,) = [s for s in capsys.readouterr().out.splitlines() if s.startswith("test error ")]
    assert f"# {line}\n" in page
    assert namespace["error"] < namespace["mean_image_error"] / 3


@pytest.mark.parametrize("path", [DOCS / "text.md", TEXT_README], ids=["text.md", "README"])
def test_the_text_examples_run_and_the_lstm_scores_what_they_say(
    path, capsys, tmp_path, monkeypatch, isolated_registry
):
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    provide_text(isolated_registry(), monkeypatch)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    # An LSTM's products are small: on a busy machine BLAS threads only wait for each other.
    with threadpool_limits(1):
        for language, attributes, code in code_blocks(path):
            if language == "python" and "title=" not in attributes:
                exec(compile(code, path.name, "exec"), namespace)
    (first, *_) = capsys.readouterr().out.splitlines()
    printed = ast.literal_eval(first)
    assert printed["accuracy"] >= 0.95
    assert f"'accuracy': {printed['accuracy']}}}" in path.read_text()
    if path.name == "text.md":  # the explicit mask input's example scores what it shows
        shown = namespace["accuracy"]["accuracy"]
        assert shown >= 0.9 and f'print(accuracy["accuracy"])   # {shown}' in path.read_text()


VISION_README = ROOT / "plugins" / "nnkit-vision" / "README.md"


@pytest.mark.parametrize("path", [DOCS / "vision.md", VISION_README], ids=["vision.md", "README"])
def test_the_image_examples_keep_the_digits_in_0_to_1(path, monkeypatch, isolated_registry):
    """``load_digits`` already returns values in 0..1: an example that divides them again
    trains on images 16 times too dark."""
    from threadpoolctl import threadpool_limits

    provide_vision(isolated_registry(), monkeypatch)
    (first, *_) = [c for lang, _, c in code_blocks(path) if lang == "python"]
    namespace: dict = {"__name__": "__docs__"}
    with threadpool_limits(1):
        exec(compile(first.split("\ncnn = ")[0], str(path), "exec"), namespace)
    assert namespace["images"].shape == (1797, 1, 8, 8)
    assert namespace["images"].max() == 1.0


def test_the_vision_readme_example_trains_evaluates_and_prints_its_score(
    capsys, monkeypatch, isolated_registry
):
    from threadpoolctl import threadpool_limits

    provide_vision(isolated_registry(), monkeypatch)
    (code, *_) = [c for lang, _, c in code_blocks(VISION_README) if lang == "python"]
    with threadpool_limits(1):
        exec(compile(code, "README.md", "exec"), {"__name__": "__docs__"})
    printed = ast.literal_eval(capsys.readouterr().out.strip())
    assert printed["accuracy"] >= 0.95
    shown = re.search(r"'accuracy': (\d\.\d+)\.\.\.", code)
    assert shown and f"{printed['accuracy']:.4f}".startswith(shown.group(1))


def test_the_onnx_extra_installs_what_the_images_page_runs_the_file_with():
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    onnx = {re.split(r"[<>=\[ ]", r)[0] for r in extras["optional-dependencies"]["onnx"]}
    assert {"onnx", "onnxruntime"} <= onnx
    assert "import onnxruntime" in (DOCS / "vision.md").read_text()


def test_the_install_instructions_work_before_the_first_release():
    """nnkit-numpy is not on the package index yet, and ``pip install nnkit`` is another
    project: the pages say how to install from a checkout, and mark the index's command
    as for after the release."""
    for page in (ROOT / "README.md", DOCS / "index.md", DOCS / "faq.md"):
        text = page.read_text()
        assert "python -m build" in text, page.name
        for line in text.splitlines():
            if "pip install nnkit-numpy" in line:
                assert "release" in line, f"{page.name}: {line}"


HEADLINE = re.compile(r"1\.37 to 1\.48.{0,80}1\.22 to 1\.37", re.S)


def test_the_headline_speed_is_what_the_performance_page_measured():
    assert HEADLINE.search((DOCS / "performance.md").read_text())
    for page in (ROOT / "README.md", DOCS / "index.md", DOCS / "faq.md"):
        text = page.read_text()
        assert "1.8 times" not in text and "about 1.8" not in text, page.name
        assert "1 BLAS thread" in text and HEADLINE.search(text), page.name


def test_the_catalogue_has_the_first_party_plugins_even_where_they_are_not_installed(
    isolated_registry, monkeypatch
):
    """Built as the README says (``pip install -e ".[docs]"`` alone), the site still
    lists nnkit-extras and nnkit-vision: they are read from the checkout."""
    import nnkit

    isolated_registry(NNKIT_DISABLE_PLUGINS="nnkit-extras,nnkit-vision")
    assert not nnkit.registry.registry.default_registry().has("layer", "conv2d")
    monkeypatch.syspath_prepend(str(DOCS / "hooks"))
    import catalogue

    markdown = catalogue.catalogue()
    for heading in ("## nnkit-extras", "## nnkit-vision"):
        assert heading in markdown
    for kind, name in [("layer", "conv2d"), ("layer", "max_pool2d"), ("activation", "gelu"),
                       ("optimizer", "lion"), ("layer", "batch_norm")]:  # fmt: skip
        assert f'<tr id="{kind}-{name}">' in markdown
    assert not nnkit.registry.registry.default_registry().has("layer", "conv2d")


# -- outputs the pages show come from runs when the site is built ------------------------


def load_hook(name: str, monkeypatch):
    monkeypatch.syspath_prepend(str(DOCS / "hooks"))
    return importlib.import_module(name)


def test_a_marked_console_block_shows_what_its_commands_print(monkeypatch):
    import nnkit

    runs = load_hook("runs", monkeypatch)
    shown = runs.render("<!-- nnkit-run -->\n```console\n$ nnkit --version\nstale\n```\n")
    assert shown == f"```console\n$ nnkit --version\nnnkit {nnkit.__version__}\n```\n"
    with pytest.raises(RuntimeError, match="'nnkit summary missing.nnkit' failed"):
        runs.render("<!-- nnkit-run -->\n```console\n$ nnkit summary missing.nnkit\n```\n")
    errors = "<!-- nnkit-run errors -->\n```console\n$ nnkit summary missing.nnkit\n```\n"
    assert "nnkit: error: " in runs.render(errors)
    epochs = "\n".join(f"epoch {i}/9 - loss: 1" for i in range(1, 10))
    assert runs.shorten(epochs) == "epoch 1/9 - loss: 1\n...\nepoch 9/9 - loss: 1"


def test_a_print_marker_shows_what_its_code_prints_after_the_pages_examples(monkeypatch):
    prints = load_hook("prints", monkeypatch)
    page = "```python\nx = 6 * 7\n```\n\n<!-- nnkit-print print(x) -->\n"
    assert prints.render(page) == "```python\nx = 6 * 7\n```\n\n```text\n42\n```\n"
    page = "<!-- nnkit-print raise ValueError('what went wrong') -->"
    assert prints.render(page) == "```text\nwhat went wrong\n```"


#: Outputs the pages show, each made by a marker when the site is built.
GENERATED = {
    "index.md": ["<!-- nnkit-run -->\n```console\n$ nnkit train\n"],
    "cli.md": [
        "<!-- nnkit-run -->\n```console\n$ nnkit train --data iris.csv",
        "<!-- nnkit-run errors -->\n```console\n",
    ],
    "tutorial.md": ["<!-- nnkit-run -->\n```console\n$ nnkit train --quiet --epochs 12"],
    "vision.md": ["<!-- nnkit-print cnn.summary() -->", "<!-- nnkit-print nnkit.Network("],
}


def test_the_outputs_the_pages_show_are_made_when_the_site_is_built(site):
    import nnkit

    for page, markers in GENERATED.items():
        text = (DOCS / page).read_text()
        assert [m for m in markers if m not in text] == [], page
    version = f"nnkit-numpy {nnkit.__version__}"
    home = page_text(site.pages["index.html"])
    assert "features standardised" in "".join(home.text)
    assert re.search(r"^epoch 1/50 - loss: \d\.\d{4}", "".join(home.blocks), re.M)
    for path in ("cli/index.html", "vision/index.html"):
        assert f"relu ({version})" in "".join(page_text(site.pages[path]).blocks), path
    stale = [p for p, html in site.pages.items() if "(nnkit 0.1.0)" in html]
    assert stale == []


def test_console_blocks_copy_their_commands_only(site):
    """The copy button of a console block copies the commands, without ``$ `` or
    output (docs/javascripts/console-copy.js sets the text the theme copies)."""
    script = (DOCS / "javascripts" / "console-copy.js").read_text()
    assert 'line.startsWith("$ ")' in script and 'setAttribute("data-copy"' in script
    for path in ("index.html", "cli/index.html", "tutorial/index.html"):
        assert 'src="../javascripts/console-copy.js"' in site.pages[path] or (
            'src="javascripts/console-copy.js"' in site.pages[path]
        ), path


def test_names_in_table_cells_wrap_only_between_their_parts(site):
    """On a phone a name in a table cell breaks between its parts, never inside a word,
    after a hyphen or at the point of a number (docs/javascripts/code-breaks.js marks
    the parts, which the stylesheet keeps whole)."""
    script = (DOCS / "javascripts" / "code-breaks.js").read_text()
    rule = re.search(r"const AFTER_A_PART = /(.+)/;", script)
    assert rule, "code-breaks.js defines the rule AFTER_A_PART"
    after_a_part = re.compile(rule.group(1))  # the same syntax in Python as in JavaScript
    assert after_a_part.split("binary_cross_entropy") == ["binary_", "cross_", "entropy"]
    assert after_a_part.split("torch.nn.Linear") == ["torch.", "nn.", "Linear"]
    assert after_a_part.split("momentum_decay=0.004)") == ["momentum_", "decay=", "0.004)"]
    assert after_a_part.split("adam(weight_decay=)") == ["adam(", "weight_", "decay=)"]
    assert after_a_part.split("--categorical") == ["--categorical"]
    css = (DOCS / "stylesheets" / "extra.css").read_text()
    assert re.search(r"td code \.nnkit-name-part \{\s*white-space: nowrap;", css)
    for path in ("tables/index.html", "porting/index.html", "text/index.html"):
        assert 'src="../javascripts/code-breaks.js"' in site.pages[path], path


# -- the API reference ---------------------------------------------------------------------


def api_section(html: str, anchor: str) -> str:
    """The HTML of the reference entry whose heading has id ``anchor``."""
    start = html.index(f'id="{anchor}"')
    following = re.search(r'<h[2-4] id="', html[start + len(anchor) :])
    return html[start : start + len(anchor) + (following.start() if following else len(html))]


def test_the_api_reference_reads_as_the_code_means(site):
    network = site.pages["api/network/index.html"]
    fit = api_section(network, "nnkit.Network.fit")
    returns = fit[fit.index("Returns:") :]
    assert returns.count('<tr class="doc-section-item">') == 1  # one History, not three rows
    for method in ("build", "ensure_built", "train_step", "test_step", "predict_step",
                   "training_session", "reading", "forward", "backward", "batch_loss",
                   "update", "evaluate_arrays", "resolve_metrics"):  # fmt: skip
        entry = api_section(network, f"nnkit.Network.{method}")
        assert re.search(r"<p>\s*\S", entry), f"{method} is listed with no description"
    constants = re.compile(r'<span class="o">=</span><span class="n">[A-Z][A-Z0-9_]+</span>')
    named = [p for p, html in site.pages.items() if p.startswith("api/") and constants.search(html)]
    assert named == []
    assert 'batch_size</span><span class="o">=</span><span class="mi">1024</span>' in network
    data = site.pages["api/data/index.html"]
    assert 'opset</span><span class="o">=</span><span class="mi">17</span>' in data


def test_the_benchmarks_help_is_plain_text_that_names_its_workloads():
    shown = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    ).stdout  # fmt: skip
    assert "``" not in shown  # reStructuredText markup, which a terminal prints as is
    for workload in ("W1", "W2", "W3"):
        assert re.search(rf"^  {workload}  \S", shown, re.M), workload
    assert "the GEMM bound: " in shown and "1 thread" in shown
