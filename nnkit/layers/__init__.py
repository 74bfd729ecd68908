"""The core's own layers: `WeightedLayer`, the base of layers with a weight matrix and a
bias, and `Dense`, the seed's fully connected layer, written as its formulas."""

from __future__ import annotations

from nnkit.layers.dense import Dense
from nnkit.layers.weighted import WeightedLayer

__all__ = ["Dense", "WeightedLayer"]
