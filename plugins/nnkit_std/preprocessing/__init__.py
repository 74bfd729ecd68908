"""Preprocessing layers: what a model needs to take a raw table and answer in the
target's units, kept inside the model so that every reader of its file gets one answer.

- `Standardize`: ``(x - mean) / std`` per feature, the statistics learnt from data.
- `Impute`: missing cells (NaN) filled with a learnt mean, median or most frequent value,
  optionally with a missing-indicator column per feature.
- `CategoryLookup`: a table's category columns (text or numbers) to integer codes,
  one-hot or for an ``embedding``; as the network's first layer it reads raw cells.
- `RescaleOutput`: a regression's outputs mapped back to the target's units.

What each learns is part of its configuration (plain JSON in the model file), so the
learnt values are saved and loaded with the model. A layer learns them from
``layer.adapt(X)``, or, if never adapted, from the training part of the first ``fit``'s
data (never the validation part). Each replaces its statistics in one assignment, so a
prediction running in another thread sees either the old or the new ones, never a mix.
"""

from nnkit_std.preprocessing.category_lookup import CategoryLookup
from nnkit_std.preprocessing.impute import Impute
from nnkit_std.preprocessing.rescale_output import RescaleOutput
from nnkit_std.preprocessing.standardize import Standardize

__all__ = ["Standardize", "Impute", "CategoryLookup", "RescaleOutput"]
