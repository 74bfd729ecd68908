"""``nnkit evaluate``, ``predict`` and ``summary``: the commands that use a saved model."""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path
from typing import Any

import numpy as np

import nnkit
from nnkit.datafiles import read_data_file
from nnkit.errors import DataError

__all__ = ["evaluate_command", "predict_command", "summary_command"]


def _model_features(network: nnkit.Network, data_path: str, target: str | None) -> Any:
    data = read_data_file(data_path, target)
    expected = network.metadata.get("features")
    if (
        expected
        and Path(data_path).suffix.lower() != ".npz"
        and list(data.feature_names) != list(expected)
    ):
        missing = [name for name in expected if name not in data.feature_names]
        extra = [name for name in data.feature_names if name not in expected]
        details = []
        if missing:
            details.append(f"missing {missing}")
        if extra:
            details.append(f"unexpected {extra}")
        raise DataError(
            f"{data_path}: the columns do not match the model's features "
            f"({'; '.join(details) or 'in another order'})"
        )
    return data


def _labels_for(network: nnkit.Network, y: np.ndarray, source: str) -> np.ndarray:
    classes = network.metadata.get("classes")
    if classes is None:
        return y
    positions = {str(c): i for i, c in enumerate(classes)}
    keys = [str(v.item() if hasattr(v, "item") else v) for v in y]
    keys = [k[:-2] if k.endswith(".0") and k[:-2] in positions else k for k in keys]
    unknown = sorted({k for k in keys if k not in positions})
    if unknown:
        raise DataError(
            f"{source}: the target has classes {unknown[:5]} the model was not trained on "
            f"(it knows {classes})"
        )
    return np.array([positions[k] for k in keys])


def _classes_of(network: nnkit.Network) -> list[Any] | None:
    """The class names a classifier predicts; its output indices when it was built in
    Python without them; ``None`` for a regression."""
    classes = network.metadata.get("classes")
    if classes is None and network.metadata.get("task") != "regression":
        if network.loss.accepts_class_labels:
            classes = list(range(max(network.n_outputs, 2)))
    return classes


def evaluate_command(args: argparse.Namespace) -> int:
    """``nnkit evaluate``: the loss and metrics of a saved model on labelled data."""
    network = nnkit.load(args.model)
    target = args.target or network.metadata.get("target")
    data = _model_features(network, args.data, target)
    if data.y is None:
        raise DataError(f"{args.data}: no target column; name it with --target")
    scores = network.evaluate(data.X, _labels_for(network, data.y, args.data))
    for name, value in scores.items():
        print(f"{name}: {value:.4f}")
    return 0


def predict_command(args: argparse.Namespace) -> int:
    """``nnkit predict``: predictions for every row of a data file, as CSV."""
    network = nnkit.load(args.model)
    target = network.metadata.get("target")
    with_target = target
    if Path(args.data).suffix.lower() != ".npz":
        with open(args.data, encoding="utf-8-sig", errors="replace") as file:
            header = next(csv.reader(file), [])
        with_target = target if target in [h.strip() for h in header] else None
    data = _model_features(network, args.data, with_target)
    outputs = network.predict(data.X)
    classes = _classes_of(network)
    if classes is None:
        header, rows = ["prediction"], outputs[:, :1].tolist()
    elif args.proba:
        if outputs.shape[1] == 1:  # one sigmoid unit: P(second class)
            outputs = np.hstack([1 - outputs, outputs])
        header, rows = [f"p_{c}" for c in classes], outputs.tolist()
    else:
        index = (outputs[:, 0] > 0.5).astype(int) if outputs.shape[1] == 1 else outputs.argmax(1)
        header, rows = ["prediction"], [[classes[i]] for i in index]
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[f"{v:.6g}" if isinstance(v, float) else v for v in row] for row in rows])
    if args.output:
        Path(args.output).write_text(stream.getvalue())
    else:
        sys.stdout.write(stream.getvalue())
    return 0


def summary_command(args: argparse.Namespace) -> int:
    """``nnkit summary``: what a saved model is made of."""
    network = nnkit.load(args.model)
    network.summary()
    metadata = network.metadata
    if metadata.get("target"):
        print(f"target: {metadata['target']} ({metadata.get('task', 'unknown task')})")
    if metadata.get("classes") is not None:
        print(f"classes: {', '.join(str(c) for c in metadata['classes'])}")
    if metadata.get("features"):
        names = metadata["features"]
        shown = ", ".join(names[:8]) + (f", ... ({len(names)} in all)" if len(names) > 8 else "")
        print(f"features: {shown}")
    return 0
