"""How augmentation changes the digits CNN's test accuracy when it learns from 10% of the
training set: the same network and seeds, with and without random shifts and noise.

    OPENBLAS_NUM_THREADS=1 python plugins/nnkit-vision/benchmarks/augmentation.py
"""

from __future__ import annotations

import numpy as np

import nnkit
from nnkit.data.split import train_test_split


def cnn(augment: bool, seed: int) -> nnkit.Network:
    front = [nnkit.layer("random_crop", padding=1), nnkit.layer("random_noise", stddev=0.1)]
    return nnkit.Network(
        [*(front if augment else []),
         nnkit.layer("conv2d", filters=16, kernel_size=3, padding="same", activation="relu"),
         nnkit.layer("max_pool2d", pool_size=2), nnkit.layer("flatten"),
         nnkit.Dense(64, activation="relu"), nnkit.Dense(10, activation="softmax")],
        loss="cross_entropy", optimizer=nnkit.optimizer("adam", learning_rate=3e-3), seed=seed)


def main() -> None:
    X, y = nnkit.datasets.load_digits()
    images = X.reshape(-1, 1, 8, 8)
    X_train, X_test, y_train, y_test = train_test_split(images, y, test_size=0.25, seed=0)
    few = len(X_train) // 10
    for augment in (False, True):
        scores = []
        for seed in range(5):
            net = cnn(augment, seed)
            net.fit(X_train[:few], y_train[:few], epochs=60, batch_size=16, verbose=0)
            scores.append(net.evaluate(X_test, y_test)["accuracy"])
        print(f"augmentation={augment!s:5}  {few} training images  test accuracy "
              f"{np.mean(scores):.3f} (seeds 0-4: {', '.join(f'{s:.3f}' for s in scores)})")


if __name__ == "__main__":
    main()
