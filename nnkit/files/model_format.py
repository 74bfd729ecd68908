"""The model file's layout: one zip archive holding a JSON description (``model.json``)
and raw ``.npy`` arrays under ``arrays/``, read by `nnkit.files.loading` and written by
`nnkit.files.saving`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import numpy as np

from nnkit.interfaces.layer import walk

if TYPE_CHECKING:
    from nnkit.engine.network import Network

__all__ = ["FORMAT", "FORMAT_VERSION", "CHAIN_FORMAT_VERSION", "DESCRIPTION",
           "ARRAY_DIRECTORY", "MODEL_DTYPES", "MAX_DESCRIPTION_BYTES", "MAX_SAMPLE_ELEMENTS",
           "inner_generators"]

#: What the description's "format" field says of every nnkit model file.
FORMAT: Final = "nnkit-model"
#: The newest format this nnkit reads and writes. Format 2 records the input sample
#: shape (``input_shape``) where format 1 recorded a width (``n_inputs``); format 3 adds
#: the ``graph`` of a network drawn as one (its inputs, its calls and what each reads).
FORMAT_VERSION: Final = 3
#: The format of a network that is a chain of layers, as nnkit 0.2 wrote and reads it:
#: a graph's file says 3, so that a reader that knows no graphs refuses it.
CHAIN_FORMAT_VERSION: Final = 2
#: The archive member holding the JSON description.
DESCRIPTION: Final = "model.json"
#: Arrays are stored as members ``arrays/<name>.npy``.
ARRAY_DIRECTORY: Final = "arrays/"
#: The dtypes a saved network computes in, by the names the writer records.
MODEL_DTYPES: Final = ("float32", "float64")
#: A description larger than this is not a model file anyone wrote.
MAX_DESCRIPTION_BYTES: Final = 16 * 2**20
#: The most elements one sample may have, at the input or the output of any layer, in a
#: loaded model (``nnkit.load(..., max_sample_elements=...)`` changes it). The parameter
#: count does not bound memory: a convolution or a pooling has the same parameters at any
#: image size, so a file edited to a 20000x20000 input would otherwise be trusted.
#: 2**25 (33,554,432) is a 3x3000x3000 image with room to spare.
MAX_SAMPLE_ELEMENTS: Final = 2**25


def inner_generators(network: Network) -> list[np.random.Generator]:
    """The generators layers made for the layers they hold, depth first."""
    return [rng for layer in walk(network.layers) for rng in layer.inner_generators()]
