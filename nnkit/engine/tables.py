"""Plain-text tables, as ``nnkit plugins`` and ``Network.summary()`` print them."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["format_table"]


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]], rule: bool = False) -> str:
    """Left-aligned columns two spaces apart; with ``rule``, a line under the headers."""
    table = [tuple(headers), *(tuple(row) for row in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in table]
    if rule:
        lines.insert(1, "-" * max(len(line) for line in lines))
    return "\n".join(lines)
