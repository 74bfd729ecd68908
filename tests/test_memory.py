"""Training reuses its memory: buffers are allocated once, never per batch or per epoch."""

from __future__ import annotations

import tracemalloc

import numpy as np

import nnkit
from nnkit.interfaces.buffers import BufferCache
from nnkit.interfaces.workspace import Workspace

rng = np.random.default_rng(0)
X = rng.normal(size=(20_000, 50)).astype(np.float32)  # 4 MB
y = rng.integers(0, 3, size=20_000)


def network():
    return nnkit.Network(
        [nnkit.Dense(32, activation="relu"), nnkit.Dense(3, activation="softmax")],
        loss="cross_entropy",
        optimizer="sgd",
        seed=0,
    )


def test_a_smaller_request_reuses_the_larger_buffers_memory():
    cache = BufferCache()
    full = cache.get("Z", (32, 128), np.float32)
    last = cache.get("Z", (32, 104), np.float32)  # the last, partial batch of an epoch
    assert np.shares_memory(full, last) and last.flags.c_contiguous
    assert cache.get("Z", (32, 128), np.float32) is full
    bigger = cache.get("Z", (32, 1024), np.float32)  # prediction's larger batches
    assert bigger.shape == (32, 1024) and not np.shares_memory(bigger, full)
    assert np.shares_memory(cache.get("Z", (32, 128), np.float32), bigger)
    ones = cache.filled("ones", (7, 1), np.float64, 1)
    assert np.array_equal(ones, np.ones((7, 1)))


def layout(array: np.ndarray) -> list[int]:
    """The axes of ``array`` from the slowest-varying in memory to the fastest."""
    return sorted(range(array.ndim), key=lambda axis: -array.strides[axis])


def test_a_buffer_like_an_array_has_its_memory_order_whatever_the_transposition():
    """nnkit-vision's images, ``(m, C, H, W)`` views of ``(C, H, W, m)`` blocks, get
    buffers in that order, as Fortran-ordered arrays get Fortran-ordered ones: an
    element-wise operation between two orders strides through memory."""
    cache = BufferCache()
    images = np.zeros((3, 4, 5, 2), np.float32).transpose(3, 0, 1, 2)  # (m, C, H, W)
    channels_last = np.moveaxis(images, 1, -1)  # (m, H, W, C), what an activation sees
    rows = np.zeros((6, 2)).T  # a dense layer's output, Fortran-ordered
    for array in (images, channels_last, rows, np.zeros((2, 3))):
        for made in (cache.like("A", array), cache.filled_like("zeros", array, 0)):
            assert made.shape == array.shape and made.dtype == array.dtype
            assert layout(made) == layout(array) and made.base is not None
    assert np.array_equal(cache.filled_like("zeros", images, 0), np.zeros(images.shape))
    strided = np.zeros((4, 6))[:, ::2]  # no transposition is contiguous: C order
    assert cache.like("S", strided).flags.c_contiguous
    # So an activation layer after a convolution gives images in the convolution's order.
    relu = nnkit.layer("activation", activation="relu")
    assert layout(relu.forward(images, Workspace())) == layout(images) == [1, 2, 3, 0]


def test_every_batch_of_an_epoch_uses_the_same_buffers():
    net = network()
    net.fit(X[:1000], y[:1000], epochs=1, batch_size=64, verbose=0)
    first_layer = net.layers[0]
    addresses = set()
    original = first_layer.forward

    def recording_forward(x, workspace, training=False):
        y = original(x, workspace, training)
        addresses.add((y.__array_interface__["data"][0], x.__array_interface__["data"][0]))
        return y

    first_layer.forward = recording_forward
    net.fit(X[:1000], y[:1000], epochs=2, batch_size=64, verbose=0)  # the last batch has 40
    assert len(addresses) == 1


def test_a_second_epoch_allocates_no_more_than_small_temporaries():
    net = network()
    net.fit(X, y, epochs=1, batch_size=64, verbose=0)
    tracemalloc.start()
    try:
        net.fit(X, y, epochs=3, batch_size=64, verbose=0)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    data_bytes = X.nbytes
    # The per-fit arrays (batch order, compact one-hot targets) and a batch's temporaries
    # are a small fraction of the data: nothing the size of X is copied.
    assert peak < data_bytes / 4, peak
