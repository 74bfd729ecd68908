"""The ``nnkit`` command: train, evaluate and use networks, and list plugins, from the shell.

Every command prints plain text (progress bars only on a terminal), exits 0 on success,
and on a user's mistake prints one line, ``nnkit: error: ...``, and exits 1 (2 for a
malformed command line, as argparse does).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np

import nnkit
from nnkit.data import train_test_split
from nnkit.datafiles import read_data_file
from nnkit.errors import DataError, NNKitError
from nnkit.registry import default_registry
from nnkit.tables import format_table

__all__ = ["main", "build_parser"]

#: The network ``nnkit train`` builds when not told otherwise.
DEFAULT_LAYERS: Final = (64,)
DEFAULT_ACTIVATION: Final = "relu"
DEFAULT_OPTIMIZER: Final = "adam"
DEFAULT_LEARNING_RATE: Final = 1e-3
DEFAULT_EPOCHS: Final = 50
DEFAULT_BATCH_SIZE: Final = 32
#: Share of the data held out to measure the final metrics on.
DEFAULT_TEST_SIZE: Final = 0.25
#: Epochs without improvement that ``--early-stopping`` waits, when given no number.
DEFAULT_PATIENCE: Final = 5
#: Validation share used by ``--early-stopping`` when ``--validation-split`` is not given.
EARLY_STOPPING_VALIDATION: Final = 0.1

EXAMPLES: Final = {
    "train": """examples:
  nnkit train                                   # the bundled digits, default network
  nnkit train --layers 128,64 --epochs 100 --early-stopping --save digits.nnkit
  nnkit train --data iris.csv --target species --save iris.nnkit --plot curves.png
  nnkit train --data houses.csv --target price --loss mse --activation tanh
""",
    "evaluate": """examples:
  nnkit evaluate iris.nnkit iris.csv
  nnkit evaluate digits.nnkit test.npz
""",
    "predict": """examples:
  nnkit predict iris.nnkit new_flowers.csv              # class names, to the screen
  nnkit predict iris.nnkit new_flowers.csv --proba -o probabilities.csv
""",
    "summary": """examples:
  nnkit summary iris.nnkit
""",
    "plugins": """examples:
  nnkit plugins
  nnkit plugins --json
  NNKIT_DISABLE_PLUGINS=acme-nn nnkit plugins
