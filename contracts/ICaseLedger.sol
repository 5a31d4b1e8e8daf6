// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title ICaseLedger
 * @notice Tamper-evident trail of cross-district government service cases. Only salted
 * commitments (32-byte Merkle roots computed off chain) are recorded: never personal data.
 *
 * Lifecycle (design.md §3):
 *   INTAKE ─► MATERIALS+ ─► ACCEPTANCE ─► PROCESS* ─► RESULT ─► DELIVERY
 *   DISPUTE_OPENED / DISPUTE_RESOLVED at any time after INTAKE.
 * Writers: INTAKE, MATERIALS, DELIVERY by the accepting hall; ACCEPTANCE, PROCESS, RESULT by an
 * active hall of the home district; DISPUTE_* by a dispute officer. MATERIALS may be appended
 * again after ACCEPTANCE (supplements) until RESULT.
 */
interface ICaseLedger {
    /// @notice Stage of a case event. Values are part of the hash chain: never renumber.
    enum Stage {
        INTAKE,
        MATERIALS,
        ACCEPTANCE,
        PROCESS,
        RESULT,
        DELIVERY,
        DISPUTE_OPENED,
        DISPUTE_RESOLVED
    }

    /// @notice Where a case is in its lifecycle (derived from the stages appended so far).
    enum Phase {
        None,
        Opened,
        MaterialsRecorded,
        Accepted,
        Decided,
        Delivered
    }

    /// @notice On-chain header of a case.
    struct CaseHeader {
        bytes32 head;
        uint32 eventCount;
        Phase phase;
        uint8 openDisputes;
        uint32 homeDistrict;
        uint32 acceptingHall;
        bytes16 itemCode;
    }

    /// @notice A case to open in a batch.
    struct OpenCase {
        string serial;
        bytes16 itemCode;
        uint32 homeDistrict;
        bytes32 intakeCommitment;
    }

    /// @notice An event to append in a batch.
    struct Append {
        bytes32 caseId;
        Stage stage;
        bytes32 commitment;
    }

    /// @dev `writer` is not the current key of an active hall (unregistered, suspended or rotated out).
    error CaseLedgerInactiveHall(address writer);
    /// @dev `writer` has no right to append `stage` to this case (wrong hall, wrong district, no role).
    error CaseLedgerUnauthorizedWriter(address writer, bytes32 caseId, Stage stage);
    /// @dev `stage` cannot follow the case's current `phase`.
    error CaseLedgerOutOfOrder(bytes32 caseId, Stage stage, Phase phase);
    /// @dev No case was opened under `caseId`.
    error CaseLedgerUnknownCase(bytes32 caseId);
    /// @dev A case was already opened under `caseId`.
    error CaseLedgerCaseExists(bytes32 caseId);
    /// @dev DISPUTE_RESOLVED without an open dispute.
    error CaseLedgerNoOpenDispute(bytes32 caseId);
    /// @dev INTAKE can only be written by {openCase}.
    error CaseLedgerIntakeByAppend(bytes32 caseId);
    /// @dev A commitment must not be zero.
    error CaseLedgerZeroCommitment(bytes32 caseId);
    /// @dev The home district is not a 6-digit code, or the serial is empty or longer than 64 bytes.
    error CaseLedgerInvalidCase(string serial, uint32 homeDistrict);
    /// @dev Too many open disputes on one case (255).
    error CaseLedgerTooManyDisputes(bytes32 caseId);

    /// @notice A case was opened; `caseId` is `keccak256(bytes(serial))`.
    event CaseOpened(
        bytes32 indexed caseId, uint32 indexed acceptingHall, uint32 indexed homeDistrict, string serial, bytes16 itemCode
    );

    /// @notice An event was appended to a case; `head` is the case's new hash-chain head.
    event EventAppended(
        bytes32 indexed caseId,
        uint32 indexed hallId,
        Stage indexed stage,
        address writer,
        uint32 index,
        bytes32 commitment,
        bytes32 head
    );

    /// @notice Opens a case and records its INTAKE commitment as event 0.
    function openCase(string calldata serial, bytes16 itemCode, uint32 homeDistrict, bytes32 intakeCommitment)
        external
        returns (bytes32 caseId);

    /// @notice Appends one event to a case.
    function appendEvent(bytes32 caseId, Stage stage, bytes32 commitment) external;

    /// @notice Opens `opens` (in order) then appends `appends` (in order) in one transaction.
    function anchorBatch(OpenCase[] calldata opens, Append[] calldata appends) external;

    /// @notice The header of a case (all zero if unknown).
    function caseHeader(bytes32 caseId) external view returns (CaseHeader memory);

    /// @notice The hash-chain head of a case.
    function caseHead(bytes32 caseId) external view returns (bytes32);

    /// @notice The number of events appended to a case (INTAKE included).
    function eventCount(bytes32 caseId) external view returns (uint32);

    /// @notice The registry this ledger trusts for membership.
    function registry() external view returns (address);
}
