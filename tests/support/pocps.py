"""Drive real PoCPS challenges from tests: register, wait for epochs, prove, cheat."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pinfi import protocol as proto
from tests.support.constants import CLASS_ID, EPOCH_BLOCKS, MIN_BOND, TEST_CLASS, System

_fingerprints = iter(range(1, 10**9))


def register(system: System, owner, operator, class_id: int = CLASS_ID) -> int:
    """Fund `owner` if needed, bond `MIN_BOND` and register a fresh device; returns its id."""
    if system.token.balanceOf(owner) < MIN_BOND:
        system.token.transfer(owner, MIN_BOND * 10, sender=system.admin)
    system.token.approve(system.staking, MIN_BOND, sender=owner)
    fp = next(_fingerprints).to_bytes(32, "big")
    tx = system.staking.registerDevice(class_id, fp, operator, sender=owner)
    return int(tx.return_value)


def epoch_start(system: System, epoch: int) -> int:
    return system.staking.genesisBlock() + epoch * EPOCH_BLOCKS


def goto_epoch(chain, system: System, epoch: int, offset: int = 1) -> None:
    """Mine until the next block to be mined is `epoch_start(epoch) + offset`."""
    target = epoch_start(system, epoch) + offset
    head = chain.blocks.head.number
    if head + 1 < target:
        chain.mine(target - head - 1)


def next_epoch(chain, system: System) -> int:
    e = system.staking.currentEpoch() + 1
    goto_epoch(chain, system, e)
    return e


def blockhash(chain, number: int) -> bytes:
    return bytes(chain.provider.web3.eth.get_block(number)["hash"])


def tree_for(system: System, device_id: int, epoch: int,
             tamper: Callable[[np.ndarray], None] | None = None) -> proto.MerkleTree:
    """The honest (or `tamper`ed) Merkle tree of `device_id`'s challenge in `epoch`."""
    seed = bytes(system.verifier.epochSeed(epoch))
    s = proto.challenge_seed(seed, device_id, epoch)
    c = proto.product(s, TEST_CLASS["n"])
    if tamper is not None:
        tamper(c)
    return proto.MerkleTree.from_product(c, TEST_CLASS["leaf"], workers=1)


def commit(chain, system: System, device_id: int, operator, epoch: int | None = None,
           tamper: Callable[[np.ndarray], None] | None = None):
    """Checkpoint, compute and commit; returns (tree, receipt)."""
    epoch = system.staking.currentEpoch() if epoch is None else epoch
    if system.verifier.epochSeed(epoch) == b"\x00" * 32:
        system.verifier.checkpoint(sender=operator)
    tree = tree_for(system, device_id, epoch, tamper)
    tx = system.verifier.commit(device_id, epoch, tree.root, sender=operator)
    return tree, tx


def opening(chain, tree: proto.MerkleTree, commit_block: int) -> tuple[bytes, list[bytes], list]:
    """Calldata of `open` for a commit mined in `commit_block`."""
    sseed = proto.sample_seed(blockhash(chain, commit_block), tree.root)
    picks = proto.samples(sseed, tree.n_leaves, TEST_CLASS["k"], TEST_CLASS["leaf"])
    leaves, proof = proto.build_opening(tree, picks)
    return leaves, proof, picks


def checked_strata(chain, tree: proto.MerkleTree, commit_block: int, k: int | None = None,
                   c: int | None = None) -> list[int]:
    """Strata whose samples `open` recomputes for a commit mined in `commit_block`."""
    sseed = proto.sample_seed(blockhash(chain, commit_block), tree.root)
    return proto.checked_strata(sseed, k or TEST_CLASS["k"], c or TEST_CLASS["c"])


def stratum_rows(stratum: int) -> slice:
    """Rows of C covered by one stratum of the test class (leaf-major, whole rows)."""
    per = TEST_CLASS["n"] * TEST_CLASS["n"] // TEST_CLASS["k"] // TEST_CLASS["n"]
    return slice(stratum * per, (stratum + 1) * per)


def commit_until_checked(chain, system: System, owner, operator, want: set[int],
                         tamper: Callable[[np.ndarray], None], tries: int = 40):
    """Register fresh Pending devices and commit `tamper`ed trees, one per epoch, until the
    on-chain check (drawn from the commit block's hash) falls in `want`. Devices whose check
    falls elsewhere are left committed and unopened. Returns (device, epoch, tree, receipt)."""
    for _ in range(tries):
        device = register(system, owner, operator)
        e = next_epoch(chain, system)
        tree, tx = commit(chain, system, device, operator, tamper=tamper)
        if set(checked_strata(chain, tree, tx.block_number)) <= want:
            return device, e, tree, tx
    raise AssertionError("the check never fell in the wanted strata")


