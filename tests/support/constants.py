"""Constants of the test deployment (a small test class, 20-block epochs) and `deploy_system`."""

from __future__ import annotations

from pinfi.deployer import Deployed as System
from pinfi.deployer import deploy_protocol, proof_params  # noqa: F401  (re-exported for tests)

GENESIS = 10_000_000 * 10**18
MAX_SUPPLY = 100_000_000 * 10**18
EPOCH_BLOCKS = 20
UNBONDING_BLOCKS = 40
REWARD_PER_BLOCK = 10**18
HALVING_BLOCKS = 10_000
MAX_EMISSION = 1_000_000 * 10**18
BOUNTY_BPS = 1_000
GRACE_EPOCHS = 30
CLASS_ID = 1
MIN_BOND = 1_000 * 10**18
WEIGHT = 10
# PoCPS parameters of the test class: n, leaf, k, c, commitWindow, openWindow, disputeWindow,
# challengeBps, missSlashBps, fraudSlashBps.
TEST_CLASS: dict[str, int] = {
    "n": 64, "leaf": 16, "k": 4, "c": 1, "commitWindow": 6, "openWindow": 6, "disputeWindow": 6,
    "challengeBps": 5_000, "missSlashBps": 1_000, "fraudSlashBps": 5_000,
}
PRICING: dict[str, int] = {
    "pFloor": 10 * 10**18, "p0": 100 * 10**18, "alpha": 2 * 10**18, "betaBps": 2_000,
    "maxLeaseEpochs": 64, "terminateFeeBps": 500, "downBond": 50 * 10**18,
}


NETWORK: dict[str, int] = {
    "maxSupply": MAX_SUPPLY, "genesisSupply": GENESIS, "epochBlocks": EPOCH_BLOCKS,
    "unbondingBlocks": UNBONDING_BLOCKS, "rewardPerBlock": REWARD_PER_BLOCK,
    "halvingBlocks": HALVING_BLOCKS, "maxEmission": MAX_EMISSION, "bountyBps": BOUNTY_BPS,
    "graceEpochs": GRACE_EPOCHS,
}
TEST_CLASS_FULL: dict[str, int] = {
    "id": CLASS_ID, "minBond": MIN_BOND, "weight": WEIGHT, **TEST_CLASS, **PRICING,
}


def deploy_system(project, chain, admin, with_pool: bool = True, **overrides) -> System:
    """Deploy and wire the protocol with the test class (`overrides` patch NETWORK)."""
    return deploy_protocol(project, chain, admin, {**NETWORK, **overrides}, [TEST_CLASS_FULL],
                           with_pool=with_pool and hasattr(project, "DissipativePool"))
