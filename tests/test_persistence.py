"""Model files: exact round trips, exact resumption, atomic saves, and safe loading."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nnkit
from nnkit.files.loading import FORMAT_VERSION
from nnkit.files.model_format import CHAIN_FORMAT_VERSION

from .test_registry import GOOD_PLUGIN

rng = np.random.default_rng(0)
X = rng.normal(size=(60, 5))
LABELS = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.5)
ACTIVATIONS = [c.name for c in nnkit.components("activation") if c.name != "softmax"]
INITIALIZERS = [c.name for c in nnkit.components("initializer")]
OPTIMIZERS = [c.name for c in nnkit.components("optimizer")]


def classifier(hidden="relu", optimizer="adam", seed=0, **dense):
    return nnkit.Network(
        [
            nnkit.Dense(8, activation=hidden, **dense),
            nnkit.layer("dropout", rate=0.25),
            nnkit.Dense(3, activation="softmax"),
        ],
        loss="cross_entropy",
        optimizer=optimizer,
        seed=seed,
    )


def summary_text(network) -> str:
    stream = io.StringIO()
    network.summary(file=stream)
    return stream.getvalue()


def saved(network, tmp_path, name="model.nnkit"):
    path = tmp_path / name
    network.save(path)
    return path


def rewrite(path: Path, change) -> None:
    """Rewrite the archive at ``path``, passing ``{member: bytes}`` through ``change``."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    change(members)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def edit_description(path: Path, edit) -> None:
    def change(members):
        description = json.loads(members["model.json"])
        edit(description)
        members["model.json"] = json.dumps(description).encode()

    rewrite(path, change)


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=True)
    return buffer.getvalue()


# -- round trips --------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_round_trips_bit_for_bit(activation, tmp_path):
    network = classifier(hidden=activation)
    network.fit(X, LABELS, epochs=2, batch_size=16)
    loaded = nnkit.load(saved(network, tmp_path))
    assert np.array_equal(loaded.predict(X), network.predict(X))
    assert summary_text(loaded) == summary_text(network)


@pytest.mark.parametrize("initializer", INITIALIZERS)
def test_every_initializer_is_kept_by_name_and_arguments(initializer, tmp_path):
    network = classifier(kernel_initializer=initializer, l2=0.01).build(5)
    loaded = nnkit.load(saved(network, tmp_path))
    dense = loaded.layers[0]
    assert nnkit.registry.registry.default_registry().name_of(dense.kernel_initializer) == initializer
    assert dense.l2 == 0.01
    assert np.array_equal(loaded.get_weights()[0], network.get_weights()[0])


@pytest.mark.parametrize(
    ("loss", "output", "targets"),
    [
        ("cross_entropy", ("softmax", 3), LABELS),
        ("binary_cross_entropy", ("sigmoid", 1), (LABELS > 0).astype(float)),
        ("mse", ("identity", 2), X[:, :2] * 3.0),
    ],
)
def test_every_loss_round_trips_and_scores_the_same(loss, output, targets, tmp_path):
    activation, units = output
    network = nnkit.Network(
        [nnkit.Dense(6, activation="tanh"), nnkit.Dense(units, activation=activation)],
        loss=loss,
        seed=3,
    )
    network.fit(X, targets, epochs=2)
    loaded = nnkit.load(saved(network, tmp_path))
    assert type(loaded.loss) is type(network.loss)
    assert loaded.evaluate(X, targets) == network.evaluate(X, targets)


@pytest.mark.parametrize(
    "optimizer",
    [*OPTIMIZERS, nnkit.optimizer("sgd", learning_rate=0.05, momentum=0.9, nesterov=True)],
    ids=[*OPTIMIZERS, "sgd-nesterov"],
)
def test_every_optimizer_keeps_its_arguments_and_state(optimizer, tmp_path):
    network = classifier(optimizer=optimizer)
    network.fit(X, LABELS, epochs=2, batch_size=16)
    loaded = nnkit.load(saved(network, tmp_path))
    assert loaded.optimizer.get_config() == network.optimizer.get_config()
    assert loaded.optimizer_state.keys() == network.optimizer_state.keys()
    for key, value in network.optimizer_state.items():
        assert np.array_equal(loaded.optimizer_state[key], value), key


