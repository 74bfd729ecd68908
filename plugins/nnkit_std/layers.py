"""The standard layers besides Dense: dropout, and the layers that reshape, activate,
look up embeddings, mask padded positions and skip."""

from __future__ import annotations

import numpy as np

import nnkit
from nnkit import Layer
from nnkit.arguments import FRACTION, positive_int, real_number
from nnkit.errors import ConfigurationError, DataError
from nnkit.files.onnx import OnnxGraph, export_component
from nnkit.interfaces.workspace import Workspace
from nnkit.registry.registry import default_registry


class Dropout(Layer):
    """Inverted dropout: while training, zero each input with probability ``rate`` and
    scale the rest by ``1 / (1 - rate)``, so inference is the identity.

    The mask is drawn from the layer's own generator, seeded by the network's seed, and
    kept in the call's workspace. Works on samples of any shape, and passes a mask of
    padded positions on.
    """

    supports_masking = True

    def __init__(self, rate: float = 0.5) -> None:
        self.rate = real_number(rate, "dropout rate", FRACTION)

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        self.rng = rng
        return tuple(input_shape)

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        if not training or self.rate == 0:
            ws.kept = None
            return x
        kept = ws.buffer_like("kept", x)
        # The generator fills memory in C order: a transposed buffer is drawn untransposed.
        self.rng.random(out=kept if kept.flags.c_contiguous else kept.T, dtype=x.dtype)
        np.greater_equal(kept, self.rate, out=kept)  # keep with probability 1 - rate
        kept *= 1 / (1 - self.rate)
        ws.kept = kept
        return np.multiply(x, kept, out=ws.buffer_like("y", x))

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        return x  # the identity at inference

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        if not need_input_gradient:
            return None
        if ws.kept is None:
            return dy
        return np.multiply(dy, ws.kept, out=ws.buffer_like("dx", dy))


class Flatten(Layer):
    """Each sample as one flat vector: ``(m, *shape)`` to ``(m, prod(shape))``, as the
    input of a dense layer after convolutions."""

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        self.input_shape = tuple(input_shape)
        return (int(np.prod(input_shape)),)

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        return x.reshape(x.shape[0], -1)  # a view when x is C-contiguous

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        return graph.node("Flatten", [x], axis=1)

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        return dy.reshape(dy.shape[0], *self.input_shape) if need_input_gradient else None


