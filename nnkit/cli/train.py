"""``nnkit train``: fit a network on the bundled digits or the user's own data file."""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final, NamedTuple, Protocol, cast

import numpy as np

import nnkit
from nnkit.cli.layer_specs import build_layers, cli_spelling
from nnkit.cli.saved_models import check_output_folder, print_notes
from nnkit.cli.table_columns import ColumnPlan, model_input, plan_columns, preprocessing_layers
from nnkit.data.split import train_test_split
from nnkit.errors import ConfigurationError, DataError, MissingExtraError, NNKitError
from nnkit.files.data_files import CsvTable, read_data_file

__all__ = ["train_command", "TrainingDivergedError", "blas_threads"]

#: Validation share used by ``--early-stopping`` when ``--validation-split`` is not given.
EARLY_STOPPING_VALIDATION: Final = 0.1


class TrainingDivergedError(NNKitError):
    """The loss became NaN or infinite: the run is stopped and its model is not saved."""


class _DivergenceReport(Protocol):
    """The ``terminate_on_nan`` callback's report: why training stopped, if it did."""

    message: str | None


class _EarlyStoppingReport(Protocol):
    """The ``early_stopping`` callback's report of where it stopped."""

    stopped_epoch: int
    best_epoch: int


def _encode_targets(y: np.ndarray, loss: Any) -> tuple[np.ndarray, list[Any] | None]:
    """Targets for the loss, and the class names when classifying."""
    if not loss.accepts_class_labels:
        if y.dtype.kind not in "fiu":
            raise DataError(
                f"the target holds class names ({y.flat[0]!r}, ...) but {type(loss).__name__} "
                "needs numbers; use --loss cross_entropy"
            )
        return y.astype(np.float64).reshape(len(y), -1), None
    classes, labels = np.unique(y, return_inverse=True)
    return labels, [c.item() if hasattr(c, "item") else c for c in classes]


def _default_loss(y: np.ndarray) -> str:
    numeric = y.dtype.kind in "fiu"
    if numeric and not np.array_equal(y, np.round(y)):
        return "mse"
    return "cross_entropy"


def _can_plot() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _check_options(args: argparse.Namespace) -> None:
    """Refuse impossible option values at once, naming the option as it was typed."""
    if not 0 < args.test_size < 1:
        raise ConfigurationError(
            f"--test-size must be a fraction between 0 and 1 (exclusive), got {args.test_size}"
        )
    if not 0 <= args.validation_split < 1:
        raise ConfigurationError(
            "--validation-split must be a fraction from 0 up to (not including) 1, got "
            f"{args.validation_split}"
        )
    for option, value in (
        ("--epochs", args.epochs),
        ("--batch-size", args.batch_size),
        ("--early-stopping", args.early_stopping),
        ("--threads", args.threads),
    ):
        if value is not None and value < 1:
            raise ConfigurationError(f"{option} must be a positive integer, got {value}")
    if args.seed < 0:
        raise ConfigurationError(f"--seed must be a non-negative integer, got {args.seed}")
    if not (math.isfinite(args.learning_rate) and args.learning_rate > 0):
        raise ConfigurationError(
            f"--learning-rate must be a positive finite number, got {args.learning_rate}"
        )
    for option, target in (("--save", args.save), ("--plot", args.plot)):
        check_output_folder(option, target)  # now, not after the training
    if args.plot and not _can_plot():  # say so now rather than after a long training
        raise MissingExtraError(
            f'--plot needs matplotlib, an optional extra: pip install "nnkit-numpy[plot]" (or drop '
            f"--plot {args.plot})"
        )


class _Data(NamedTuple):
    """What ``nnkit train`` trains on: the features as the network takes them, the
    targets, the feature and target names, where they came from, and, for a CSV table,
    the kind of each column."""

    X: Any
    y: np.ndarray
    features: list[str] | None
    target: str
    source: str
    plan: ColumnPlan | None


