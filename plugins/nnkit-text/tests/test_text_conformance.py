"""Every layer of nnkit-text passes nnkit's conformance kit."""

from nnkit.testing import installed_components, parametrize_with_checks

COMPONENTS = installed_components(["nnkit-text"])


@parametrize_with_checks(COMPONENTS)
def test_conformance(component, check):
    check(component)


def test_every_layer_of_the_distribution_is_checked():
    names = {(subject.kind, subject.name) for subject in COMPONENTS}
    assert names == {
        ("layer", "layer_norm"),
        ("layer", "rnn"),
        ("layer", "lstm"),
        ("layer", "gru"),
        ("layer", "multi_head_attention"),
        ("layer", "positional_embedding"),
        ("layer", "sinusoidal_embedding"),
        ("layer", "conv1d"),
        ("layer", "global_max_pool1d"),
        ("layer", "global_avg_pool1d"),
        ("layer", "char_tokenizer"),
    }
