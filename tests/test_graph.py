"""Networks drawn as graphs: Input, layer calls, merges, fan-out and shared layers."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import nnkit
from nnkit import ConfigurationError, DataError, Dense, Input, Network


def _numerical_check(net: Network, X: np.ndarray, Y: np.ndarray) -> None:
    """Compare back-propagation's gradient with central differences of the batch loss."""
    net.ensure_built(X.shape[1:])
    store = net.store
    assert store is not None
    workspace = nnkit.Workspace()
    A = net.forward(X, workspace, training=True)
    net.backward(A, Y, workspace)
    analytic = store.grads.copy()
    numeric = np.zeros_like(analytic)
    eps = 1e-6
    for i in range(store.values.size):
        saved = store.values[i]
        store.values[i] = saved + eps
        up = net.batch_loss(net.forward(X), Y)
        store.values[i] = saved - eps
        down = net.batch_loss(net.forward(X), Y)
        store.values[i] = saved
        numeric[i] = (up - down) / (2 * eps)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7)


def _data(n_features: int = 3, n_out: int = 2, m: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    return rng.normal(size=(m, n_features)), rng.normal(size=(m, n_out))


def test_a_chain_drawn_as_a_graph_equals_the_list() -> None:
    X, Y = _data()
    x = Input(shape=(3,))
    y = Dense(2)(Dense(4, activation="tanh")(x))
    graph = Network(inputs=[x], outputs=[y], optimizer="adam", seed=3)
    chain = Network([Dense(4, activation="tanh"), Dense(2)], optimizer="adam", seed=3)
    for net in (graph, chain):
        net.fit(X, Y, epochs=3, batch_size=2, verbose=0)
    np.testing.assert_array_equal(graph.get_weights()[0], chain.get_weights()[0])
    np.testing.assert_array_equal(graph.predict(X), chain.predict(X))
    assert graph.evaluate(X, Y) == pytest.approx(chain.evaluate(X, Y))


@pytest.mark.parametrize(
    ("name", "kwargs", "n_inputs"),
    [
        ("add", {}, 2),
        ("add", {}, 3),
        ("subtract", {}, 2),
        ("multiply", {}, 2),
        ("multiply", {}, 3),
        ("average", {}, 3),
        ("concatenate", {}, 2),
        ("concatenate", {"axis": 1}, 3),
    ],
)
def test_every_merge_layer_back_propagates(name: str, kwargs: dict, n_inputs: int) -> None:
    X, Y = _data()
    x = Input(shape=(3,))
    branches = [Dense(4, activation="tanh")(x) for _ in range(n_inputs)]
    merged = nnkit.layer(name, **kwargs)(branches)
    net = Network(inputs=x, outputs=Dense(2)(merged), dtype="float64", seed=0)
    _numerical_check(net, X, Y)


def test_fan_out_sums_the_gradients_of_every_reader() -> None:
    # x feeds three calls, and h feeds a merge twice and a dense layer once.
    X, Y = _data()
    x = Input(shape=(3,))
    h = Dense(3, activation="sigmoid")(x)
    y = nnkit.layer("add")([h, h, Dense(3)(h), x])
    net = Network(inputs=x, outputs=Dense(2)(y), dtype="float64", seed=0)
    _numerical_check(net, X, Y)


def test_a_shared_layer_adds_the_gradients_of_its_calls() -> None:
    X, Y = _data()
    x = Input(shape=(3,))
    shared = Dense(3, activation="tanh", l2=0.1)
    y = nnkit.layer("concatenate")([shared(x), shared(shared(x))])
    net = Network(inputs=x, outputs=Dense(2)(y), dtype="float64", seed=0)
    _numerical_check(net, X, Y)
    assert len(net.layers) == 3  # the shared layer once, the merge, the output
    assert net.n_parameters == (3 * 3 + 3) + (6 * 2 + 2)  # one set of its parameters


def test_a_fused_softmax_output_in_a_graph() -> None:
    X, _ = _data()
    labels = np.eye(3)[[0, 1, 2, 1, 0]]
    x = Input(shape=(3,))
    h = nnkit.layer("add")([Dense(4, activation="relu")(x), Dense(4)(x)])
    y = Dense(3, activation="softmax")(h)
    net = Network(inputs=x, outputs=y, loss="cross_entropy", dtype="float64", seed=0)
    _numerical_check(net, X, labels)


def test_a_graph_trains_and_answers_as_expected() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(256, 2))
    Y = (X[:, :1] * X[:, 1:]).astype(float)  # a product: easy for a multiply merge
    x = Input(shape=(2,))
    y = Dense(1)(nnkit.layer("multiply")([Dense(8)(x), Dense(8)(x)]))
    net = Network(inputs=x, outputs=y, optimizer="adam", seed=0)
    before = net.evaluate(X, Y) if net.built else None
    history = net.fit(X, Y, epochs=60, batch_size=32, verbose=0)
    assert before is None
    assert history.history["loss"][-1] < 0.1 * history.history["loss"][0]
    assert net.predict(X).shape == (256, 1)


