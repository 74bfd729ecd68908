"""ONNX export: a trained network as an ONNX graph that any ONNX runtime can serve.

The core knows no component, so each component writes its own part of the graph: a
layer or an activation implements ``to_onnx(graph, x)``, adding nodes to an
`OnnxGraph` and returning the name of its output; it is part of the `Layer` and
`Activation` interfaces, whose default raises `NoOnnxFormError`. In the graph, arrays
have one row per sample, as ``X`` does: ``(N, *sample_shape)``, with the features (or
the channels) on axis 1. A component without an ONNX form is named in a clear error.

Needs the optional ``onnx`` package (``pip install "nnkit-numpy[onnx]"``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from nnkit.errors import ConfigurationError, MissingExtraError, NoOnnxFormError
from nnkit.files.atomic import atomic_output
from nnkit.interfaces.merge import MergeLayer
from nnkit.registry.registry import describe_component

if TYPE_CHECKING:
    from nnkit.engine.graph import Graph
    from nnkit.engine.network import Network
    from nnkit.interfaces.activation import Activation
    from nnkit.interfaces.layer import Layer

__all__ = ["OnnxGraph", "to_onnx", "DEFAULT_OPSET", "SUPPORTED_OPSETS", "check_opset"]

#: The ONNX operator set exported by default: supported by every current runtime.
DEFAULT_OPSET: Final = 17
#: The IR version each operator set came with (from onnx's own version table).
IR_VERSION_OF_OPSET: Final = {13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9, 20: 9, 21: 10}
#: The operator sets the exporter is tested with (every component's ``to_onnx`` runs in
#: onnxruntime at each): older ones lack operators the components write, newer ones are
#: unknown to the runtimes, so either would give a file that no runtime serves.
SUPPORTED_OPSETS: Final = range(13, 22)


def check_opset(opset: object) -> int:
    """``opset`` if it is one of `SUPPORTED_OPSETS`; otherwise a `ConfigurationError`
    naming the ones that are, raised before anything is written."""
    if (
        isinstance(opset, bool)
        or not isinstance(opset, (int, np.integer))
        or int(opset) not in SUPPORTED_OPSETS
    ):
        raise ConfigurationError(
            f"ONNX operator set {opset!r} is not supported: nnkit exports operator sets "
            f"{SUPPORTED_OPSETS.start} to {SUPPORTED_OPSETS.stop - 1} (default {DEFAULT_OPSET})"
        )
    return int(opset)


class OnnxGraph:
    """The graph being written: nodes, weights (initializers) and unique names.

    Components call `node()` for each operator and `weight()` for each array they need.
    """

    def __init__(self, dtype: np.dtype, opset: int) -> None:
        self.dtype = np.dtype(dtype)
        self.opset = opset
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count = 0

    def name(self, stem: str) -> str:
        """A fresh name starting with ``stem``."""
        self._count += 1
        return f"{stem}_{self._count}"

    def weight(self, array: np.ndarray, stem: str = "weight") -> str:
        """Add ``array`` (copied) to the graph's weights and return its name."""
        from onnx import numpy_helper

        name = self.name(stem)
        self.initializers.append(numpy_helper.from_array(np.array(array), name))
        return name

    @property
    def runs_float32_only_operators(self) -> bool:
        """Whether the graph may use the operators onnxruntime implements for float32 only
        (``Conv``, ``AveragePool``, ``GlobalAveragePool``, ``LeakyRelu``, ``Elu``,
        ``Selu``, ``Softplus``): a float64 model using them fails to load there ("Could
        not find an implementation"), so a float64 graph spells them with other
        operators."""
        return self.dtype == np.float32

    def constant(self, value: float, stem: str = "constant") -> str:
        """Add a scalar in the graph's dtype (which broadcasts against any array) to the
        graph's weights and return its name."""
        return self.weight(np.array(value, dtype=self.dtype), stem)


    def node(self, op_type: str, inputs: list[str], **attributes: Any) -> str:
        """Add one operator with ``inputs`` (names) and return the name of its output."""
        from onnx import helper

        output = self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [output], **attributes))
        return output


