"""`ape run demo` (`make demo`): PinFi end to end on a fresh local Anvil (see pinfi/demo.py)."""

from pinfi.demo import cli

__all__ = ["cli"]
