// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {ERC20Capped} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Capped.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title PinToken (PIN)
/// @notice The PinFi protocol token: bonds behind devices, pays for leases, is burned by the
///         dissipative pool and by slashing, and is minted only as maintenance rewards.
/// @dev ERC-20 with burn, EIP-2612 permit and a hard cap. Only holders of `MINTER_ROLE`
///      (the `Staking` contract) may mint; the genesis allocation goes to the deployer.
contract PinToken is ERC20, ERC20Burnable, ERC20Capped, ERC20Permit, AccessControl {
    /// @notice Role allowed to mint new tokens (held by `Staking` for emissions).
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    /// @param maxSupply_ Hard cap on total supply, in base units.
    /// @param genesisSupply Tokens minted to `genesisHolder` at deployment (test networks).
    /// @param admin Receives `DEFAULT_ADMIN_ROLE` (grants and revokes `MINTER_ROLE`).
    /// @param genesisHolder Receives the genesis allocation.
    constructor(uint256 maxSupply_, uint256 genesisSupply, address admin, address genesisHolder)
        ERC20("PinFi Token", "PIN")
        ERC20Capped(maxSupply_)
        ERC20Permit("PinFi Token")
    {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        if (genesisSupply > 0) _mint(genesisHolder, genesisSupply);
    }

    /// @notice Mint `amount` to `to`. Reverts with `AccessControlUnauthorizedAccount` unless the
    ///         caller holds `MINTER_ROLE`, and with `ERC20ExceededCap` past the cap.
    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        _mint(to, amount);
    }

    /// @dev Both ERC20 and ERC20Capped define `_update`; the cap check must run.
    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Capped) {
        super._update(from, to, value);
    }
}