def to_onnx(
    network: Network,
    path: str | os.PathLike[str] | None = None,
    opset: int = DEFAULT_OPSET,
) -> Any:
    """The network as an ONNX model (an ``onnx.ModelProto``), written to ``path`` if given.

    The model has one input ``X`` of shape ``(N, *input_shape)`` and one output ``Y`` of
    shape ``(N, n_outputs)``: what `Network.predict` returns, in the network's dtype.
    A network drawn with `nnkit.Input` has one input per `Input`, by its name and of
    its sample shape; merge layers export through `MergeLayer.to_onnx_inputs`. A network
    of several outputs has one ONNX output per network output, by its name and width,
    as `Network.predict` returns them in a dict.
    A model's preprocessing layers (a standardisation, a target's rescaling) export
    with the rest.

    ``opset`` is one of `SUPPORTED_OPSETS` (13 to 21). The file is replaced atomically:
    a failed export (a full disk, a killed process) leaves the existing file untouched.

    Raises:
        MissingExtraError: the ``onnx`` package is not installed.
        ConfigurationError: the network is not built, ``opset`` is not supported, or a
            component has no ONNX form (the message names it and the plugin that
            supplied it).
    """
    opset = check_opset(opset)
    try:
        import onnx
        from onnx import TensorProto, helper
    except ImportError:
        raise MissingExtraError(
            'ONNX export needs the onnx package, an optional extra: pip install "nnkit-numpy[onnx]"'
        ) from None
    if not network.built:
        raise ConfigurationError(
            "nothing to export yet: the network has no weights; fit it or call build(input_shape)"
        )
    assert network.input_shape is not None, "a built network knows its input shape"
    graph = OnnxGraph(network.dtype, opset)
    drawn = network.graph
    listed = drawn.input_shapes is None  # a list of layers, not drawn with nnkit.Input
    # A drawn graph's inputs keep their names; a list of layers reads "X", as before.
    input_names = ["X"] if listed else drawn.input_names
    input_shapes = [network.input_shape] if listed else network.input_shapes
    declared = list(input_names)
    results = _export_calls(drawn, graph, input_names)
    elem = TensorProto.FLOAT if network.dtype == np.float32 else TensorProto.DOUBLE
    # One output reads "Y", as before; several keep their names, as predict's dict does.
    if len(results) == 1:
        assert network.output_shape is not None, "an unbuilt network was refused above"
        output_names, shapes = ["Y"], [network.output_shape]
    else:
        output_names = list(network.output_names)
        shapes = [network.layer_shapes[slot - drawn.n_inputs] for slot in drawn.outputs]
    for result, name in zip(results, output_names):
        graph.nodes.append(helper.make_node("Identity", [result], [name]))
    model = helper.make_model(
        helper.make_graph(
            graph.nodes,
            "nnkit",
            [
                helper.make_tensor_value_info(name, elem, ["N", *shape])
                for name, shape in zip(declared, input_shapes)
            ],
            [
                helper.make_tensor_value_info(name, elem, ["N", *shape])
                for name, shape in zip(output_names, shapes)
            ],
            graph.initializers,
        ),
        opset_imports=[helper.make_opsetid("", opset)],
        producer_name="nnkit",
        # The oldest IR version that holds the operator set: runtimes refuse newer IR
        # versions than they know, and onnx writes its newest by default.
        ir_version=min(onnx.IR_VERSION, IR_VERSION_OF_OPSET.get(opset, onnx.IR_VERSION)),
    )
    onnx.checker.check_model(model)
    if path is not None:
        # Through a temporary file renamed over the target: writing in place would leave
        # a truncated, unreadable file behind a full disk or a killed process.
        with atomic_output(Path(path)) as file:
            file.write(model.SerializeToString())
    return model


def _export_calls(drawn: Graph, graph: OnnxGraph, inputs: list[str]) -> list[str]:
    """Each call of the network as ONNX operators, in order, reading the tensors named
    ``inputs`` for the network's inputs; the names of the output tensors."""
    names = list(inputs)
    for index, node in enumerate(drawn.nodes):
        reads = [names[slot] for slot in node.inputs]
        if isinstance(node.layer, MergeLayer) and len(reads) > 1:
            names.append(export_merge(node.layer, graph, reads, f"layer {index + 1}"))
        else:
            names.append(export_component(node.layer, graph, reads[0], f"layer {index + 1}"))
    return [names[slot] for slot in drawn.outputs]


def export_merge(layer: MergeLayer, graph: OnnxGraph, xs: list[str], where: str) -> str:
    """``layer.to_onnx_inputs(graph, xs)``, or a `NoOnnxFormError` naming the layer,
    ``where`` it is and the plugin that supplied it."""
    try:
        return layer.to_onnx_inputs(graph, xs)
    except NoOnnxFormError as error:
        raise NoOnnxFormError(
            layer, f"{where}, {describe_component(layer)}, has no ONNX form: {error}"
        ) from None


def export_component(component: Layer | Activation, graph: OnnxGraph, x: str, where: str) -> str:
    """``component.to_onnx(graph, x)``, part of the `Layer` and `Activation` interfaces;
    for a component whose `to_onnx` is the interface's default, a `NoOnnxFormError`
    naming it, ``where`` it is and the plugin that supplied it."""
    try:
        return component.to_onnx(graph, x)
    except NoOnnxFormError as error:
        if error.component is not component:
            raise  # a component inside this one, named already
        raise NoOnnxFormError(
            component, f"{where}, {describe_component(component)}, has no ONNX form: {error}"
        ) from None
