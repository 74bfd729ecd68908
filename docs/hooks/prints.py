"""A docs build hook: ``<!-- nnkit-print CODE -->`` becomes a text block of what the
Python ``CODE`` prints, run when the site is built.

The page's own Python examples before the marker run first, in order, in one namespace,
as a reader pastes them; then ``CODE`` runs there, and what it prints (or the message of
the error it raises, for a page that shows an error) is the block.  So a table such as
``summary()``, with the versions of the components, cannot go stale. BLAS runs at one
thread when threadpoolctl is installed: the examples are small.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import re
import sys
import textwrap
import tomllib
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parents[2]
MARKER: Final = re.compile(r"^<!-- nnkit-print (?P<code>.+?) -->$", re.M)
PYTHON: Final = re.compile(r"^```python([^\n]*)\n(?P<code>.*?)^```$", re.M | re.S)
#: The width a code block shows at 1280 px without scrolling, in characters.
WIDTH: Final = 84
#: First-party plugins a page may use, by a layer each registers, read from the
#: checkout when the environment building the site lacks them.
FIRST_PARTY_LAYERS: Final = {"conv2d": "nnkit-vision", "batch_norm": "nnkit-extras"}


def provide_first_party_plugins() -> None:
    """Register the checkout's first-party plugins that are not installed."""
    from nnkit.registry.registry import PluginInfo, default_registry

    registry = default_registry()
    for layer, distribution in FIRST_PARTY_LAYERS.items():
        if registry.has("layer", layer):
            continue
        folder = ROOT / "plugins" / distribution
        project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
        sys.path.insert(0, str(folder / "src"))
        for name, target in project["entry-points"]["nnkit"].items():
            module = importlib.import_module(target.partition(":")[0])
            registry.add_plugin(module, PluginInfo(name, distribution, project["version"]))


def _one_thread() -> contextlib.AbstractContextManager[Any]:
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1)


def printed(code: str, namespace: dict[str, Any]) -> str:
    """A text block of what ``code`` prints in ``namespace``, or of its error's message
    wrapped to WIDTH. A table wider than WIDTH is kept as it is, in a block marked
    ``nnkit-wide`` (it scrolls: a wrapped table cannot be read)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            exec(compile(code, "<nnkit-print>", "exec"), namespace)
        except Exception as error:  # the page shows this error
            message = "\n".join(textwrap.wrap(str(error), WIDTH, break_on_hyphens=False))
            return f"```text\n{message}\n```"
    text = out.getvalue().rstrip()
    wide = max((len(line) for line in text.splitlines()), default=0) > WIDTH
    return f"```{{.text .nnkit-wide}}\n{text}\n```" if wide else f"```text\n{text}\n```"


def render(markdown: str) -> str:
    """``markdown`` with every marker replaced by the text its code prints."""
    if not MARKER.search(markdown):
        return markdown
    provide_first_party_plugins()
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    parts, done = [], 0
    with _one_thread(), contextlib.redirect_stdout(io.StringIO()):
        for marker in MARKER.finditer(markdown):
            for block in PYTHON.finditer(markdown, done, marker.start()):
                if "title=" not in block.group(1):
                    exec(compile(block["code"], "<docs page>", "exec"), namespace)
            parts += [markdown[done : marker.start()]]
            with contextlib.redirect_stdout(sys.__stdout__):
                text = printed(marker["code"], namespace)
            parts += [text]
            done = marker.end()
    return "".join(parts) + markdown[done:]


def on_page_markdown(markdown: str, page, config, files) -> str:  # mkdocs hook
    return render(markdown)
