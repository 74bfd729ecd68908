"""Checks of an activation: ``g`` and ``g'`` and the contract of the interface."""

from __future__ import annotations

import numpy as np

from nnkit.testing.numeric import assert_close, assert_same_dtype, numeric_gradient
from nnkit.testing.subject import Subject

#: The ``(samples, units)`` shape the activation checks use: samples first, as every
#: interface of nnkit lays out its arrays.
SHAPE = (6, 4)


def sample_Z(seed: int = 0, shape: tuple[int, int] = SHAPE, dtype=np.float64) -> np.ndarray:
    """Weighted inputs spread over [-3, 3], kept away from the kink at 0 of ReLU-likes."""
    Z = np.random.default_rng(seed).normal(scale=1.5, size=shape)
    Z[np.abs(Z) < 1e-2] = 0.5
    return Z.astype(dtype)


def activation_gradient(subject: Subject) -> None:
    """``backward(Z, A, dA)`` equals ``d sum(dA * g(Z)) / dZ`` by central differences."""
    activation = subject.make()
    Z, dA = sample_Z(1), sample_Z(2)
    indices, expected = numeric_gradient(lambda: float(np.sum(dA * activation.forward(Z))), Z)
    found = activation.backward(Z, activation.forward(Z), dA).reshape(-1)[indices]
    assert_close(found, expected, "backward(Z, A, dA) against finite differences")


def activation_out_buffer(subject: Subject) -> None:
    """Results written into the ``out`` buffers the network passes equal fresh results."""
    activation = subject.make()
    Z, dA = sample_Z(3), sample_Z(4)
    A = activation.forward(Z)
    A_out = activation.forward(Z, out=np.empty_like(Z))
    assert_close(A_out, A, "forward(Z, out=buffer)", rtol=1e-12, atol=0)
    dZ = activation.backward(Z, A.copy(), dA)
    dZ_out = activation.backward(Z, A.copy(), dA, out=np.empty_like(Z))
    assert_close(dZ_out, dZ, "backward(Z, A, dA, out=buffer)", rtol=1e-12, atol=0)


def activation_shape_and_dtype(subject: Subject) -> None:
    """``forward`` and ``backward`` keep the shape and the dtype (float32 and float64)."""
    activation = subject.make()
    for dtype in (np.float32, np.float64):
        Z, dA = sample_Z(5, dtype=dtype), sample_Z(6, dtype=dtype)
        A = activation.forward(Z)
        assert_same_dtype(A, np.dtype(dtype), f"forward of a {np.dtype(dtype)} Z")
        if A.shape != Z.shape:
            raise AssertionError(f"forward: expected shape {Z.shape}, found {A.shape}")
        dZ = activation.backward(Z, A, dA)
        assert_same_dtype(dZ, np.dtype(dtype), f"backward of a {np.dtype(dtype)} Z")
        if dZ.shape != Z.shape:
            raise AssertionError(f"backward: expected shape {Z.shape}, found {dZ.shape}")


def activation_inputs_unchanged(subject: Subject) -> None:
    """Neither ``forward`` nor ``backward`` writes into ``Z``, ``A`` or ``dA``."""
    activation = subject.make()
    Z, dA = sample_Z(7), sample_Z(8)
    Z_before, dA_before = Z.copy(), dA.copy()
    A = activation.forward(Z)
    if not np.array_equal(Z, Z_before):
        raise AssertionError("forward(Z) changed Z: compute into a new array or into out")
    A_before = A.copy()
    activation.backward(Z, A, dA)
    for name, array, before in (("Z", Z, Z_before), ("A", A, A_before), ("dA", dA, dA_before)):
        if not np.array_equal(array, before):
            raise AssertionError(f"backward(Z, A, dA) changed {name}")


def activation_samples_independent(subject: Subject) -> None:
    """Each sample (row) is activated on its own: a batch gives the same rows as its
    samples one at a time. An activation that mixes the units of a sample (softmax) must
    do so along the last axis; one that mixes samples, or reads the first axis as the
    units (the column layout of nnkit 0.2), fails here."""
    activation = subject.make()
    Z, dA = sample_Z(9), sample_Z(10)
    A = activation.forward(Z).copy()
    dZ = activation.backward(Z, A, dA).copy()
    for row in range(Z.shape[0]):
        z, da = Z[[row]].copy(), dA[[row]].copy()
        a = activation.forward(z).copy()
        assert_close(a, A[[row]], f"forward of sample {row} alone", rtol=1e-12)
        assert_close(activation.backward(z, a, da), dZ[[row]], f"backward of sample {row} alone")


