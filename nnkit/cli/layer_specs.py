"""``--layers``: the hidden layers of ``nnkit train`` as a short comma-separated text.

Each item is a registered layer name with its arguments after colons, positional ones in
the order of the layer's parameters and keyword ones as ``key=value``:
``conv2d:16:3,max_pool2d:2,flatten,dense:64,dropout:rate=0.2``. A plain integer is the
units of a dense layer, so ``64,32`` is two dense layers, and a shape is written with
``x``: ``reshape:1x8x8`` turns the flat digits into one-channel 8x8 images.

The registry's errors speak Python; this module says the same things in the spelling
of ``--layers``, and names the first-party distribution that provides a layer the
environment lacks.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import re
from typing import Any, Final, NamedTuple

from nnkit.errors import ConfigurationError
from nnkit.interfaces.layer import Layer
from nnkit.registry.registry import default_registry

__all__ = ["LayerSpec", "parse_layers", "build_layers", "cli_spelling", "FIRST_PARTY_LAYERS"]

#: A layer name as the registry spells names.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]*$")
#: A shape written ``8x8`` or ``1x8x8``.
_SHAPE = re.compile(r"\d+(x\d+)+$")
_CONSTANTS = {"true": True, "false": False, "none": None}
#: Layers of nnkit's own plugin distributions, which are installed separately, and
#: where each distribution lies in a checkout of nnkit: an unknown layer of this table
#: is answered with the command that installs it. (Paths, not module names: the core
#: names no plugin package, it only tells the user where one is.)
FIRST_PARTY_LAYERS: Final = {
    "conv2d": "plugins/nnkit-vision",
    "max_pool2d": "plugins/nnkit-vision",
    "avg_pool2d": "plugins/nnkit-vision",
    "global_avg_pool2d": "plugins/nnkit-vision",
    "global_max_pool2d": "plugins/nnkit-vision",
    "conv2d_transpose": "plugins/nnkit-vision",
    "upsampling2d": "plugins/nnkit-vision",
    "zero_padding2d": "plugins/nnkit-vision",
    "cropping2d": "plugins/nnkit-vision",
    "spatial_dropout2d": "plugins/nnkit-vision",
    "random_flip": "plugins/nnkit-vision",
    "random_crop": "plugins/nnkit-vision",
    "random_translation": "plugins/nnkit-vision",
    "random_rotation": "plugins/nnkit-vision",
    "random_noise": "plugins/nnkit-vision",
    "batch_norm": "plugins/nnkit-extras",
    "layer_norm": "plugins/nnkit-text",
    "rnn": "plugins/nnkit-text",
    "lstm": "plugins/nnkit-text",
    "gru": "plugins/nnkit-text",
    "multi_head_attention": "plugins/nnkit-text",
    "positional_embedding": "plugins/nnkit-text",
    "sinusoidal_embedding": "plugins/nnkit-text",
    "conv1d": "plugins/nnkit-text",
    "global_max_pool1d": "plugins/nnkit-text",
    "global_avg_pool1d": "plugins/nnkit-text",
    "char_tokenizer": "plugins/nnkit-text",
}
#: A Python shape in a layer's error message, such as ``reshape((1, 8, 8))``.
_PYTHON_RESHAPE = re.compile(r"reshape\(\(([^()]*)\)\)")


class LayerSpec(NamedTuple):
    """One item of ``--layers``: the layer's registry name and its arguments."""

    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    text: str


def parse_value(text: str) -> Any:
    """An argument's value: an int, a float, ``true``/``false``/``none``, a shape such
    as ``3x3`` (a tuple of ints), or else the text itself (an activation's name)."""
    lowered = text.lower()
    if lowered in _CONSTANTS:
        return _CONSTANTS[lowered]
    if _SHAPE.match(text):
        return tuple(int(part) for part in text.split("x"))
    for number in (int, float):
        try:
            return number(text)
        except ValueError:
            pass
    return text


def parse_layers(text: str) -> list[LayerSpec]:
    """Parse ``--layers`` (an argparse ``type``): a usage error for a malformed item."""
    specs = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            raise argparse.ArgumentTypeError(
                f"--layers has an empty item in {text!r}; separate layers with single "
                "commas, such as 64,32"
            )
        specs.append(_parse_item(item, text))
    return specs


