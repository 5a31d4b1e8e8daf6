"""What the chain holds of a case, in either anchoring mode, for tests that check "anchored exactly once".

Event mode: the case's ``EventAppended`` logs. Merkle mode: every leaf of the case in every hall's batches,
read from the chain (``BatchAnchored``) and the manifests halls serve, each manifest checked against its
on-chain root and count first — so a test counts what the chain proves, not what a hall says.

One check for every test that says "lost 0, doubled 0" (the fault suite, failover, the multi-node chain, the
durability tests)::

    on_chain = ChainEvents(chain, mode, [hall_url, mirror_url]).of(serials)
    t = tally(on_chain, {serial: [commitment, ...]})   # every acknowledged event exactly once on chain
    assert not t.lost and not t.doubled

An acknowledged event is *lost* if no ``EventAppended`` log / no leaf of an anchored batch carries its
commitment, *doubled* if more than one does (in Merkle mode: in more than one batch, or twice in one); a case
whose on-chain events are not exactly the acknowledged ones at indices ``0 .. n-1`` is doubled too.
:func:`anchored_once` adds that the hall's records name the transaction, block (and batch, leaf) the chain
holds each event in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from ledger.chain.client import ChainClient
from ledger.chain.facts_reader import fetch_chain_facts, fetch_merkle_facts
from ledger.core.batches import EventLeaf, Manifest
from ledger.core.bundle import EvidenceBundle
from ledger.core.chainlog import ManifestSource
from ledger.core.facts import BatchAnchoredEvent
from ledger.core.hashchain import case_id
from ledger.core.stages import Stage
from ledger.core.suites import Suite, suite_named
from ledger.dev.demo import HallClient
from ledger.hall.cases import CaseBook
from ledger.hall.integrity import parse_serial
from ledger.hall.merkle_index import ManifestStore
from ledger.verify.checks import verify_bundle
from ledger.verify.manifests import manifest_source
from ledger.verify.merkle import verify_merkle_bundle
from ledger.verify.report import VerificationReport

__all__ = [
    "ChainEvents",
    "EventOnChain",
    "Tally",
    "anchored_once",
    "case_leaves_in",
    "case_leaves_on_chain",
    "chain_event_count",
    "hall_of",
    "merkle_anchored_once",
    "misplaced",
    "tally",
    "verify_on_chain",
]


def hall_of(serial: str) -> int:
    """The accepting hall a hall-issued serial names (its case id is derived from it)."""
    named = parse_serial(serial)
    assert named is not None, serial
    return named[1]


@dataclass(frozen=True)
class EventOnChain:
    """One event of a case as the chain proves it."""

    index: int
    commitment: str
    """hex, without ``0x`` (as a hall's timeline shows it)"""
    tx: str
    block: int
    batch: tuple[int, int] | None = None
    """Merkle mode: (hall, seq) of the anchored batch holding the leaf"""
    leaf: int | None = None
    """Merkle mode: the leaf's position in its batch"""


_MANIFESTS: dict[tuple[str, int, int, bytes], list[EventLeaf]] = {}
"""checked manifests' leaves by (ledger, hall, seq, on-chain root): content-addressed, so safe to keep"""


class ChainEvents:
    """Reads what the chain holds of cases. Merkle mode: one scan of every ``BatchAnchored`` log since the
    deployment per :meth:`of` call; each batch's manifest is taken from the first of ``manifests`` that gives
    one recomputing to the on-chain root and count — a hall's URL (its public route) or a source such as
    ``ManifestStore(store, hall_id=…).get`` — and a manifest already checked is not fetched again."""

    def __init__(
        self, chain: ChainClient, mode: str, manifests: Sequence[str | Callable[[int, int], bytes | None]] = ()
    ) -> None:
        assert mode in ("event", "merkle"), mode
        assert mode == "event" or manifests, "Merkle mode needs a hall to read the batches' manifests from"
        self.chain, self.mode = chain, mode
        self.sources = [m.rstrip("/") if isinstance(m, str) else m for m in manifests]

    def of(self, serials: Iterable[str]) -> dict[str, list[EventOnChain]]:
        """Each case's events on chain, in chain order."""
        serials = list(serials)
        if self.mode == "event":
            return {
                s: [
                    EventOnChain(e.index, e.commitment.hex(), e.tx_hash, e.block_number)
                    for e in self.chain.case_events(hall_of(s), s)
                ]
                for s in serials
            }
        by_id = {case_id(hall_of(s), s): s for s in serials}
        out: dict[str, list[EventOnChain]] = {s: [] for s in serials}
        for b, leaves in self._batches():
            for pos, lf in enumerate(leaves):
                s = by_id.get(lf.case_id)
                if s is not None:
                    at = (b.hall_id, b.seq)
                    out[s].append(EventOnChain(lf.index, lf.commitment.hex(), b.tx_hash, b.block_number, at, pos))
        return out

    def leaves_of(self, accepting_hall: int, serial: str) -> list[EventLeaf]:
        """Every leaf of the case in every anchored batch (Merkle mode)."""
        return [lf for lf, _, _ in self.placed_leaves_of(accepting_hall, serial)]

    def placed_leaves_of(self, accepting_hall: int, serial: str) -> list[tuple[EventLeaf, BatchAnchoredEvent, int]]:
        """Every leaf of the case in every anchored batch, with its batch and position (Merkle mode)."""
        cid = case_id(accepting_hall, serial)
        return [(lf, b, pos) for b, leaves in self._batches() for pos, lf in enumerate(leaves) if lf.case_id == cid]

    def _batches(self) -> list[tuple[BatchAnchoredEvent, list[EventLeaf]]]:
        dep = self.chain.deployment
        assert dep is not None
        suite = suite_named(dep.suite)
        out: list[tuple[BatchAnchoredEvent, list[EventLeaf]]] = []
        for b in self.chain.batches_in_range(dep.deployed_block, self.chain.block_number()):
            key = (dep.ledger.lower(), b.hall_id, b.seq, b.root)
            if key not in _MANIFESTS:
                _MANIFESTS[key] = self._fetch(b.hall_id, b.seq, b.root, b.count, suite)
            out.append((b, _MANIFESTS[key]))
        return out

    def _fetch(self, hall: int, seq: int, root: bytes, count: int, suite: Suite) -> list[EventLeaf]:
        tried: list[str] = []
        for source in self.sources:
            if not isinstance(source, str):
                raw = source(hall, seq)
                if raw is None:
                    tried.append(f"{source}: none")
                    continue
                m = Manifest.decode(raw)
                m.check(hall=hall, seq=seq, root=root, count=count, suite=suite)
                return [EventLeaf.decode(x) for x in m.leaves]
            try:
                r = httpx.get(f"{source}/public/batches/{hall}/{seq}/manifest", timeout=10)
            except httpx.HTTPError as exc:
                tried.append(f"{source}: {exc!r}")
                continue
            if r.status_code != 200:
                tried.append(f"{source}: HTTP {r.status_code}")
                continue
            m = Manifest.decode(r.content)
            m.check(hall=hall, seq=seq, root=root, count=count, suite=suite)
            return [EventLeaf.decode(x) for x in m.leaves]
        raise AssertionError(f"no hall serves the manifest of batch {hall}/{seq}: {tried}")


@dataclass
class Tally:
    """Acknowledged events lost (not on chain) or doubled (on chain more than once), one line per case."""

    lost: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)


