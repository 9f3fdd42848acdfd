// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IPoCPSVerifier
/// @notice What the dissipative pool and off-chain tools use of the PoCPS verifier.
interface IPoCPSVerifier {
    /// @notice Status of a device's proof record for one epoch. `Slashed`: a fraud or a slashed
    ///         miss; `Missed`: a grace miss (no slash).
    enum ProofStatus {
        None,
        Committed,
        Opened,
        Slashed,
        Missed
    }

    /// @notice Pool only: challenge `deviceId` in `epoch` whatever the sampling says.
    function forceChallenge(uint256 deviceId, uint256 epoch) external;

    /// @notice Status of the proof of `deviceId` for `epoch` (`None` once the record is recycled,
    ///         two epochs later, except for a passed forced challenge, which stays `Opened`).
    function proofStatus(uint256 deviceId, uint256 epoch) external view returns (ProofStatus);

    /// @notice Epoch + 1 of the device's latest passed opening that no dispute convicted (0:
    ///         none). Staking vests the rewards the device accrued before that epoch began.
    function lastPassPlusOne(uint256 deviceId) external view returns (uint256);

    /// @notice Staking only: warm the device's two proof-record slots at registration so that
    ///         every later `commit` writes non-zero to non-zero storage.
    function prepare(uint256 deviceId) external;
}