def test_threads_predicting_from_a_graph_get_their_own_answers() -> None:
    x = Input(shape=(3,))
    h = Dense(5, activation="tanh")
    y = Dense(1)(nnkit.layer("average")([h(x), Dense(5)(x)]))
    net = Network(inputs=x, outputs=y, seed=0)
    rng = np.random.default_rng(0)
    batches = [rng.normal(size=(50, 3)).astype(np.float32) for _ in range(4)]
    net.build(3)
    expected = [net.predict(b) for b in batches]
    results: list[list[np.ndarray]] = [[] for _ in batches]

    def work(i: int) -> None:
        for _ in range(20):
            results[i].append(net.predict(batches[i]))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for got, want in zip(results, expected):
        for answer in got:
            np.testing.assert_array_equal(answer, want)


def test_a_copy_of_a_graph_with_a_shared_layer_trains_on_its_own() -> None:
    import copy

    X, Y = _data()
    x = Input(shape=(3,))
    shared = Dense(3, activation="tanh")
    net = Network(inputs=x, outputs=Dense(2)(shared(shared(x))), dtype="float64", seed=0)
    net.build(3)
    twin = copy.deepcopy(net)
    _numerical_check(twin, X, Y)
    np.testing.assert_array_equal(net.get_weights()[0], twin.get_weights()[0])


def test_merge_errors_say_what_to_do() -> None:
    x = Input(shape=(3,))
    with pytest.raises(ConfigurationError, match="list of at least two"):
        nnkit.layer("add")(x)
    with pytest.raises(ConfigurationError, match="takes one input"):
        Dense(2)([x, x])
    with pytest.raises(ConfigurationError, match="symbolic outputs"):
        Dense(2)(np.zeros((2, 3)))
    with pytest.raises(ConfigurationError, match="axis 0 holds the samples"):
        nnkit.layer("concatenate", axis=0)
    bad = nnkit.layer("add")([Dense(2)(x), Dense(3)(x)])
    net = Network(inputs=x, outputs=bad)
    with pytest.raises(ConfigurationError, match=r"layer 3 \(.*add.*one shape"):
        net.build(3)


def test_graph_errors_say_what_to_do() -> None:
    x, other = Input(shape=(3,)), Input(shape=(2,))
    with pytest.raises(ConfigurationError, match="not in inputs"):
        Network(inputs=[x], outputs=Dense(1)(nnkit.layer("concatenate")([x, other])))
    with pytest.raises(ConfigurationError, match="not both"):
        Network([Dense(1)], inputs=x, outputs=Dense(1)(x))
    shared = Dense(3)
    net = Network(inputs=[x], outputs=shared(nnkit.layer("concatenate")([shared(x), x])))
    with pytest.raises(ConfigurationError, match="shared"):
        net.build(3)
    net = Network(inputs=[x], outputs=Dense(1)(x))
    with pytest.raises(DataError, match=r"takes samples of shape \(3,\)"):
        net.fit(np.zeros((4, 5)), np.zeros((4, 1)), verbose=0)
    with pytest.raises(ConfigurationError, match="Input shape"):
        Input(shape=(0,))


