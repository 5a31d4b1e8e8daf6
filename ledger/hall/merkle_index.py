"""The indexer's Merkle-mode part: every hall's batches, their manifests, and the rules checked per leaf.

The :class:`ledger.hall.indexer.Indexer` reads ``BatchAnchored`` logs in the same bounded ranges as the
event logs and records each batch (``mbatchlog/``) and that its manifest is wanted (``mwant/``), in the
write batch that moves its cursor. Then :meth:`MerkleIndex.process` fetches the wanted manifests — this
hall's own from its store, any other from the anchoring hall's public route, else from any other hall's
(every hall mirrors what it fetched) — checks each against its batch's on-chain root and count, keeps it
(``manifest/<hall>/<seq>``) and walks its leaves in order:

* each leaf must be written by the batch's hall and key; an INTAKE leaf must name its case id;
* the case's state (``mcase/<case id>``: its events so far, for every case of every hall) must allow it:
  the index is the next one, the head follows (``keccak256(head ‖ stage ‖ commitment ‖ writer)``), the
  back-link names the previous event's batch, and the contract's rules hold (writer rights, stage order,
  one INTAKE per case, dispute ownership and limits; roles as the registry stood at the batch's block);
* a leaf that breaks one is a **finding** (``mfind/<hall>/<seq>/<leaf>``) naming the batch, with the leaf
  and its inclusion proof: anyone can check it against the chain. A second leaf at an index already
  taken (a fork, or two halls writing at once) is a finding too; this hall's own losing leaf is queued
  again for the next index (re-anchored once);
* a leaf whose predecessor is not known yet (its manifest is late) waits (``mdefer/``) until it is;
* for a case this hall is party to (its district is the home district, or it accepted the case) the
  event goes to ``chainev/`` as in event mode, an INTAKE creates the local case header
  (``anchor_mode: merkle``), an event of another hall marks the case for a pull (and, in a store restored
  from an older backup, so does this hall's own event whose record the store lacks), and ``mhead/`` moves
  forward so this hall's next event of the case chains from it.

A manifest no hall can produce stays wanted (retried with back-off) and is reported (``unavailable_since``,
the audit's anomaly ``manifest_unavailable``): the cases in it cannot be proven complete.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from ledger.chain.client import ChainClient
from ledger.core.batches import BatchTree, EventLeaf, Manifest
from ledger.core.caserules import RegistryState, Rights, extend
from ledger.core.facts import (
    BatchAnchoredEvent,
    CaseHeader,
    CaseOpenedEvent,
    ChainEvent,
    ChainEventFact,
    ChainFacts,
    RegistryFact,
)
from ledger.core.hashchain import address_bytes, case_id
from ledger.core.stages import Phase, Stage
from ledger.errors import InputError, VerificationError
from ledger.hall.cases import CaseBook
from ledger.hall.integrity import LostOwnEvents, parse_serial
from ledger.hall.keys import (
    MBATCH_LOG_PREFIX,
    MCASE_PREFIX,
    MFIND_PREFIX,
    MWANT_PREFIX,
    OUTBOX_SEQ_KEY,
    case_id_key,
    case_key,
    chain_event_key,
    manifest_key,
    mbatch_key,
    mbatch_log_key,
    mbox_key,
    mcase_key,
    mfind_key,
    mhead_key,
    mwant_key,
    record_prefix,
    xfer_key,
)
from ledger.hall.store import Store, WriteBatch
from ledger.verify.manifests import MAX_MANIFEST_BYTES, manifest_path

__all__ = [
    "ManifestStore",
    "MerkleIndex",
    "awaiting_index",
    "batch_record",
    "checked_cases",
    "merkle_case_facts",
]

log = logging.getLogger("caseledger.merkle-index")

MDEFER_PREFIX = b"mdefer/"


def _mdefer_key(cid: bytes, index: int, hall: int, seq: int, pos: int) -> bytes:
    return MDEFER_PREFIX + f"{cid.hex()}/{index:06d}/{hall:010d}/{seq:012d}/{pos:06d}".encode()


def batch_record(b: BatchAnchoredEvent) -> dict[str, Any]:
    return {
        "hall": b.hall_id,
        "seq": b.seq,
        "writer": b.writer,
        "root": b.root.hex(),
        "count": b.count,
        "head": b.head.hex(),
        "prev_block": b.prev_block,
        "block": b.block_number,
        "tx": b.tx_hash,
        "log_index": b.log_index,
    }


class ManifestStore:
    """The manifests a hall holds (its own batches once anchored, and every batch it fetched and checked)."""

    def __init__(self, store: Store, *, hall_id: int) -> None:
        self.store = store
        self.hall_id = hall_id
        self._trees: dict[tuple[int, int], tuple[Manifest, BatchTree]] = {}

    def get(self, hall: int, seq: int) -> bytes | None:
        if hall == self.hall_id:
            b = self.store.get_json(mbatch_key(seq))
            if b is None or b.get("state") != "anchored":
                return None  # built but not on chain (yet): nothing to show
        return self.store.get(manifest_key(hall, seq))

    def _tree(self, hall: int, seq: int) -> tuple[Manifest, BatchTree] | None:
        t = self._trees.get((hall, seq))
        if t is None:
            raw = self.store.get(manifest_key(hall, seq))
            if raw is None:
                return None
            m = Manifest.decode(raw)
            t = (m, m.tree())
            if len(self._trees) > 16:
                self._trees.clear()
            self._trees[(hall, seq)] = t
        return t

    def leaf_proof(self, hall: int, seq: int, pos: int) -> tuple[bytes, list[bytes]] | None:
        """Leaf ``pos`` of batch (hall, seq) and its inclusion path, if this hall holds the manifest."""
        t = self._tree(hall, seq)
        if t is None or not 0 <= pos < t[1].size:
            return None
        return t[0].leaves[pos], t[1].proof(pos)


class MerkleIndex:
    """Manifests in, leaves checked, cases learnt. Used by the :class:`ledger.hall.indexer.Indexer`."""

    def __init__(
        self,
        store: Store,
        client: ChainClient,
        book: CaseBook,
        *,
        fetch: Callable[[int, int], bytes | None] | None = None,
        timeout: float = 10.0,
        max_backoff: float = 30.0,
        unavailable_after: float = 60.0,
    ) -> None:
        self.store = store
        self.client = client
        self.book = book
        self.manifests = ManifestStore(store, hall_id=book.hall.hall_id)
        self.fetch = fetch or self._fetch_http
        self.timeout = timeout
        self.max_backoff = max_backoff
        self.unavailable_after = unavailable_after
        self.findings_total = 0
        self.processed_total = 0
        self.rebased_total = 0
        self._registry: tuple[int, list[RegistryFact]] | None = None
        self.need_pull = False
        # a store restored from an older backup: this hall's own leaves after the backup's cursor whose records
        # the store lacks are pulled back from the other halls of the case (as the event-mode indexer does)
        self.own_lost = LostOwnEvents(store, book)

    # ------------------------------------------------------------------ from the indexer's range read
    def record_batches(self, wb: WriteBatch, batches: list[BatchAnchoredEvent]) -> None:
        """Inside the indexer's write batch: remember each batch and that its manifest is wanted."""
        for b in batches:
            wb.put_json(mbatch_log_key(b.hall_id, b.seq), batch_record(b))
            wb.put_json(mwant_key(b.hall_id, b.seq), {"hall": b.hall_id, "seq": b.seq, "block": b.block_number,
                                                      "since": time.time(), "attempts": 0})  # fmt: skip

    def rewind(self, wb: WriteBatch, back_to: int) -> int:
        """After a reorganisation: forget batches (and what their leaves taught) above ``back_to``."""
        removed = 0
        for k, v in self.store.iter_json(MBATCH_LOG_PREFIX):
            if int(v["block"]) > back_to:
                wb.delete(k)
                wb.delete(mwant_key(int(v["hall"]), int(v["seq"])))
                removed += 1
        for k, v in self.store.iter_json(MCASE_PREFIX):
            events = [e for e in v["events"] if int(e["block"]) <= back_to]
            if len(events) != len(v["events"]):
                if events:
                    wb.put_json(k, {**v, "events": events})
                else:
                    wb.delete(k)
        for k, v in self.store.iter_json(MDEFER_PREFIX):
            if int(v["batch"]["block"]) > back_to:
                wb.delete(k)
        return removed

    # ------------------------------------------------------------------ manifests
    def _fetch_http(self, hall: int, seq: int) -> bytes | None:
        """The anchoring hall first, then every other active hall (mirrors)."""
        order: list[str] = []
        try:
            halls = self.client.halls()
        except Exception:  # the registry is unreachable: try again next round
            return None
        for h in sorted(halls, key=lambda x: (x.hall_id != hall, x.hall_id)):
            if h.hall_id != self.book.hall.hall_id and h.status == "active" and h.endpoint:
                order.append(h.endpoint.rstrip("/"))
        for base in order:
            try:
                r = httpx.get(base + manifest_path(hall, seq), timeout=self.timeout)
            except httpx.HTTPError:
                continue
            if r.status_code == 200 and len(r.content) <= MAX_MANIFEST_BYTES:
                return r.content
        return None

    def wanted(self) -> list[dict[str, Any]]:
        return [v for _, v in self.store.iter_json(MWANT_PREFIX)]

    def unavailable(self) -> list[dict[str, Any]]:
        """Wanted manifests no hall has produced for longer than ``unavailable_after``."""
        now = time.time()
        return [w for w in self.wanted() if now - float(w["since"]) > self.unavailable_after]

    def process(self, *, limit: int = 64) -> int:
        """Fetch and process wanted manifests in chain order; returns how many batches were processed."""
        now = time.time()
        todo = sorted(self.wanted(), key=lambda w: (int(w["block"]), int(w["hall"]), int(w["seq"])))
        done = 0
        for w in todo[:limit]:
            if float(w.get("next_at", 0)) > now:
                continue
            hall, seq = int(w["hall"]), int(w["seq"])
            b = self.store.get_json(mbatch_log_key(hall, seq))
            if b is None:
                self.store.delete(mwant_key(hall, seq))
                continue
            raw = self.store.get(manifest_key(hall, seq)) if hall == self.book.hall.hall_id else None
            if raw is None:
                raw = self.store.get(manifest_key(hall, seq)) or self.fetch(hall, seq)
            manifest = self._checked(raw, b) if raw is not None else None
            if manifest is None:
                attempts = int(w.get("attempts", 0)) + 1
                delay = min(self.max_backoff, 0.5 * 2 ** min(attempts, 6))
                self.store.put_json(mwant_key(hall, seq), {**w, "attempts": attempts, "next_at": now + delay})
                continue
            self._apply(b, manifest, raw)  # type: ignore[arg-type]
            done += 1
        return done

    def _checked(self, raw: bytes, b: dict[str, Any]) -> Manifest | None:
        try:
            m = Manifest.decode(raw)
            m.check(
                hall=int(b["hall"]),
                seq=int(b["seq"]),
                root=bytes.fromhex(b["root"]),
                count=int(b["count"]),
                suite=self.book.hall.suite,
            )
        except (InputError, VerificationError) as exc:
            log.warning("merkle-index: manifest of batch %s/%s refused: %s", b["hall"], b["seq"], exc)
            return None
        return m

    # ------------------------------------------------------------------ leaves
    def _registry_log(self) -> list[RegistryFact]:
        from ledger.core import chainlog

        dep = self.client.deployment
        assert dep is not None
        last = int.from_bytes(
            chainlog.eth_call(self.client, dep.registry, chainlog.call_data("lastChangeBlock()"))[:32], "big"
        )
        if self._registry is None or self._registry[0] != last:
            self._registry = (last, self.client.registry_log())
        return self._registry[1]

    def rights(self, b: dict[str, Any]) -> Rights:
        """The batch writer's rights at the batch's block (the registry's history replayed)."""
        from ledger.core.chainlog import ROLE_IDS

        reg = self._registry[1] if self._registry else self._registry_log()
        state = RegistryState.at(reg, int(b["block"]), int(b["log_index"]))
        return Rights.of(state, str(b["writer"]), ROLE_IDS["DISPUTE_OFFICER_ROLE"], ROLE_IDS["DISPUTE_ARBITER_ROLE"])

    def _apply(self, b: dict[str, Any], manifest: Manifest, raw: bytes) -> None:
        """Check and learn every leaf of one batch; one write batch (under the case lock)."""
        self._registry_log()
        hall, seq = int(b["hall"]), int(b["seq"])
        writer = address_bytes(str(b["writer"]))
        cache: dict[bytes, dict[str, Any] | None] = {}
        with self.book.lock, self.store.write_batch() as wb:
            wb.put(manifest_key(hall, seq), raw)
            ctx = _Ctx(self, wb, b, manifest, cache, writer, self.rights(b))
            for pos, leaf_raw in enumerate(manifest.leaves):
                ctx.leaf(pos, leaf_raw)
            for cid, st in cache.items():
                if st is not None:
                    wb.put_json(mcase_key(cid), st)
            wb.delete(mwant_key(hall, seq))
        self.processed_total += 1

    def findings(self) -> list[dict[str, Any]]:
        return [v for _, v in self.store.iter_json(MFIND_PREFIX)]


