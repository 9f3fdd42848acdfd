"""Write the solc standard-JSON input Slither analyses the contracts from.

Slither (through crytic-compile's ``--solc-standard-json``) runs the project's solc-js shim,
which speaks only standard JSON. The settings must match what Ape compiles with
(``ape-config.yaml``: remappings, optimizer, ``viaIR``): without ``viaIR`` the pool does not
compile ("Stack too deep"). Reading them from ``ape-config.yaml`` keeps one source of truth.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml


def standard_json(root: Path) -> dict[str, Any]:
    """Standard-JSON input for every contract under ``contracts/`` with Ape's settings."""
    config = yaml.safe_load((root / "ape-config.yaml").read_text())
    solidity = config.get("solidity", {})
    folder = root / config.get("contracts_folder", "contracts")
    sources = {
        str(path.relative_to(root)): {"urls": [str(path.relative_to(root))]}
        for path in sorted(folder.rglob("*.sol"))
        if ".cache" not in path.parts
    }
    remappings = [
        f"{entry.split('=', 1)[0].rstrip('/')}/={entry.split('=', 1)[1].rstrip('/')}/"
        for entry in solidity.get("import_remapping", [])
    ]
    return {
        "language": "Solidity",
        "sources": sources,
        "settings": {
            "remappings": remappings,
            "optimizer": {
                "enabled": bool(solidity.get("optimize", True)),
                "runs": int(solidity.get("optimization_runs", 200)),
            },
            "viaIR": bool(solidity.get("via_ir", False)),
            "evmVersion": solidity.get("evm_version", "cancun"),
            "outputSelection": {
                "*": {"*": ["abi", "evm.bytecode", "evm.deployedBytecode"], "": ["ast"]},
            },
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="project root")
    parser.add_argument("--out", type=Path, required=True, help="where to write the JSON")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(standard_json(args.root.resolve()), indent=1))


if __name__ == "__main__":
    main()
