"""What a model file records is the component it was built with: its name and supplier,
whatever the load order, aliases, or plugins installed at load time."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import warnings
import zipfile
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

import nnkit
import nnkit.registry.registry
from nnkit.registry.registry import Registry
from nnkit.testing import check_component

X = np.random.default_rng(0).normal(size=(40, 3))
ROOT = Path(__file__).resolve().parent.parent

# A plugin whose "relu" lets a little of the negative side through: a different function
# under the standard name, so a silent swap changes predictions.
CLASH_PLUGIN = """
import nnkit

class LeakyRelu(nnkit.Activation):
    def forward(self, Z, out=None):
        return Z.clip(0) + 0.5 * Z.clip(None, 0)
    def derivative(self, Z):
        return (Z > 0) + 0.5 * (Z <= 0)

@nnkit.hookimpl
def register_activations(register):
    register("relu", LeakyRelu)
"""

DEMO_PLUGIN = """
import nnkit

class Swish(nnkit.Activation):
    def forward(self, Z, out=None):
        return Z / (1 + np.exp(-Z))
    def derivative(self, Z):
        s = 1 / (1 + np.exp(-Z))
        return s + Z * s * (1 - s)

import numpy as np

@nnkit.hookimpl
def register_activations(register):
    register("demo.swish", Swish)
"""

# Registers, under names of its own, a class of the demo plugin and the standard ReLU.
ALIASES_PLUGIN = """
import nnkit
from nnkit_std.activations import ReLU
from {demo_module} import Swish

@nnkit.hookimpl
def register_activations(register):
    register("aliases.swish", Swish)
    register("aliases.relu", ReLU)
