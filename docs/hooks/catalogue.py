"""A docs build hook: ``<!-- nnkit-components -->`` becomes the catalogue of components.

The catalogue is read from the components themselves and their docstrings when the site
is built, so it lists exactly what each plugin registers, with the arguments each
constructor really takes: nnkit's standard set first, then each first-party plugin
distribution in a section of its own. The first-party plugins are read from the
checkout (``plugins/<distribution>``), through a registry of their own, so the page
is the same whether or not they are installed where the docs are built.
"""

from __future__ import annotations

import html
import importlib
import inspect
import re
import sys
import tomllib
from pathlib import Path
from typing import Any, Final

MARKER: Final = re.compile(r"^<!-- nnkit-components -->$", re.M)
#: The plugin that holds nnkit's standard set, whatever distribution ships it.
STANDARD_PLUGIN: Final = "nnkit_std"
#: The checkout the site is built from.
ROOT: Final = Path(__file__).resolve().parents[2]
#: First-party plugin distributions, each in ``plugins/<name>``, with how to get them.
FIRST_PARTY: Final = {
    "nnkit-extras": "pip install ./plugins/nnkit-extras",
    "nnkit-vision": "pip install ./plugins/nnkit-vision",
    "nnkit-text": "pip install ./plugins/nnkit-text",
}
#: What each kind's table is headed, in the order the registry lists kinds.
KIND_TITLES: Final = {
    "activation": "Activations",
    "layer": "Layers",
    "loss": "Losses",
    "optimizer": "Optimizers",
    "initializer": "Initializers",
    "metric": "Metrics",
    "callback": "Callbacks",
    "schedule": "Learning-rate schedules",
}


def _code(text: str) -> str:
    """Plain text with ``code`` spans as HTML (the tables are HTML, so that a formula may
    hold a ``|``, which a Markdown table cell cannot)."""
    parts = re.split(r"``(.+?)``|`(.+?)`", text)
    html_parts = []
    for index, part in enumerate(parts):
        if part is None:
            continue
        is_code = index % 3 != 0
        html_parts.append(f"<code>{html.escape(part)}</code>" if is_code else html.escape(part))
    return "".join(html_parts)


def summary(factory: Any) -> str:
    """The first paragraph of a component's docstring, on one line, as HTML."""
    doc = inspect.getdoc(factory) or ""
    first = " ".join(doc.split("\n\n")[0].split())
    return _code(first) or "(no description)"


def arguments(info: Any) -> str:
    """The constructor's arguments as ``name=default`` code spans, or a dash for none."""
    signature = info.signature
    if signature is None:
        return "&mdash;"
    shown = []
    for parameter in signature.parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.default is parameter.empty:
            shown.append(parameter.name)
        else:
            shown.append(f"{parameter.name}={parameter.default!r}")
    return ", ".join(f"<code>{html.escape(a)}</code>" for a in shown) or "&mdash;"


def section(title: str, intro: str, components: list[Any]) -> str:
    """One distribution's components: a heading and a table per kind."""
    lines = [f"## {title}", "", intro, ""]
    for kind, kind_title in KIND_TITLES.items():
        rows = [c for c in components if c.kind == kind]
        if not rows:
            continue
        lines += [f"### {kind_title}", "", '<div class="nnkit-catalogue"><table>']
        lines.append("<tr><th>name</th><th>arguments</th><th>what it computes</th></tr>")
        lines += [
            f'<tr id="{kind}-{c.name}"><td><code>{html.escape(c.name)}</code></td>'
            f"<td>{arguments(c)}</td><td>{summary(c.factory)}</td></tr>"
            for c in rows
        ]
        lines += ["</table></div>", ""]
    return "\n".join(lines)


def checkout_components(distribution: str) -> tuple[str, list[Any]]:
    """The version of the first-party ``distribution`` in the checkout and what its
    plugins register, read from ``plugins/<distribution>`` (its ``pyproject.toml``
    names the entry points), whatever is installed."""
    from nnkit.registry.registry import PluginInfo, Registry

    folder = ROOT / "plugins" / distribution
    project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
    source = str(folder / "src")
    if source not in sys.path:
        sys.path.insert(0, source)  # an installed copy of the same module may come first
    registry = Registry()
    for name, target in project["entry-points"]["nnkit"].items():
        module = importlib.import_module(target.partition(":")[0])
        if not registry.add_plugin(module, PluginInfo(name, distribution, project["version"])):
            raise RuntimeError(f"the catalogue could not load {distribution}'s plugin {name}")
    return project["version"], registry.components()


def catalogue() -> str:
    """The Markdown of the whole catalogue: the standard set from nnkit, the first-party
    plugins from the checkout."""
    import nnkit

    standard = [c for c in nnkit.components() if c.plugin.name == STANDARD_PLUGIN]
    distribution = standard[0].distribution if standard else "nnkit"
    parts = [
        section(
            "The standard set",
            f"Shipped with nnkit (distribution `{distribution}`, plugin `{STANDARD_PLUGIN}`): "
            "always available.",
            standard,
        )
    ]
    for name, install in FIRST_PARTY.items():
        version, theirs = checkout_components(name)
        intro = f"From the distribution `{name}` {version}: `{install}`."
        parts.append(section(name, intro, theirs))
    return "\n".join(parts)


def render(markdown: str) -> str:
    """``markdown`` with the marker replaced by the catalogue."""
    return MARKER.sub(lambda _: catalogue(), markdown)


def on_page_markdown(markdown: str, page, config, files) -> str:  # mkdocs hook
    return render(markdown)
