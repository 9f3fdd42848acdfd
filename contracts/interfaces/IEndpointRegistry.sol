// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IEndpointRegistry
/// @notice Where a device's provider agent can be reached: the gateway URL its owner publishes.
/// @dev Trust needs no certificate here: every answer that matters (job accepted, job finished)
///      is signed by the device's operator key, which `Staking` already records; a client checks
///      the gateway's signatures against `Staking.getDevice(deviceId).operator`
///      (docs/delivery.md#discovery).
interface IEndpointRegistry {
    /// @notice `caller` is not the owner (`owner`) of `deviceId` in Staking.
    error NotDeviceOwner(uint256 deviceId, address caller, address owner);
    /// @notice The URL is `length` bytes long; at most `maxLength` are allowed.
    error UrlTooLong(uint256 length, uint256 maxLength);
    /// @notice The URL does not start with `http://` or `https://`.
    error BadUrlScheme();

    /// @notice `owner` published `url` for `deviceId` (an empty `url`: the endpoint was removed).
    event EndpointSet(uint256 indexed deviceId, address indexed owner, string url);

    /// @notice Owner of `deviceId` (per `Staking.deviceSummary`): publish (or, with an empty
    ///         string, remove) the device's gateway URL.
    /// @param deviceId A registered device whose owner is the caller.
    /// @param url `http://` or `https://` URL of the gateway, at most `MAX_URL_LENGTH` bytes.
    function setEndpoint(uint256 deviceId, string calldata url) external;

    /// @notice The published gateway of `deviceId`.
    /// @return url The URL ("" when none).
    /// @return setBy Who published it (compare with the current owner: a stale entry is ignored).
    /// @return updatedBlock Block of the last change (0 when never set).
    function endpointOf(uint256 deviceId)
        external
        view
        returns (string memory url, address setBy, uint256 updatedBlock);

    /// @notice Longest URL accepted, in bytes.
    function MAX_URL_LENGTH() external view returns (uint256);
}
