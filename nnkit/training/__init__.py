"""Training: the trainer behind ``fit``, ``evaluate`` and ``predict``, the loop over epochs
and batches, its history, progress display and the learning-rate range test."""

from __future__ import annotations

from nnkit.training.history import History
from nnkit.training.loop import clip_gradients
from nnkit.training.lr_find import RangeTestResult, lr_find
from nnkit.training.trainer import Trainer

__all__ = ["Trainer", "clip_gradients", "History", "lr_find", "RangeTestResult"]