""",
}


def _layer_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--layers takes comma-separated positive integers such as 64,32; got {text!r}"
        ) from None
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be positive; got {text!r}")
    return sizes


def _command(commands: Any, name: str, help: str, description: str) -> argparse.ArgumentParser:
    return commands.add_parser(
        name,
        help=help,
        description=description,
        epilog=EXAMPLES[name],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``nnkit`` command and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="nnkit",
        description="Train small neural networks on NumPy; every component is a plugin.",
        epilog="Run 'nnkit COMMAND --help' for a command's options and examples.",
    )
    parser.add_argument("--version", action="version", version=f"nnkit {nnkit.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train = _command(
        commands,
        "train",
        "train a network (by default on the bundled digits)",
        "Train a network, hold out a share of the data, and report the final metrics on it. "
        "Without --data it trains on the bundled handwritten digits.",
    )
    data = train.add_argument_group("data")
    data.add_argument(
        "--data", metavar="FILE", help="CSV with a header row, or .npz with arrays X and y"
    )
    data.add_argument("--target", metavar="COLUMN", help="the CSV column to predict")
    data.add_argument(
        "--test-size",
        type=float,
        default=DEFAULT_TEST_SIZE,
        metavar="FRACTION",
        help="share of the data held out for the final metrics (default: 0.25)",
    )
    model = train.add_argument_group("network")
    model.add_argument(
        "--layers",
        type=_layer_sizes,
        default=list(DEFAULT_LAYERS),
        metavar="SIZES",
        help="hidden layer sizes, comma-separated (default: 64)",
    )
    model.add_argument(
        "--activation",
        default=DEFAULT_ACTIVATION,
        help="activation of the hidden layers (default: relu)",
    )
    model.add_argument(
        "--loss",
        help="loss; by default cross_entropy for class labels, mse for numbers with fractions",
    )
    fitting = train.add_argument_group("training")
    fitting.add_argument("--optimizer", default=DEFAULT_OPTIMIZER, help="optimizer (default: adam)")
    fitting.add_argument(
        "--learning-rate",
        type=float,
        default=DEFAULT_LEARNING_RATE,
        metavar="RATE",
        help="learning rate (default: 0.001)",
    )
    fitting.add_argument(
        "--epochs",
        type=int,
        default=DEFAULT_EPOCHS,
        help="passes over the training data (default: 50)",
    )
    fitting.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH_SIZE,
        help="samples per gradient step (default: 32)",
    )
    fitting.add_argument(
        "--validation-split",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="share of the training data to validate on after each epoch",
    )
    fitting.add_argument(
        "--early-stopping",
        type=int,
        nargs="?",
        const=DEFAULT_PATIENCE,
        metavar="PATIENCE",
        help="stop when the validation loss has not improved for PATIENCE "
        "epochs (default 5) and keep the best weights",
    )
    fitting.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    output = train.add_argument_group("output")
    output.add_argument("--save", metavar="MODEL", help="save the trained model to this file")
    output.add_argument(
        "--plot", metavar="PNG", help="draw the training curves to this file (needs matplotlib)"
    )
    output.add_argument("--quiet", action="store_true", help="print only the final metrics")

    evaluate = _command(
        commands,
        "evaluate",
        "score a saved model on labelled data",
        "Print the loss and metrics of a saved model on a data file with targets.",
    )
    evaluate.add_argument("model", metavar="MODEL", help="a model saved by nnkit train --save")
    evaluate.add_argument("data", metavar="DATA", help="CSV or .npz with the targets")
    evaluate.add_argument(
        "--target",
        metavar="COLUMN",
        help="the target column (default: the one the model was trained on)",
    )

    predict = _command(
        commands,
        "predict",
        "predict with a saved model",
        "Write the model's predictions for every row of a data file as CSV: class names "
        "for a classifier (or probabilities with --proba), values for a regression.",
    )
    predict.add_argument("model", metavar="MODEL", help="a model saved by nnkit train --save")
    predict.add_argument("data", metavar="DATA", help="CSV or .npz of features")
    predict.add_argument("-o", "--output", metavar="CSV", help="write here instead of the screen")
    predict.add_argument(
        "--proba", action="store_true", help="one probability column per class instead of the class"
    )

    summary = _command(
        commands,
        "summary",
        "describe a saved model",
        "Print a saved model's layers, parameters, components and data.",
    )
    summary.add_argument("model", metavar="MODEL", help="a model file")

    plugins = _command(
        commands,
        "plugins",
        "list every registered component and who supplied it",
        "List every registered component by kind, with the distribution and version that "
        "supplied it, and any plugin that failed to load or was disabled.",
    )
    plugins.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser


# -- train ------------------------------------------------------------------------------


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


def train_command(args: argparse.Namespace) -> int:
    """``nnkit train``: fit a network and print the held-out metrics."""
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
        + f" (trained {len(history)} epochs in {seconds:.2f} s)"
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


# -- evaluate, predict, summary ---------------------------------------------------------


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


# -- plugins ----------------------------------------------------------------------------


def plugins_command(args: argparse.Namespace) -> int:
    """``nnkit plugins``: what is registered, by kind, and from where."""
    registry = default_registry()
    rows = [
        {
            "kind": c.kind,
            "name": c.name,
            "plugin": c.plugin.name,
            "distribution": c.distribution,
            "version": c.version,
        }
        for c in registry.components()
    ]
    failures = [
        {
            "plugin": f.plugin.name,
            "distribution": f.plugin.distribution,
            "version": f.plugin.version,
            "error": f.error,
        }
        for f in registry.failures
    ]
    disabled = [p.name for p in registry.disabled]
    if args.json:
        print(json.dumps({"components": rows, "failed": failures, "disabled": disabled}, indent=2))
        return 0
    headers = ("kind", "name", "plugin", "distribution", "version")
    print(format_table(headers, [[str(row[h] or "-") for h in headers] for row in rows]))
    for failure in failures:
        print(
            f"failed to load: {failure['plugin']} ({failure['distribution']} "
            f"{failure['version']}): {failure['error']}"
        )
    if disabled:
        print(f"disabled: {', '.join(disabled)}")
    return 0


COMMANDS: Final = {
    "train": train_command,
    "evaluate": evaluate_command,
    "predict": predict_command,
    "summary": summary_command,
    "plugins": plugins_command,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``nnkit`` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        code = COMMANDS[args.command](args)
        sys.stdout.flush()  # inside the try: a closed pipe surfaces here, not at exit
        return code
    except BrokenPipeError:
        # The reader went away (``nnkit plugins | head``): stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (NNKitError, ValueError, KeyError, OSError) as error:
        message = (
            str(error)
            if not isinstance(error, FileNotFoundError)
            else (f"{error.filename}: no such file" if error.filename else str(error))
        )
        print(f"nnkit: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("nnkit: interrupted", file=sys.stderr)
        return 130
