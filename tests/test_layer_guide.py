"""The layer guide keeps its promise: each example layer is one short block (its code
runs in test_docs.py), written with declared parameters where it has any."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "writing-plugins.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", GUIDE.read_text(), re.M | re.S)


def block_defining(name: str) -> str:
    (block,) = [b for b in BLOCKS if f"class {name}(nnkit.Layer)" in b]
    return block


@pytest.mark.parametrize("name", ["ChannelScale", "GatedDense", "TimeMean"])
def test_each_example_layer_is_twenty_to_forty_lines(name):
    lines = block_defining(name).splitlines()  # blank lines and imports included
    assert 20 <= len(lines) <= 40, f"{name} takes {len(lines)} lines"


@pytest.mark.parametrize("name", ["ChannelScale", "GatedDense"])
def test_example_layers_with_parameters_declare_them(name):
    block = block_defining(name)
    assert "self.add_parameter(" in block
    assert "def parameter_shapes" not in block and "def initialize" not in block


@pytest.mark.parametrize("opset", [13, 18])  # ReduceMean's axes moved to an input in 18
def test_the_guide_layers_onnx_forms_predict_as_nnkit_does(
    opset, tmp_path, monkeypatch, isolated_registry
):
    import numpy as np
    import onnxruntime

    import nnkit

    isolated_registry()
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in BLOCKS:  # the page's blocks in order, up to the one using the layers
        exec(block, namespace)
        if "sequences.onnx" in block:
            break
    X = namespace["X"].astype(np.float32)
    images = np.random.default_rng(1).normal(size=(4, 2, 3, 3)).astype(np.float32)
    scale = namespace["ChannelScale"]()
    nets = [
        (namespace["net"], X),
        (nnkit.Network([scale, nnkit.layer("flatten"), nnkit.Dense(2)]).build((2, 3, 3)), images),
    ]
    for net, inputs in nets:
        net.to_onnx(tmp_path / "layer.onnx", opset=opset)
        session = onnxruntime.InferenceSession(
            str(tmp_path / "layer.onnx"), providers=["CPUExecutionProvider"]
        )
        (found,) = session.run(None, {session.get_inputs()[0].name: inputs})
        np.testing.assert_allclose(found, net.predict(inputs), rtol=1e-5, atol=1e-6)
