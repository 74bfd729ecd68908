"""Several outputs under one loss: the outputs laid side by side, as the inputs are.

A network of several outputs hands the trainer one ``(m, total)`` array of its outputs,
each flattened, in output order, and its targets the same way (`pack_targets`). Then
shuffling, batches, validation splits, sample weights, callbacks and early stopping
treat every output's targets together with no code of their own. `OutputsLoss` is the
loss of such a network: the weighted sum of each output's loss on its columns, whose
gradient is each output's gradient, scaled by its weight, in its columns. The
`OutputMetric` of one output reports a metric (or that output's own loss) on its
columns, so that `History` records each output's loss and metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from nnkit.data.arrays import as_targets
from nnkit.data.named import by_name
from nnkit.errors import ConfigurationError, DataError
from nnkit.interfaces.loss import Loss
from nnkit.interfaces.metric import Metric, MetricState

__all__ = [
    "OutputLossMetric",
    "OutputMetric",
    "OutputsLoss",
    "pack_targets",
    "per_output_metrics",
    "split_outputs",
]


class OutputsLoss(Loss):
    """The loss of a network of several outputs: ``sum_k w_k E_k(A_k, Y_k)``.

    Args:
        names: the outputs' names, in output order.
        losses: one loss per output.
        weights: one weight per output (each output's loss is multiplied by it).

    The widths of the outputs are set when the network is built (`set_widths`).
    """

    def __init__(
        self, names: Sequence[str], losses: Sequence[Loss], weights: Sequence[float]
    ) -> None:
        self.names = list(names)
        self.losses = list(losses)
        self.weights = [float(w) for w in weights]
        self.widths: list[int] = []
        self._columns: list[slice] = []

    def set_widths(self, widths: Sequence[int]) -> None:
        """Each output's number of columns, known once the network is built."""
        self.widths = [int(w) for w in widths]
        edges = np.cumsum([0, *self.widths])
        self._columns = [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]

    def columns(self, index: int) -> slice:
        """The columns of output ``index`` in the packed outputs and targets."""
        return self._columns[index]

    def per_sample(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """Each sample's weighted sum of its outputs' losses."""
        total = np.zeros(A.shape[0], dtype=A.dtype)
        for loss, weight, cols in zip(self.losses, self.weights, self._columns):
            total += weight * loss.per_sample(A[:, cols], Y[:, cols])
        return total

    def value(self, A: np.ndarray, Y: np.ndarray) -> float:
        """The weighted sum of the outputs' batch losses."""
        return float(
            sum(
                weight * loss.value(A[:, cols], Y[:, cols])
                for loss, weight, cols in zip(self.losses, self.weights, self._columns)
            )
        )

    def gradient(self, A: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """Each output's loss gradient times its weight, in that output's columns."""
        dA = np.empty_like(A)
        for loss, weight, cols in zip(self.losses, self.weights, self._columns):
            part = loss.gradient(A[:, cols], Y[:, cols])
            np.multiply(part, weight, out=dA[:, cols], casting="unsafe")
        return dA


class OutputMetric(Metric):
    """A metric of one output: ``metric`` on that output's columns only."""

    def __init__(self, metric: Metric, loss: OutputsLoss, index: int) -> None:
        self.metric, self.loss, self.index = metric, loss, index
        self.higher_is_better = metric.higher_is_better  # type: ignore[misc]

    def init_state(self) -> MetricState:
        """The wrapped metric's state."""
        return self.metric.init_state()

    def update(self, state: MetricState, A: np.ndarray, Y: np.ndarray) -> None:
        """Add the batch's columns of this output."""
        cols = self.loss.columns(self.index)
        self.metric.update(state, A[:, cols], Y[:, cols])

    def result(self, state: MetricState) -> float:
        """The wrapped metric's result."""
        return self.metric.result(state)


class OutputLossMetric(Metric):
    """One output's own loss (unweighted, without penalties), logged as ``<name>_loss``."""

    higher_is_better = False

    def __init__(self, loss: OutputsLoss, index: int) -> None:
        self.loss, self.index = loss, index

    def value(self, A: np.ndarray, Y: np.ndarray) -> float:
        """The output's batch loss."""
        cols = self.loss.columns(self.index)
        return self.loss.losses[self.index].value(A[:, cols], Y[:, cols])


def pack_targets(y: Any, loss: OutputsLoss, n_samples: int, dtype: np.dtype, name: str) -> Any:
    """``y`` given as a dict by output name (or a list in output order) as one
    ``(n_samples, total)`` array: each output's targets checked against its own loss and
    width (class labels one-hot encoded where that loss takes them).

    Raises:
        DataError: an output is missing, unknown, or its targets do not fit.
    """
    names = loss.names
    parts = by_name(y, names, name, "output")
    if parts is None:
        raise DataError(
            f"the network has {len(names)} outputs ({', '.join(names)}): give {name} as a "
            "dict by output name, or a list of one array per output in that order"
        )
    arrays = [
        as_targets(part, n_samples, width, output_loss, dtype, name=f"{name}[{key!r}]")
        for key, part, width, output_loss in zip(names, parts, loss.widths, loss.losses)
    ]
    return np.concatenate(arrays, axis=1)


MetricSpecs = Sequence[Metric | str] | Mapping[str, Metric | str] | None


def per_output_metrics(
    loss: OutputsLoss,
    metrics: MetricSpecs | Mapping[str, MetricSpecs],
    resolve: Callable[[Loss, MetricSpecs], dict[str, Metric]],
) -> dict[str, Metric]:
    """The metrics of a network of several outputs, logged as ``<output>_<metric>``,
    after each output's own loss, ``<output>_loss``.

    ``metrics`` is a dict by output name (each output's metrics, its loss's defaults for
    an output left out), or metrics for every output alike, or None for each loss's
    defaults. ``resolve(loss, specs)`` resolves one output's metrics by name.
    """
    names = loss.names
    if isinstance(metrics, Mapping) and metrics and all(key in names for key in metrics):
        chosen: dict[str, Any] = dict(metrics)
    elif isinstance(metrics, Mapping) and any(key in names for key in metrics):
        unknown = [key for key in metrics if key not in names]
        raise ConfigurationError(
            f"metrics is a dict by output name, but no output is called {unknown}; the "
            f"outputs are {names}"
        )
    else:
        chosen = {name: metrics for name in names}
    resolved: dict[str, Metric] = {}
    for index, (name, output_loss) in enumerate(zip(names, loss.losses)):
        resolved[f"{name}_loss"] = OutputLossMetric(loss, index)
        for metric_name, metric in resolve(output_loss, chosen.get(name)).items():
            resolved[f"{name}_{metric_name}"] = OutputMetric(metric, loss, index)
    return resolved


def split_outputs(A: np.ndarray, loss: OutputsLoss) -> dict[str, np.ndarray]:
    """The packed outputs ``A`` of several outputs as a dict by output name."""
    return {
        name: np.ascontiguousarray(A[:, loss.columns(index)])
        for index, name in enumerate(loss.names)
    }
