"""Build hook for the one optional native module; all other metadata is in pyproject.toml.

``pinfi.protocol._sha256batch`` (batch SHA-256 of Merkle leaves and levels, GIL released) makes
the prover's commitment keep pace with the product. It is optional: without a C compiler the
install still succeeds and :mod:`pinfi.protocol.merkle` falls back to hashlib (same roots).
"""

import sys

from setuptools import Extension, setup

_CFLAGS = [] if sys.platform == "win32" else ["-O3", "-std=c99", "-fno-strict-aliasing"]

setup(
    ext_modules=[
        Extension(
            "pinfi.protocol._sha256batch",
            ["pinfi/protocol/_sha256batch.c"],
            extra_compile_args=_CFLAGS,
            optional=True,
        )
    ]
)
