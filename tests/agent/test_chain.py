"""pinfi.chain: shipped ABIs match the compiled contracts; errors decode; connection errors."""

from __future__ import annotations

import json

import pytest
from eth_abi import encode
from eth_utils import function_abi_to_4byte_selector, keccak

from pinfi import chain as ch
from tests.support import agent as ah


def _selectors(abi: list[dict]) -> set[tuple[str, str]]:
    out = set()
    for item in abi:
        if item.get("type") in ("function", "error", "event") and "name" in item:
            out.add((item["type"], function_abi_to_4byte_selector(item).hex()))
    return out


def test_shipped_abis_match_compiled(project):
    project.load_contracts()  # compile first: on a fresh clone .build/ may not exist yet
    compiled = ch.compiled_abis(ah.ROOT / ".build" / "__local__.json")
    assert {"PinToken", "Staking", "PoCPSVerifier"} <= set(compiled)
    for name, abi in compiled.items():
        shipped = ch.load_abi.__wrapped__(name)
        assert shipped == json.loads(json.dumps(abi, sort_keys=True)), (
            f"pinfi/abi/{name}.json is stale: run python -m pinfi.chain export-abi")
        # and against Ape's own view of the contract
        ape_abi = [json.loads(a.model_dump_json(by_alias=True))
                   for a in getattr(project, name).contract_type.abi]
        assert _selectors(shipped) == _selectors(ape_abi)


def test_decode_custom_errors():
    """The one decoder: a custom error's name and arguments by name, require strings, panics."""
    sel = function_abi_to_4byte_selector(
        {"type": "error", "name": "CommitWindowClosed",
         "inputs": [{"type": "uint256"}, {"type": "uint256"}, {"type": "uint256"}]})
    data = "0x" + sel.hex() + (3).to_bytes(32, "big").hex() + (9).to_bytes(32, "big").hex() + \
        (120).to_bytes(32, "big").hex()
    rev = ch.decode_revert(data)
    assert rev is not None and rev.name == "CommitWindowClosed"
    assert rev.args == {"deviceId": 3, "epoch": 9, "deadline": 120}
    assert rev.message == "CommitWindowClosed(deviceId=3, epoch=9, deadline=120)"
    assert rev.data == bytes.fromhex(data[2:])
    err = ch.TxReverted(rev.message, rev)
    assert err.name == "CommitWindowClosed" and str(err) == f"reverted: {rev.message}"
    late = _encode_error("Error(string)", ["string"], ["late"])
    assert ch.decode_revert(late) == ch.Revert("Error", {"message": "late"}, "Error('late')", late)
    panic = ch.decode_revert(_encode_error("Panic(uint256)", ["uint256"], [0x11]))
    assert panic is not None and (panic.name, panic.args) == ("Panic", {"code": 0x11})
    unknown = ch.decode_revert("0x12345678")
    assert unknown is not None and unknown.name == "" and "unknown error" in unknown.message
    assert ch.TxReverted(unknown.message, unknown).name is None
    assert ch.decode_revert(None) is None and ch.decode_revert("0x12") is None


def _encode_error(signature: str, types: list[str], values: list) -> bytes:
    return keccak(text=signature)[:4] + encode(types, values)


def test_connect_errors(chain):
    port = ah.free_port()
    with pytest.raises(ch.RpcUnavailable, match="cannot reach"):
        ch.connect(f"http://127.0.0.1:{port}")
    with pytest.raises(ch.ChainError, match="wrong chain"):
        ch.connect(ah.rpc_uri(chain), expected_chain_id=1)
    w3 = ch.connect(ah.rpc_uri(chain), expected_chain_id=int(chain.chain_id))
    assert w3.eth.chain_id == chain.chain_id


def _sender(chain, project, deployer, tmp_path, replace_after_blocks: int):
    """A fresh system and a TxSender of a fresh operator key: (w3, account, sender, contracts)."""
    from eth_account import Account

    system = ah.deploy(project, chain, deployer)
    key = ah.make_key(tmp_path, "op", deployer)
    w3 = ch.connect(ah.rpc_uri(chain))
    acct = Account.from_key(key.private_key)
    sender = ch.TxSender(w3, acct, priority_fee=1, replace_after_blocks=replace_after_blocks)
    c = ch.load_contracts(w3, ch.Deployment(int(chain.chain_id), system.addresses()))
    return w3, acct, sender, c


