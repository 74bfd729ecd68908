"""Model files: one zip archive holding a JSON description and raw ``.npy`` arrays.

Saving is atomic (a temporary file beside the target, then a rename), so a crash or a
full disk never leaves a damaged file where a good one was. Loading reads JSON and
array bytes only, never pickles: components are rebuilt by registry name, so nothing in
a file can make nnkit import or run code. Every way a file can be wrong ends in a
`ModelFileError`.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, Final

import numpy as np

import nnkit
from nnkit.atomic_files import write_atomically
from nnkit.component import Component
from nnkit.errors import (
    ConfigurationError,
    ModelFileError,
    NNKitError,
    NonFiniteWeightsError,
)
from nnkit.layers import walk
from nnkit.network import Network
from nnkit.registry import default_registry
from nnkit.safe_archive import check_members, read_array
from nnkit.serialization import (
    COMPONENT_MARKER,
    build_component,
    check_substitutions,
    component_spec,
)

__all__ = ["save", "load", "FORMAT", "FORMAT_VERSION"]

#: What the description's "format" field says of every nnkit model file.
FORMAT: Final = "nnkit-model"
#: The newest format this nnkit reads and the one it writes. Format 2 records the input
#: sample shape (``input_shape``) where format 1 recorded a width (``n_inputs``).
FORMAT_VERSION: Final = 2
#: The archive member holding the JSON description.
DESCRIPTION: Final = "model.json"
#: Arrays are stored as members ``arrays/<name>.npy``.
ARRAY_DIRECTORY: Final = "arrays/"
#: The dtypes a saved network computes in, by the names the writer records.
MODEL_DTYPES: Final = ("float32", "float64")
#: A description larger than this is not a model file anyone wrote.
MAX_DESCRIPTION_BYTES: Final = 16 * 2**20


def save(
    network: Network,
    path: str | os.PathLike[str],
    include_optimizer: bool = True,
    *,
    allow_non_finite: bool = False,
) -> None:
    """Write ``network`` to ``path`` atomically.

    The file holds every component by registry name with its configuration and the
    distribution that supplied it, nnkit's version, the weights, the layers' state and
    the random generators' states, and (with ``include_optimizer``) the optimizer's
    state, so that training resumes exactly where it stopped.

    Weights or state holding NaN or infinity (a diverged run) raise
    `NonFiniteWeightsError` and leave the file at ``path`` as it was, unless
    ``allow_non_finite`` is true; such a file loads only with ``allow_non_finite`` too.
    """
    store = network.store
    if store is None:
        raise nnkit.ConfigurationError(
            "nothing to save yet: the network has no weights; fit it or call build(input_shape)"
        )
    assert network.input_shape is not None, "a built network knows its input shape"
    if not allow_non_finite:
        _refuse_non_finite(network, include_optimizer, path)
    registry = default_registry()
    arrays: dict[str, np.ndarray] = {"parameters": store.values}
    for index, layer in enumerate(network.layers):
        for key, array in layer.state().items():
            arrays[f"layers/{index}/{key}"] = array
    if include_optimizer:
        for key, array in network.optimizer_state.items():
            arrays[f"optimizer/{key}"] = array
    description = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "nnkit_version": nnkit.__version__,
        "network": {
            "input_shape": list(network.input_shape),
            "dtype": network.dtype.name,
            "seed": network.seed,
            "layers": [component_spec("layer", layer, registry) for layer in network.layers],
            "loss": component_spec("loss", network.loss, registry),
            "optimizer": component_spec("optimizer", network.optimizer, registry),
        },
        "random_state": {
            "shuffle": network.shuffle_rng.bit_generator.state,
            "layers": [rng.bit_generator.state for rng in network.layer_rngs],
            "inner_layers": [rng.bit_generator.state for rng in _inner_generators(network)],
        },
        "includes_optimizer_state": include_optimizer,
        "metadata": network.metadata,
        "arrays": {
            name: {"shape": list(array.shape), "dtype": array.dtype.name}
            for name, array in arrays.items()
        },
    }
    try:
        text = json.dumps(description, indent=2, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise nnkit.ConfigurationError(f"the network's metadata cannot be saved: {error}") from None
    write_atomically(Path(path), lambda file: _write_archive(file, text, arrays))


def _refuse_non_finite(network: Network, include_optimizer: bool, path: Any) -> None:
    """Raise `NonFiniteWeightsError` naming the first array that holds NaN or infinity."""
    culprit = None
    store = network.store
    assert store is not None, "save() refuses an unbuilt network first"
    if not np.isfinite(store.values).all():
        bad = int(np.count_nonzero(~np.isfinite(store.values)))
        culprit = f"the weights hold {bad:,} NaN or infinite values"
        for layer, views in zip(network.all_layers, store.value_views):
            name = next((k for k, v in views.items() if not np.isfinite(v).all()), None)
            if name is not None:
                culprit += f" (the first in {name!r} of {_describe(layer)})"
                break
    states = [(f"layer {i + 1}", layer.state()) for i, layer in enumerate(network.layers)]
    if include_optimizer:
        states.append(("the optimizer", network.optimizer_state))
    for owner, state in states:
        for key, array in state.items():
            if culprit is None and array.dtype.kind == "f" and not np.isfinite(array).all():
                culprit = f"{owner}'s state {key!r} holds NaN or infinite values"
    if culprit is not None:
        raise NonFiniteWeightsError(
            f"refusing to save {os.fspath(path)}: {culprit}, so training diverged. Try a "
            "smaller learning_rate, scaled features or clip_norm; any file already there is "
            "left as it was. To save the network anyway (to inspect the run), pass "
            "allow_non_finite=True"
        )


def _describe(component: Any) -> str:
    info = default_registry().info_of(component)
    return f"layer {info.name!r}" if info is not None else type(component).__name__


def _write_archive(file: IO[bytes], description: str, arrays: dict[str, np.ndarray]) -> None:
    # Stored, not compressed: an array's size is then bounded by the file's size, and the
    # loader refuses compressed members.
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(DESCRIPTION, description)
        for name, array in arrays.items():
            with archive.open(f"{ARRAY_DIRECTORY}{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(array, order="C"), allow_pickle=False)


def load(
    path: str | os.PathLike[str],
    *,
    substitute: Mapping[str, str] | None = None,
    allow_non_finite: bool = False,
) -> Network:
    """Read a network saved by `Network.save()`.

    Each component is built by the plugin that supplied it when the model was saved,
    never by another plugin that happens to offer the same name. ``substitute`` asks
    for a replacement explicitly: ``substitute={"relu": "nnkit_std:relu"}`` builds the
    standard ``relu`` wherever the file names ``relu`` (a key ``"plugin:relu"`` replaces
    only that plugin's), with a `SubstitutionWarning` saying so.

    ``allow_non_finite`` accepts weights and state holding NaN or infinity, as saved with
    ``save(path, allow_non_finite=True)`` from a diverged run; by default they are refused.

    Raises:
        FileNotFoundError: there is no file at ``path``.
        MissingComponentError: the model needs a component whose supplier is not loaded;
            the message names it, its distribution and version, and the loaded plugins
            that offer the same name.
        ConfigurationError: ``substitute`` names a component the model does not use.
        ModelFileError: anything else wrong with the file.
    """
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {source}")
    try:
        with open(path, "rb") as file, zipfile.ZipFile(file) as archive:
            check_members(archive, source, os.fstat(file.fileno()).st_size)
            return _read_archive(archive, source, substitute or {}, allow_non_finite)
    except _CallerMistake as mistake:  # the arguments were wrong, not the file
        raise mistake.error from None
    except ModelFileError:
        raise
    except NNKitError as error:  # a setting the components refused, by its own class
        raise ModelFileError(f"{source}: {error}") from None
    except zipfile.BadZipFile as error:
        raise ModelFileError(
            f"{source} is not an nnkit model file (not a valid archive: {error})"
        ) from None
    except Exception as error:  # the promise: one clear error class, never a deep traceback
        raise ModelFileError(
            f"{source} is damaged or not an nnkit model file ({type(error).__name__}: {error})"
        ) from None


def _read_archive(
    archive: zipfile.ZipFile,
    source: str,
    substitute: Mapping[str, str],
    allow_non_finite: bool,
) -> Network:
    description = _read_description(archive, source)
    spec = _field(description, "network", dict, source)
    network = _rebuild(spec, source, substitute)
    members = {
        name[len(ARRAY_DIRECTORY) : -len(".npy")]: name
        for name in archive.namelist()
        if name.startswith(ARRAY_DIRECTORY) and name.endswith(".npy")
    }
    if "parameters" not in members:
        raise ModelFileError(f"{source}: the file holds no parameters")
    parameters = read_array(archive, members.pop("parameters"), source)
    input_shape = _input_shape(spec, source)
    try:
        network.build(input_shape, max_parameters=parameters.size)
    except nnkit.ConfigurationError as error:
        raise ModelFileError(f"{source}: the weights do not fit the network: {error}") from None
    assert network.store is not None, "build() made the parameters"
    _assign(network.store.values, parameters, "parameters", source, allow_non_finite)

    for index, layer in enumerate(network.layers):
        state = layer.state()
        what, prefix = f"layer {index + 1}", f"layers/{index}/"
        found = _restore(archive, members, prefix, state, what, source)
        _check_state(layer, found, what, prefix, source)
        for key, array in found.items():
            _assign(state[key], array, f"{what} {key}", source, allow_non_finite)
        layer.load_state(state)
    if description.get("includes_optimizer_state", True):
        state = network.optimizer_state
        found = _restore(archive, members, "optimizer/", state, "optimizer", source)
        _check_state(network.optimizer, found, "optimizer", "optimizer/", source)
        for key, array in found.items():
            _assign(state[key], array, f"optimizer {key}", source, allow_non_finite)
    if members:
        raise ModelFileError(f"{source}: unexpected arrays {sorted(members)}")

    random_state = _field(description, "random_state", dict, source)
    layer_states = _field(random_state, "layers", list, source)
    if len(layer_states) != len(network.layers):
        raise ModelFileError(
            f"{source}: random generator states for {len(layer_states)} layers, but the "
            f"network has {len(network.layers)}"
        )
    inner_rngs = _inner_generators(network)
    # Files written before inner generators were saved have none: those are left as
    # the build derived them.
    inner_states = random_state.get("inner_layers", [])
    if not isinstance(inner_states, list) or len(inner_states) not in (0, len(inner_rngs)):
        count = len(inner_states) if isinstance(inner_states, list) else repr(inner_states)
        raise ModelFileError(
            f"{source}: random generator states for {count} inner layers, but the "
            f"network's layers hold {len(inner_rngs)} generators"
        )
    try:
        network.shuffle_rng.bit_generator.state = random_state["shuffle"]
        for rng, state in zip([*network.layer_rngs, *inner_rngs], [*layer_states, *inner_states]):
            rng.bit_generator.state = state
    except (TypeError, ValueError, KeyError) as error:
        raise ModelFileError(f"{source}: malformed random generator state: {error}") from None
    metadata = description.get("metadata", {})
    network.metadata = metadata if isinstance(metadata, dict) else {}
    return network


class _CallerMistake(Exception):
    """Carries an error in `load`'s own arguments past the handlers that blame the file."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def _rebuild(spec: dict[str, Any], source: str, substitute: Mapping[str, str]) -> Network:
    """The unbuilt network a description's ``network`` entry names, every setting checked
    by the components themselves; any refusal becomes a `ModelFileError`."""
    registry = default_registry()
    layers_spec = _field(spec, "layers", list, source)
    if not layers_spec:
        raise ModelFileError(f"{source}: the network has no layers")
    try:
        check_substitutions(substitute, spec, source)
    except ConfigurationError as error:
        raise _CallerMistake(error) from None
    loss_spec = _field(spec, "loss", dict, source)
    optimizer_spec = _field(spec, "optimizer", dict, source)
    dtype = _field(spec, "dtype", str, source)
    if dtype not in MODEL_DTYPES:
        raise ModelFileError(
            f"{source}: the description's 'dtype' is {dtype!r}; a model's dtype is one of "
            f"{', '.join(repr(name) for name in MODEL_DTYPES)}"
        )
    try:
        layers = [build_component(s, "layer", registry, source, substitute) for s in layers_spec]
        loss = build_component(loss_spec, "loss", registry, source, substitute)
        optimizer = build_component(optimizer_spec, "optimizer", registry, source, substitute)
        network = Network(
            layers,
            loss=loss,
            optimizer=optimizer,
            seed=spec.get("seed"),
            dtype=dtype,
        )
    except ModelFileError:
        raise
    except (NNKitError, ValueError, TypeError) as error:  # a bad seed or dtype, say
        raise ModelFileError(
            f"{source}: the network it describes cannot be rebuilt: {error}"
        ) from None
    for index, (entry, layer) in enumerate(zip(layers_spec, layers)):
        _refuse_bare_names(entry, layer, f"layer {index + 1}", source)
    _refuse_bare_names(loss_spec, loss, "the loss", source)
    _refuse_bare_names(optimizer_spec, optimizer, "the optimizer", source)
    return network


def _refuse_bare_names(entry: Any, component: Any, where: str, source: str) -> None:
    """Refuse a configuration that names a component by a plain string.

    nnkit writes every component argument as ``{"$component": entry}``, which records the
    plugin that supplied it; a plain string would be looked up by its bare name and could
    silently pick another plugin's component of that name.
    """
    config = entry.get("config", {}) if isinstance(entry, dict) else {}
    for key, value in config.items():
        _refuse_bare_name(value, getattr(component, key, None), f"{where}'s {key!r}", source)


def _refuse_bare_name(value: Any, built: Any, where: str, source: str) -> None:
    if isinstance(built, Component):
        if isinstance(value, str):
            raise ModelFileError(
                f"{source}: {where} is the plain string {value!r}, but a model file names "
                f'a component as {{"{COMPONENT_MARKER}": {{"kind", "name", "plugin", ...}}}}, '
                "recording the plugin that supplied it"
            )
        if isinstance(value, dict) and set(value) == {COMPONENT_MARKER}:
            _refuse_bare_names(value[COMPONENT_MARKER], built, where, source)
    elif isinstance(built, (list, tuple)) and isinstance(value, list):
        for index, (item, built_item) in enumerate(zip(value, built)):
            _refuse_bare_name(item, built_item, f"{where}[{index}]", source)


def _restore(
    archive: zipfile.ZipFile,
    members: dict[str, str],
    prefix: str,
    target: dict[str, np.ndarray],
    what: str,
    source: str,
) -> dict[str, np.ndarray]:
    """Read the arrays under ``prefix`` (taking them out of ``members``), which must name
    exactly the arrays of ``target``."""
    found = {
        key[len(prefix) :]: read_array(archive, members.pop(key), source)
        for key in [k for k in members if k.startswith(prefix)]
    }
    if set(found) != set(target):
        raise ModelFileError(
            f"{source}: the {what} state should hold {sorted(target)}, the file has {sorted(found)}"
        )
    for key, array in found.items():
        if array.shape != target[key].shape or array.dtype != target[key].dtype:
            raise ModelFileError(
                f"{source}: {what} {key} has shape {array.shape} and dtype {array.dtype}, but "
                f"the network needs {target[key].shape} {target[key].dtype}"
            )
    return found


def _check_state(
    component: Any, state: dict[str, np.ndarray], what: str, prefix: str, source: str
) -> None:
    """Let the component refuse state that no training could have produced (its
    ``check_state`` raises `ValueError`)."""
    if not state:
        return
    try:
        component.check_state(state)
    except ValueError as error:
        raise ModelFileError(
            f"{source}: the {what} state (arrays/{prefix}) is impossible: {error}"
        ) from None


def _read_description(archive: zipfile.ZipFile, source: str) -> dict[str, Any]:
    try:
        info = archive.getinfo(DESCRIPTION)
    except KeyError:
        raise ModelFileError(
            f"{source} is not an nnkit model file (it has no {DESCRIPTION})"
        ) from None
    if info.file_size > MAX_DESCRIPTION_BYTES:
        raise ModelFileError(f"{source}: the model description is implausibly large")
    try:
        description = json.loads(
            archive.read(info).decode("utf-8"), parse_constant=_refuse_constant
        )
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelFileError(
            f"{source}: the model description is not valid JSON ({error})"
        ) from None
    except _NonFiniteNumber as error:
        raise ModelFileError(
            f"{source}: the model description holds {error}, which JSON does not allow and "
            "nnkit never writes (every number in a model file is finite)"
        ) from None
    if not isinstance(description, dict) or description.get("format") != FORMAT:
        raise ModelFileError(f"{source} is not an nnkit model file (no '{FORMAT}' format tag)")
    version = description.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(f"{source}: invalid format version {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{source} was written by a newer nnkit ({description.get('nnkit_version')}, "
            f"model format {version}); this nnkit {nnkit.__version__} reads format "
            f"{FORMAT_VERSION} and older: upgrade nnkit to load it"
        )
    return description


class _NonFiniteNumber(Exception):
    """``NaN``, ``Infinity`` or ``-Infinity`` in the description, which Python's JSON
    reader would otherwise accept."""


def _refuse_constant(name: str) -> Any:
    raise _NonFiniteNumber(name)


def _assign(
    target: np.ndarray, array: np.ndarray, what: str, source: str, allow_non_finite: bool
) -> None:
    if array.shape != target.shape or array.dtype != target.dtype:
        raise ModelFileError(
            f"{source}: {what} has shape {array.shape} and dtype {array.dtype}, but the "
            f"network needs {target.shape} {target.dtype}"
        )
    if not allow_non_finite and array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ModelFileError(
            f"{source}: {what} contains NaN or infinite values (the run that saved it "
            "diverged); nnkit.load(path, allow_non_finite=True) loads it anyway, to inspect"
        )
    target[...] = array


def _input_shape(spec: dict[str, Any], source: str) -> tuple[int, ...]:
    """The input sample shape: ``input_shape`` (format 2) or ``n_inputs`` (format 1)."""
    if "input_shape" not in spec:
        return (_field(spec, "n_inputs", int, source),)
    shape = _field(spec, "input_shape", list, source)
    if not shape or not all(type(d) is int and d > 0 for d in shape):
        raise ModelFileError(f"{source}: the description's 'input_shape' is malformed: {shape!r}")
    return tuple(shape)


def _field(mapping: dict[str, Any], key: str, kind: type, source: str) -> Any:
    value = mapping.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ModelFileError(f"{source}: the description's {key!r} is missing or malformed")
    return value


def _inner_generators(network: Network) -> list[np.random.Generator]:
    """The generators layers made for the layers they hold, depth first."""
    return [rng for layer in walk(network.layers) for rng in layer.inner_generators()]
