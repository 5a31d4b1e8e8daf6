// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IHallRegistry
 * @notice Membership of a CaseLedger consortium: which government service halls may write,
 * for which district, from which key. A hall keeps one numeric id for life; its signing key
 * can be rotated, after which the old key is refused while events it wrote earlier stay valid.
 *
 * Every registry event (ours, including {HallRegistryRoleChanged} for every role grant and
 * revocation) carries `prevChangeBlock`, the block of the registry's previous change, and
 * {lastChangeBlock} the block of the latest, so a reader replays the whole membership history with
 * one-block `eth_getLogs` queries walking back, never a query over all history.
 */
interface IHallRegistry {
    /// @notice Lifecycle of a hall's membership.
    enum HallStatus {
        None,
        Active,
        Suspended
    }

    /// @notice What the registry knows of a hall.
    struct Hall {
        address account;
        uint32 district;
        HallStatus status;
        string name;
        string endpoint;
    }

    /// @dev The account is already bound to a hall (current or retired key).
    error HallRegistryAccountInUse(address account);
    /// @dev The hall id has no registration.
    error HallRegistryUnknownHall(uint32 hallId);
    /// @dev The district is not a 6-digit GB/T 2260 code (100000..999999).
    error HallRegistryInvalidDistrict(uint32 district);
    /// @dev The hall is not in the status this call requires.
    error HallRegistryInvalidStatus(uint32 hallId, HallStatus status);
    /// @dev The zero address cannot be a hall key.
    error HallRegistryZeroAccount();

    /// @notice A hall joined the consortium.
    event HallRegistered(
        uint32 indexed hallId,
        address indexed account,
        uint32 indexed district,
        string name,
        string endpoint,
        uint64 prevChangeBlock
    );
    /// @notice A hall was suspended: its key is refused from now on.
    event HallSuspended(uint32 indexed hallId, address indexed account, uint64 prevChangeBlock);
    /// @notice A suspended hall was reactivated.
    event HallReactivated(uint32 indexed hallId, address indexed account, uint64 prevChangeBlock);
    /// @notice A hall's key changed: `oldAccount` is refused from now on.
    event HallKeyRotated(
        uint32 indexed hallId, address indexed oldAccount, address indexed newAccount, uint64 prevChangeBlock
    );
    /// @notice A hall's node endpoint changed.
    event HallEndpointChanged(uint32 indexed hallId, string endpoint, uint64 prevChangeBlock);
    /// @notice `account` was granted (`granted`) or lost `role`; emitted beside OpenZeppelin's RoleGranted/RoleRevoked.
    event HallRegistryRoleChanged(bytes32 indexed role, address indexed account, bool granted, uint64 prevChangeBlock);

    /// @notice Registers a hall and returns its new id (ids start at 1).
    function registerHall(address account, uint32 district, string calldata name, string calldata endpoint)
        external
        returns (uint32 hallId);

    /// @notice Suspends an active hall.
    function suspendHall(uint32 hallId) external;

    /// @notice Reactivates a suspended hall.
    function reactivateHall(uint32 hallId) external;

    /// @notice Replaces a hall's key.
    function rotateHallKey(uint32 hallId, address newAccount) external;

    /// @notice Changes a hall's node endpoint; callable by the admin or by the hall itself.
    function setHallEndpoint(uint32 hallId, string calldata endpoint) external;

    /// @notice The hall registered under `hallId`.
    function hall(uint32 hallId) external view returns (Hall memory);

    /// @notice The hall id whose *current* key is `account`, or 0.
    function hallIdOf(address account) external view returns (uint32);

    /// @notice Number of halls ever registered (ids are 1..hallCount).
    function hallCount() external view returns (uint32);

    /// @notice Id, district and status of the hall whose *current* key is `account` (all zero if none).
    function hallOf(address account) external view returns (uint32 hallId, uint32 district, HallStatus status);

    /// @notice Block of the registry's latest change (membership, key, endpoint or role).
    function lastChangeBlock() external view returns (uint64);

    /// @notice The evidence format this registry implements (2).
    function formatVersion() external pure returns (uint16);
}
