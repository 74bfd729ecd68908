"""``nnkit plugins``: every registered component, by kind, and who supplied it."""

from __future__ import annotations

import argparse
import json

from nnkit.engine.tables import format_table
from nnkit.registry.registry import default_registry

__all__ = ["plugins_command"]


def plugins_command(args: argparse.Namespace) -> int:
    """``nnkit plugins``: what is registered, by kind, and from where."""
    registry = default_registry()
    rows = [
        {
            "kind": c.kind,
            "name": c.name,
            "plugin": c.plugin.name,
            "distribution": c.distribution,
            "version": c.version,
        }
        for c in registry.components()
    ]
    failures = [
        {
            "plugin": f.plugin.name,
            "distribution": f.plugin.distribution,
            "version": f.plugin.version,
            "error": f.error,
        }
        for f in registry.failures
    ]
    disabled = [p.name for p in registry.disabled]
    if args.json:
        print(json.dumps({"components": rows, "failed": failures, "disabled": disabled}, indent=2))
        return 0
    headers = ("kind", "name", "plugin", "distribution", "version")
    print(format_table(headers, [[str(row[h] or "-") for h in headers] for row in rows]))
    for failure in failures:
        print(
            f"failed to load: {failure['plugin']} ({failure['distribution']} "
            f"{failure['version']}): {failure['error']}"
        )
    if disabled:
        print(f"disabled: {', '.join(disabled)}")
    return 0
