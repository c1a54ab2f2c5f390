// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.26;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";
import {IReservePolicy} from "../interfaces/IReservePolicy.sol";
import {FeedReader} from "./FeedReader.sol";

/// @title FiatReservePolicy
/// @notice Secure mint for a fiat-backed token (KGST): supply may never exceed the attested
/// balance of the issuer's reserve account at the bank, converted 1:1 into token units.
contract FiatReservePolicy is IReservePolicy, Ownable {
    AggregatorV3Interface public immutable reserveFeed;
    uint8 public immutable tokenDecimals;
    uint256 public heartbeat;

    event HeartbeatChanged(uint256 heartbeat);

    constructor(address owner_, AggregatorV3Interface reserveFeed_, uint8 tokenDecimals_, uint256 heartbeat_)
        Ownable(owner_)
    {
        reserveFeed = reserveFeed_;
        tokenDecimals = tokenDecimals_;
        heartbeat = heartbeat_;
        emit HeartbeatChanged(heartbeat_);
    }

    function setHeartbeat(uint256 heartbeat_) external onlyOwner {
        heartbeat = heartbeat_;
        emit HeartbeatChanged(heartbeat_);
    }

    /// @inheritdoc IReservePolicy
    function maxSupply() public view returns (uint256) {
        uint256 reserve = FeedReader.freshAnswer(reserveFeed, heartbeat, "reserve");
        // Feed is in the currency's minor units (tyiyn: 2 decimals); scale to token units.
        return reserve * 10 ** tokenDecimals / 10 ** reserveFeed.decimals();
    }

    /// @inheritdoc IReservePolicy
    function checkMint(uint256 newTotalSupply) external view {
        require(newTotalSupply <= maxSupply(), "SecureMint: supply would exceed reserve");
    }
}
