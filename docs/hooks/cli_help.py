"""A docs build hook: ``<!-- nnkit-help COMMAND -->`` becomes that command's ``--help``.

The command-line reference is generated from the argument parser itself, so it can
never list an option the command does not have, or miss one it has.
"""

from __future__ import annotations

import os
import re
import textwrap

MARKER = re.compile(r"^<!-- nnkit-help(?: (?P<command>[\w-]+))? -->$", re.M)
#: The width a code block shows at 1280 px without scrolling, in characters.
WIDTH = 84
#: The terminal width argparse is told, to wrap the options with room to spare.
COLUMNS = "80"


def command_help(command: str) -> str:
    """The ``--help`` text of ``nnkit COMMAND`` (of ``nnkit`` itself for ``""``)."""
    from nnkit.cli import build_parser

    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = COLUMNS  # argparse wraps the options to the terminal's width
    try:
        parser = build_parser()
        if command:
            subparsers = parser._subparsers._group_actions[0].choices  # noqa: SLF001
            if command not in subparsers:
                raise ValueError(f"docs ask for the help of unknown command {command!r}")
            parser = subparsers[command]
        return wrap(parser.format_help())
    finally:
        if previous is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = previous


def wrap(text: str) -> str:
    """``text`` with every line longer than `WIDTH` wrapped, keeping its indentation: the
    description and examples are printed as written, and some are one long line."""
    lines = []
    for line in text.splitlines():
        if len(line) > WIDTH and "  # " in line:  # an example: close up its comment
            code, comment = line.split("  # ", 1)
            line = f"{code.rstrip()}  # {comment}"
        if len(line) <= WIDTH:
            lines.append(line)
            continue
        indent = line[: len(line) - len(line.lstrip())]
        lines += textwrap.wrap(
            line,
            WIDTH,
            initial_indent="",
            subsequent_indent=indent + "  " if indent else "",
            break_on_hyphens=False,
        )
    return "\n".join(lines) + "\n"


def render(markdown: str) -> str:
    """``markdown`` with every marker replaced by a text block of the help."""
    return MARKER.sub(
        lambda match: f"```text\n{command_help(match['command'] or '').rstrip()}\n```",
        markdown,
    )


def on_page_markdown(markdown: str, page, config, files) -> str:  # mkdocs hook
    return render(markdown)
