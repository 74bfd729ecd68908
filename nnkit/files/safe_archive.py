"""Reading the zip archive of a model file without trusting it.

nnkit writes every member stored, never compressed, so a reader that accepts only stored
members reads no more bytes than the file holds: a few kilobytes cannot inflate into
gigabytes. Before a byte of array data is read, the archive and each member are checked:
names are unique, members are stored and fit in the file, and an ``.npy`` header's shape
and dtype account for exactly the member's bytes. Every refusal is a `ModelFileError`
naming the file and the member.
"""

from __future__ import annotations

import math
import zipfile
from collections import Counter
from typing import IO, Final

import numpy as np

from nnkit.errors import ModelFileError

__all__ = ["ALLOWED_DTYPES", "check_members", "read_array"]

#: The dtypes an array in a model file may have.
ALLOWED_DTYPES: Final = frozenset(np.dtype(t) for t in ("float32", "float64", "int64", "uint64"))
#: The zip compression methods by number, for messages; anything else is named by number.
COMPRESSION_NAMES: Final = {
    zipfile.ZIP_DEFLATED: "DEFLATE",
    zipfile.ZIP_BZIP2: "BZIP2",
    zipfile.ZIP_LZMA: "LZMA",
}
#: Array bytes are read in slices of this size, so reading never holds a second copy of
#: a large array.
READ_CHUNK_BYTES: Final = 16 * 2**20
#: The zip flag bit that marks an encrypted member.
_ENCRYPTED: Final = 0x1


def check_members(archive: zipfile.ZipFile, source: str, file_size: int) -> None:
    """Refuse an archive whose members could be read differently by two readers or could
    inflate past the file's size: duplicate names, encrypted or compressed members, and
    members claiming more bytes than the file of ``file_size`` bytes holds."""
    counts = Counter(info.filename for info in archive.infolist())
    duplicates = sorted(name for name, count in counts.items() if count > 1)
    if duplicates:
        raise ModelFileError(
            f"{source}: the archive holds more than one member named {duplicates[0]!r}; a "
            "model file names each member once, and with two copies different readers can "
            "see different models"
        )
    for info in archive.infolist():
        if info.flag_bits & _ENCRYPTED:
            raise ModelFileError(
                f"{source}: member {info.filename!r} is encrypted; nnkit model files never are"
            )
        if info.compress_type != zipfile.ZIP_STORED:
            method = COMPRESSION_NAMES.get(info.compress_type, f"method {info.compress_type}")
            raise ModelFileError(
                f"{source}: member {info.filename!r} is compressed with {method}; nnkit "
                "writes every member uncompressed (stored) and will not inflate one, which "
                "could expand far beyond the file's size (a decompression bomb). nnkit never "
                "saved this file as it is: it was repacked or altered by another tool"
            )
        if (
            info.file_size != info.compress_size
            or info.header_offset + info.compress_size > file_size
        ):
            raise ModelFileError(
                f"{source}: member {info.filename!r} claims {info.file_size} bytes, but the "
                f"file holds {file_size} in all: it is truncated or was not written by nnkit"
            )


def read_array(archive: zipfile.ZipFile, member: str, source: str) -> np.ndarray:
    """The array in ``.npy`` member ``member`` of an archive that passed `check_members`.

    The header is read from the member's stream and checked (dtype, and a size equal to
    the member's remaining bytes) before the array is allocated; the data are then read
    straight into it, and the member's CRC is checked at its end. Never unpickles.
    """
    info = archive.getinfo(member)
    with archive.open(info) as stream:
        counted = _CountingReader(stream)
        try:
            major, _ = np.lib.format.read_magic(counted)
            read_header = (
                np.lib.format.read_array_header_1_0
                if major == 1
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran_order, dtype = read_header(counted)
        except ValueError as error:
            raise ModelFileError(
                f"{source}: array {member} has a damaged header ({error})"
            ) from None
        if dtype not in ALLOWED_DTYPES:
            raise ModelFileError(f"{source}: array {member} has unsupported dtype {dtype}")
        count = math.prod(shape)  # Python integers: a crafted shape cannot overflow
        available = info.file_size - counted.consumed
        if count * dtype.itemsize != available:
            raise ModelFileError(
                f"{source}: array {member} has a header for shape {shape} ({dtype}), "
                f"{count * dtype.itemsize} bytes, but the member holds {available}: it is "
                "truncated, padded or crafted"
            )
        array = np.empty(count, dtype=dtype)
        _read_into(stream, array.data.cast("B"), member, source)
        if stream.read(1):  # also makes zipfile check the CRC if the array was empty
            raise ModelFileError(f"{source}: array {member} is longer than its header says")
    return array.reshape(shape, order="F" if fortran_order else "C")


def _read_into(stream: IO[bytes], target: memoryview, member: str, source: str) -> None:
    position = 0
    while position < len(target):
        chunk = stream.read(min(READ_CHUNK_BYTES, len(target) - position))
        if not chunk:
            raise ModelFileError(f"{source}: array {member} is truncated")
        target[position : position + len(chunk)] = chunk
        position += len(chunk)


class _CountingReader:
    """A read-only stream that counts the bytes read through it (the ``.npy`` header's
    length, without relying on the member stream's ``tell``)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.consumed = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.consumed += len(data)
        return data
