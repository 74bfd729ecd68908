"""The ``nnkit`` command: train, evaluate and use networks, and list plugins, from the shell.

Every command prints plain text (progress bars only on a terminal), exits 0 on success,
and on any error prints one line, ``nnkit: error: ...``, and exits 1 (2 for a malformed
command line, as argparse does); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Final

from nnkit.cli.parser import build_parser
from nnkit.cli.plugins import plugins_command
from nnkit.cli.saved_models import (
    evaluate_command,
    export_command,
    predict_command,
    summary_command,
)
from nnkit.cli.train import train_command
from nnkit.errors import NNKitError

__all__ = ["main", "build_parser"]

COMMANDS: Final = {
    "train": train_command,
    "evaluate": evaluate_command,
    "predict": predict_command,
    "summary": summary_command,
    "export": export_command,
    "plugins": plugins_command,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``nnkit`` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = _print_warning
        return _run(args)


def _print_warning(
    message: Warning | str, category: type[Warning], *_: object, **__: object
) -> None:
    """A warning as one line on standard error, as errors are printed."""
    text = " ".join(line.strip() for line in str(message).splitlines() if line.strip())
    print(f"nnkit: warning: {text}", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    try:
        code = COMMANDS[args.command](args)
        sys.stdout.flush()  # inside the try: a closed pipe surfaces here, not at exit
        return code
    except BrokenPipeError:
        # The reader went away (``nnkit plugins | head``): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print("nnkit: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if args.debug:
            raise
        print(f"nnkit: error: {one_line(error)}", file=sys.stderr)
        return 1


def one_line(error: BaseException) -> str:
    """The error as one line: nnkit's own and the usual input errors by their message;
    anything else also by its type, with the way to see the traceback."""
    if isinstance(error, FileNotFoundError) and error.filename:
        return f"{error.filename}: no such file"
    message = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
    if isinstance(error, (NNKitError, ValueError, KeyError, OSError)):
        return message or type(error).__name__
    return f"{type(error).__name__}: {message} (run with --debug for the traceback)"