def _parse_item(item: str, text: str) -> LayerSpec:
    if re.fullmatch(r"[+-]?\d+", item):
        units = int(item)
        if units < 1:
            raise argparse.ArgumentTypeError(f"--layers: layer sizes must be positive; got {item}")
        return LayerSpec("dense", (units,), {}, item)
    name, *parts = item.split(":")
    if not _NAME.match(name):
        raise argparse.ArgumentTypeError(
            f"--layers takes layer sizes (64,32) or layer names with arguments "
            f"(dense:64,dropout:0.2); {item!r} in {text!r} is neither"
        )
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for part in parts:
        key, equals, value = part.partition("=")
        if not equals:
            if kwargs:
                raise argparse.ArgumentTypeError(
                    f"--layers {item}: positional argument {part!r} after a keyword one"
                )
            if not part:
                raise argparse.ArgumentTypeError(f"--layers {item}: an empty argument")
            args.append(parse_value(part))
        elif not key.isidentifier() or key in kwargs:
            raise argparse.ArgumentTypeError(
                f"--layers {item}: {part!r} is not a keyword argument of the form name=value"
            )
        else:
            kwargs[key] = parse_value(value)
    return LayerSpec(name, tuple(args), kwargs, item)


def build_layers(specs: list[LayerSpec], activation: str) -> list[Layer]:
    """Create the layers; a layer that takes an ``activation`` and was given none gets
    ``activation`` (``--activation``)."""
    registry = default_registry()
    layers = []
    for spec in specs:
        source = FIRST_PARTY_LAYERS.get(spec.name)
        distribution = source.rpartition("/")[2] if source else ""
        if source and not registry.has("layer", spec.name) and not _installed(distribution):
            raise ConfigurationError(
                f"--layers {spec.text}: layer {spec.name!r} comes with the {distribution} "
                f"plugin, which is not installed; install it from a checkout of nnkit with "
                f"pip install ./{source}"
            )
        info = registry.get("layer", spec.name)
        parameters = [
            p
            for p in (info.signature.parameters.values() if info.signature else [])
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        ]
        positional = [p.name for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD]
        args = _shape_from_numbers(spec, positional)
        if len(args) > len(positional):
            shape_hint = (
                "; write a shape with x, such as reshape:1x8x8" if "shape" in positional else ""
            )
            raise ConfigurationError(
                f"--layers {spec.text}: layer {spec.name!r} takes at most {len(positional)} "
                f"positional arguments ({', '.join(positional) or 'none'}), got "
                f"{len(args)}{shape_hint}"
            )
        kwargs = dict(zip(positional, args))
        repeated = sorted(set(kwargs) & set(spec.kwargs))
        if repeated:
            raise ConfigurationError(
                f"--layers {spec.text}: {', '.join(repeated)} given twice, by position and by name"
            )
        kwargs.update(spec.kwargs)
        if "activation" not in kwargs and any(p.name == "activation" for p in parameters):
            kwargs["activation"] = activation
        try:
            layers.append(registry.create("layer", spec.name, **kwargs))
        except (ConfigurationError, ValueError, TypeError) as error:
            raise ConfigurationError(f"--layers {spec.text}: {error}") from None
    return layers


def _installed(distribution: str) -> bool:
    """Whether ``distribution`` is installed (if it is but its layers are missing, it was
    disabled or failed to load, which the registry's own error explains)."""
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _shape_from_numbers(spec: LayerSpec, positional: list[str]) -> tuple[Any, ...]:
    """``reshape:1:8:8`` read as ``reshape:1x8x8``: a layer whose only positional
    parameter is a shape takes its integers as that one shape."""
    if (
        positional == ["shape"]
        and len(spec.args) > 1
        and all(isinstance(a, int) and not isinstance(a, bool) for a in spec.args)
    ):
        return (tuple(spec.args),)
    return spec.args


def cli_spelling(message: str) -> str:
    """A layer's error message with its Python advice in the spelling of ``--layers``:
    ``reshape((1, 8, 8))`` becomes ``reshape:1x8x8`` placed first in ``--layers``."""

    def spelled(match: re.Match[str]) -> str:
        parts = [part.strip() for part in match.group(1).split(",") if part.strip()]
        if all(part.isdigit() for part in parts):
            shape = "x".join(parts)
        else:  # named dimensions, such as (channels, height, width)
            shape = "x".join(part[:1].upper() for part in parts)
        return f"reshape:{shape} first in --layers"

    return _PYTHON_RESHAPE.sub(spelled, message)
