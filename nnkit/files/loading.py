"""Reading model files: one zip archive holding a JSON description and raw ``.npy`` arrays.

Saving is atomic (a temporary file beside the target, then a rename), so a crash or a
full disk never leaves a damaged file where a good one was. Loading reads JSON and
array bytes only, never pickles: components are rebuilt by registry name, so nothing in
a file can make nnkit import or run code. Every way a file can be wrong ends in a
`ModelFileError`.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nnkit.errors import (
    ConfigurationError,
    ModelFileError,
    NNKitError,
)
from nnkit.files.model_format import (
    ARRAY_DIRECTORY,
    DESCRIPTION,
    FORMAT,
    FORMAT_VERSION,
    MAX_DESCRIPTION_BYTES,
    MAX_SAMPLE_ELEMENTS,
    MODEL_DTYPES,
    inner_generators,
)
from nnkit.files.safe_archive import check_members, read_array
from nnkit.files.serialization import (
    COMPONENT_MARKER,
    build_component,
    check_substitutions,
)
from nnkit.interfaces.component import Component
from nnkit.interfaces.symbolic import Input, SymbolicTensor
from nnkit.registry.registry import default_registry
from nnkit.version import __version__

if TYPE_CHECKING:
    from nnkit.engine.network import Network
    from nnkit.interfaces.layer import Layer

__all__ = ["read_network"]


def read_network(
    path: str | os.PathLike[str],
    network_class: type[Network],
    *,
    substitute: Mapping[str, str] | None = None,
    allow_non_finite: bool = False,
    max_sample_elements: int = MAX_SAMPLE_ELEMENTS,
) -> Network:
    """Read a network saved by `Network.save()` as an instance of ``network_class``;
    `nnkit.load()` documents the arguments and errors."""
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {source}")
    try:
        with open(path, "rb") as file, zipfile.ZipFile(file) as archive:
            check_members(archive, source, os.fstat(file.fileno()).st_size)
            return _read_archive(
                archive, source, network_class, substitute or {}, allow_non_finite,
                max_sample_elements,
            )
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
    network_class: type[Network],
    substitute: Mapping[str, str],
    allow_non_finite: bool,
    max_sample_elements: int,
) -> Network:
    description = _read_description(archive, source)
    spec = _field(description, "network", dict, source)
    network = _rebuild(spec, source, network_class, substitute)
    members = {
        name[len(ARRAY_DIRECTORY) : -len(".npy")]: name
        for name in archive.namelist()
        if name.startswith(ARRAY_DIRECTORY) and name.endswith(".npy")
    }
    if "parameters" not in members:
        raise ModelFileError(f"{source}: the file holds no parameters")
    parameters = read_array(archive, members.pop("parameters"), source)
    input_shape = _input_shape(spec, source)
    if math.prod(input_shape) > max_sample_elements:
        raise ModelFileError(
            f"{source}: samples of shape {input_shape} have {math.prod(input_shape):,} "
            f"elements, more than the {max_sample_elements:,} allowed; if the file is "
            "trusted, load it with a larger max_sample_elements"
        )
    try:
        network.build(
            input_shape, max_parameters=parameters.size, max_sample_elements=max_sample_elements
        )
    except ConfigurationError as error:
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
    inner_rngs = inner_generators(network)
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


def _rebuild(
    spec: dict[str, Any], source: str, network_class: type[Network], substitute: Mapping[str, str]
) -> Network:
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
    graph_losses: list[Any] = []
    try:
        layers = [build_component(s, "layer", registry, source, substitute) for s in layers_spec]
        loss = build_component(loss_spec, "loss", registry, source, substitute)
        optimizer = build_component(optimizer_spec, "optimizer", registry, source, substitute)
        if "graph" in spec:
            record = _field(spec, "graph", dict, source)
            inputs, outputs = _drawn_graph(record, layers, source)
            names, graph_losses, weights = _outputs_record(record, len(outputs), source)
            if graph_losses:  # several outputs, each under its own loss
                built = [
                    build_component(s, "loss", registry, source, substitute) for s in graph_losses
                ]
                loss = dict(zip(names, built))
            network = network_class(
                inputs=inputs,
                outputs=dict(zip(names, outputs)),
                loss=loss,
                optimizer=optimizer,
                seed=spec.get("seed"),
                dtype=dtype,
                loss_weights=weights,
            )
            if [id(layer) for layer in network.layers] != [id(layer) for layer in layers]:
                raise ModelFileError(
                    f"{source}: the graph's calls do not use each of its layers in order"
                )
        else:
            network = network_class(
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
        # Files before 0.3.0 have no flag: every layer was trained.
        trainable = entry.get("trainable", True) if isinstance(entry, dict) else True
        if not isinstance(trainable, bool):
            raise ModelFileError(
                f"{source}: layer {index + 1}'s 'trainable' is {trainable!r}; it must be "
                "true or false"
            )
        layer.trainable = trainable
        multiplier = entry.get("learning_rate_multiplier", 1.0) if isinstance(entry, dict) else 1.0
        try:
            layer.learning_rate_multiplier = multiplier
        except ConfigurationError as error:
            raise ModelFileError(f"{source}: layer {index + 1}: {error}") from None
        # Files before 0.3.0 have no names: their layers get the names a build assigns.
        # ("name" is the registry name of the entry's component.)
        name = entry.get("layer_name") if isinstance(entry, dict) else None
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise ModelFileError(
                f"{source}: layer {index + 1}'s 'layer_name' is {name!r}; it must be a non-empty "
                "string"
            )
        layer.name = name
    try:
        network.layer_names  # noqa: B018 - refuses two layers of one name
    except ConfigurationError as error:
        raise ModelFileError(f"{source}: {error}") from None
    if isinstance(loss, dict):  # several outputs: each one's loss, as the graph records
        for (name, each), entry in zip(loss.items(), graph_losses):
            _refuse_bare_names(entry, each, f"the loss of output {name!r}", source)
    else:
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
            f"model format {version}); this nnkit {__version__} reads format "
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


def _outputs_record(
    record: dict[str, Any], count: int, source: str
) -> tuple[list[str], list[Any], list[float] | None]:
    """The outputs' names, loss specs and loss weights a graph records (files before
    several outputs record none: one output, ``output_1``, under the file's loss)."""
    names = record.get("output_names", [f"output_{k + 1}" for k in range(count)])
    if (
        not isinstance(names, list)
        or len(names) != count
        or not all(isinstance(name, str) and name for name in names)
        or len(set(names)) != count
    ):
        raise ModelFileError(f"{source}: the graph's output names are malformed: {names!r}")
    if count == 1:
        return names, [], None
    losses, weights = record.get("losses"), record.get("loss_weights")
    if not isinstance(losses, list) or len(losses) != count:
        raise ModelFileError(
            f"{source}: the graph has {count} outputs but records no loss for each of them"
        )
    if (
        not isinstance(weights, list)
        or len(weights) != count
        or not all(type(w) in (int, float) for w in weights)
    ):
        raise ModelFileError(f"{source}: the graph's loss weights are malformed: {weights!r}")
    return names, losses, [float(w) for w in weights]


