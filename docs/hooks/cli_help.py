"""A docs build hook: ``<!-- nnkit-help COMMAND -->`` becomes that command's ``--help``.

The command-line reference is generated from the argument parser itself, so it can
never list an option the command does not have, or miss one it has.
"""

from __future__ import annotations

import os
import re

MARKER = re.compile(r"^<!-- nnkit-help(?: (?P<command>[\w-]+))? -->$", re.M)
#: The width the help is wrapped to on the page.
WIDTH = "90"


def command_help(command: str) -> str:
    """The ``--help`` text of ``nnkit COMMAND`` (of ``nnkit`` itself for ``""``)."""
    from nnkit.cli import build_parser

    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH  # argparse wraps to the terminal's width
    try:
        parser = build_parser()
        if command:
            subparsers = parser._subparsers._group_actions[0].choices  # noqa: SLF001
            if command not in subparsers:
                raise ValueError(f"docs ask for the help of unknown command {command!r}")
            parser = subparsers[command]
        return parser.format_help()
    finally:
        if previous is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = previous


def render(markdown: str) -> str:
    """``markdown`` with every marker replaced by a text block of the help."""
    return MARKER.sub(
        lambda match: f"```text\n{command_help(match['command'] or '').rstrip()}\n```",
        markdown,
    )


def on_page_markdown(markdown: str, page, config, files) -> str:  # mkdocs hook
    return render(markdown)
