"""The merge-layer interface: one output from several inputs, and a gradient for each.

A merge layer (add, concatenate, ...) is called on a list of symbolic outputs while a
graph is drawn (``add([a, b])``); the network then builds it from the shapes of all its
inputs, hands it all their batches in `forward_inputs`, and takes one gradient per input
from `backward_inputs`. Like any layer, it keeps nothing of a call on ``self``.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from nnkit.errors import ConfigurationError, NoOnnxFormError
from nnkit.interfaces.layer import Layer, Shape
from nnkit.interfaces.workspace import Workspace

if TYPE_CHECKING:
    from nnkit.files.onnx import OnnxGraph

__all__ = ["MergeLayer"]


class MergeLayer(Layer):
    """A layer of several inputs: implement `build_inputs`, `forward_inputs` and
    `backward_inputs` (the one-input `build`, `forward` and `backward` refuse)."""

    #: Marks the layer as one called on a list of values (read by the graph drawing).
    merges_inputs: ClassVar[bool] = True
    #: The sample shapes the conformance kit builds this layer for, one per input.
    example_input_shapes: ClassVar[tuple[Shape, ...]] = ((4,), (4,))
    #: The positions of the inputs that cannot be differentiated (a 0/1 mask): their
    #: gradient is zeros, the kit checks it so, and `Network.gradients` reports None.
    non_differentiable_inputs: ClassVar[tuple[int, ...]] = ()

    @abstractmethod
    def build_inputs(self, input_shapes: Sequence[Shape], rng: np.random.Generator) -> Shape:
        """Fix the sample shape of each input and return the output sample shape; raise
        `ValueError` (or `nnkit.ConfigurationError`) for shapes that do not merge."""

    @abstractmethod
    def forward_inputs(
        self, xs: Sequence[np.ndarray], ws: Workspace, training: bool = False
    ) -> np.ndarray:
        """The output batch for the input batches ``xs`` (one per input, same number of
        samples), saving in ``ws`` what `backward_inputs` needs; never write into ``xs``."""

    @abstractmethod
    def backward_inputs(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> list[np.ndarray | None]:
        """The gradient with respect to each input of the `forward_inputs` call that used
        ``ws`` (``None`` each when ``need_input_gradient`` is false). The arrays may be
        ``dy`` itself or views of it; never write into ``dy``."""

    def compute_mask_inputs(
        self, xs: Sequence[np.ndarray], masks: Sequence[np.ndarray | None]
    ) -> np.ndarray | None:
        """The mask of the output for the input batches ``xs`` and their masks (None for
        an input without one), as `Layer.compute_mask` for one input.

        By default: no mask stays none; a merge that `supports_masking` (one that keeps
        the time axis and works position by position, as an element-wise sum) gives the
        positions real in every input that has a mask; any other refuses them.
        """
        present = [mask for mask in masks if mask is not None]
        if not present:
            return None
        if not self.supports_masking:
            raise ConfigurationError(
                f"{type(self).__name__} merges values that carry a mask of padded positions "
                "and does not handle masks; read the mask before merging (a recurrent layer, "
                "global_avg_pool1d)"
            )
        merged = present[0]
        for mask in present[1:]:
            merged = merged & mask
        return merged

    def to_onnx_inputs(self, graph: OnnxGraph, xs: Sequence[str]) -> str:
        """Add this merge to ``graph`` as ONNX operators reading the tensors named ``xs``
        and return the name of the output; `NoOnnxFormError` by default."""
        raise NoOnnxFormError(self)

    def build(self, input_shape: Shape, rng: np.random.Generator) -> Shape:
        raise ConfigurationError(
            f"{type(self).__name__} merges several inputs; it is used in a graph, called "
            "on a list of symbolic outputs, not as a layer of a list"
        )

    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        raise ConfigurationError(f"{type(self).__name__} takes its inputs in forward_inputs")

    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        raise ConfigurationError(f"{type(self).__name__} gives its gradients in backward_inputs")
