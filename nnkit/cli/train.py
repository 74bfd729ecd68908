"""``nnkit train``: fit a network on the bundled digits or the user's own data file."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any, Final

import numpy as np

import nnkit
from nnkit.data import train_test_split
from nnkit.datafiles import read_data_file
from nnkit.errors import DataError, MissingExtraError

__all__ = ["train_command"]

#: Validation share used by ``--early-stopping`` when ``--validation-split`` is not given.
EARLY_STOPPING_VALIDATION: Final = 0.1


def _encode_targets(y: np.ndarray, loss: Any) -> tuple[np.ndarray, list[Any] | None]:
    """Targets for the loss, and the class names when classifying."""
    if not loss.accepts_class_labels:
        if y.dtype.kind not in "fiu":
            raise DataError(
                f"the target holds class names ({y[0]!r}, ...) but {type(loss).__name__} "
                "needs numbers; use --loss cross_entropy"
            )
        return y.astype(np.float64), None
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


def train_command(args: argparse.Namespace) -> int:
    """``nnkit train``: fit a network and print the held-out metrics."""
    for option, target in (("--save", args.save), ("--plot", args.plot)):
        folder = Path(target).parent if target else None
        if folder is not None and not folder.is_dir():  # now, not after the training
            raise DataError(f"{option} {target}: folder {folder} does not exist")
    if args.plot and not _can_plot():  # say so now rather than after a long training
        raise MissingExtraError(
            f'--plot needs matplotlib, an optional extra: pip install "nnkit[plot]" (or drop '
            f"--plot {args.plot})"
        )
    if args.data is None:
        if args.target is not None:
            raise DataError("--target needs --data: the bundled digits have their own target")
        X, y = nnkit.datasets.load_digits()
        feature_names = [f"pixel_{i}" for i in range(X.shape[1])]
        target, source = "digit", "bundled digits"
    else:
        is_npz = Path(args.data).suffix.lower() == ".npz"
        if args.target is None and not is_npz:
            raise DataError(f"{args.data}: name the column to predict with --target")
        data = read_data_file(args.data, args.target)
        if data.y is None:
            raise DataError(f"{args.data} has no array 'y' of targets")
        X, y, feature_names, target, source = (
            data.X,
            data.y,
            data.feature_names,
            data.target,
            args.data,
        )
    loss = nnkit.loss(args.loss or _default_loss(y))
    targets, classes = _encode_targets(y, loss)
    if classes is not None and len(classes) < 2:
        raise DataError(
            f"{source}: the target has a single class ({classes[0]!r}); need two or more"
        )
    if classes is None:
        units, output = 1, "identity"
    elif type(loss).fused_activation == "sigmoid":
        if len(classes) != 2:
            raise DataError(f"{args.loss} needs two classes; the target has {len(classes)}")
        units, output = 1, "sigmoid"
    else:
        units, output = len(classes), "softmax"

    X_train, X_test, y_train, y_test = train_test_split(X, targets, args.test_size, seed=args.seed)
    layers = [nnkit.Dense(size, activation=args.activation) for size in args.layers]
    layers.append(nnkit.Dense(units, activation=output))
    network = nnkit.Network(
        layers,
        loss=loss,
        optimizer=nnkit.optimizer(args.optimizer, learning_rate=args.learning_rate),
        seed=args.seed,
    )
    network.metadata = {
        "features": feature_names,
        "target": target,
        "classes": classes,
        "task": "regression" if classes is None else "classification",
    }
    callbacks, validation_split = [], args.validation_split
    if args.early_stopping is not None:
        callbacks.append(nnkit.callback("early_stopping", patience=args.early_stopping))
        validation_split = validation_split or EARLY_STOPPING_VALIDATION
    if not args.quiet:
        kind = f"{len(classes)} classes" if classes is not None else "a numeric target"
        print(
            f"data: {source}, {len(X_train)} training and {len(X_test)} test samples, "
            f"{X.shape[1]} features, {kind}"
        )
    started = time.perf_counter()
    history = network.fit(
        X_train,
        y_train,
        epochs=args.epochs,
        batch_size=args.batch_size,
        validation_split=validation_split,
        callbacks=callbacks,
        verbose=0 if args.quiet else 1,
    )
    seconds = time.perf_counter() - started
    if args.early_stopping is not None and not args.quiet:
        stopper = callbacks[0]
        if stopper.stopped_epoch:
            print(
                f"early stopping: stopped at epoch {stopper.stopped_epoch}, kept the weights "
                f"of epoch {stopper.best_epoch}"
            )
    scores = network.evaluate(X_test, y_test)
    print(
        ", ".join(f"test {name}: {value:.4f}" for name, value in scores.items())
        + f" (trained {len(history)} epoch{'s' * (len(history) != 1)} in {seconds:.2f} s)"
    )
    if args.save:
        network.save(args.save)
        if not args.quiet:
            print(f"saved the model to {args.save}")
    if args.plot:
        history.plot(args.plot, title=f"{source}: {target}")
        if not args.quiet:
            print(f"drew the training curves to {args.plot}")
    return 0
