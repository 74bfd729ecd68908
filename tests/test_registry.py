"""Plugin loading through real entry points, from distributions written into tmp_path."""

from __future__ import annotations

import warnings

import pytest

import nnkit
from nnkit.registry.registry import Registry

GOOD_PLUGIN = """
import numpy as np
import nnkit

class Cube(nnkit.Activation):
    def forward(self, Z):
        return Z ** 3
    def derivative(self, Z):
        return 3 * Z ** 2

@nnkit.hookimpl
def register_activations(register):
    register("cube", Cube)
"""

CONFLICTING_PLUGIN = """
import nnkit

class OtherReLU(nnkit.Activation):
    def forward(self, Z):
        return Z.clip(0)
    def derivative(self, Z):
        return (Z > 0) * 1.0

@nnkit.hookimpl
def register_activations(register):
    register("relu", OtherReLU)
"""


def load(**environ) -> Registry:
    return Registry.from_entry_points(environ=environ)


def test_standard_components_come_from_the_nnkit_distribution():
    registry = load()
    info = registry.get("activation", "relu")
    assert (info.plugin.name, info.distribution, info.version) == (
        "nnkit_std",
        "nnkit-numpy",
        nnkit.__version__,
    )
    kinds = {c.kind for c in registry.components()}
    assert kinds == {
        "activation",
        "layer",
        "loss",
        "optimizer",
        "initializer",
        "metric",
        "callback",
        "schedule",
    }
    names = {c.name for c in nnkit.components("activation")}
    assert {"sigmoid", "relu", "tanh", "softmax", "identity", "leaky_relu"} <= names


def test_a_plugin_distribution_adds_components_and_is_recorded(fake_distribution):
    fake_distribution("acme-nn", GOOD_PLUGIN, version="2.3")
    registry = load()
    info = registry.get("activation", "cube")
    assert (info.distribution, info.version) == ("acme-nn", "2.3")
    cube = registry.create("activation", "cube")
    assert cube.forward(2.0) == 8.0
    assert cube.forward(2.0, out=None) == 8.0  # an implementation without `out` accepts it
    assert registry.name_of(cube) == "cube"


def test_two_plugins_claiming_one_name_is_an_error_naming_both(fake_distribution):
    fake_distribution("other-relu", CONFLICTING_PLUGIN, version="0.4")
    registry = load()
    with pytest.raises(nnkit.ComponentConflictError) as caught:
        registry.get("activation", "relu")
    message = str(caught.value)
    assert "nnkit_std (nnkit-numpy " in message and "other_relu (other-relu 0.4)" in message
    assert "NNKIT_DISABLE_PLUGINS" in message
    # The user picks one by qualifying the name with the plugin or distribution.
    assert type(registry.create("activation", "other-relu:relu")).__name__ == "OtherReLU"
    assert type(registry.create("activation", "nnkit_std:relu")).__name__ == "ReLU"
    # ...or by disabling the other plugin.
    assert (
        load(NNKIT_DISABLE_PLUGINS="other-relu").get("activation", "relu").distribution == "nnkit-numpy"
    )


@pytest.mark.parametrize(
    "source, reason",
    [
        ("raise ImportError('needs libfoo')", "needs libfoo"),
        (
            "import nnkit\n@nnkit.hookimpl\ndef register_activations(register):\n    raise RuntimeError('boom')",
            "boom",
        ),
        (
            "import nnkit\n@nnkit.hookimpl\ndef register_activations(register):\n    register('bad', dict)",
            "does not subclass nnkit.Activation",
        ),
        (
            "import nnkit\n@nnkit.hookimpl\ndef register_activation(register):\n    pass",
            "unknown hooks ['register_activation']",
        ),
        ("import nnkit\n@nnkit.hookimpl\ndef register_activations(regster):\n    pass", "regster"),
        (
            "import nnkit\nclass Half(nnkit.Activation):\n    pass\n@nnkit.hookimpl\ndef register_activations(register):\n    register('half', Half)",
            "does not implement forward",
        ),
        (
            "import nnkit\n@nnkit.hookimpl\ndef register_losses(register):\n    register('has space', dict)",
            "not valid",
        ),
    ],
    ids=[
        "import-error",
        "hook-raises",
        "not-an-activation",
        "misspelt-hook",
        "bad-argument",
        "abstract",
        "bad-name",
    ],
)
def test_a_broken_plugin_warns_with_its_name_and_the_rest_load(fake_distribution, source, reason):
    fake_distribution("broken-nn", source, version="0.1")
    fake_distribution("acme-nn", GOOD_PLUGIN)
    with pytest.warns(nnkit.PluginLoadWarning) as caught:
        registry = load()
    message = str(caught[0].message)
    assert "broken_nn (broken-nn 0.1)" in message and reason in message
    assert registry.get("activation", "cube").distribution == "acme-nn"
    assert registry.get("activation", "relu").distribution == "nnkit-numpy"
    assert [f.plugin.distribution for f in registry.failures] == ["broken-nn"]


def test_a_plugin_whose_hook_fails_keeps_none_of_its_components(fake_distribution):
    source = """
import nnkit
from nnkit_std.activations import ReLU
@nnkit.hookimpl
def register_activations(register):
    register("half_done", ReLU)
    raise RuntimeError("late failure")
"""
    fake_distribution("half-nn", source)
    with pytest.warns(nnkit.PluginLoadWarning):
        registry = load()
    with pytest.raises(nnkit.UnknownComponentError, match="Plugins not loaded: half_nn"):
        registry.get("activation", "half_done")


