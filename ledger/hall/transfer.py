"""Pull transfer of case packages between halls, with signed requests and full verification.

The home hall pulls a new case's package (INTAKE, MATERIALS records with salts, and the files)
from the accepting hall; the accepting hall pulls what the home hall wrote (ACCEPTANCE, PROCESS,
RESULT and the result document). Which hall to ask comes from the registry on chain.

Requests are signed with the requesting hall's key (EIP-191 ``personal_sign``) over::

    CaseLedger transfer v2\\n<target hall id>\\n<METHOD>\\n<path>\\n<unix time>\\n<nonce>\\n<sha256(body) hex>

and served only when the target is this hall (so a request captured on its way to one hall cannot be
replayed to another within its window), the recovered address is an *active* registered hall with a
right to the case (its district is the case's home district, or it is the accepting hall), the time
is within the window and the nonce was not seen before (nonces are persisted, and pruned after twice
the window). The target also travels in ``X-CaseLedger-Target-Hall`` so a misdirected request is
refused with a plain sentence.

A package is read with a size bound (:data:`MAX_PACKAGE_BYTES`, streamed) and a nesting bound
(:func:`ledger.core.jsonsafe.loads_bounded`) before it is parsed.

Dispute records (DISPUTE_OPENED / DISPUTE_RESOLVED) travel like every other event: a hall that holds
the case pulls the disputes another hall of the case opened or resolved, so both see them.

The receiver verifies every record (its recomputed commitment equals the on-chain commitment at
that event index, for that stage) and every file (SHA-256 and size, and its Merkle proof against
the root in the committed record) before storing anything; a failing package is refused as a
whole with which record or file and why. Failed pulls are retried with backoff until they succeed.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from pydantic import ValidationError

from ledger.chain.client import ChainClient, HallInfo
from ledger.core.facts import ChainEvent
from ledger.core.jsonsafe import loads_bounded
from ledger.core.materials import MaterialFile, MaterialSet, verify_material
from ledger.core.records import DisclosedRecord, verify_disclosure
from ledger.core.stages import Stage
from ledger.core.suites import INTL, Suite
from ledger.errors import (
    ChainError,
    InputError,
    LedgerError,
    NotFoundError,
    PeerAuthError,
    PeerForbiddenError,
    TransferError,
    VerificationError,
)
from ledger.hall.cases import ROOT_FIELDS, CaseBook
from ledger.hall.keys import (
    NONCE_PREFIX,
    RESTORED_KEY,
    XFER_PREFIX,
    case_key,
    chain_event_prefix,
    nonce_key,
    record_key,
    xfer_key,
)
from ledger.hall.package import PackageRecord, TransferPackage, parse_package
from ledger.hall.worker import BackgroundWorker

__all__ = [
    "PeerAuthError",
    "PeerForbiddenError",
    "PeerGuard",
    "TransferWorker",
    "receive_package",
    "sign_request",
]

log = logging.getLogger("caseledger.transfer")


HDR_TS, HDR_NONCE, HDR_SIG = "X-CaseLedger-Timestamp", "X-CaseLedger-Nonce", "X-CaseLedger-Signature"
HDR_TARGET = "X-CaseLedger-Target-Hall"
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")
MAX_PACKAGE_BYTES = 1024 * 1024 * 1024
"""Largest package accepted from a peer (files are base64 inside it; a case holds at most a few hundred MB)."""


def signing_message(target_hall: int, method: str, path: str, ts: str, nonce: str, body: bytes) -> str:
    digest = hashlib.sha256(body).hexdigest()
    return f"CaseLedger transfer v2\n{int(target_hall)}\n{method.upper()}\n{path}\n{ts}\n{nonce}\n{digest}"


def sign_request(
    account: LocalAccount, method: str, path: str, body: bytes = b"", *, target_hall: int
) -> dict[str, str]:
    """Headers that authenticate a request of this hall key to the hall ``target_hall`` (and no other)."""
    ts, nonce = str(int(time.time())), secrets.token_hex(16)
    msg = encode_defunct(text=signing_message(target_hall, method, path, ts, nonce, body))
    sig = account.sign_message(msg).signature.hex()
    return {
        HDR_TS: ts,
        HDR_NONCE: nonce,
        HDR_SIG: sig if sig.startswith("0x") else "0x" + sig,
        HDR_TARGET: str(int(target_hall)),
    }


class PeerGuard:
    """Checks signed peer requests on the serving side."""

    def __init__(self, store: Any, client: ChainClient, *, hall_id: int, window: float = 120.0) -> None:
        self.store = store
        self.client = client
        self.hall_id = hall_id
        self.window = window
        self._lock = threading.Lock()

    def authenticate(self, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> HallInfo:
        h = {k.lower(): v for k, v in headers.items()}
        ts, nonce, sig = h.get(HDR_TS.lower()), h.get(HDR_NONCE.lower()), h.get(HDR_SIG.lower())
        if not ts or not nonce or not sig:
            raise PeerAuthError("peer_signature_missing")
        target = h.get(HDR_TARGET.lower(), "")
        if target != str(self.hall_id):
            raise PeerAuthError("peer_wrong_target", target=target or "-", hall=self.hall_id)
        try:
            t = int(ts)
        except ValueError:
            raise PeerAuthError("peer_timestamp_invalid") from None
        if abs(time.time() - t) > self.window:
            raise PeerAuthError("peer_clock_skew", window=int(self.window))
        if not _NONCE.fullmatch(nonce):
            raise PeerAuthError("peer_nonce_invalid")
        try:
            addr = Account.recover_message(
                encode_defunct(text=signing_message(self.hall_id, method, path, ts, nonce, body)), signature=sig
            )
        except Exception as exc:  # malformed signatures raise assorted errors in eth-account
            raise PeerAuthError("peer_signature_invalid") from exc
        info = self.client.hall_of(addr)
        if info is None:
            raise PeerAuthError("peer_not_registered", address=addr)
        if info.status != "active":
            raise PeerForbiddenError("peer_hall_inactive", hall=info.hall_id, name=info.name, status=info.status)
        key = nonce_key(addr, nonce)
        with self._lock:
            if self.store.get(key) is not None:
                raise PeerAuthError("peer_replayed")
            self.store.put_json(key, t)
        return info

    def prune(self) -> int:
        cutoff = time.time() - 2 * self.window
        old = [k for k, v in self.store.iter_json(NONCE_PREFIX) if float(v) < cutoff]
        for k in old:
            self.store.delete(k)
        return len(old)


def authorize_case(info: HallInfo, header: dict[str, Any]) -> None:
    if info.district == header["home_district"] or info.hall_id == header["accepting_hall"]:
        return
    raise PeerForbiddenError("peer_no_right", hall=info.hall_id, serial=header["serial"])


@dataclass(frozen=True)
class VerifiedRecord:
    index: int
    stage: Stage
    fields: dict[str, Any]
    salts: dict[str, str]
    files: list[tuple[MaterialFile, bytes]]
    event: ChainEvent
    withheld: dict[str, str] = field(default_factory=dict)  # fields erased at the sender (leaf hashes only)


def verify_package(
    serial: str, package: TransferPackage | dict[str, Any], events: list[ChainEvent], suite: Suite = INTL
) -> list[VerifiedRecord]:
    """Check every record and file of ``package`` against the case's on-chain ``events``.

    ``package`` is parsed first (:func:`ledger.hall.package.parse_package`): a malformed one is refused
    naming its malformed part. Every record after INTAKE must name event 0's commitment
    (``intake_commitment``), so a record of another applicant's case cannot be passed off as this one's.
    Raises :class:`VerificationError` naming the record or file at the first mismatch.
    """
    pkg = parse_package(package)
    if pkg.serial != serial:
        raise VerificationError("the package is for another case", expected=serial, found=pkg.serial)
    by_index = {e.index: e for e in events}
    intake = by_index.get(0)
    out: list[VerifiedRecord] = []
    for r in pkg.records:
        index, stage, fields, salts, withheld = r.index, r.stage, dict(r.fields), dict(r.salts), dict(r.withheld)
        where = f"record {index} ({stage.name})"
        ev = by_index.get(index)
        if ev is None:
            raise VerificationError(f"{where} has no event on chain at that index", where=where)
        if ev.stage != stage or fields.get("stage") != stage.name or fields.get("case_serial") != serial:
            raise VerificationError(
                f"{where} claims another stage or case than the chain",
                where=where,
                expected=ev.stage.name,
                found=fields.get("stage"),
            )
        if stage != Stage.INTAKE and (
            intake is None or fields.get("intake_commitment") != "0x" + intake.commitment.hex()
        ):
            raise VerificationError(
                f"{where} is bound to another intake than this case's event 0",
                where=where,
                expected=None if intake is None else "0x" + intake.commitment.hex(),
                found=fields.get("intake_commitment"),
            )
        try:
            disclosed = DisclosedRecord(fields=fields, salts=salts, withheld=withheld)
        except ValidationError as exc:
            raise VerificationError(f"{where} is malformed: {exc.errors()[0]['msg']}", where=where) from exc
        try:
            verify_disclosure(disclosed, ev.commitment, suite)
        except VerificationError as exc:
            raise VerificationError(
                f"{where} does not match its on-chain commitment", where=where, expected=exc.expected, found=exc.found
            ) from exc
        files: list[tuple[MaterialFile, bytes]] = []
        if r.files or stage in ROOT_FIELDS and ROOT_FIELDS[stage][0] in fields:
            files = _verify_files(r, fields, where, suite)
        out.append(VerifiedRecord(index, stage, fields, salts, files, ev, withheld))
    return out


def _verify_files(
    r: PackageRecord, fields: dict[str, Any], where: str, suite: Suite
) -> list[tuple[MaterialFile, bytes]]:
    """The record's files, each checked against the file root its committed fields name."""
    root_f, count_f = ROOT_FIELDS.get(r.stage, ("", ""))
    committed = fields.get(root_f)
    if not isinstance(committed, str):
        raise VerificationError(f"{where} carries files but commits to no file root", where=where)
    metas: list[tuple[MaterialFile, bytes]] = []
    for f in r.files:
        meta = f.material()
        try:
            data = base64.b64decode(f.data, validate=True)
        except ValueError as exc:
            raise VerificationError(f"file {meta.name!r} in {where} has no readable content", where=meta.name) from exc
        metas.append((meta, data))
    mset = MaterialSet.new([m for m, _ in metas], suite)
    if len(metas) != fields.get(count_f) or mset.root.hex() != committed:
        raise VerificationError(
            f"the file list of {where} is not the committed one (files missing, added or renamed)",
            where=where,
            expected=committed,
            found=mset.root.hex(),
        )
    root = bytes.fromhex(committed)
    for i, (meta, data) in enumerate(metas):
        try:
            verify_material(data, mset.proof(i), root, suite)
        except VerificationError as exc:
            raise VerificationError(
                f"file {meta.name!r} ({meta.kind}) in {where} is refused: its content differs from what "
                f"the chain commits to ({suite.hash_name} {exc.found or '?'} instead of {meta.digest})",
                where=meta.name,
                expected=meta.digest,
                found=exc.found,
            ) from exc
    return metas