def commit_deadline(system: System, epoch: int, class_id: int = CLASS_ID) -> int:
    """The commit deadline block of `epoch` (openings start after it)."""
    return epoch_start(system, epoch) + int(system.verifier.paramsAt(class_id, epoch).commitWindow)


def after_deadline(chain, system: System, epoch: int, class_id: int = CLASS_ID) -> None:
    """Mine until the next block is the first one after the commit deadline (if not past)."""
    target = commit_deadline(system, epoch, class_id) + 1
    head = chain.blocks.head.number
    if head + 1 < target:
        chain.mine(target - head - 1)


def prove(chain, system: System, device_id: int, operator, epoch: int | None = None,
          tamper: Callable[[np.ndarray], None] | None = None):
    """Commit, wait for the commit deadline, open; returns (tree, open receipt, samples)."""
    tree, tx = commit(chain, system, device_id, operator, epoch, tamper)
    epoch = system.staking.currentEpoch() if epoch is None else epoch
    after_deadline(chain, system, epoch)
    leaves, proof, picks = opening(chain, tree, tx.block_number)
    otx = system.verifier.open(device_id, epoch, leaves, proof, sender=operator)
    return tree, otx, picks


def activate(chain, system: System, owner, operator) -> int:
    """Register a device and pass its first challenge: returns an Active device id."""
    device_id = register(system, owner, operator)
    next_epoch(chain, system)
    prove(chain, system, device_id, operator)
    return device_id


def selected_epoch(chain, system: System, device_id: int, operator, want: bool = True,
                   limit: int = 40):
    """Advance epoch by epoch, committing the device's honest root in each, until its
    commitment is (or is not) drawn for opening. Returns (epoch, tree, commit receipt), the
    chain just past the commit deadline (the draw is known)."""
    for _ in range(limit):
        e = next_epoch(chain, system)
        tree, tx = commit(chain, system, device_id, operator)
        after_deadline(chain, system, e)
        chain.mine(1)  # views read blockhash(deadline) once the head is past the deadline
        if bool(system.verifier.mustOpen(device_id, e)) == want:
            return e, tree, tx
    raise AssertionError("selection never matched")


# ---------------------------------------------------------------------------------------------
# Strict revert checks, class overrides and dispute calldata (tests/contracts/test_staking.py,
# tests/contracts/test_verifier.py). Imports are local: this block is appended to a shared module.
# ---------------------------------------------------------------------------------------------


def _norm(value):
    """Comparable form of an error argument (accounts/contracts -> lowercase address)."""
    value = getattr(value, "address", value)
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if isinstance(value, str) and value.startswith("0x"):
        return value.lower()
    return value


def _revert_data(exc) -> bytes | None:
    """Raw revert data of an error ape could not decode (deployments, historical calls)."""
    import re

    data = getattr(getattr(exc, "base_err", None), "data", None)
    if isinstance(data, str) and re.fullmatch(r"0x[0-9a-fA-F]*", data):
        return bytes.fromhex(data[2:])
    msg = exc.revert_message or ""
    if re.fullmatch(r"0x[0-9a-fA-F]*", msg):
        return bytes.fromhex(msg[2:])
    return None


def decode_error(data: bytes, error) -> dict:
    """Check that revert `data` is the custom error `error` (by selector); return its arguments."""
    import eth_abi

    abi = error.abi
    assert data[:4] == proto.keccak(abi.selector.encode())[:4], (
        f"expected {abi.selector}, got selector 0x{data[:4].hex()}")
    values = eth_abi.decode([i.canonical_type for i in abi.inputs], data[4:])
    return {i.name: v for i, v in zip(abi.inputs, values, strict=True)}


def error_args(exc, error) -> dict:
    """Check that `exc` is the custom error `error` (by selector) and return its arguments."""
    from ape.exceptions import CustomError

    abi = error.abi
    if isinstance(exc, CustomError):
        assert exc.abi.selector == abi.selector, f"expected {abi.selector}, got {exc.abi.selector}"
        return dict(exc.inputs)
    data = _revert_data(exc)
    assert data is not None, f"expected {abi.selector}, got an undecodable revert: {exc!r}"
    return decode_error(data, error)


def _check_inputs(error, actual: dict, inputs: dict) -> None:
    for name, want in inputs.items():
        assert name in actual, f"{error.abi.name} has no input {name!r}: {actual}"
        assert _norm(actual[name]) == _norm(want), (
            f"{error.abi.name}.{name}: expected {want!r}, got {actual[name]!r}")


