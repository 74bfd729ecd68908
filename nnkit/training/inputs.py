"""Preparing what users hand to ``fit``, ``evaluate`` and ``predict``, in one place.

Every entry point checks its arrays the same way: the samples against the model's input
shape (building the model from them if it is not built yet), the targets against its
outputs and loss, and the weights against the number of samples; a chunk of streamed
data and a validation set are prepared by the same functions, named in the errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from nnkit.data.arrays import as_features, as_sample_weight, as_targets, class_weights_for
from nnkit.data.named import pack_inputs
from nnkit.data.position_targets import as_position_targets
from nnkit.errors import ConfigurationError
from nnkit.training.outputs import OutputsLoss, pack_targets

if TYPE_CHECKING:
    from nnkit.training.trainer import TrainableModel

__all__ = ["Prepared", "as_model_input", "prepare_features", "prepare"]


class Prepared(NamedTuple):
    """Checked arrays: samples, targets ``(n_samples, *output_shape)`` and a weight per
    sample (``None`` when every sample counts once)."""

    X: np.ndarray
    Y: np.ndarray
    weights: np.ndarray | None


def as_model_input(
    model: TrainableModel, X: Any, name: str = "X", finite: bool = True
) -> np.ndarray:
    """``X`` as an array of the model's dtype and input shape: what the user passed,
    encoded by the first layer (a category lookup turns text into codes) and checked
    (NaN let through when the first layer fills it). ``finite=False`` leaves the check
    for NaN and infinity to the caller (`predict` checks each batch while it is in
    cache)."""
    graph = model.graph
    if graph.input_shapes is not None:  # a drawn graph: X may be a dict by input name
        X = pack_inputs(X, graph.input_names, graph.input_shapes, model.dtype, name)
    if graph.n_inputs > 1:  # no one first layer: each layer checks what it reads
        return as_features(X, model.dtype, model.input_shape, name=name, finite=finite)
    first = model.layers[0]
    return as_features(
        first.encode_input(X),
        model.dtype,
        model.input_shape,
        name=name,
        finite=finite,
        allow_nan=first.accepts_nan,
    )


def prepare_features(
    model: TrainableModel, X: Any, name: str = "X", finite: bool = True
) -> np.ndarray:
    """`as_model_input`, the model built from it if it is not yet, and accepted by the
    first layer."""
    X = as_model_input(model, X, name, finite)
    model.ensure_built(X.shape[1:])
    if model.graph.n_inputs == 1:
        model.layers[0].check_input(X)
    return X


def prepare(
    model: TrainableModel,
    X: Any,
    y: Any,
    sample_weight: Any = None,
    class_weight: Any = None,
    *,
    names: tuple[str, str] = ("X", "y"),
    compact: bool = False,
    encoded: bool = False,
) -> Prepared:
    """Samples, targets and weights checked against each other and the model.

    ``class_weight`` multiplies each sample's weight by its class's. With ``compact``,
    class labels stay booleans (one-hot) and are converted batch by batch, as training
    draws them. ``encoded`` says ``X`` is already `as_model_input`'s array.
    """
    if encoded:
        model.ensure_built(X.shape[1:])
        if model.graph.n_inputs == 1:
            model.layers[0].check_input(X)
    else:
        X = prepare_features(model, X, names[0])
    n_outputs = model.n_outputs
    assert n_outputs is not None, "prepare_features built the model"
    if isinstance(model.loss, OutputsLoss):  # several outputs: y by output name
        if class_weight is not None:
            raise ConfigurationError(
                "class_weight weighs the classes of one output; for a network of several "
                "outputs give sample_weight instead"
            )
        Y = pack_targets(y, model.loss, X.shape[0], model.dtype, names[1])
    elif model.output_shape is not None and len(model.output_shape) > 1:  # per position
        Y = as_position_targets(
            y, X.shape[0], model.output_shape, model.loss, model.dtype, names[1], compact
        )
    else:
        Y = as_targets(
            y, X.shape[0], n_outputs, model.loss, model.dtype, name=names[1], compact=compact
        )
    weights = as_sample_weight(sample_weight, X.shape[0], model.dtype)
    if class_weight is not None:
        per_class = class_weights_for(class_weight, Y, model.dtype)
        weights = per_class if weights is None else weights * per_class
    return Prepared(X, Y, weights)
