"""The bundled digits load without a download, in the documented shapes."""

from __future__ import annotations

import numpy as np

import nnkit


def test_digits_are_1797_scaled_images_with_ten_balanced_classes():
    X, y = nnkit.datasets.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert X.min() == 0 and X.max() == 1
    assert y.shape == (1797,) and set(np.unique(y)) == set(range(10))
    assert np.bincount(y).min() >= 170


def test_raw_digits_are_the_original_integers():
    raw = nnkit.datasets.load_digits(scaled=False)
    scaled = nnkit.datasets.load_digits()
    assert raw.X.max() == 16 and np.issubdtype(raw.X.dtype, np.integer)
    np.testing.assert_array_equal(raw.X / 16, scaled.X)
    # The first image is a zero: a ring of ink around an empty centre.
    image = raw.X[0].reshape(8, 8)
    assert raw.y[0] == 0 and image[3:5, 3:5].sum() < image[1:7, 1:7].sum() / 4


def test_credit_names_the_creators_and_licence():
    assert (
        "Alpaydin" in nnkit.datasets.DIGITS_CREDIT and "CC BY 4.0" in nnkit.datasets.DIGITS_CREDIT
    )
