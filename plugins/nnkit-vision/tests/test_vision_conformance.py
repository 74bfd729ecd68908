"""Every layer of nnkit-vision passes nnkit's conformance kit."""

from nnkit.testing import installed_components, parametrize_with_checks

COMPONENTS = installed_components(["nnkit-vision"])


@parametrize_with_checks(COMPONENTS)
def test_conformance(component, check):
    check(component)


def test_every_layer_of_the_distribution_is_checked():
    names = {(subject.kind, subject.name) for subject in COMPONENTS}
    assert names == {
        ("layer", "conv2d"),
        ("layer", "max_pool2d"),
        ("layer", "avg_pool2d"),
        ("layer", "global_avg_pool2d"),
        ("layer", "global_max_pool2d"),
        ("layer", "zero_padding2d"),
        ("layer", "cropping2d"),
        ("layer", "upsampling2d"),
        ("layer", "conv2d_transpose"),
        ("layer", "spatial_dropout2d"),
        ("layer", "random_flip"),
        ("layer", "random_crop"),
        ("layer", "random_translation"),
        ("layer", "random_rotation"),
        ("layer", "random_noise"),
    }
