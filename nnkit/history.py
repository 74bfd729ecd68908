"""What training logged: every quantity's value at the end of each epoch."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["History"]


@dataclass
class History:
    """Per-epoch values of every logged quantity, as Keras keeps them.

    ``history["loss"][i]`` is the mean training loss of epoch ``epoch[i]``; validation
    quantities are prefixed ``val_``.
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
