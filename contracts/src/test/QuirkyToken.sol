// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.26;

/// @title QuirkyToken
/// @notice A deliberately non-conforming BEP-20 for listing tests, with the quirks exchanges
/// have met in the wild: no getOwner(); mints that emit no Transfer; a transfer fee whose
/// Transfer event still shows the full value (credit the balance change, not the log); a
/// blacklist that checks the sender only; approve allowed while paused.
/// @dev Not for production: it exists so that every listing check can be seen to fail.
contract QuirkyToken {
    string public name;
    string public symbol;
    uint8 public immutable decimals;
    uint256 public totalSupply;
    address public admin;
    bool public paused;
    uint256 public feeBps;

    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    mapping(address => bool) public isBlacklisted;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    constructor(string memory name_, string memory symbol_, uint8 decimals_, uint256 feeBps_) {
        name = name_;
        symbol = symbol_;
        decimals = decimals_;
        feeBps = feeBps_;
        admin = msg.sender;
    }

    modifier onlyAdmin() {
        require(msg.sender == admin, "QuirkyToken: not admin");
        _;
    }

    /// @notice Quirk: no Transfer(0, to, amount) event.
    function mint(address to, uint256 amount) external onlyAdmin {
        totalSupply += amount;
        balanceOf[to] += amount;
    }

    function setPaused(bool paused_) external onlyAdmin {
        paused = paused_;
    }

    function setBlacklisted(address account, bool value) external onlyAdmin {
        isBlacklisted[account] = value;
    }

    /// @notice Quirk: allowed while paused.
    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transfer(address to, uint256 value) external returns (bool) {
        _move(msg.sender, to, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        require(allowed >= value, "QuirkyToken: allowance");
        allowance[from][msg.sender] = allowed - value;
        _move(from, to, value);
        return true;
    }

    function _move(address from, address to, uint256 value) private {
        require(!paused, "QuirkyToken: paused");
        require(!isBlacklisted[from], "QuirkyToken: blacklisted"); // quirk: the recipient is not checked
        require(balanceOf[from] >= value, "QuirkyToken: balance");
        uint256 fee = value * feeBps / 10_000;
        balanceOf[from] -= value;
        balanceOf[to] += value - fee;
        balanceOf[admin] += fee;
        emit Transfer(from, to, value); // quirk: the log says `value`, the recipient got value - fee
    }
}
