"""``nnkit evaluate``, ``predict`` and ``summary``: the commands that use a saved model."""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Final

import numpy as np

import nnkit
from nnkit.cli.model_metadata import ModelMetadata, read_metadata
from nnkit.cli.table_columns import model_input
from nnkit.errors import DataError
from nnkit.files import data_files as datafiles
from nnkit.files.atomic import atomic_output
from nnkit.files.data_files import CsvTable, read_data_file
from nnkit.files.onnx import to_onnx
from nnkit.training.trainer import INFERENCE_BATCH_SIZE

__all__ = [
    "evaluate_command",
    "predict_command",
    "summary_command",
    "check_output_folder",
    "print_notes",
]

#: Column names listed in a mismatch message before the list is cut short.
NAMES_SHOWN: Final = 10


def check_output_folder(option: str, target: str | None) -> None:
    """Refuse, before any work, an output file whose folder does not exist."""
    folder = Path(target).parent if target else None
    if folder is not None and not folder.is_dir():
        raise DataError(f"{option} {target}: folder {folder} does not exist")


def print_notes(notes: tuple[str, ...]) -> None:
    """Tell the user, on stderr (stdout may be the predictions), what was assumed."""
    for note in notes:
        print(f"nnkit: note: {note}", file=sys.stderr)


def _check_columns(expected: list[str] | None, found: list[str] | None, source: str) -> None:
    """The data's feature columns are the model's, in order; linear in their number."""
    if not expected or found is None or found == expected:
        return
    wanted, present = set(expected), set(found)
    missing = [name for name in expected if name not in present]
    extra = [name for name in found if name not in wanted]
    details = [
        f"{label} {_shown(names)}"
        for label, names in (("missing", missing), ("unexpected", extra))
        if names
    ]
    raise DataError(
        f"{source}: the columns do not match the model's features "
        f"({'; '.join(details) or 'in another order'})"
    )


def _shown(names: list[str]) -> str:
    if len(names) <= NAMES_SHOWN:
        return str(names)
    return f"{names[:NAMES_SHOWN]} and {len(names) - NAMES_SHOWN} more"


def _labels_for(metadata: ModelMetadata, y: np.ndarray, source: str) -> np.ndarray:
    classes = metadata.classes
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


def _classes_of(network: nnkit.Network, metadata: ModelMetadata) -> list[Any] | None:
    """The class names a classifier predicts; its output indices when it was built in
    Python without them; ``None`` for a regression."""
    classes = metadata.classes
    if classes is None and metadata.task != "regression":
        if network.loss.accepts_class_labels:
            classes = list(range(max(network.n_outputs or 0, 2)))
    return classes


def _table(
    args: argparse.Namespace, metadata: ModelMetadata, target: str | None, required: bool
) -> CsvTable:
    """The CSV file's header, checked against the model's features: the columns
    ``nnkit train --drop`` left out are left out again. The ``target`` column must be
    there if ``required``; otherwise it is ignored if it is."""
    table = CsvTable(args.data, target, args.delimiter, target_required=required)
    print_notes(table.notes)
    dropped = [name for name in metadata.dropped or () if name in table.feature_names]
    if dropped:
        table.drop(dropped)
    _check_columns(metadata.features, table.feature_names, args.data)
    return table


def evaluate_command(args: argparse.Namespace) -> int:
    """``nnkit evaluate``: the loss and metrics of a saved model on labelled data."""
    network = nnkit.load(args.model)
    metadata = read_metadata(network, args.model)
    target = args.target or metadata.target
    if Path(args.data).suffix.lower() == ".npz":
        data = read_data_file(args.data, target, args.delimiter)
        X, y = data.X, data.y
    else:
        if target is None:
            raise DataError(f"{args.data}: no target column; name it with --target")
        table = _table(args, metadata, target, required=True)
        cells = table.read_cells()
        assert cells.labels is not None, "the table has its target column"
        y = table.target_values(cells.labels, cells.lines)
        X = model_input(cells, table.feature_names, bool(metadata.categorical), args.data)
    if y is None:
        raise DataError(f"{args.data}: no target column; name it with --target")
    scores = network.evaluate(X, _labels_for(metadata, y, args.data))
    for name, value in scores.items():
        print(f"{name}: {value:.4f}")
    return 0


def _feature_chunks(args: argparse.Namespace, metadata: ModelMetadata) -> Iterator[np.ndarray]:
    """The data file's features in chunks of whole inference batches, so that the
    predictions are those of one call on the whole file: numbers (missing cells as NaN),
    or the text cells themselves for a model with categorical columns."""
    if Path(args.data).suffix.lower() == ".npz":
        X = read_data_file(args.data).X
        rows = _chunk_rows(int(np.prod(X.shape[1:])))
        for start in range(0, len(X), rows):
            yield X[start : start + rows]
        return
    table = _table(args, metadata, metadata.target, required=False)
    for cells in table.cell_chunks(_chunk_rows(len(table.header))):
        yield model_input(cells, table.feature_names, bool(metadata.categorical), args.data)


