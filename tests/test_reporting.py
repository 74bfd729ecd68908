"""What training shows: progress output, the history and its plot, the network summary."""

from __future__ import annotations

import builtins
import io

import numpy as np
import pytest

import nnkit

X, Y = nnkit.datasets.load_digits()


def network():
    return nnkit.Network(
        [nnkit.Dense(16, activation="relu"), nnkit.Dense(10, activation="softmax")],
        loss="cross_entropy",
        seed=0,
    )


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_plain_lines_when_not_a_terminal_and_silence_when_asked():
    stream = io.StringIO()
    network().fit(X[:100], Y[:100], epochs=2, stream=stream)  # verbose=1, not a terminal
    lines = stream.getvalue().splitlines()
    assert [line.split(" - ")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert "accuracy: " in lines[0]
    quiet = io.StringIO()
    network().fit(X[:100], Y[:100], epochs=2, verbose=0, stream=quiet)
    assert quiet.getvalue() == ""


def test_a_progress_bar_per_epoch_in_a_terminal():
    pytest.importorskip("tqdm", reason="the progress extra is not installed")
    stream = Terminal()
    network().fit(X[:100], Y[:100], epochs=2, batch_size=10, stream=stream)
    text = stream.getvalue()
    assert "epoch 1/2" in text and "epoch 2/2" in text
    assert "10/10" in text and "accuracy: " in text


def test_verbose_2_prints_lines_even_in_a_terminal():
    stream = Terminal()
    network().fit(X[:100], Y[:100], epochs=2, verbose=2, stream=stream)
    assert stream.getvalue().count("\n") == 2 and "\r" not in stream.getvalue()


def test_without_tqdm_a_terminal_gets_plain_lines(monkeypatch):
    real_import = builtins.__import__

    def no_tqdm(name, *args, **kwargs):
        if name.startswith("tqdm"):
            raise ImportError("No module named 'tqdm'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    stream = Terminal()
    network().fit(X[:100], Y[:100], epochs=2, stream=stream)
    assert stream.getvalue().splitlines()[1].startswith("epoch 2/2 - loss: ")


def test_verbose_must_be_0_1_or_2():
    with pytest.raises(nnkit.ConfigurationError, match="verbose must be 0, 1 or 2"):
        network().fit(X[:10], Y[:10], verbose=3)


def test_history_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib", reason="the plot extra is not installed")
    history = network().fit(X[:200], Y[:200], epochs=3, validation_split=0.2, verbose=0)
    path = tmp_path / "curves.png"
    figure = history.plot(path, title="digits")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    titles = [axes.get_title() for axes in figure.axes]
    assert titles == ["loss", "accuracy"]
    assert [line.get_label() for line in figure.axes[0].get_lines()] == ["training", "validation"]
    np.testing.assert_allclose(
        figure.axes[0].get_lines()[1].get_ydata(), history.history["val_loss"]
    )


def test_history_plot_names_the_extra_when_matplotlib_is_missing(monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    history = network().fit(X[:50], Y[:50], epochs=1, verbose=0)
    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(nnkit.MissingExtraError, match=r'pip install "nnkit-numpy\[plot\]"'):
        history.plot()


def test_summary_lists_layers_shapes_parameters_and_suppliers():
    net = nnkit.Network(
        [
            nnkit.Dense(16, activation="relu"),
            nnkit.layer("dropout", rate=0.1),
            nnkit.Dense(10, activation="softmax"),
        ],
        loss="cross_entropy",
        seed=0,
    )
    stream = io.StringIO()
    net.summary(file=stream)
    assert "not built yet" in stream.getvalue()
    net.build(64)
    stream = io.StringIO()
    net.summary(file=stream)
    lines = stream.getvalue().splitlines()
    version = nnkit.__version__
    assert lines[0].split() == ["#", "layer", "output", "shape", "params", "activation", "name"]
    assert lines[2].split() == [
        "1",
        "dense",
        "(nnkit-numpy",
        f"{version})",
        "(None,",
        "16)",
        "1,040",
        "relu",
        "(nnkit-numpy",
        f"{version})",
        "dense",
    ]
    assert lines[3].split()[:6] == ["2", "dropout", "(nnkit-numpy", f"{version})", "(None,", "16)"]
    assert "parameters: 1,210" in stream.getvalue()
    assert f"loss: cross_entropy (nnkit-numpy {version})" in stream.getvalue()


def test_summary_marks_a_users_own_unregistered_component():
    class Square(nnkit.Activation):
        def forward(self, Z):
            return Z * Z

        def derivative(self, Z):
            return 2 * Z

    net = nnkit.Network([nnkit.Dense(2, activation=Square())]).build(3)
    stream = io.StringIO()
    net.summary(file=stream)
    assert "Square (not registered)" in stream.getvalue()


def test_a_historys_repr_summarises_instead_of_listing_every_value():
    from nnkit.training.history import History

    history = History()
    assert repr(history) == "History(no epochs)"
    for epoch in range(1, 501):
        history.record(epoch, {"loss": 1 / epoch, "accuracy": 0.875})
    assert repr(history) == "History(500 epochs; epoch 500: loss=0.002, accuracy=0.875)"
    single = History()
    single.record(1, {"loss": 0.25})
    assert repr(single) == "History(1 epoch; epoch 1: loss=0.25)"