def test_txsender_nonce_replacement_and_revert(chain, project, deployer, tmp_path):
    """A stuck transaction (fee below the base fee, automine off) is replaced with bumped fees
    at the same nonce; a reverting call raises a decoded TxReverted and spends no nonce."""
    w3, acct, sender, c = _sender(chain, project, deployer, tmp_path, 2)
    # Revert: commit by a stranger -> decoded, no nonce used.
    nonce0 = sender.sync_nonce()
    with pytest.raises(ch.TxReverted) as exc:
        sender.send(c.verifier.functions.commit(1, 0, b"\x01" * 32), "commit:x")
    assert exc.value.name in ("NotOperator", "UnknownClass", "NotSelected", "EpochNotStarted",
                              "SeedUnavailable", "WrongEpoch")
    assert sender._next_nonce == nonce0
    # Stuck then replaced: sent at base fee 0, then the base fee jumps above its max fee.
    w3.provider.make_request("evm_setAutomine", [False])
    try:
        tx = sender.send(c.verifier.functions.checkpoint(), "checkpoint:t")
        first = tx.hash
        rc = None
        for _ in range(6):
            w3.provider.make_request("anvil_setNextBlockBaseFeePerGas", [hex(10**9)])
            w3.provider.make_request("evm_mine", [])
            rc = sender.poll(tx)
            if rc is not None:
                break
        assert rc is not None and tx.status == "mined", tx
        assert len(tx.hashes) >= 2 and first in tx.hashes
        assert "0x" + bytes(rc["transactionHash"]).hex() != first
        assert w3.eth.get_transaction_count(acct.address) == nonce0 + 1
    finally:
        w3.provider.make_request("evm_setAutomine", [True])


def test_wait_reports_a_dropped_transaction_and_a_timeout(chain, project, deployer, tmp_path):
    """The one waiter: a transaction whose nonce another (unjournaled) transaction of the same
    account took raises TxDropped; one left unmined raises TxTimeout; a mined one returns its
    receipt even when it was mined between the receipt and the nonce lookups."""
    w3, acct, sender, c = _sender(chain, project, deployer, tmp_path, 1000)
    w3.provider.make_request("evm_setAutomine", [False])
    try:
        tx = sender.send(c.verifier.functions.checkpoint(), "checkpoint:a")
        with pytest.raises(ch.TxTimeout, match="not mined in"):
            sender.wait(tx, timeout=0.5, poll_interval=0.1)
        # Another transaction of this account, at the same nonce and a higher fee, takes it.
        w3.provider.make_request("anvil_dropTransaction", [tx.hash])
        other = acct.sign_transaction({
            "type": 2, "chainId": sender.chain_id, "nonce": tx.nonce, "to": acct.address,
            "value": 0, "gas": 21_000, "maxFeePerGas": tx.max_fee * 2,
            "maxPriorityFeePerGas": tx.priority_fee * 2})
        w3.eth.send_raw_transaction(other.raw_transaction)
        w3.provider.make_request("evm_mine", [])
        with pytest.raises(ch.TxDropped, match="replaced by another transaction"):
            sender.wait(tx, timeout=10, poll_interval=0.1)
        assert tx.status == "dropped"
        # Mined after the waiter looked for its receipt: found, not taken for dropped.
        sender.sync_nonce()
        tx2 = sender.send(c.verifier.functions.checkpoint(), "checkpoint:b")
        real = sender._mined

        def mined_late(t: ch.SentTx) -> dict | None:
            rc = real(t)
            if rc is None and not getattr(mined_late, "done", False):
                mined_late.done = True  # type: ignore[attr-defined]
                w3.provider.make_request("evm_mine", [])
            return rc

        sender._mined = mined_late  # type: ignore[method-assign]
        rc = sender.wait(tx2, timeout=10, poll_interval=0.1)
        assert tx2.status in ("mined", "reverted") and rc["blockNumber"] > 0
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
