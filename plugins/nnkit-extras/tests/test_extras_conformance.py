"""Every component of nnkit-extras passes nnkit's conformance kit."""

from nnkit.testing import installed_components, parametrize_with_checks

COMPONENTS = installed_components(["nnkit-extras"])


@parametrize_with_checks(COMPONENTS)
def test_conformance(component, check):
    check(component)


def test_every_component_of_the_distribution_is_checked():
    names = {(subject.kind, subject.name) for subject in COMPONENTS}
    assert names == {
        *(("activation", n) for n in ("gelu", "silu", "elu", "selu", "softplus", "mish")),
        *(("optimizer", n) for n in ("rmsprop", "adagrad", "nadam", "lion")),
        ("loss", "huber"),
        ("layer", "batch_norm"),
        ("initializer", "lecun_normal"),
    }
