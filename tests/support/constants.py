"""The test deployment, derived from ``pinfi/params/classes.json`` by name, and `deploy_system`.

The test network is the file's ``local`` override (20-block epochs, a small economy); the test
class is ``cpu-test`` with weight 10. Nothing here restates a parameter: the typed objects
(`LOCAL`, `TEST`) come from :mod:`pinfi.params`, and the camelCase dicts below (`NETWORK`,
`TEST_CLASS`, `PRICING`, `TEST_CLASS_FULL`) are views of them for tests that patch a key
(``{**TEST_CLASS, "k": 8}``) before calling a setter.
"""

from __future__ import annotations

from pinfi import params
from pinfi_dev.deploy import Deployed as System
from pinfi_dev.deploy import deploy_protocol, proof_params  # noqa: F401  (re-exported for tests)

#: The test network: the ``local`` override of the parameters file.
LOCAL: params.NetworkParams = params.network_params("local")
#: The test class: ``cpu-test`` with weight 10 (several devices share a small emission).
TEST: params.ClassParams = params.derive("cpu-test", name="test", weight=10)

GENESIS = LOCAL.genesis_supply
MAX_SUPPLY = LOCAL.max_supply
EPOCH_BLOCKS = LOCAL.epoch_blocks
UNBONDING_BLOCKS = LOCAL.unbonding_blocks
REWARD_PER_BLOCK = LOCAL.reward_per_block
HALVING_BLOCKS = LOCAL.halving_blocks
MAX_EMISSION = LOCAL.max_emission
BOUNTY_BPS = LOCAL.bounty_bps
GRACE_EPOCHS = LOCAL.grace_epochs
CLASS_ID = TEST.id
MIN_BOND = TEST.min_bond
WEIGHT = TEST.weight
#: PoCPS parameters of the test class (``PoCPSVerifier.setClass`` keys, in its order).
TEST_CLASS: dict[str, int] = TEST.proof.to_dict()
#: Pool pricing of the test class (``DissipativePool.setClass`` keys, in its order).
PRICING: dict[str, int] = TEST.pricing.to_dict()
NETWORK: dict[str, int] = LOCAL.to_dict()
TEST_CLASS_FULL: dict[str, int | str] = TEST.to_dict()


def deploy_system(project, chain, admin, with_pool: bool = True, **overrides) -> System:
    """Deploy and wire the protocol with the test class (`overrides` patch the network, in
    camelCase or snake_case)."""
    network = LOCAL.with_(**overrides) if overrides else LOCAL
    return deploy_protocol(project, chain, admin, network, [TEST],
                           with_pool=with_pool and hasattr(project, "DissipativePool"))
