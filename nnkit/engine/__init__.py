"""The network and how it runs a pass: building from sample shapes, the one-array
parameter store, the lock that keeps readers apart from optimizer steps, and the
plain-text summary."""

from __future__ import annotations

from nnkit.engine.network import Network, load

__all__ = ["Network", "load"]
