"""`ape run demo` (`make demo`): PinFi end to end on a fresh local Anvil (see pinfi_dev/demo.py)."""

from pinfi_dev.demo import cli

__all__ = ["cli"]