def tally(on_chain: Mapping[str, list[EventOnChain]], acknowledged: Mapping[str, Sequence[str]]) -> Tally:
    """Compare ``acknowledged`` (serial -> the commitments of its acknowledged events, hex) with the chain."""
    t = Tally()
    for serial, commitments in acknowledged.items():
        got = on_chain.get(serial, [])
        seen = [e.commitment for e in got]
        missing = [c for c in commitments if c not in seen]
        twice = sorted({c for c in seen if seen.count(c) > 1})
        if missing:
            t.lost.append(f"{serial}: {len(missing)} of {len(commitments)} acknowledged event(s) not on chain")
        if twice or sorted(e.index for e in got) != list(range(len(got))) or len(got) > len(commitments):
            where = [(e.index, e.batch or e.tx[:10]) for e in got]
            t.doubled.append(f"{serial}: {len(got)} event(s) on chain for {len(commitments)} acknowledged: {where}")
    return t


def anchored_once(events: ChainEvents, hall: HallClient, serials: Iterable[str]) -> None:
    """Every event the hall shows of each case is on chain exactly once (nothing else is), at the transaction,
    block (Merkle mode: batch and leaf) the hall's record names."""
    serials = list(serials)
    views = {s: hall.case(s) for s in serials}
    for s, v in views.items():
        assert v is not None, f"{s} unknown at {hall.url}"
    timelines = {s: (v or {})["timeline"] for s, v in views.items()}
    on_chain = events.of(serials)
    t = tally(on_chain, {s: [e["commitment"] for e in tl] for s, tl in timelines.items()})
    assert not t.lost and not t.doubled, t
    wrong = [w for s, tl in timelines.items() for w in misplaced(on_chain[s], tl)]
    assert not wrong, wrong


