// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.26;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC3009} from "@openzeppelin/contracts/token/ERC20/extensions/draft-ERC3009.sol";
import {IReservePolicy} from "./interfaces/IReservePolicy.sol";

/// @title StableCoin
/// @notice A BEP-20 stablecoin in the shape of Circle's FiatToken: separated roles, minters with
/// allowances, pause, blacklist, EIP-2612 permit, EIP-3009 authorizations, an optional capped
/// transfer fee, secure mint against a reserve policy, and `redeem` for off-chain payout.
/// @dev One contract, deployed once per token; what backs it (bank reserve, gold) is the policy.
contract StableCoin is ERC20, ERC20Permit, ERC3009 {
    using SafeERC20 for IERC20;

    /// @notice Hard cap on the transfer fee (20 bps, as in the audited USDKG design).
    uint16 public constant MAX_TRANSFER_FEE_BPS = 20;

    struct Roles {
        address owner;
        address masterMinter;
        address pauser;
        address blacklister;
        address rescuer;
    }

    uint8 private immutable _decimals;

    address public owner;
    address public masterMinter;
    address public pauser;
    address public blacklister;
    address public rescuer;
    IReservePolicy public reservePolicy;

    bool public paused;
    uint16 public transferFeeBps;
    address public feeCollector;
    uint256 public redemptionCount;

    mapping(address => bool) internal _minters;
    mapping(address => uint256) public minterAllowance;
    mapping(address => bool) internal _blacklisted;

    event Mint(address indexed minter, address indexed to, uint256 amount);
    event Burn(address indexed burner, uint256 amount);
    event Redeemed(uint256 indexed redemptionId, address indexed holder, bytes32 indexed payoutRef, uint256 amount);
    event MinterConfigured(address indexed minter, uint256 minterAllowedAmount);
    event MinterRemoved(address indexed oldMinter);
    event Pause();
    event Unpause();
    event Blacklisted(address indexed account);
    event UnBlacklisted(address indexed account);
    event DestroyedBlackFunds(address indexed account, uint256 amount);
    event TransferFeeChanged(uint16 feeBps, address indexed collector);
    event ReservePolicyChanged(address indexed policy);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);
    event MasterMinterChanged(address indexed newMasterMinter);
    event PauserChanged(address indexed newPauser);
    event BlacklisterChanged(address indexed newBlacklister);
    event RescuerChanged(address indexed newRescuer);

    modifier onlyOwner() {
        require(msg.sender == owner, "StableCoin: caller is not the owner");
        _;
    }

    modifier onlyMasterMinter() {
        require(msg.sender == masterMinter, "StableCoin: caller is not the masterMinter");
        _;
    }

    modifier onlyMinters() {
        require(_minters[msg.sender], "StableCoin: caller is not a minter");
        _;
    }

    modifier onlyPauser() {
        require(msg.sender == pauser, "Pausable: caller is not the pauser");
        _;
    }

    modifier onlyBlacklister() {
        require(msg.sender == blacklister, "Blacklistable: caller is not the blacklister");
        _;
    }

    modifier whenNotPaused() {
        require(!paused, "Pausable: paused");
        _;
    }

    modifier notBlacklisted(address account) {
        require(!_blacklisted[account], "Blacklistable: account is blacklisted");
        _;
    }

    constructor(
        string memory name_,
        string memory symbol_,
        uint8 decimals_,
        Roles memory roles,
        IReservePolicy policy
    ) ERC20(name_, symbol_) ERC20Permit(name_) {
        require(roles.owner != address(0), "StableCoin: owner is the zero address");
        require(roles.masterMinter != address(0), "StableCoin: masterMinter is the zero address");
        require(roles.pauser != address(0), "Pausable: new pauser is the zero address");
        require(roles.blacklister != address(0), "Blacklistable: new blacklister is the zero address");
        require(roles.rescuer != address(0), "Rescuable: new rescuer is the zero address");
        require(address(policy) != address(0), "StableCoin: reserve policy is the zero address");
        _decimals = decimals_;
        owner = roles.owner;
        masterMinter = roles.masterMinter;
        pauser = roles.pauser;
        blacklister = roles.blacklister;
        rescuer = roles.rescuer;
        reservePolicy = policy;
        emit OwnershipTransferred(address(0), roles.owner);
        emit ReservePolicyChanged(address(policy));
    }

    // ---- BEP-20 metadata -------------------------------------------------------------------

    function decimals() public view override returns (uint8) {
        return _decimals;
    }

    /// @notice BEP-20: the token owner, as shown by BscScan and exchanges.
    function getOwner() external view returns (address) {
        return owner;
    }

    // ---- Minting, burning, redemption ------------------------------------------------------

    function isMinter(address account) external view returns (bool) {
        return _minters[account];
    }

    function configureMinter(address minter, uint256 minterAllowedAmount)
        external
        whenNotPaused
        onlyMasterMinter
        returns (bool)
    {
        require(minter != address(0), "StableCoin: minter is the zero address");
        _minters[minter] = true;
        minterAllowance[minter] = minterAllowedAmount;
        emit MinterConfigured(minter, minterAllowedAmount);
        return true;
    }

    function removeMinter(address minter) external onlyMasterMinter returns (bool) {
        _minters[minter] = false;
        minterAllowance[minter] = 0;
        emit MinterRemoved(minter);
        return true;
    }

    /// @notice Mint within the minter's allowance and only while reserves cover the new supply.
    function mint(address to, uint256 amount)
        external
        whenNotPaused
        onlyMinters
        notBlacklisted(msg.sender)
        notBlacklisted(to)
        returns (bool)
    {
        require(to != address(0), "StableCoin: mint to the zero address");
        require(amount > 0, "StableCoin: mint amount not greater than 0");
        uint256 allowance_ = minterAllowance[msg.sender];
        require(amount <= allowance_, "StableCoin: mint amount exceeds minterAllowance");
        reservePolicy.checkMint(totalSupply() + amount);
        minterAllowance[msg.sender] = allowance_ - amount;
        _mint(to, amount);
        emit Mint(msg.sender, to, amount);
        return true;
    }

    /// @notice A minter burns its own balance. The minter's allowance is not restored.
    function burn(uint256 amount) external whenNotPaused onlyMinters notBlacklisted(msg.sender) {
        require(amount > 0, "StableCoin: burn amount not greater than 0");
        require(balanceOf(msg.sender) >= amount, "StableCoin: burn amount exceeds balance");
        _burn(msg.sender, amount);
        emit Burn(msg.sender, amount);
    }

    /// @notice Burn the caller's tokens for an off-chain payout; `payoutRef` tells the issuer
    /// where to pay (e.g. a bank account reference). The issuer pays once per event.
    function redeem(uint256 amount, bytes32 payoutRef)
        external
        whenNotPaused
        notBlacklisted(msg.sender)
        returns (uint256 redemptionId)
    {
        require(amount > 0, "StableCoin: redeem amount not greater than 0");
        require(payoutRef != bytes32(0), "StableCoin: empty payout reference");
        require(balanceOf(msg.sender) >= amount, "StableCoin: redeem amount exceeds balance");
        _burn(msg.sender, amount);
        redemptionId = ++redemptionCount;
        emit Redeemed(redemptionId, msg.sender, payoutRef, amount);
    }

    function setReservePolicy(IReservePolicy policy) external onlyOwner {
        require(address(policy) != address(0), "StableCoin: reserve policy is the zero address");
        reservePolicy = policy;
        emit ReservePolicyChanged(address(policy));
    }

    // ---- Transfers, approvals and signatures -----------------------------------------------

    function approve(address spender, uint256 value)
        public
        override
        whenNotPaused
        notBlacklisted(msg.sender)
        notBlacklisted(spender)
        returns (bool)
    {
        return super.approve(spender, value);
    }

    function transferFrom(address from, address to, uint256 value)
        public
        override
        notBlacklisted(msg.sender)
        returns (bool)
    {
        return super.transferFrom(from, to, value);
    }

    function permit(
        address owner_,
        address spender,
        uint256 value,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) public override whenNotPaused notBlacklisted(owner_) notBlacklisted(spender) {
        super.permit(owner_, spender, value, deadline, v, r, s);
    }

    function cancelAuthorization(address authorizer, bytes32 nonce, uint8 v, bytes32 r, bytes32 s)
        public
        override
        whenNotPaused
    {
        super.cancelAuthorization(authorizer, nonce, v, r, s);
    }

    /// @dev Every balance change passes here: pause and blacklist apply to transfer, transferFrom,
    /// EIP-3009, mint, burn and redeem alike; the transfer fee applies to holder-to-holder moves.
    function _update(address from, address to, uint256 value) internal override {
        require(!paused, "Pausable: paused");
        require(!_blacklisted[from], "Blacklistable: sender is blacklisted");
        require(!_blacklisted[to], "Blacklistable: recipient is blacklisted");
        uint256 feeBps = transferFeeBps;
        if (feeBps != 0 && from != address(0) && to != address(0)) {
            uint256 fee = value * feeBps / 10_000;
            if (fee != 0) {
                super._update(from, feeCollector, fee);
                value -= fee;
            }
        }
        super._update(from, to, value);
    }

    // ---- Fee ---------------------------------------------------------------------------------

    /// @notice Set the holder-to-holder transfer fee; the recipient receives value - fee.
    function setTransferFee(uint16 feeBps, address collector) external onlyOwner {
        require(feeBps <= MAX_TRANSFER_FEE_BPS, "StableCoin: fee above cap");
        require(feeBps == 0 || collector != address(0), "StableCoin: fee collector is the zero address");
        transferFeeBps = feeBps;
        feeCollector = collector;
        emit TransferFeeChanged(feeBps, collector);
    }

    // ---- Pause -----------------------------------------------------------------------------

    function pause() external onlyPauser {
        paused = true;
        emit Pause();
    }

    function unpause() external onlyPauser {
        paused = false;
        emit Unpause();
    }

    // ---- Blacklist -------------------------------------------------------------------------

    function isBlacklisted(address account) external view returns (bool) {
        return _blacklisted[account];
    }

    function blacklist(address account) external onlyBlacklister {
        _blacklisted[account] = true;
        emit Blacklisted(account);
    }

    function unBlacklist(address account) external onlyBlacklister {
        _blacklisted[account] = false;
        emit UnBlacklisted(account);
    }

    /// @notice Compliance: burn the whole balance of a blacklisted account (court order, sanctions).
    function destroyBlackFunds(address account) external onlyBlacklister {
        require(_blacklisted[account], "Blacklistable: account is not blacklisted");
        uint256 amount = balanceOf(account);
        // Bypass _update's blacklist check on purpose: this is the one move a blacklisted account allows.
        ERC20._update(account, address(0), amount);
        emit DestroyedBlackFunds(account, amount);
    }

    // ---- Rescue ----------------------------------------------------------------------------

    /// @notice Return ERC-20 tokens sent to this contract by mistake.
    function rescueERC20(IERC20 token, address to, uint256 amount) external {
        require(msg.sender == rescuer, "Rescuable: caller is not the rescuer");
        token.safeTransfer(to, amount);
    }

    // ---- Role administration ---------------------------------------------------------------

    function transferOwnership(address newOwner) external onlyOwner {
        require(newOwner != address(0), "StableCoin: new owner is the zero address");
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    function updateMasterMinter(address newMasterMinter) external onlyOwner {
        require(newMasterMinter != address(0), "StableCoin: new masterMinter is the zero address");
        masterMinter = newMasterMinter;
        emit MasterMinterChanged(newMasterMinter);
    }

    function updatePauser(address newPauser) external onlyOwner {
        require(newPauser != address(0), "Pausable: new pauser is the zero address");
        pauser = newPauser;
        emit PauserChanged(newPauser);
    }

    function updateBlacklister(address newBlacklister) external onlyOwner {
        require(newBlacklister != address(0), "Blacklistable: new blacklister is the zero address");
        blacklister = newBlacklister;
        emit BlacklisterChanged(newBlacklister);
    }

    function updateRescuer(address newRescuer) external onlyOwner {
        require(newRescuer != address(0), "Rescuable: new rescuer is the zero address");
        rescuer = newRescuer;
        emit RescuerChanged(newRescuer);
    }
}
