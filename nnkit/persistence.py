"""Model files: one zip archive holding a JSON description and raw ``.npy`` arrays.

Saving is atomic (a temporary file beside the target, then a rename), so a crash or a
full disk never leaves a damaged file where a good one was. Loading reads JSON and
array bytes only, never pickles: components are rebuilt by registry name, so nothing in
a file can make nnkit import or run code. Every way a file can be wrong ends in a
`ModelFileError`.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any, Final

import numpy as np

import nnkit
from nnkit.errors import ModelFileError, NNKitError
from nnkit.network import Network
from nnkit.registry import default_registry
from nnkit.serialization import build_component, check_substitutions, component_spec

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
#: The dtypes an array in a model file may have.
ALLOWED_DTYPES: Final = frozenset(np.dtype(t) for t in ("float32", "float64", "int64", "uint64"))
#: A description larger than this is not a model file anyone wrote.
MAX_DESCRIPTION_BYTES: Final = 16 * 2**20


def save(network: Network, path: str | os.PathLike[str], include_optimizer: bool = True) -> None:
    """Write ``network`` to ``path`` atomically.

    The file holds every component by registry name with its configuration and the
    distribution that supplied it, nnkit's version, the weights, the layers' state and
    the random generators' states, and (with ``include_optimizer``) the optimizer's
    state, so that training resumes exactly where it stopped.
    """
    if not network.built:
        raise nnkit.ConfigurationError(
            "nothing to save yet: the network has no weights; fit it or call build(input_shape)"
        )
    registry = default_registry()
    arrays: dict[str, np.ndarray] = {"parameters": network.store.values}
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
    _atomic_write(Path(path), lambda file: _write_archive(file, text, arrays))


def _write_archive(file: IO[bytes], description: str, arrays: dict[str, np.ndarray]) -> None:
    # Stored, not compressed: an array's size is then bounded by the file's size.
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(DESCRIPTION, description)
        for name, array in arrays.items():
            with archive.open(f"{ARRAY_DIRECTORY}{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(array, order="C"), allow_pickle=False)


def _atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write to a temporary file in the target's folder, then rename it over the target."""
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise FileNotFoundError(f"cannot save to {path}: folder {directory} does not exist")
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load(path: str | os.PathLike[str], *, substitute: Mapping[str, str] | None = None) -> Network:
    """Read a network saved by `Network.save()`.

    Each component is built by the plugin that supplied it when the model was saved,
    never by another plugin that happens to offer the same name. ``substitute`` asks
    for a replacement explicitly: ``substitute={"relu": "nnkit_std:relu"}`` builds the
    standard ``relu`` wherever the file names ``relu`` (a key ``"plugin:relu"`` replaces
    only that plugin's), with a `SubstitutionWarning` saying so.

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
        with zipfile.ZipFile(path) as archive:
            return _read_archive(archive, source, substitute or {})
    except NNKitError:
        raise
    except zipfile.BadZipFile as error:
        raise ModelFileError(
            f"{source} is not an nnkit model file (not a valid archive: {error})"
        ) from None
    except Exception as error:  # the promise: one clear error class, never a deep traceback
        raise ModelFileError(
            f"{source} is damaged or not an nnkit model file ({type(error).__name__}: {error})"
        ) from None


def _read_archive(archive: zipfile.ZipFile, source: str, substitute: Mapping[str, str]) -> Network:
    description = _read_description(archive, source)
    spec = _field(description, "network", dict, source)
    registry = default_registry()
    layers_spec = _field(spec, "layers", list, source)
    if not layers_spec:
        raise ModelFileError(f"{source}: the network has no layers")
    check_substitutions(substitute, spec, source)

    def build(component: Any, kind: str) -> Any:
        return build_component(component, kind, registry, source, substitute)

    network = Network(
        [build(s, "layer") for s in layers_spec],
        loss=build(_field(spec, "loss", dict, source), "loss"),
        optimizer=build(_field(spec, "optimizer", dict, source), "optimizer"),
        seed=spec.get("seed"),
        dtype=_field(spec, "dtype", str, source),
    )
    members = {
        name[len(ARRAY_DIRECTORY) : -len(".npy")]: name
        for name in archive.namelist()
        if name.startswith(ARRAY_DIRECTORY) and name.endswith(".npy")
    }
    if "parameters" not in members:
        raise ModelFileError(f"{source}: the file holds no parameters")
    parameters = _read_array(archive, members.pop("parameters"), source)
    input_shape = _input_shape(spec, source)
    try:
        network.build(input_shape, max_parameters=parameters.size)
    except nnkit.ConfigurationError as error:
        raise ModelFileError(f"{source}: the weights do not fit the network: {error}") from None
    _assign(network.store.values, parameters, "parameters", source)

    for index, layer in enumerate(network.layers):
        state = layer.state()
        _restore(archive, members, f"layers/{index}/", state, f"layer {index + 1}", source)
        layer.load_state(state)
    if description.get("includes_optimizer_state", True):
        _restore(archive, members, "optimizer/", network.optimizer_state, "optimizer", source)
    if members:
        raise ModelFileError(f"{source}: unexpected arrays {sorted(members)}")

    random_state = _field(description, "random_state", dict, source)
    layer_states = _field(random_state, "layers", list, source)
    if len(layer_states) != len(network.layers):
        raise ModelFileError(
            f"{source}: random generator states for {len(layer_states)} layers, but the "
            f"network has {len(network.layers)}"
        )
    try:
        network.shuffle_rng.bit_generator.state = random_state["shuffle"]
        for rng, state in zip(network.layer_rngs, layer_states):
            rng.bit_generator.state = state
    except (TypeError, ValueError, KeyError) as error:
        raise ModelFileError(f"{source}: malformed random generator state: {error}") from None
    metadata = description.get("metadata", {})
    network.metadata = metadata if isinstance(metadata, dict) else {}
    return network


def _restore(
    archive: zipfile.ZipFile,
    members: dict[str, str],
    prefix: str,
    target: dict[str, np.ndarray],
    what: str,
    source: str,
) -> None:
    """Read the arrays under ``prefix`` (taking them out of ``members``) into ``target``,
    which must name exactly the same arrays."""
    found = {
        key[len(prefix) :]: _read_array(archive, members.pop(key), source)
        for key in [k for k in members if k.startswith(prefix)]
    }
    if set(found) != set(target):
        raise ModelFileError(
            f"{source}: the {what} state should hold {sorted(target)}, the file has {sorted(found)}"
        )
    for key, array in found.items():
        _assign(target[key], array, f"{what} {key}", source)


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
        description = json.loads(archive.read(info).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelFileError(
            f"{source}: the model description is not valid JSON ({error})"
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


def _read_array(archive: zipfile.ZipFile, member: str, source: str) -> np.ndarray:
    """One ``.npy`` member, its header checked before any allocation; never unpickles."""
    data = archive.read(member)  # checks the member's CRC
    buffer = io.BytesIO(data)
    try:
        major, _ = np.lib.format.read_magic(buffer)
        read_header = (
            np.lib.format.read_array_header_1_0
            if major == 1
            else np.lib.format.read_array_header_2_0
        )
        shape, fortran_order, dtype = read_header(buffer)
    except ValueError as error:
        raise ModelFileError(f"{source}: array {member} has a damaged header ({error})") from None
    if dtype not in ALLOWED_DTYPES:
        raise ModelFileError(f"{source}: array {member} has unsupported dtype {dtype}")
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if count * dtype.itemsize != len(data) - buffer.tell():
        raise ModelFileError(f"{source}: array {member} is truncated or padded")
    array = np.frombuffer(data, dtype=dtype, count=count, offset=buffer.tell())
    return array.reshape(shape, order="F" if fortran_order else "C").copy()


def _assign(target: np.ndarray, array: np.ndarray, what: str, source: str) -> None:
    if array.shape != target.shape or array.dtype != target.dtype:
        raise ModelFileError(
            f"{source}: {what} has shape {array.shape} and dtype {array.dtype}, but the "
            f"network needs {target.shape} {target.dtype}"
        )
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ModelFileError(f"{source}: {what} contains NaN or infinite values")
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
