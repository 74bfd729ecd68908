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


if __name__ == "__main__":
    IMAGES.mkdir(exist_ok=True)
    training_curves()
