"""A model file cannot make `load` allocate memory by the size of its samples: the
elements of one sample are limited, and building does not run full-size data."""

from __future__ import annotations

import json
import tracemalloc
import zipfile

import numpy as np
import pytest

import nnkit
from nnkit.errors import ConfigurationError, ModelFileError
from nnkit.files.model_format import MAX_SAMPLE_ELEMENTS


def conv_model(tmp_path, input_shape):
    """A small image model saved, then its file edited to ``input_shape``: conv2d and
    global pooling have the same parameters at any image size."""
    pytest.importorskip("nnkit_vision")
    net = nnkit.Network(
        [nnkit.layer("conv2d", filters=4, kernel_size=3, activation="relu"),
         nnkit.layer("global_avg_pool2d"), nnkit.Dense(2, activation="softmax")],
        loss="cross_entropy", seed=0,
    ).build((1, 8, 8))
    path = tmp_path / "m.nnkit"
    net.save(path)
    edited = tmp_path / "edited.nnkit"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(edited, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "model.json":
                description = json.loads(data)
                description["network"]["input_shape"] = list(input_shape)
                data = json.dumps(description).encode()
            target.writestr(item, data)
    return edited


def peak_bytes(action) -> int:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("shape", [(1, 20_000, 20_000), (1, 1_000_000, 1_000_000)])
def test_a_huge_sample_is_refused_before_any_allocation(tmp_path, shape):
    path = conv_model(tmp_path, shape)
    errors = []

    def load():
        try:
            nnkit.load(path)
        except ModelFileError as error:
            errors.append(str(error))

    assert peak_bytes(load) < 20 * 2**20
    assert errors and "max_sample_elements" in errors[0] and f"{MAX_SAMPLE_ELEMENTS:,}" in errors[0]


def test_a_large_allowed_sample_loads_without_running_full_size_data(tmp_path):
    path = conv_model(tmp_path, (1, 3000, 3000))  # 9,000,000 pixels: 72 MB per sample
    loaded = []
    peak = peak_bytes(lambda: loaded.append(nnkit.load(path, max_sample_elements=10**8)))
    assert loaded[0].input_shape == (1, 3000, 3000)
    assert peak < 50 * 2**20  # less than one float64 sample


def test_the_limit_can_be_lowered_or_raised():
    pytest.importorskip("nnkit_vision")
    layers = [nnkit.layer("conv2d", filters=2, kernel_size=3), nnkit.layer("global_avg_pool2d"),
              nnkit.Dense(2, activation="softmax")]
    with pytest.raises(ConfigurationError, match=r"max_sample_elements"):
        nnkit.Network(layers, seed=0).build((1, 40, 40), max_sample_elements=1000)
    net = nnkit.Network(layers, seed=0).build((1, 40, 40), max_sample_elements=10_000)
    assert net.predict(np.zeros((3, 1, 40, 40))).shape == (3, 2)


def test_a_layer_output_over_the_limit_is_refused(tmp_path):
    pytest.importorskip("nnkit_vision")
    net = nnkit.Network([nnkit.layer("conv2d", filters=64, kernel_size=1),
                         nnkit.layer("global_avg_pool2d"), nnkit.Dense(2)], seed=0)
    with pytest.raises(ConfigurationError, match=r"layer 1 .*64, 100, 100.*max_sample_elements"):
        net.build((1, 100, 100), max_sample_elements=100_000)
