"""Draw the pictures the docs show, from real runs: ``python docs/figures.py``.

Needs the plot extra (``pip install -e ".[plot]"``). Each picture is written to
``docs/images/``; rerun this after changing what they show.
"""

from __future__ import annotations

from pathlib import Path

import nnkit
from nnkit.data import train_test_split

IMAGES = Path(__file__).parent / "images"


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


def architecture() -> None:
    """The core, the entry-point door, and the plugins that come through it."""
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    figure = Figure(figsize=(9, 4.6))
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(0, 9)
    axes.set_ylim(0, 4.6)
    axes.axis("off")

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


if __name__ == "__main__":
    IMAGES.mkdir(exist_ok=True)
    training_curves()
    misclassified_digits()
    architecture()