def test_float64_networks_and_metadata_survive(tmp_path):
    network = nnkit.Network([nnkit.Dense(3, activation="softmax")], dtype="float64").build(5)
    network.metadata = {"classes": ["a", "b", "c"], "features": list("vwxyz")}
    loaded = nnkit.load(saved(network, tmp_path))
    assert loaded.dtype == np.float64
    assert loaded.metadata == network.metadata
    assert np.array_equal(loaded.predict(X), network.predict(X))


def test_a_model_saved_without_optimizer_state_starts_the_optimizer_afresh(tmp_path):
    network = classifier()
    network.fit(X, LABELS, epochs=1)
    path = tmp_path / "light.nnkit"
    network.save(path, include_optimizer=False)
    loaded = nnkit.load(path)
    assert np.array_equal(loaded.predict(X), network.predict(X))
    assert all(not value.any() for value in loaded.optimizer_state.values())
    with zipfile.ZipFile(path) as archive:
        assert not [name for name in archive.namelist() if name.startswith("arrays/optimizer/")]


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_resumed_training_matches_an_uninterrupted_run(optimizer, tmp_path):
    uninterrupted = classifier(optimizer=optimizer, seed=7)
    uninterrupted.fit(X, LABELS, epochs=3, batch_size=8)
    uninterrupted.fit(X, LABELS, epochs=3, batch_size=8)

    interrupted = classifier(optimizer=optimizer, seed=7)
    interrupted.fit(X, LABELS, epochs=3, batch_size=8)
    resumed = nnkit.load(saved(interrupted, tmp_path))
    del interrupted
    resumed.fit(X, LABELS, epochs=3, batch_size=8)

    assert np.array_equal(resumed.store.values, uninterrupted.store.values)
    assert np.array_equal(resumed.predict(X), uninterrupted.predict(X))


def test_saving_an_unbuilt_network_or_an_unregistered_component_says_why(tmp_path):
    with pytest.raises(nnkit.ConfigurationError, match="fit it or call build"):
        classifier().save(tmp_path / "empty.nnkit")

    class Homemade(nnkit.Activation):
        def forward(self, Z):
            return Z

        def derivative(self, Z):
            return np.ones_like(Z)

    network = nnkit.Network([nnkit.Dense(2, activation=Homemade())], loss="mse").build(3)
    with pytest.raises(nnkit.ConfigurationError, match="register it from a plugin"):
        network.save(tmp_path / "homemade.nnkit")
    assert not list(tmp_path.iterdir())


def test_the_file_is_a_zip_of_json_and_npy_members(tmp_path):
    network = classifier().build(5)
    with zipfile.ZipFile(saved(network, tmp_path)) as archive:
        names = archive.namelist()
        description = json.loads(archive.read("model.json"))
    assert names[0] == "model.json" and "arrays/parameters.npy" in names
    assert description["format"] == "nnkit-model"
    assert description["format_version"] == CHAIN_FORMAT_VERSION  # what 0.2 reads
    assert description["nnkit_version"] == nnkit.__version__
    first = description["network"]["layers"][0]
    assert (first["name"], first["distribution"], first["version"]) == (
        "dense",
        "nnkit-numpy",
        nnkit.__version__,
    )
    assert first["config"]["activation"]["$component"]["name"] == "relu"


# -- atomic saves -------------------------------------------------------------------------


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt])
def test_a_save_that_fails_midway_leaves_the_old_file_intact(failure, tmp_path, monkeypatch):
    path = saved(classifier().build(5), tmp_path)
    before = path.read_bytes()
    calls = []

    def write_array_then_fail(file, array, **options):
        calls.append(array.shape)
        if len(calls) == 2:
            file.write(b"partial")
            raise failure
        original(file, array, **options)

    original = np.lib.format.write_array
    monkeypatch.setattr(np.lib.format, "write_array", write_array_then_fail)
    retrained = classifier(seed=1)
    retrained.fit(X, LABELS, epochs=1)
    with pytest.raises(type(failure) if isinstance(failure, BaseException) else failure):
        retrained.save(path)
    assert len(calls) == 2
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_saving_into_a_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        classifier().build(5).save(tmp_path / "no" / "such" / "model.nnkit")