def activation_in_place(subject: Subject) -> None:
    """With ``in_place`` set, ``forward(Z, out=Z)`` gives the same ``A`` as a fresh
    result, and ``backward`` handed ``A`` in place of ``Z`` the same ``dZ``: the network
    relies on both when it writes ``A`` over ``Z``."""
    activation = subject.make()
    if not activation.in_place:
        return
    Z, dA = sample_Z(11), sample_Z(12)
    A = np.array(activation.forward(Z.copy()), copy=True)
    over = Z.copy()
    A_over = activation.forward(over, out=over)
    assert_close(A_over, A, "forward(Z, out=Z), A written over Z (in_place = True)", rtol=1e-12)
    dZ = np.array(activation.backward(Z, A.copy(), dA), copy=True)
    assert_close(
        activation.backward(A.copy(), A.copy(), dA),
        dZ,
        "backward(A, A, dA), A handed in place of Z (in_place = True); set in_place = False "
        "if backward needs Z itself",
    )


def activation_memory_orders(subject: Subject) -> None:
    """Training hands ``forward`` its ``Z`` as a transposed view of Dense's columns
    (Fortran order), prediction as rows stored a sample after a sample (C order), with an
    ``out`` buffer (or ``Z`` itself, for ``in_place``) in the same order: the results
    agree in either order, and so do ``backward``'s."""
    activation = subject.make()
    Z, dA = sample_Z(13), sample_Z(14)
    A = np.array(activation.forward(Z.copy()), copy=True)
    dZ = np.array(activation.backward(Z, A.copy(), dA), copy=True)
    Z_rows, A_rows, dA_rows = (np.asfortranarray(array) for array in (Z, A, dA))
    for out in (None, np.asfortranarray(np.full_like(Z, np.nan))):
        found = activation.forward(Z_rows.copy(order="F"), out=out)
        where = "" if out is None else ", out=a Fortran-ordered buffer"
        assert_close(found, A, f"forward of a Fortran-ordered Z{where}", rtol=1e-12)
        found = activation.backward(Z_rows, A_rows.copy(order="F"), dA_rows, out=out)
        assert_close(found, dZ, f"backward of Fortran-ordered Z, A, dA{where}", rtol=1e-12)
    if activation.in_place:
        over = Z_rows.copy(order="F")
        found = activation.forward(over, out=over)
        assert_close(found, A, "forward(Z, out=Z) of a Fortran-ordered Z", rtol=1e-12)


def activation_elementwise(subject: Subject) -> None:
    """With ``elementwise`` set, a dense layer in training hands ``forward`` and
    ``backward`` its columns, ``(units, samples)``: the results on the transposed batch
    must be the transposed results. An activation that mixes the units of a sample
    (softmax) or has a parameter per unit must leave ``elementwise`` False."""
    activation = subject.make()
    if not activation.elementwise:
        return
    Z, dA = sample_Z(15), sample_Z(16)
    A = np.array(activation.forward(Z.copy()), copy=True)
    dZ = np.array(activation.backward(Z, A.copy(), dA), copy=True)
    columns = np.ascontiguousarray(Z.T)
    found = activation.forward(columns.copy(), out=np.empty_like(columns))
    assert_close(
        found.T, A, "forward of the transposed batch (elementwise = True); set "
        "elementwise = False for an activation that is not element by element", rtol=1e-12
    )
    found = activation.backward(
        columns, np.ascontiguousarray(A.T), np.ascontiguousarray(dA.T), out=np.empty_like(columns)
    )
    assert_close(found.T, dZ, "backward of the transposed batch (elementwise = True)", rtol=1e-12)


#: In order: a mutated input or a wrong dtype would make the later checks' reports confusing.
CHECKS = [
    activation_inputs_unchanged,
    activation_shape_and_dtype,
    activation_gradient,
    activation_out_buffer,
    activation_samples_independent,
    activation_in_place,
    activation_memory_orders,
    activation_elementwise,
]
