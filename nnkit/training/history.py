"""What training logged: every quantity's value at the end of each epoch."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from nnkit.errors import MissingExtraError

__all__ = ["History"]


@dataclass(repr=False)
class History:
    """Per-epoch values of every logged quantity, as Keras keeps them.

    ``history["loss"][i]`` is the mean training loss of epoch ``epoch[i]`` (epochs count
    from 1); validation quantities are prefixed ``val_``.
    """

    history: dict[str, list[float]] = field(default_factory=dict)
    epoch: list[int] = field(default_factory=list)

    def record(self, epoch: int, logs: dict[str, float]) -> None:
        """Append one epoch's values."""
        self.epoch.append(epoch)
        for name, value in logs.items():
            self.history.setdefault(name, []).append(float(value))

    def last(self) -> dict[str, float]:
        """The values of the final epoch."""
        return {name: values[-1] for name, values in self.history.items()}

    def __len__(self) -> int:
        return len(self.epoch)

    def __repr__(self) -> str:
        # A summary, not every value: a long run would print thousands of numbers.
        if not self.epoch:
            return "History(no epochs)"
        count = f"{len(self.epoch)} epoch{'s' if len(self.epoch) != 1 else ''}"
        last = ", ".join(f"{name}={value:.4g}" for name, value in self.last().items())
        return f"History({count}; epoch {self.epoch[-1]}: {last})"

    def plot(self, path: str | os.PathLike[str] | None = None, title: str | None = None) -> Any:
        """Draw each quantity's curve per epoch, training against validation, one panel
        per quantity; save to ``path`` (PNG, or any format matplotlib knows by the
        suffix) if given. Returns the matplotlib ``Figure``.

        Needs matplotlib: ``pip install "nnkit-numpy[plot]"``.
        """
        try:
            from matplotlib.figure import Figure
        except ImportError:
            raise MissingExtraError(
                'History.plot needs matplotlib, an optional extra: pip install "nnkit-numpy[plot]"'
            ) from None
        if not self.epoch:
            raise ValueError("nothing to plot: the history has no epochs")
        names = [n for n in self.history if not n.startswith("val_")]
        names += [n[4:] for n in self.history if n.startswith("val_") and n[4:] not in names]
        figure = Figure(figsize=(4.2 * len(names), 3.4), layout="constrained")
        for axes, name in zip(figure.subplots(1, len(names), squeeze=False)[0], names):
            if name in self.history:
                axes.plot(self.epoch, self.history[name], label="training", marker=".")
            if f"val_{name}" in self.history:
                axes.plot(self.epoch, self.history[f"val_{name}"], label="validation", marker=".")
            axes.set_xlabel("epoch")
            axes.set_title(name.replace("_", " "))
            axes.grid(alpha=0.3)
            if f"val_{name}" in self.history:
                axes.legend()
        if title:
            figure.suptitle(title)
        if path is not None:
            figure.savefig(os.fspath(path), dpi=110)
        return figure
