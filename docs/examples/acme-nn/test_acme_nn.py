from nnkit.testing import parametrize_with_checks


@parametrize_with_checks(["acme.softsign", "acme.sign_sgd"])
def test_nnkit_conformance(component, check):
    check(component)
