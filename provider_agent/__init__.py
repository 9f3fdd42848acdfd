"""PinFi provider agent: the miner daemon (PoCPS prover, lease server, verifier mode)."""
