"""A docs build hook: a console block after ``<!-- nnkit-run -->`` shows what its
commands print, run when the site is built.

Each ``$ `` line (with any ``\\``-continued lines after it) is run by bash, in order,
in a fresh folder holding the files of ``docs/data``, with the ``nnkit`` of the
Python that builds the site; its output, stdout and stderr as a terminal shows them,
replaces the lines that followed it. So the outputs the pages show cannot go stale:
a change to what a command prints changes the page, and a command that fails fails
the build, unless the marker is ``<!-- nnkit-run errors -->``, for a block that shows
error messages. Runs of many epoch lines are cut to the first and the last, around ``...``,
and lines wider than the page are wrapped, as a terminal of that width shows them.
BLAS runs at one thread: the examples are small, and on a busy machine more threads
only wait for each other (the training guide's "Speed" section).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[2]
#: The files a session may read, copied into the folder it runs in.
DATA: Final = ROOT / "docs" / "data"
BLOCK: Final = re.compile(
    r"^<!-- nnkit-run(?P<errors> errors)? -->\n```console\n(?P<body>.*?)^```$", re.M | re.S
)
EPOCH: Final = re.compile(r"^epoch \d+/\d+ ")
#: The width a code block shows at 1280 px without scrolling, in characters.
WIDTH: Final = 84
#: The longest time one command may take: the examples train in seconds.
TIMEOUT_SECONDS: Final = 300


def commands(body: str) -> list[tuple[str, bool]]:
    """The commands of a console block, each with its continuation lines, and whether a
    blank line comes before it (kept, to group the steps of a session)."""
    found: list[tuple[str, bool]] = []
    continued = blank = False
    for line in body.splitlines():
        if continued:
            found[-1] = (found[-1][0] + "\n" + line, found[-1][1])
        elif line.startswith("$ "):
            found.append((line[2:], blank and bool(found)))
        blank = not line.strip()
        continued = (continued or line.startswith("$ ")) and line.endswith("\\")
    return found


def shorten(output: str) -> str:
    """``output`` with each run of more than three epoch lines cut to its first and last."""
    lines, kept = output.splitlines(), []
    index = 0
    while index < len(lines):
        end = index
        while end < len(lines) and EPOCH.match(lines[end]):
            end += 1
        if end - index > 3:
            kept += [lines[index], "...", lines[end - 1]]
            index = end
        else:
            kept.append(lines[index])
            index += 1
    return "\n".join(
        "\n".join(textwrap.wrap(line, WIDTH, subsequent_indent="  ", break_on_hyphens=False))
        if len(line) > WIDTH
        else line
        for line in kept
    )


def run_session(body: str, errors: bool = False) -> str:
    """The console block's text with every command followed by what it printed."""
    threads = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    environment = dict(os.environ, COLUMNS="80", PYTHONUNBUFFERED="1", **threads)
    # The nnkit command of the Python building the site, whatever PATH says.
    environment["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    shown = []
    with tempfile.TemporaryDirectory() as folder:
        for path in DATA.iterdir():
            if path.is_file():
                shutil.copy(path, folder)
        for command, blank_before in commands(body):
            result = subprocess.run(
                ["bash", "-c", command],
                cwd=folder,
                env=environment,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=TIMEOUT_SECONDS,
            )
            if result.returncode != 0 and not errors:
                raise RuntimeError(f"docs: '{command}' failed:\n{result.stdout}")
            shown += [""] * blank_before + [f"$ {command}"]
            if result.stdout.strip():
                shown.append(shorten(result.stdout.rstrip()))
    return "\n".join(shown)


def render(markdown: str) -> str:
    """``markdown`` with every marked console block's output from a fresh run."""
    return BLOCK.sub(
        lambda m: f"```console\n{run_session(m['body'], bool(m['errors']))}\n```", markdown
    )


def on_page_markdown(markdown: str, page, config, files) -> str:  # mkdocs hook
    return render(markdown)