def _read_data(args: argparse.Namespace) -> _Data:
    """The data to train on: the bundled digits, a ``.npz`` file or a CSV table (with
    text and missing cells, its columns planned by `plan_columns`)."""
    if args.data is None:
        if args.target is not None:
            raise DataError("--target needs --data: the bundled digits have their own target")
        X, y = nnkit.datasets.load_digits()
        pixels = [f"pixel_{i}" for i in range(X.shape[1])]
        return _Data(X, y, pixels, "digit", "bundled digits", None)
    is_npz = Path(args.data).suffix.lower() == ".npz"
    if args.target is None and not is_npz:
        raise DataError(f"{args.data}: name the column to predict with --target")
    if is_npz:
        for option in ("drop", "categorical"):
            if getattr(args, option):
                raise DataError(f"--{option} names CSV columns, but {args.data} is .npz")
        data = read_data_file(args.data, args.target, args.delimiter)
        if data.y is None:
            raise DataError(f"{args.data} has no array 'y' of targets")
        names = data.feature_names if data.X.ndim == 2 else None
        return _Data(data.X, data.y, names, data.target or "y", args.data, None)
    table = CsvTable(args.data, args.target, args.delimiter)
    print_notes(table.notes)
    table.drop(args.drop)
    cells = table.read_cells()
    assert cells.labels is not None, "CsvTable refuses a missing --target column"
    y = table.target_values(cells.labels, cells.lines)
    plan = plan_columns(cells, table.feature_names, args.categorical, args.data)
    X = model_input(cells, table.feature_names, bool(plan.categorical), args.data)
    return _Data(X, y, table.feature_names, table.target or "y", args.data, plan)


@contextlib.contextmanager
def blas_threads(threads: int | None) -> Iterator[None]:
    """Limit NumPy's BLAS (and any OpenMP pool) to ``threads`` inside the block.

    threadpoolctl changes the limit of libraries already loaded, which the environment
    variables cannot once NumPy is imported; it is optional (it is not a run-time
    dependency of nnkit), so without it the option says how to do the same by hand.
    """
    if threads is None:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
    except ImportError:
        raise MissingExtraError(
            f"--threads needs threadpoolctl: pip install threadpoolctl, or drop --threads and "
            f"run OPENBLAS_NUM_THREADS={threads} OMP_NUM_THREADS={threads} "
            f"MKL_NUM_THREADS={threads} nnkit train ..."
        ) from None
    with threadpool_limits(limits=threads):
        yield


def _fit(network: nnkit.Network, args: argparse.Namespace, **options: Any) -> Any:
    """Train, stopping at the first non-finite loss (a diverged run is an error, and
    nothing is saved); warnings are printed one line each."""
    stopper = nnkit.callback("terminate_on_nan")
    options["callbacks"] = [*options["callbacks"], stopper]
    report = cast(_DivergenceReport, stopper)  # the registry returns it as a Callback
    with (
        blas_threads(args.threads),
        warnings.catch_warnings(record=True) as caught,
        np.errstate(all="ignore"),
    ):
        warnings.simplefilter("always")
        try:
            history = network.fit(**options)
        except ConfigurationError as error:  # the layers' advice, as --layers spells it
            raise ConfigurationError(cli_spelling(str(error))) from None
    losses = history.history.get("loss", [])
    if report.message is not None or not all(math.isfinite(v) for v in losses):
        kept = f"; {args.save} was left as it was" if args.save else ""
        reason = report.message or "training stopped: the loss became non-finite"
        raise TrainingDivergedError(f"{reason}{kept}")
    for warning in caught:
        print(f"nnkit: warning: {warning.message}", file=sys.stderr)
    return history