class _Ctx:
    """Processing of one batch's leaves (state of the cases it touches, the findings)."""

    def __init__(
        self,
        ix: MerkleIndex,
        wb: WriteBatch,
        b: dict[str, Any],
        manifest: Manifest,
        cache: dict[bytes, dict[str, Any] | None],
        writer: bytes,
        rights: Rights,
    ) -> None:
        self.ix, self.wb, self.b, self.manifest, self.cache = ix, wb, b, manifest, cache
        self.writer, self.rights = writer, rights
        self.hall, self.seq = int(b["hall"]), int(b["seq"])
        self._time: tuple[int, int] | None = None
        self._tree: BatchTree | None = None
        self.new_cases: set[str] = set()
        """case headers written in this write batch (not readable from the store before it is applied)"""
        self.heads: dict[str, int] = {}
        """mhead index written in this write batch, by serial"""
        self.next_outbox_seq: int | None = None

    def state(self, cid: bytes) -> dict[str, Any] | None:
        if cid not in self.cache:
            self.cache[cid] = self.ix.store.get_json(mcase_key(cid))
        return self.cache[cid]

    def finding(self, pos: int, code: str, detail: str, leaf: bytes, cid: bytes) -> None:
        if self._tree is None:
            self._tree = self.manifest.tree()
        self.wb.put_json(
            mfind_key(self.hall, self.seq, pos),
            {
                "code": code,
                "detail": detail,
                "hall": self.hall,
                "seq": self.seq,
                "block": int(self.b["block"]),
                "tx": self.b["tx"],
                "writer": self.b["writer"],
                "root": self.b["root"],
                "tree_size": self._tree.size,
                "leaf_index": pos,
                "leaf": leaf.hex(),
                "proof": [p.hex() for p in self._tree.proof(pos)],
                "case_id": "0x" + cid.hex(),
                "found_at": time.time(),
            },
        )
        self.ix.findings_total += 1
        log.warning("merkle-index: batch %d/%d leaf %d: %s (%s)", self.hall, self.seq, pos, code, detail)

    def leaf(self, pos: int, raw: bytes) -> None:
        cid = raw[8:40] if len(raw) >= 40 else b""
        try:
            lf = EventLeaf.decode(raw)
        except InputError as exc:
            self.finding(pos, "leaf_malformed", exc.text, raw, cid)
            return
        if lf.stage == Stage.INTAKE:
            known = self.ix.store.get_json(case_id_key("0x" + cid.hex()))
            if known is not None and known.get("mode") != "merkle":
                self.finding(pos, "case_in_both_modes", "the case id was opened in event mode", raw, cid)
                return
        st = self.state(cid)
        events: list[dict[str, Any]] = [] if st is None else st["events"]
        if st is not None and lf.index < len(events):
            e = events[lf.index]
            if (int(e["hall"]), int(e["seq"]), int(e["leaf"])) == (self.hall, self.seq, pos):
                return  # seen before (a batch processed again after a rewind)
            self.finding(
                pos,
                "fork",
                f"index {lf.index} is already event {e['hall']}/{e['seq']}#{e['leaf']} of the case",
                raw,
                cid,
            )
            self._rebase_own(lf, st)
            return
        if (st is None and lf.stage != Stage.INTAKE) or (st is not None and lf.index > len(events)):
            self._defer(cid, lf, pos, raw)
            return
        new, why = extend(
            st, lf, batch_hall=self.hall, batch_seq=self.seq, batch_writer=self.writer, rights=self.rights
        )
        if why or new is None:
            self.finding(pos, why[0] if why else "out_of_order", ", ".join(why), raw, cid)
            if st is not None:
                self._rebase_own(lf, st)
            return
        event = {
            "index": lf.index,
            "stage": lf.stage.name,
            "commitment": lf.commitment.hex(),
            "head": lf.head.hex(),
            "writer": "0x" + lf.writer.hex(),
            "ref": lf.ref,
            "hall": self.hall,
            "seq": self.seq,
            "leaf": pos,
            "block": int(self.b["block"]),
            "log_index": int(self.b["log_index"]),
            "tx": str(self.b["tx"]),
        }
        st = {**new, "events": [*events, event]}
        self.cache[cid] = st
        self._learn(cid, lf, st, event)
        self._undefer(cid, lf.index + 1)

    def _defer(self, cid: bytes, lf: EventLeaf, pos: int, raw: bytes) -> None:
        self.wb.put_json(
            _mdefer_key(cid, lf.index, self.hall, self.seq, pos), {"leaf": raw.hex(), "batch": self.b, "pos": pos}
        )

    def _undefer(self, cid: bytes, index: int) -> None:
        prefix = MDEFER_PREFIX + f"{cid.hex()}/{index:06d}/".encode()
        for k, v in list(self.ix.store.iter_json(prefix)):
            self.wb.delete(k)
            raw = self.ix.store.get(manifest_key(int(v["batch"]["hall"]), int(v["batch"]["seq"])))
            sub = _Ctx(
                self.ix,
                self.wb,
                v["batch"],
                Manifest.decode(raw) if raw is not None else self.manifest,
                self.cache,
                address_bytes(str(v["batch"]["writer"])),
                self.ix.rights(v["batch"]),
            )
            sub.new_cases, sub.heads = self.new_cases, self.heads
            sub.leaf(int(v["pos"]), bytes.fromhex(v["leaf"]))

    def _learn(self, cid: bytes, lf: EventLeaf, st: dict[str, Any], event: dict[str, Any]) -> None:
        """A case this hall is party to: its local header, its chain events, a pull, its head for the sender."""
        me = self.ix.book.hall
        party = st["home_district"] == me.district or int(st["accepting_hall"]) == me.hall_id
        if not party:
            return
        serial = str(st["serial"])
        named = parse_serial(serial)
        if named is None or named[1] != int(st["accepting_hall"]):
            return  # a serial that does not name its hall: never a case of ours
        cid_hex = "0x" + cid.hex()
        store = self.ix.store
        if lf.stage == Stage.INTAKE:
            self.wb.put_json(
                case_id_key(cid_hex),
                {
                    "serial": serial,
                    "home_district": st["home_district"],
                    "accepting_hall": st["accepting_hall"],
                    "item_code": st["item_code"],
                    "block": event["block"],
                    "mode": "merkle",
                },
            )
            if not self.ix.book.has_case(serial) and serial not in self.new_cases:
                self.new_cases.add(serial)
                self.wb.put_json(
                    case_key(serial),
                    {
                        "serial": serial,
                        "item_code": st["item_code"],
                        "home_district": st["home_district"],
                        "accepting_hall": st["accepting_hall"],
                        "accepting_district": None,
                        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                        "next_seq": 0,
                        "source": "chain",
                        "anchor_mode": "merkle",
                    },
                )
        elif serial not in self.new_cases and not self.ix.book.has_case(serial):
            return
        tx = str(self.b["tx"])
        self.wb.put_json(
            chain_event_key(serial, lf.index),
            {
                "index": lf.index,
                "stage": lf.stage.name,
                "hall_id": self.hall,
                "writer": str(self.b["writer"]),
                "commitment": lf.commitment.hex(),
                "head": lf.head.hex(),
                "ref": lf.ref,
                "block": event["block"],
                "tx": tx,
                "mode": "merkle",
                "batch": self._batch_ref(event),
                "prev": [lf.prev_hall, lf.prev_seq],
            },
        )
        if self.hall != me.hall_id or self.ix.own_lost(serial, int(event["block"]), lf.commitment.hex()):
            self.wb.put_json(xfer_key(serial), {"serial": serial, "since": time.time()})
            self.ix.need_pull = True
        if self.hall != me.hall_id:
            self._follow_received(serial, lf, event)
        known = self.heads.get(serial)
        if known is None:
            head = store.get_json(mhead_key(serial))
            known = -1 if head is None else int(head["index"])
        if known < lf.index:
            self.wb.put_json(mhead_key(serial), {k: v for k, v in st.items() if k != "events"})
            self.heads[serial] = lf.index

    def _block_time(self, block: int) -> int:
        """The time of this batch's block (read once per batch applied)."""
        if self._time is None or self._time[0] != block:
            self._time = (block, self.ix.client.block_time(block))
        return self._time[1]

    def _batch_ref(self, event: dict[str, Any]) -> dict[str, int]:
        """Where an event's leaf is: this batch (hall, seq, its size and log index) and the leaf's position."""
        return {
            "hall": self.hall,
            "seq": self.seq,
            "leaf": int(event["leaf"]),
            "size": len(self.manifest.leaves),
            "log_index": int(event["log_index"]),
        }

    def _follow_received(self, serial: str, lf: EventLeaf, event: dict[str, Any]) -> None:
        """A received record of this event whose anchor names another place than the canonical leaf (its batch
        left the chain in a reorganisation or rollback and was anchored again, in another block): it gets the
        leaf's anchor, or this hall's bundles and packages would name a block that no longer holds the batch.
        The proof is read from the manifest this hall now holds (``record_proof``)."""
        canonical = (event["tx"], event["block"], self.hall, self.seq, event["leaf"])
        for key, r in self.ix.store.iter_json(record_prefix(serial)):
            if r.get("origin") != "received" or r.get("commitment") != lf.commitment.hex():
                continue
            a = r.get("anchor") or {}
            b = a.get("batch") or {}
            if a.get("state") != "anchored":
                continue
            when = self._block_time(int(event["block"]))
            if (a.get("tx"), a.get("block"), b.get("hall"), b.get("seq"), b.get("leaf")) == canonical and a.get(
                "time"
            ) in (None, when):
                continue  # the same place (a block re-mined under the same number has another time: not the same)
            anchor = {
                "state": "anchored",
                "mode": "merkle",
                "tx": event["tx"],
                "block": event["block"],
                "time": when,
                "index": lf.index,
                "head": lf.head.hex(),
                "writer": event["writer"],
                "batch": self._batch_ref(event),
            }
            self.wb.put_json(key, {**r, "anchor": anchor})
            log.warning(
                "merkle-index: %s %s is anchored again (batch %d/%d, block %s; it was in block %s)",
                serial, lf.stage.name, self.hall, self.seq, event["block"], a.get("block"),
            )  # fmt: skip

    def _rebase_own(self, lf: EventLeaf, st: dict[str, Any]) -> None:
        """This hall's leaf lost a race for its index: its record is queued again for the next index."""
        me = self.ix.book.hall
        if lf.writer_hall != me.hall_id:
            return
        serial = str(st.get("serial") or "")
        if not serial or not self.ix.book.has_case(serial):
            return
        # the sender chains this hall's next events of the case from the canonical chain again
        self.wb.put_json(mhead_key(serial), {k: v for k, v in st.items() if k != "events"})
        self.heads[serial] = int(st["index"])
        for r in self.ix.book.records(serial):
            a = r.get("anchor") or {}
            mine = (int((a.get("batch") or {}).get("hall", -1)), int((a.get("batch") or {}).get("seq", -1)))
            if (
                r.get("commitment") == lf.commitment.hex()
                and r.get("origin") == "local"
                and a.get("state") == "anchored"
                and mine == (self.hall, self.seq)
            ):
                key = f"rec/{serial}/{int(r['seq']):06d}"
                if self.next_outbox_seq is None:
                    self.next_outbox_seq = self.ix.book.outbox.next_seq()
                outbox_seq = self.next_outbox_seq
                self.next_outbox_seq += 1
                self.wb.put_json(OUTBOX_SEQ_KEY, outbox_seq + 1)
                self.wb.put_json(
                    mbox_key(outbox_seq),
                    {
                        "seq": outbox_seq,
                        "accepting_hall": int(st["accepting_hall"]),
                        "serial": serial,
                        "rec_key": key,
                        "ref": lf.ref,
                        "stage": lf.stage.name,
                        "commitment": lf.commitment.hex(),
                        "open": None,
                        "created_at": time.time(),
                        "rebased_from": [self.hall, self.seq],
                    },
                )
                self.wb.put_json(
                    key.encode(), {**r, "anchor": {"state": "pending", "rebased": {"lost_index": lf.index}}}
                )
                self.ix.rebased_total += 1
                log.warning(
                    "merkle-index: %s %s lost index %d to another hall; queued again", serial, lf.stage.name, lf.index
                )


