"""The standard merge layers: one value from several, for networks drawn as graphs.

``add``, ``subtract``, ``multiply`` and ``average`` combine inputs of one shape element
by element; ``concatenate`` joins them along an axis. Each returns the gradient of
every input from `backward_inputs`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nnkit.errors import ConfigurationError, DataError
from nnkit.files.onnx import OnnxGraph
from nnkit.interfaces.layer import Shape
from nnkit.interfaces.merge import MergeLayer
from nnkit.interfaces.workspace import Workspace


class _ElementWise(MergeLayer):
    """A merge of inputs of one and the same shape, element by element."""

    supports_masking = True  # position by position: the inputs' masks combine

    #: The number of inputs the layer takes, when it takes exactly so many.
    arity: int | None = None

    def build_inputs(self, input_shapes: Sequence[Shape], rng: np.random.Generator) -> Shape:
        shapes = [tuple(shape) for shape in input_shapes]
        if self.arity is not None and len(shapes) != self.arity:
            raise ConfigurationError(f"it takes exactly {self.arity} inputs, got {len(shapes)}")
        if len(set(shapes)) != 1:
            raise ConfigurationError(
                f"it combines inputs element by element, so they must have one shape, got "
                f"{', '.join(map(str, shapes))}; make them equal first (a dense layer)"
            )
        return shapes[0]


class Add(_ElementWise):
    """The sum of the inputs: ``y = x_1 + ... + x_n``; each input's gradient is ``dy``."""

    def forward_inputs(
        self, xs: Sequence[np.ndarray], ws: Workspace, training: bool = False
    ) -> np.ndarray:
        y = np.add(xs[0], xs[1], out=ws.buffer_like("y", xs[0]))
        for x in xs[2:]:
            y += x
        ws.n = len(xs)
        return y

    def backward_inputs(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> list[np.ndarray | None]:
        return [dy if need_input_gradient else None] * ws.n

    def to_onnx_inputs(self, graph: OnnxGraph, xs: Sequence[str]) -> str:
        return graph.node("Sum", list(xs))


class Subtract(_ElementWise):
    """The difference of two inputs: ``y = x_1 - x_2``."""

    arity = 2

    def forward_inputs(
        self, xs: Sequence[np.ndarray], ws: Workspace, training: bool = False
    ) -> np.ndarray:
        return np.subtract(xs[0], xs[1], out=ws.buffer_like("y", xs[0]))

    def backward_inputs(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> list[np.ndarray | None]:
        if not need_input_gradient:
            return [None, None]
        return [dy, np.negative(dy, out=ws.buffer_like("dx2", dy))]

    def to_onnx_inputs(self, graph: OnnxGraph, xs: Sequence[str]) -> str:
        return graph.node("Sub", list(xs))


class Multiply(_ElementWise):
    """The element-wise product of the inputs; the gradient of input ``i`` is ``dy``
    times the product of the others."""

    def forward_inputs(
        self, xs: Sequence[np.ndarray], ws: Workspace, training: bool = False
    ) -> np.ndarray:
        ws.xs = list(xs)
        y = np.multiply(xs[0], xs[1], out=ws.buffer_like("y", xs[0]))
        for x in xs[2:]:
            y *= x
        return y

    def backward_inputs(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> list[np.ndarray | None]:
        xs: list[np.ndarray] = ws.xs
        if not need_input_gradient:
            return [None] * len(xs)
        gradients: list[np.ndarray | None] = []
        for i in range(len(xs)):
            # The product of the others, not y / x_i: an input may hold zeros.
            dx = ws.buffer_like(f"dx{i}", dy)
            np.copyto(dx, dy)
            for j, x in enumerate(xs):
                if j != i:
                    dx *= x
            gradients.append(dx)
        return gradients

    def to_onnx_inputs(self, graph: OnnxGraph, xs: Sequence[str]) -> str:
        y = xs[0]
        for x in xs[1:]:
            y = graph.node("Mul", [y, x])
        return y


class Average(_ElementWise):
    """The mean of the inputs: ``y = (x_1 + ... + x_n) / n``; each input's gradient is
    ``dy / n``."""

    def forward_inputs(
        self, xs: Sequence[np.ndarray], ws: Workspace, training: bool = False
    ) -> np.ndarray:
        y = np.add(xs[0], xs[1], out=ws.buffer_like("y", xs[0]))
        for x in xs[2:]:
            y += x
        y *= 1 / len(xs)
        ws.n = len(xs)
        return y

    def backward_inputs(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> list[np.ndarray | None]:
        if not need_input_gradient:
            return [None] * ws.n
        share = np.multiply(dy, 1 / ws.n, out=ws.buffer_like("dx", dy))
        return [share] * ws.n

    def to_onnx_inputs(self, graph: OnnxGraph, xs: Sequence[str]) -> str:
        # Sum, then scaled: onnxruntime implements Mean for float32 only.
        return graph.node("Mul", [graph.node("Sum", list(xs)), graph.constant(1 / len(xs))])


class Concatenate(MergeLayer):
    """The inputs joined along ``axis``, counted as in the batch ``(m, *sample_shape)``:
    ``-1`` (the default) is the last, ``1`` the first axis of a sample (the channels of
    an image). The other axes must agree; each input's gradient is its slice of ``dy``."""

    def __init__(self, axis: int = -1) -> None:
        if isinstance(axis, bool) or not isinstance(axis, int) or axis == 0:
            raise ConfigurationError(
                f"concatenate joins along an axis of the samples: a non-zero integer "
                f"(-1 for the last, 1 for the first), got {axis!r}; axis 0 holds the samples"
            )
        self.axis = axis

    def build_inputs(self, input_shapes: Sequence[Shape], rng: np.random.Generator) -> Shape:
        shapes = [tuple(shape) for shape in input_shapes]
        rank = len(shapes[0])
        if any(len(shape) != rank for shape in shapes):
            raise ConfigurationError(
                f"its inputs must have samples of one rank, got {', '.join(map(str, shapes))}"
            )
        if not -rank <= self.axis <= rank:
            raise ConfigurationError(
                f"axis {self.axis} does not exist in batches of samples of shape {shapes[0]}"
            )
        position = self.axis - 1 if self.axis > 0 else rank + self.axis  # within a sample
        rest = {shape[:position] + shape[position + 1 :] for shape in shapes}
        if len(rest) != 1:
            raise ConfigurationError(
                f"along axis {self.axis}, the other axes must agree, got "
                f"{', '.join(map(str, shapes))}"
            )
        self.sizes = [shape[position] for shape in shapes]
        self.position = position + 1  # in the batch
        merged = list(shapes[0])
        merged[position] = sum(self.sizes)
        return tuple(merged)

    def forward_inputs(
        self, xs: Sequence[np.ndarray], ws: Workspace, training: bool = False
    ) -> np.ndarray:
        shape = list(xs[0].shape)
        shape[self.position] = sum(self.sizes)
        out = ws.buffer("y", tuple(shape), xs[0].dtype)
        return np.concatenate(list(xs), axis=self.position, out=out)

    def backward_inputs(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> list[np.ndarray | None]:
        if not need_input_gradient:
            return [None] * len(self.sizes)
        bounds = np.cumsum(self.sizes)[:-1]
        return list(np.split(dy, bounds, axis=self.position))  # views of dy

    def to_onnx_inputs(self, graph: OnnxGraph, xs: Sequence[str]) -> str:
        return graph.node("Concat", list(xs), axis=self.position)


class ApplyMask(MergeLayer):
    """The sequences of the first input, masked by the second: ``apply_mask()([x, mask])``
    passes ``x`` (samples ``(T, ...)``) through unchanged and marks as padding the steps
    where ``mask`` (samples ``(T,)``) is 0, for the layers after it to read, as the
    ``mask=`` argument of a Keras call or PyTorch's ``key_padding_mask`` (with the
    opposite sign: here 1 is a real step, 0 a padded one).

    For a mask the data already holds (lengths turned into 0/1 rows, an attention mask
    from a tokenizer) rather than one read off a padding code (`embedding`'s
    ``mask_zero``) or value (`masking`). The mask input takes no gradient.
    """

    def build_inputs(self, input_shapes: Sequence[Shape], rng: np.random.Generator) -> Shape:
        shapes = [tuple(shape) for shape in input_shapes]
        if len(shapes) != 2:
            raise ConfigurationError(f"it takes two inputs, [sequences, mask], got {len(shapes)}")
        values, mask = shapes
        if len(values) < 2 or mask != values[:1]:
            raise ConfigurationError(
                f"it takes sequences with samples (time_steps, ...) and a mask with samples "
                f"(time_steps,), one 0/1 entry per step; got {values} and {mask}"
            )
        return values

    def example_input(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        if len(shape) == 2:  # a batch of masks (m, T): 0/1, each sequence with a real step
            mask = (rng.random(shape) < 0.6).astype(float)
            mask[:, 0] = 1.0
            return mask
        return rng.normal(size=shape)

    #: The sample shapes the conformance kit builds it for: sequences and their mask.
    example_input_shapes = ((4, 3), (4,))
    non_differentiable_inputs = (1,)  # the mask

    def makes_mask(self) -> bool:
        return True

    def compute_mask_inputs(
        self, xs: Sequence[np.ndarray], masks: Sequence[np.ndarray | None]
    ) -> np.ndarray | None:
        given = xs[1]
        real = given == 1
        if not np.all(real | (given == 0)):
            raise DataError(
                "apply_mask: the mask input must hold 0 (a padded step) or 1 (a real step), "
                f"found {given[~(real | (given == 0))].flat[0]!r}; turn lengths into 0/1 rows "
                "first, e.g. np.arange(T) < lengths[:, None]"
            )
        carried = masks[0]
        return real if carried is None else real & carried

    def forward_inputs(
        self, xs: Sequence[np.ndarray], ws: Workspace, training: bool = False
    ) -> np.ndarray:
        ws.mask_shape = xs[1].shape
        return xs[0]

    def backward_inputs(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> list[np.ndarray | None]:
        if not need_input_gradient:
            return [None, None]
        no_gradient = ws.buffer("dmask", ws.mask_shape, dy.dtype)
        no_gradient.fill(0)
        return [dy, no_gradient]

    def to_onnx_inputs(self, graph: OnnxGraph, xs: Sequence[str]) -> str:
        raise ConfigurationError(
            "apply_mask makes a mask of padded positions, which the ONNX export does not "
            "carry: the layers after it would read padding as real steps"
        )
