"""``python -m nnkit``: the same as the ``nnkit`` command."""

from nnkit.cli import main

raise SystemExit(main())
