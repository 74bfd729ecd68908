"""A hand-written NumPy im2col implementation of W3's CNN: the step with no framework around it.

conv 3x3 same -> relu -> max_pool 2 -> conv 3x3 same -> relu -> max_pool 2 -> flatten ->
dense relu -> dense softmax, trained by plain SGD. It does the work a framework's ``fit``
does (gather the shuffled batch, forward, the batch's loss and accuracy, back-propagation,
the SGD step) and nothing else, as `benchmarks/numpy_loop.py` does for W1.

Layout (chosen for NumPy, not for any framework): images are kept channels last,
``(m, height, width, channels)``, so that every im2col row is a run of contiguous
channels and a convolution is one product ``cols @ K`` of the ``(m*h*w, 9*c)`` columns
with the ``(9*c, filters)`` kernel matrix, whose result is again channels last. A 2x2
max pool is the element-wise maximum of four strided views. Since the maximum of ReLUs
is the ReLU of the maximum, each block pools first and applies ReLU to the four times
smaller result. Back-propagation through the pool sends each gradient to the input
that equals its window's maximum. Weights convert to and from PyTorch's layout
(`set_weights`, `get_weights`) so that both can start from the same point.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from benchmarks.workloads import CNN_INFERENCE_BATCH, Workload


def _padded_taps(size: int) -> list[tuple[slice, slice]]:
    """For each kernel offset 0, 1, 2 of a 3x3 "same" convolution: the rows of the input
    (``dest``) that the outputs (``src``) read at that offset, inside the image."""
    return [
        (slice(max(0, k - 1), size + min(0, k - 1)), slice(max(0, 1 - k), size + min(0, 1 - k)))
        for k in range(3)
    ]


def im2col(padded: np.ndarray, cols: np.ndarray) -> None:
    """Fill ``cols`` ``(m, h, w, 3, 3, c)`` from ``padded`` ``(m, h+2, w+2, c)``: the 3x3
    neighbourhood of every pixel, nine strided copies."""
    h, w = cols.shape[1:3]
    for ky in range(3):
        for kx in range(3):
            cols[:, :, :, ky, kx, :] = padded[:, ky : ky + h, kx : kx + w, :]


def col2im(dcols: np.ndarray, dimage: np.ndarray) -> None:
    """The adjoint of `im2col` for a "same" convolution, into ``dimage`` ``(m, h, w, c)``:
    every pixel's gradient is the sum over the nine taps that read it. The centre tap
    covers the whole image and is assigned; the others add where they fall inside."""
    h, w = dimage.shape[1:3]
    rows, columns = _padded_taps(h), _padded_taps(w)
    dimage[...] = dcols[:, :, :, 1, 1, :]
    for ky in range(3):
        for kx in range(3):
            if (ky, kx) != (1, 1):
                (dest_y, src_y), (dest_x, src_x) = rows[ky], columns[kx]
                dimage[:, dest_y, dest_x, :] += dcols[:, src_y, src_x, ky, kx, :]


def pool_windows(Z: np.ndarray) -> list[np.ndarray]:
    """The four strided views of ``Z`` ``(m, h, w, c)`` that a 2x2 max pool compares."""
    m, h, w, c = Z.shape
    windows = Z.reshape(m, h // 2, 2, w // 2, 2, c)
    return [windows[:, :, dy, :, dx, :] for dy in range(2) for dx in range(2)]


def max_pool(Z: np.ndarray, out: np.ndarray) -> np.ndarray:
    a, b, c, d = pool_windows(Z)
    np.maximum(a, b, out=out)
    np.maximum(out, c, out=out)
    return np.maximum(out, d, out=out)


def max_pool_backward(Z: np.ndarray, pooled: np.ndarray, dpooled: np.ndarray, dZ: np.ndarray):
    """``dZ`` = ``dpooled`` where ``Z`` is its window's maximum, zero elsewhere."""
    m, h, w, c = Z.shape
    shape = (m, h // 2, 2, w // 2, 2, c)
    wide = (m, h // 2, 1, w // 2, 1, c)
    mask = np.equal(Z.reshape(shape), pooled.reshape(wide))
    np.multiply(mask, dpooled.reshape(wide), out=dZ.reshape(shape))


class NumpyCNN:
    """W3's network in NumPy. ``filters``, ``hidden`` and the image size are parameters
    so that a tiny float64 instance can be checked against finite differences."""

    name = "NumPy CNN"

    def __init__(
        self,
        filters: tuple[int, int] = (32, 64),
        hidden: int = 128,
        n_classes: int = 10,
        image: tuple[int, int, int] = (1, 28, 28),  # channels, height, width
        dtype: type = np.float32,
        seed: int = 0,
    ) -> None:
        channels, height, width = image
        if height % 4 or width % 4:
            raise ValueError(f"image {height}x{width}: both sides must be multiples of 4")
        self.image, self.dtype = tuple(image), np.dtype(dtype)
        flat = (height // 4) * (width // 4) * filters[1]
        # (name, shape): kernels as (9 * channels_in, filters) im2col matrices with rows in
        # (ky, kx, channel) order; dense weights (fan_in, fan_out), flatten in (h, w, c) order.
        self.shapes = [
            ("K1", (9 * channels, filters[0])),
            ("b1", (filters[0],)),
            ("K2", (9 * filters[0], filters[1])),
            ("b2", (filters[1],)),
            ("W3", (flat, hidden)),
            ("b3", (hidden,)),
            ("W4", (hidden, n_classes)),
            ("b4", (n_classes,)),
        ]
        sizes = [int(np.prod(shape)) for _, shape in self.shapes]
        # perf: one array for all parameters and one for all gradients make the SGD step
        # two NumPy calls; each layer works on views of them.
        self.parameters = np.zeros(sum(sizes), self.dtype)
        self.gradients = np.zeros_like(self.parameters)
        self.p, self.g = {}, {}
        offset = 0
        for (key, shape), size in zip(self.shapes, sizes):
            self.p[key] = self.parameters[offset : offset + size].reshape(shape)
            self.g[key] = self.gradients[offset : offset + size].reshape(shape)
            offset += size
        self._buffers: dict[tuple[str, tuple[int, ...]], np.ndarray] = {}
        self.reset(seed)

    def reset(self, seed: int = 0) -> None:
        """Fresh Glorot-uniform weights and zero biases."""
        rng = np.random.default_rng(seed)
        self.parameters.fill(0)
        for key, shape in self.shapes:
            if key[0] in "KW":
                limit = np.sqrt(6 / (shape[0] + shape[1]))
                self.p[key][...] = rng.uniform(-limit, limit, shape)

    # -- weights in PyTorch's layout ---------------------------------------------------

    def set_weights(self, arrays: Sequence[np.ndarray]) -> None:
        """Take ``[conv1.weight, conv1.bias, conv2.weight, ..., fc2.bias]`` as PyTorch holds
        them: kernels ``(filters, channels, 3, 3)``, linear weights ``(out, in)`` with the
        flattened input in (channel, h, w) order."""
        k1, b1, k2, b2, w3, b3, w4, b4 = (np.asarray(a, self.dtype) for a in arrays)
        p = self.p
        p["K1"][...] = k1.transpose(2, 3, 1, 0).reshape(p["K1"].shape)
        p["K2"][...] = k2.transpose(2, 3, 1, 0).reshape(p["K2"].shape)
        hidden, channels = w3.shape[0], k2.shape[0]
        h, w = self.image[1] // 4, self.image[2] // 4
        p["W3"][...] = w3.reshape(hidden, channels, h, w).transpose(2, 3, 1, 0).reshape(-1, hidden)
        p["W4"][...] = w4.T
        for key, bias in (("b1", b1), ("b2", b2), ("b3", b3), ("b4", b4)):
            p[key][...] = bias

    def get_weights(self) -> list[np.ndarray]:
        """The inverse of `set_weights`."""
        p = self.p
        channels = self.image[0]
        f1, f2 = p["K1"].shape[1], p["K2"].shape[1]
        h, w = self.image[1] // 4, self.image[2] // 4
        hidden = p["W3"].shape[1]
        return [
            p["K1"].reshape(3, 3, channels, f1).transpose(3, 2, 0, 1).copy(),
            p["b1"].copy(),
            p["K2"].reshape(3, 3, f1, f2).transpose(3, 2, 0, 1).copy(),
            p["b2"].copy(),
            p["W3"].reshape(h, w, f2, hidden).transpose(3, 2, 0, 1).reshape(hidden, -1).copy(),
            p["b3"].copy(),
            p["W4"].T.copy(),
            p["b4"].copy(),
        ]

    # -- forward and backward ----------------------------------------------------------

    def _buffer(self, name: str, shape: tuple[int, ...], zero: bool = False) -> np.ndarray:
        """A scratch array kept from one batch to the next (a padded one keeps its zero
        border, since only its inside is ever written)."""
        key = (name, shape)
        buffer = self._buffers.get(key)
        if buffer is None:
            buffer = self._buffers[key] = (np.zeros if zero else np.empty)(shape, self.dtype)
        return buffer

    def forward(self, X: np.ndarray, keep: bool = False) -> np.ndarray:
        """Class probabilities ``(m, classes)`` of images ``X`` ``(m, c, h, w)``; with
        ``keep``, what back-propagation needs stays in ``self.saved``."""
        p, buf = self.p, self._buffer
        m, c, h, w = X.shape
        padded1 = buf("padded1", (m, h + 2, w + 2, c), zero=True)
        padded1[:, 1:-1, 1:-1, :] = X.transpose(0, 2, 3, 1)
        cols1, Z1, M1 = self._convolve_and_pool(padded1, 1)
        # ReLU of the pooled maximum, written straight into the next padded input.
        _, h, w, f1 = M1.shape
        padded2 = buf("padded2", (m, h + 2, w + 2, f1), zero=True)
        A1 = np.maximum(M1, 0, out=padded2[:, 1:-1, 1:-1, :])
        cols2, Z2, M2 = self._convolve_and_pool(padded2, 2)
        A2 = np.maximum(M2, 0, out=buf("A2", M2.shape)).reshape(m, -1)
        A3 = np.matmul(A2, p["W3"], out=buf("A3", (m, p["W3"].shape[1])))
        A3 += p["b3"]
        np.maximum(A3, 0, out=A3)
        A4 = np.matmul(A3, p["W4"], out=buf("A4", (m, p["W4"].shape[1])))
        A4 += p["b4"]
        A4 -= A4.max(axis=1, keepdims=True)
        np.exp(A4, out=A4)
        A4 /= A4.sum(axis=1, keepdims=True)
        if keep:
            self.saved = (cols1, Z1, M1, A1, cols2, Z2, M2, A2, A3, A4)
        return A4

    def backward(self, labels: np.ndarray) -> None:
        """Gradients of the mean cross-entropy of the last ``forward(..., keep=True)``
        into ``self.gradients``."""
        p, g, buf = self.p, self.g, self._buffer
        cols1, Z1, M1, A1, cols2, Z2, M2, A2, A3, A4 = self.saved
        m = len(labels)
        ones = buf("ones", (1, m * Z1.shape[1] * Z1.shape[2]))
        ones.fill(1)
        # Softmax with cross-entropy: dZ = (A - Y) / m.
        dZ4 = buf("dZ4", A4.shape)
        np.copyto(dZ4, A4)
        dZ4[np.arange(m), labels] -= 1
        dZ4 /= m
        np.matmul(A3.T, dZ4, out=g["W4"])
        np.matmul(ones[:, :m], dZ4, out=g["b4"][None])
        dZ3 = np.matmul(dZ4, p["W4"].T, out=buf("dZ3", A3.shape))
        dZ3 *= A3 > 0
        np.matmul(A2.T, dZ3, out=g["W3"])
        np.matmul(ones[:, :m], dZ3, out=g["b3"][None])
        dM2 = np.matmul(dZ3, p["W3"].T, out=buf("dA2", A2.shape)).reshape(M2.shape)
        dM2 *= M2 > 0
        rows2 = self._convolution_gradients(dM2, cols2, Z2, M2, 2, ones)
        dcols2 = np.matmul(rows2, p["K2"].T, out=buf("dcols2", (len(rows2), p["K2"].shape[0])))
        dM1 = buf("dM1", M1.shape)
        col2im(dcols2.reshape(cols2.shape), dM1)
        dM1 *= M1 > 0
        self._convolution_gradients(dM1, cols1, Z1, M1, 1, ones)

    def _convolve_and_pool(
        self, padded: np.ndarray, layer: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Convolution ``layer`` (3x3, "same") over its zero-padded input ``(m, h + 2,
        w + 2, c)`` as one product of the im2col rows, plus its bias, then the 2x2 max
        pool: the columns, ``Z`` ``(m, h, w, f)`` and the pooled ``M``."""
        K, buf = self.p[f"K{layer}"], self._buffer
        m, h, w, c = padded.shape[0], padded.shape[1] - 2, padded.shape[2] - 2, padded.shape[3]
        cols = buf(f"cols{layer}", (m, h, w, 3, 3, c))
        im2col(padded, cols)
        Z = np.matmul(cols.reshape(m * h * w, -1), K, out=buf(f"Z{layer}", (m * h * w, K.shape[1])))
        Z += self.p[f"b{layer}"]
        Z = Z.reshape(m, h, w, K.shape[1])
        return cols, Z, max_pool(Z, buf(f"M{layer}", (m, h // 2, w // 2, K.shape[1])))

    def _convolution_gradients(
        self,
        dM: np.ndarray,
        cols: np.ndarray,
        Z: np.ndarray,
        M: np.ndarray,
        layer: int,
        ones: np.ndarray,
    ) -> np.ndarray:
        """From ``dM``, the gradient of `_convolve_and_pool`'s pooled output: the
        gradients of convolution ``layer``'s kernel and bias, and ``dZ`` as rows, one per
        pixel, for the gradient of its input."""
        dZ = self._buffer(f"dZ{layer}", Z.shape)
        max_pool_backward(Z, M, dM, dZ)
        rows = dZ.reshape(-1, dZ.shape[-1])
        np.matmul(cols.reshape(len(rows), -1).T, rows, out=self.g[f"K{layer}"])
        np.matmul(ones[:, : len(rows)], rows, out=self.g[f"b{layer}"][None])
        return rows

    def loss(self, X: np.ndarray, labels: np.ndarray) -> float:
        """Mean cross-entropy of the network on ``X``."""
        probabilities = self.predict(X)[np.arange(len(labels)), labels]
        return -float(np.mean(np.log(np.maximum(probabilities, 1e-7))))

    # -- the benchmark's calls -------------------------------------------------------------

    def train(
        self,
        workload: Workload,
        seed: int = 0,
        weights: Sequence[np.ndarray] | None = None,
        shuffle: bool = True,
    ) -> None:
        """The workload's epochs of SGD from fresh weights (or ``weights``, in PyTorch's
        layout), each batch's loss and accuracy computed as a framework's ``fit`` does."""
        if tuple(workload.X.shape[1:]) != self.image:
            raise ValueError(
                f"images of shape {workload.X.shape[1:]}, but this network was built for "
                f"{self.image}: pass image={workload.X.shape[1:]} to NumpyCNN"
            )
        self.reset(seed)
        if weights is not None:
            self.set_weights(weights)
        X, labels, m = workload.X, workload.y, workload.batch_size
        rng = np.random.default_rng(seed)
        self.losses: list[float] = []
        for _ in range(workload.epochs):
            order = rng.permutation(len(X)) if shuffle else np.arange(len(X))
            for start in range(0, len(X), m):
                rows = order[start : start + m]
                batch = self._buffer("X", (len(rows), *X.shape[1:]))
                X.take(rows, axis=0, out=batch, mode="clip")
                batch_labels = labels[rows]
                A = self.forward(batch, keep=True)
                picked = A[np.arange(len(rows)), batch_labels]
                self.losses.append(-float(np.mean(np.log(np.maximum(picked, 1e-7)))))
                self.accuracy = np.count_nonzero(A.argmax(1) == batch_labels) / len(rows)
                self.backward(batch_labels)
                self.gradients *= workload.learning_rate
                self.parameters -= self.gradients

    def predict(self, X: np.ndarray) -> np.ndarray:
        outputs = np.empty((len(X), self.p["W4"].shape[1]), self.dtype)
        for start in range(0, len(X), CNN_INFERENCE_BATCH):
            batch = X[start : start + CNN_INFERENCE_BATCH]
            outputs[start : start + len(batch)] = self.forward(batch)
        return outputs
