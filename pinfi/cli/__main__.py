"""``python -m pinfi.cli``: the same as the ``pinfi`` command."""

from .main import main

raise SystemExit(main())