def receive_package(
    book: CaseBook, client: ChainClient, serial: str, package: TransferPackage | dict[str, Any], *, from_hall: int
) -> list[int]:
    """Verify ``package`` against the chain and store its new records; returns the event indices stored.

    A Merkle-mode case's records are checked against their batches' on-chain roots with the inclusion
    proofs the package carries (:func:`ledger.hall.merkle_evidence.verify_package_proofs`)."""
    pkg = parse_package(package)
    header0 = book.header(serial)
    accepting_hall = int(header0["accepting_hall"])
    merkle_anchor: dict[int, dict[str, Any]] = {}
    if header0.get("anchor_mode") == "merkle":
        from ledger.hall.merkle_evidence import verify_package_proofs

        proven = verify_package_proofs(client, book.hall.suite, accepting_hall, serial, pkg)
        events = [e for e, _ in proven]
        merkle_anchor = {e.index: a for e, a in proven}
    else:
        events = client.case_events(accepting_hall, serial)
    verified = verify_package(serial, pkg, events, book.hall.suite)
    times: dict[int, int] = {}
    for v in verified:
        if v.event.block_number not in times:
            times[v.event.block_number] = client.block_time(v.event.block_number)
    stored: list[int] = []
    with book.lock:
        header = book.header(serial)
        have = {r["commitment"] for r in book.records(serial)}
        with book.store.write_batch() as wb:
            for v in verified:
                if v.event.commitment.hex() in have:
                    continue
                seq = int(header["next_seq"])
                header["next_seq"] = seq + 1
                for _, data in v.files:
                    wb.put_blob(data, case=serial)
                wb.put_json(
                    record_key(serial, seq),
                    {
                        "seq": seq,
                        "stage": v.stage.name,
                        "fields": v.fields,
                        "salts": v.salts,
                        **({"withheld": v.withheld} if v.withheld else {}),
                        "commitment": v.event.commitment.hex(),
                        "writer_hall": v.event.hall_id,
                        "origin": "received",
                        "received_from": from_hall,
                        "files": [m.model_dump() for m, _ in v.files],
                        "anchor": {**merkle_anchor[v.index], "time": times[v.event.block_number]}
                        if v.index in merkle_anchor
                        else {
                            "state": "anchored",
                            "tx": v.event.tx_hash,
                            "block": v.event.block_number,
                            "time": times[v.event.block_number],
                            "index": v.index,
                        },
                        "written_at": time.time(),
                        "verified_at": time.time(),
                    },
                )
                stored.append(v.index)
                if v.stage == Stage.INTAKE:
                    header["intake_commitment"] = "0x" + v.event.commitment.hex()
                    if header.get("accepting_district") is None:
                        header["accepting_district"] = v.fields.get("accepting_district")
            wb.put_json(case_key(serial), header)
    if any(v.stage == Stage.MATERIALS and v.fields.get("before_acceptance") and v.index in stored for v in verified):
        book.answered_notice(serial)  # the applicant answered this hall's pre-acceptance request
    return stored


