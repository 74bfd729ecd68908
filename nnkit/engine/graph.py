"""The network as a graph of layer calls: forward in topological order, backward in
reverse, a value read by several calls receiving the sum of their gradients.

A list of layers is the simplest graph, a chain: call ``i`` reads the output of call
``i - 1``. A graph drawn with `nnkit.Input` and layer calls (`nnkit.interfaces.symbolic`)
may branch, merge and call one layer object several times (a shared layer: one set of
parameters, the gradients of its calls added). Values are numbered by slot: the
network's inputs first, then the output of each call in order.

Masks of padded positions (``(m, T)`` booleans, True at a real position) flow along the
edges beside the values, once a layer of the graph makes one (`Layer.makes_mask`): each
call's layer reads its input's mask as ``ws.mask`` and says its output's with
`Layer.compute_mask`; a merge layer combines its inputs' masks with
`MergeLayer.compute_mask_inputs` (and reads none itself).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from nnkit.errors import ConfigurationError
from nnkit.interfaces.layer import Layer, Shape
from nnkit.interfaces.merge import MergeLayer
from nnkit.interfaces.symbolic import SymbolicTensor
from nnkit.interfaces.workspace import Workspace

__all__ = ["Graph", "Node"]


@dataclass(frozen=True)
class Node:
    """One call of a layer: the layer and the slots of the values it reads."""

    layer: Layer
    inputs: tuple[int, ...]

    @property
    def merges(self) -> bool:
        """Whether the layer takes several inputs (a `MergeLayer`)."""
        return isinstance(self.layer, MergeLayer)


class Graph:
    """The calls of a network in topological order, and which values are its inputs
    and outputs.

    Args:
        nodes: the calls, each reading only network inputs or earlier calls.
        input_names: one name per network input.
        outputs: the slots of the values the network returns.
        input_shapes: the sample shape of each input, if known before building.
    """

    def __init__(
        self,
        nodes: Sequence[Node],
        input_names: Sequence[str],
        outputs: Sequence[int],
        input_shapes: Sequence[Shape] | None = None,
    ) -> None:
        self.nodes = list(nodes)
        self.input_names = list(input_names)
        self.outputs = list(outputs)
        self.input_shapes = None if input_shapes is None else list(input_shapes)
        self._find_shared()

    def __setstate__(self, state: dict[str, object]) -> None:
        # A copy's layers are new objects: find them again by their new ids.
        self.__dict__.update(state)
        self._find_shared()

    def _find_shared(self) -> None:
        counts: dict[int, int] = {}
        for node in self.nodes:
            counts[id(node.layer)] = counts.get(id(node.layer), 0) + 1
        #: The ids of the layers called more than once, whose gradients are added.
        self.shared = {key for key, count in counts.items() if count > 1}
        #: The layer of each call, in order (a shared layer once per call).
        self.called = [node.layer for node in self.nodes]
        # Decided once, not per batch: which calls merge, which need an input gradient.
        self._merges = [node.merges for node in self.nodes]
        self._needs = [any(slot >= self.n_inputs for slot in node.inputs) for node in self.nodes]
        #: Whether some call's layer makes a mask: only then do masks flow, per batch.
        self.masked = any(node.layer.makes_mask() for node in self.nodes)
        #: The calls in order when the graph is a list of layers (one input, each call
        #: reading the previous one's output, no merge, no mask), else None: the network
        #: runs such a chain itself, with nothing to look up per call.
        plain = self.is_chain and not any(self._merges) and not self.masked
        self.chain_calls: list[Layer] | None = list(self.called) if plain else None

    @classmethod
    def chain(cls, n_layers: int, layers: Sequence[Layer]) -> Graph:
        """The graph of a list of layers: each called on the previous one's output."""
        nodes = [Node(layer, (index,)) for index, layer in enumerate(layers[:n_layers])]
        return cls(nodes, ["X"], [len(nodes)])

    @classmethod
    def from_symbolic(
        cls, inputs: Sequence[SymbolicTensor], outputs: Sequence[SymbolicTensor]
    ) -> Graph:
        """The graph that computes ``outputs`` from ``inputs``, read back from the layer
        calls recorded while drawing it (depth first, so each call follows what it reads)."""
        for value in [*inputs, *outputs]:
            if not isinstance(value, SymbolicTensor):
                raise ConfigurationError(
                    "inputs and outputs are symbolic values: nnkit.Input(...) and the "
                    f"results of calling layers on them, got {value!r}"
                )
        if any(value.layer is not None for value in inputs):
            raise ConfigurationError("every entry of inputs must be an nnkit.Input(...)")
        if len({id(value) for value in inputs}) != len(inputs):
            raise ConfigurationError("inputs lists the same nnkit.Input twice")
        slots = {id(value): index for index, value in enumerate(inputs)}
        nodes: list[Node] = []

        def visit(value: SymbolicTensor) -> int:
            # Iterative depth-first post-order: deep graphs stay clear of recursion limits.
            stack: list[tuple[SymbolicTensor, bool]] = [(value, False)]
            while stack:
                current, expanded = stack.pop()
                if id(current) in slots:
                    continue
                if current.layer is None:
                    raise ConfigurationError(
                        f"an output depends on {current!r}, which is not in inputs: "
                        "list every nnkit.Input the outputs are computed from"
                    )
                if expanded:
                    reads = tuple(slots[id(v)] for v in current.inputs)
                    slots[id(current)] = len(inputs) + len(nodes)
                    nodes.append(Node(current.layer, reads))
                    continue
                stack.append((current, True))
                stack.extend((v, False) for v in reversed(current.inputs))
            return slots[id(value)]

        output_slots = [visit(value) for value in outputs]
        reached = {slot for node in nodes for slot in node.inputs} | set(output_slots)
        unused = [v for i, v in enumerate(inputs) if i not in reached]
        if unused:
            raise ConfigurationError(
                f"no output is computed from {unused[0]!r}: remove it from inputs"
            )
        names = [v.name or f"input_{index + 1}" for index, v in enumerate(inputs)]
        if len(set(names)) != len(names):
            raise ConfigurationError(f"two inputs share a name: {names}; name each Input")
        shapes = [v.shape for v in inputs]
        assert all(shape is not None for shape in shapes), "an Input always has a shape"
        return cls(nodes, names, output_slots, [s for s in shapes if s is not None])

    @property
    def is_chain(self) -> bool:
        """Whether each call reads the previous one's output alone: a list of layers."""
        return (
            self.n_inputs == 1
            and all(node.inputs == (index,) for index, node in enumerate(self.nodes))
            and self.outputs == [len(self.nodes)]
            and not self.shared
        )

    @property
    def n_inputs(self) -> int:
        """The number of network inputs."""
        return len(self.input_names)

    def layers(self) -> list[Layer]:
        """Each layer once, in the order of its first call: the order of its parameters."""
        seen: set[int] = set()
        layers = []
        for node in self.nodes:
            if id(node.layer) not in seen:
                seen.add(id(node.layer))
                layers.append(node.layer)
        return layers

    def readers(self, slot: int) -> int:
        """How many calls and outputs read the value in ``slot``."""
        return sum(node.inputs.count(slot) for node in self.nodes) + self.outputs.count(slot)

    def forward(
        self, xs: Sequence[np.ndarray], workspace: Workspace, training: bool
    ) -> list[np.ndarray]:
        """The output batches for the input batches ``xs``; call ``k`` keeps what its
        backward needs in ``workspace.child(k)``."""
        if self.masked:
            return self._forward_masked(xs, workspace, training)
        values: list[np.ndarray] = list(xs)
        merges = self._merges
        for index, node in enumerate(self.nodes):
            ws = workspace.child(index)
            if merges[index]:
                assert isinstance(node.layer, MergeLayer)
                y = node.layer.forward_inputs([values[i] for i in node.inputs], ws, training)
            else:
                y = node.layer.forward(values[node.inputs[0]], ws, training)
            values.append(y)
        return [values[slot] for slot in self.outputs]

    def _forward_masked(
        self, xs: Sequence[np.ndarray], workspace: Workspace, training: bool
    ) -> list[np.ndarray]:
        """`forward` carrying each value's mask: a call's layer finds its input's mask in
        its workspace (``ws.mask``) and gives its output's (`Layer.compute_mask`); the
        mask of the network's one output is left in ``workspace.output_mask``."""
        values: list[np.ndarray] = list(xs)
        masks: list[np.ndarray | None] = [None] * len(xs)
        for index, node in enumerate(self.nodes):
            ws = workspace.child(index)
            if self._merges[index]:
                assert isinstance(node.layer, MergeLayer)
                reads = [values[i] for i in node.inputs]
                mask = node.layer.compute_mask_inputs(reads, [masks[i] for i in node.inputs])
                y = node.layer.forward_inputs(reads, ws, training)
            else:
                x, ws.mask = values[node.inputs[0]], masks[node.inputs[0]]
                mask = node.layer.compute_mask(x, ws.mask)
                y = node.layer.forward(x, ws, training)
            values.append(y)
            masks.append(mask)
        output_masks = [masks[slot] for slot in self.outputs]
        if len(output_masks) > 1 and any(mask is not None for mask in output_masks):
            raise ConfigurationError(
                "an output of a network of several outputs carries a mask of padded "
                "positions, which only a network of one output leaves out of its loss"
            )
        workspace.output_mask = output_masks[0]
        return [values[slot] for slot in self.outputs]

    def backward(
        self,
        seeds: Sequence[np.ndarray],
        workspace: Workspace,
        fused_call: int,
        gradient_span: Callable[[Layer], np.ndarray | None],
        input_gradients: list[np.ndarray | None] | None = None,
    ) -> None:
        """Back-propagate the gradients ``seeds`` of the outputs through every call, in
        reverse order, after `forward` in ``workspace``.

        A value read by several calls gets the sum of their gradients, in one buffer of
        ``workspace``; a layer called several times has the parameter gradients of all
        its calls added (``gradient_span(layer)`` is its part of the network's flat
        gradient array). Call ``fused_call`` (``-1`` for none) receives as its seed the
        gradient with respect to its activation's input (`Layer.backward_from_dZ`).
        Training asks for no gradient of the network's inputs; given a list of one None
        per input, ``input_gradients`` receives them (arrays of their own; None for an
        input no reader gives a gradient of).
        """
        wanted = input_gradients is not None
        first = self.n_inputs
        grads: list[np.ndarray | None] = [None] * (first + len(self.nodes))
        owned = [False] * len(grads)
        for slot, seed in zip(self.outputs, seeds):
            self._receive(grads, owned, slot, seed, workspace)
        merges, needs, shared = self._merges, self._needs, self.shared
        done: set[int] = set()
        for index in range(len(self.nodes) - 1, -1, -1):
            node = self.nodes[index]
            layer, held, need = node.layer, grads[first + index], needs[index] or wanted
            assert held is not None, "every call leads to an output"
            kept = span = None
            if shared and id(layer) in shared:
                if id(layer) in done:
                    span = gradient_span(layer)
                    if span is not None and span.size:
                        # backward overwrites the gradients: keep the other calls' to add
                        kept = workspace.buffer(f"shared{index}", span.shape, span.dtype)
                        kept[...] = span
                done.add(id(layer))
            ws = workspace.child(index)
            results: Sequence[np.ndarray | None]
            if merges[index]:
                assert isinstance(layer, MergeLayer)
                results = layer.backward_inputs(held, ws, need)
            elif index == fused_call:
                results = (layer.backward_from_dZ(held, ws, need),)
            else:
                results = (layer.backward(held, ws, need),)
            if kept is not None:
                assert span is not None
                span += kept
            if need:
                for slot, gradient in zip(node.inputs, results):
                    if slot < first:  # a network input: only gradients() asks for it
                        if input_gradients is not None:
                            _add_input_gradient(input_gradients, slot, gradient)
                        continue
                    assert gradient is not None, "an input gradient was asked for"
                    if grads[slot] is None:  # the common case: one reader
                        grads[slot] = gradient  # a layer's buffer or a view of dy: not ours
                    else:
                        self._receive(grads, owned, slot, gradient, workspace)

    @staticmethod
    def _receive(
        grads: list[np.ndarray | None],
        owned: list[bool],
        slot: int,
        gradient: np.ndarray,
        workspace: Workspace,
    ) -> None:
        """Add ``gradient`` to the value in ``slot``: the first is kept as it is, the
        second makes a sum buffer of this call's own, into which later ones are added."""
        held = grads[slot]
        if held is None:
            grads[slot] = gradient
        elif owned[slot]:
            held += gradient
        else:
            total = workspace.buffer_like(f"sum{slot}", gradient)
            np.add(held, gradient, out=total)
            grads[slot], owned[slot] = total, True


def _add_input_gradient(
    gradients: list[np.ndarray | None], slot: int, gradient: np.ndarray | None
) -> None:
    """Add one reader's gradient of network input ``slot`` into an array of its own (a
    reader that gives none adds nothing)."""
    held = gradients[slot]
    if gradient is not None:
        gradients[slot] = np.array(gradient, copy=True) if held is None else held + gradient
