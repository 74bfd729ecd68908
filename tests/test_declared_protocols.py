"""The network fuses a loss with the output activation, and exports to ONNX, through
methods the interfaces declare, never by probing a layer's attributes."""

from __future__ import annotations

import numpy as np
import pytest

import nnkit
from nnkit.interfaces.workspace import Workspace
from nnkit.testing.numeric import numeric_gradient


class SoftmaxOutput(nnkit.Layer):
    """``softmax(x)`` on flat samples, declaring that it back-propagates from ``dZ``."""

    def __init__(self, declare: bool = True) -> None:
        self.activation = nnkit.activation("softmax")
        self.declare = declare
        self.calls: list[str] = []

    def fusable_activation(self):
        return self.activation if self.declare else None

    def forward(self, x, ws, training=False):
        ws.A = self.activation.forward(x)
        return ws.A

    def backward(self, dy, ws, need_input_gradient=True):
        self.calls.append("backward")
        return self.activation.backward(None, ws.A, dy)

    def backward_from_dZ(self, dZ, ws, need_input_gradient=True):
        self.calls.append("backward_from_dZ")
        return dZ.copy()


def _network(layer: nnkit.Layer) -> nnkit.Network:
    return nnkit.Network(
        [nnkit.Dense(3), layer], loss="cross_entropy", seed=0, dtype="float64"
    ).build(2)


@pytest.mark.parametrize("declare", [True, False])
def test_a_layer_that_declares_its_activation_gets_the_fused_gradient(declare):
    layer = SoftmaxOutput(declare)
    net = _network(layer)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(4, 2)), np.eye(3)[[0, 2, 1, 1]]
    _, expected = numeric_gradient(lambda: net.batch_loss(net.forward(X), Y), net.store.values)
    workspace = Workspace()
    layer.calls.clear()  # building probed the layer's backward once
    net.backward(net.forward(X, workspace, training=True), Y, workspace)
    # Undeclared, backward_from_dZ is there but never probed for: the full backward runs.
    assert layer.calls == (["backward_from_dZ"] if declare else ["backward"])
    assert net._fused_output is declare
    np.testing.assert_allclose(net.store.grads, expected, rtol=1e-5, atol=1e-8)


def test_the_interface_defaults_neither_fuse_nor_export():
    layer = nnkit.layer("dropout", rate=0.5)
    assert layer.fusable_activation() is None
    with pytest.raises(NotImplementedError, match="fusable_activation"):
        layer.backward_from_dZ(np.zeros((1, 2)), Workspace())


class Doubling(nnkit.Layer):
    """No ONNX form of its own: the interface's default answers."""

    def forward(self, x, ws, training=False):
        return 2 * x

    def backward(self, dy, ws, need_input_gradient=True):
        return 2 * dy


def test_a_layer_without_an_onnx_form_is_named_by_the_default():
    net = nnkit.Network([Doubling(), nnkit.Dense(1)]).build(2)
    with pytest.raises(nnkit.errors.NoOnnxFormError, match=(
        r"^layer 1, Doubling \(not registered\), has no ONNX form: Doubling does not "
        r"implement to_onnx\(graph, x\)"
    )) as caught:
        net.to_onnx()
    assert isinstance(caught.value, nnkit.ConfigurationError)
    assert caught.value.component is net.layers[0]
