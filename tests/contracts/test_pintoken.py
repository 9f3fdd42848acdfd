"""PinToken: cap, mint authorization, burn and EIP-2612 permit on a real Anvil."""

from __future__ import annotations

import ape
from eth_account import Account

from pinfi.chain.permit import sign_permit
from tests.support.constants import GENESIS, MAX_SUPPLY


def test_genesis_and_metadata(token, deployer):
    assert token.name() == "PinFi Token"
    assert token.symbol() == "PIN"
    assert token.cap() == MAX_SUPPLY
    assert token.totalSupply() == GENESIS
    assert token.balanceOf(deployer) == GENESIS


def test_mint_requires_minter_role(token, deployer, alice):
    with ape.reverts(token.AccessControlUnauthorizedAccount):
        token.mint(alice, 1, sender=alice)
    role = token.MINTER_ROLE()
    with ape.reverts(token.AccessControlUnauthorizedAccount):
        token.grantRole(role, alice, sender=alice)
    token.grantRole(role, alice, sender=deployer)
    token.mint(alice, 5, sender=alice)
    assert token.balanceOf(alice) == 5
    token.revokeRole(role, alice, sender=deployer)
    with ape.reverts(token.AccessControlUnauthorizedAccount):
        token.mint(alice, 1, sender=alice)


def test_cap_is_hard(token, deployer, bob):
    token.grantRole(token.MINTER_ROLE(), deployer, sender=deployer)
    room = MAX_SUPPLY - token.totalSupply()
    with ape.reverts(token.ERC20ExceededCap):
        token.mint(bob, room + 1, sender=deployer)
    token.mint(bob, room, sender=deployer)
    assert token.totalSupply() == MAX_SUPPLY
    with ape.reverts(token.ERC20ExceededCap):
        token.mint(bob, 1, sender=deployer)
    # Burning makes room again: the cap bounds supply, not cumulative minting.
    token.burn(10, sender=bob)
    token.mint(bob, 10, sender=deployer)
    assert token.totalSupply() == MAX_SUPPLY


def test_burn_and_burn_from(token, deployer, alice, bob):
    token.transfer(alice, 1_000, sender=deployer)
    start = token.balanceOf(alice)
    supply = token.totalSupply()
    token.burn(400, sender=alice)
    assert token.totalSupply() == supply - 400
    with ape.reverts(token.ERC20InsufficientAllowance):
        token.burnFrom(alice, 100, sender=bob)
    token.approve(bob, 100, sender=alice)
    token.burnFrom(alice, 100, sender=bob)
    assert token.balanceOf(alice) == start - 500
    assert token.totalSupply() == supply - 500
    with ape.reverts(token.ERC20InsufficientBalance):
        token.burn(10**30, sender=alice)


def test_permit(token, deployer, chain):
    owner = Account.create()
    spender = deployer.address
    value = 123
    deadline = chain.pending_timestamp + 3600
    nonce = token.nonces(owner.address)
    # The token's EIP-712 domain is "PinFi Token", version "1" (pinfi.chain.permit signs it).
    v, r, s_ = sign_permit(owner, name="PinFi Token", chain_id=chain.chain_id,
                           token=token.address, spender=spender, value=value, nonce=nonce,
                           deadline=deadline)
    token.permit(owner.address, spender, value, deadline, v, r, s_, sender=deployer)
    assert token.allowance(owner.address, spender) == value
    assert token.nonces(owner.address) == nonce + 1
    # Replaying the same signature fails: the nonce moved on.
    with ape.reverts(token.ERC2612InvalidSigner):
        token.permit(owner.address, spender, value, deadline, v, r, s_, sender=deployer)
