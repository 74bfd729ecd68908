"""The ``nnkit`` command: train a network and inspect the installed plugins from the shell."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Final

import nnkit
from nnkit.data import train_test_split
from nnkit.errors import NNKitError
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
#: Share of the data held out to measure the final accuracy on.
DEFAULT_TEST_SIZE: Final = 0.25


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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``nnkit`` command and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="nnkit",
        description="Train small neural networks on NumPy; every component is a plugin.",
        epilog="Run 'nnkit COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"nnkit {nnkit.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train = commands.add_parser(
        "train",
        help="train a network (by default on the bundled digits)",
        description="Train a network and report its accuracy on a held-out quarter of the data.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "examples:\n"
            "  nnkit train\n"
            "  nnkit train --layers 128,64 --epochs 50 --optimizer sgd --learning-rate 0.1\n"
        ),
    )
    train.add_argument(
        "--layers",
        type=_layer_sizes,
        default=list(DEFAULT_LAYERS),
        help="hidden layer sizes, comma-separated (default: 64)",
    )
    train.add_argument(
        "--activation",
        default=DEFAULT_ACTIVATION,
        help="activation of the hidden layers (default: relu)",
    )
    train.add_argument("--optimizer", default=DEFAULT_OPTIMIZER, help="optimizer (default: adam)")
    train.add_argument(
        "--learning-rate",
        type=float,
        default=DEFAULT_LEARNING_RATE,
        help="learning rate (default: 0.001)",
    )
    train.add_argument(
        "--epochs",
        type=int,
        default=DEFAULT_EPOCHS,
        help="passes over the training data (default: 50)",
    )
    train.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH_SIZE,
        help="samples per gradient step (default: 32)",
    )
    train.add_argument(
        "--validation-split",
        type=float,
        default=0.0,
        help="fraction of the training data to validate on after each epoch",
    )
    train.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    train.add_argument("--quiet", action="store_true", help="print only the final metrics")

    plugins = commands.add_parser(
        "plugins",
        help="list every registered component and the package that supplied it",
        description="List every registered component by kind, with the distribution and "
        "version that supplied it, and any plugin that failed to load.",
    )
    plugins.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser


def train_command(args: argparse.Namespace) -> int:
    """``nnkit train``: fit the network and print the held-out metrics."""
    X, y = nnkit.datasets.load_digits()
    n_classes = int(y.max()) + 1
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=DEFAULT_TEST_SIZE, seed=args.seed
    )
    layers = [nnkit.Dense(size, activation=args.activation) for size in args.layers]
    layers.append(nnkit.Dense(n_classes, activation="softmax"))
    network = nnkit.Network(
        layers,
        loss="cross_entropy",
        optimizer=nnkit.optimizer(args.optimizer, learning_rate=args.learning_rate),
        seed=args.seed,
    )
    if not args.quiet:
        print(
            f"data: bundled digits, {len(X_train)} training and {len(X_test)} test samples, "
            f"{X.shape[1]} features, {n_classes} classes"
        )
    started = time.perf_counter()
    network.fit(
        X_train,
        y_train,
        epochs=args.epochs,
        batch_size=args.batch_size,
        validation_split=args.validation_split,
        verbose=0 if args.quiet else 1,
    )
    seconds = time.perf_counter() - started
    scores = network.evaluate(X_test, y_test)
    summary = ", ".join(f"test {name}: {value:.4f}" for name, value in scores.items())
    print(f"{summary} (trained in {seconds:.2f} s)")
    return 0


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


COMMANDS: Final = {"train": train_command, "plugins": plugins_command}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``nnkit`` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (NNKitError, ValueError, KeyError, OSError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"nnkit: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("nnkit: interrupted", file=sys.stderr)
        return 130
