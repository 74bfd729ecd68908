"""Files: model files (saved atomically, loaded without running code from them), the
checked zip reader under them, data files for the command line, and ONNX export."""

from __future__ import annotations

from nnkit.files.loading import read_network
from nnkit.files.saving import save

__all__ = ["read_network", "save"]
