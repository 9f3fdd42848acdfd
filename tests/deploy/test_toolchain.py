"""The solc-js shim behaves like native solc for py-solc-x / ape-solidity (no download needed)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import solcx

from pinfi_dev.toolchain import ROOT, SHIM, ToolchainError, install_solc_shim, solcjs_version

REMAPPINGS = [
    "@openzeppelin/contracts=node_modules/@openzeppelin/contracts",
    "@prb/math=node_modules/@prb/math",
]


def _input() -> dict:
    return {
        "language": "Solidity",
        "sources": {"contracts/PinToken.sol": {"urls": ["contracts/PinToken.sol"]}},
        "settings": {
            "remappings": REMAPPINGS,
            "optimizer": {"enabled": True, "runs": 200},
            "evmVersion": "cancun",
            "outputSelection": {"*": {"*": ["evm.bytecode.object", "abi"]}},
        },
    }


# Reference: solc-js's own standard-JSON API, with a plain file-reading import callback.
_REFERENCE_JS = r"""
const fs = require('fs'), path = require('path');
const solc = require(process.argv[1] + '/node_modules/solc');
const input = JSON.parse(fs.readFileSync(0, 'utf8'));
for (const src of Object.values(input.sources)) {
  if (src.urls) {
    src.content = fs.readFileSync(path.join(process.argv[1], src.urls[0]), 'utf8');
    delete src.urls;
  }
}
const read = (p) => {
  try { return { contents: fs.readFileSync(path.join(process.argv[1], p), 'utf8') }; }
  catch (e) { return { error: e.message }; }
};
process.stdout.write(solc.compile(JSON.stringify(input), { import: read }));
"""


@pytest.fixture(scope="module")
def shim(tmp_path_factory) -> Path:
    return install_solc_shim(tmp_path_factory.mktemp("solc-bin"))


def test_version_is_native_format(shim):
    out = subprocess.run([str(shim), "--version"], capture_output=True, text=True, check=True)
    assert f"Version: {solcjs_version()}+commit." in out.stdout
    assert str(solcx.wrapper.get_solc_version(shim)) == solcjs_version()


def test_same_bytecode_as_solcjs_standard_json(shim):
    via_solcx = solcx.compile_standard(_input(), solc_binary=shim, base_path=ROOT)
    ref = subprocess.run(
        ["node", "-e", _REFERENCE_JS, str(ROOT)],
        input=json.dumps(_input()), capture_output=True, text=True, check=True,
    )
    reference = json.loads(ref.stdout)
    assert not [e for e in reference.get("errors", []) if e["severity"] == "error"]
    ours = via_solcx["contracts"]["contracts/PinToken.sol"]["PinToken"]
    theirs = reference["contracts"]["contracts/PinToken.sol"]["PinToken"]
    assert len(ours["evm"]["bytecode"]["object"]) > 1000
    assert ours["evm"]["bytecode"]["object"] == theirs["evm"]["bytecode"]["object"]
    assert ours["abi"] == theirs["abi"]


def test_imports_outside_allowed_roots_are_refused(shim, tmp_path):
    secret = tmp_path / "Outside.sol"
    secret.write_text("pragma solidity ^0.8.0; contract Outside {}")
    src = f'pragma solidity ^0.8.0; import "{secret}"; contract X {{}}'
    inp = {"language": "Solidity", "sources": {"X.sol": {"content": src}},
           "settings": {"outputSelection": {"*": {"*": ["abi"]}}}}
    env = {**os.environ, "PINFI_ROOT": str(ROOT)}
    out = subprocess.run([str(shim), "--standard-json", "--base-path", str(ROOT)],
                         input=json.dumps(inp), capture_output=True, text=True, env=env)
    errors = json.loads(out.stdout)["errors"]
    assert any("not found" in e["message"] for e in errors)


def test_wrong_version_requested_is_a_clear_error():
    with pytest.raises(ToolchainError, match="requested but the npm package"):
        install_solc_shim(Path("/nonexistent"), version="0.8.1")
    env = {**os.environ, "PINFI_SOLC_REQUESTED": "0.8.1"}
    out = subprocess.run(["node", str(SHIM), "--version"], capture_output=True, text=True, env=env)
    assert out.returncode == 2
    assert "solc 0.8.1 was requested" in out.stderr


def test_missing_solc_package_is_a_clear_error(tmp_path):
    lonely = tmp_path / "solc-shim.cjs"
    shutil.copy(SHIM, lonely)
    env = {**os.environ, "PINFI_ROOT": str(tmp_path)}
    out = subprocess.run(["node", str(lonely), "--version"], capture_output=True, text=True,
                         env=env)
    assert out.returncode == 2
    assert 'npm package "solc" is not installed' in out.stderr
    with pytest.raises(ToolchainError, match="not installed"):
        solcjs_version(tmp_path)


def test_missing_node_is_a_clear_error(shim):
    out = subprocess.run(["/bin/sh", str(shim), "--version"], capture_output=True, text=True,
                         env={"PATH": "/nonexistent"})
    assert out.returncode == 2
    assert "Node.js not found" in out.stderr


def test_unknown_option_is_reported(shim):
    out = subprocess.run([str(shim), "--bogus"], capture_output=True, text=True)
    assert out.returncode == 2
    assert "unrecognised option '--bogus'" in out.stderr
