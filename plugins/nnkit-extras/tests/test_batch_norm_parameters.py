"""batch_norm declares gamma and beta: they start at 1 and 0, in the column shapes
nnkit 0.2 saved, so its model files load unchanged."""

from __future__ import annotations

import numpy as np

import nnkit
from nnkit.testing import LayerHarness


def test_batch_norm_declares_gamma_at_one_and_beta_at_zero_as_columns():
    harness = LayerHarness(nnkit.layer("batch_norm"), input_shape=(3,), dtype=np.float32)
    assert harness.layer.parameter_shapes() == {"gamma": (3, 1), "beta": (3, 1)}
    assert np.array_equal(harness.parameters["gamma"], np.ones((3, 1), dtype=np.float32))
    assert np.array_equal(harness.parameters["beta"], np.zeros((3, 1), dtype=np.float32))
    assert harness.layer.penalty() == 0.0