def test_a_merge_layer_is_not_a_layer_of_a_list() -> None:
    net = Network([nnkit.layer("add"), Dense(1)])
    with pytest.raises(ConfigurationError, match="list of symbolic outputs"):
        net.build(3)


def test_the_summary_says_what_each_call_reads() -> None:
    import io

    x = Input(shape=(3,), name="numbers")
    shared = Dense(3, activation="relu")
    merged = nnkit.layer("add")([shared(x), shared(shared(x))])
    net = Network(inputs=x, outputs=Dense(1)(merged))
    net.build(3)
    out = io.StringIO()
    net.summary(file=out)
    lines = out.getvalue().splitlines()
    assert "reads" in lines[0]
    assert lines[2].split()[-1] == "numbers"  # the first call reads the input
    assert "shared with #1" in lines[3] and lines[3].split()[-1] == "numbers"
    assert "shared with #1" in lines[4] and lines[4].split()[-1] == "#2"
    assert lines[5].rstrip().endswith("#1, #3")  # the merge reads two calls


def test_a_chain_keeps_its_summary_without_the_reads_column() -> None:
    import io

    net = Network([Dense(2), Dense(1)])
    net.build(3)
    out = io.StringIO()
    net.summary(file=out)
    assert "reads" not in out.getvalue()


def test_a_chain_drawn_as_a_graph_saves_and_loads(tmp_path) -> None:
    X, _ = _data()
    x = Input(shape=(3,))
    net = Network(inputs=x, outputs=Dense(2)(Dense(4, activation="tanh")(x)), seed=0)
    net.build(3)
    net.save(tmp_path / "chain.nnkit")
    np.testing.assert_array_equal(nnkit.load(tmp_path / "chain.nnkit").predict(X), net.predict(X))


def test_a_branching_graph_refuses_to_adapt_during_fit() -> None:
    x = Input(shape=(3,))
    h = nnkit.layer("standardize")(Dense(3)(x))  # learns from what a layer makes
    net = Network(inputs=x, outputs=Dense(1)(nnkit.layer("concatenate")([h, x])))
    with pytest.raises(ConfigurationError, match=r"layer.adapt\(x\)"):
        net.fit(np.ones((4, 3)), np.ones((4, 1)), verbose=0)


def _siamese(dtype: str = "float32", seed: int = 0) -> Network:
    """Two inputs through one shared encoder; the output says whether they match."""
    left, right = Input(shape=(4,), name="left"), Input(shape=(4,), name="right")
    encoder = Dense(8, activation="tanh")
    gap = nnkit.layer("subtract")([encoder(left), encoder(right)])
    closeness = nnkit.layer("multiply")([gap, gap])  # squared distance per unit
    same = Dense(1, activation="sigmoid")(closeness)
    return Network(
        inputs=[left, right], outputs=same, loss="binary_cross_entropy",
        optimizer="adam", seed=seed, dtype=dtype,
    )


