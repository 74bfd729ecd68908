"""The argument parser of the ``nnkit`` command: every command, option, default and example."""

from __future__ import annotations

import argparse
import textwrap
from typing import Any, Final

import nnkit
from nnkit.cli.layer_specs import FIRST_PARTY_LAYERS, parse_layers
from nnkit.cli.table_columns import IMPUTE_CHOICES

__all__ = ["build_parser"]

#: The hidden layers ``nnkit train`` builds when not told otherwise.
DEFAULT_LAYERS: Final = "64"
DEFAULT_ACTIVATION: Final = "relu"
DEFAULT_OPTIMIZER: Final = "adam"
#: Adam's usual 0.001 leaves a small CSV such as iris (112 training rows, 4 batches an
#: epoch) short of its accuracy after the default 50 epochs; 0.003 reaches it there and
#: does as well on the digits.
DEFAULT_LEARNING_RATE: Final = 3e-3
DEFAULT_EPOCHS: Final = 50
DEFAULT_BATCH_SIZE: Final = 32
#: Share of the data held out to measure the final metrics on.
DEFAULT_TEST_SIZE: Final = 0.25
#: Epochs without improvement that ``--early-stopping`` waits, when given no number.
DEFAULT_PATIENCE: Final = 5

#: Columns the raw (not re-wrapped) parts of the help are filled to.
HELP_WIDTH: Final = 88
DEBUG_HELP: Final = "on an error, print the full traceback instead of one line"



def _first_party_layers() -> str:
    """The help's lines on the layers of nnkit's separately installed plugins."""
    by_distribution: dict[str, list[str]] = {}
    for name, source in FIRST_PARTY_LAYERS.items():
        by_distribution.setdefault(source, []).append(name)
    lines = ["layers of nnkit's plugins installed separately:"]
    for source, names in by_distribution.items():
        lines += [f"  {', '.join(names)}", f"    pip install ./{source}"]
    return "\n".join(lines) + "\n"


EXAMPLES: Final = {
    "train": """examples:
  nnkit train                                   # the bundled digits, default network
  nnkit train --layers 128,64 --epochs 100 --early-stopping --save digits.nnkit
  nnkit train --data iris.csv --target species --save iris.nnkit --plot curves.png
  nnkit train --data houses.csv --target price --loss mse --activation tanh
  nnkit train --layers reshape:1x8x8,conv2d:16:3,max_pool2d:2,flatten,dense:64

layers (--layers), comma-separated:
  64                       a dense layer of 64 units
  NAME:ARG:KEY=VALUE       a registered layer (nnkit plugins lists them), positional
                           arguments in the order of its parameters, then keywords
  reshape:1x8x8            a shape is written with x: the flat digits (64 columns) as
                           one-channel 8x8 images, which conv2d takes
""" + _first_party_layers(),
    "evaluate": """examples:
  nnkit evaluate iris.nnkit iris.csv
  nnkit evaluate digits.nnkit test.npz
""",
    "predict": """examples:
  nnkit predict iris.nnkit new_flowers.csv              # class names, to the screen
  nnkit predict iris.nnkit new_flowers.csv --proba -o probabilities.csv
  nnkit predict houses.nnkit new_houses.tsv -o prices.csv    # tab-separated
""",
    "summary": """examples:
  nnkit summary iris.nnkit
""",
    "export": """examples:
  nnkit export iris.nnkit -o iris.onnx
""",
    "plugins": """examples:
  nnkit plugins
  nnkit plugins --json
  NNKIT_DISABLE_PLUGINS=acme-nn nnkit plugins
""",
}


