"""Data in: checking the arrays users give, holding out a test set, streaming chunks."""

from __future__ import annotations

from nnkit.data.split import train_test_split
from nnkit.data.streams import Chunks, chunks

__all__ = ["train_test_split", "chunks", "Chunks"]