# -- clear failures -------------------------------------------------------------------------


def test_a_component_from_a_disabled_plugin_names_its_distribution(
    fake_distribution, isolated_registry, tmp_path
):
    fake_distribution(
        "acme-nn",
        GOOD_PLUGIN,
        version="2.3",
    )
    isolated_registry()
    network = nnkit.Network([nnkit.Dense(2, activation="cube")], loss="mse").build(3)
    path = saved(network, tmp_path)
    assert np.array_equal(nnkit.load(path).predict(X[:, :3]), network.predict(X[:, :3]))

    isolated_registry(NNKIT_DISABLE_PLUGINS="acme-nn")
    with pytest.raises(nnkit.MissingComponentError) as caught:
        nnkit.load(path)
    message = str(caught.value)
    assert "activation 'cube'" in message
    assert "acme-nn 2.3" in message and "pip install acme-nn" in message
    assert "NNKIT_DISABLE_PLUGINS" in message and "NNKIT_LOAD_PLUGINS" in message
    assert (caught.value.kind, caught.value.distribution) == ("activation", "acme-nn")
    assert isinstance(caught.value, nnkit.ModelFileError)


def test_a_newer_format_version_asks_for_an_upgrade(tmp_path):
    path = saved(classifier().build(5), tmp_path)
    edit_description(path, lambda d: d.update(format_version=FORMAT_VERSION + 1))
    with pytest.raises(nnkit.ModelFileError, match="newer nnkit.*upgrade nnkit"):
        nnkit.load(path)


def _wrong_units(description):
    description["network"]["layers"][0]["config"]["units"] = 9


def _drop_layer(description):
    del description["network"]["layers"][1]


def _python_path(description):
    description["network"]["loss"]["name"] = "os.system"


def _drop_format(description):
    del description["format"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_wrong_units, "do not fit the network|needs"),
        (_drop_layer, "random generator states for 3 layers, but the network has 2"),
        (_python_path, "loss 'os.system'"),
        (_drop_format, "not an nnkit model file"),
    ],
)
def test_a_description_that_does_not_match_its_arrays_is_refused(edit, message, tmp_path):
    path = saved(classifier().build(5), tmp_path)
    edit_description(path, edit)
    with pytest.raises(nnkit.ModelFileError, match=message):
        nnkit.load(path)


def test_arrays_with_the_wrong_shape_dtype_or_values_are_refused(tmp_path):
    network = classifier().build(5)
    parameters = network.store.values
    cases = {
        "shape": (parameters[:-1], "shape"),
        "dtype": (parameters.astype(np.float64), "dtype"),
        "nan": (np.full_like(parameters, np.nan), "NaN"),
        "pickle": (np.array([object()], dtype=object), "unsupported dtype object"),
    }
    for name, (array, message) in cases.items():
        path = saved(network, tmp_path, f"{name}.nnkit")
        rewrite(path, lambda members, a=array: members.update({"arrays/parameters.npy": npy(a)}))
        with pytest.raises(nnkit.ModelFileError, match=message):
            nnkit.load(path)


def test_files_that_are_not_models_get_one_clear_error(tmp_path):
    (tmp_path / "text.nnkit").write_text("hello")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as archive:
        archive.writestr("readme.txt", "not a model")
    np.savez(tmp_path / "arrays.npz", X=X)
    for name in ["text.nnkit", "other.zip", "arrays.npz"]:
        with pytest.raises(nnkit.ModelFileError, match="not an nnkit model file"):
            nnkit.load(tmp_path / name)
    with pytest.raises(FileNotFoundError, match="no model file"):
        nnkit.load(tmp_path / "missing.nnkit")


# -- property-based: damaged files ------------------------------------------------------


@pytest.fixture(scope="module")
def good_model(tmp_path_factory):
    network = classifier(optimizer="adam")
    network.fit(X, LABELS, epochs=1)
    path = tmp_path_factory.mktemp("model") / "good.nnkit"
    network.save(path)
    return path.read_bytes(), network.predict(X)


def load_bytes(data: bytes, tmp_path: Path):
    path = tmp_path / "candidate.nnkit"
    path.write_bytes(data)
    return nnkit.load(path)