class Reshape(Layer):
    """Each sample reshaped to ``shape`` (one ``-1`` allowed), as NumPy's ``reshape``."""

    example_arguments = {"shape": (2, -1)}

    def __init__(self, shape: tuple[int, ...] | list[int]) -> None:
        dims = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
        if not dims or any(
            isinstance(d, bool) or not isinstance(d, (int, np.integer)) or (d < 1 and d != -1)
            for d in dims
        ) or dims.count(-1) > 1:
            raise ConfigurationError(
                f"reshape shape must be positive integers with at most one -1, got {shape!r}"
            )
        self.shape = tuple(int(d) for d in dims)

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        size = int(np.prod(input_shape))
        known = int(np.prod([d for d in self.shape if d != -1]))
        if (-1 in self.shape and size % known) or (-1 not in self.shape and known != size):
            raise ConfigurationError(
                f"cannot reshape samples of shape {tuple(input_shape)} ({size} values) to "
                f"{self.shape}"
            )
        self.input_shape = tuple(input_shape)
        self.output_shape = tuple(size // known if d == -1 else d for d in self.shape)
        return self.output_shape

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        return x.reshape(x.shape[0], *self.shape)

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        shape = np.array([-1, *self.output_shape], dtype=np.int64)
        return graph.node("Reshape", [x, graph.weight(shape, "shape")])

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        return dy.reshape(dy.shape[0], *self.input_shape) if need_input_gradient else None

    def get_config(self) -> dict:
        return {"shape": list(self.shape)}


class ActivationLayer(Layer):
    """An activation as a layer of its own, ``A = g(Z)`` element by element, so that
    ``dense -> batch_norm -> relu`` can be written.

    The activation sees samples first and the units last, as the activation interface
    lays them out: ``(m, units)`` for flat samples, ``(m, height, width, channels)`` (a
    view) for images, so a softmax normalises over the features (or channels).
    """

    example_arguments = {"activation": "tanh"}
    supports_masking = True  # element by element: a mask passes on

    def __init__(self, activation: str | nnkit.Activation) -> None:
        self.activation = default_registry().resolve("activation", activation)

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        Z = np.moveaxis(x, 1, -1)  # a view: the units (channels) last
        A = self.activation.forward(Z, out=ws.buffer_like("A", Z))
        ws.Z, ws.A = Z, A
        return np.moveaxis(A, -1, 1)

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        return export_component(self.activation, graph, x, "the activation layer's activation")

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        if not need_input_gradient:
            return None
        dA = np.moveaxis(dy, 1, -1)
        dZ = self.activation.backward(ws.Z, ws.A, dA, out=ws.buffer_like("dZ", dA))
        return np.moveaxis(dZ, -1, 1)


class Embedding(Layer):
    """A learned vector per category: integer codes ``0..input_dim-1`` to rows of the
    ``(input_dim, output_dim)`` table ``E``.

    Samples are ``(k,)`` codes (one per categorical column, or a sequence), giving
    ``(k, output_dim)``; follow it with flatten() for a dense layer. Codes arrive as
    the network's floats and must be whole numbers in range: checked in every forward
    pass, wherever the embedding stands, so a bad code is an error, never another row.

    With ``mask_zero=True`` code 0 is padding, as in Keras: the output carries a mask,
    False where the code is 0, that the layers after it read (a recurrent layer skips
    those steps, attention ignores those keys, the cross-entropy those positions). Code
    0 still has a row of ``E``, which padding never trains; give the real codes
    ``1..input_dim-1``.

    Args:
        input_dim: the number of codes, ``0..input_dim-1``.
        output_dim: the size of each code's vector.
        embeddings_initializer: how ``E`` is drawn.
        mask_zero: make a mask of the positions whose code is not 0.
    """

    example_arguments = {"input_dim": 5, "output_dim": 3}
    example_input_shape = (3,)
    differentiable_input = False
    supports_masking = True  # position by position: an incoming mask passes on

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        embeddings_initializer: str | nnkit.Initializer = "glorot_uniform",
        mask_zero: bool = False,
    ) -> None:
        self.input_dim = positive_int(input_dim, "embedding input_dim")
        self.output_dim = positive_int(output_dim, "embedding output_dim")
        if not isinstance(mask_zero, (bool, np.bool_)):
            raise ConfigurationError(
                f"embedding mask_zero must be True (code 0 is padding, masked) or False, "
                f"got {mask_zero!r}"
            )
        self.mask_zero = bool(mask_zero)
        self.embeddings_initializer = default_registry().resolve(
            "initializer", embeddings_initializer
        )

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        if len(input_shape) != 1:
            raise ConfigurationError(
                f"embedding takes samples of integer codes, shape (k,), got {tuple(input_shape)}"
            )
        # Fans (input_dim, output_dim), as nnkit 0.2 drew E: the same seed, the same table.
        self.add_parameter(
            "E", (self.input_dim, self.output_dim), self.embeddings_initializer,
            fans=(self.input_dim, self.output_dim),
        )
        return (int(input_shape[0]), self.output_dim)

    def check_input(self, X: np.ndarray) -> None:
        self._refuse_bad_codes(X, "X has", "row")

    def _refuse_bad_codes(self, x: np.ndarray, holder: str, position: str) -> None:
        """A `DataError` naming the first code of ``x`` that is negative, too large or not
        a whole number, if there is one."""
        codes = x.reshape(-1)
        bad = ~((codes >= 0) & (codes < self.input_dim) & (codes == np.floor(codes)))
        if bad.any():
            where = int(np.flatnonzero(bad)[0])
            sample, column = divmod(where, max(1, codes.size // max(1, x.shape[0])))
            raise DataError(
                f"embedding takes whole-number codes 0..{self.input_dim - 1}, but {holder} "
                f"{float(codes[where])!r} in {position} {sample}, column {column}; encode the "
                "categories as integers first, or raise input_dim"
            )

    def example_input(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return rng.integers(0, self.input_dim, size=shape).astype(float)

    def makes_mask(self) -> bool:
        return self.mask_zero

    def compute_mask(self, x: np.ndarray, mask: np.ndarray | None) -> np.ndarray | None:
        """With ``mask_zero``, True where the code is not 0 (and the incoming mask, if
        any, agrees); else the incoming mask."""
        if not self.mask_zero:
            return mask
        real = x != 0
        return real if mask is None else real & mask

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        # Checked here, not only in check_input: a layer before the embedding (a flatten,
        # a reshape) hides the codes from the check of X, and a code out of range would
        # silently index from the end (-1) or be truncated (4.7). One min, one max and
        # one comparison per batch; the full scan runs only to name a bad code.
        if x.size and not (x.min() >= 0 and x.max() < self.input_dim):  # NaN fails too
            self._refuse_bad_codes(x, "its input has", "sample")
        codes = x.astype(np.intp)
        if not np.array_equal(codes, x):
            self._refuse_bad_codes(x, "its input has", "sample")
        ws.codes = codes
        return np.take(self.params["E"], codes, axis=0, out=ws.buffer(
            "y", (*codes.shape, self.output_dim), self.params["E"].dtype))

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        if self.mask_zero:
            raise ConfigurationError(
                "embedding with mask_zero=True makes a mask of padded positions, which the "
                "ONNX export does not carry: the layers after it would read padding as "
                "real steps. Export a copy built with mask_zero=False only if the padding "
                "does not matter to them"
            )
        codes = graph.node("Cast", [x], to=7)  # 7: int64
        return graph.node("Gather", [graph.weight(self.params["E"], "E"), codes], axis=0)

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        dE = self.grads["E"]
        dE[...] = 0
        # dE[c] is the sum of the output gradients of every position holding code c.
        np.add.at(dE, ws.codes.reshape(-1), dy.reshape(-1, self.output_dim))
        if not need_input_gradient:
            return None
        return np.zeros(ws.codes.shape, dtype=dy.dtype)  # codes are not differentiable


class Masking(Layer):
    """Masks the time steps of float sequences whose features all equal ``mask_value``,
    as Keras' ``Masking``: samples ``(T, d)``, the output the input with masked steps
    set to 0, carrying the mask (False at a masked step) for the layers after it.

    For sequences of numbers padded to one length; for integer codes, an embedding's
    ``mask_zero`` does the same.

    Args:
        mask_value: the value every feature of a padded step holds.
    """

    example_input_shape = (4, 3)
    supports_masking = True

    def __init__(self, mask_value: float = 0.0) -> None:
        self.mask_value = real_number(mask_value, "masking mask_value")

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        if len(input_shape) < 2:
            raise ConfigurationError(
                f"masking takes sequences, samples of shape (time_steps, features), got "
                f"{tuple(input_shape)}"
            )
        return tuple(input_shape)

    def makes_mask(self) -> bool:
        return True

    def compute_mask(self, x: np.ndarray, mask: np.ndarray | None) -> np.ndarray | None:
        real = np.any(x != self.mask_value, axis=-1)
        return real if mask is None else real & mask

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        keep = self.compute_mask(x, ws.mask)[..., None]
        ws.keep = keep
        return np.multiply(x, keep, out=ws.buffer_like("y", x))  # masked steps read 0

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        if not need_input_gradient:
            return None
        return np.multiply(dy, ws.keep, out=ws.buffer_like("dx", dy))

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        raise ConfigurationError(
            "masking makes a mask of padded positions, which the ONNX export does not "
            "carry: the layers after it would read padding as real steps"
        )


class Residual(Layer):
    """A skip connection: ``y = x + f(x)``, where ``f`` is the inner ``layers`` in
    order (He et al., 2016). The inner layers must return the shape they are given.

    Its gradient is the sum of both paths: ``dx = dy + df(x)/dx^T dy``. A mask of padded
    positions reaches every inner layer (each must handle it: `Layer.supports_masking`)
    and passes on.
    """

    supports_masking = True

    @classmethod
    def example(cls) -> Residual:
        return cls([nnkit.Dense(4, activation="tanh"), nnkit.Dense(4)])

    def __init__(self, layers: list[Layer | str]) -> None:
        if isinstance(layers, (str, Layer)) or not isinstance(layers, (list, tuple)) or not layers:
            raise ConfigurationError(
                f"residual takes a non-empty list of layers, got {layers!r}"
            )
        registry = default_registry()
        self.layers = [registry.resolve("layer", layer) for layer in layers]
        self.rngs: list[np.random.Generator] = []

    def sublayers(self) -> list[Layer]:
        return self.layers

    def inner_generators(self) -> list[np.random.Generator]:
        return self.rngs

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        shape = tuple(input_shape)
        self.rngs = rng.spawn(len(self.layers))
        for index, (layer, child_rng) in enumerate(zip(self.layers, self.rngs)):
            try:
                shape = tuple(layer.build(shape, child_rng))
            except (ConfigurationError, ValueError) as error:
                raise ConfigurationError(f"inner layer {index + 1}: {error}") from None
        if shape != tuple(input_shape):
            raise ConfigurationError(
                f"its inner layers turn samples of shape {tuple(input_shape)} into {shape}, "
                "but a residual block adds its input to their output: they must keep the shape"
            )
        return shape

    def state(self) -> dict[str, np.ndarray]:
        # Each inner layer's state under its position: "0/running_mean".
        return {
            f"{index}/{key}": value
            for index, layer in enumerate(self.layers)
            for key, value in layer.state().items()
        }

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        parts: list[dict[str, np.ndarray]] = [{} for _ in self.layers]
        for key, value in state.items():
            index, _, name = key.partition("/")
            if not index.isdigit() or int(index) >= len(self.layers) or not name:
                raise ValueError(f"residual state has an unexpected entry {key!r}")
            parts[int(index)][name] = value
        for layer, part in zip(self.layers, parts):
            layer.load_state(part)

    def compute_mask(self, x: np.ndarray, mask: np.ndarray | None) -> np.ndarray | None:
        for index, layer in enumerate(self.layers):  # each inner layer must take it
            try:
                mask = layer.compute_mask(x, mask)
            except ConfigurationError as error:
                raise ConfigurationError(f"inner layer {index + 1}: {error}") from None
        return mask

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        y, mask = x, ws.mask
        for index, layer in enumerate(self.layers):
            inner = ws.child(index)
            if mask is not None or inner.mask is not None:
                inner.mask = mask  # the inner layers see the block's mask
                mask = layer.compute_mask(y, mask)
            y = layer.forward(y, inner, training)
        return np.add(x, y, out=ws.buffer_like("y", y))  # y = x + f(x)

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        y = x
        for index, layer in enumerate(self.layers):
            y = export_component(layer, graph, y, f"inner layer {index + 1} of residual")
        return graph.node("Add", [x, y])

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        d_inner = dy
        for index in range(len(self.layers) - 1, -1, -1):
            needed = index > 0 or need_input_gradient
            d_inner = self.layers[index].backward(d_inner, ws.child(index), needed)
        if not need_input_gradient:
            return None
        return np.add(dy, d_inner, out=ws.buffer_like("dx", d_inner))  # both paths