def awaiting_index(store: Store, accepting_hall: int, serial: str, anchor: dict[str, Any]) -> bool:
    """A Merkle-mode record anchor (the sender's, or the package's for a received record) whose leaf this hall's
    indexer has not checked yet: the batch's log not read yet, its manifest not fetched yet, or the leaf waiting
    for an earlier event of the case. Such a record is neither confirmed nor contradicted by the index; the audit
    judges it once the indexer has applied the batch (that write names the case in the change journal)."""
    batch = anchor.get("batch") or {}
    hall, seq, index = batch.get("hall"), batch.get("seq"), anchor.get("index")
    if not isinstance(hall, int) or not isinstance(seq, int) or not isinstance(index, int):
        return False
    if store.get(mbatch_log_key(hall, seq)) is None or store.get(mwant_key(hall, seq)) is not None:
        return True
    cid = case_id(accepting_hall, serial)
    return next(iter(store.iter_prefix(MDEFER_PREFIX + f"{cid.hex()}/{index:06d}/".encode())), None) is not None


def checked_cases(store: Store, *, to_block: int | None = None) -> Iterator[tuple[CaseOpenedEvent, list[ChainEvent]]]:
    """Every Merkle-mode case of every hall as this hall's indexer checked it (leaves of manifests that match
    their on-chain roots, every case rule applied), in the shapes the chain's event-mode logs decode to: its
    INTAKE as a ``CaseOpened`` and its events as ``EventAppended`` (block: the batch's), for views that read
    the chain of both modes alike (:func:`ledger.hall.citywide.city_view`). ``to_block``: only what was mined
    up to that block."""
    for _, st in store.iter_json(MCASE_PREFIX):
        events = [e for e in st["events"] if to_block is None or int(e["block"]) <= to_block]
        if not events:
            continue
        cid = "0x" + case_id(int(st["accepting_hall"]), str(st["serial"])).hex()
        opened = CaseOpenedEvent(
            case_id=cid,
            serial=str(st["serial"]),
            accepting_hall=int(st["accepting_hall"]),
            home_district=int(st["home_district"]),
            item_code=str(st.get("item_code") or ""),
            block_number=int(events[0]["block"]),
            tx_hash=str(events[0].get("tx") or ""),
        )
        yield (
            opened,
            [
                ChainEvent(
                    case_id=cid,
                    hall_id=int(e["hall"]),
                    stage=Stage[e["stage"]],
                    writer=str(e["writer"]),
                    index=int(e["index"]),
                    commitment=bytes.fromhex(str(e["commitment"])),
                    head=bytes.fromhex(str(e["head"])),
                    ref=int(e["ref"]),
                    prev_block=int(events[i - 1]["block"]) if i > 0 else 0,
                    block_number=int(e["block"]),
                    tx_hash=str(e.get("tx") or ""),
                    log_index=int(e["log_index"]),
                )
                for i, e in enumerate(events)
            ],
        )


