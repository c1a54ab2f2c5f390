// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.26;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";
import {IReservePolicy} from "../interfaces/IReservePolicy.sol";
import {FeedReader} from "./FeedReader.sol";

/// @title GoldCollateralPolicy
/// @notice Secure mint for a gold-backed USD token (USDKG): collateral value
/// V = attested fine troy ounces x XAU/USD must stay >= floor x supply after the mint.
contract GoldCollateralPolicy is IReservePolicy, Ownable {
    uint256 public constant BPS = 10_000;

    AggregatorV3Interface public immutable ouncesFeed;
    AggregatorV3Interface public immutable priceFeed;
    uint8 public immutable tokenDecimals;
    uint256 public floorBps;
    uint256 public ouncesHeartbeat;
    uint256 public priceHeartbeat;

    event FloorChanged(uint256 floorBps);
    event HeartbeatsChanged(uint256 ouncesHeartbeat, uint256 priceHeartbeat);

    constructor(
        address owner_,
        AggregatorV3Interface ouncesFeed_,
        AggregatorV3Interface priceFeed_,
        uint8 tokenDecimals_,
        uint256 floorBps_,
        uint256 ouncesHeartbeat_,
        uint256 priceHeartbeat_
    ) Ownable(owner_) {
        ouncesFeed = ouncesFeed_;
        priceFeed = priceFeed_;
        tokenDecimals = tokenDecimals_;
        _setFloor(floorBps_);
        ouncesHeartbeat = ouncesHeartbeat_;
        priceHeartbeat = priceHeartbeat_;
        emit HeartbeatsChanged(ouncesHeartbeat_, priceHeartbeat_);
    }

    function setFloor(uint256 floorBps_) external onlyOwner {
        _setFloor(floorBps_);
    }

    function setHeartbeats(uint256 ouncesHeartbeat_, uint256 priceHeartbeat_) external onlyOwner {
        ouncesHeartbeat = ouncesHeartbeat_;
        priceHeartbeat = priceHeartbeat_;
        emit HeartbeatsChanged(ouncesHeartbeat_, priceHeartbeat_);
    }

    /// @notice Collateral value in token base units (USD with `tokenDecimals` decimals).
    function collateralValue() public view returns (uint256) {
        uint256 ounces = FeedReader.freshAnswer(ouncesFeed, ouncesHeartbeat, "gold attestation");
        uint256 price = FeedReader.freshAnswer(priceFeed, priceHeartbeat, "gold price");
        return ounces * price * 10 ** tokenDecimals / 10 ** (uint256(ouncesFeed.decimals()) + priceFeed.decimals());
    }

    /// @inheritdoc IReservePolicy
    function maxSupply() public view returns (uint256) {
        return collateralValue() * BPS / floorBps;
    }

    /// @notice Collateral ratio in basis points for a given supply (type(uint256).max if supply is 0).
    function collateralRatioBps(uint256 supply) external view returns (uint256) {
        if (supply == 0) return type(uint256).max;
        return collateralValue() * BPS / supply;
    }

    /// @inheritdoc IReservePolicy
    function checkMint(uint256 newTotalSupply) external view {
        require(
            collateralValue() * BPS >= newTotalSupply * floorBps,
            "SecureMint: collateral ratio would fall below floor"
        );
    }

    function _setFloor(uint256 floorBps_) private {
        require(floorBps_ >= BPS, "GoldCollateralPolicy: floor below 1.0");
        floorBps = floorBps_;
        emit FloorChanged(floorBps_);
    }
}
