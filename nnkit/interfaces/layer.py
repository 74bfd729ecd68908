"""The layer interface: one step ``A^{l-1} -> A^l`` of the network and its back-propagation.

A layer is built from the shape of one sample (a tuple: ``(features,)`` for a flat
layer, ``(channels, height, width)`` for an image) and answers with the shape of its
output sample. Between layers, arrays hold one sample per row along the first axis,
``(m, *sample_shape)``, as ``X`` does; how a layer lays out its own arrays inside is its
choice (`Dense` works in the matrix formulation's columns, ``(n^l, m)``, through transposed views).

A layer holds its configuration and views of its parameters, nothing of any one call:
`forward` saves what `backward` needs in the call's `Workspace`, never on ``self``, so
one network serves any number of threads. Parameters are not owned by the layer: the
network keeps all of them in one contiguous array and hands each layer views of its own
part (`Layer.bind()`), and likewise for the gradients.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from nnkit.arguments import NON_NEGATIVE, positive_int, real_number
from nnkit.errors import ConfigurationError, NoOnnxFormError
from nnkit.interfaces.component import Component
from nnkit.interfaces.initializer import Initializer
from nnkit.interfaces.symbolic import SymbolicTensor, call_layer
from nnkit.interfaces.workspace import Workspace

if TYPE_CHECKING:
    from nnkit.files.onnx import OnnxGraph
    from nnkit.interfaces.activation import Activation

__all__ = ["Layer", "ParameterSpec", "Shape", "set_initializer_lookup", "walk"]

#: The shape of one sample: ``(features,)``, ``(channels, height, width)``, ...
Shape = tuple[int, ...]


class Layer(Component, ABC):
    """A layer of the network.

    The network calls, in order: `build()` with the input sample shape,
    `parameter_shapes()`, `bind()` with views into its parameter and gradient arrays,
    `initialize()`; then `forward()` and `backward()` per batch, each with the call's
    `Workspace`. A layer that holds layers returns them from `sublayers()`; the network
    then binds and initialises them too, and the holder calls their `forward` and
    `backward` with `Workspace.child()`.
    """

    #: A sample shape the conformance kit builds this layer for (`nnkit.testing`).
    example_input_shape: ClassVar[Shape] = (4,)
    #: Whether the input can be differentiated: False for layers that read integer codes
    #: (an embedding), whose `backward` returns zeros for the input gradient.
    differentiable_input: ClassVar[bool] = True
    #: Whether this layer handles a mask of padded positions (see "Masks" in the guide
    #: to writing plugins). A mask is a boolean array ``(m, T)``, True at a real
    #: position, carried beside the data: the network hands the incoming one to
    #: `forward` as ``ws.mask`` (None when there is none) and asks `compute_mask` what
    #: mask the output carries. False by default: a mask reaching the layer is an error
    #: naming it, rather than padding silently mixed into real positions.
    supports_masking: ClassVar[bool] = False

    #: Whether this layer, as the network's first, takes NaN in its input (an imputer
    #: fills the missing cells): the network's input checks then let NaN through, and
    #: still refuse infinity. False by default, so that a NaN is reported, not learnt.
    accepts_nan: ClassVar[bool] = False

    # Counts every change of any layer's `trainable` flag or learning-rate multiplier, so
    # that a network recomputes what its optimizer skips or scales only after a change.
    trainable_changes: ClassVar[list[int]] = [0]
    _trainable: bool = True

    @property
    def trainable(self) -> bool:
        """Whether `fit` updates this layer's parameters (default True). A frozen layer
        (``layer.trainable = False``) keeps its parameters bit for bit: the optimizer
        neither updates nor decays them and leaves its state for them untouched. A
        frozen holder freezes the layers it holds. Saved in the model file."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        if not isinstance(value, (bool, np.bool_)):
            raise ConfigurationError(f"trainable must be True or False, got {value!r}")
        self._trainable = bool(value)
        Layer.trainable_changes[0] += 1

    _learning_rate_multiplier: float = 1.0

    @property
    def learning_rate_multiplier(self) -> float:
        """The factor of this layer's optimizer steps (default 1): 0.1 makes `fit` move
        its parameters a tenth as far per step as the optimizer's learning rate would,
        as a per-layer learning rate does; a holder's factor multiplies those of the
        layers it holds. A network with none set steps exactly as before. Saved in the
        model file."""
        return self._learning_rate_multiplier

    @learning_rate_multiplier.setter
    def learning_rate_multiplier(self, value: float) -> None:
        self._learning_rate_multiplier = real_number(
            value, "learning_rate_multiplier", NON_NEGATIVE
        )
        Layer.trainable_changes[0] += 1  # the network recomputes its step's scales

    _name: str | None = None

    @property
    def name(self) -> str | None:
        """The name the user gave this layer (``layer.name = "head"``), or ``None``.

        A network calls each layer by this name, or else by one it assigns from the
        registry name, unique within the network (``"dense"``, ``"dense_1"``, ...; see
        `Network.layer_names`), without writing it here: one layer object may serve
        several networks. Saved in the model file; `Network.load_weights` matches layers
        by it with ``by_name=True``."""
        return self._name

    @name.setter
    def name(self, value: str | None) -> None:
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ConfigurationError(
                f"a layer's name is a non-empty string (or None), got {value!r}"
            )
        self._name = value

    #: This layer's parameters (views into the network's parameter array), by name.
    #: Write them in place; never rebind the dict's arrays.
    params: dict[str, np.ndarray]
    #: The gradients of the batch loss with respect to `params`, by name; `backward`
    #: overwrites them (it does not add to them).
    grads: dict[str, np.ndarray]

    def build(self, input_shape: Shape, rng: np.random.Generator) -> Shape:
        """Fix the input sample shape and return the output sample shape (the same, by
        default). Raise `ValueError` (or `nnkit.ConfigurationError`) for a shape the layer
        cannot take; the network adds the layer's position and name to the message.

        ``rng`` is this layer's own random stream, for layers that draw noise (dropout).
        """
        return tuple(input_shape)

    def sublayers(self) -> Sequence[Layer]:
        """The layers this layer holds, in order (none by default)."""
        return ()

    def inner_generators(self) -> Sequence[np.random.Generator]:
        """The random generators this layer made, at `build`, for the layers it holds (a
        residual block spawns one per inner layer), in order. A saved network stores
        their states, so that training resumed from the file draws the same numbers
        (none by default)."""
        return ()

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape of each parameter, by name, once built: by default those declared
        with `add_parameter`, in the order declared."""
        return {name: spec.shape for name, spec in self.declared_parameters().items()}

    def bind(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """Receive views of this layer's parameters and gradients in the network's arrays."""
        self.params = params
        self.grads = grads

    def initialize(self, rng: np.random.Generator) -> None:
        """Write initial values into `params`: by default each declared parameter drawn
        from its initializer, in the order declared, from the one generator ``rng``."""
        for name, spec in self.declared_parameters().items():
            target = self.params[name]
            target[...] = spec.initializer.sample(target.shape, *spec.fans, rng, target.dtype)

    def state(self) -> dict[str, np.ndarray]:
        """Arrays besides the parameters that a saved model must keep (running
        statistics, for example); none by default."""
        return {}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore what `state()` returned (called after `build()`)."""
        if state:
            raise ValueError(f"{type(self).__name__} keeps no state, got {sorted(state)}")

    def check_state(self, state: dict[str, np.ndarray]) -> None:
        """Raise `ValueError` naming the array if ``state`` (shaped as `state()` shapes
        it) could not have come from training, such as a negative running variance. The
        model loader calls it before `load_state()`; nothing is checked by default."""

    def penalty(self) -> float:
        """The regularisation term this layer adds to the loss: by default
        ``l2/2 * sum(p^2)`` over each declared parameter ``p`` with an ``l2``, and 0 for a
        layer that declares none. Its gradient is added by `backward()` (through
        `add_penalty_gradients` for declared parameters); the conformance kit checks the
        parameter gradients against finite differences of the loss with this term."""
        penalty = 0.0
        for name, l2 in self._l2_terms:
            p = self.params[name]
            penalty += 0.5 * l2 * float(np.vdot(p, p))
        return penalty

    def commit_state(self) -> None:
        """Apply the state the last training forward pass computed (batch
        normalisation's running statistics). The network calls it inside the optimizer
        step, under the lock that keeps predictions out, so a prediction sees the
        weights and the state of one and the same step; a layer whose `state()` changes
        in training changes it here only. Nothing by default."""

    def check_input(self, X: np.ndarray) -> None:
        """Check the data before anything trains, when this is the network's first layer
        (an embedding checks its codes here); raise `nnkit.DataError` to refuse it."""

    def encode_input(self, X: Any) -> Any:
        """What the user passed, as the numbers this layer takes, when it is the
        network's first: a category lookup turns a table's text cells into codes here,
        before the network checks the array. ``X`` unchanged by default."""
        return X

    def needs_adapting(self) -> bool:
        """Whether this layer still has statistics to learn from data (a standardisation
        not yet adapted): `fit` then calls `adapt` with the training part of its data
        (never the validation part) before the first step. False by default."""
        return False

    def adapt(self, x: np.ndarray) -> None:
        """Learn this layer's statistics from ``x``, a batch of its input
        ``(m, *input_shape)``; nothing to learn by default."""

    def training_targets(self, Y: np.ndarray) -> np.ndarray:
        """For the network's last layer: the targets ``(m, n_outputs)`` that training
        compares with this layer's training output. A layer that rescales outputs only
        at inference standardises them here; ``Y`` unchanged by default."""
        return Y

    def example_input(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """A batch of ``shape`` (samples first) that this layer accepts, for the
        conformance kit: standard normal numbers by default."""
        return rng.normal(size=shape)

    @abstractmethod
    def forward(self, x: np.ndarray, ws: Workspace, training: bool = False) -> np.ndarray:
        """The output batch ``(m, *output_shape)`` for the input batch ``x`` of shape
        ``(m, *input_shape)``, saving in ``ws`` what `backward()` will need.

        The returned array may be a buffer of ``ws`` that the next call overwrites, or a
        view of ``x``; never write into ``x``.
        """

    @abstractmethod
    def backward(
        self, dy: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        """Given the gradient ``dy`` of the loss with respect to the output of the
        `forward()` call that used ``ws``, overwrite `grads` and return the gradient
        with respect to its input ``x`` (``None`` when ``need_input_gradient`` is false:
        the first layer). Never write into ``dy``."""


    def makes_mask(self) -> bool:
        """Whether this layer makes a mask from its input, even with none coming in (an
        embedding with ``mask_zero=True``, the ``masking`` layer). The network carries
        masks only when one of its layers makes them, so a network without one pays
        nothing per batch. False by default."""
        return False

    def compute_mask(self, x: np.ndarray, mask: np.ndarray | None) -> np.ndarray | None:
        """The mask of this layer's output for the input batch ``x`` and its mask
        ``mask`` (``(m, T)`` booleans, True at a real position, or None), as Keras'
        ``compute_mask``.

        By default: no mask stays none; a layer that `supports_masking` passes the mask
        on unchanged (right for a layer that keeps the time axis and works position by
        position: dense, an activation, dropout, layer normalisation); any other layer
        refuses it, since it would mix padded positions into real ones (flatten, a
        convolution over time). A layer that drops the time axis after reading the mask
        (global pooling, a recurrent layer returning its last state) returns None; a
        layer that makes a mask returns it from ``x``.
        """
        if mask is None:
            return None
        if self.supports_masking:
            return mask
        raise ConfigurationError(
            f"{type(self).__name__} does not handle masks, but a mask of padded positions "
            "reaches it (from an embedding with mask_zero=True or a masking layer): it "
            "would mix padding into real positions. Read the mask first with a layer that "
            "handles it (a recurrent layer, global_avg_pool1d), or make no mask"
        )

    def fusable_activation(self) -> Activation | None:
        """The activation this layer applies last, if the layer can back-propagate from
        the gradient with respect to that activation's input ``Z`` (`backward_from_dZ`).

        When a network's last layer names an activation here and the loss declares the
        same one as its `Loss.fused_activation`, the network asks the loss for ``dZ``
        (`Loss.fused_gradient`) and hands it to `backward_from_dZ`, skipping the
        activation's backward pass (softmax with cross-entropy). ``None`` by default: the
        layer is always back-propagated in full through `backward`.
        """
        return None

    def backward_from_dZ(
        self, dZ: np.ndarray, ws: Workspace, need_input_gradient: bool = True
    ) -> np.ndarray | None:
        """`backward` from the gradient with respect to the input ``Z`` of the activation
        that `fusable_activation` names, ``dZ``, shaped as the output, ``(m,
        *output_shape)``. Implement it together with `fusable_activation`; the default
        is never called, as `fusable_activation` is ``None`` by default."""
        raise NotImplementedError(
            f"{type(self).__name__} names no fusable_activation(), so it does not "
            "back-propagate from dZ"
        )

    def to_onnx(self, graph: OnnxGraph, x: str) -> str:
        """Add this layer's computation to ``graph`` (`nnkit.files.onnx.OnnxGraph`) as ONNX
        operators reading the tensor named ``x``, and return the name of the output: what
        `Network.to_onnx` exports. By default the layer has none: `NoOnnxFormError` (a
        `ConfigurationError`), which the export turns into a message naming the layer
        and the plugin that supplied it."""
        raise NoOnnxFormError(self)

    # -- declared parameters ------------------------------------------------------------

    # (name, l2) of each declared parameter with a penalty; a class default, so that a
    # layer without one reads an empty tuple per step and does nothing more.
    _l2_terms: tuple[tuple[str, float], ...] = ()

    def add_parameter(
        self,
        name: str,
        shape: Sequence[int],
        initializer: str | Initializer,
        *,
        l2: float = 0.0,
        fans: tuple[int, int] | None = None,
    ) -> None:
        """Declare the parameter ``name`` of ``shape``, drawn from ``initializer`` (a
        registry name such as ``"ones"``, or an instance) and, with ``l2 > 0``,
        penalised by ``l2/2 * sum(p^2)``. Call it from `build`, once per parameter.

        `parameter_shapes`, `initialize` and `penalty` then follow from the
        declarations, and `add_penalty_gradients`, called once at the end of `backward`,
        adds the penalty's gradient ``l2 * p``. Everything is resolved here, at build
        time: a batch pays nothing for a declaration, and nothing for an ``l2`` of 0.

        ``fans``, ``(fan_in, fan_out)`` as initializers scale by them, defaults to
        PyTorch's reading of the shape: ``(out, in, *kernel)`` gives ``in * kernel`` and
        ``out * kernel``; a vector ``(n,)`` gives ``(n, n)``.
        """
        if not isinstance(name, str) or not name or "/" in name:
            raise ConfigurationError(
                f"{type(self).__name__}: a parameter name is a non-empty string without "
                f"'/' (which separates an inner layer's position), got {name!r}"
            )
        if isinstance(shape, (int, np.integer)) or not isinstance(shape, Sequence):
            raise ConfigurationError(
                f"{type(self).__name__}: the shape of parameter {name!r} is a tuple of "
                f"positive integers, such as (3,) or (4, 2), got {shape!r}"
            )
        what = f"{type(self).__name__} parameter {name!r}"
        dims = tuple(positive_int(d, f"{what} size") for d in shape)
        if fans is None:
            receptive = math.prod(dims[2:])
            fans = (dims[1] * receptive, dims[0] * receptive) if len(dims) > 1 else (dims[0],) * 2
        spec = ParameterSpec(
            dims,
            _lookup_initializer(initializer),
            (int(fans[0]), int(fans[1])),
            real_number(l2, f"{what} l2", NON_NEGATIVE),
        )
        declared = self.__dict__.setdefault("_declared", {})
        declared[name] = spec
        self._l2_terms = tuple((n, s.l2) for n, s in declared.items() if s.l2)

    def declared_parameters(self) -> dict[str, ParameterSpec]:
        """The parameters declared with `add_parameter`, by name, in the order declared."""
        return dict(self.__dict__.get("_declared", {}))

    def add_penalty_gradients(self) -> None:
        """Add the gradient of each declared penalty, ``l2 * p``, to the parameter's
        gradient: call it once, at the end of `backward` (and of `backward_from_dZ`),
        after the gradients are written. Nothing is done when no ``l2`` is set."""
        for name, l2 in self._l2_terms:
            self.grads[name] += l2 * self.params[name]

    def __call__(self, inputs: SymbolicTensor | Sequence[SymbolicTensor]) -> SymbolicTensor:
        """Draw a graph: this layer applied to the symbolic output(s) ``inputs`` (of
        `nnkit.Input` or of another layer's call). Calling one layer object twice shares
        it: one set of parameters, the gradients of both calls added."""
        return call_layer(self, inputs)


@dataclass(frozen=True)
class ParameterSpec:
    """One declared parameter: its shape, its initializer (an instance, resolved from a
    registry name when declared), the fans the initializer is given, and the weight of
    its L2 penalty (0: none)."""

    shape: tuple[int, ...]
    initializer: Initializer
    fans: tuple[int, int]
    l2: float


# The registry imports the interfaces, so this module cannot import it to turn an
# initializer's name into an instance: nnkit.layers, which may import both, installs the
# lookup when nnkit is imported.
_initializer_lookup: Callable[[str | Initializer], Initializer] | None = None


def set_initializer_lookup(lookup: Callable[[str | Initializer], Initializer]) -> None:
    """Install the function `Layer.add_parameter` resolves initializer names with."""
    global _initializer_lookup
    _initializer_lookup = lookup


def _lookup_initializer(initializer: str | Initializer) -> Initializer:
    if isinstance(initializer, Initializer):
        return initializer
    if _initializer_lookup is None:  # only if nnkit.interfaces is used without nnkit
        raise ConfigurationError(
            f"initializer {initializer!r} is a name, but no registry is loaded to look it "
            "up: import nnkit, or pass an Initializer instance"
        )
    return _initializer_lookup(initializer)


def walk(layers: Sequence[Layer]) -> Iterator[Layer]:
    """Each layer, then (depth first) the layers it holds: the order in which the network
    stores their parameters."""
    for layer in layers:
        yield layer
        yield from walk(layer.sublayers())
