// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IHallRegistry} from "./IHallRegistry.sol";
import {HallRegistry} from "./HallRegistry.sol";
import {ICaseLedger} from "./ICaseLedger.sol";

/**
 * @title CaseLedger
 * @notice Cases, their stage events, per-case hash chains and per-hall Merkle-root batches.
 * See {ICaseLedger}.
 *
 * WARNING: these hashes are part of the verification format (docs/verification.md); changing any
 * of them breaks every verifier:
 * - `caseId = keccak256(abi.encodePacked(uint32 acceptingHallId, bytes(serial)))` (4 + len bytes);
 * - `head_0 = keccak256(abi.encodePacked(caseId, uint8(INTAKE), commitment_0, writer_0))` and
 *   `head_n = keccak256(abi.encodePacked(head_{n-1}, uint8(stage_n), commitment_n, writer_n))`,
 *   i.e. 32 + 1 + 32 + 20 = 85 packed bytes;
 * - `batchHead_n = keccak256(abi.encodePacked(batchHead_{n-1}, uint64 seq, root, uint32 count))`,
 *   `batchHead_{-1}` = 32 zero bytes (32 + 8 + 32 + 4 = 76 packed bytes).
 */
contract CaseLedger is ICaseLedger {
    /// @notice At most this many disputes open at once per opener (a hall, or a non-hall account) per case.
    uint8 public constant MAX_OPEN_DISPUTES_PER_OPENER = 3;

    bytes8 private constant _SUITE_INTL = "intl";
    bytes8 private constant _SUITE_GM = "gm";

    HallRegistry private immutable _registry;
    bytes32 private immutable _disputeRole;
    bytes32 private immutable _arbiterRole;
    bytes8 private immutable _suite;

    /// @dev The header's second slot: 4 + 1 + 3 + 4 + 16 + 4 = 32 bytes.
    struct CaseSlot {
        uint32 eventCount;
        Phase phase;
        uint24 homeDistrict;
        uint32 acceptingHall;
        bytes16 itemCode;
        uint32 lastBlock;
    }

    struct Case {
        bytes32 head;
        CaseSlot s;
    }

    /// @dev Per-hall batch state: 8 + 8 bytes after the head.
    struct BatchSlot {
        bytes32 head;
        uint64 batchCount;
        uint64 lastBlock;
    }

    mapping(bytes32 caseId => Case) private _cases;
    mapping(bytes32 caseId => mapping(uint32 index => Dispute)) private _disputes;
    /// @dev Open disputes per (case, opener key); see {_openerKey}.
    mapping(bytes32 caseId => mapping(uint256 openerKey => uint8)) private _openDisputes;
    mapping(uint32 hallId => BatchSlot) private _batches;

    /// @dev Caller identity resolved once per transaction; roles looked up lazily.
    struct Writer {
        address account;
        uint32 hallId;
        uint32 district;
        bool active;
        bool officerChecked;
        bool officer;
        bool arbiterChecked;
        bool arbiter;
    }

    /**
     * @dev Requirements: `suite_` is "intl" or "gm" (ASCII, zero-padded to 8 bytes).
     */
    constructor(HallRegistry registry_, bytes8 suite_) {
        if (suite_ != _SUITE_INTL && suite_ != _SUITE_GM) revert CaseLedgerUnknownSuite(suite_);
        _registry = registry_;
        _disputeRole = registry_.DISPUTE_OFFICER_ROLE();
        _arbiterRole = registry_.DISPUTE_ARBITER_ROLE();
        _suite = suite_;
    }

    /**
     * @inheritdoc ICaseLedger
     * @dev Requirements:
     * - the caller is the current key of an active hall;
     * - the serial is 1..64 bytes and the home district a 6-digit code;
     * - the hall has no case under this serial yet;
     * - the commitment is non-zero.
     * Emits {CaseOpened} and {EventAppended} (stage INTAKE, index 0, ref 0, prevBlock 0).
     */
    function openCase(string calldata serial, bytes16 itemCode, uint32 homeDistrict, bytes32 intakeCommitment)
        external
        returns (bytes32 caseId)
    {
        Writer memory w = _writer();
        return _open(w, serial, itemCode, homeDistrict, intakeCommitment);
    }

    /**
     * @inheritdoc ICaseLedger
     * @dev Requirements:
     * - the case exists, `commitment` is non-zero, `stage` is not INTAKE;
     * - lifecycle stages: the caller is an active hall with the right to the stage (see the
     *   interface) and the stage may follow the case's phase; `ref` is 0;
     * - DISPUTE_OPENED: the caller holds `DISPUTE_OFFICER_ROLE` (a hall key must be active), has
     *   fewer than {MAX_OPEN_DISPUTES_PER_OPENER} disputes open on the case; `ref` is 0;
     * - DISPUTE_RESOLVED: `ref` is the index of an open dispute of the case, and the caller is its
     *   opener (the current key of the opener hall, or the same non-hall account) holding
     *   `DISPUTE_OFFICER_ROLE`, or holds `DISPUTE_ARBITER_ROLE`.
     * Emits {EventAppended}.
     */
    function appendEvent(bytes32 caseId, Stage stage, bytes32 commitment, uint32 ref) external {
        Writer memory w = _writer();
        _append(w, caseId, stage, commitment, ref);
    }

    /**
     * @inheritdoc ICaseLedger
     * @dev All-or-nothing: one refused item reverts the whole batch with that item's error.
     * Requirements: those of {openCase} and {appendEvent}, for each item.
     * Emits what {openCase} and {appendEvent} emit, for each item, in order.
     */
    function anchorBatch(OpenCase[] calldata opens, Append[] calldata appends) external {
        Writer memory w = _writer();
        uint256 n = opens.length;
        for (uint256 i = 0; i < n; ++i) {
            OpenCase calldata o = opens[i];
            _open(w, o.serial, o.itemCode, o.homeDistrict, o.intakeCommitment);
        }
        n = appends.length;
        for (uint256 i = 0; i < n; ++i) {
            Append calldata a = appends[i];
            _append(w, a.caseId, a.stage, a.commitment, a.ref);
        }
    }

    /**
     * @inheritdoc ICaseLedger
     * @dev Requirements: the caller is the current key of an active hall; `root` is non-zero and
     * `count` at least 1. Returns the batch's sequence number (0 for a hall's first batch).
     * Emits {BatchAnchored}.
     */
    function anchorRoot(bytes32 root, uint32 count) external returns (uint64 seq) {
        Writer memory w = _writer();
        return _anchorRoot(w, root, count, false, 0);
    }

    /**
     * @inheritdoc ICaseLedger
     * @dev Requirements: those of {anchorRoot}, and `seq` is the hall's batch count (its next batch);
     * checked in this order: active hall, non-empty batch, sequence.
     * Emits {BatchAnchored}.
     */
    function anchorRootAt(uint64 seq, bytes32 root, uint32 count) external {
        Writer memory w = _writer();
        _anchorRoot(w, root, count, true, seq);
    }

    function _anchorRoot(Writer memory w, bytes32 root, uint32 count, bool checkSeq, uint64 want)
        private
        returns (uint64 seq)
    {
        if (!w.active) revert CaseLedgerInactiveHall(w.account);
        if (root == bytes32(0) || count == 0) revert CaseLedgerInvalidBatch(w.hallId, root, count);
        BatchSlot memory b = _batches[w.hallId];
        seq = b.batchCount;
        if (checkSeq && want != seq) revert CaseLedgerBatchOutOfSequence(w.hallId, seq, want);
        uint64 prevBlock = b.lastBlock;
        bytes32 head = computeBatchHead(b.head, seq, root, count);
        b.head = head;
        b.batchCount = seq + 1;
        b.lastBlock = uint64(block.number);
        _batches[w.hallId] = b;
        emit BatchAnchored(w.hallId, seq, w.account, root, count, head, prevBlock);
    }

    /// @inheritdoc ICaseLedger
    function caseHeader(bytes32 caseId) external view returns (CaseHeader memory h) {
        Case storage c = _cases[caseId];
        CaseSlot memory s = c.s;
        h.head = c.head;
        h.eventCount = s.eventCount;
        h.phase = s.phase;
        h.homeDistrict = s.homeDistrict;
        h.acceptingHall = s.acceptingHall;
        h.itemCode = s.itemCode;
        h.lastBlock = s.lastBlock;
    }

    /// @inheritdoc ICaseLedger
    function caseHead(bytes32 caseId) external view returns (bytes32) {
        return _cases[caseId].head;
    }

    /// @inheritdoc ICaseLedger
    function eventCount(bytes32 caseId) external view returns (uint32) {
        return _cases[caseId].s.eventCount;
    }

    /// @inheritdoc ICaseLedger
    function dispute(bytes32 caseId, uint32 index) external view returns (Dispute memory) {
        return _disputes[caseId][index];
    }

    /// @inheritdoc ICaseLedger
    function openDisputesOf(bytes32 caseId, address opener) external view returns (uint8) {
        return _openDisputes[caseId][_openerKey(_registry.hallIdOf(opener), opener)];
    }

    /// @inheritdoc ICaseLedger
    function batchHeader(uint32 hallId) external view returns (BatchHeader memory h) {
        BatchSlot memory b = _batches[hallId];
        h.head = b.head;
        h.batchCount = b.batchCount;
        h.lastBlock = b.lastBlock;
    }

    /// @inheritdoc ICaseLedger
    function caseIdOf(uint32 acceptingHall, string calldata serial) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(acceptingHall, bytes(serial)));
    }

    /// @inheritdoc ICaseLedger
    function hashSuite() external view returns (bytes8) {
        return _suite;
    }

    /// @inheritdoc ICaseLedger
    function formatVersion() external pure returns (uint16) {
        return 2;
    }

    /// @inheritdoc ICaseLedger
    function registry() external view returns (address) {
        return address(_registry);
    }

    /// @notice The next hash-chain head; see the WARNING on the contract.
    function computeHead(bytes32 prev, Stage stage, bytes32 commitment, address writer) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(prev, uint8(stage), commitment, writer));
    }

    /// @notice The next batch-chain head; see the WARNING on the contract.
    function computeBatchHead(bytes32 prev, uint64 seq, bytes32 root, uint32 count) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(prev, seq, root, count));
    }

    function _writer() private view returns (Writer memory w) {
        (uint32 hallId, uint32 district, IHallRegistry.HallStatus status) = _registry.hallOf(msg.sender);
        w.account = msg.sender;
        w.hallId = hallId;
        w.district = district;
        w.active = status == IHallRegistry.HallStatus.Active;
    }

    function _isOfficer(Writer memory w) private view returns (bool) {
        if (!w.officerChecked) {
            w.officer = _registry.hasRole(_disputeRole, w.account);
            w.officerChecked = true;
        }
        return w.officer;
    }

    function _isArbiter(Writer memory w) private view returns (bool) {
        if (!w.arbiterChecked) {
            w.arbiter = _registry.hasRole(_arbiterRole, w.account);
            w.arbiterChecked = true;
        }
        return w.arbiter;
    }

    /// @dev Opener bucket: a hall (whichever of its keys) or a non-hall account; never collide (addresses < 2^160).
    function _openerKey(uint32 hallId, address account) private pure returns (uint256) {
        return hallId != 0 ? (uint256(1) << 160) | hallId : uint256(uint160(account));
    }

    function _open(
        Writer memory w,
        string calldata serial,
        bytes16 itemCode,
        uint32 homeDistrict,
        bytes32 commitment
    ) private returns (bytes32 caseId) {
        if (!w.active) revert CaseLedgerInactiveHall(w.account);
        uint256 len = bytes(serial).length;
        if (len == 0 || len > 64 || homeDistrict < 100000 || homeDistrict > 999999) {
            revert CaseLedgerInvalidCase(serial, homeDistrict);
        }
        caseId = caseIdOf(w.hallId, serial);
        Case storage c = _cases[caseId];
        if (c.s.phase != Phase.None) revert CaseLedgerCaseExists(caseId);
        if (commitment == bytes32(0)) revert CaseLedgerZeroCommitment(caseId);
        bytes32 head = computeHead(caseId, Stage.INTAKE, commitment, w.account);
        c.head = head;
        c.s = CaseSlot({
            eventCount: 1,
            phase: Phase.Opened,
            homeDistrict: uint24(homeDistrict),
            acceptingHall: w.hallId,
            itemCode: itemCode,
            lastBlock: uint32(block.number)
        });
        emit CaseOpened(caseId, w.hallId, homeDistrict, serial, itemCode);
        emit EventAppended(caseId, w.hallId, Stage.INTAKE, w.account, 0, commitment, head, 0, 0);
    }

    function _append(Writer memory w, bytes32 caseId, Stage stage, bytes32 commitment, uint32 ref) private {
        Case storage c = _cases[caseId];
        CaseSlot memory s = c.s;
        if (s.phase == Phase.None) revert CaseLedgerUnknownCase(caseId);
        if (commitment == bytes32(0)) revert CaseLedgerZeroCommitment(caseId);
        if (stage == Stage.INTAKE) revert CaseLedgerIntakeByAppend(caseId);
        uint32 index = s.eventCount;

        if (stage == Stage.DISPUTE_OPENED) {
            if (ref != 0) revert CaseLedgerRefNotAllowed(caseId, stage, ref);
            _openDispute(w, caseId, index);
        } else if (stage == Stage.DISPUTE_RESOLVED) {
            _resolveDispute(w, caseId, ref);
        } else {
            if (!w.active) revert CaseLedgerInactiveHall(w.account);
            bool byAcceptingHall = stage == Stage.MATERIALS || stage == Stage.DELIVERY;
            bool allowed = byAcceptingHall ? w.hallId == s.acceptingHall : w.district == s.homeDistrict;
            if (!allowed) revert CaseLedgerUnauthorizedWriter(w.account, caseId, stage);
            if (ref != 0) revert CaseLedgerRefNotAllowed(caseId, stage, ref);
            s.phase = _nextPhase(caseId, stage, s.phase);
        }

        uint64 prevBlock = s.lastBlock;
        bytes32 head = computeHead(c.head, stage, commitment, w.account);
        c.head = head;
        s.eventCount = index + 1;
        s.lastBlock = uint32(block.number);
        c.s = s;
        emit EventAppended(caseId, w.hallId, stage, w.account, index, commitment, head, ref, prevBlock);
    }

    function _checkDisputeWriter(Writer memory w, bytes32 caseId, Stage stage) private view returns (bool officer) {
        officer = _isOfficer(w);
        if (!officer && (stage == Stage.DISPUTE_OPENED || !_isArbiter(w))) {
            revert CaseLedgerUnauthorizedWriter(w.account, caseId, stage);
        }
        // A hall key that holds a dispute role must still be active; a bare account (no hall) is enough on its own.
        if (w.hallId != 0 && !w.active) revert CaseLedgerInactiveHall(w.account);
    }

    function _openDispute(Writer memory w, bytes32 caseId, uint32 index) private {
        _checkDisputeWriter(w, caseId, Stage.DISPUTE_OPENED);
        uint256 key = _openerKey(w.hallId, w.account);
        uint8 open = _openDisputes[caseId][key];
        if (open >= MAX_OPEN_DISPUTES_PER_OPENER) revert CaseLedgerTooManyDisputes(caseId, w.account);
        _openDisputes[caseId][key] = open + 1;
        _disputes[caseId][index] = Dispute({openerHall: w.hallId, openerAccount: w.account, open: true});
    }

    function _resolveDispute(Writer memory w, bytes32 caseId, uint32 ref) private {
        bool officer = _checkDisputeWriter(w, caseId, Stage.DISPUTE_RESOLVED);
        Dispute storage d = _disputes[caseId][ref];
        if (!d.open) revert CaseLedgerNoOpenDispute(caseId, ref);
        uint32 openerHall = d.openerHall;
        address openerAccount = d.openerAccount;
        bool byOpener = officer && (openerHall != 0 ? w.hallId == openerHall : w.account == openerAccount);
        if (!byOpener && !_isArbiter(w)) revert CaseLedgerNotDisputeOpener(w.account, caseId, ref);
        d.open = false;
        _openDisputes[caseId][_openerKey(openerHall, openerAccount)] -= 1;
    }

    function _nextPhase(bytes32 caseId, Stage stage, Phase phase) private pure returns (Phase) {
        if (stage == Stage.MATERIALS) {
            if (phase == Phase.Opened) return Phase.MaterialsRecorded;
            if (phase == Phase.MaterialsRecorded || phase == Phase.Accepted) return phase;
        } else if (stage == Stage.ACCEPTANCE) {
            if (phase == Phase.MaterialsRecorded) return Phase.Accepted;
        } else if (stage == Stage.PROCESS) {
            if (phase == Phase.Accepted) return phase;
        } else if (stage == Stage.RESULT) {
            if (phase == Phase.Accepted) return Phase.Decided;
        } else if (stage == Stage.DELIVERY) {
            if (phase == Phase.Decided) return Phase.Delivered;
        }
        revert CaseLedgerOutOfOrder(caseId, stage, phase);
    }
}