def _pairs(n: int, rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray]:
    centres = rng.normal(scale=2.0, size=(3, 4))
    a, b = rng.integers(0, 3, n), rng.integers(0, 3, n)
    b[: n // 2] = a[: n // 2]  # half the pairs match
    left = centres[a] + rng.normal(scale=0.3, size=(n, 4))
    right = centres[b] + rng.normal(scale=0.3, size=(n, 4))
    return {"left": left, "right": right}, (a == b).astype(float)[:, None]


def test_a_siamese_pair_shares_its_encoder_and_learns_to_match() -> None:
    pairs, labels = _pairs(800, np.random.default_rng(0))
    X = {name: side[:600] for name, side in pairs.items()}
    X_test = {name: side[600:] for name, side in pairs.items()}
    y, y_test = labels[:600], labels[600:]
    net = _siamese()
    history = net.fit(X, y, epochs=30, batch_size=32, validation_split=0.2, verbose=0)
    assert net.n_parameters == (4 * 8 + 8) + (8 + 1)  # the encoder once
    scores = net.evaluate(X_test, y_test, metrics=["accuracy"])
    assert scores["accuracy"] > 0.9
    assert history.history["val_loss"][-1] < history.history["val_loss"][0]
    by_list = net.predict([X_test["left"], X_test["right"]])
    np.testing.assert_array_equal(by_list, net.predict(X_test))


def test_a_siamese_pair_back_propagates_into_both_inputs() -> None:
    rng = np.random.default_rng(2)
    X, y = _pairs(6, rng)
    net = _siamese(dtype="float64")
    packed = np.concatenate([X["left"], X["right"]], axis=1)
    _numerical_check(net, packed, y)


def test_wide_and_deep_on_a_table_of_numbers_and_a_category() -> None:
    # The target depends on the numbers and, through an offset, on the category.
    rng = np.random.default_rng(0)
    numbers, category = rng.normal(size=(800, 3)), rng.integers(0, 4, size=(800, 1))
    offsets = np.array([-2.0, 0.0, 1.0, 3.0])
    y = numbers @ np.array([[1.0], [-0.5], [0.25]]) + offsets[category]
    x_num = Input(shape=(3,), name="numbers")
    x_cat = Input(shape=(1,), name="category")
    embedded = nnkit.layer("flatten")(nnkit.layer("embedding", input_dim=4, output_dim=2)(x_cat))
    deep = Dense(16, activation="relu")(nnkit.layer("concatenate")([x_num, embedded]))
    wide_and_deep = nnkit.layer("concatenate")([x_num, deep])
    net = Network(inputs=[x_num, x_cat], outputs=Dense(1)(wide_and_deep), optimizer="adam", seed=0)
    X = {"numbers": numbers, "category": category}
    net.fit(X, y, epochs=60, batch_size=32, verbose=0)
    assert net.evaluate(X, y)["loss"] < 0.05 * float(np.var(y))
    with pytest.raises(DataError, match="embedding takes whole-number codes"):
        net.predict({"numbers": numbers[:2], "category": np.array([[1.0], [7.0]])})


def test_several_inputs_refuse_what_does_not_fit_with_a_clear_error() -> None:
    net = _siamese()
    left = np.zeros((5, 4))
    with pytest.raises(DataError, match=r"'right'\] missing"):
        net.predict({"left": left})
    with pytest.raises(DataError, match=r"no input is called \['rigth'\]"):
        net.predict({"left": left, "right": left, "rigth": left})
    with pytest.raises(DataError, match="dict by input name"):
        net.predict(left)
    with pytest.raises(DataError, match="different numbers of samples"):
        net.predict({"left": left, "right": left[:3]})
    with pytest.raises(DataError, match=r"X\['right'\] has 3 features but the network takes 4"):
        net.predict({"left": left, "right": left[:, :3]})


def test_chunks_of_a_dict_by_input_name_train_as_the_whole_dict() -> None:
    pairs, labels = _pairs(300, np.random.default_rng(0))
    whole, streamed = _siamese(), _siamese()
    whole.fit(pairs, labels, epochs=2, batch_size=50, shuffle=False, verbose=0)
    streamed.fit(nnkit.chunks(pairs, labels, rows=100), epochs=2, batch_size=50,
                 shuffle=False, verbose=0)
    np.testing.assert_allclose(streamed.get_weights()[0], whole.get_weights()[0], rtol=1e-5)
    with pytest.raises(DataError, match="same number of samples"):
        nnkit.chunks({"left": pairs["left"], "right": pairs["right"][:10]}, labels)
