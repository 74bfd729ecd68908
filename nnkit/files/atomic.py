"""Replacing a file atomically, so that a crash never leaves a damaged file where a good one was.

The new contents go to a temporary file beside the target, named
``.<target name>.<8 random characters>.tmp``; it is flushed to disk and renamed over the
target, and then the folder is flushed, so that the rename itself survives a power cut.
The new file gets the permission bits of the file it replaces, or, for a new file, what
the umask gives any new file (``0o666 & ~umask``).

A save that is killed (``kill -9``, a power cut) cannot remove its temporary file. The
next save to the same target removes such leftovers: files of exactly that naming, not
modified for `STALE_AFTER_SECONDS`, and (where the system has ``flock``) not locked: every
save holds an exclusive lock on its temporary file while it writes, which the system
releases when the process dies, so a file whose lock can be taken belongs to no live save.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Final

try:
    import fcntl
except ImportError:  # Windows: no flock; it refuses to delete a file that is open anyway
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "STALE_AFTER_SECONDS",
    "write_atomically",
    "atomic_output",
    "remove_stale_temporaries",
]

#: A temporary file untouched for this long is a leftover of a crashed save: a live save
#: writes its file without pause, and holds its lock too. Ten minutes is far beyond the
#: pause between creating the file and writing to it.
STALE_AFTER_SECONDS: Final = 10 * 60
#: The mode a new file is created with; the kernel removes the umask's bits from it.
NEW_FILE_MODE: Final = 0o666
#: The characters and length of the random part of a temporary name (those of
#: `tempfile.mkstemp`, so that leftovers of earlier nnkit versions are found too).
RANDOM_CHARACTERS: Final = "abcdefghijklmnopqrstuvwxyz0123456789_"
RANDOM_LENGTH: Final = 8
#: How many random names to try before giving up (as `tempfile` does).
MAX_NAME_ATTEMPTS: Final = 10_000
#: Windows cannot rename a file that is open; elsewhere the lock is kept until the rename.
RENAME_WHILE_OPEN: Final = os.name != "nt"

_CREATE_FLAGS: Final = (
    os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
)
_OPEN_EXISTING_FLAGS: Final = (
    os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
)


def write_atomically(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write ``path`` through ``write(file)``, atomically: either the whole new file is
    at ``path`` afterwards, or the old one is, untouched, and no temporary file is left."""
    with atomic_output(path) as file:
        write(file)


@contextmanager
def atomic_output(path: Path) -> Iterator[IO[bytes]]:
    """A binary file for a ``with`` block that appears at ``path`` only when the block
    ends without an error, with the mode and group of the file it replaces (its owner
    too, for root; the group where the system allows it) or the umask's default mode,
    as `write_atomically` writes."""
    directory = path.parent
    if not directory.is_dir():
        raise FileNotFoundError(f"cannot save to {path}: folder {directory} does not exist")
    remove_stale_temporaries(path)
    existing = _existing_stat(path)
    handle, temporary = _create_temporary(path)
    try:
        with os.fdopen(handle, "wb") as file:
            yield file
            file.flush()
            if existing is not None:
                _keep_ownership(file, existing)  # first: a change of owner clears setgid
                _set_mode(file, temporary, stat.S_IMODE(existing.st_mode))
            os.fsync(file.fileno())
            if RENAME_WHILE_OPEN:
                os.replace(temporary, path)
        if not RENAME_WHILE_OPEN:
            os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _sync_folder(directory)


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Remove the temporary files that crashed saves to ``path`` left beside it; return
    them. Never fails: a file that cannot be checked or removed is left alone."""
    pattern = _temporary_name_pattern(path.name)
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        if not pattern.fullmatch(entry.name):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode) and now - info.st_mtime >= STALE_AFTER_SECONDS:
            if _remove_if_abandoned(Path(entry.path)):
                removed.append(Path(entry.path))
    return removed


def _temporary_name_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"\.{re.escape(name)}\.[a-z0-9_]{{{RANDOM_LENGTH}}}\.tmp")


def _create_temporary(path: Path) -> tuple[int, Path]:
    """Create, open and lock a new temporary file beside ``path``."""
    for _ in range(MAX_NAME_ATTEMPTS):
        suffix = "".join(secrets.choice(RANDOM_CHARACTERS) for _ in range(RANDOM_LENGTH))
        temporary = path.parent / f".{path.name}.{suffix}.tmp"
        try:
            handle = os.open(temporary, _CREATE_FLAGS, NEW_FILE_MODE)
        except FileExistsError:
            continue
        if _lock(handle) and os.fstat(handle).st_nlink:
            return handle, temporary
        # Another save took it for a leftover between its creation and our lock, and is
        # removing it or has (it only removes what it has locked): take another name.
        os.close(handle)
    raise FileExistsError(f"cannot create a temporary file beside {path}: every name is taken")


def _lock(handle: int) -> bool:
    """Lock a new temporary file for as long as it is open; false if another process
    holds its lock already."""
    if fcntl is None:
        return True
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:  # a file system without flock: the age of a leftover decides alone
        pass
    return True


def _remove_if_abandoned(temporary: Path) -> bool:
    """Remove ``temporary`` if no live process holds its lock; whether it was removed."""
    try:
        handle = os.open(temporary, _OPEN_EXISTING_FLAGS)
    except OSError:  # gone already, or not ours to read: leave it
        return False
    try:
        if fcntl is not None:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # a live save is still writing it
                return False
            except OSError:  # no flock here: the age decided
                pass
        # Removed while locked, so its creator, should it be alive and about to lock
        # it, finds it unlinked and takes another name.
        temporary.unlink()
        return True
    except OSError:
        return False
    finally:
        os.close(handle)


def _existing_stat(path: Path) -> os.stat_result | None:
    """The status of the file at ``path``, or ``None`` if there is none."""
    try:
        return os.stat(path)
    except OSError:
        return None


def _keep_ownership(file: IO[bytes], existing: os.stat_result) -> None:
    """Give the new file the replaced one's group (and owner, when running as root), so
    that whoever could read the old file can read the new one. A group the writer may
    not give its files is left as the system chose: the save goes on."""
    if not hasattr(os, "fchown"):  # Windows: no owners or groups to keep
        return
    owner = existing.st_uid if os.geteuid() == 0 else -1
    try:
        os.fchown(file.fileno(), owner, existing.st_gid)
    except OSError:
        pass


def _set_mode(file: IO[bytes], temporary: Path, mode: int) -> None:
    if hasattr(os, "fchmod"):
        os.fchmod(file.fileno(), mode)
    else:
        os.chmod(temporary, mode)


def _sync_folder(directory: Path) -> None:
    """Flush the folder's entry for the renamed file to disk, where the system allows."""
    try:
        handle = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # Windows cannot open a folder
        return
    try:
        os.fsync(handle)
    except OSError:  # some file systems cannot flush a folder
        pass
    finally:
        os.close(handle)