"""


def warning_of(caught: pytest.WarningsRecorder, plugin: str) -> warnings.WarningMessage:
    """The one `PluginLoadWarning` about ``plugin`` (others installed may warn too)."""
    (found,) = [w for w in caught if getattr(w.message, "plugin", None) == plugin]
    return found


def registered_module(entry_point: str) -> str:
    """The module an installed entry point of the ``nnkit`` group names."""
    (found,) = metadata.entry_points(group="nnkit", name=entry_point)
    return found.value


def uninstall(tmp_path: Path, distribution: str, version: str = "1.0") -> None:
    """Remove a distribution made by the ``fake_distribution`` fixture, as
    ``pip uninstall`` would remove its metadata."""
    site = tmp_path / "site-packages"
    shutil.rmtree(site / f"{distribution.replace('-', '_')}-{version}.dist-info")


def description(path: Path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("model.json"))


def activation_entries(path: Path) -> list[dict]:
    layers = description(path)["network"]["layers"]
    return [
        layer["config"]["activation"]["$component"]
        for layer in layers
        if layer["config"]["activation"] is not None
    ]


@pytest.fixture
def local_components(monkeypatch):
    """Keep in-process registrations made by a test out of the other tests."""
    monkeypatch.setattr(nnkit.registry.registry, "_local_components", {})


# -- defect 1: a load never swaps in another plugin's component silently ---------------


def test_a_model_whose_supplier_was_uninstalled_names_it_instead_of_loading_another(
    fake_distribution, isolated_registry, tmp_path
):
    fake_distribution("nnkit-clash", CLASH_PLUGIN, entry_point="clash", version="1.0")
    isolated_registry()
    network = nnkit.Network(
        [nnkit.Dense(4, activation="clash:relu"), nnkit.Dense(1)], loss="mse", seed=0
    ).build(3)
    path = tmp_path / "clash.nnkit"
    network.save(path)
    assert activation_entries(path)[0]["plugin"] == "clash"
    assert np.array_equal(nnkit.load(path).predict(X), network.predict(X))

    uninstall(tmp_path, "nnkit-clash")
    isolated_registry()
    assert nnkit.activation("relu")  # the standard relu is there under the same name
    with pytest.raises(nnkit.MissingComponentError) as caught:
        nnkit.load(path)
    error = caught.value
    message = str(error)
    assert "activation 'relu', supplied by nnkit-clash 1.0 (plugin clash)" in message
    assert "pip install nnkit-clash" in message
    assert (
        f"Loaded plugins with an activation 'relu': nnkit_std (nnkit-numpy {nnkit.__version__})."
        in message
    )
    assert "substitute={'relu': 'nnkit_std:relu'}" in message
    assert "\n" not in message
    assert (error.plugin, error.distribution, error.version) == ("clash", "nnkit-clash", "1.0")
    assert error.providers == [f"nnkit_std (nnkit-numpy {nnkit.__version__})"]

    with pytest.warns(nnkit.SubstitutionWarning) as caught_warning:
        substituted = nnkit.load(path, substitute={"relu": "nnkit_std:relu"})
    warning = caught_warning[0]
    assert str(warning.message) == (
        f"{path}: activation 'relu' was saved from plugin clash (nnkit-clash 1.0); loading "
        f"nnkit_std:relu (nnkit-numpy {nnkit.__version__}) in its place, as substitute= asks. "
        "Its results may differ from the saved model's."
    )
    assert warning.filename == __file__  # reported at the caller's line, not nnkit's
    assert type(substituted.layers[0].activation).__name__ == "ReLU"
    assert not np.array_equal(substituted.predict(X), network.predict(X))


def test_a_substitution_key_the_model_does_not_use_is_refused(isolated_registry, tmp_path):
    isolated_registry()
    path = tmp_path / "model.nnkit"
    nnkit.Network([nnkit.Dense(2, activation="tanh")], loss="mse").build(3).save(path)
    with pytest.raises(nnkit.ConfigurationError, match="'rellu', which .* does not use"):
        nnkit.load(path, substitute={"rellu": "relu"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the recorded supplier is loaded: nothing to say
        nnkit.load(path)


def test_a_qualified_substitution_key_replaces_only_that_suppliers_component(
    isolated_registry, tmp_path
):
    isolated_registry()
    path = tmp_path / "model.nnkit"
    nnkit.Network([nnkit.Dense(2, activation="tanh")], loss="mse").build(3).save(path)
    with pytest.warns(nnkit.SubstitutionWarning, match="loading nnkit_std:sigmoid"):
        network = nnkit.load(path, substitute={"nnkit_std:tanh": "sigmoid"})
    assert nnkit.registry.registry.default_registry().name_of(network.layers[0].activation) == "sigmoid"


def test_files_without_a_recorded_supplier_load_by_a_unique_name(isolated_registry, tmp_path):
    isolated_registry()
    path = tmp_path / "model.nnkit"
    network = nnkit.Network([nnkit.Dense(2, activation="tanh")], loss="mse").build(3)
    network.save(path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    text = json.loads(members["model.json"])
    for layer in text["network"]["layers"]:
        for entry in (layer, layer["config"]["activation"]["$component"]):
            for key in ("plugin", "distribution", "version"):
                entry.pop(key)
    members["model.json"] = json.dumps(text).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    assert np.array_equal(nnkit.load(path).predict(X), network.predict(X))


# -- defect 2: the saved name does not depend on load order or aliases ------------------


@pytest.mark.parametrize("aliases_entry_point", ["aaa_aliases", "zzz_aliases"])
def test_aliases_never_change_what_a_model_records(
    fake_distribution, isolated_registry, tmp_path, aliases_entry_point
):
    fake_distribution("demo-nn", DEMO_PLUGIN, entry_point="demo")
    demo_module = registered_module("demo")
    fake_distribution(
        "aliases-nn",
        ALIASES_PLUGIN.format(demo_module=demo_module),
        entry_point=aliases_entry_point,
    )
    registry = isolated_registry()
    assert {"aliases.swish", "aliases.relu"} <= {c.name for c in registry.components()}
    swish_class = sys.modules[demo_module].Swish
    relu_class = type(nnkit.activation("relu"))
    network = nnkit.Network(
        [
            nnkit.Dense(4, activation="demo.swish"),  # by name
            nnkit.Dense(4, activation=swish_class()),  # from the class, aliased elsewhere
            nnkit.Dense(4, activation="relu"),  # by name
            nnkit.Dense(1, activation=relu_class()),  # the standard class, aliased elsewhere
        ],
        loss="mse",
        seed=0,
    ).build(3)
    path = tmp_path / "model.nnkit"
    network.save(path)
    recorded = [(e["name"], e["plugin"], e["distribution"]) for e in activation_entries(path)]
    assert recorded == [
        ("demo.swish", "demo", "demo-nn"),
        ("demo.swish", "demo", "demo-nn"),
        ("relu", "nnkit_std", "nnkit-numpy"),
        ("relu", "nnkit_std", "nnkit-numpy"),
    ]
    uninstall(tmp_path, "aliases-nn")
    isolated_registry()
    assert np.array_equal(nnkit.load(path).predict(X), network.predict(X))


def test_a_component_created_under_an_alias_keeps_the_alias(
    fake_distribution, isolated_registry, tmp_path
):
    fake_distribution("demo-nn", DEMO_PLUGIN, entry_point="demo")
    fake_distribution(
        "aliases-nn",
        ALIASES_PLUGIN.format(demo_module=registered_module("demo")),
        entry_point="aliases",
    )
    isolated_registry()
    path = tmp_path / "model.nnkit"
    nnkit.Network([nnkit.Dense(2, activation="aliases.swish")], loss="mse").build(3).save(path)
    assert activation_entries(path)[0]["name"] == "aliases.swish"
    assert activation_entries(path)[0]["plugin"] == "aliases"


def test_a_class_several_plugins_claim_equally_must_be_created_by_name(
    fake_distribution, isolated_registry, tmp_path
):
    shared = """
    import nnkit
    class Shared(nnkit.Activation):
        def forward(self, Z, out=None):
            return Z
        def derivative(self, Z):
            return Z * 0 + 1
    """
    site = tmp_path / "site-packages"
    site.mkdir(exist_ok=True)
    (site / "shared_activation.py").write_text(textwrap.dedent(shared))
    for prefix in ("one", "two"):
        fake_distribution(
            f"{prefix}-nn",
            "import nnkit\nfrom shared_activation import Shared\n"
            f"@nnkit.hookimpl\ndef register_activations(register):\n"
            f"    register('{prefix}.shared', Shared)\n",
            entry_point=prefix,
        )
    isolated_registry()
    shared_class = sys.modules["shared_activation"].Shared
    network = nnkit.Network([nnkit.Dense(2, activation=shared_class())], loss="mse").build(3)
    with pytest.raises(nnkit.ConfigurationError) as caught:
        network.save(tmp_path / "model.nnkit")
    assert str(caught.value) == (
        "activation Shared is registered as 'one:one.shared', 'two:two.shared', so its class "
        "does not say which name a model file should record; create it by name instead, for "
        "example nnkit.activation('one:one.shared', ...)"
    )
    by_name = nnkit.Network([nnkit.Dense(2, activation="two:two.shared")], loss="mse").build(3)
    by_name.save(tmp_path / "model.nnkit")
    assert activation_entries(tmp_path / "model.nnkit")[0]["plugin"] == "two"
    check_component("two:two.shared")  # the kit's round trip keeps the name it was given
    sys.modules.pop("shared_activation")


# -- defect 3: factories are refused where they are registered -------------------------


def test_a_factory_function_is_refused_at_registration_saying_what_to_register(
    fake_distribution,
):
    fake_distribution(
        "factory-nn",
        """
