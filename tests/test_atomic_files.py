"""Saves after a crash: leftovers of killed saves are removed, live saves never touched;
the new file keeps the old one's mode (or the umask's); the folder is flushed."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import nnkit
from nnkit.files import atomic as atomic_files
from nnkit.files.atomic import STALE_AFTER_SECONDS

from .test_persistence import classifier

ROOT = Path(__file__).resolve().parents[1]
#: A script that saves a small network to argv[1]; SAVER_MODE picks how it behaves.
SAVER = textwrap.dedent(
    """
    import os, signal, sys, time
    import numpy as np
    import nnkit, nnkit.files.atomic

    path, mode = sys.argv[1], sys.argv[2]
    network = nnkit.Network(
        [nnkit.Dense(8, activation="relu"), nnkit.Dense(2)], loss="mse", seed=1
    ).build(4)
    original = np.lib.format.write_array

    def write_then(file, array, **options):
        if mode == "kill":  # kill -9 in the middle of the archive
            file.write(b"partial array bytes")
            os.kill(os.getpid(), signal.SIGKILL)
        if mode == "pause":  # tell the test we are writing, wait until it says go
            print("writing", flush=True)
            sys.stdin.readline()
        original(file, array, **options)

    if mode == "race":  # no age margin: only the locks keep concurrent saves apart
        nnkit.files.atomic.STALE_AFTER_SECONDS = 0
        for _ in range(8):
            network.save(path)
    else:
        np.lib.format.write_array = write_then
        network.save(path)
    """
)


def run_saver(path: Path, mode: str, **options) -> subprocess.Popen:
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "plugins")]))
    return subprocess.Popen(
        [sys.executable, "-c", SAVER, str(path), mode],
        env=environment,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        **options,
    )


def temporaries(folder: Path, name: str = "model.nnkit") -> list[Path]:
    return sorted(folder.glob(f".{name}.*.tmp"))


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_save_killed_midway_leaves_a_leftover_the_next_save_removes(tmp_path):
    path = tmp_path / "model.nnkit"
    classifier().build(5).save(path)
    before = path.read_bytes()
    saver = run_saver(path, "kill")
    saver.communicate(timeout=60)
    assert saver.returncode == -signal.SIGKILL
    assert path.read_bytes() == before  # the save was atomic
    (leftover,) = temporaries(tmp_path)

    classifier().build(5).save(path)  # too young to be a crash's for sure: kept
    assert temporaries(tmp_path) == [leftover]

    age(leftover, STALE_AFTER_SECONDS + 1)
    network = classifier(seed=3).build(5)
    network.save(path)
    assert temporaries(tmp_path) == []
    assert np.array_equal(
        nnkit.load(path).predict(np.ones((2, 5))), network.predict(np.ones((2, 5)))
    )


def test_a_live_saves_temporary_file_is_never_removed_however_old(tmp_path):
    path = tmp_path / "model.nnkit"
    saver = run_saver(path, "pause")
    try:
        assert saver.stdout.readline() == "writing\n"
        (live,) = temporaries(tmp_path)
        age(live, 10 * STALE_AFTER_SECONDS)
        classifier().build(5).save(path)
        assert live.exists()
        saver.stdin.write("go\n")
        saver.stdin.flush()
        assert saver.wait(timeout=60) == 0
    finally:
        saver.kill()
        saver.communicate()
    assert temporaries(tmp_path) == []
    assert nnkit.load(path).n_inputs == 4  # the paused save finished last, intact


def test_concurrent_saves_to_one_path_all_succeed_and_leave_nothing_behind(tmp_path):
    path = tmp_path / "model.nnkit"
    savers = [run_saver(path, "race", stderr=subprocess.PIPE) for _ in range(3)]
    results = [saver.communicate(timeout=120) for saver in savers]
    assert [saver.returncode for saver in savers] == [0, 0, 0], [err for _, err in results]
    assert temporaries(tmp_path) == []
    assert nnkit.load(path).n_inputs == 4


def test_only_this_targets_own_leftovers_are_removed(tmp_path):
    path = tmp_path / "model.nnkit"
    mine = tmp_path / ".model.nnkit.abcd_123.tmp"
    others = [
        tmp_path / ".model.nnkit.x.abcd_123.tmp",  # the leftover of a save to model.nnkit.x
        tmp_path / ".model.nnkit.tmp",
        tmp_path / ".model.nnkit.ABCD1234.tmp",
        tmp_path / ".model.nnkit.abcd_1234.tmp",
        tmp_path / "model.nnkit.abcd_123.tmp",
        tmp_path / ".other.nnkit.abcd_123.tmp",
    ]
    for file in [mine, *others]:
        file.write_bytes(b"old")
        age(file, 10 * STALE_AFTER_SECONDS)
    link = tmp_path / ".model.nnkit.linkto_1.tmp"
    link.symlink_to(others[0])
    classifier().build(5).save(path)
    assert not mine.exists()
    assert all(file.exists() for file in others) and link.is_symlink()


def test_a_leftover_that_cannot_be_removed_does_not_stop_the_save(tmp_path, monkeypatch):
    path = tmp_path / "model.nnkit"
    leftover = tmp_path / ".model.nnkit.abcdefgh.tmp"
    leftover.write_bytes(b"old")
    age(leftover, 10 * STALE_AFTER_SECONDS)
    real_unlink = Path.unlink

    def refuse(self, *args, **kwargs):
        if self == leftover:
            raise PermissionError(13, "Permission denied")
        return real_unlink(self, *args, **kwargs)

    monkeypatch.setattr(Path, "unlink", refuse)
    classifier().build(5).save(path)
    assert path.exists() and leftover.exists()


@pytest.mark.parametrize(("umask", "expected"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_new_file_gets_the_umasks_default_mode(tmp_path, umask, expected):
    previous = os.umask(umask)
    try:
        classifier().build(5).save(tmp_path / "model.nnkit")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "model.nnkit").stat().st_mode) == expected


@pytest.mark.parametrize("mode", [0o640, 0o444, 0o604])
def test_a_replaced_file_keeps_its_mode(tmp_path, mode):
    path = tmp_path / "model.nnkit"
    classifier().build(5).save(path)
    path.chmod(mode)
    previous = os.umask(0o077)
    try:
        classifier(seed=1).build(5).save(path)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert nnkit.load(path).seed == 1


def _another_group() -> int | None:
    """A group this process may give its files besides its own: any, for root."""
    if os.geteuid() == 0:
        return os.getegid() + 4242
    others = [group for group in os.getgroups() if group != os.getegid()]
    return others[0] if others else None


def test_a_replaced_file_keeps_its_group(tmp_path):
    group = _another_group()
    if group is None:
        pytest.skip("this user belongs to no group but its own, so no file can change group")
    path = tmp_path / "model.nnkit"
    classifier().build(5).save(path)
    os.chown(path, -1, group)
    path.chmod(0o640)
    classifier(seed=1).build(5).save(path)
    assert (path.stat().st_gid, stat.S_IMODE(path.stat().st_mode)) == (group, 0o640)
    assert nnkit.load(path).seed == 1


def test_a_group_that_cannot_be_kept_does_not_stop_the_save(tmp_path, monkeypatch):
    path = tmp_path / "model.nnkit"
    classifier().build(5).save(path)
    path.chmod(0o604)
    calls = []

    def refuse(handle, uid, gid):
        calls.append((uid, gid))
        raise PermissionError("operation not permitted")

    monkeypatch.setattr(os, "fchown", refuse)
    classifier(seed=1).build(5).save(path)
    assert calls and calls[0][1] == path.stat().st_gid
    assert stat.S_IMODE(path.stat().st_mode) == 0o604 and nnkit.load(path).seed == 1


def test_the_folder_is_flushed_after_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(handle):
        events.append("fsync folder" if stat.S_ISDIR(os.fstat(handle).st_mode) else "fsync file")
        real_fsync(handle)

    def replace(source, target):
        events.append("rename")
        real_replace(source, target)

    monkeypatch.setattr(atomic_files.os, "fsync", fsync)
    monkeypatch.setattr(atomic_files.os, "replace", replace)
    classifier().build(5).save(tmp_path / "model.nnkit")
    assert events == ["fsync file", "rename", "fsync folder"]