def merkle_case_facts(
    store: Store,
    client: ChainClient,
    *,
    accepting_hall: int,
    serial: str,
    registry_log: list[RegistryFact],
) -> ChainFacts | None:
    """A Merkle-mode case's events as this hall's indexer checked them (leaves of manifests that match their
    on-chain roots), as event-mode chain facts: what the audit compares the hall's records with. ``None``
    when the indexer has not seen the case's INTAKE."""
    from ledger.core.chainlog import block_times, case_fields, read_deployment

    cid = case_id(accepting_hall, serial)
    st = store.get_json(mcase_key(cid))
    if st is None:
        return None
    times = block_times(client, {int(e["block"]) for e in st["events"]})
    dep = client.deployment
    assert dep is not None
    d = read_deployment(client, dep.ledger)
    last = st["events"][-1] if st["events"] else None
    return ChainFacts(
        **case_fields(d, accepting_hall, serial),
        header=CaseHeader(
            head="0x" + (last["head"] if last else "00" * 32),
            event_count=len(st["events"]),
            phase=Phase.OPENED,
            home_district=int(st["home_district"]),
            accepting_hall=accepting_hall,
            item_code=str(st.get("item_code") or ""),
            last_block=int(last["block"]) if last else 0,
        ),
        events=[
            ChainEventFact(
                index=int(e["index"]),
                stage=Stage[e["stage"]],
                writer=str(e["writer"]),
                hall_id=int(e["hall"]),
                commitment="0x" + str(e["commitment"]),
                head="0x" + str(e["head"]),
                ref=int(e["ref"]),
                # the block back-link the event-mode re-check expects: the previous checked event's block
                # (Merkle mode's own back-link, the batch, was checked by the indexer)
                prev_block=int(st["events"][i - 1]["block"]) if i > 0 else 0,
                block=int(e["block"]),
                log_index=int(e["log_index"]),
                tx=str(e.get("tx") or ""),
                time=times[int(e["block"])],
            )
            for i, e in enumerate(st["events"])
        ],
        registry_log=registry_log,
        addresses_from="deployment",  # the hall's own configured deployment
    )
