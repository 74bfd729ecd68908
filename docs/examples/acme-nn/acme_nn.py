"""acme-nn: the softsign activation and sign descent, for nnkit."""

import numpy as np

import nnkit


class Softsign(nnkit.Activation):
    """g(z) = z / (1 + |z|), and its derivative g'(z) = 1 / (1 + |z|)^2."""

    def forward(self, Z):
        return Z / (1 + np.abs(Z))

    def derivative(self, Z):
        return 1 / (1 + np.abs(Z)) ** 2


class SignSGD(nnkit.Optimizer):
    """Every parameter moves by learning_rate against the sign of its gradient."""

    def update(self, params, grads, state):
        params -= self.learning_rate * np.sign(grads)


@nnkit.hookimpl
def register_activations(register):
    register("acme.softsign", Softsign)


@nnkit.hookimpl
def register_optimizers(register):
    register("acme.sign_sgd", SignSGD)