damaged_settings = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@damaged_settings
@given(fraction=st.floats(0.0, 1.0, exclude_max=True))
def test_a_truncated_file_fails_with_model_file_error(good_model, tmp_path, fraction):
    data, _ = good_model
    with pytest.raises(nnkit.ModelFileError):
        load_bytes(data[: int(len(data) * fraction)], tmp_path)


@damaged_settings
@given(data=st.data())
def test_a_bit_flip_either_fails_cleanly_or_changes_nothing(good_model, tmp_path, data):
    good, predictions = good_model
    position = data.draw(st.integers(0, len(good) - 1), label="byte")
    bit = data.draw(st.integers(0, 7), label="bit")
    damaged = bytearray(good)
    damaged[position] ^= 1 << bit
    try:
        network = load_bytes(bytes(damaged), tmp_path)
    except nnkit.ModelFileError:
        return
    # Only bytes no reader checks (timestamps, flags) may flip unnoticed: the model is intact.
    assert np.array_equal(network.predict(X), predictions)


@damaged_settings
@given(blob=st.binary(max_size=4096))
def test_random_bytes_fail_with_model_file_error(tmp_path, blob):
    with pytest.raises(nnkit.ModelFileError):
        load_bytes(blob, tmp_path)


@damaged_settings
@given(
    description=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "format",
                        "format_version",
                        "network",
                        "layers",
                        "name",
                        "config",
                        "kind",
                        "n_inputs",
                        "dtype",
                    ]
                ),
                children,
                max_size=5,
            )
        ),
        max_leaves=20,
    )
)
def test_random_json_descriptions_fail_with_model_file_error(good_model, tmp_path, description):
    good, _ = good_model
    path = tmp_path / "candidate.nnkit"
    path.write_bytes(good)
    rewrite(path, lambda members: members.update({"model.json": json.dumps(description).encode()}))
    with pytest.raises(nnkit.ModelFileError):
        nnkit.load(path)


# -- diverged runs never replace a good file ----------------------------------------------


def diverged(network):
    """``network`` with one weight of its second dense layer turned to NaN."""
    network.layers[2].params["W"][1, 2] = np.nan
    return network


def test_save_refuses_nan_weights_and_keeps_the_good_file(tmp_path):
    path = saved(classifier().build(5), tmp_path)
    before = path.read_bytes()
    with pytest.raises(nnkit.NonFiniteWeightsError) as caught:
        diverged(classifier(seed=1).build(5)).save(path)
    message = str(caught.value)
    assert f"refusing to save {path}: the weights hold 1 NaN or infinite values" in message
    assert "(the first in 'W' of layer dense (nnkit-numpy " in message
    assert "smaller learning_rate" in message and "allow_non_finite=True" in message
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_save_refuses_infinite_optimizer_state(tmp_path):
    network = classifier(optimizer="adam")
    network.fit(X, LABELS, epochs=1)
    network.optimizer_state["v"][0] = np.inf
    with pytest.raises(nnkit.NonFiniteWeightsError, match="the optimizer's state 'v' holds NaN"):
        network.save(tmp_path / "model.nnkit")
    network.save(tmp_path / "model.nnkit", include_optimizer=False)  # the weights are fine


def test_a_diverged_network_is_saved_and_loaded_only_when_asked(tmp_path):
    network = diverged(classifier().build(5))
    path = tmp_path / "diverged.nnkit"
    network.save(path, allow_non_finite=True)
    with pytest.raises(nnkit.ModelFileError, match="NaN or infinite.*allow_non_finite=True"):
        nnkit.load(path)
    loaded = nnkit.load(path, allow_non_finite=True)
    assert np.isnan(loaded.layers[2].params["W"][1, 2])
    assert np.array_equal(loaded.store.values, network.store.values, equal_nan=True)


# -- every malformed description is a ModelFileError ---------------------------------------


def _set(*keys_and_value):
    *keys, value = keys_and_value

    def edit(description):
        target = description
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return edit


