"""The conformance kit: check any component against its interface, as a plugin's tests do.

One call checks one component::

    from nnkit.testing import check_component
    check_component("acme.swish")

and one decorator turns the kit into a pytest parametrisation, one test per component
and check::

    @parametrize_with_checks(["acme.swish", "acme.lion"])
    def test_conformance(component, check):
        check(component)

A failed check raises `AssertionError` naming the check, the component, the
distribution that supplied it, and what was expected against what was found.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from nnkit.registry.origins import normalize_name
from nnkit.registry.registry import default_registry
from nnkit.testing import (
    activation_checks,
    common_checks,
    initializer_checks,
    layer_checks,
    loss_checks,
    merge_checks,
    metric_checks,
    optimizer_checks,
)
from nnkit.testing.harness import LayerHarness
from nnkit.testing.network_gradients import check_network_gradients
from nnkit.testing.subject import Subject, subject_of

__all__ = [
    "Check",
    "LayerHarness",
    "Subject",
    "check_component",
    "check_network_gradients",
    "checked_kind",
    "checks_for",
    "installed_components",
    "parametrize_with_checks",
]

#: The checks of each kind, before the ones every component passes.
KIND_CHECKS: dict[str, Sequence[Callable[[Subject], None]]] = {
    "activation": activation_checks.CHECKS,
    "layer": layer_checks.CHECKS,
    "merge layer": merge_checks.CHECKS,
    "loss": loss_checks.CHECKS,
    "optimizer": optimizer_checks.CHECKS,
    "initializer": initializer_checks.CHECKS,
    "metric": metric_checks.CHECKS,
}


@dataclass(frozen=True)
class Check:
    """One check of the kit; calling it on a `Subject` raises
    `AssertionError` with a full explanation when the component fails."""

    name: str
    function: Callable[[Subject], None]

    @property
    def description(self) -> str:
        """What the check verifies, in a sentence."""
        return " ".join((self.function.__doc__ or "").split())

    def __call__(self, subject: Subject) -> None:
        try:
            self.function(subject)
        except AssertionError as failure:
            raise AssertionError(f"check {self.name} failed for {subject}: {failure}") from None
        except Exception as error:
            raise AssertionError(
                f"check {self.name} failed for {subject}: it raised {type(error).__name__}: {error}"
            ) from error

    def __repr__(self) -> str:
        return self.name


def checks_for(kind: str) -> list[Check]:
    """Every check that applies to a component of ``kind``."""
    functions = [*KIND_CHECKS.get(kind, []), *common_checks.CHECKS]
    return [Check(function.__name__, function) for function in functions]


def check_component(component: Any, kind: str | None = None, exclude: Collection[str] = ()) -> None:
    """Run every check that applies to ``component``: a registry name (``kind`` picks
    one when the name is registered under several kinds), a class, or an instance.

    ``exclude`` names checks to leave out, for a component that deliberately departs
    from one (say so in a comment beside the call). Raises `AssertionError` at
    the first failed check.
    """
    subject = subject_of(component, kind)
    for check in checks_for(checked_kind(subject)):
        if check.name not in exclude:
            check(subject)


def checked_kind(subject: Subject) -> str:
    """The kind whose checks apply: a layer that merges several inputs has its own."""
    if subject.kind == "layer" and getattr(subject.make(), "merges_inputs", False):
        return "merge layer"
    return subject.kind


def _subjects(components: Iterable[Any], kind: str | None) -> Iterator[Subject]:
    for component in components:
        yield component if isinstance(component, Subject) else subject_of(component, kind)


def parametrize_with_checks(
    components: Iterable[Any], kind: str | None = None, exclude: Collection[str] = ()
) -> Any:
    """A ``pytest.mark.parametrize`` over ``(component, check)`` pairs, with ids such
    as ``activation-gelu-activation_gradient``, so that each check is its own test.
    A configured instance's id shows the arguments it departs from the defaults by
    (``optimizer-sgd(momentum=0.9)-optimizer_descends``), so two configurations of
    one component are told apart.

    ``components`` are registry names, classes or instances; the decorated test takes
    ``component`` and ``check`` and calls ``check(component)``.
    """
    import pytest

    cases = []
    for subject in _subjects(components, kind):
        for check in checks_for(checked_kind(subject)):
            if check.name not in exclude:
                cases.append(
                    pytest.param(
                        subject, check, id=f"{subject.kind}-{subject.test_id}-{check.name}"
                    )
                )
    return pytest.mark.parametrize(("component", "check"), cases)


def installed_components(plugins: Collection[str] = ()) -> list[Subject]:
    """Every registered component (only those of ``plugins``, when given, named by
    entry-point or distribution name), as subjects."""
    wanted = {normalize_name(name) for name in plugins}
    return [
        subject_of(info.origin.qualified_name, info.kind)
        for info in default_registry().components()
        if not wanted
        or {normalize_name(info.plugin.name), normalize_name(info.distribution)} & wanted
    ]