import nnkit
from nnkit_std.activations import LeakyReLU

def make_leaky(alpha=0.2):
    return LeakyReLU(alpha)

@nnkit.hookimpl
def register_activations(register):
    register("factory.leaky", make_leaky)
""",
    )
    with pytest.warns(nnkit.PluginLoadWarning) as caught:
        registry = Registry.from_entry_points(environ={})
    message = str(warning_of(caught, "factory_nn").message)
    assert (
        "activation 'factory.leaky' is registered with make_leaky, which is not a class; "
        "register the class itself (a subclass of nnkit.Activation)" in message
    )
    assert "register a subclass whose __init__ sets them. The other plugins are loaded" in message
    assert not registry.has("activation", "factory.leaky")
    with pytest.raises(nnkit.InvalidComponentError, match="not a class"):
        nnkit.register("activation", "my.leaky")(lambda: None)


# -- defect 4: components without a package ---------------------------------------------


def test_an_in_process_registration_saves_and_survives_a_reload(
    local_components, isolated_registry, tmp_path
):
    isolated_registry()

    @nnkit.register("activation", "my.cube")
    class Cube(nnkit.Activation):
        def forward(self, Z, out=None):
            return Z**3

        def derivative(self, Z):
            return 3 * Z**2

    info = nnkit.registry.registry.default_registry().get("activation", "my.cube")
    assert (info.plugin.name, info.distribution) == ("local", None)
    network = nnkit.Network([nnkit.Dense(2, activation="my.cube")], loss="mse").build(3)
    path = tmp_path / "model.nnkit"
    network.save(path)
    assert activation_entries(path)[0] == {
        "kind": "activation",
        "name": "my.cube",
        "plugin": "local",
        "distribution": None,
        "version": None,
        "config": {},
    }
    isolated_registry()  # a reload keeps what was registered in-process
    assert np.array_equal(nnkit.load(path).predict(X), network.predict(X))

    @nnkit.register("activation", "my.cube")  # a notebook cell run again replaces it
    class Cube(nnkit.Activation):  # noqa: F811
        def forward(self, Z, out=None):
            return Z**3

        def derivative(self, Z):
            return 3 * Z**2

    assert nnkit.registry.registry.default_registry().get("activation", "my.cube").factory is Cube


def test_a_loss_fuses_only_with_the_activation_it_was_written_for(isolated_registry):
    # Another "softmax" (here a tempered one) shares the name, not the fused gradient
    # (A - Y) / m, which holds only for the standard softmax with cross-entropy.
    isolated_registry()

    @nnkit.register("activation", "softmax")
    class TemperedSoftmax(nnkit.Activation):
        def forward(self, Z, out=None):
            return nnkit.activation("nnkit_std:softmax").forward(2 * Z)

        def backward(self, Z, A, dA, out=None):
            return 2 * A * (dA - (dA * A).sum(axis=-1, keepdims=True))

    standard = type(nnkit.activation("nnkit_std:softmax"))
    nnkit.register("activation", "my.softmax_alias")(standard)

    @nnkit.register("activation", "my.softmax_subclass")
    class Subclass(standard):  # it could change forward: not trusted with the shortcut
        pass

    def gradient_error(activation: str) -> tuple[bool, float]:
        net = nnkit.Network(
            [nnkit.Dense(3, activation=activation)], loss="cross_entropy", dtype="float64",
            seed=1,
        ).build(4)
        rng = np.random.default_rng(0)
        X, Y = rng.normal(size=(5, 4)), np.eye(3)[rng.integers(0, 3, 5)]
        workspace = nnkit.Workspace()
        net.backward(net.forward(X, workspace), Y, workspace)
        analytic = net.store.grads.copy()
        numeric = np.zeros_like(analytic)
        for i in range(len(numeric)):
            for sign in (1, -1):
                net.store.values[i] += sign * 1e-6
                numeric[i] += sign * net.batch_loss(net.forward(X), Y) / 2e-6
                net.store.values[i] -= sign * 1e-6
        return net._fused_output, float(np.abs(analytic - numeric).max())

    fused, error = gradient_error("local:softmax")
    assert not fused and error < 1e-6
    assert gradient_error("nnkit_std:softmax")[0]
    assert gradient_error("my.softmax_alias")[0]  # the same class under another name
    fused, error = gradient_error("my.softmax_subclass")
    assert not fused and error < 1e-6


SCRIPT_HEAD = """
import sys
import numpy as np
import nnkit
"""

SCRIPT_REGISTRATION = """
@nnkit.register("activation", "my.swish")
class Swish(nnkit.Activation):
    def __init__(self, beta=1.0):
        self.beta = beta
    def forward(self, Z, out=None):
        return Z / (1 + np.exp(-self.beta * Z))
    def derivative(self, Z):
        s = 1 / (1 + np.exp(-self.beta * Z))
        return s + self.beta * Z * s * (1 - s)