class TransferWorker(BackgroundWorker):
    """Pulls what this hall is missing of its cases from the halls that wrote it; retries with backoff."""

    thread_name = "transfer"

    def __init__(
        self,
        book: CaseBook,
        client: ChainClient,
        account: LocalAccount,
        *,
        interval: float = 1.0,
        timeout: float = 15.0,
        max_backoff: float = 15.0,
        max_package_bytes: int = MAX_PACKAGE_BYTES,
    ) -> None:
        super().__init__()
        self.book = book
        self.store = book.store
        self.client = client
        self.account = account
        self.interval = interval
        self.timeout = timeout
        self.max_backoff = max_backoff
        self.max_package_bytes = max_package_bytes
        # counters since this process started (the node's /metrics)
        self.completed_total = 0
        self.failures_total = 0
        self.refused_total = 0  # packages refused because a record or file did not verify against the chain
        self.records_received_total = 0

    def jobs(self) -> list[dict[str, Any]]:
        return [v for _, v in self.store.iter_json(XFER_PREFIX)]

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("transfer: unexpected error")
            self._wake.wait(self.interval)
            self._wake.clear()

    def missing(self, serial: str) -> dict[int, list[int]]:
        """Event indices of ``serial`` written by other halls whose records this hall lacks, by hall.

        In a store restored from a backup (``meta/restored``) this hall's own events count too: their
        records are pulled back from the other halls of the case (see :meth:`sources`)."""
        have = {r["commitment"] for r in self.book.records(serial)}
        own = self.book.hall.hall_id
        skip = {0} if self.store.get(RESTORED_KEY) is not None else {0, own}
        out: dict[int, list[int]] = {}
        for _, ev in self.store.iter_json(chain_event_prefix(serial)):
            if ev["hall_id"] in skip:
                continue
            if ev["commitment"] not in have:
                out.setdefault(int(ev["hall_id"]), []).append(int(ev["index"]))
        return out

    def sources(self, serial: str, writer: int) -> list[int]:
        """Which halls to ask for ``writer``'s records: the writer itself, or (for this hall's own records,
        after a restore) every other hall that must hold the case — its accepting hall, every active hall of
        its home district (from the registry), and any other hall that wrote one of its events."""
        own = self.book.hall.hall_id
        if writer != own:
            return [writer]
        halls: list[int] = []

        def add(h: int) -> None:
            if h not in (0, own) and h not in halls:
                halls.append(h)

        header = self.book.header(serial)
        add(int(header.get("accepting_hall") or 0))
        home = int(header.get("home_district") or 0)
        for info in self.client.halls():
            if info.district == home and info.status == "active":
                add(info.hall_id)
        for _, ev in self.store.iter_json(chain_event_prefix(serial)):
            add(int(ev["hall_id"]))
        return halls

    def run_once(self) -> int:
        """Try every due job once; returns how many finished."""
        done = 0
        now = time.time()
        for job in self.jobs():
            if float(job.get("next_at", 0)) > now:
                continue
            serial = job["serial"]
            try:
                for hall_id in self.missing(serial):
                    for source in self.sources(serial, hall_id):
                        try:
                            self.pull(serial, source)
                        except (TransferError, httpx.HTTPError):
                            if source == hall_id:
                                raise
                            continue  # another hall of the case may still have this hall's own records
                        if hall_id not in self.missing(serial):
                            break
                left = self.missing(serial)
                if left:
                    raise TransferError(f"hall(s) {sorted(left)} did not send event(s) {sorted(left.values())}")
                with self.book.lock:  # the indexer writes under this lock: nothing new can slip in unseen
                    if self.missing(serial):
                        continue
                    self.store.delete(xfer_key(serial))
                    h = self.book.header(serial)
                    h["transfer"] = {"state": "complete", "at": time.time()}
                    self.store.put_json(case_key(serial), h)
                done += 1
                self.completed_total += 1
            except (LedgerError, httpx.HTTPError) as exc:
                self.failures_total += 1
                if isinstance(exc, VerificationError):
                    self.refused_total += 1
                attempts = int(job.get("attempts", 0)) + 1
                delay = min(self.max_backoff, 0.5 * 2 ** min(attempts, 6))
                msg = str(exc) or exc.__class__.__name__
                log.warning("transfer of %s failed (attempt %d, retry in %.1fs): %s", serial, attempts, delay, msg)
                with self.book.lock:
                    if self.store.get(xfer_key(serial)) is not None:
                        self.store.put_json(
                            xfer_key(serial),
                            {
                                **job,
                                "attempts": attempts,
                                "next_at": time.time() + delay,
                                "last_error": msg,
                                "refused": isinstance(exc, VerificationError),
                            },
                        )
                    try:
                        h = self.book.header(serial)
                        h["transfer"] = {
                            "state": "retrying",
                            "attempts": attempts,
                            "last_error": msg,
                            "refused": isinstance(exc, VerificationError),
                        }
                        self.store.put_json(case_key(serial), h)
                    except NotFoundError:
                        pass
        return done

    def pull(self, serial: str, hall_id: int) -> list[int]:
        peer = self.client.hall(hall_id)
        path = f"/peer/cases/{serial}/package"
        headers = sign_request(self.account, "GET", path, target_hall=hall_id)
        try:
            with httpx.stream("GET", peer.endpoint.rstrip("/") + path, headers=headers, timeout=self.timeout) as resp:
                status = resp.status_code
                raw = bytearray()
                for chunk in resp.iter_bytes():
                    raw += chunk
                    if len(raw) > self.max_package_bytes:
                        raise TransferError(
                            f"hall {hall_id} sent a package larger than {self.max_package_bytes} bytes; refused"
                        )
        except httpx.HTTPError as exc:
            raise TransferError(
                f"hall {hall_id} at {peer.endpoint} is not reachable: {exc.__class__.__name__}"
            ) from exc
        if status != 200:
            raise TransferError(f"hall {hall_id} answered {status}: {bytes(raw[:200]).decode('utf-8', 'replace')}")
        try:
            package = loads_bounded(bytes(raw), what="package", max_bytes=self.max_package_bytes)
        except InputError as exc:
            raise VerificationError(f"the package from hall {hall_id} is not readable: {exc}", where="package") from exc
        pkg = parse_package(package, source=f"the package from hall {hall_id}")
        stored = receive_package(self.book, self.client, serial, pkg, from_hall=hall_id)
        self.records_received_total += len(stored)
        if stored:
            log.info("transfer: %s: verified and stored event(s) %s from hall %d", serial, stored, hall_id)
        return stored


__all__ += ["ChainError", "VerifiedRecord", "authorize_case", "verify_package"]
