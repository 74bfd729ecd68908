"""The registry under threads: registering, reloading and looking up at once never
loses a component, never doubles one and never fails a lookup of a registered name."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator

import numpy as np
import pytest

import nnkit
import nnkit.registry.registry as registry_module
from nnkit.registry.registry import default_registry, register, reload_plugins

ROUNDS = 600


class Twice(nnkit.Activation):
    def forward(self, Z, out=None):
        return np.multiply(Z, 2, out=out)

    def derivative(self, Z):
        return np.full_like(Z, 2)


@pytest.fixture
def racy(monkeypatch) -> Iterator[None]:
    """Registrations stay in this test; thread switches as often as possible."""
    monkeypatch.setattr(registry_module, "_local_components", {})
    monkeypatch.setattr(registry_module, "_default", None)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)
        monkeypatch.undo()


def run_together(*workers: Callable[[], None]) -> list[BaseException]:
    """Run each worker in its own thread; the errors they raised."""
    errors: list[BaseException] = []

    def guarded(work: Callable[[], None]) -> None:
        try:
            work()
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(work,)) for work in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_re_registering_a_name_never_hides_it_from_lookups_or_loads(racy, tmp_path):
    register("activation", "threads.twice")(Twice)
    path = tmp_path / "twice.nnkit"
    nnkit.Network([nnkit.Dense(2, activation="threads.twice")], loss="mse", seed=0).build(
        3
    ).save(path)

    def re_register() -> None:
        for _ in range(ROUNDS * 5):
            register("activation", "threads.twice")(Twice)

    def look_up() -> None:
        registry = default_registry()
        for _ in range(ROUNDS * 10):
            assert registry.get("activation", "threads.twice").factory is Twice

    def load() -> None:
        for _ in range(ROUNDS // 4):
            nnkit.load(path)

    errors = run_together(re_register, re_register, look_up, load, load)
    assert not errors, errors[:3]


def test_two_threads_registering_one_name_leave_one_registration(racy):
    default_registry()
    for round_ in range(ROUNDS // 3):
        name = f"threads.same{round_}"
        errors = run_together(*[lambda name=name: register("activation", name)(Twice)] * 3)
        assert not errors, errors[:3]
        assert len(default_registry().providers("activation", name)) == 1
        assert isinstance(nnkit.activation(name), Twice)


def test_reloading_while_registering_keeps_every_registration(racy):
    names = [f"threads.reload{i}" for i in range(ROUNDS * 5)]
    registered = threading.Event()

    def register_all() -> None:
        for name in names:
            register("activation", name)(Twice)
        registered.set()

    def reload() -> None:
        for _ in range(50):  # a bound, should registering be quick
            if registered.is_set():
                break
            reload_plugins()

    errors = run_together(register_all, reload, reload)
    assert not errors, errors[:3]
    assert all(default_registry().has("activation", name) for name in names)


def test_the_first_use_while_registering_loads_one_registry(racy, tmp_path):
    path = tmp_path / "relu.nnkit"
    nnkit.Network([nnkit.Dense(2, activation="relu")], loss="mse", seed=0).build(3).save(path)
    registry_module._default = None  # the saving loaded it: start again from nothing
    seen: list[object] = []

    def register_many() -> None:
        for i in range(ROUNDS):
            register("activation", f"threads.first{i}")(Twice)

    def first_load() -> None:
        nnkit.load(path)
        seen.append(default_registry())
        for _ in range(20):
            default_registry().components("activation")

    errors = run_together(register_many, first_load, first_load, first_load)
    assert not errors, errors[:3]
    assert len({id(r) for r in seen}) == 1
    assert all(default_registry().has("activation", f"threads.first{i}") for i in range(ROUNDS))
