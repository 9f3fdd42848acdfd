"""The one parameters schema of PinFi: typed network and class parameters, read from
``pinfi/params/classes.json``, with the slices each contract takes.

Everything that needs a protocol parameter (SDK, agent, deployer, simulation, tests) goes
through this package; see :mod:`pinfi.params.schema` for the types and
:mod:`pinfi.params.loader` for reading the file, named network overrides and derived classes.
"""

from pinfi.params.loader import (
    MAX_CLASS_ID,
    PARAMS_PATH,
    Params,
    class_params,
    default_params,
    derive,
    load,
    load_params,
    load_raw,
    network_params,
    parse,
    validate,
)
from pinfi.params.schema import (
    BLOCK_SECONDS,
    CLASS_KEYS,
    NETWORK_KEYS,
    POOL_KEYS,
    PROOF_KEYS,
    STAKING_KEYS,
    ClassParams,
    NetworkParams,
    ParamsError,
    PoolPricing,
    ProofParams,
    StakingParams,
    as_class,
    as_network,
    as_proof,
    camel,
    emitted_until,
)

__all__ = [
    "BLOCK_SECONDS",
    "CLASS_KEYS",
    "MAX_CLASS_ID",
    "NETWORK_KEYS",
    "PARAMS_PATH",
    "POOL_KEYS",
    "PROOF_KEYS",
    "STAKING_KEYS",
    "ClassParams",
    "NetworkParams",
    "Params",
    "ParamsError",
    "PoolPricing",
    "ProofParams",
    "StakingParams",
    "as_class",
    "as_network",
    "as_proof",
    "camel",
    "class_params",
    "default_params",
    "derive",
    "emitted_until",
    "load",
    "load_params",
    "load_raw",
    "network_params",
    "parse",
    "validate",
]
