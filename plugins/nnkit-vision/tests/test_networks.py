"""The layers in networks: bad shapes refused at build, a CNN that learns the digits,
model files, threads."""

from __future__ import annotations

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from wiring import digits_cnn

import nnkit
from nnkit.data.split import train_test_split

layer = nnkit.layer


@pytest.mark.parametrize(
    ("layers", "sample_shape", "message"),
    [
        (
            [layer("conv2d", filters=4, kernel_size=3), layer("flatten"), nnkit.Dense(2)],
            (64,),
            "layer 1 (conv2d (nnkit-vision 0.1.0)) cannot take samples of shape (64,): conv2d "
            "takes images (channels, height, width), got samples of shape (64,); reshape them, "
            "e.g. reshape((1, 8, 8))",
        ),
        (
            [layer("flatten"), layer("conv2d", filters=4, kernel_size=3)],
            (1, 8, 8),
            "layer 2 (conv2d (nnkit-vision 0.1.0)) cannot take samples of shape (64,): conv2d "
            "takes images",
        ),
        (
            [layer("conv2d", filters=4, kernel_size=5), layer("flatten"), nnkit.Dense(2)],
            (1, 3, 3),
            "layer 1 (conv2d (nnkit-vision 0.1.0)) cannot take samples of shape (1, 3, 3): "
            "conv2d's 5x5 kernel is larger than its 3x3 input images; use a smaller "
            "kernel_size, or padding='same'",
        ),
        (
            [layer("conv2d", filters=4, kernel_size=3, padding="same"),
             layer("max_pool2d", pool_size=4), layer("flatten"), nnkit.Dense(2)],
            (1, 3, 3),
            "layer 2 (max_pool2d (nnkit-vision 0.1.0)) cannot take samples of shape (4, 3, 3): "
            "max_pool2d's 4x4 pool is larger than its 3x3 input images; use a smaller "
            "pool_size, or larger images",
        ),
        (
            [layer("avg_pool2d", pool_size=(1, 3)), layer("flatten")],
            (2, 5, 2),
            "avg_pool2d's 1x3 pool is larger than its 5x2 input images",
        ),
        (
            [layer("global_avg_pool2d"), nnkit.Dense(2)],
            (8, 8),
            "global_avg_pool2d takes images (channels, height, width), got samples of shape "
            "(8, 8); reshape them, e.g. reshape((1, 8, 8))",
        ),
        (
            [layer("conv2d", filters=4, kernel_size=3), layer("flatten")],
            (30,),
            "got samples of shape (30,); reshape them, e.g. reshape((channels, height, width))",
        ),
    ],
    ids=["flat", "flatten-then-conv2d", "kernel", "pool", "oblong-pool", "grey", "no-square"],
)
def test_shapes_a_layer_cannot_take_fail_at_build_naming_it(layers, sample_shape, message):
    with pytest.raises(nnkit.ConfigurationError) as raised:
        nnkit.Network(layers).build(sample_shape)
    assert message in str(raised.value)


def test_flat_data_is_refused_before_anything_trains():
    net = nnkit.Network([layer("conv2d", filters=4, kernel_size=3), layer("flatten"),
                         nnkit.Dense(2)], loss="cross_entropy")
    with pytest.raises(nnkit.ConfigurationError, match="reshape them, e.g. reshape"):
        net.fit(np.zeros((10, 64)), np.zeros(10, dtype=int), verbose=0)
    assert not net.built