def misplaced(on_chain: list[EventOnChain], timeline: list[dict[str, Any]]) -> list[str]:
    """The events of a hall's timeline whose anchor is not where the chain holds them (transaction, block, index;
    Merkle mode also batch and leaf), or that the chain does not hold."""
    by_commitment = {e.commitment: e for e in on_chain}
    out: list[str] = []
    for rec in timeline:
        e, anchor = by_commitment.get(rec["commitment"]), rec["anchor"]
        b = anchor.get("batch") or {}
        named = (anchor.get("tx"), anchor.get("block"), anchor.get("index"))
        if e is None or named != (e.tx, e.block, e.index):
            out.append(f"{rec['stage']} #{anchor.get('index')}: the hall names {named}, the chain {e}")
        elif e.batch is not None and (b.get("hall"), b.get("seq"), b.get("leaf")) != (*e.batch, e.leaf):
            out.append(f"{rec['stage']} #{e.index}: the hall names batch {b}, the chain {e}")
    return out


def case_leaves_in(
    chain: ChainClient, manifests: Callable[[int, int], bytes | None], accepting_hall: int, serial: str
) -> list[tuple[EventLeaf, BatchAnchoredEvent, int]]:
    """Every leaf of the case in every hall's batches since the deployment, with its batch and position; each
    manifest (from ``manifests(hall, seq)``) checked against the batch's on-chain root and count first."""
    return ChainEvents(chain, "merkle", [manifests]).placed_leaves_of(accepting_hall, serial)


def merkle_anchored_once(chain: ChainClient, book: CaseBook, serials: list[str]) -> None:
    """Each case of ``book``'s hall is on chain once: one leaf per record (INTAKE, MATERIALS), in batches whose
    manifests (the hall's own, as it serves them) recompute to their on-chain roots; every record's anchor names
    its leaf's batch, transaction, block, position, index, head and writer."""
    events = ChainEvents(chain, "merkle", [ManifestStore(book.store, hall_id=book.hall.hall_id).get])
    records = {s: book.records(s) for s in serials}
    on_chain = events.of(serials)
    t = tally(on_chain, {s: [r["commitment"] for r in recs] for s, recs in records.items()})
    assert not t.lost and not t.doubled, t
    assert not [w for s, recs in records.items() for w in misplaced(on_chain[s], recs)]
    for s, recs in records.items():
        leaves = events.placed_leaves_of(book.hall.hall_id, s)
        assert [lf.stage for lf, _, _ in leaves] == [Stage.INTAKE, Stage.MATERIALS], s
        for r, (lf, b, _) in zip(recs, leaves, strict=True):
            a = r["anchor"]
            assert a["state"] == "anchored" and a["mode"] == "merkle", (s, a)
            assert (a["index"], a["head"], a["writer"].lower()) == (lf.index, lf.head.hex(), b.writer.lower())


def case_leaves_on_chain(chain: ChainClient, manifest_url: str, accepting_hall: int, serial: str) -> list[EventLeaf]:
    """Every leaf of the case in every hall's batches since the deployment (manifests checked against roots)."""
    return ChainEvents(chain, "merkle", [manifest_url]).leaves_of(accepting_hall, serial)


def chain_event_count(chain: ChainClient, mode: str, accepting_hall: int, serial: str, manifest_url: str) -> int:
    """How many events (event mode) or leaves (Merkle mode) of the case the chain holds."""
    if mode == "event":
        return len(chain.case_events(accepting_hall, serial))
    return len(case_leaves_on_chain(chain, manifest_url, accepting_hall, serial))


def verify_on_chain(
    chain: ChainClient,
    bundle: EvidenceBundle,
    manifest_url: str | None = None,
    *,
    manifests: ManifestSource | None = None,
) -> VerificationReport:
    """The verifier's report on a bundle of either mode (Merkle mode: completeness from a hall's manifests, read
    from its URL or from ``manifests``, e.g. ``ManifestStore(store, hall_id=…).get``; the verifier checks each
    against its on-chain root)."""
    if bundle.mode == "merkle":
        source = manifest_source([manifest_url]) if manifest_url else manifests
        return verify_merkle_bundle(bundle, fetch_merkle_facts(chain, bundle, manifests=source))
    return verify_bundle(bundle, fetch_chain_facts(chain, bundle.accepting_hall, bundle.serial))
