"""``python -m pinfi.protocol``: print the spec's known-answer vectors as JSON."""

from __future__ import annotations

import json
import sys

from pinfi.protocol.vectors import test_vectors


def main() -> None:
    json.dump(test_vectors(), sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
