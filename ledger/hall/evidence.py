"""Export a case a hall holds as an evidence bundle (:mod:`ledger.core.bundle`, verified by :mod:`ledger.verify`).

    bundle = export_bundle(book, client, "TB20250101-001-00001", withhold={"applicant_id_number"})
    Path("case.json").write_text(bundle.dump())

Every anchored record the hall holds (its own and the verified ones received from the other hall)
is paired with its on-chain event by commitment; records not anchored yet are counted in the bundle's
``pending_records`` (the verifier then says the bundle is incomplete).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ledger.chain.client import ChainClient
from ledger.chain.deployment import Deployment
from ledger.core.bundle import BatchProof, EvidenceBundle, ExportedBy, HeldEvent, build_bundle
from ledger.core.materials import MaterialFile, MaterialProof, MaterialSet
from ledger.core.records import DisclosedRecord, SaltedRecord
from ledger.core.stages import Stage
from ledger.errors import ConfigError, InputError, NotFoundError
from ledger.hall.cases import ROOT_FIELDS, CaseBook
from ledger.hall.merkle_evidence import batch_proof, is_merkle, merkle_event, record_proof
from ledger.hall.merkle_index import ManifestStore

__all__ = ["DOCUMENT_PROOF_FORMAT", "DocumentProof", "export_bundle", "find_document_proof"]

DOCUMENT_PROOF_FORMAT = "caseledger-document-proof/2"
# Fields of a MATERIALS / RESULT record a document proof discloses; every other field is withheld
# (its salted leaf only), so the proof carries no personal data and no staff names.
_PROOF_DISCLOSED = frozenset(
    {
        "case_serial",
        "stage",
        "materials_root",
        "materials_count",
        "documents_root",
        "documents_count",
        "at",
        "intake_commitment",
        "supplement",
        "decision",
    }
)


class DocumentProof(BaseModel):
    """Everything a stand-alone verifier needs for one file: its leaf and inclusion proof, and the
    record committing to it with only the root, count and dates disclosed. In Merkle mode also the record's
    event leaf (hex), its batch proof and the batch's block: the verifier checks the leaf against the batch
    root it reads from the chain (:func:`ledger.verify.merkle.verify_merkle_document`)."""

    model_config = ConfigDict(frozen=True)

    format: Literal["caseledger-document-proof/2"] = "caseledger-document-proof/2"
    serial: str
    accepting_hall: int
    suite: Literal["intl", "gm"]
    chain_id: int
    ledger: str
    registry: str
    event_index: int
    stage: str
    record: DisclosedRecord
    proof: MaterialProof
    leaf: str | None = None
    """Merkle mode: the event leaf's bytes (hex) of the record"""
    batch: BatchProof | None = None
    """Merkle mode: where the leaf is (batch, position, tree size, inclusion path)"""
    block: int | None = None
    """Merkle mode: the block of the batch's ``BatchAnchored`` log"""