def _chunk_rows(cells_per_row: int) -> int:
    batches = max(1, datafiles.CHUNK_CELLS // max(1, cells_per_row) // INFERENCE_BATCH_SIZE)
    return batches * INFERENCE_BATCH_SIZE


def _prediction_rows(
    network: nnkit.Network, metadata: ModelMetadata, X: np.ndarray, source: str, proba: bool
) -> tuple[list[str], list[list[Any]]]:
    """The header and rows of the predictions for one chunk."""
    outputs = network.predict(X)
    classes = _classes_of(network, metadata)
    if classes is None:
        values = outputs
        header = (
            ["prediction"]
            if values.shape[1] == 1
            else [f"prediction_{i}" for i in range(values.shape[1])]
        )
        # One number of decimals per column, so that the values line up: eight
        # significant digits for the column's largest value (a price of 1,234,567 is
        # written whole, with one decimal).
        decimals = [_decimals(column) for column in values.T]
        return header, [[f"{v:.{d}f}" for v, d in zip(row, decimals)] for row in values.tolist()]
    if proba:
        if outputs.shape[1] == 1:  # one sigmoid unit: P(second class)
            outputs = np.hstack([1 - outputs, outputs])
        return [f"p_{c}" for c in classes], outputs.tolist()
    index = (outputs[:, 0] > 0.5).astype(int) if outputs.shape[1] == 1 else outputs.argmax(1)
    return ["prediction"], [[classes[i]] for i in index]


def _decimals(column: np.ndarray, digits: int = 8) -> int:
    """Decimals that give ``column``'s largest value ``digits`` significant digits."""
    largest = float(np.max(np.abs(column))) if column.size else 0.0
    if not np.isfinite(largest) or largest == 0.0:
        return digits - 1
    return max(0, digits - 1 - int(np.floor(np.log10(largest))))


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[IO[str]]:
    """The screen, or a file that appears only once complete (a failure part-way leaves
    no half-written predictions behind)."""
    if path is None:
        yield sys.stdout
        return
    with atomic_output(Path(path)) as binary:
        text = io.TextIOWrapper(binary, encoding="utf-8", newline="")
        try:
            yield text
            text.flush()
        finally:
            text.detach()  # the binary file is closed, and renamed, by atomic_output


def predict_command(args: argparse.Namespace) -> int:
    """``nnkit predict``: predictions for every row of a data file, as CSV, streamed in
    chunks so that memory stays bounded whatever the file's length."""
    check_output_folder("-o", args.output)
    network = nnkit.load(args.model)
    metadata = read_metadata(network, args.model)
    chunks = _feature_chunks(args, metadata)
    with _output(args.output) as stream:
        writer = csv.writer(stream, lineterminator="\n")
        written = False
        count = 0
        for X in chunks:
            header, rows = _prediction_rows(network, metadata, X, args.data, args.proba)
            if not written:
                writer.writerow(header)
                written = True
            writer.writerows([[f"{v:.6g}" if isinstance(v, float) else v for v in r] for r in rows])
            count += len(rows)
        if not written:
            raise DataError(f"{args.data} has no rows to predict")
    if args.output is not None:  # the screen shows nothing else, so say what was written
        kind = "probabilities" if args.proba else "predictions"
        print(f"wrote the {kind} for {count} row{'s' * (count != 1)} to {args.output}")
    return 0


def summary_command(args: argparse.Namespace) -> int:
    """``nnkit summary``: what a saved model is made of."""
    network = nnkit.load(args.model)
    metadata = read_metadata(network, args.model)
    network.summary()
    if metadata.target:
        print(f"target: {metadata.target} ({metadata.task or 'unknown task'})")
    if metadata.classes is not None:
        print(f"classes: {', '.join(str(c) for c in metadata.classes)}")
    if metadata.features:
        names = metadata.features
        shown = ", ".join(names[:8]) + (f", ... ({len(names)} in all)" if len(names) > 8 else "")
        print(f"features: {shown}")
    if metadata.categorical:
        print(f"categorical: {', '.join(metadata.categorical)}")
    if metadata.dropped:
        print(f"dropped in training: {', '.join(metadata.dropped)}")
    return 0


def export_command(args: argparse.Namespace) -> int:
    """``nnkit export``: a saved model as ONNX, its preprocessing layers included."""
    network = nnkit.load(args.model)
    read_metadata(network, args.model)
    check_output_folder("-o", args.output)
    to_onnx(network, args.output, opset=args.opset)
    print(f"wrote {args.output}")
    return 0
