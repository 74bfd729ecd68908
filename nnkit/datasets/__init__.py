"""Data sets that ship with nnkit, so that training works with no download.

The digits set is the test split of the Optical Recognition of Handwritten Digits data
set by E. Alpaydin and C. Kaynak (1998), from the UCI Machine Learning Repository,
licensed CC BY 4.0 (https://doi.org/10.24432/C50P49); it is also the set scikit-learn
distributes as ``load_digits``.
"""

from __future__ import annotations

from importlib import resources
from typing import NamedTuple

import numpy as np

__all__ = ["Dataset", "load_digits", "DIGITS_CREDIT"]

#: The credit the digits data asks for wherever it is used or shipped.
DIGITS_CREDIT = (
    "Optical Recognition of Handwritten Digits, E. Alpaydin and C. Kaynak (1998), "
    "UCI Machine Learning Repository, CC BY 4.0"
)


class Dataset(NamedTuple):
    """Features ``X`` (one row per sample) and targets ``y``; unpacks as ``X, y = ...``."""

    X: np.ndarray
    y: np.ndarray


def load_digits(scaled: bool = True) -> Dataset:
    """1,797 handwritten digits as 8x8 images: ``X`` is ``(1797, 64)``, ``y`` the digit 0..9.

    Args:
        scaled: divide the pixel intensities (0..16) by 16, giving float32 values in
            [0, 1] ready to train on; ``False`` gives the raw integers.
    """
    with resources.files(__name__).joinpath("digits.npz").open("rb") as file:
        with np.load(file, allow_pickle=False) as archive:
            images, labels = archive["images"], archive["labels"]
    X = images.astype(np.float32) / 16 if scaled else images.astype(np.int64)
    return Dataset(X, labels.astype(np.int64))
