// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title ICaseLedger
 * @notice Tamper-evident trail of cross-district government service cases (format 2). Only salted
 * commitments (32-byte Merkle roots computed off chain) are recorded: never personal data.
 *
 * Lifecycle (design.md §3):
 *   INTAKE ─► MATERIALS+ ─► ACCEPTANCE ─► PROCESS* ─► RESULT ─► DELIVERY
 *   DISPUTE_OPENED / DISPUTE_RESOLVED at any time after INTAKE.
 * Writers: INTAKE, MATERIALS, DELIVERY by the accepting hall; ACCEPTANCE, PROCESS, RESULT by an
 * active hall of the home district; DISPUTE_OPENED by a dispute officer; DISPUTE_RESOLVED by the
 * officer (hall or account) that opened that dispute, or by a dispute arbiter. MATERIALS may be
 * appended again after ACCEPTANCE (supplements) until RESULT.
 *
 * A case's id is bound to the hall that opened it:
 * `caseId = keccak256(abi.encodePacked(uint32 acceptingHallId, bytes(serial)))`, the hall id taken
 * from the caller's registration, so no hall can open, block or write into another hall's case.
 *
 * Every event carries the block of the case's previous event (`prevBlock`) and the header keeps the
 * block of the latest one (`lastBlock`), so a reader finds all events of a case with one-block
 * `eth_getLogs` queries, walking back: O(events), independent of the chain's length.
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

    /// @notice Where a case is in its lifecycle (derived from the lifecycle stages appended so far).
    enum Phase {
        None,
        Opened,
        MaterialsRecorded,
        Accepted,
        Decided,
        Delivered
    }

    /// @notice On-chain header of a case (stored in two slots; returned with ordinary widths).
    struct CaseHeader {
        bytes32 head;
        uint32 eventCount;
        Phase phase;
        uint32 homeDistrict;
        uint32 acceptingHall;
        bytes16 itemCode;
        uint64 lastBlock;
    }

    /// @notice A dispute opened on a case, stored under the index of its DISPUTE_OPENED event.
    struct Dispute {
        uint32 openerHall;
        address openerAccount;
        bool open;
    }

    /// @notice Per-hall state of Merkle-root anchoring.
    struct BatchHeader {
        bytes32 head;
        uint64 batchCount;
        uint64 lastBlock;
    }

    /// @notice A case to open in a batch.
    struct OpenCase {
        string serial;
        bytes16 itemCode;
        uint32 homeDistrict;
        bytes32 intakeCommitment;
    }

    /// @notice An event to append in a batch (`ref`: see {appendEvent}).
    struct Append {
        bytes32 caseId;
        Stage stage;
        bytes32 commitment;
        uint32 ref;
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
    /// @dev DISPUTE_RESOLVED whose `ref` does not name an open dispute of the case.
    error CaseLedgerNoOpenDispute(bytes32 caseId, uint32 ref);
    /// @dev DISPUTE_RESOLVED by someone who neither opened dispute `ref` nor holds `DISPUTE_ARBITER_ROLE`.
    error CaseLedgerNotDisputeOpener(address writer, bytes32 caseId, uint32 ref);
    /// @dev `opener` (its hall, when it is a hall key) already has the maximum of open disputes on the case.
    error CaseLedgerTooManyDisputes(bytes32 caseId, address opener);
    /// @dev A non-zero `ref` on a stage other than DISPUTE_RESOLVED.
    error CaseLedgerRefNotAllowed(bytes32 caseId, Stage stage, uint32 ref);
    /// @dev INTAKE can only be written by {openCase}.
    error CaseLedgerIntakeByAppend(bytes32 caseId);
    /// @dev A commitment must not be zero.
    error CaseLedgerZeroCommitment(bytes32 caseId);
    /// @dev The home district is not a 6-digit code, or the serial is empty or longer than 64 bytes.
    error CaseLedgerInvalidCase(string serial, uint32 homeDistrict);
    /// @dev The hash suite is neither "intl" nor "gm".
    error CaseLedgerUnknownSuite(bytes8 suite);
    /// @dev A Merkle-root batch needs a non-zero root and at least one leaf.
    error CaseLedgerInvalidBatch(uint32 hallId, bytes32 root, uint32 count);
    /// @dev {anchorRootAt} for batch `seq` while the hall's next batch is `expected` (sent twice, or out of order).
    error CaseLedgerBatchOutOfSequence(uint32 hallId, uint64 expected, uint64 seq);

    /// @notice A case was opened by `acceptingHall`; `caseId` is `keccak256(abi.encodePacked(acceptingHall, serial))`.
    event CaseOpened(
        bytes32 indexed caseId, uint32 indexed acceptingHall, uint32 indexed homeDistrict, string serial, bytes16 itemCode
    );

    /**
     * @notice An event was appended to a case; `head` is the case's new hash-chain head.
     * `ref` is the index of the DISPUTE_OPENED event a DISPUTE_RESOLVED closes (0 otherwise);
     * `prevBlock` is the block of the case's previous event (0 for INTAKE).
     */
    event EventAppended(
        bytes32 indexed caseId,
        uint32 indexed hallId,
        Stage indexed stage,
        address writer,
        uint32 index,
        bytes32 commitment,
        bytes32 head,
        uint32 ref,
        uint64 prevBlock
    );

    /**
     * @notice Hall `hallId` anchored batch `seq`: a Merkle root over `count` leaves.
     * `head` is the hall's new batch-chain head, `prevBlock` the block of its previous batch (0 for the first).
     */
    event BatchAnchored(
        uint32 indexed hallId,
        uint64 indexed seq,
        address writer,
        bytes32 root,
        uint32 count,
        bytes32 head,
        uint64 prevBlock
    );

    /// @notice Opens a case of the caller's hall and records its INTAKE commitment as event 0.
    function openCase(string calldata serial, bytes16 itemCode, uint32 homeDistrict, bytes32 intakeCommitment)
        external
        returns (bytes32 caseId);

    /// @notice Appends one event to a case; `ref` names the dispute a DISPUTE_RESOLVED closes, else 0.
    function appendEvent(bytes32 caseId, Stage stage, bytes32 commitment, uint32 ref) external;

    /// @notice Opens `opens` (in order) then appends `appends` (in order) in one transaction.
    function anchorBatch(OpenCase[] calldata opens, Append[] calldata appends) external;

    /// @notice Anchors a Merkle root over `count` records of the caller's hall.
    function anchorRoot(bytes32 root, uint32 count) external returns (uint64 seq);

    /**
     * @notice Anchors a Merkle root as the caller hall's batch `seq`, which must be its next one: a batch
     * sent twice, or overtaken by another, is refused instead of being anchored under another number
     * (exactly-once anchoring in Merkle mode; the leaves' per-case back-links name batches by `seq`).
     */
    function anchorRootAt(uint64 seq, bytes32 root, uint32 count) external;

    /// @notice The header of a case (all zero if unknown).
    function caseHeader(bytes32 caseId) external view returns (CaseHeader memory);

    /// @notice The hash-chain head of a case.
    function caseHead(bytes32 caseId) external view returns (bytes32);

    /// @notice The number of events appended to a case (INTAKE included).
    function eventCount(bytes32 caseId) external view returns (uint32);

    /// @notice The dispute opened by event `index` of a case (all zero if that event opened none).
    function dispute(bytes32 caseId, uint32 index) external view returns (Dispute memory);

    /// @notice How many disputes `opener` (a hall key counts for its hall) has open on a case.
    function openDisputesOf(bytes32 caseId, address opener) external view returns (uint8);

    /// @notice Merkle-root anchoring state of a hall.
    function batchHeader(uint32 hallId) external view returns (BatchHeader memory);

    /// @notice The case id a hall's serial gets.
    function caseIdOf(uint32 acceptingHall, string calldata serial) external pure returns (bytes32);

    /// @notice The deployment's hash suite for records, materials and Merkle nodes: "intl" or "gm", zero-padded.
    function hashSuite() external view returns (bytes8);

    /// @notice The evidence format this contract implements (2).
    function formatVersion() external pure returns (uint16);

    /// @notice The registry this ledger trusts for membership.
    function registry() external view returns (address);
}
