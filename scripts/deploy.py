"""``ape run deploy``: deploy PinFi, or verify and complete an existing deployment.

A thin Ape entry point: the command and all deploy logic live in :mod:`pinfi_dev.deploy`
(``ape run deploy --help`` for the options; docs/deploy.md for the walkthrough).
"""

from pinfi_dev.deploy import cli

__all__ = ["cli"]