_ACTIVATION = ("network", "layers", 0, "config", "activation")
_LEARNING_RATE = ("network", "optimizer", "config", "learning_rate")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_set("network", "seed", "zero"), "cannot be rebuilt: seed must be an integer"),
        (_set("network", "seed", 1.5), "cannot be rebuilt: seed must be an integer"),
        (_set("network", "seed", -1), "cannot be rebuilt"),
        (_set("network", "dtype", "flaot32"), "'dtype' is 'flaot32'; a model's dtype is"),
        (_set("network", "dtype", "int64"), "'dtype' is 'int64'; a model's dtype is"),
        (_set("network", "dtype", 32), "'dtype' is missing or malformed"),
        (_set(*_ACTIVATION, "relu"), r"layer 1's 'activation' is the plain string 'relu'"),
        (_set(*_ACTIVATION, "no_such_activation"), "activation 'no_such_activation'"),
        (_set(*_ACTIVATION, 3), "cannot be rebuilt|could not rebuild"),
        (_set("network", "loss", "cross_entropy"), "'loss' is missing or malformed"),
        (_set(*_LEARNING_RATE, 0), "learning_rate must be a finite number > 0"),
        (_set(*_LEARNING_RATE, "0.1"), "learning_rate must be a finite number > 0"),
        (_set(*_LEARNING_RATE, True), "learning_rate must be a finite number > 0"),
    ],
    ids=[
        "seed-text",
        "seed-float",
        "seed-negative",
        "dtype-misspelt",
        "dtype-integer",
        "dtype-number",
        "plain-activation",
        "unknown-plain-activation",
        "number-activation",
        "plain-loss",
        "zero-learning-rate",
        "text-learning-rate",
        "bool-learning-rate",
    ],
)
def test_a_malformed_description_is_a_model_file_error(edit, message, tmp_path):
    path = saved(classifier().build(5), tmp_path)
    edit_description(path, edit)
    with pytest.raises(nnkit.ModelFileError, match=message):
        nnkit.load(path)


@pytest.mark.parametrize(
    ("constant", "message"),
    [
        ("NaN", "holds NaN, which JSON does not allow"),
        ("Infinity", "holds Infinity, which JSON does not allow"),
        ("-Infinity", "holds -Infinity, which JSON does not allow"),
        ("1e999", r"beta_1 must be in \[0, 1\), got inf"),
    ],
)
def test_non_finite_numbers_in_the_description_are_refused(constant, message, tmp_path):
    path = saved(classifier().build(5), tmp_path)

    def change(members):
        text = members["model.json"].decode()
        members["model.json"] = text.replace('"beta_1": 0.9', f'"beta_1": {constant}').encode()

    rewrite(path, change)
    assert constant.encode() in zipfile.ZipFile(path).read("model.json")
    with pytest.raises(nnkit.ModelFileError, match=message):
        nnkit.load(path)


def _leaf_paths(value, prefix=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaf_paths(item, (*prefix, key))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from _leaf_paths(item, (*prefix, index))
    yield prefix


@damaged_settings
@given(data=st.data())
def test_any_value_of_a_description_replaced_loads_or_is_a_model_file_error(
    good_model, tmp_path, data
):
    good, predictions = good_model
    path = tmp_path / "candidate.nnkit"
    path.write_bytes(good)
    description = json.loads(zipfile.ZipFile(path).read("model.json"))
    where = data.draw(st.sampled_from([p for p in _leaf_paths(description) if p]), label="path")
    value = data.draw(
        st.none()
        | st.booleans()
        | st.integers(-(2**70), 2**70)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.sampled_from(["relu", "float64", "flaot32", "adam", "", "$component"])
        | st.lists(st.integers(-2, 5), max_size=3)
        | st.dictionaries(st.sampled_from(["$component", "kind", "name"]), st.text(), max_size=2),
        label="value",
    )
    edit_description(path, _set(*where, value))
    try:
        network = nnkit.load(path)
    except nnkit.ModelFileError:
        return
    # Accepted: a value that changes nothing the arrays hold, or an equally valid setting.
    if network.input_shape != X.shape[1:]:  # samples (1, 5) give outputs per position
        samples = np.zeros((2, *network.input_shape))
        assert network.predict(samples).shape == (2, *network.output_shape)
        return
    assert network.predict(X).shape == predictions.shape
