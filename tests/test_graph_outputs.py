"""Networks of several outputs: targets and predictions by output name, a loss per
output weighted into one, each output's loss and metrics in the history, model files
and ONNX keeping the outputs' names."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

import nnkit
from nnkit import ConfigurationError, DataError, Dense, Input, Network


def _data(n: int = 400, seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Four features; a class (the sign of a sum) and a value (a linear form)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    kind = (X[:, 0] + X[:, 1] > 0).astype(int)
    size = (2.0 * X[:, 2] - X[:, 3])[:, None]
    return X, {"kind": kind, "size": size}


def _two_headed(dtype: str = "float32", **kwargs) -> Network:
    x = Input(shape=(4,), name="x")
    hidden = Dense(16, activation="tanh")(x)
    return Network(
        inputs=x,
        outputs={
            "kind": Dense(2, activation="softmax")(hidden),
            "size": Dense(1)(hidden),
        },
        loss={"kind": "cross_entropy", "size": "mse"},
        optimizer="adam",
        seed=0,
        dtype=dtype,
        **kwargs,
    )


def test_a_two_headed_model_trains_both_heads() -> None:
    X, y = _data()
    net = _two_headed(loss_weights={"size": 0.5})
    history = net.fit(X, y, epochs=15, batch_size=32, verbose=0)
    logs = history.history
    assert logs["kind_accuracy"][-1] > logs["kind_accuracy"][0] + 0.2
    assert logs["size_mae"][-1] < 0.6 * logs["size_mae"][0]
    assert logs["kind_loss"][-1] < logs["kind_loss"][0]
    assert logs["size_loss"][-1] < logs["size_loss"][0]
    # The total is the weighted sum of the outputs' losses.
    scores = net.evaluate(X, y)
    assert scores["loss"] == pytest.approx(scores["kind_loss"] + 0.5 * scores["size_loss"])


def test_predict_returns_a_dict_by_output_name() -> None:
    X, y = _data(50)
    net = _two_headed()
    net.fit(X, y, epochs=1, verbose=0)
    found = net.predict(X, batch_size=7)
    assert list(found) == ["kind", "size"]
    assert found["kind"].shape == (50, 2) and found["size"].shape == (50, 1)
    np.testing.assert_allclose(found["kind"].sum(axis=1), 1.0, rtol=1e-5)
    packed = net.forward(X.astype(np.float32))
    np.testing.assert_allclose(found["kind"], packed[:, :2], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(found["size"], packed[:, 2:], rtol=1e-5, atol=1e-6)
    # A list in output order takes the place of the dict, as for several inputs.
    as_list = net.evaluate(X, [y["kind"], y["size"]])
    assert as_list == net.evaluate(X, y)


def test_the_gradients_of_the_weighted_sum_pass_a_finite_difference_check() -> None:
    X, y = _data(12, seed=1)
    net = _two_headed("float64", loss_weights={"kind": 0.7, "size": 1.3})
    net.build(4)
    Y = np.concatenate([np.eye(2)[y["kind"]], y["size"]], axis=1)
    workspace = nnkit.Workspace()

    def loss() -> float:
        return net.batch_loss(net.forward(X, nnkit.Workspace()), Y)

    A = net.forward(X, workspace, training=True)
    net.backward(A, Y, workspace)
    assert net.store is not None
    analytic = net.store.grads.copy()
    values, step = net.store.values, 1e-6
    numeric = np.empty_like(values)
    for index in range(values.size):
        kept = values[index]
        values[index] = kept + step
        up = loss()
        values[index] = kept - step
        down = loss()
        values[index] = kept
        numeric[index] = (up - down) / (2 * step)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)
    # ...of the weighted sum of each output's own loss.
    out = net.forward(X)
    kind = nnkit.loss("cross_entropy").value(out[:, :2], Y[:, :2])
    size = nnkit.loss("mse").value(out[:, 2:], Y[:, 2:])
    assert loss() == pytest.approx(0.7 * kind + 1.3 * size)


def test_save_and_load_keep_the_outputs_names_losses_and_weights(tmp_path) -> None:
    X, y = _data(60)
    net = _two_headed(loss_weights={"size": 0.25})
    net.fit(X, y, epochs=2, verbose=0)
    net.save(tmp_path / "two.nnkit")
    loaded = nnkit.load(tmp_path / "two.nnkit")
    assert loaded.output_names == ["kind", "size"]
    assert [type(loss) for loss in loaded.loss.losses] == [
        type(loss) for loss in net.loss.losses
    ]
    assert loaded.loss.weights == [1.0, 0.25]
    for name, array in net.predict(X).items():
        np.testing.assert_array_equal(loaded.predict(X)[name], array)
    assert loaded.evaluate(X, y) == pytest.approx(net.evaluate(X, y))


def test_a_graph_file_without_output_names_loads_as_one_output(tmp_path) -> None:
    x = Input(shape=(3,), name="x")
    joined = nnkit.layer("concatenate")([x, Dense(4)(x)])  # a graph, not a chain
    net = Network(inputs=x, outputs=Dense(2)(joined), seed=0).build(3)
    net.save(tmp_path / "one.nnkit")
    with zipfile.ZipFile(tmp_path / "one.nnkit") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    description = json.loads(members["model.json"])
    assert description["network"]["graph"]["output_names"] == ["output_1"]
    del description["network"]["graph"]["output_names"]  # as files before 0.3.0
    members["model.json"] = json.dumps(description).encode()
    with zipfile.ZipFile(tmp_path / "old.nnkit", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    loaded = nnkit.load(tmp_path / "old.nnkit")
    assert loaded.output_names == ["output_1"]
    sample = np.ones((2, 3))
    np.testing.assert_array_equal(loaded.predict(sample), net.predict(sample))


def test_streamed_chunks_take_dicts_of_targets() -> None:
    X, y = _data(300)
    net = _two_headed()
    history = net.fit(nnkit.chunks({"x": X}, y, rows=100), epochs=6, verbose=0)
    assert history.history["kind_loss"][-1] < history.history["kind_loss"][0]
    assert history.history["size_loss"][-1] < history.history["size_loss"][0]


def test_validation_split_sample_weights_and_early_stopping_act_on_every_output() -> None:
    X, y = _data(200)
    net = _two_headed()
    history = net.fit(
        X,
        y,
        epochs=40,
        verbose=0,
        validation_split=0.25,
        callbacks=[
            nnkit.callback("early_stopping", monitor="val_size_loss", min_delta=1e3)
        ],
    )
    assert "val_kind_accuracy" in history.history and "val_size_mae" in history.history
    # No epoch improves val_size_loss by 1000: stopped after the second, on that output.
    assert len(history.history["loss"]) == 2
    # A sample of weight zero does not count; weights scale the total loss only.
    weights = np.ones(200)
    weights[:100] = 0.0
    half = {name: target[100:] for name, target in y.items()}
    weighted = net.evaluate(X, y, sample_weight=weights)["loss"]
    assert weighted == pytest.approx(net.evaluate(X[100:], half)["loss"] / 2, rel=1e-5)


def test_metrics_may_be_chosen_per_output() -> None:
    X, y = _data(40)
    net = _two_headed()
    scores = net.evaluate(X, y, metrics={"size": ["rmse", "mae"]})
    assert set(scores) == {
        "loss", "kind_loss", "kind_accuracy", "size_loss", "size_rmse", "size_mae"
    }
    error = net.predict(X)["size"] - y["size"]
    assert scores["size_mae"] == pytest.approx(np.abs(error).mean(), rel=1e-5)
    assert scores["size_rmse"] == pytest.approx(np.sqrt((error**2).mean()), rel=1e-5)
    # The same metrics for every output, each on its own columns.
    both = net.evaluate(X, y, metrics=["mae"])
    assert set(both) == {"loss", "kind_loss", "kind_mae", "size_loss", "size_mae"}


def test_mistakes_about_outputs_are_explained() -> None:
    X, y = _data(20)
    net = _two_headed()
    with pytest.raises(DataError, match=r"outputs are \['kind', 'size'\].*\['size'\] missing"):
        net.fit(X, {"kind": y["kind"]}, epochs=1, verbose=0)
    with pytest.raises(DataError, match="give y as a dict by output name"):
        net.fit(X, y["size"], epochs=1, verbose=0)
    with pytest.raises(ConfigurationError, match="give sample_weight instead"):
        net.fit(X, y, class_weight={0: 1.0, 1: 2.0}, epochs=1, verbose=0)
    x = Input(shape=(4,))
    heads = {"a": Dense(1)(x), "b": Dense(1)(x)}
    with pytest.raises(ConfigurationError, match=r"no output is called \['c'\]"):
        Network(inputs=x, outputs=heads, loss={"a": "mse", "b": "mse", "c": "mse"})
    with pytest.raises(ConfigurationError, match=r"loss_weights\['b'\] must be a finite"):
        Network(inputs=x, outputs=heads, loss_weights={"b": -1.0})
    with pytest.raises(ConfigurationError, match="this network has one"):
        Network(inputs=x, outputs=Dense(1)(x), loss_weights=[1.0])
    with pytest.raises(ConfigurationError, match="same value twice"):
        Network(inputs=x, outputs=[heads["a"], heads["a"]])


def test_onnx_export_gives_one_named_output_per_network_output(tmp_path) -> None:
    onnxruntime = pytest.importorskip("onnxruntime")
    X, y = _data(30)
    net = _two_headed()
    net.fit(X, y, epochs=1, verbose=0)
    net.to_onnx(tmp_path / "two.onnx")
    session = onnxruntime.InferenceSession(
        str(tmp_path / "two.onnx"), providers=["CPUExecutionProvider"]
    )
    assert [o.name for o in session.get_outputs()] == ["kind", "size"]
    kind, size = session.run(None, {"x": X.astype(np.float32)})
    expected = net.predict(X)
    np.testing.assert_allclose(kind, expected["kind"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(size, expected["size"], rtol=1e-5, atol=1e-6)


def test_the_summary_names_each_output_s_loss_and_weight() -> None:
    net = _two_headed(loss_weights={"size": 0.5}).build(4)
    text = io.StringIO()
    net.summary(file=text)
    assert "loss of 'kind': cross_entropy" in text.getvalue()
    assert "loss of 'size': mse" in text.getvalue()
    assert "weight 0.5" in text.getvalue()
    assert "not registered" not in text.getvalue()
