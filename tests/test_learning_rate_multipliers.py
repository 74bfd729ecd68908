"""layer.learning_rate_multiplier: each layer's optimizer step scaled by its factor, the
others' steps unchanged, nothing extra per step when none is set; saved and restored."""

from __future__ import annotations

import numpy as np
import pytest

import nnkit
from nnkit.errors import ConfigurationError


def _data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 5)), rng.integers(0, 3, size=n)


def _net(optimizer):
    return nnkit.Network(
        [nnkit.Dense(8, activation="relu"), nnkit.Dense(3, activation="softmax")],
        loss="cross_entropy", optimizer=optimizer, seed=0, dtype="float64",
    ).build(5)


@pytest.mark.parametrize(
    "optimizer",
    [lambda: nnkit.optimizer("sgd", learning_rate=0.1, momentum=0.9),
     lambda: nnkit.optimizer("adam", learning_rate=0.01, weight_decay=0.1)],
)
def test_a_multiplier_scales_its_layers_step_and_leaves_the_others(optimizer):
    X, y = _data()
    plain, scaled = _net(optimizer()), _net(optimizer())
    scaled.layers[0].learning_rate_multiplier = 0.25
    start = plain.get_weights()
    plain.fit(X, y, epochs=1, batch_size=32, verbose=0)  # one step, the same batch
    scaled.fit(X, y, epochs=1, batch_size=32, verbose=0)
    for index, (before, full, part) in enumerate(
        zip(start, plain.get_weights(), scaled.get_weights())
    ):
        factor = 0.25 if index < 2 else 1.0
        np.testing.assert_allclose(part - before, factor * (full - before), atol=1e-12)
        assert np.any(full != before)


def test_without_multipliers_the_step_is_not_scaled():
    net = _net(nnkit.optimizer("sgd"))
    assert net._step_scales(net.store) is None
    net.layers[1].learning_rate_multiplier = 2.0
    assert net._step_scales(net.store)[-3:].tolist() == [2.0, 2.0, 2.0]
    net.layers[1].learning_rate_multiplier = 1.0
    assert net._step_scales(net.store) is None


def test_a_multiplier_is_a_finite_non_negative_number_saved_with_the_model(tmp_path):
    layer = nnkit.Dense(2)
    for bad in (-1.0, float("nan"), "fast", True):
        with pytest.raises(ConfigurationError, match="learning_rate_multiplier"):
            layer.learning_rate_multiplier = bad
    net = _net("sgd")
    net.layers[0].learning_rate_multiplier = 0.1
    net.save(tmp_path / "net.nnkit")
    loaded = nnkit.load(tmp_path / "net.nnkit")
    assert [la.learning_rate_multiplier for la in loaded.layers] == [0.1, 1.0]
