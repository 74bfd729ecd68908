"""The exceptions and warnings nnkit raises, each naming what went wrong and how to fix it.

Lookup errors subclass `KeyError` and input errors `ValueError`, so code
that already catches the built-in exceptions keeps working.
"""

from __future__ import annotations

__all__ = [
    "NNKitError",
    "DataError",
    "ConfigurationError",
    "UnknownComponentError",
    "ComponentConflictError",
    "InvalidComponentError",
    "PluginLoadWarning",
    "SubstitutionWarning",
    "DivergenceWarning",
    "MissingExtraError",
    "ModelFileError",
    "MissingComponentError",
    "NonFiniteWeightsError",
    "NoOnnxFormError",
]


class NNKitError(Exception):
    """Base class of every error nnkit raises on purpose."""


class DataError(NNKitError, ValueError):
    """Training or prediction data that cannot be used: wrong shape, NaN, bad labels, empty."""


class ConfigurationError(NNKitError, ValueError):
    """A network, layer or training setting that cannot work, caught before any training."""


class NoOnnxFormError(ConfigurationError):
    """A layer or activation that has no ONNX form, met while exporting a network.

    Raised by the default `to_onnx` of the `Layer` and `Activation` interfaces;
    ``component`` is the component without one, so the export can name it once.
    """

    def __init__(self, component: object, message: str | None = None) -> None:
        self.component = component
        super().__init__(
            message
            or f"{type(component).__name__} does not implement to_onnx(graph, x), so the "
            "network cannot be exported"
        )


class UnknownComponentError(NNKitError, KeyError):
    """A component name that no loaded plugin registered.

    Attributes:
        kind: the kind of component looked up ("activation", "optimizer", ...).
        name: the name that was asked for.
        available: the names registered for that kind.
    """

    def __init__(self, message: str, *, kind: str, name: str, available: list[str]) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.name = name
        self.available = available

    def __str__(self) -> str:
        # KeyError would otherwise print the message as a quoted repr.
        return self.message


class ComponentConflictError(NNKitError, ValueError):
    """Two plugins registered the same component name and the user has not picked one.

    Attributes:
        kind: the kind of component.
        name: the contested name.
        suppliers: the plugins that registered it, as "plugin (distribution version)".
    """

    def __init__(self, message: str, *, kind: str, name: str, suppliers: list[str]) -> None:
        super().__init__(message)
        self.kind = kind
        self.name = name
        self.suppliers = suppliers


class ModelFileError(NNKitError, ValueError):
    """A file that cannot be loaded as an nnkit model: not one, truncated, corrupted,
    from a newer format, or with arrays that do not fit its network."""


class NonFiniteWeightsError(NNKitError, ValueError):
    """A network whose weights or state hold NaN or infinity (training diverged), which
    `save` refuses to write unless told otherwise, so a diverged run never replaces a
    good model file."""


class MissingComponentError(ModelFileError, UnknownComponentError):
    """A saved model needs a component whose recorded supplier is not loaded.

    Attributes:
        plugin: the plugin that supplied it when the model was saved.
        distribution: that plugin's distribution (``None`` for a component registered
            in-process, without a package).
        version: that distribution's version then.
        providers: the loaded plugins that offer a component of the same kind and bare
            name, as "plugin (distribution version)"; `nnkit.load`'s ``substitute=``
            can put one of them in its place.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        name: str,
        available: list[str],
        distribution: str | None,
        version: str | None,
        plugin: str | None = None,
        providers: list[str] | None = None,
    ) -> None:
        UnknownComponentError.__init__(self, message, kind=kind, name=name, available=available)
        self.plugin = plugin
        self.distribution = distribution
        self.version = version
        self.providers = providers or []


class InvalidComponentError(NNKitError, TypeError):
    """A plugin tried to register something that does not implement the interface."""


class MissingExtraError(NNKitError, ImportError):
    """A feature needs an optional dependency that is not installed; the message says
    which extra to install."""


class PluginLoadWarning(UserWarning):
    """A plugin could not be loaded; the other plugins still load.

    The warning is reported at the plugin's own code (the line that failed, or its
    module) rather than inside nnkit, and its text is one line.

    Attributes:
        plugin: the plugin's entry-point name.
        distribution: the distribution that ships it, if any.
    """

    def __init__(
        self, message: str, *, plugin: str | None = None, distribution: str | None = None
    ) -> None:
        super().__init__(message)
        self.plugin = plugin
        self.distribution = distribution


class SubstitutionWarning(UserWarning):
    """A model was loaded with another plugin's component in place of the one it was
    saved with, because the caller asked for it (`nnkit.load`'s ``substitute=``)."""


class DivergenceWarning(RuntimeWarning):
    """Training diverged: the loss became NaN or infinite (a learning rate too large,
    unscaled features). Issued once per `fit`, at the first batch it happens."""
