// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.26;

import {AggregatorV3Interface} from "../interfaces/AggregatorV3Interface.sol";

/// @notice Reads a feed for secure mint: fails closed, with a reason naming the feed, when the
/// feed has no report or its report is older than the heartbeat.
library FeedReader {
    function freshAnswer(AggregatorV3Interface feed, uint256 heartbeat, string memory what)
        internal
        view
        returns (uint256)
    {
        int256 answer;
        uint256 updatedAt;
        try feed.latestRoundData() returns (uint80, int256 answer_, uint256, uint256 updatedAt_, uint80) {
            answer = answer_;
            updatedAt = updatedAt_;
        } catch {
            revert(string.concat("SecureMint: no ", what, " report"));
        }
        require(block.timestamp - updatedAt <= heartbeat, string.concat("SecureMint: ", what, " report is stale"));
        require(answer >= 0, string.concat("SecureMint: negative ", what));
        return uint256(answer);
    }
}
