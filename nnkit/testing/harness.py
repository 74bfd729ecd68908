"""One layer driven by hand, wired as the network wires it, for a layer author's own tests.

A network builds each layer for its input sample shape, keeps every parameter in one
flat array and hands the layer views of its part, initialises it, then calls
``forward`` and ``backward`` with a workspace per call. `LayerHarness` does exactly
that for one layer (and the layers it holds), so a test can set chosen parameters,
run a batch through and read the gradients by name without a network, a loss or an
optimizer around it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from nnkit.engine.parameters import ParameterStore
from nnkit.errors import ConfigurationError, DataError
from nnkit.interfaces.layer import Layer, Shape
from nnkit.interfaces.workspace import Workspace

__all__ = ["LayerHarness"]


class LayerHarness:
    """``layer`` built for samples of ``input_shape`` (its ``example_input_shape`` by
    default), bound to parameters and gradients of ``dtype``, and initialised from
    ``seed``, as a network would.

    Parameters and gradients are named as the layer names them (``"W"``); those of a
    layer it holds are prefixed by its position in `Layer.sublayers` (``"0/W"``, and
    ``"1/0/W"`` one level deeper). `forward` and `backward` share one workspace, as
    one call of a network does.
    """

    def __init__(
        self,
        layer: Layer,
        input_shape: Shape | None = None,
        dtype: Any = np.float64,
        seed: int = 0,
    ) -> None:
        self.layer = layer
        self.dtype = np.dtype(dtype)
        shape = layer.example_input_shape if input_shape is None else input_shape
        self.input_shape: Shape = tuple(shape)
        self.output_shape: Shape = tuple(layer.build(self.input_shape, np.random.default_rng(seed)))
        nodes = list(_named_nodes(layer, ""))
        self.store = ParameterStore([node.parameter_shapes() for _, node in nodes], self.dtype)
        self._names: dict[str, np.ndarray] = {}
        self._grad_names: dict[str, np.ndarray] = {}
        for (prefix, node), params, grads in zip(
            nodes, self.store.value_views, self.store.grad_views
        ):
            node.bind(params, grads)
            node.initialize(np.random.default_rng(seed + 1))
            self._names.update({prefix + name: view for name, view in params.items()})
            self._grad_names.update({prefix + name: view for name, view in grads.items()})
        self.workspace = Workspace()
        #: The mask of the last `forward`'s output (None: the output carries none).
        self.output_mask: np.ndarray | None = None

    def forward(self, x: Any, training: bool = False, mask: Any = None) -> np.ndarray:
        """The layer's output for the batch ``x`` (samples first), converted to the
        harness's dtype; the result may be a buffer the next call overwrites.

        ``mask``, ``(batch, time_steps)`` booleans True at a real step, is handed to the
        layer as the network hands it the mask of padded positions (``ws.mask``); the
        mask the layer gives its output (`Layer.compute_mask`) is then `output_mask`.
        """
        x = np.asarray(x, dtype=self.dtype)
        if x.shape[1:] != self.input_shape:
            raise DataError(
                f"forward: the layer was built for samples of shape {self.input_shape}, "
                f"got a batch of shape {x.shape}; pass (batch, *input_shape)"
            )
        if mask is not None:
            mask = np.asarray(mask)
            if mask.dtype != bool or mask.shape != x.shape[:2]:
                raise DataError(
                    f"forward: a mask is booleans of shape (batch, time_steps) = "
                    f"{x.shape[:2]}, True at a real step; got {mask.dtype} of shape {mask.shape}"
                )
        self.workspace.mask = mask
        self.output_mask = self.layer.compute_mask(x, mask)
        return self.layer.forward(x, self.workspace, training)

    def backward(self, dy: Any, need_input_gradient: bool = True) -> np.ndarray | None:
        """The gradient with respect to the input of the last `forward`, given ``dy``
        for its output; `gradients` then holds the parameter gradients."""
        dy = np.asarray(dy, dtype=self.dtype)
        if dy.shape[1:] != self.output_shape:
            raise DataError(
                f"backward: the layer's output samples have shape {self.output_shape}, got "
                f"dy of shape {dy.shape}; pass (batch, *output_shape), the forward output's"
            )
        return self.layer.backward(dy, self.workspace, need_input_gradient)

    @property
    def parameters(self) -> dict[str, np.ndarray]:
        """A copy of every parameter, by name."""
        return {name: view.copy() for name, view in self._names.items()}

    @property
    def gradients(self) -> dict[str, np.ndarray]:
        """A copy of every parameter gradient the last `backward` wrote, by name."""
        return {name: view.copy() for name, view in self._grad_names.items()}

    def set_parameters(self, values: Mapping[str, Any]) -> None:
        """Write ``values`` into the named parameters (others keep theirs). Every name
        and shape is checked before anything is written."""
        for name, value in values.items():
            if name not in self._names:
                raise ConfigurationError(
                    f"the layer has no parameter {name!r}; its parameters are "
                    f"{sorted(self._names) or 'none'}"
                )
            if np.shape(value) != self._names[name].shape:
                raise ConfigurationError(
                    f"parameter {name!r} has shape {self._names[name].shape}, "
                    f"got {np.shape(value)}"
                )
        for name, value in values.items():
            self._names[name][...] = value

    def penalty(self) -> float:
        """The regularisation term of the layer and the layers it holds."""
        return sum((node.penalty() for _, node in _named_nodes(self.layer, "")), 0.0)


def _named_nodes(layer: Layer, prefix: str) -> Iterator[tuple[str, Layer]]:
    """``(prefix, layer)`` for the layer, then depth first for those it holds: the
    order of `nnkit.interfaces.layer.walk`, in which the network stores parameters."""
    yield prefix, layer
    for index, inner in enumerate(layer.sublayers()):
        yield from _named_nodes(inner, f"{prefix}{index}/")
