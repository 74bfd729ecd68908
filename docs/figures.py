"""Draw the pictures the docs show, from real runs: ``python docs/figures.py``.

Needs the plot extra (``pip install -e ".[plot]"``). Each picture is written to
``docs/images/``; rerun this after changing what they show, or name the ones to redraw:
``python docs/figures.py ratio_bars regression_curve``. Every run is seeded, so the same
code and data draw the same pictures.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nnkit
from nnkit.data.split import train_test_split

DOCS = Path(__file__).parent
IMAGES = DOCS / "images"
#: The ratios the performance page's chart shows, as the benchmark printed them.
RATIOS = DOCS / "data" / "ratios.json"


def training_curves() -> None:
    """The digits network trained with early stopping and a cosine schedule."""
    X, y = nnkit.datasets.load_digits()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, seed=0)
    net = nnkit.Network(
        [
            nnkit.Dense(64, activation="relu"),
            nnkit.layer("dropout", rate=0.2),
            nnkit.Dense(10, activation="softmax"),
        ],
        loss="cross_entropy",
        optimizer=nnkit.optimizer("adam", learning_rate=3e-3),
        seed=0,
    )
    history = net.fit(
        X_train,
        y_train,
        epochs=60,
        validation_split=0.2,
        verbose=0,
        callbacks=[
            nnkit.callback("early_stopping", monitor="val_loss", patience=8),
            nnkit.callback("lr_schedule", schedule="cosine"),
        ],
    )
    history.plot(IMAGES / "training-curves.png", title="digits: 64-64-10, dropout 0.2, Adam")


def misclassified_digits() -> None:
    """The test digits the tutorial's network misreads, with truth and answer."""
    import numpy as np
    from matplotlib.figure import Figure

    X, y = nnkit.datasets.load_digits()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, seed=0)
    net = nnkit.Network(
        [nnkit.Dense(64, activation="relu"), nnkit.Dense(10, activation="softmax")],
        loss="cross_entropy",
        optimizer="adam",
        seed=0,
    )
    net.fit(X_train, y_train, epochs=50, batch_size=32, verbose=0)
    predicted = net.predict(X_test).argmax(axis=1)
    wrong = np.flatnonzero(predicted != y_test)
    columns = 7
    rows = -(-len(wrong) // columns)
    figure = Figure(figsize=(columns * 1.1, rows * 1.35), layout="constrained")
    for position, index in enumerate(wrong):
        axes = figure.add_subplot(rows, columns, position + 1)
        axes.imshow(X_test[index].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        axes.set_title(f"{y_test[index]} read as {predicted[index]}", fontsize=9)
        axes.set_xticks([])
        axes.set_yticks([])
    figure.savefig(IMAGES / "misclassified-digits.png", dpi=110)


def autoencoder_digits() -> None:
    """Test digits above their reconstructions by the images page's autoencoder: the
    page's own code block, run as it stands, so the picture shows what the page trains."""
    import re

    import numpy as np
    from matplotlib.figure import Figure

    from nnkit.registry.registry import default_registry

    if not default_registry().has("layer", "conv2d"):
        raise SystemExit("the autoencoder needs nnkit-vision: pip install ./plugins/nnkit-vision")
    page = (DOCS / "vision.md").read_text()
    blocks = re.findall(r"^```python\n(.*?)^```", page, re.M | re.S)
    (code,) = [block for block in blocks if "autoencoder = nnkit.Network(" in block]
    namespace: dict = {"__name__": "__docs__"}
    exec(compile(code, "vision.md", "exec"), namespace)
    # The first test digit of each class, split as the page splits them.
    _, _, _, y_test = train_test_split(namespace["X"], namespace["y"], seed=0)
    shown = namespace["X_test"][[int(np.argmax(y_test == digit)) for digit in range(10)]]
    reconstructed = namespace["autoencoder"].predict(shown).reshape(-1, 8, 8)
    columns = len(shown)
    figure = Figure(figsize=(columns * 0.8, 1.9), layout="constrained")
    for row, (name, pictures) in enumerate((("input", shown[:, 0]), ("output", reconstructed))):
        for column, picture in enumerate(pictures):
            axes = figure.add_subplot(2, columns, row * columns + column + 1)
            axes.imshow(picture, cmap="gray_r", vmin=0, vmax=1)
            axes.set_xticks([])
            axes.set_yticks([])
            if column == 0:
                axes.set_ylabel(name, fontsize=8)
    figure.savefig(IMAGES / "autoencoder-digits.png", dpi=110)


def _diagram_canvas(width: float, height: float):
    """A blank figure of ``width`` x ``height`` inches whose axes count in inches, for the
    boxes and arrows of a diagram."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height))
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(0, width)
    axes.set_ylim(0, height)
    axes.axis("off")
    return figure, axes


def architecture() -> None:
    """The core, the entry-point door, and the plugins that come through it."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    figure, axes = _diagram_canvas(9, 4.6)

    def box(x, y, w, h, title, lines, colour):
        axes.add_patch(
            FancyBboxPatch(
                (x, y),
                w,
                h,
                boxstyle="round,pad=0.02,rounding_size=0.08",
                facecolor=colour,
                edgecolor="#37474f",
                linewidth=1.2,
            )
        )
        axes.text(
            x + w / 2,
            y + h - 0.22,
            title,
            ha="center",
            va="top",
            fontsize=11,
            fontweight="bold",
            color="#263238",
        )
        axes.text(
            x + w / 2,
            y + h - 0.55,
            "\n".join(lines),
            ha="center",
            va="top",
            fontsize=8.5,
            color="#37474f",
            linespacing=1.4,
        )

    box(
        0.2,
        0.25,
        4.0,
        4.1,
        "nnkit (the core)",
        [
            "interfaces: Activation, Layer, Loss,",
            "Optimizer, Initializer, Metric, Callback",
            "",
            "Network: evaluate, back-propagate, update",
            "fit: batches, epochs, callbacks, History",
            "model files, command line, nnkit.testing",
            "",
            "registry: name -> component,",
            "with the distribution that supplied it",
        ],
        "#e8eaf6",
    )
    axes.text(
        2.2,
        1.15,
        "The core imports no plugin: every name given as a\nstring "
        '("relu", "adam") is looked up in the registry.',
        ha="center",
        va="top",
        fontsize=8.5,
        style="italic",
        color="#37474f",
        linespacing=1.4,
    )
    box(
        5.3,
        3.05,
        3.5,
        1.3,
        "nnkit_std",
        [
            "sigmoid, relu, tanh, softmax, ...",
            "sgd, adam, cross_entropy, dense, ...",
        ],
        "#e0f2f1",
    )
    box(
        5.3,
        1.65,
        3.5,
        1.2,
        "nnkit-extras",
        [
            "gelu, silu, mish, lion, nadam,",
            "huber, batch_norm, ...",
        ],
        "#e0f2f1",
    )
    box(
        5.3,
        0.25,
        3.5,
        1.2,
        "your package",
        [
            "acme.softsign, acme.sign_sgd, ...",
        ],
        "#fff8e1",
    )
    for y in (3.7, 2.25, 0.85):
        axes.add_patch(
            FancyArrowPatch(
                (5.25, y),
                (4.25, y),
                arrowstyle="-|>",
                mutation_scale=14,
                color="#5c6bc0",
                linewidth=1.4,
            )
        )
    axes.text(
        4.75,
        4.45,
        'entry points\n(group "nnkit")',
        ha="center",
        va="top",
        fontsize=8.5,
        color="#3949ab",
    )
    figure.savefig(IMAGES / "architecture.png", dpi=110)


def regression_curve() -> None:
    """The tutorial's regression: the noisy sine, the network's curve and the true sine."""
    import numpy as np
    from matplotlib.figure import Figure

    # The code of the tutorial's lesson 3, unchanged.
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, size=(1000, 1))
    y = np.sin(x) + rng.normal(scale=0.05, size=x.shape)
    x_train, x_test, sin_train, sin_test = train_test_split(x, y, test_size=0.2, seed=0)
    curve = nnkit.Network(
        [nnkit.Dense(32, activation="tanh"), nnkit.Dense(32, activation="tanh"), nnkit.Dense(1)],
        loss="mse",
        optimizer=nnkit.optimizer("adam", learning_rate=0.01),
        seed=0,
    )
    curve.fit(x_train, sin_train, epochs=100, verbose=0)

    grid = np.linspace(-3, 3, 400).reshape(-1, 1)
    figure = Figure(figsize=(7, 3.6), layout="constrained")
    axes = figure.add_subplot()
    axes.scatter(x_test, sin_test, s=6, color="#9e9e9e", label="test samples (noisy)")
    axes.plot(grid, np.sin(grid), color="#43a047", linewidth=1.2, linestyle="--", label="sin x")
    axes.plot(grid, curve.predict(grid), color="#3949ab", linewidth=2, label="the network")
    axes.set_xlabel("x")
    axes.set_ylabel("y")
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left")
    figure.savefig(IMAGES / "regression-curve.png", dpi=110)


def forward_backward() -> None:
    """The evaluate and back-propagate passes through two dense layers and the loss."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    figure, axes = _diagram_canvas(9, 3.5)

    def box(x, title, lines, colour):
        axes.add_patch(
            FancyBboxPatch(
                (x, 1.15),
                1.7,
                1.2,
                boxstyle="round,pad=0.02,rounding_size=0.08",
                facecolor=colour,
                edgecolor="#37474f",
                linewidth=1.2,
            )
        )
        axes.text(x + 0.85, 2.2, title, ha="center", va="top", fontsize=10, fontweight="bold")
        axes.text(x + 0.85, 1.82, "\n".join(lines), ha="center", va="top", fontsize=8.5)

    def arrow(x0, x1, y, colour):
        axes.add_patch(
            FancyArrowPatch(
                (x0, y), (x1, y), arrowstyle="-|>", mutation_scale=13, color=colour, linewidth=1.4
            )
        )

    box(0.2, "input", ["$A^0 = X^T$", "$(n^0, m)$"], "#eceff1")
    box(2.4, "layer 1", ["$Z^1 = W^1 A^0 + b^1$", "$A^1 = g^1(Z^1)$"], "#e8eaf6")
    box(4.6, "layer 2", ["$Z^2 = W^2 A^1 + b^2$", "$A^2 = g^2(Z^2)$"], "#e8eaf6")
    box(6.8, "loss", ["$E(A^2, Y)$", "$dA^2 = (A^2 - Y)/m$"], "#fff8e1")
    forward, backward = "#3949ab", "#c62828"
    for x0, label in ((1.9, "$A^0$"), (4.1, "$A^1$"), (6.3, "$A^2$")):
        arrow(x0 + 0.02, x0 + 0.48, 2.55, forward)
        axes.text(x0 + 0.25, 2.68, label, ha="center", fontsize=9, color=forward)
    for x0, label in ((6.3, "$dA^2$"), (4.1, "$dA^1$")):
        arrow(x0 + 0.48, x0 + 0.02, 0.95, backward)
        axes.text(x0 + 0.25, 0.62, label, ha="center", fontsize=9, color=backward)
    axes.text(
        4.5,
        3.3,
        "evaluate: left to right, each layer keeps $A^{l-1}$, $Z^l$ and $A^l$ in the workspace",
        ha="center",
        va="top",
        fontsize=9.5,
        color=forward,
    )
    axes.text(
        4.5,
        0.38,
        "back-propagate: right to left, $dZ^l = dA^l \\odot g'(Z^l)$, "
        "$dW^l = dZ^l (A^{l-1})^T$, $db^l = dZ^l \\mathbf{1}$, $dA^{l-1} = (W^l)^T dZ^l$",
        ha="center",
        va="top",
        fontsize=9,
        color=backward,
    )
    figure.savefig(IMAGES / "forward-backward.png", dpi=110)


def ratio_bars() -> None:
    """nnkit's speed against scikit-learn and PyTorch, from ``docs/data/ratios.json``.

    Time ratios (W2) are drawn as speed, ``1 / ratio``, so every bar reads "times as
    fast"; a bar spans the runs' mean, and a line their range. Settings whose ratios
    are not measured yet (``null``) are named in the legend and drawn as nothing.
    """
    import numpy as np
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    data = json.loads(RATIOS.read_text())
    rows = data["comparisons"]
    labels = [f"{row['workload']}\nvs {row['against']}" for row in rows]
    settings = (
        ("all_cores", "all cores (2 threads)", "#3949ab"),
        ("one_thread", "1 thread", "#26a69a"),
    )
    missing: list = []
    figure = Figure(figsize=(8, 4.2), layout="constrained")
    axes = figure.add_subplot()
    positions = np.arange(len(rows))
    height = 0.38
    for offset, (key, name, colour) in zip((-height / 2, height / 2), settings):
        runs = [row[key] for row in rows]
        if all(r is None for r in runs):
            missing.append(
                Patch(
                    facecolor="white",
                    edgecolor=colour,
                    hatch="//",
                    label=f"{name}: not measured yet",
                )
            )
            continue
        speeds = [
            None if r is None else [1 / v if row["measure"] == "time" else v for v in r]
            for r, row in zip(runs, rows)
        ]
        shown = [(p, s) for p, s in zip(positions, speeds) if s is not None]
        means = [float(np.mean(s)) for _, s in shown]
        axes.barh([p + offset for p, _ in shown], means, height=height, color=colour, label=name)
        for p, s in shown:
            axes.plot([min(s), max(s)], [p + offset] * 2, color="#212121", linewidth=1.5)
            axes.text(max(s) + 0.05, p + offset, f"{np.mean(s):.2f}x", va="center", fontsize=8.5)
    axes.axvline(1.0, color="#616161", linewidth=1, linestyle="--")
    axes.set_yticks(positions, labels, fontsize=8.5)
    axes.invert_yaxis()
    axes.set_xlabel("times as fast as the other system (1 = as fast; line: range of the runs)")
    axes.set_xlim(0, 6)
    axes.grid(axis="x", alpha=0.3)
    handles, _ = axes.get_legend_handles_labels()
    figure.legend(handles=handles + missing, loc="outside upper center", ncols=2, fontsize=8.5)
    figure.savefig(IMAGES / "performance-ratios.png", dpi=110)


def cli_plot() -> None:
    """The picture ``nnkit train --plot`` draws in the command-line page's session: the
    page's first ``nnkit train ... --plot`` command, run where ``iris.csv`` is, drawing
    into ``docs/images`` and saving no model."""
    import os
    import re
    import shlex

    from nnkit.cli import main

    page = (DOCS / "cli.md").read_text().replace("\\\n", " ")
    command = re.search(r"^\$ nnkit (train .*--plot .*)$", page, re.M)
    if command is None:
        raise SystemExit("docs/cli.md has no 'nnkit train ... --plot' command to draw")
    arguments = shlex.split(command[1])
    for option in ("--save", "--plot"):
        if option in arguments:
            index = arguments.index(option)
            del arguments[index : index + 2]
    previous = Path.cwd()
    os.chdir(DOCS / "data")
    try:
        status = main([*arguments, "--plot", str(IMAGES / "iris-training.png")])
    finally:
        os.chdir(previous)
    if status != 0:
        raise SystemExit(f"nnkit train failed with exit code {status}")


FIGURES = {
    function.__name__: function
    for function in (
        training_curves,
        misclassified_digits,
        autoencoder_digits,
        architecture,
        regression_curve,
        forward_backward,
        ratio_bars,
        cli_plot,
    )
}


if __name__ == "__main__":
    IMAGES.mkdir(exist_ok=True)
    for name in sys.argv[1:] or FIGURES:
        FIGURES[name]()
