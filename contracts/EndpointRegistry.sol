// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IStaking} from "./interfaces/IStaking.sol";
import {IEndpointRegistry} from "./interfaces/IEndpointRegistry.sol";

/// @title EndpointRegistry
/// @notice One job: a device's owner publishes where the device's provider agent (its lease
///         gateway) can be reached, so a client finds it from the device id alone.
/// @dev No admin, no upgrade, no funds. Ownership is read from `Staking.deviceSummary` at every
///      write; readers compare `setBy` with the current owner. See docs/delivery.md#discovery.
contract EndpointRegistry is IEndpointRegistry {
    /// @inheritdoc IEndpointRegistry
    uint256 public constant MAX_URL_LENGTH = 256;

    /// @notice The Staking contract whose device owners may publish.
    IStaking public immutable staking;

    struct Entry {
        string url;
        address setBy;
        uint64 updatedBlock;
    }

    mapping(uint256 deviceId => Entry) private _entries;

    constructor(IStaking staking_) {
        staking = staking_;
    }

    /// @inheritdoc IEndpointRegistry
    function setEndpoint(uint256 deviceId, string calldata url) external {
        (address owner,,) = staking.deviceSummary(deviceId);
        if (owner != msg.sender || owner == address(0)) revert NotDeviceOwner(deviceId, msg.sender, owner);
        bytes calldata raw = bytes(url);
        if (raw.length > MAX_URL_LENGTH) revert UrlTooLong(raw.length, MAX_URL_LENGTH);
        if (raw.length != 0 && !_hasPrefix(raw, "http://") && !_hasPrefix(raw, "https://")) {
            revert BadUrlScheme();
        }
        _entries[deviceId] = Entry({url: url, setBy: msg.sender, updatedBlock: uint64(block.number)});
        emit EndpointSet(deviceId, msg.sender, url);
    }

    /// @inheritdoc IEndpointRegistry
    function endpointOf(uint256 deviceId)
        external
        view
        returns (string memory url, address setBy, uint256 updatedBlock)
    {
        Entry storage e = _entries[deviceId];
        return (e.url, e.setBy, e.updatedBlock);
    }

    function _hasPrefix(bytes calldata raw, bytes memory prefix) private pure returns (bool) {
        if (raw.length < prefix.length) return false;
        for (uint256 i = 0; i < prefix.length; ++i) {
            if (raw[i] != prefix[i]) return false;
        }
        return true;
    }
}