def _drawn_graph(
    record: dict[str, Any], layers: list[Layer], source: str
) -> tuple[list[SymbolicTensor], list[SymbolicTensor]]:
    """The inputs and outputs of the graph a format-3 file records
    (`nnkit.files.saving.graph_record`), drawn again with the file's layers."""
    inputs = [
        Input(tuple(_field(entry, "shape", list, source)), _field(entry, "name", str, source))
        for entry in _field(record, "inputs", list, source)
    ]
    values = list(inputs)
    for number, call in enumerate(_field(record, "calls", list, source)):
        index, reads = call if isinstance(call, list) and len(call) == 2 else (None, None)
        if (
            type(index) is not int
            or not 0 <= index < len(layers)
            or not isinstance(reads, list)
            or not reads
            or not all(type(slot) is int and 0 <= slot < len(values) for slot in reads)
        ):
            raise ModelFileError(f"{source}: call {number + 1} of the graph is malformed: {call!r}")
        read = [values[slot] for slot in reads]
        values.append(layers[index](read if len(read) > 1 else read[0]))
    outputs = _field(record, "outputs", list, source)
    if not outputs or not all(type(slot) is int and 0 <= slot < len(values) for slot in outputs):
        raise ModelFileError(f"{source}: the graph's outputs are malformed: {outputs!r}")
    return inputs, [values[slot] for slot in outputs]


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
