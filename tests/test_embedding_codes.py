"""An embedding checks its codes in its forward pass, wherever it stands in the network."""

from __future__ import annotations

import numpy as np
import pytest

import nnkit
from nnkit.errors import DataError
from nnkit.interfaces.workspace import Workspace


def embedding_after_flatten() -> nnkit.Network:
    """Codes reach the embedding through a flatten, so no check of X sees them."""
    return nnkit.Network(
        [nnkit.layer("flatten"), nnkit.layer("embedding", input_dim=5, output_dim=2),
         nnkit.layer("flatten"), nnkit.Dense(2, activation="softmax")],
        loss="cross_entropy", seed=0,
    ).build((1, 3))


def codes_with(value: float) -> np.ndarray:
    X = np.zeros((4, 1, 3))
    X[2, 0, 1] = value
    return X


@pytest.mark.parametrize("value", [-1.0, 4.7, 7.0, 5.0, -0.5])
def test_a_bad_code_is_refused_in_predict(value):
    with pytest.raises(DataError, match=r"embedding takes whole-number codes 0\.\.4.* sample 2"):
        embedding_after_flatten().predict(codes_with(value))


@pytest.mark.parametrize("value", [-1.0, 4.7, 7.0])
def test_a_bad_code_is_refused_in_fit(value):
    y = np.array([0, 1, 0, 1])
    with pytest.raises(DataError, match="embedding takes whole-number codes"):
        embedding_after_flatten().fit(codes_with(value), y, epochs=1, verbose=0)


def test_good_codes_still_pass_and_select_their_rows():
    net = embedding_after_flatten()
    X = np.array([[[0.0, 4.0, 2.0]], [[1.0, 3.0, 0.0]]])
    assert net.predict(X).shape == (2, 2)
    embedding = net.layers[1]
    found = embedding.forward(X.reshape(2, 3), Workspace())
    np.testing.assert_array_equal(found, embedding.params["E"][[[0, 4, 2], [1, 3, 0]]])
