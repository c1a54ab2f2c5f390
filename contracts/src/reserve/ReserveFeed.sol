// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.26;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";

/// @title ReserveFeed
/// @notice A push feed for one attested quantity (bank reserve in tyiyn, fine troy ounces,
/// XAU/USD price), readable through Chainlink's AggregatorV3Interface.
/// @dev `observedAt` is the as-of time of the attestation, not the block time: a stale
/// attestation pushed today must still look stale to the secure-mint policy.
contract ReserveFeed is AggregatorV3Interface, Ownable {
    struct Round {
        int256 answer;
        uint64 startedAt;
        uint64 updatedAt;
    }

    uint8 public immutable override decimals;
    string public override description;
    uint256 public constant override version = 1;

    address public reporter;
    uint80 public latestRound;
    mapping(uint80 roundId => Round) private _rounds;

    /// @dev Chainlink's event names, so existing indexers understand the feed.
    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);
    event NewRound(uint256 indexed roundId, address indexed startedBy, uint256 startedAt);
    event ReporterChanged(address indexed previousReporter, address indexed newReporter);

    modifier onlyReporter() {
        require(msg.sender == reporter, "ReserveFeed: caller is not the reporter");
        _;
    }

    constructor(uint8 decimals_, string memory description_, address owner_, address reporter_)
        Ownable(owner_)
    {
        require(reporter_ != address(0), "ReserveFeed: reporter is the zero address");
        decimals = decimals_;
        description = description_;
        reporter = reporter_;
        emit ReporterChanged(address(0), reporter_);
    }

    function setReporter(address newReporter) external onlyOwner {
        require(newReporter != address(0), "ReserveFeed: reporter is the zero address");
        emit ReporterChanged(reporter, newReporter);
        reporter = newReporter;
    }

    /// @notice Publish a new attested value observed at `observedAt` (unix seconds).
    function report(int256 answer, uint256 observedAt) external onlyReporter returns (uint80 roundId) {
        require(answer >= 0, "ReserveFeed: negative answer");
        require(observedAt <= block.timestamp, "ReserveFeed: observation is in the future");
        require(
            latestRound == 0 || observedAt >= _rounds[latestRound].updatedAt,
            "ReserveFeed: observation older than the latest round"
        );
        roundId = latestRound + 1;
        latestRound = roundId;
        _rounds[roundId] = Round(answer, uint64(block.timestamp), uint64(observedAt));
        emit NewRound(roundId, msg.sender, block.timestamp);
        emit AnswerUpdated(answer, roundId, observedAt);
    }

    function getRoundData(uint80 roundId)
        public
        view
        override
        returns (uint80, int256, uint256, uint256, uint80)
    {
        require(roundId != 0 && roundId <= latestRound, "No data present");
        Round memory r = _rounds[roundId];
        return (roundId, r.answer, r.startedAt, r.updatedAt, roundId);
    }

    function latestRoundData() external view override returns (uint80, int256, uint256, uint256, uint80) {
        return getRoundData(latestRound);
    }
}