def export_bundle(
    book: CaseBook,
    client: ChainClient,
    serial: str,
    *,
    withhold: Iterable[str] = (),
    include_files: bool = False,
    leave_out_kinds: Iterable[str] = (),
) -> EvidenceBundle:
    header = book.header(serial)  # NotFoundError when the hall does not hold the case
    dep = client.deployment
    if dep is None:
        raise ConfigError("no deployment loaded")
    suite = book.hall.suite
    accepting_hall = int(header["accepting_hall"])
    merkle = header.get("anchor_mode") == "merkle"
    proofs: dict[str, BatchProof] = {}
    if merkle:  # events from the records' anchors, proofs from the manifests this hall holds
        events = {}
        mstore = ManifestStore(book.store, hall_id=book.hall.hall_id)
        for r in book.records(serial):
            proof = record_proof(mstore, r) if is_merkle(r) else None
            if proof is not None:
                leaf, bp = batch_proof(r, proof)
                events[r["commitment"]] = merkle_event(r, leaf)
                proofs[r["commitment"]] = bp
    else:
        events = {e.commitment.hex(): e for e in client.case_events(accepting_hall, serial)}
    times: dict[int, int] = {}
    held: list[HeldEvent] = []
    pending = 0
    for r in book.records(serial):
        ev = events.get(r["commitment"])
        if ev is None:
            if (r.get("anchor") or {}).get("state") != "refused":
                pending += 1
            continue
        if ev.block_number not in times:
            known = (r.get("anchor") or {}).get("time")
            times[ev.block_number] = int(known) if merkle and known else client.block_time(ev.block_number)
        # MATERIALS records commit to the materials (``materials_root``), RESULT records to the result
        # document (``documents_root``): both get one proof per file.
        files = [MaterialFile(**f) for f in r.get("files", [])] if Stage[r["stage"]] in ROOT_FIELDS else []
        mset = MaterialSet.new(files, suite) if files else None
        skip = set(leave_out_kinds)
        contents = (
            [None if f.kind in skip else book.store.get_blob(f.digest, case=serial) for f in files]
            if files and include_files
            else None
        )
        rec = SaltedRecord(
            serial=serial, stage=Stage[r["stage"]], fields=r["fields"], salts=r["salts"], suite=suite.name
        )
        held.append(
            HeldEvent(
                record=rec,
                event=ev,
                time=times[ev.block_number],
                materials=mset,
                contents=contents,
                withheld=r.get("withheld") or None,
                batch=proofs.get(r["commitment"]),
            )
        )
    return build_bundle(
        serial=serial,
        accepting_hall=accepting_hall,
        suite=suite.name,
        chain_id=dep.chain_id,
        ledger=dep.ledger,
        registry=dep.registry,
        exported_at=datetime.now(UTC).isoformat(timespec="seconds"),
        exported_by=ExportedBy(hall_id=book.hall.hall_id, name=book.hall.name),
        pending_records=pending,
        held=held,
        withhold=withhold,
        include_files=include_files,
        mode="merkle" if merkle else "event",
    )


def find_document_proof(book: CaseBook, deployment: Deployment, serial: str, digest: str) -> DocumentProof:
    """The proof of the file with this digest (the deployment's suite: SHA-256 or SM3) in ``serial``.

    A material or the result document; only anchored records are searched. :class:`NotFoundError`
    when the case holds no such file.
    """
    digest = digest.strip().lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise InputError("digest", "digest_format", suite=book.hall.suite.hash_name)
    header = book.header(serial)
    suite = book.hall.suite
    for r in book.records(serial):
        stage = Stage[r["stage"]]
        anchor = r.get("anchor") or {}
        if stage not in ROOT_FIELDS or anchor.get("state") != "anchored":
            continue
        files = [MaterialFile(**f) for f in r.get("files", [])]
        for i, f in enumerate(files):
            if f.digest == digest:
                rec = SaltedRecord(serial=serial, stage=stage, fields=r["fields"], salts=r["salts"], suite=suite.name)
                leaf, bp, block = None, None, None
                if is_merkle(r):
                    got = record_proof(ManifestStore(book.store, hall_id=book.hall.hall_id), r)
                    if got is None:  # anchored, but this hall lacks the batch's manifest: not provable from here
                        break
                    leaf, bp, block = got.leaf, batch_proof(r, got)[1], int(anchor["block"])
                return DocumentProof(
                    serial=serial,
                    accepting_hall=int(header["accepting_hall"]),
                    suite=suite.name,
                    chain_id=deployment.chain_id,
                    ledger=deployment.ledger,
                    registry=deployment.registry,
                    event_index=int(anchor["index"]),
                    stage=stage.name,
                    record=rec.disclose(withhold=set(rec.fields) - _PROOF_DISCLOSED),
                    proof=MaterialSet.new(files, suite).proof(i),
                    leaf=leaf,
                    batch=bp,
                    block=block,
                )
    raise NotFoundError("file_not_in_case", serial=serial)