def _command(commands: Any, name: str, help: str, description: str) -> argparse.ArgumentParser:
    command = commands.add_parser(
        name,
        help=help,
        description=textwrap.fill(description, HELP_WIDTH),
        epilog=EXAMPLES[name],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # SUPPRESS: an absent --debug after the command keeps one given before it.
    command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
    return command


def _delimiter_option(parser: argparse._ActionsContainer) -> None:
    # A parser or an argument group: argparse's common base of the two is private.
    parser.add_argument(
        "--delimiter",
        metavar="CHAR",
        help="CSV cell delimiter (default: a tab for .tsv files, else a comma)",
    )


def _table_options(group: argparse._ActionsContainer) -> None:
    """``nnkit train``'s options for a CSV table's columns and missing cells."""
    group.add_argument(
        "--drop",
        action="append",
        default=[],
        metavar="COLUMN",
        help="leave this column out (repeat for more); predict leaves it out too",
    )
    group.add_argument(
        "--categorical",
        action="append",
        default=[],
        metavar="COLUMN",
        help="read this column as categories even if its cells are numbers (repeat for "
        "more); columns of text are categories anyway",
    )
    group.add_argument(
        "--impute",
        choices=IMPUTE_CHOICES,
        default="mean",
        metavar="STRATEGY",
        help="fill missing cells (empty, NA) of numeric columns with the training data's "
        "mean, median or most_frequent value, with a missing-indicator column each; or "
        "none (default: mean)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``nnkit`` command and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="nnkit",
        description="Train small neural networks on NumPy; every component is a plugin.",
        epilog="Run 'nnkit COMMAND --help' for a command's options and examples.",
    )
    parser.add_argument("--version", action="version", version=f"nnkit {nnkit.__version__}")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
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
        "--data",
        metavar="FILE",
        help="CSV (or .tsv) with a header row, or .npz with arrays X (any rank) and y",
    )
    data.add_argument("--target", metavar="COLUMN", help="the CSV column to predict")
    _delimiter_option(data)
    data.add_argument(
        "--test-size",
        type=float,
        default=DEFAULT_TEST_SIZE,
        metavar="FRACTION",
        help="share of the data held out for the final metrics (default: 0.25)",
    )
    data.add_argument(
        "--no-scale",
        action="store_true",
        help="keep features (and a numeric target) as they are; by default each is "
        "standardised to mean 0 and variance 1 on the training data by layers the "
        "model holds, and predictions come back in the target's units",
    )
    _table_options(data)
    model = train.add_argument_group("network")
    model.add_argument(
        "--layers",
        type=parse_layers,
        default=parse_layers(DEFAULT_LAYERS),
        metavar="LAYERS",
        help="hidden layers, comma-separated: dense sizes (64,32) or registered layers "
        "as NAME:ARG:KEY=VALUE, such as reshape:1x8x8,conv2d:16:3,flatten,dense:64 "
        "(default: 64; see 'layers' below)",
    )
    model.add_argument(
        "--activation",
        default=DEFAULT_ACTIVATION,
        help="activation of the hidden layers that take one and are given none (default: relu)",
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
        help=f"learning rate (default: {DEFAULT_LEARNING_RATE:g})",
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
        "epochs (default 5) and keep the best weights; validates on 10%% of the "
        "training data unless --validation-split says otherwise",
    )
    fitting.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    fitting.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="BLAS threads while training, often fastest at 1 for small networks on a "
        "busy machine (needs threadpoolctl; default: what the BLAS library chooses)",
    )
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
    _delimiter_option(evaluate)

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
    _delimiter_option(predict)

    summary = _command(
        commands,
        "summary",
        "describe a saved model",
        "Print a saved model's layers, parameters, components and data.",
    )
    summary.add_argument("model", metavar="MODEL", help="a model file")

    export = _command(
        commands,
        "export",
        "export a saved model to ONNX",
        "Write a saved model as an ONNX model, with the scaling nnkit train saved in it: "
        "its input X takes the raw features, its output Y is what predict --proba gives "
        "for a classifier and the target's own units for a regression (needs the onnx "
        "extra).",
    )
    export.add_argument("model", metavar="MODEL", help="a model saved by nnkit train --save")
    export.add_argument(
        "-o", "--output", metavar="ONNX", required=True, help="the .onnx file to write"
    )
    export.add_argument(
        "--opset",
        type=int,
        default=17,
        metavar="N",
        help="the ONNX operator set, 13 to 21, the ones the exporter is tested with (default 17)",
    )

    plugins = _command(
        commands,
        "plugins",
        "list every registered component and who supplied it",
        "List every registered component by kind, with the distribution and version that "
        "supplied it, and any plugin that failed to load or was disabled.",
    )
    plugins.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser
