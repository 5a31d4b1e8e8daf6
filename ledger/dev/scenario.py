"""Synthetic, deterministic cases: records, the chain facts the contracts would produce, and the bundle.

Used by the conformance-vector generator (scripts/make_vectors.py) and by the verifier's and the
audit's unit tests, so that every test of the pure checks starts from a case built exactly the way
the contracts build one (case id bound to the accepting hall, hash chain, back-links, registry
history with ``prevChangeBlock``), with fixed salts::

    case = Scenario.standard(suite=GM)
    bundle, facts = case.build()
    verify_bundle(bundle, facts).verdict      # "match"

Nothing here talks to a chain; tamper with the outputs (or build a scenario with other steps) to
make a case that must fail.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from ledger.core.batches import BatchTree, EventLeaf, Manifest, batch_head
from ledger.core.bundle import (
    BatchProof,
    BundleEvent,
    BundleMaterial,
    EvidenceBundle,
    ExportedBy,
    parse_bundle,
    parse_bundle_bytes,
)
from ledger.core.chainlog import ROLE_IDS
from ledger.core.facts import BatchFact, BatchScan, CaseHeader, ChainEventFact, ChainFacts, MerkleFacts, RegistryFact
from ledger.core.hashchain import case_id, next_head
from ledger.core.materials import MaterialFile, MaterialSet
from ledger.core.records import SaltedRecord
from ledger.core.stages import Phase, Stage
from ledger.core.suites import INTL, Suite, suite_named
from ledger.core.timefmt import CST
from ledger.errors import InputError
from ledger.verify.checks import verify_bundle
from ledger.verify.merkle import verify_merkle_bundle

__all__ = [
    "ACCOUNTS",
    "GENESIS_TIME",
    "Scenario",
    "Step",
    "MerkleBuild",
    "add_batch",
    "block_time",
    "build_merkle",
    "merkle_registry",
    "merkle_standard",
    "standard_registry",
    "vector_answer",
]

# Default accounts of Hardhat's and anvil's test mnemonic ("test test ... junk").
ACCOUNTS = {
    "admin": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "hall_a": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",  # hall 1, accepting, district 350502
    "hall_b": "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",  # hall 2, home, district 350503
    "officer": "0x90F79bf6EB2c4f870365E785982E1f101E93b906",  # dispute officer, not a hall
    "hall_c": "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",  # hall 3, district 350502 (another hall)
    "arbiter": "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",  # dispute arbiter, not a hall
    "officer2": "0x976EA74026E726554dB657fA54763abd0C3a0aa9",  # another dispute officer
    "hall_b2": "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",  # hall 2's key after a rotation
}
HALL_OF = {"hall_a": 1, "hall_b": 2, "hall_c": 3, "hall_b2": 2}
_HALL_KEY = {1: "hall_a", 2: "hall_b", 3: "hall_c"}
"""the hall id each hall key writes with (hall_b2 is hall 2's key after a rotation)"""
GENESIS_TIME = 1_796_083_200  # 2026-12-01T08:00:00+08:00
# as `make demo` deploys them: the registry first (the deployer's nonce 0), then the ledger (nonce 1)
REGISTRY = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
LEDGER = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"


def block_time(block: int) -> int:
    """Two-second blocks from :data:`GENESIS_TIME`."""
    return GENESIS_TIME + 2 * block


def _iso(unix: int) -> str:
    return datetime.fromtimestamp(unix, CST).isoformat(timespec="seconds")


def _hex(label: str) -> str:
    return hashlib.sha256(("caseledger-vector|" + label).encode()).hexdigest()


def standard_registry() -> list[RegistryFact]:
    """The consortium's history: admin roles, halls 1–3, an officer, an arbiter, a second officer."""
    changes: list[tuple[int, dict[str, Any]]] = [
        (1, {"kind": "role_granted", "role": ROLE_IDS["DEFAULT_ADMIN_ROLE"], "account": ACCOUNTS["admin"]}),
        (1, {"kind": "role_granted", "role": ROLE_IDS["HALL_ADMIN_ROLE"], "account": ACCOUNTS["admin"]}),
        (2, {"kind": "registered", "hall_id": 1, "account": ACCOUNTS["hall_a"], "district": 350502}),
        (3, {"kind": "registered", "hall_id": 2, "account": ACCOUNTS["hall_b"], "district": 350503}),
        (4, {"kind": "registered", "hall_id": 3, "account": ACCOUNTS["hall_c"], "district": 350502}),
        (5, {"kind": "role_granted", "role": ROLE_IDS["DISPUTE_OFFICER_ROLE"], "account": ACCOUNTS["officer"]}),
        (5, {"kind": "role_granted", "role": ROLE_IDS["DISPUTE_ARBITER_ROLE"], "account": ACCOUNTS["arbiter"]}),
        (6, {"kind": "role_granted", "role": ROLE_IDS["DISPUTE_OFFICER_ROLE"], "account": ACCOUNTS["officer2"]}),
    ]
    return chain_registry(changes)


def chain_registry(changes: list[tuple[int, dict[str, Any]]]) -> list[RegistryFact]:
    """Registry facts with log indices and ``prev_change_block`` as the contract emits them."""
    out: list[RegistryFact] = []
    last = 0
    per_block: dict[int, int] = {}
    for block, c in sorted(changes, key=lambda x: (x[0], x[1].get("log_index", -1))):
        c = dict(c)
        li = int(c.pop("log_index", per_block.get(block, 0)))
        per_block[block] = li + 1
        out.append(RegistryFact(block=block, log_index=li, prev_change_block=last, **c))
        last = block
    return out


@dataclass(frozen=True)
class Step:
    """One event of a synthetic case."""

    stage: Stage
    writer: str
    """a key of :data:`ACCOUNTS`"""
    fields: dict[str, Any]
    block: int
    hall_id: int | None = None
    """the log's hall id (default: the writer's hall, 0 for an officer or arbiter)"""
    at: str | None = None
    """the record's claimed time (default: 30 s before its block)"""
    ref: int = 0
    resolves: int | None = None
    """(DISPUTE_RESOLVED) default: ``ref``"""
    intake_commitment: str | None = None
    """default: event 0's commitment"""
    files: tuple[tuple[str, str, bytes], ...] = ()
    """(kind, name, content) committed by a MATERIALS or RESULT record"""


_FILE_FIELDS = {
    Stage.MATERIALS: ("materials_root", "materials_count"),
    Stage.RESULT: ("documents_root", "documents_count"),
}


@dataclass
class Scenario:
    serial: str = "TB20261201-001-00001"
    accepting_hall: int = 1
    home_district: int = 350503
    item_code: str = "BDC-TRANSFER"
    suite: Suite = INTL
    chain_id: int = 31337
    ledger: str = LEDGER
    registry: str = REGISTRY
    steps: list[Step] = field(default_factory=list)
    registry_log: list[RegistryFact] = field(default_factory=standard_registry)
    withhold: frozenset[str] = frozenset({"applicant_id_number", "applicant_phone"})
    include_files: bool = True
    omit_at: frozenset[int] = frozenset()
    """events whose record carries no ``at`` (a malformed record, for the verifier's tests)"""
    raw_fields: dict[int, dict[str, Any]] = field(default_factory=dict)
    """field values set on a record after it is built, bypassing its checks (malformed records)"""
    trusted: bool = True
    """the facts were read at a trusted deployment's addresses (``False``: at the bundle's own)"""

    @classmethod
    def standard(cls, *, suite: Suite = INTL, serial: str = "TB20261201-001-00001") -> Scenario:
        """One case through every stage, with a dispute opened and resolved by its opener and supplements."""
        materials = (
            ("id_card", "身份证.pdf", b"%PDF-1.4 id card of the applicant\n"),
            ("application", "申请表.pdf", b"%PDF-1.4 application form\n"),
            ("contract", "买卖合同.pdf", b"%PDF-1.4 sales contract\n"),
        )
        intake = {
            "item_code": "BDC-TRANSFER",
            "item_name": "不动产转移登记",
            "home_district": 350503,
            "accepting_hall": 1,
            "accepting_district": 350502,
            "applicant_name": "张三",
            "applicant_id_number": "350502199001011234",
            "applicant_phone": "13800000000",
            "intake_staff": "clerk",
            "time_limit_working_days": 5,
        }
        steps = [
            Step(Stage.INTAKE, "hall_a", intake, block=10),
            Step(Stage.MATERIALS, "hall_a", {"supplement": False}, block=10, files=materials),
            Step(Stage.ACCEPTANCE, "hall_b", {"decision": "accepted", "reason": "", "staff": "officer"}, block=14),
            Step(Stage.PROCESS, "hall_b", {"step": "review", "note": "材料齐全", "staff": "officer"}, block=15),
            Step(
                Stage.DISPUTE_OPENED, "officer", {"reason": "申请人称身份证复印件被替换", "staff": "dispute"}, block=16
            ),
            Step(
                Stage.RESULT,
                "hall_b",
                {"decision": "approved", "note": "", "staff": "officer"},
                block=18,
                files=(("certificate", "不动产权证书.pdf", b"%PDF-1.4 certificate\n"),),
            ),
            Step(
                Stage.DISPUTE_RESOLVED,
                "officer",
                {"verdict": "match", "conclusion": "材料未被篡改", "staff": "dispute"},
                block=19,
                ref=4,
            ),
            Step(Stage.DELIVERY, "hall_a", {"method": "counter", "note": "", "staff": "clerk"}, block=20),
        ]
        return cls(serial=serial, suite=suite, steps=steps)

    def with_steps(self, steps: list[Step]) -> Scenario:
        return replace(self, steps=steps)

    def replace_step(self, index: int, **changes: Any) -> Scenario:
        steps = list(self.steps)
        steps[index] = replace(steps[index], **changes)
        return self.with_steps(steps)

    # ------------------------------------------------------------------ build
    def records(self) -> list[tuple[SaltedRecord, MaterialSet | None, list[bytes]]]:
        out: list[tuple[SaltedRecord, MaterialSet | None, list[bytes]]] = []
        intake_commitment: str | None = None
        for i, st in enumerate(self.steps):
            fields = dict(st.fields)
            mset: MaterialSet | None = None
            contents: list[bytes] = []
            if st.files:
                files = [
                    MaterialFile.of(k, n, d, salt=_hex(f"{self.serial}|{i}|file|{j}"), suite=self.suite)
                    for j, (k, n, d) in enumerate(st.files)
                ]
                mset = MaterialSet.new(files, self.suite)
                root_f, count_f = _FILE_FIELDS[st.stage]
                fields[root_f], fields[count_f] = mset.root.hex(), len(files)
                contents = [d for _, _, d in st.files]
            names = [*fields, "case_serial", "stage", "at", "intake_commitment", "resolves"]
            salts = {n: _hex(f"{self.serial}|{i}|{st.stage.name}|{n}") for n in names}
            at = st.at or _iso(block_time(st.block) - 30)
            resolves = (
                st.resolves if st.resolves is not None else (st.ref if st.stage == Stage.DISPUTE_RESOLVED else None)
            )
            ic = None if st.stage == Stage.INTAKE else (st.intake_commitment or intake_commitment)
            rec = SaltedRecord.new(
                self.serial,
                st.stage,
                fields,
                at=at,
                intake_commitment=ic,
                resolves=resolves,
                suite=self.suite,
                salts=salts,
            )
            if i in self.omit_at or i in self.raw_fields:
                raw = {k: v for k, v in rec.fields.items() if not (k == "at" and i in self.omit_at)}
                raw.update(self.raw_fields.get(i, {}))
                rec = SaltedRecord(
                    serial=rec.serial,
                    stage=rec.stage,
                    fields=raw,
                    salts={k: salts.get(k, _hex(f"{self.serial}|{i}|raw|{k}")) for k in raw},
                    suite=rec.suite,
                )
            if st.stage == Stage.INTAKE and intake_commitment is None:
                intake_commitment = "0x" + rec.commitment.hex()
            out.append((rec, mset, contents))
        return out

    def build(self) -> tuple[EvidenceBundle, ChainFacts]:
        """The bundle a hall would export and the chain facts a verifier would read."""
        cid = case_id(self.accepting_hall, self.serial)
        prev = cid
        events: list[ChainEventFact] = []
        bevents: list[BundleEvent] = []
        materials: list[BundleMaterial] = []
        last_block = 0
        per_block: dict[int, int] = {}
        phase = Phase.NONE
        for i, (st, (rec, mset, contents)) in enumerate(zip(self.steps, self.records(), strict=True)):
            writer = ACCOUNTS[st.writer]
            head = next_head(prev, st.stage, rec.commitment, writer)
            prev = head
            hall = st.hall_id if st.hall_id is not None else HALL_OF.get(st.writer, 0)
            li = per_block.get(st.block, 0)
            per_block[st.block] = li + 1
            coords: dict[str, Any] = {
                "index": i,
                "writer": writer,
                "hall_id": hall,
                "block": st.block,
                "time": block_time(st.block),
                "commitment": "0x" + rec.commitment.hex(),
                "head": "0x" + head.hex(),
                "tx": "0x" + _hex(f"{self.serial}|tx|{i}"),
                "ref": st.ref,
            }
            events.append(ChainEventFact(stage=st.stage, log_index=li, prev_block=last_block if i else 0, **coords))
            last_block = st.block
            bevents.append(BundleEvent(stage=st.stage.name, record=rec.disclose(self.withhold), **coords))  # type: ignore[arg-type]
            materials += self._materials(i, mset, contents)
            if st.stage in (Stage.INTAKE, Stage.MATERIALS, Stage.ACCEPTANCE, Stage.RESULT, Stage.DELIVERY):
                phase = {
                    Stage.INTAKE: Phase.OPENED,
                    Stage.MATERIALS: max(phase, Phase.MATERIALS_RECORDED),
                    Stage.ACCEPTANCE: Phase.ACCEPTED,
                    Stage.RESULT: Phase.DECIDED,
                    Stage.DELIVERY: Phase.DELIVERED,
                }[st.stage]
        header = CaseHeader(
            head="0x" + prev.hex() if events else "0x" + "00" * 32,
            event_count=len(events),
            phase=phase,
            home_district=self.home_district if events else 0,
            accepting_hall=self.accepting_hall if events else 0,
            item_code=self.item_code if events else "",
            last_block=last_block,
        )
        facts = ChainFacts(header=header, events=events, **self._facts_of(cid))
        return self._bundle(bevents, materials, last_block), facts

    def _materials(self, i: int, mset: MaterialSet | None, contents: list[bytes]) -> list[BundleMaterial]:
        """Event ``i``'s material proofs in the bundle (with the files' content if ``include_files``)."""
        if mset is None:
            return []
        out: list[BundleMaterial] = []
        for j in range(len(mset.files)):
            content = contents[j] if self.include_files else None
            out.append(
                BundleMaterial(
                    event_index=i,
                    proof=mset.proof(j),
                    content_b64=None if content is None else base64.b64encode(content).decode(),
                )
            )
        return out

    def _facts_of(self, cid: bytes) -> dict[str, Any]:
        """What the facts of either mode say of the case, the deployment and the registry."""
        return {
            "serial": self.serial,
            "accepting_hall": self.accepting_hall,
            "case_id": "0x" + cid.hex(),
            "chain_id": self.chain_id,
            "ledger": self.ledger,
            "registry": self.registry,
            "format_version": 2,
            "suite": self.suite.name,
            "registry_log": self.registry_log,
            "dispute_role": ROLE_IDS["DISPUTE_OFFICER_ROLE"],
            "arbiter_role": ROLE_IDS["DISPUTE_ARBITER_ROLE"],
            "addresses_from": "deployment" if self.trusted else "bundle",
        }

    def _bundle(
        self,
        events: list[BundleEvent],
        materials: list[BundleMaterial],
        last_block: int,
        mode: Literal["event", "merkle"] = "event",
    ) -> EvidenceBundle:
        """The bundle the accepting hall exports ten minutes after the case's last block."""
        return EvidenceBundle(
            mode=mode,
            suite=self.suite.name,
            serial=self.serial,
            accepting_hall=self.accepting_hall,
            chain_id=self.chain_id,
            ledger=self.ledger,
            registry=self.registry,
            exported_at=_iso(block_time(last_block) + 600),
            exported_by=ExportedBy(hall_id=self.accepting_hall, name="鲤城区行政服务中心"),
            events=events,
            materials=materials,
        )


@dataclass
class MerkleBuild:
    """A Merkle-mode case as built: the bundle, the facts a verifier would read, and the manifests."""

    bundle: EvidenceBundle
    facts: MerkleFacts
    manifests: dict[tuple[int, int], Manifest]
    leaves: dict[int, EventLeaf]
    """the case's leaves by event index"""


def merkle_registry() -> list[RegistryFact]:
    """The standard consortium, with hall 3 also a dispute officer (Merkle-mode batches come from halls)."""
    base = [(f.block, {k: v for k, v in f.model_dump().items() if k not in ("block", "prev_change_block")})
            for f in standard_registry()]  # fmt: skip
    grant = {"kind": "role_granted", "role": ROLE_IDS["DISPUTE_OFFICER_ROLE"], "account": ACCOUNTS["hall_c"]}
    return chain_registry([*base, (7, grant)])


def merkle_standard(*, suite: Suite = INTL) -> Scenario:
    """The standard case with its dispute opened and resolved by hall 3 (a hall key holding the officer role)."""
    s = replace(Scenario.standard(suite=suite), registry_log=merkle_registry())
    return s.replace_step(4, writer="hall_c").replace_step(6, writer="hall_c")


def _filler(hall: int, block: int, n: int, writer: str) -> list[bytes]:
    """Leaves of other cases that share a batch (so trees have siblings on both sides)."""
    out = []
    for k in range(n):
        serial = f"TB20261201-{hall:03d}-9{block:02d}{k:02d}"
        c = bytes.fromhex(_hex(f"filler|{hall}|{block}|{k}"))
        out.append(
            EventLeaf.new(
                accepting_hall=hall,
                serial=serial,
                index=0,
                stage=Stage.INTAKE,
                commitment=c,
                writer_hall=hall,
                writer=writer,
                head=next_head(case_id(hall, serial), Stage.INTAKE, c, writer),
                home_district=350503,
                item_code="BDC-TRANSFER",
            ).encode()
        )
    return out


def build_merkle(self: Scenario, *, scan: bool = True, idle_batches: bool = True) -> MerkleBuild:  # noqa: C901
    """The case of this scenario anchored in Merkle mode: one batch per (hall, block) holding its events,
    with leaves of other cases around them; hall 3 also anchors a batch of its own in between. ``scan``
    adds every batch from the INTAKE to two blocks after the last event, with all manifests."""
    cid = case_id(self.accepting_hall, self.serial)
    records = self.records()
    plan: dict[tuple[int, int], list[int]] = {}  # (block, hall) -> step indices
    for i, st in enumerate(self.steps):
        hall = st.hall_id if st.hall_id is not None else HALL_OF[st.writer]
        plan.setdefault((st.block, hall), []).append(i)
    first = min(st.block for st in self.steps)
    last = max(st.block for st in self.steps)
    if idle_batches:
        plan.setdefault((first + 1, 3), [])  # a batch with none of this case's events
        plan.setdefault((last + 1, 3), [])
    seq_of: dict[int, int] = {}
    head_of: dict[int, bytes] = {}
    prevblock_of: dict[int, int] = {}
    per_block: dict[int, int] = {}
    batch_facts: list[BatchFact] = []
    manifests: dict[tuple[int, int], Manifest] = {}
    where: dict[int, tuple[int, int, int, int]] = {}  # step -> (hall, seq, block, leaf index)
    leaves: dict[int, EventLeaf] = {}
    prev_head = cid
    prev_batch = (0, 0)
    pending: dict[tuple[int, int], list[bytes]] = {}
    # leaves are built in event order (each needs the previous event's head and batch)
    order = sorted(plan, key=lambda k: (k[0], k[1]))
    seqs: dict[tuple[int, int], int] = {}
    for block, hall in order:
        seqs[(block, hall)] = seq_of.get(hall, 0)
        seq_of[hall] = seq_of.get(hall, 0) + 1
    for i, st in enumerate(self.steps):
        hall = st.hall_id if st.hall_id is not None else HALL_OF[st.writer]
        key = (st.block, hall)
        rec = records[i][0]
        writer = ACCOUNTS[st.writer]
        head = next_head(prev_head, st.stage, rec.commitment, writer)
        leaf = EventLeaf.new(
            accepting_hall=self.accepting_hall,
            serial=self.serial,
            index=i,
            stage=st.stage,
            commitment=rec.commitment,
            writer_hall=hall,
            writer=writer,
            head=head,
            ref=st.ref,
            prev=prev_batch,
            home_district=self.home_district,
            item_code=self.item_code,
        )
        leaves[i] = leaf
        if key not in pending:
            pending[key] = _filler(hall, st.block, 1, writer)
        where[i] = (hall, seqs[key], st.block, len(pending[key]))
        pending[key].append(leaf.encode())
        prev_head, prev_batch = head, (hall, seqs[key])
    trees: dict[tuple[int, int], BatchTree] = {}
    for block, hall in order:
        mine = [st.writer for st in self.steps if (st.block, st.hall_id or HALL_OF[st.writer]) == (block, hall)]
        writer = ACCOUNTS[mine[0] if mine else _HALL_KEY[hall]]
        leafs = [*pending.get((block, hall), _filler(hall, block, 1, writer)), *_filler(hall, block + 50, 2, writer)]
        seq = seqs[(block, hall)]
        tree = BatchTree.of(leafs, self.suite)
        trees[(block, hall)] = tree
        manifests[(hall, seq)] = Manifest(suite=self.suite, hall=hall, seq=seq, leaves=tuple(leafs))
        head = batch_head(head_of.get(hall, bytes(32)), seq, tree.root, len(leafs))
        li = per_block.get(block, 0)
        per_block[block] = li + 1
        batch_facts.append(
            _batch_fact(
                hall,
                seq,
                writer,
                tree,
                head,
                prev_block=prevblock_of.get(hall, 0),
                block=block,
                log_index=li,
                tx_label=f"{self.serial}|batch|{hall}|{seq}",
            )
        )
        head_of[hall], prevblock_of[hall] = head, block
    by_key = {(b.hall_id, b.seq): b for b in batch_facts}
    bevents: list[BundleEvent] = []
    materials: list[BundleMaterial] = []
    for i, st in enumerate(self.steps):
        rec, mset, contents = records[i]
        hall, seq, block, pos = where[i]
        bf = by_key[(hall, seq)]
        tree = trees[(block, hall)]
        leaf = leaves[i]
        bevents.append(
            BundleEvent(
                index=i,
                stage=st.stage.name,  # type: ignore[arg-type]
                writer=bf.writer,
                hall_id=hall,
                tx=bf.tx,
                block=block,
                time=bf.time,
                ref=st.ref,
                commitment="0x" + rec.commitment.hex(),
                head="0x" + leaf.head.hex(),
                record=rec.disclose(self.withhold),
                batch=BatchProof(
                    hall_id=hall,
                    seq=seq,
                    leaf_index=pos,
                    tree_size=tree.size,
                    path=[p.hex() for p in tree.proof(pos)],
                    prev_hall=leaf.prev_hall,
                    prev_seq=leaf.prev_seq,
                    home_district=leaf.home_district,
                    item_code=leaf.item_code,
                ),
            )
        )
        materials += self._materials(i, mset, contents)
    scan_facts = None
    if scan:
        to_block = last + 2
        scan_facts = BatchScan(
            from_block=first,
            to_block=to_block,
            batches=[b for b in batch_facts if first <= b.block <= to_block],
            manifests={f"{h}/{q}": m.encode().hex() for (h, q), m in manifests.items()},
        )
    facts = MerkleFacts(
        event_header=CaseHeader(
            head="0x" + "00" * 32,
            event_count=0,
            phase=Phase.NONE,
            home_district=0,
            accepting_hall=0,
            item_code="",
            last_block=0,
        ),
        batches=batch_facts,
        scan=scan_facts,
        **self._facts_of(cid),
    )
    bundle = self._bundle(bevents, materials, last, mode="merkle")
    return MerkleBuild(bundle=bundle, facts=facts, manifests=manifests, leaves=leaves)


def _batch_fact(
    hall: int,
    seq: int,
    writer: str,
    tree: BatchTree,
    head: bytes,
    *,
    prev_block: int,
    block: int,
    log_index: int,
    tx_label: str,
) -> BatchFact:
    """The ``BatchAnchored`` fact of hall ``hall``'s batch ``seq`` (root ``tree``) anchored in ``block``."""
    return BatchFact(
        hall_id=hall,
        seq=seq,
        writer=writer,
        root="0x" + tree.root.hex(),
        count=tree.size,
        head="0x" + head.hex(),
        prev_block=prev_block,
        block=block,
        log_index=log_index,
        tx="0x" + _hex(tx_label),
        time=block_time(block),
    )


def add_batch(m: MerkleBuild, *, hall: int, block: int, leaves: list[bytes], writer: str) -> MerkleBuild:
    """``m`` with one more batch of hall ``hall`` in ``block`` (next seq, chained head) in the facts and the scan."""
    suite = suite_named(m.facts.suite)
    mine = [b for b in m.facts.batches if b.hall_id == hall]
    seq = len(mine)
    prev = mine[-1] if mine else None
    tree = BatchTree.of(leaves, suite)
    head = batch_head(bytes.fromhex(prev.head[2:]) if prev else bytes(32), seq, tree.root, len(leaves))
    li = sum(1 for b in m.facts.batches if b.block == block)
    bf = _batch_fact(
        hall,
        seq,
        ACCOUNTS[writer],
        tree,
        head,
        prev_block=prev.block if prev else 0,
        block=block,
        log_index=li,
        tx_label=f"extra|{hall}|{seq}",
    )
    manifest = Manifest(suite=suite, hall=hall, seq=seq, leaves=tuple(leaves))
    scan = m.facts.scan
    if scan is not None:
        scan = scan.model_copy(
            update={
                "batches": [*scan.batches, bf] if block <= scan.to_block else scan.batches,
                "manifests": {**scan.manifests, f"{hall}/{seq}": manifest.encode().hex()},
            }
        )
    facts = m.facts.model_copy(update={"batches": [*m.facts.batches, bf], "scan": scan})
    return MerkleBuild(bundle=m.bundle, facts=facts, manifests={**m.manifests, (hall, seq): manifest}, leaves=m.leaves)


def vector_answer(vector: dict[str, Any]) -> dict[str, Any]:
    """What ``ledger.verify`` answers for a conformance vector, in the shape of its ``want``.

    The shape a third-party verifier produces from the same file (docs/verification.md §11).
    """
    try:
        raw = vector["bundle_text"].encode("utf-8") if "bundle_text" in vector else None
        bundle = parse_bundle_bytes(raw) if raw is not None else parse_bundle(vector["bundle"])
        lag = vector["max_anchor_lag_s"]
        if vector["chain"].get("mode") == "merkle":
            merkle = MerkleFacts.model_validate(vector["chain"])
            report = verify_merkle_bundle(bundle, merkle, max_anchor_lag_s=lag)
        else:
            facts = ChainFacts.model_validate(vector["chain"])
            report = verify_bundle(bundle, facts, max_anchor_lag_s=lag)
    except InputError as exc:
        return {"verdict": "unusable", "unusable_field": exc.field}
    materials: dict[str, list[str]] = {}
    for m in report.materials:
        materials.setdefault(str(m.event_index), []).append(",".join(r.code for r in m.reasons))
    return {
        "verdict": report.verdict,
        "events": {str(e.index): [r.code for r in e.reasons] for e in report.events if e.reasons},
        "findings": {str(e.index): [f.code for f in e.findings] for e in report.events if e.findings},
        "bundle": [r.code for r in report.reasons],
        "materials": {k: v for k, v in materials.items() if any(v)},
    }
