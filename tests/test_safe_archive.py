"""Hostile archives: compressed members (decompression bombs), duplicate names, and
members whose sizes lie are refused before a byte of array data is read."""

from __future__ import annotations

import io
import struct
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nnkit

from .test_persistence import LABELS, X, classifier

METHODS = {
    zipfile.ZIP_DEFLATED: "DEFLATE",
    zipfile.ZIP_BZIP2: "BZIP2",
    zipfile.ZIP_LZMA: "LZMA",
}
fuzz_settings = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def good_members(tmp_path_factory) -> dict[str, bytes]:
    network = classifier(optimizer="adam")
    network.fit(X, LABELS, epochs=1)
    path = tmp_path_factory.mktemp("model") / "good.nnkit"
    network.save(path)
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write_archive(path: Path, entries: list[tuple[str, bytes, int]]) -> Path:
    """An archive of ``(name, data, compress_type)`` entries, duplicates allowed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns of duplicate names
        with zipfile.ZipFile(path, "w") as archive:
            for name, data, method in entries:
                archive.writestr(name, data, compress_type=method)
    return path


def stored(members: dict[str, bytes]) -> list[tuple[str, bytes, int]]:
    return [(name, data, zipfile.ZIP_STORED) for name, data in members.items()]


def test_a_stored_copy_of_a_good_file_loads(good_members, tmp_path):
    path = write_archive(tmp_path / "copy.nnkit", stored(good_members))
    assert nnkit.load(path).predict(X).shape == (len(X), 3)


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("member", ["model.json", "arrays/parameters.npy"])
def test_a_compressed_member_is_refused_without_inflating_it(
    good_members, tmp_path, monkeypatch, method, member
):
    inflated = []
    original = zipfile._get_decompressor
    monkeypatch.setattr(
        zipfile, "_get_decompressor", lambda kind: inflated.append(kind) or original(kind)
    )
    entries = [
        (n, d, method if n == member else zipfile.ZIP_STORED) for n, d in good_members.items()
    ]
    path = write_archive(tmp_path / "compressed.nnkit", entries)
    with pytest.raises(nnkit.ModelFileError) as caught:
        nnkit.load(path)
    assert f"member {member!r} is compressed with {METHODS[method]}" in str(caught.value)
    assert inflated == []


def test_a_bzip2_bomb_is_refused_before_it_allocates(good_members, tmp_path):
    # A 32 MiB array of zeros, compressed to a few hundred bytes: the loader used to
    # inflate it whole (and copy it) before looking at its header.
    count = 4 * 2**20
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (count,)}
    )
    path = tmp_path / "bomb.nnkit"
    write_archive(path, stored({k: v for k, v in good_members.items() if "parameters" not in k}))
    with zipfile.ZipFile(path, "a") as archive:
        info = zipfile.ZipInfo("arrays/parameters.npy")
        info.compress_type = zipfile.ZIP_BZIP2
        with archive.open(info, "w") as member:
            member.write(header.getvalue())
            member.write(bytes(count * 8))
    assert path.stat().st_size < 8192
    tracemalloc.start()
    try:
        with pytest.raises(nnkit.ModelFileError, match="compressed with BZIP2"):
            nnkit.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20


@pytest.mark.parametrize("duplicate", ["model.json", "arrays/parameters.npy"])
def test_duplicate_member_names_are_refused(good_members, tmp_path, duplicate):
    entries = stored(good_members) + [(duplicate, good_members[duplicate], zipfile.ZIP_STORED)]
    path = write_archive(tmp_path / "twice.nnkit", entries)
    with pytest.raises(nnkit.ModelFileError, match=f"more than one member named '{duplicate}'"):
        nnkit.load(path)


def test_a_member_claiming_more_bytes_than_the_file_holds_is_refused(good_members, tmp_path):
    path = write_archive(tmp_path / "lying.nnkit", stored(good_members))
    data = bytearray(path.read_bytes())
    # The central directory entry of the parameters: its uncompressed size at offset 24.
    entry = data.index(b"PK\x01\x02")
    name = b"arrays/parameters.npy"
    while data[entry + 46 : entry + 46 + len(name)] != name:
        entry = data.index(b"PK\x01\x02", entry + 4)
    data[entry + 24 : entry + 28] = struct.pack("<I", 2**31)
    path.write_bytes(bytes(data))
    with pytest.raises(nnkit.ModelFileError, match="claims 2147483648 bytes, but the file holds"):
        nnkit.load(path)


def test_an_npy_header_promising_more_than_its_member_is_refused(good_members, tmp_path):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (2**40,)}
    )
    members = dict(good_members, **{"arrays/parameters.npy": header.getvalue() + bytes(64)})
    path = write_archive(tmp_path / "promise.nnkit", stored(members))
    with pytest.raises(nnkit.ModelFileError, match=r"shape \(1099511627776,\).*holds 64"):
        nnkit.load(path)


# -- property-based ---------------------------------------------------------------------


@fuzz_settings
@given(data=st.data())
def test_any_compressed_member_is_refused(good_members, tmp_path, data):
    names = sorted(good_members)
    chosen = data.draw(st.sets(st.sampled_from(names), min_size=1), label="compressed")
    method = data.draw(st.sampled_from(sorted(METHODS)), label="method")
    entries = [(n, good_members[n], method if n in chosen else zipfile.ZIP_STORED) for n in names]
    path = write_archive(tmp_path / "fuzz.nnkit", entries)
    with pytest.raises(nnkit.ModelFileError, match=f"compressed with {METHODS[method]}"):
        nnkit.load(path)


@fuzz_settings
@given(data=st.data())
def test_any_duplicate_member_is_refused(good_members, tmp_path, data):
    names = sorted(good_members)
    duplicate = data.draw(st.sampled_from(names), label="duplicate")
    content = data.draw(
        st.sampled_from([good_members[duplicate], b""]) | st.binary(max_size=64), label="content"
    )
    entries = stored(good_members)
    position = data.draw(st.integers(0, len(entries)), label="position")
    entries.insert(position, (duplicate, content, zipfile.ZIP_STORED))
    path = write_archive(tmp_path / "fuzz.nnkit", entries)
    with pytest.raises(nnkit.ModelFileError, match="more than one member named"):
        nnkit.load(path)


@fuzz_settings
@given(data=st.data())
def test_any_npy_header_disagreeing_with_its_member_is_refused(good_members, tmp_path, data):
    shape = data.draw(st.lists(st.integers(0, 2**40), min_size=1, max_size=3), label="shape")
    descr = data.draw(st.sampled_from(["<f4", "<f8", "<i8", "<u8"]), label="dtype")
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": descr, "fortran_order": False, "shape": tuple(shape)}
    )
    needed = np.prod(shape, dtype=object) * np.dtype(descr).itemsize
    body = bytes(data.draw(st.integers(0, 256).filter(lambda n: n != needed), label="bytes"))
    members = dict(good_members, **{"arrays/parameters.npy": header.getvalue() + body})
    path = write_archive(tmp_path / "fuzz.nnkit", stored(members))
    with pytest.raises(nnkit.ModelFileError):
        nnkit.load(path)
