// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IHallRegistry} from "./IHallRegistry.sol";
import {HallRegistry} from "./HallRegistry.sol";
import {ICaseLedger} from "./ICaseLedger.sol";

/**
 * @title CaseLedger
 * @notice Cases, their stage events and per-case hash chains. See {ICaseLedger}.
 *
 * WARNING: the hash chain is part of the verification format (docs/verification.md):
 * `head_0 = keccak256(abi.encodePacked(caseId, uint8(INTAKE), commitment_0, writer_0))` and
 * `head_n = keccak256(abi.encodePacked(head_{n-1}, uint8(stage_n), commitment_n, writer_n))`,
 * i.e. 32 + 1 + 32 + 20 = 85 packed bytes. Changing it breaks every verifier.
 */
contract CaseLedger is ICaseLedger {
    HallRegistry private immutable _registry;
    bytes32 private immutable _disputeRole;

    mapping(bytes32 caseId => CaseHeader) private _cases;

    /// @dev Caller identity resolved once per transaction.
    struct Writer {
        address account;
        uint32 hallId;
        uint32 district;
        bool active;
        bool disputeChecked;
        bool disputeOfficer;
    }

    constructor(HallRegistry registry_) {
        _registry = registry_;
        _disputeRole = registry_.DISPUTE_OFFICER_ROLE();
    }

    /**
     * @inheritdoc ICaseLedger
     * @dev Requirements: caller is an active hall; the serial is new, 1..64 bytes; the home
     * district is a 6-digit code; the commitment is non-zero.
     * Emits {CaseOpened} and {EventAppended} (stage INTAKE, index 0).
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
     * @dev Requirements: see the contract's lifecycle rules. Emits {EventAppended}.
     */
    function appendEvent(bytes32 caseId, Stage stage, bytes32 commitment) external {
        Writer memory w = _writer();
        _append(w, caseId, stage, commitment);
    }

    /**
     * @inheritdoc ICaseLedger
     * @dev All-or-nothing: one refused item reverts the whole batch with that item's error.
     * Emits what {openCase} and {appendEvent} emit, for each item.
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
            _append(w, a.caseId, a.stage, a.commitment);
        }
    }

    /// @inheritdoc ICaseLedger
    function caseHeader(bytes32 caseId) external view returns (CaseHeader memory) {
        return _cases[caseId];
    }

    /// @inheritdoc ICaseLedger
    function caseHead(bytes32 caseId) external view returns (bytes32) {
        return _cases[caseId].head;
    }

    /// @inheritdoc ICaseLedger
    function eventCount(bytes32 caseId) external view returns (uint32) {
        return _cases[caseId].eventCount;
    }

    /// @inheritdoc ICaseLedger
    function registry() external view returns (address) {
        return address(_registry);
    }

    /// @notice The next hash-chain head; see the WARNING on the contract.
    function computeHead(bytes32 prev, Stage stage, bytes32 commitment, address writer) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(prev, uint8(stage), commitment, writer));
    }

    function _writer() private view returns (Writer memory w) {
        (uint32 hallId, uint32 district, IHallRegistry.HallStatus status) = _registry.hallOf(msg.sender);
        w.account = msg.sender;
        w.hallId = hallId;
        w.district = district;
        w.active = status == IHallRegistry.HallStatus.Active;
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
        caseId = keccak256(bytes(serial));
        CaseHeader storage c = _cases[caseId];
        if (c.phase != Phase.None) revert CaseLedgerCaseExists(caseId);
        if (commitment == bytes32(0)) revert CaseLedgerZeroCommitment(caseId);
        bytes32 head = computeHead(caseId, Stage.INTAKE, commitment, w.account);
        c.head = head;
        c.eventCount = 1;
        c.phase = Phase.Opened;
        c.homeDistrict = homeDistrict;
        c.acceptingHall = w.hallId;
        c.itemCode = itemCode;
        emit CaseOpened(caseId, w.hallId, homeDistrict, serial, itemCode);
        emit EventAppended(caseId, w.hallId, Stage.INTAKE, w.account, 0, commitment, head);
    }

    function _append(Writer memory w, bytes32 caseId, Stage stage, bytes32 commitment) private {
        CaseHeader storage c = _cases[caseId];
        Phase phase = c.phase;
        if (phase == Phase.None) revert CaseLedgerUnknownCase(caseId);
        if (commitment == bytes32(0)) revert CaseLedgerZeroCommitment(caseId);
        if (stage == Stage.INTAKE) revert CaseLedgerIntakeByAppend(caseId);

        if (stage == Stage.DISPUTE_OPENED || stage == Stage.DISPUTE_RESOLVED) {
            if (!w.disputeChecked) {
                w.disputeOfficer = _registry.hasRole(_disputeRole, w.account);
                w.disputeChecked = true;
            }
            // A hall key that holds the role must still be active; a bare officer account (no hall) is enough on its own.
            if (w.hallId != 0 && !w.active) revert CaseLedgerInactiveHall(w.account);
            if (!w.disputeOfficer) revert CaseLedgerUnauthorizedWriter(w.account, caseId, stage);
            if (stage == Stage.DISPUTE_OPENED) {
                if (c.openDisputes == type(uint8).max) revert CaseLedgerTooManyDisputes(caseId);
                c.openDisputes += 1;
            } else {
                if (c.openDisputes == 0) revert CaseLedgerNoOpenDispute(caseId);
                c.openDisputes -= 1;
            }
        } else {
            if (!w.active) revert CaseLedgerInactiveHall(w.account);
            bool byAcceptingHall = stage == Stage.MATERIALS || stage == Stage.DELIVERY;
            bool allowed = byAcceptingHall ? w.hallId == c.acceptingHall : w.district == c.homeDistrict;
            if (!allowed) revert CaseLedgerUnauthorizedWriter(w.account, caseId, stage);
            c.phase = _nextPhase(caseId, stage, phase);
        }

        uint32 index = c.eventCount;
        bytes32 head = computeHead(c.head, stage, commitment, w.account);
        c.head = head;
        c.eventCount = index + 1;
        emit EventAppended(caseId, w.hallId, stage, w.account, index, commitment, head);
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
