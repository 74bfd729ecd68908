"""Where nnkit's warnings are reported: at the user's or the plugin's own line, never at
nnkit's, so that the warning names the code to change and filters set there apply."""

from __future__ import annotations

import importlib
import os
import sys
import warnings
from collections.abc import Iterator
from importlib import util
from pathlib import Path
from types import TracebackType
from typing import Any, Final

import pluggy

__all__ = ["warn_at_caller", "plugin_location"]

# The code a plugin's warning is never reported at: nnkit's own, and the machinery
# between nnkit and the plugin (pluggy, importlib).
_NNKIT_DIRECTORY: Final = str(Path(__file__).parent) + os.sep
_MACHINERY: Final = (
    _NNKIT_DIRECTORY,
    str(Path(pluggy.__file__).parent) + os.sep,
    str(Path(importlib.__file__).parent) + os.sep,
    "<frozen",
)


def warn_at_caller(warning: Warning) -> None:
    """Issue ``warning`` at the first line outside nnkit on the way here (the user's
    own call), so that it names the user's code and filters set there apply."""
    frame = sys._getframe(1)
    level = 2  # 1 would be this function's own line, 2 its caller's
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_NNKIT_DIRECTORY):
        frame = frame.f_back
        level += 1
    warnings.warn(warning, stacklevel=level)


def plugin_location(error: BaseException | None, module: str | None, code: Any) -> tuple[str, int]:
    """The file and line a plugin's warning is reported at: the plugin's own line that
    failed (rather than a library's it called), else its hook or module, else the first
    caller outside nnkit."""
    origin = _module_file(module)
    if error is not None:
        frames = [f for f in _frames(error.__traceback__) if _outside_nnkit(f[0])]
        if origin is not None:
            # The plugin's own files: its module, or every module of its package.
            home = str(Path(origin).parent) if Path(origin).name == "__init__.py" else origin
            own = [f for f in frames if f[0].startswith(home)]
            frames = own or frames
        if frames:
            return frames[-1]
        if isinstance(error, SyntaxError) and error.filename:
            return error.filename, error.lineno or 1
    code = getattr(code, "__code__", None)
    if code is not None:
        return code.co_filename, code.co_firstlineno
    if origin is not None:
        return origin, 1
    frame = sys._getframe(1)
    while frame.f_back is not None and not _outside_nnkit(frame.f_code.co_filename):
        frame = frame.f_back
    return frame.f_code.co_filename, frame.f_lineno


def _module_file(module: str | None) -> str | None:
    """The file of ``module``, found without importing it (its import may be what failed)."""
    if not module:
        return None
    try:
        spec = util.find_spec(module)
    except Exception:  # importing its parent package may fail as well
        return None
    return spec.origin if spec is not None and spec.has_location else None


def _frames(traceback: TracebackType | None) -> Iterator[tuple[str, int]]:
    while traceback is not None:
        yield traceback.tb_frame.f_code.co_filename, traceback.tb_lineno
        traceback = traceback.tb_next


def _outside_nnkit(filename: str) -> bool:
    return not filename.startswith(_MACHINERY)
