// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.26;

/// @notice Secure-mint policy: decides whether the token's supply may grow to a new total.
/// @dev The token calls `checkMint` before every mint; a policy reverts with a reason string.
interface IReservePolicy {
    /// @notice Reverts unless `newTotalSupply` (token base units) is covered by fresh reserves.
    function checkMint(uint256 newTotalSupply) external view;

    /// @notice The largest total supply the current reserve reports allow (reverts if stale).
    function maxSupply() external view returns (uint256);
}