def reverts(error, **inputs):
    """`ape.reverts(error, **inputs)` made strict, for transactions and deployments.

    `ape.reverts` accepts any undecoded revert (deployments), any error when the class comes
    from a container, and silently skips unknown input names. This checks the selector and
    every named input, decoding the raw revert data when ape did not. For an `eth_call` use
    `call_reverts` (ape keeps only a lossy text rendering of a call's revert data).
    """
    from contextlib import contextmanager

    import ape

    @contextmanager
    def _ctx():
        with ape.reverts() as info:
            yield info
        _check_inputs(error, error_args(info.value, error), inputs)

    return _ctx()


def call_reverts(error, method, *args, sender=None, block="latest", **inputs) -> dict:
    """Strict check that the `eth_call` of contract `method` with `args` reverts with `error`."""
    from ape import chain
    from web3.exceptions import ContractLogicError as Web3LogicError

    call = {"to": method.contract.address, "data": "0x" + bytes(method.encode_input(*args)).hex()}
    if sender is not None:
        call["from"] = getattr(sender, "address", sender)
    try:
        chain.provider.web3.eth.call(call, block)
    except Web3LogicError as err:
        data = bytes.fromhex(str(err.data).removeprefix("0x"))
    else:
        raise AssertionError(f"call did not revert (expected {error.abi.selector})")
    actual = decode_error(data, error)
    _check_inputs(error, actual, inputs)
    return actual


def set_proof_class(system: System, class_id: int = CLASS_ID, wait: bool = True,
                    **overrides) -> int:
    """Re-set the PoCPS parameters of `class_id` (TEST_CLASS patched by `overrides`).

    A change of an existing class takes effect `CLASS_DELAY_EPOCHS` later; with `wait` this
    mines up to the first block of that epoch (the next block mined is its start + 1, as after
    `goto_epoch`). Returns the epoch from which the parameters are in force.
    """
    from ape import chain

    from pinfi_dev.deploy import proof_params

    tx = system.verifier.setClass(class_id, proof_params({**TEST_CLASS, **overrides}),
                                  sender=system.admin)
    from_epoch = int(tx.events[0].fromEpoch)
    if wait and system.staking.currentEpoch() < from_epoch:
        goto_epoch(chain, system, from_epoch)
    return from_epoch


def goto_block(chain, number: int) -> None:
    """Mine until the next block to be mined is `number`."""
    head = chain.blocks.head.number
    assert head < number, f"block {number} already mined (head {head})"
    if head + 1 < number:
        chain.mine(number - head - 1)


def dispute_calldata(tree: proto.MerkleTree, picks, q: int) -> tuple[bytes, list[bytes], int]:
    """(leaf, full path, sampled entry index) to dispute sample `q` of an opening."""
    leaf_index, entry_index = picks[q]
    return tree.leaf_bytes(leaf_index), tree.path(leaf_index), entry_index



ADMIN_ROLE = b"\x00" * 32
"""OpenZeppelin's DEFAULT_ADMIN_ROLE."""


def logs(tx, event) -> list[dict]:
    """The decoded arguments of every ``event`` log of ``tx``."""
    return [dict(log.event_arguments) for log in tx.decode_logs(event)]


def check_set_once(contract, name: str, admin, stranger, target, other) -> None:
    """An admin-only, set-once address wiring (``setVerifier``, ``setPool``): a stranger and the
    zero address are refused; the admin's first call sets ``target`` and logs ``<name>Set``;
    every later call reverts ``<name>AlreadySet``, the zero address too (checked first)."""
    from pinfi.types import ZERO_ADDRESS

    setter = getattr(contract, f"set{name}")
    with reverts(contract.AccessControlUnauthorizedAccount, account=stranger,
                 neededRole=ADMIN_ROLE):
        setter(target, sender=stranger)
    with reverts(contract.ZeroAddress):
        setter(ZERO_ADDRESS, sender=admin)
    tx = setter(target, sender=admin)
    assert logs(tx, getattr(contract, f"{name}Set")) == [{name.lower(): target.address}]
    assert getattr(contract, name.lower())() == target.address
    for again in (other, ZERO_ADDRESS):
        with reverts(getattr(contract, f"{name}AlreadySet")):
            setter(again, sender=admin)

def quiet_revert_traces():
    """Context manager: skip ape's call-trace printout on every revert.

    ape enriches and prints the trace of each reverted transaction or call, regenerating its
    test accounts from the mnemonic each time (about 1 s per revert with the pure-Python
    secp256k1 backend); revert decoding is unaffected. `PINFI_SHOW_TRACES=1` keeps them.
    """
    import contextlib
    import os

    import pytest
    from ape_ethereum.trace import Trace

    if os.environ.get("PINFI_SHOW_TRACES"):
        return contextlib.nullcontext()
    mp = pytest.MonkeyPatch()
    mp.setattr(Trace, "show", lambda self, *args, **kwargs: None)

    @contextlib.contextmanager
    def _ctx():
        try:
            yield
        finally:
            mp.undo()

    return _ctx()
