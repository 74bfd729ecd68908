"""A docs build hook: ``<!-- nnkit-components -->`` becomes the catalogue of components.

The catalogue is read from the registry and the components' docstrings when the site is
built, so it lists exactly what is registered, with the arguments each constructor
really takes: nnkit's standard set first, then each first-party plugin distribution
that is installed, in a section of its own.
"""

from __future__ import annotations

import html
import inspect
import re
from typing import Any, Final

MARKER: Final = re.compile(r"^<!-- nnkit-components -->$", re.M)
#: The plugin that holds nnkit's standard set, whatever distribution ships it.
STANDARD_PLUGIN: Final = "nnkit_std"
#: First-party plugin distributions, catalogued when installed, with how to get them.
FIRST_PARTY: Final = {
    "nnkit-extras": "pip install ./plugins/nnkit-extras",
    "nnkit-vision": "pip install ./plugins/nnkit-vision",
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


def catalogue() -> str:
    """The Markdown of the whole catalogue, from the process's registry."""
    import nnkit

    registered = nnkit.components()
    standard = [c for c in registered if c.plugin.name == STANDARD_PLUGIN]
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
        theirs = [c for c in registered if c.distribution == name]
        if theirs:
            intro = f"From the distribution `{name}` {theirs[0].version}: `{install}`."
            parts.append(section(name, intro, theirs))
    return "\n".join(parts)


def render(markdown: str) -> str:
    """``markdown`` with the marker replaced by the catalogue."""
    return MARKER.sub(lambda _: catalogue(), markdown)


def on_page_markdown(markdown: str, page, config, files) -> str:  # mkdocs hook
    return render(markdown)
