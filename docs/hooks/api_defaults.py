"""A docs build hook: the API reference shows a default's value, not a constant's name.

mkdocstrings prints a signature as written, so ``batch_size=INFERENCE_BATCH_SIZE`` tells
a reader nothing unless they open the source. Each default that names a module-level
constant of nnkit (an upper-case name holding a number or a string) is shown as its
value, read from the package when the site is built, so it follows the code.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from functools import cache
from typing import Final

#: A parameter's default in a rendered signature: ``=`` then a name in upper case.
DEFAULT: Final = re.compile(
    r'(<span class="o">=</span>)<span class="n">(?P<name>[A-Z][A-Z0-9_]+)</span>'
)


@cache
def constants() -> dict[str, str]:
    """Every upper-case number or string constant of nnkit's modules, as Python writes
    its value; a name that two modules give different values is left out."""
    import nnkit

    found: dict[str, set[str]] = {}
    for module_info in pkgutil.walk_packages(nnkit.__path__, "nnkit."):
        if module_info.name.endswith(".__main__"):  # importing it runs the command
            continue
        try:
            module = importlib.import_module(module_info.name)
        except ImportError:  # a module of an optional extra that is not installed
            continue
        for name, value in vars(module).items():
            if name.isupper() and isinstance(value, int | float | str):
                found.setdefault(name, set()).add(repr(value))
    return {name: values.pop() for name, values in found.items() if len(values) == 1}


def render(html: str) -> str:
    """``html`` with every default that names a known constant replaced by its value."""
    values = constants()

    def value(match: re.Match[str]) -> str:
        shown = values.get(match["name"])
        if shown is None:
            return match.group(0)
        kind = "s1" if shown.startswith("'") else "mi"  # Pygments' string and number
        return f'{match.group(1)}<span class="{kind}">{shown}</span>'

    return DEFAULT.sub(value, html)


def on_page_content(html: str, page, config, files) -> str:  # mkdocs hook
    return render(html) if page.file.src_uri.startswith("api/") else html
