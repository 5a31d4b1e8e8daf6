// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IHallRegistry} from "./IHallRegistry.sol";

/**
 * @title HallRegistry
 * @notice The consortium's membership list, kept by the city's service-management office
 * (`DEFAULT_ADMIN_ROLE` and `HALL_ADMIN_ROLE`). Also holds the roles of dispute officers,
 * dispute arbiters and regulators.
 *
 * Every change records the block it happened in ({lastChangeBlock}) and emits the previous such
 * block, so the history can be read back with one-block log queries (see {IHallRegistry}).
 */
contract HallRegistry is AccessControl, IHallRegistry {
    /// @notice May register, suspend, reactivate and rotate halls.
    bytes32 public constant HALL_ADMIN_ROLE = keccak256("HALL_ADMIN_ROLE");
    /// @notice May append DISPUTE_OPENED, and DISPUTE_RESOLVED for the disputes it (or its hall) opened.
    bytes32 public constant DISPUTE_OFFICER_ROLE = keccak256("DISPUTE_OFFICER_ROLE");
    /// @notice May append DISPUTE_RESOLVED for any open dispute (e.g. the city's dispute office).
    bytes32 public constant DISPUTE_ARBITER_ROLE = keccak256("DISPUTE_ARBITER_ROLE");
    /// @notice Read-only auditors; recorded on chain so that every node can check who they are.
    bytes32 public constant REGULATOR_ROLE = keccak256("REGULATOR_ROLE");

    mapping(uint32 hallId => Hall) private _halls;
    mapping(address account => uint32 hallId) private _hallOfAccount;
    mapping(address account => bool) private _retired;
    uint32 private _hallCount;
    uint64 private _lastChangeBlock;

    /**
     * @dev Grants `DEFAULT_ADMIN_ROLE` and `HALL_ADMIN_ROLE` to `admin`.
     * Emits {HallRegistryRoleChanged} (and OpenZeppelin's {RoleGranted}) twice.
     */
    constructor(address admin) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(HALL_ADMIN_ROLE, admin);
    }

    /**
     * @inheritdoc IHallRegistry
     * @dev Requirements:
     * - caller has `HALL_ADMIN_ROLE`;
     * - `account` is non-zero and was never a hall key;
     * - `district` is a 6-digit code.
     * Emits {HallRegistered}.
     */
    function registerHall(address account, uint32 district, string calldata name, string calldata endpoint)
        external
        onlyRole(HALL_ADMIN_ROLE)
        returns (uint32 hallId)
    {
        if (account == address(0)) revert HallRegistryZeroAccount();
        if (_hallOfAccount[account] != 0 || _retired[account]) revert HallRegistryAccountInUse(account);
        if (district < 100000 || district > 999999) revert HallRegistryInvalidDistrict(district);
        hallId = ++_hallCount;
        _halls[hallId] = Hall({account: account, district: district, status: HallStatus.Active, name: name, endpoint: endpoint});
        _hallOfAccount[account] = hallId;
        emit HallRegistered(hallId, account, district, name, endpoint, _touch());
    }

    /**
     * @inheritdoc IHallRegistry
     * @dev Requirements: caller has `HALL_ADMIN_ROLE`; the hall is active. Emits {HallSuspended}.
     */
    function suspendHall(uint32 hallId) external onlyRole(HALL_ADMIN_ROLE) {
        Hall storage h = _existing(hallId);
        if (h.status != HallStatus.Active) revert HallRegistryInvalidStatus(hallId, h.status);
        h.status = HallStatus.Suspended;
        emit HallSuspended(hallId, h.account, _touch());
    }

    /**
     * @inheritdoc IHallRegistry
     * @dev Requirements: caller has `HALL_ADMIN_ROLE`; the hall is suspended. Emits {HallReactivated}.
     */
    function reactivateHall(uint32 hallId) external onlyRole(HALL_ADMIN_ROLE) {
        Hall storage h = _existing(hallId);
        if (h.status != HallStatus.Suspended) revert HallRegistryInvalidStatus(hallId, h.status);
        h.status = HallStatus.Active;
        emit HallReactivated(hallId, h.account, _touch());
    }

    /**
     * @inheritdoc IHallRegistry
     * @dev The old key is retired for good: it can never be registered or rotated in again, so
     * that a verifier reading {HallKeyRotated} events gets one validity window per key.
     * Dispute-officer role held by the old key moves to the new one.
     * Requirements: caller has `HALL_ADMIN_ROLE`; the hall exists; `newAccount` is fresh.
     * Emits {HallKeyRotated}; and {HallRegistryRoleChanged} twice (with OpenZeppelin's
     * {RoleRevoked} and {RoleGranted}) when the dispute-officer role moves.
     */
    function rotateHallKey(uint32 hallId, address newAccount) external onlyRole(HALL_ADMIN_ROLE) {
        Hall storage h = _existing(hallId);
        if (newAccount == address(0)) revert HallRegistryZeroAccount();
        if (_hallOfAccount[newAccount] != 0 || _retired[newAccount]) revert HallRegistryAccountInUse(newAccount);
        address oldAccount = h.account;
        delete _hallOfAccount[oldAccount];
        _retired[oldAccount] = true;
        _hallOfAccount[newAccount] = hallId;
        h.account = newAccount;
        if (hasRole(DISPUTE_OFFICER_ROLE, oldAccount)) {
            _revokeRole(DISPUTE_OFFICER_ROLE, oldAccount);
            _grantRole(DISPUTE_OFFICER_ROLE, newAccount);
        }
        emit HallKeyRotated(hallId, oldAccount, newAccount, _touch());
    }

    /**
     * @inheritdoc IHallRegistry
     * @dev Requirements: caller has `HALL_ADMIN_ROLE` or is the hall's current key. Emits {HallEndpointChanged}.
     */
    function setHallEndpoint(uint32 hallId, string calldata endpoint) external {
        Hall storage h = _existing(hallId);
        if (msg.sender != h.account) _checkRole(HALL_ADMIN_ROLE);
        h.endpoint = endpoint;
        emit HallEndpointChanged(hallId, endpoint, _touch());
    }

    /// @inheritdoc IHallRegistry
    function hall(uint32 hallId) external view returns (Hall memory) {
        return _existing(hallId);
    }

    /// @inheritdoc IHallRegistry
    function hallIdOf(address account) external view returns (uint32) {
        return _hallOfAccount[account];
    }

    /// @inheritdoc IHallRegistry
    function hallCount() external view returns (uint32) {
        return _hallCount;
    }

    /// @inheritdoc IHallRegistry
    function hallOf(address account) external view returns (uint32 hallId, uint32 district, HallStatus status) {
        hallId = _hallOfAccount[account];
        if (hallId != 0) {
            Hall storage h = _halls[hallId];
            return (hallId, h.district, h.status);
        }
    }

    /// @inheritdoc IHallRegistry
    function lastChangeBlock() external view returns (uint64) {
        return _lastChangeBlock;
    }

    /// @inheritdoc IHallRegistry
    function formatVersion() external pure returns (uint16) {
        return 2;
    }

    /**
     * @dev Records a role grant on chain history. Emits {HallRegistryRoleChanged} when the role was not held.
     */
    function _grantRole(bytes32 role, address account) internal override returns (bool granted) {
        granted = super._grantRole(role, account);
        if (granted) emit HallRegistryRoleChanged(role, account, true, _touch());
    }

    /**
     * @dev Records a role revocation on chain history. Emits {HallRegistryRoleChanged} when the role was held.
     */
    function _revokeRole(bytes32 role, address account) internal override returns (bool revoked) {
        revoked = super._revokeRole(role, account);
        if (revoked) emit HallRegistryRoleChanged(role, account, false, _touch());
    }

    /// @dev Moves {lastChangeBlock} to this block and returns its previous value (this block again
    /// when an earlier change of the same block came first).
    function _touch() private returns (uint64 prev) {
        prev = _lastChangeBlock;
        _lastChangeBlock = uint64(block.number);
    }

    function _existing(uint32 hallId) private view returns (Hall storage h) {
        h = _halls[hallId];
        if (h.status == HallStatus.None) revert HallRegistryUnknownHall(hallId);
    }
}