def train_command(args: argparse.Namespace) -> int:
    """``nnkit train``: fit a network and print the held-out metrics."""
    _check_options(args)
    data = _read_data(args)
    X, y, source = data.X, data.y, data.source
    loss = nnkit.loss(args.loss or _default_loss(y))
    targets, classes = _encode_targets(y, loss)
    if classes is not None and len(classes) < 2:
        raise DataError(
            f"{source}: the target has a single class ({classes[0]!r}); need two or more"
        )
    if classes is None:
        units, output = targets.shape[1], "identity"
    elif type(loss).fused_activation == "sigmoid":
        if len(classes) != 2:
            raise DataError(f"{args.loss} needs two classes; the target has {len(classes)}")
        units, output = 1, "sigmoid"
    else:
        units, output = len(classes), "softmax"
    plan = data.plan
    if plan is not None and plan.missing and args.impute == "none":
        numeric = [n for n in plan.missing if plan.names.index(n) not in plan.categorical]
        if numeric:
            raise DataError(
                f"{source}: columns {numeric[:20]} have missing cells, which --impute none "
                "leaves in; fill them in, or choose --impute mean, median or most_frequent"
            )

    X_train, X_test, y_train, y_test = train_test_split(X, targets, args.test_size, seed=args.seed)
    scale = not args.no_scale
    # The preprocessing is the model's own first layers (and, for a regression, its last):
    # they learn from the training part of the data when fit starts.
    layers = preprocessing_layers(plan, args.impute, scale)
    layers += build_layers(args.layers, args.activation)
    layers.append(nnkit.Dense(units, activation=output))
    if classes is None and scale:
        layers.append(nnkit.layer("rescale_output"))
    network = nnkit.Network(
        layers,
        loss=loss,
        optimizer=nnkit.optimizer(args.optimizer, learning_rate=args.learning_rate),
        seed=args.seed,
    )
    network.metadata = {
        "features": data.features,
        "target": data.target,
        "classes": classes,
        "task": "regression" if classes is None else "classification",
    }
    if plan is not None:
        network.metadata["categorical"] = [plan.names[i] for i in plan.categorical]
        network.metadata["dropped"] = list(args.drop)
    callbacks, validation_split = [], args.validation_split
    if args.early_stopping is not None:
        callbacks.append(nnkit.callback("early_stopping", patience=args.early_stopping))
        validation_split = validation_split or EARLY_STOPPING_VALIDATION
    if not args.quiet:
        kind = f"{len(classes)} classes" if classes is not None else "a numeric target"
        shape = f"{X.shape[1]} features" if X.ndim == 2 else f"samples of shape {X.shape[1:]}"
        scaled = "; features standardised" if scale and plan is None else ""
        print(
            f"data: {source}, {len(X_train)} training and {len(X_test)} test samples, "
            f"{shape}, {kind}{scaled}"
        )
        if plan is not None:
            for line in plan.describe(args.impute, scale, args.drop):
                print(line)
    started = time.perf_counter()
    history = _fit(
        network,
        args,
        X=X_train,
        y=y_train,
        epochs=args.epochs,
        batch_size=args.batch_size,
        validation_split=validation_split,
        callbacks=callbacks,
        verbose=0 if args.quiet else 1,
    )
    seconds = time.perf_counter() - started
    if args.early_stopping is not None and not args.quiet:
        stopper = cast(_EarlyStoppingReport, callbacks[0])  # appended first, above
        if stopper.stopped_epoch:
            print(
                f"early stopping: stopped at epoch {stopper.stopped_epoch}, kept the weights "
                f"of epoch {stopper.best_epoch}"
            )
    scores = network.evaluate(X_test, y_test)  # in the target's units: the model's own
    print(
        ", ".join(f"test {name}: {value:.4f}" for name, value in scores.items())
        + f" (trained {len(history)} epoch{'s' * (len(history) != 1)} in {seconds:.2f} s)"
    )
    if args.save:
        network.save(args.save)
        if not args.quiet:
            print(f"saved the model to {args.save}")
    if args.plot:
        history.plot(args.plot, title=f"{source}: {data.target}")
        if not args.quiet:
            print(f"drew the training curves to {args.plot}")
    return 0
