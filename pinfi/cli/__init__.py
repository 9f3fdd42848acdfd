"""The ``pinfi`` client command (``[project.scripts]``; docs/delivery.md#cli).

Runtime code: standard library argparse, the SDK and :mod:`pinfi.delivery`; no developer tool
(tests/deploy/test_runtime_imports.py).
"""

from .main import main

__all__ = ["main"]