"""

SCRIPT_SAVE = """
X = np.random.default_rng(0).normal(size=(20, 3))
net = nnkit.Network([nnkit.Dense(4, activation=Swish(beta=1.5)), nnkit.Dense(1)], loss="mse", seed=0)
net.fit(X, X[:, :1], epochs=2, verbose=0)
net.save(sys.argv[1])
np.save(sys.argv[2], net.predict(X))
"""

SCRIPT_LOAD = """
X = np.random.default_rng(0).normal(size=(20, 3))
try:
    net = nnkit.load(sys.argv[1])
except nnkit.MissingComponentError as error:
    print(error)
    sys.exit(3)
assert np.array_equal(net.predict(X), np.load(sys.argv[2]))
assert net.layers[0].activation.beta == 1.5
print("same predictions")
"""


def run_script(tmp_path: Path, source: str, *arguments: str) -> subprocess.CompletedProcess:
    script = tmp_path / "script.py"
    script.write_text(source)
    paths = [str(ROOT), str(ROOT / "plugins"), *sys.path]
    return subprocess.run(
        [sys.executable, str(script), *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": ":".join(paths), "NNKIT_LOAD_PLUGINS": "nnkit_std"},
    )


def test_an_in_process_component_loads_in_a_fresh_process_once_registered_again(tmp_path):
    model, expected = str(tmp_path / "swish.nnkit"), str(tmp_path / "expected.npy")
    saved = run_script(tmp_path, SCRIPT_HEAD + SCRIPT_REGISTRATION + SCRIPT_SAVE, model, expected)
    assert saved.returncode == 0, saved.stderr
    entry = activation_entries(Path(model))[0]
    assert (entry["plugin"], entry["distribution"], entry["config"]) == (
        "local",
        None,
        {"beta": 1.5},
    )

    loaded = run_script(tmp_path, SCRIPT_HEAD + SCRIPT_REGISTRATION + SCRIPT_LOAD, model, expected)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.strip() == "same predictions"

    unregistered = run_script(tmp_path, SCRIPT_HEAD + SCRIPT_LOAD, model, expected)
    assert unregistered.returncode == 3, unregistered.stderr
    assert unregistered.stdout.strip() == (
        f"{model} needs activation 'my.swish', which was registered in the saving process "
        "with nnkit.register (no distribution) and is not registered now. No loaded plugin "
        "has an activation named 'my.swish'. Fix: run the code that defines it, with "
        "@nnkit.register('activation', 'my.swish') above its class, before loading."
    )


def test_a_homemade_class_that_is_not_registered_says_how_to_register_it(tmp_path):
    class Homemade(nnkit.Activation):
        def forward(self, Z, out=None):
            return Z

        def derivative(self, Z):
            return Z * 0 + 1

    network = nnkit.Network([nnkit.Dense(2, activation=Homemade())], loss="mse").build(3)
    with pytest.raises(nnkit.ConfigurationError) as caught:
        network.save(tmp_path / "model.nnkit")
    assert "@nnkit.register('activation', 'my.homemade') above its class" in str(caught.value)


# -- plugin load warnings ------------------------------------------------------------------


def test_a_plugin_load_warning_points_at_the_plugin_and_is_one_line(fake_distribution):
    fake_distribution(
        "broken-nn", "import nnkit\n\nraise ImportError('needs libfoo\\nand libbar')\n"
    )
    module = registered_module("broken_nn")
    with pytest.warns(nnkit.PluginLoadWarning) as caught:
        Registry.from_entry_points(environ={})
    warning = warning_of(caught, "broken_nn")
    assert Path(warning.filename).name == f"{module}.py" and warning.lineno == 3
    assert "\n" not in str(warning.message)
    assert "needs libfoo and libbar" in str(warning.message)
    assert (warning.message.plugin, warning.message.distribution) == ("broken_nn", "broken-nn")


def test_a_plugin_registering_something_invalid_is_reported_at_its_register_call(
    fake_distribution,
):
    fake_distribution(
        "bad-nn",
        "import nnkit\n@nnkit.hookimpl\ndef register_losses(register):\n"
        "    register('bad', dict)\n",
    )
    module = registered_module("bad_nn")
    with pytest.warns(nnkit.PluginLoadWarning) as caught:
        Registry.from_entry_points(environ={})
    warning = warning_of(caught, "bad_nn")
    assert Path(warning.filename).name == f"{module}.py" and warning.lineno == 4


def test_a_failure_inside_a_library_the_plugin_calls_is_reported_at_the_plugin(
    fake_distribution, tmp_path
):
    site = tmp_path / "site-packages"
    site.mkdir(exist_ok=True)
    (site / "helper_library.py").write_text("def boom():\n    raise RuntimeError('boom')\n")
    fake_distribution(
        "calls-nn",
        "import nnkit\nimport helper_library\n@nnkit.hookimpl\n"
        "def register_losses(register):\n    helper_library.boom()\n",
    )
    module = registered_module("calls_nn")
    with pytest.warns(nnkit.PluginLoadWarning) as caught:
        Registry.from_entry_points(environ={})
    warning = warning_of(caught, "calls_nn")
    assert (Path(warning.filename).name, warning.lineno) == (f"{module}.py", 5)
    assert "RuntimeError: boom" in str(warning.message)
    sys.modules.pop("helper_library")


def test_names_explain_the_first_character_and_the_reserved_colon(local_components):
    class Cube(nnkit.Activation):
        def forward(self, Z, out=None):
            return Z**3

        def derivative(self, Z):
            return 3 * Z**2

    with pytest.raises(nnkit.InvalidComponentError, match="':' is reserved"):
        nnkit.register("activation", "my:cube")(Cube)
    with pytest.raises(nnkit.InvalidComponentError, match="first character must be a letter"):
        nnkit.register("activation", "_cube")(Cube)


def test_the_plugin_guide_quotes_the_example_package_whole():
    """The guide reads well as plain Markdown: it shows the example's files in full, not
    through the site's include directive."""
    guide = (ROOT / "docs" / "writing-plugins.md").read_text()
    assert "--8<--" not in guide
    example = ROOT / "docs" / "examples" / "acme-nn"
    for name in ("pyproject.toml", "acme_nn.py", "test_acme_nn.py"):
        source = (example / name).read_text()
        assert f'title="docs/examples/acme-nn/{name}"\n{source}```' in guide, name