@pytest.fixture
def one_blas_thread():
    """The CNN's matrix products are small: on a busy machine, BLAS threads would spend
    more time waiting for each other than computing (threadpoolctl comes with
    scikit-learn; without it, the test runs with the default threads)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        limits = contextlib.nullcontext()
    else:
        limits = threadpool_limits(1)
    with limits:
        yield


def test_a_cnn_learns_the_digits_as_images(tmp_path, one_blas_thread):
    X, y = nnkit.datasets.load_digits()
    images = X.reshape(-1, 1, 8, 8) / 16  # 1 channel of 8x8 pixels, values 0..1
    X_train, X_test, y_train, y_test = train_test_split(images, y, test_size=0.25, seed=0)
    net = digits_cnn()
    net.fit(X_train, y_train, epochs=12, batch_size=32, verbose=0)
    assert net.evaluate(X_test, y_test)["accuracy"] >= 0.98
    assert net.predict(X_test).dtype == np.float32
    net.save(tmp_path / "digits-cnn.nnkit")
    loaded = nnkit.load(tmp_path / "digits-cnn.nnkit")
    assert loaded.input_shape == (1, 8, 8)
    assert np.array_equal(loaded.predict(X_test), net.predict(X_test))


def every_layer_network():
    return nnkit.Network(
        [
            layer("conv2d", filters=4, kernel_size=3, padding="same", activation="relu"),
            layer("max_pool2d", pool_size=2),
            layer("conv2d", filters=5, kernel_size=(2, 3), stride=(1, 2), activation="tanh",
                  l2=1e-3),
            layer("avg_pool2d", pool_size=2, stride=1),
            layer("global_avg_pool2d"),
            nnkit.Dense(3, activation="softmax"),
        ],
        loss="cross_entropy",
        optimizer="adam",
        seed=1,
    )


def test_every_layer_saves_and_loads_with_the_model(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 2, 9, 11)), rng.integers(0, 3, size=40)
    net = every_layer_network()
    net.fit(X, y, epochs=2, batch_size=8, verbose=0)
    net.save(tmp_path / "cnn.nnkit")
    loaded = nnkit.load(tmp_path / "cnn.nnkit")
    assert [type(a).__name__ for a in loaded.layers] == [type(a).__name__ for a in net.layers]
    assert loaded.layers[2].kernel_size == (2, 3) and loaded.layers[2].stride == (1, 2)
    assert loaded.layers[3].stride == (1, 1)
    assert np.array_equal(loaded.predict(X), net.predict(X))
    loaded.fit(X, y, epochs=1, batch_size=8, shuffle=False, verbose=0)  # training resumes
    net.fit(X, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    assert np.array_equal(loaded.predict(X), net.predict(X))


def test_threads_sharing_a_cnn_get_exactly_their_serial_answers():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 2, 9, 11))
    net = every_layer_network()
    net.fit(X, rng.integers(0, 3, size=60), epochs=1, verbose=0)
    sizes = [1, 7, 60, 3, 25] * 8
    serial = [net.predict(X[:n], batch_size=16) for n in sizes]
    with ThreadPoolExecutor(8) as pool:
        threaded = list(pool.map(lambda n: net.predict(X[:n], batch_size=16), sizes))
    assert all(np.array_equal(a, b) for a, b in zip(serial, threaded))


def test_a_cnn_trains_on_the_digits_from_the_command_line(tmp_path):
    """The digits as 1x8x8 images in an .npz file, a CNN spelt in --layers, saved,
    loaded and predicted from the shell."""
    import subprocess
    import sys

    X, y = nnkit.datasets.load_digits()
    np.savez(tmp_path / "digits.npz", X=X.reshape(-1, 1, 8, 8), y=y)
    model = tmp_path / "cnn.nnkit"
    environ = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}

    def nnkit_command(*args):
        return subprocess.run(
            [sys.executable, "-m", "nnkit", *args], capture_output=True, text=True,
            env=environ, timeout=600,
        )

    trained = nnkit_command(
        "train", "--data", str(tmp_path / "digits.npz"), "--quiet", "--epochs", "10",
        "--layers", "conv2d:16:3:padding=same,max_pool2d:2,flatten,dense:64",
        "--save", str(model),
    )
    assert trained.returncode == 0, trained.stderr
    accuracy = float(trained.stdout.split("test accuracy:")[1].split()[0])
    assert accuracy >= 0.95, trained.stdout
    loaded = nnkit.load(model)
    # The standardisation nnkit train chose is the model's own first layer.
    names = [type(layer).__name__ for layer in loaded.layers]
    assert names[:3] == ["Standardize", "Conv2D", "MaxPool2D"]
    predicted = nnkit_command("predict", str(model), str(tmp_path / "digits.npz"))
    assert predicted.returncode == 0, predicted.stderr
    classes = np.array([int(v) for v in predicted.stdout.splitlines()[1:]])
    assert np.mean(classes == y) >= 0.95
