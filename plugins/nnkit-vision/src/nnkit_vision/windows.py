"""Sliding windows over images: where a kernel or a pool lands, and im2col / col2im.

Arrays here are batches in the samples-last layout, ``(channels, height, width, m)``
(`nnkit_vision.images`). A window grid is visited one kernel offset ``(i, j)`` at a
time: the pixels every window of the batch sees at that offset form one strided view
of the (padded) image, so the Python loops run over the ``kh * kw`` offsets of the
kernel, never over pixels or samples.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from nnkit.errors import ConfigurationError
from nnkit.interfaces.workspace import Workspace

__all__ = [
    "PADDINGS",
    "WindowGrid",
    "col2im",
    "column_blocks",
    "im2col",
    "staged",
    "window_blocks",
]

#: The padding modes a convolution takes.
PADDINGS = (
    "valid",  # no padding: only windows that fit inside the image
    "same",  # (k - 1) // 2 zeros before and the rest of k - 1 after: size kept at stride 1
)


@dataclass(frozen=True)
class WindowGrid:
    """The windows of ``size`` (height, width) that visit an image of ``image`` pixels
    every ``stride`` pixels, after ``padding`` zeros (top, bottom, left, right). With a
    ``dilation`` ``d``, a window's pixels are ``d`` apart: it spans ``d (k - 1) + 1``."""

    image: tuple[int, int]
    size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)
    dilation: tuple[int, int] = (1, 1)

    @classmethod
    def fitted(
        cls,
        layer: str,
        what: str,
        image: Sequence[int],
        size: tuple[int, int],
        stride: tuple[int, int],
        padding: str | tuple[int, int, int, int] = "valid",
        dilation: tuple[int, int] = (1, 1),
    ) -> WindowGrid:
        """The grid of a layer named ``layer`` whose window is its ``what`` (kernel,
        pool), or an error naming both sizes when the window does not fit the image.
        ``padding`` is ``"valid"``, ``"same"`` or the zeros ``(top, bottom, left,
        right)``."""
        span = (dilation[0] * (size[0] - 1) + 1, dilation[1] * (size[1] - 1) + 1)
        if padding == "same":  # as PyTorch's padding=(k - 1) // 2, the extra one after
            (kh, kw) = span
            pads = ((kh - 1) // 2, kh // 2, (kw - 1) // 2, kw // 2)
        elif padding == "valid":
            pads = (0, 0, 0, 0)
        else:
            pads = tuple(padding)  # type: ignore[assignment]
        grid = cls((int(image[0]), int(image[1])), size, stride, pads, dilation)
        (hp, wp), (kh, kw) = grid.padded, span
        if kh > hp or kw > wp:  # never with "same": it pads to at least the kernel
            advice = (
                "a smaller kernel_size, or padding='same'"
                if what == "kernel"
                else f"a smaller {what}_size, or larger images"
            )
            seen = f"{hp}x{wp} padded" if grid.is_padded else f"{image[0]}x{image[1]}"
            spanned = f" (spanning {kh}x{kw})" if span != size else ""
            raise ConfigurationError(
                f"{layer}'s {size[0]}x{size[1]} {what}{spanned} is larger than its {seen} "
                f"input images; use {advice}"
            )
        return grid

    @functools.cached_property
    def padded(self) -> tuple[int, int]:
        """The image's height and width with its padding."""
        top, bottom, left, right = self.padding
        return self.image[0] + top + bottom, self.image[1] + left + right

    @functools.cached_property
    def output(self) -> tuple[int, int]:
        """How many windows fit down and across: ``(padded - span) // stride + 1``."""
        (hp, wp), (kh, kw), (sh, sw) = self.padded, self.span, self.stride
        return (hp - kh) // sh + 1, (wp - kw) // sw + 1

    @functools.cached_property
    def span(self) -> tuple[int, int]:
        """The height and width a window covers: ``dilation * (size - 1) + 1``."""
        (kh, kw), (dh, dw) = self.size, self.dilation
        return dh * (kh - 1) + 1, dw * (kw - 1) + 1

    @property
    def is_padded(self) -> bool:
        return any(self.padding)

    @property
    def tiles(self) -> bool:
        """Whether the windows never overlap and leave no gaps between them (stride ==
        size): each pixel then belongs to at most one window."""
        return self.stride == self.size and self.dilation == (1, 1)

    @functools.cached_property
    def offsets(self) -> list[tuple[int, int]]:
        """The kernel offsets ``(i, j)`` in row-major order."""
        return [(i, j) for i in range(self.size[0]) for j in range(self.size[1])]

    def at(
        self, padded: np.ndarray, i: int, j: int, first: int = 0, last: int | None = None
    ) -> np.ndarray:
        """The pixel at offset ``(i, j)`` of every window (of the windows of output rows
        ``first`` to ``last``, excluded): a strided view of ``padded`` (``(channels,
        *self.padded, m)``) of shape ``(channels, *self.output, m)``."""
        (ho, wo), (sh, sw), (dh, dw) = self.output, self.stride, self.dilation
        last = ho if last is None else last
        i, j = i * dh, j * dw  # where offset (i, j) of a dilated kernel lands
        rows = slice(i + sh * first, i + sh * (last - 1) + 1, sh)
        return padded[:, rows, j : j + sw * (wo - 1) + 1 : sw]

    def unpad(self, padded: np.ndarray) -> np.ndarray:
        """The image inside ``padded``: a view."""
        top, _, left, _ = self.padding
        return padded[:, top : top + self.image[0], left : left + self.image[1]]


def window_blocks(image: np.ndarray, grid: WindowGrid) -> np.ndarray:
    """The windows of a grid that tiles the image (`WindowGrid.tiles`) as a view of
    ``image`` (``(channels, height, width, m)``), shaped ``(channels, Ho, ph, Wo, pw, m)``:
    pixel ``(i, j)`` of window ``(r, c)`` is ``[:, r, i, c, j]``. Rows and columns past
    the last window are left out."""
    (ho, wo), (ph, pw) = grid.output, grid.size
    s_channel, s_row, s_column, s_sample = image.strides
    return np.lib.stride_tricks.as_strided(
        image,
        shape=(image.shape[0], ho, ph, wo, pw, image.shape[3]),
        strides=(s_channel, s_row * ph, s_row, s_column * pw, s_column, s_sample),
    )


def staged(xt: np.ndarray, grid: WindowGrid, ws: Workspace, fill: float = 0) -> np.ndarray:
    """``xt`` (``(channels, height, width, m)``) padded with ``fill`` (zeros; max
    pooling pads with ``-inf``) and C-contiguous: ``xt`` itself when it already is, else
    a copy in a buffer of ``ws``."""
    if not grid.is_padded and xt.flags.c_contiguous:
        return xt
    buffer = ws.buffer("staged", (xt.shape[0], *grid.padded, xt.shape[-1]), xt.dtype)
    top, bottom, left, right = grid.padding
    # The buffer's memory is reused by batches of other sizes: clear its border each time.
    if top:
        buffer[:, :top] = fill
    if bottom:
        buffer[:, buffer.shape[1] - bottom :] = fill
    if left:
        buffer[:, :, :left] = fill
    if right:
        buffer[:, :, buffer.shape[2] - right :] = fill
    np.copyto(grid.unpad(buffer), xt)
    return buffer


def im2col(xt: np.ndarray, grid: WindowGrid, ws: Workspace) -> np.ndarray:
    """The column matrix ``X_col`` of ``xt``: one row per (channel, kernel offset),
    ``C * kh * kw`` rows, and one column per (output pixel, sample), ``Ho * Wo * m``."""
    return _columns(staged(xt, grid, ws), grid, ws, 0, grid.output[0])


def column_blocks(
    xt: np.ndarray, grid: WindowGrid, ws: Workspace, max_size: int
) -> Iterator[tuple[slice, np.ndarray]]:
    """``X_col`` in blocks of whole output rows, each of at most ``max_size`` entries
    (or one row): ``(columns, block)`` pairs, ``block`` being ``X_col[:, columns]``.
    Each block reuses the memory of the one before."""
    padded = staged(xt, grid, ws)
    row_size = xt.shape[0] * grid.size[0] * grid.size[1] * grid.output[1] * xt.shape[-1]
    rows = max(1, max_size // row_size)
    per_row = grid.output[1] * xt.shape[-1]  # columns per output row
    for first in range(0, grid.output[0], rows):
        last = min(first + rows, grid.output[0])
        yield slice(first * per_row, last * per_row), _columns(padded, grid, ws, first, last)


def _columns(
    padded: np.ndarray, grid: WindowGrid, ws: Workspace, first: int, last: int
) -> np.ndarray:
    """The columns of ``X_col`` for output rows ``first`` to ``last`` (excluded)."""
    channels, m = padded.shape[0], padded.shape[-1]
    if grid.size == (1, 1) and grid.stride == (1, 1):  # every pixel is a window: no copy
        return padded[:, first:last].reshape(channels, -1)
    (kh, kw), (_, wo) = grid.size, grid.output
    cols = ws.buffer("cols", (channels, kh, kw, last - first, wo, m), padded.dtype)
    for i, j in grid.offsets:
        np.copyto(cols[:, i, j], grid.at(padded, i, j, first, last))
    return cols.reshape(channels * kh * kw, -1)


def col2im(dcols: np.ndarray, grid: WindowGrid, ws: Workspace) -> np.ndarray:
    """The inverse scatter of `im2col`: each entry of ``dcols`` (shaped as ``X_col``)
    added into the pixel it was copied from. Returns ``(channels, height, width, m)``,
    a view into a buffer of ``ws``."""
    (kh, kw), (ho, wo) = grid.size, grid.output
    channels = dcols.shape[0] // (kh * kw)
    m = dcols.shape[1] // (ho * wo)
    if grid.size == (1, 1) and grid.stride == (1, 1):
        return dcols.reshape(channels, ho, wo, m)
    padded = ws.buffer("d_staged", (channels, *grid.padded, m), dcols.dtype)
    padded.fill(0)
    blocks = dcols.reshape(channels, kh, kw, ho, wo, m)
    for i, j in grid.offsets:
        target = grid.at(padded, i, j)
        np.add(target, blocks[:, i, j], out=target)
    return grid.unpad(padded)