def test_disable_plugins_blocks_by_entry_point_or_distribution_name(fake_distribution):
    fake_distribution("acme-nn", GOOD_PLUGIN)
    for value in ("acme_nn", "acme-nn", "ACME.nn", "other, acme-nn"):
        registry = load(NNKIT_DISABLE_PLUGINS=value)
        assert "cube" not in {c.name for c in registry.components("activation")}
        assert [p.distribution for p in registry.disabled] == ["acme-nn"]
    with pytest.raises(nnkit.UnknownComponentError, match="Plugins not loaded: acme_nn"):
        load(NNKIT_DISABLE_PLUGINS="acme-nn").get("activation", "cube")


def test_load_plugins_is_an_allow_list(fake_distribution):
    fake_distribution("acme-nn", GOOD_PLUGIN)
    only_acme = load(NNKIT_LOAD_PLUGINS="acme-nn")
    assert {c.distribution for c in only_acme.components()} == {"acme-nn"}
    only_std = load(NNKIT_LOAD_PLUGINS="nnkit_std")
    assert {c.distribution for c in only_std.components()} == {"nnkit-numpy"}
    assert load(NNKIT_LOAD_PLUGINS="").components() == []


def test_unknown_names_list_what_is_registered_and_the_closest_match():
    registry = load()
    with pytest.raises(nnkit.UnknownComponentError) as caught:
        registry.get("activation", "rellu")
    error = caught.value
    assert isinstance(error, KeyError)
    assert "Did you mean 'relu'?" in str(error)
    assert "sigmoid" in str(error) and error.available == sorted(error.available)
    with pytest.raises(
        nnkit.UnknownComponentError, match="registered as activation, not optimizer"
    ):
        registry.get("optimizer", "relu")
    with pytest.raises(nnkit.UnknownComponentError, match="kinds are: activation"):
        registry.get("activations", "relu")


def test_unknown_names_fail_where_the_user_names_them():
    with pytest.raises(nnkit.UnknownComponentError, match="Did you mean 'adam'"):
        nnkit.optimizer("adma")
    with pytest.raises(nnkit.UnknownComponentError, match="Did you mean 'relu'"):
        nnkit.Dense(3, activation="reLu")
    with pytest.raises(nnkit.UnknownComponentError, match="Did you mean 'cross_entropy'"):
        nnkit.Network([nnkit.Dense(2)], loss="crossentropy")


def test_an_unknown_name_suggests_reloading_after_a_plugin_was_installed(fake_distribution):
    registry = load()
    with pytest.raises(nnkit.UnknownComponentError) as before:
        registry.get("activation", "cube")
    assert "reload_plugins" not in str(before.value)
    fake_distribution("acme-nn", GOOD_PLUGIN, entry_point="acme")  # pip install, mid-session
    with pytest.raises(nnkit.UnknownComponentError) as after:
        registry.get("activation", "cube")
    assert (
        "Plugins installed since nnkit loaded its plugins: acme; "
        "call nnkit.reload_plugins() to load them." in str(after.value)
    )
    assert load().get("activation", "cube").distribution == "acme-nn"


def test_wrong_arguments_name_the_ones_the_component_takes():
    with pytest.raises(
        nnkit.ConfigurationError, match="It takes: learning_rate, momentum, nesterov"
    ):
        nnkit.optimizer("sgd", learnin_rate=0.1)


def test_resolve_accepts_names_instances_and_classes_and_rejects_the_rest():
    registry = load()
    relu = registry.create("activation", "relu")
    assert registry.resolve("activation", relu) is relu
    assert type(registry.resolve("activation", type(relu))) is type(relu)
    with pytest.raises(nnkit.ConfigurationError, match="expected a loss name"):
        registry.resolve("loss", 42)
    with pytest.raises(nnkit.ConfigurationError, match="expected an activation name"):
        registry.resolve("activation", nnkit.loss("mse"))


def test_plugin_added_in_process_without_a_distribution():
    import types

    module = types.ModuleType("local_components")
    exec(GOOD_PLUGIN, module.__dict__)
    registry = load()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert registry.add_plugin(module, "local")
    assert registry.get("activation", "cube").plugin.describe() == "local"


def test_find_resolves_only_the_recorded_supplier():
    import types

    from nnkit.registry.registry import PluginInfo

    def plugin(name: str) -> types.ModuleType:
        module = types.ModuleType(name)
        exec(GOOD_PLUGIN, module.__dict__)
        return module

    registry = Registry()
    assert registry.add_plugin(plugin("acme_plugin"), PluginInfo("acme", "acme-nn", "1.0"))
    assert registry.add_plugin(plugin("other_plugin"), PluginInfo("other", "other-nn", "2.0"))
    found = registry.find("activation", "cube", "acme", "acme-nn")
    assert found is not None and found.plugin.name == "acme"
    # The distribution renamed its entry point: still the same supplier.
    assert registry.find("activation", "cube", "acme_v2", "ACME_nn").plugin.name == "acme"
    # A plugin of that name from another distribution is not the supplier.
    assert registry.find("activation", "cube", "acme", "clash-nn") is None
    # A file that recorded no distribution (a plugin added by hand) matches by plugin name.
    assert registry.find("activation", "cube", "other", None).plugin.name == "other"
    assert registry.find("activation", "cube", "gone", None) is None
    assert [c.plugin.name for c in registry.providers("activation", "cube")] == [
        "acme",
        "other",
    ]


def test_the_list_of_registered_losses_is_spelt_right():
    with pytest.raises(KeyError) as caught:
        nnkit.loss("msee")
    message = str(caught.value)
    assert "Registered losses: " in message and "losss" not in message
    with pytest.raises(KeyError, match="Registered layers: "):
        nnkit.layer("dnse")
