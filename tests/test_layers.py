"""The standard layers beyond Dense: shapes, training, saving, and the errors of bad shapes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import nnkit
from nnkit.interfaces.workspace import Workspace

RNG = np.random.default_rng(0)


def digits():
    X, y = nnkit.datasets.load_digits()
    return X / 16, y


def round_trip(net, tmp_path, X):
    path = tmp_path / "model.nnkit"
    net.save(path)
    loaded = nnkit.load(path)
    np.testing.assert_array_equal(loaded.predict(X), net.predict(X))
    return loaded


def test_flatten_and_reshape_carry_images_to_dense_layers(tmp_path):
    X, y = digits()
    images = X.reshape(-1, 1, 8, 8)
    net = nnkit.Network(
        [nnkit.layer("flatten"), nnkit.Dense(32, activation="relu"),
         nnkit.layer("reshape", shape=(4, 8)), nnkit.layer("flatten"),
         nnkit.Dense(10, activation="softmax")],
        loss="cross_entropy", optimizer="adam", seed=0,
    )
    net.fit(images, y, epochs=20, verbose=0)
    assert net.input_shape == (1, 8, 8)
    assert net.layer_shapes == [(64,), (32,), (4, 8), (32,), (10,)]
    assert net.evaluate(images, y)["accuracy"] > 0.9
    flat = nnkit.Network(
        [nnkit.Dense(32, activation="relu"), nnkit.Dense(10, activation="softmax")],
        loss="cross_entropy", optimizer="adam", seed=0,
    ).build(64)
    flat.set_weights(net.get_weights())  # same parameters: flatten and reshape add none
    np.testing.assert_allclose(flat.predict(X), net.predict(images), rtol=1e-6)
    loaded = round_trip(net, tmp_path, images)
    assert loaded.input_shape == (1, 8, 8)


def test_a_standalone_activation_layer_equals_the_dense_layers_own():
    X, _ = digits()
    fused = nnkit.Network([nnkit.Dense(16, activation="tanh"), nnkit.Dense(3)], seed=0).build(64)
    split = nnkit.Network(
        [nnkit.Dense(16), nnkit.layer("activation", activation="tanh"), nnkit.Dense(3)], seed=0
    ).build(64)
    split.set_weights(fused.get_weights())
    np.testing.assert_allclose(split.predict(X), fused.predict(X), rtol=1e-6)


def test_softmax_as_a_layer_normalises_over_the_features_of_each_sample():
    layer = nnkit.layer("activation", activation="softmax")
    layer.build((5,), RNG)
    out = layer.forward(RNG.normal(size=(7, 5)), Workspace())
    np.testing.assert_allclose(out.sum(axis=1), 1)


def test_embedding_learns_a_vector_per_code_and_saves(tmp_path):
    codes = RNG.integers(0, 6, size=(400, 2)).astype(float)
    y = (codes[:, 0] + codes[:, 1]) % 3  # needs both codes: no linear rule on the raw numbers
    net = nnkit.Network(
        [nnkit.layer("embedding", input_dim=6, output_dim=4), nnkit.layer("flatten"),
         nnkit.Dense(32, activation="relu"), nnkit.Dense(3, activation="softmax")],
        loss="cross_entropy", optimizer=nnkit.optimizer("adam", learning_rate=0.01), seed=0,
    )
    net.fit(codes, y, epochs=60, batch_size=32, verbose=0)
    assert net.evaluate(codes, y)["accuracy"] > 0.95
    assert net.layer_shapes[0] == (2, 4)
    round_trip(net, tmp_path, codes)


@pytest.mark.parametrize(
    "codes, message",
    [
        (np.array([[0.0, 1.5]]), r"whole-number codes 0..5, but X has 1.5 in row 0, column 1"),
        (np.array([[0.0, 1.0], [6.0, 0.0]]), r"has 6.0 in row 1, column 0.*raise input_dim"),
        (np.array([[-1.0, 0.0]]), r"has -1.0 in row 0, column 0"),
    ],
)
def test_embedding_refuses_codes_it_cannot_look_up_before_training(codes, message):
    net = nnkit.Network(
        [nnkit.layer("embedding", input_dim=6, output_dim=2), nnkit.layer("flatten"),
         nnkit.Dense(1)], seed=0,
    )
    with pytest.raises(nnkit.DataError, match=message):
        net.fit(codes, np.zeros(len(codes)), verbose=0)
    assert not net.built or net.history is None  # nothing trained
    with pytest.raises(nnkit.DataError, match=message):
        net.predict(codes)


def test_a_residual_block_adds_its_input_and_saves_its_inner_layers(tmp_path):
    X, y = digits()
    block = nnkit.layer("residual", layers=[nnkit.Dense(32, activation="relu"), nnkit.Dense(32)])
    net = nnkit.Network(
        [nnkit.Dense(32, activation="relu"), block, nnkit.Dense(10, activation="softmax")],
        loss="cross_entropy", optimizer="adam", seed=0,
    )
    net.fit(X, y, epochs=20, verbose=0)
    assert net.evaluate(X, y)["accuracy"] > 0.9
    assert len(net.get_weights()) == 8  # W1 b1, the block's two, W4 b4
    assert net.n_parameters == 64 * 32 + 32 + 2 * (32 * 32 + 32) + 32 * 10 + 10
    # y = x + f(x): with the inner layers' weights zeroed, the block is the identity.
    weights = net.get_weights()
    zeroed = weights[:2] + [np.zeros_like(w) for w in weights[2:6]] + weights[6:]
    skip = nnkit.Network(
        [nnkit.Dense(32, activation="relu"), nnkit.Dense(10, activation="softmax")], seed=0
    ).build(64)
    skip.set_weights(weights[:2] + weights[6:])
    net.set_weights(zeroed)
    np.testing.assert_allclose(net.predict(X), skip.predict(X), rtol=1e-6)
    net.set_weights(weights)
    round_trip(net, tmp_path, X)


@pytest.mark.parametrize(
    ("inner", "optimizer"),
    [
        (lambda: [nnkit.Dense(16, activation="tanh"), nnkit.Dense(16)], "adam"),
        # Random numbers drawn inside the block resume too (Layer.inner_generators).
        (lambda: [nnkit.Dense(16, activation="tanh"), nnkit.layer("dropout", rate=0.3)], "sgd"),
    ],
    ids=["adam state", "dropout"],
)
def test_a_residual_block_resumes_training_exactly_after_a_reload(tmp_path, inner, optimizer):
    X, y = digits()

    def network():
        return nnkit.Network(
            [nnkit.Dense(16, activation="relu"), nnkit.layer("residual", layers=inner()),
             nnkit.Dense(10, activation="softmax")],
            loss="cross_entropy", optimizer=optimizer, seed=3,
        )

    straight = network()
    straight.fit(X, y, epochs=2, verbose=0)
    resumed = network()
    resumed.fit(X, y, epochs=1, verbose=0)
    resumed.save(tmp_path / "half.nnkit")
    resumed = nnkit.load(tmp_path / "half.nnkit")
    resumed.fit(X, y, epochs=1, verbose=0)
    for a, b in zip(straight.get_weights(), resumed.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_inner_generator_states_are_checked_and_may_be_absent(tmp_path):
    from tests.test_persistence import edit_description

    block = nnkit.layer("residual", layers=[nnkit.Dense(4), nnkit.layer("dropout", rate=0.5)])
    net = nnkit.Network([block, nnkit.Dense(2, activation="softmax")], seed=0).build(4)
    path = tmp_path / "block.nnkit"
    net.save(path)
    with open(path, "rb") as file:
        saved = file.read()

    def extra(description):
        description["random_state"]["inner_layers"].append({"bit_generator": "PCG64"})

    edit_description(path, extra)
    message = "states for 3 inner layers, but the network's layers hold 2"
    with pytest.raises(nnkit.ModelFileError, match=message):
        nnkit.load(path)
    path.write_bytes(saved)
    edit_description(path, lambda d: d["random_state"]["inner_layers"][1].pop("state"))
    with pytest.raises(nnkit.ModelFileError, match="malformed random generator state"):
        nnkit.load(path)
    path.write_bytes(saved)  # a file from before inner states were saved still loads
    edit_description(path, lambda d: d["random_state"].pop("inner_layers"))
    X = RNG.normal(size=(5, 4))
    np.testing.assert_array_equal(nnkit.load(path).predict(X), net.predict(X))


@pytest.mark.parametrize(
    "layers, input_shape, message",
    [
        ([nnkit.Dense(4)], (1, 8, 8), r"the last layer \(dense .*\) returns samples of shape \(1, 8, 4\).*flatten"),
        (["flatten", nnkit.layer("reshape", shape=(5, 5)), "flatten", nnkit.Dense(2)], (1, 8, 8),
         r"layer 2 \(reshape .*\) cannot take samples of shape \(64,\): cannot reshape .* to \(5, 5\)"),
        ([nnkit.layer("residual", layers=[nnkit.Dense(3)]), nnkit.Dense(2)], (4,),
         r"layer 1 \(residual .*\) .* turn samples of shape \(4,\) into \(3,\).*keep the shape"),
        ([nnkit.layer("embedding", input_dim=3, output_dim=2)], (2,),
         r"the last layer \(embedding .*\) returns samples of shape \(2, 2\).*flatten"),
        (["flatten", nnkit.layer("embedding", input_dim=3, output_dim=2)], (2, 2),
         r"returns samples of shape \(4, 2\)"),
    ],
    ids=["dense-on-images", "bad-reshape", "residual-changes-shape", "unflattened-output", "embedding-after-flatten"],
)
def test_shapes_a_layer_cannot_take_fail_when_the_network_is_built(layers, input_shape, message):
    # hinge compares flat outputs (mse, the default, takes outputs of any shape).
    net = nnkit.Network(layers, loss="hinge", seed=0)
    with pytest.raises(nnkit.ConfigurationError, match=message):
        net.build(input_shape)
    assert not net.built


class BroadcastingActivation(nnkit.Activation):
    """Returns one row for all samples: every sample would get the same prediction."""

    def forward(self, Z):
        return np.tanh(Z[:1])

    def derivative(self, Z):
        return 1 - np.tanh(Z) ** 2


class CrashingLayer(nnkit.Layer):
    def forward(self, x, ws, training=False):
        return x @ np.ones((3, 3))  # assumes 3 features

    def backward(self, dy, ws, need_input_gradient=True):
        return dy


def test_a_component_that_breaks_its_contract_is_named_when_the_network_is_built():
    net = nnkit.Network([nnkit.Dense(4, activation=BroadcastingActivation()), nnkit.Dense(2)])
    with pytest.raises(nnkit.ConfigurationError, match=(
        r"layer 1 \(dense .* with activation BroadcastingActivation \(not registered\)\) broke "
        r"the layer contract: forward\(\) returned an output of shape \(1, 4\).*should return "
        r"shape \(2, 4\)"
    )):
        net.build(5)
    with pytest.raises(nnkit.ConfigurationError, match=(
        r"layer 1 \(CrashingLayer \(not registered\)\) failed in forward\(\) on a probe batch: "
        r"ValueError: matmul"
    )):
        nnkit.Network([CrashingLayer(), nnkit.Dense(2)]).build(5)


def test_sample_shapes_must_be_positive_integers():
    for bad in [0, (3, 0), (), "64", (2.5,)]:
        with pytest.raises(nnkit.ConfigurationError, match="sample shape must be"):
            nnkit.Network([nnkit.Dense(2)]).build(bad)


def test_training_warns_once_when_the_loss_diverges():
    X, _ = digits()
    net = nnkit.Network(
        [nnkit.Dense(16, activation="tanh"), nnkit.Dense(1)],
        loss="mse", optimizer=nnkit.optimizer("sgd", learning_rate=10), seed=0,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net.fit(X, X.sum(axis=1) * 100, epochs=2, verbose=0)
    diverged = [w for w in caught if issubclass(w.category, nnkit.DivergenceWarning)]
    assert len(diverged) == 1
    message = str(diverged[0].message)
    assert "training diverged: the loss became" in message
    assert "smaller learning rate (it is 10)" in message
    assert diverged[0].filename == __file__  # points at the caller's fit, not nnkit's loop


def test_the_plugin_guides_image_layer_passes_the_kit_and_trains():
    from pathlib import Path

    from nnkit.testing import check_component

    guide = (Path(__file__).parents[1] / "docs" / "writing-plugins.md").read_text()
    code = guide[guide.index("import numpy as np\n\nimport nnkit\n\n\n@nnkit.register") :]
    # Run the class alone: registering it here would leak into the other tests.
    code = code[: code.index("```")].replace('@nnkit.register("layer", "my.channel_scale")\n', "")
    namespace: dict = {}
    exec(code, namespace)
    layer_class = namespace["ChannelScale"]
    check_component(layer_class(), exclude=["config_round_trip"])  # not registered by a plugin
    X, y = digits()
    net = nnkit.Network(
        [layer_class(), nnkit.layer("flatten"), nnkit.Dense(10, activation="softmax")],
        loss="cross_entropy", optimizer="adam", seed=0,
    )
    net.fit(X.reshape(-1, 1, 8, 8), y, epochs=10, verbose=0)
    assert net.layer_shapes[0] == (1, 8, 8)
    assert net.evaluate(X.reshape(-1, 1, 8, 8), y)["accuracy"] > 0.8


def test_backward_with_a_workspace_forward_never_filled_names_what_is_missing():
    layer = nnkit.Dense(3)
    net = nnkit.Network([layer]).build(2)
    with pytest.raises(AttributeError, match="'Workspace' object has no attribute 'A_prev'"):
        net.layers[0].backward(np.ones((4, 3), dtype=np.float32), Workspace())
