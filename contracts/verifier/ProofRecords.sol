// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPoCPSVerifier} from "../interfaces/IPoCPSVerifier.sol";

/// @title ProofRecords
/// @notice Per-device PoCPS state: two proof records (one per epoch parity, recycled two
///         epochs later) and one slot of duties and outcomes that outlive the records.
/// @dev Both records and the duty slot are warmed at registration (`_warm`), so that every
///      later write is non-zero to non-zero storage.
abstract contract ProofRecords is IPoCPSVerifier {
    /// @dev One proof record, two slots. `epoch == EMPTY_EPOCH` marks a warmed empty record.
    struct Record {
        bytes32 root;
        uint32 epoch;
        uint64 commitBlock;
        uint64 openBlock;
        ProofStatus status;
        // The device's latest passed epoch + 1 before this record's epoch (carried over from
        // both slots when this one is reused): with the two records, the device's pass history.
        uint32 prevPassPlusOne;
    }

    /// @dev Per-device duties and outcomes, one slot (each field: epoch + 1, 0 for none).
    struct Duty {
        uint32 forcedPlusOne; // epoch in which a client's `reportDown` forces the challenge
        uint32 forcedPassedPlusOne; // last forced challenge passed (and not convicted since)
        uint32 owedPlusOne; // epoch the device must prove after a grace miss
        uint32 lastMissPlusOne; // latest reported miss (grace or slashed)
        bool warm; // set at registration, so that every later write is non-zero to non-zero
    }

    /// @dev `Record.epoch` of a warmed record that holds no epoch.
    uint32 internal constant EMPTY_EPOCH = type(uint32).max;

    mapping(uint256 deviceId => Record[2]) internal _records;
    mapping(uint256 deviceId => Duty) internal _duties;

    /// @notice Epoch + 1 in which a client's `reportDown` forces the device's challenge (0: none).
    function forcedEpochPlusOne(uint256 deviceId) external view returns (uint256) {
        return _duties[deviceId].forcedPlusOne;
    }

    /// @notice Epoch + 1 of the device's last forced challenge passed and not convicted (0: none).
    ///         Kept apart from the recycled proof records so the pool can resolve a report any time.
    function forcedPassedPlusOne(uint256 deviceId) external view returns (uint256) {
        return _duties[deviceId].forcedPassedPlusOne;
    }

    /// @notice Epoch + 1 the device must prove after a grace miss (0: none).
    function owedEpochPlusOne(uint256 deviceId) external view returns (uint256) {
        return _duties[deviceId].owedPlusOne;
    }

    /// @notice Epoch + 1 of the device's latest reported miss, grace or slashed (0: none).
    function lastMissPlusOne(uint256 deviceId) external view returns (uint256) {
        return _duties[deviceId].lastMissPlusOne;
    }

    /// @inheritdoc IPoCPSVerifier
    function lastPassPlusOne(uint256 deviceId) external view returns (uint256) {
        uint256 a = _passOf(_records[deviceId][0]);
        uint256 b = _passOf(_records[deviceId][1]);
        return a > b ? a : b;
    }

    /// @notice The proof record of `deviceId` in the slot of `epoch`'s parity.
    function record(uint256 deviceId, uint256 epoch) external view returns (Record memory) {
        return _records[deviceId][epoch & 1];
    }

    /// @inheritdoc IPoCPSVerifier
    /// @dev A passed forced challenge reads `Opened` even after its record was recycled.
    function proofStatus(uint256 deviceId, uint256 epoch) external view returns (ProofStatus) {
        Record storage r = _records[deviceId][epoch & 1];
        if (r.epoch == epoch) return r.status;
        return _duties[deviceId].forcedPassedPlusOne == epoch + 1 ? ProofStatus.Opened : ProofStatus.None;
    }

    /// @dev The record slot of `epoch`'s parity.
    function _recordOf(uint256 deviceId, uint256 epoch) internal view returns (Record storage) {
        return _records[deviceId][epoch & 1];
    }

    /// @dev Warm both record slots and the duty slot of a new device.
    function _warm(uint256 deviceId) internal {
        for (uint256 p = 0; p < 2; ++p) {
            Record storage r = _records[deviceId][p];
            r.root = bytes32(uint256(1));
            r.epoch = EMPTY_EPOCH;
        }
        _duties[deviceId].warm = true;
    }

    /// @dev Latest passed epoch + 1 a record knows of: its own if opened (and not convicted),
    ///      else the one it carried over.
    function _passOf(Record storage r) internal view returns (uint256) {
        uint32 e = r.epoch;
        return r.status == ProofStatus.Opened && e != EMPTY_EPOCH ? uint256(e) + 1 : r.prevPassPlusOne;
    }

    /// @dev Take over the record slot `r` for `epoch`, carrying the device's pass history over.
    function _reuse(Record storage r, uint256 deviceId, uint256 epoch) internal {
        uint256 mine = _passOf(r);
        uint256 other = _passOf(_records[deviceId][(epoch + 1) & 1]);
        r.prevPassPlusOne = uint32(mine > other ? mine : other);
        r.epoch = uint32(epoch);
    }
}
