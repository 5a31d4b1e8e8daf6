"""What the chain holds of a case, in either anchoring mode, for tests that check "anchored exactly once".

Event mode: the case's ``EventAppended`` logs. Merkle mode: every leaf of the case in every hall's batches,
read from the chain (``BatchAnchored``) and the manifests a hall serves, each manifest checked against its
on-chain root first — so a test counts what the chain proves, not what a hall says.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from ledger.chain.client import ChainClient
from ledger.chain.facts_reader import fetch_chain_facts, fetch_merkle_facts
from ledger.core.batches import EventLeaf, Manifest
from ledger.core.bundle import EvidenceBundle
from ledger.core.chainlog import ManifestSource
from ledger.core.facts import BatchAnchoredEvent
from ledger.core.hashchain import case_id
from ledger.core.stages import Stage
from ledger.core.suites import suite_named
from ledger.hall.cases import CaseBook
from ledger.hall.merkle_index import ManifestStore
from ledger.verify.checks import verify_bundle
from ledger.verify.manifests import manifest_source
from ledger.verify.merkle import verify_merkle_bundle
from ledger.verify.report import VerificationReport

__all__ = ["case_leaves_in", "case_leaves_on_chain", "chain_event_count", "merkle_anchored_once", "verify_on_chain"]


def case_leaves_in(
    chain: ChainClient, manifests: Callable[[int, int], bytes | None], accepting_hall: int, serial: str
) -> list[tuple[EventLeaf, BatchAnchoredEvent, int]]:
    """Every leaf of the case in every hall's batches since the deployment, with its batch and position; each
    manifest (from ``manifests(hall, seq)``) checked against the batch's on-chain root and count first."""
    dep = chain.deployment
    assert dep is not None
    suite = suite_named(dep.suite)
    cid = case_id(accepting_hall, serial)
    out: list[tuple[EventLeaf, BatchAnchoredEvent, int]] = []
    for b in chain.batches_in_range(dep.deployed_block, chain.block_number()):
        raw = manifests(b.hall_id, b.seq)
        assert raw is not None, f"no manifest of batch {b.hall_id}/{b.seq}"
        m = Manifest.decode(raw)
        m.check(hall=b.hall_id, seq=b.seq, root=b.root, count=b.count, suite=suite)
        out += [(EventLeaf.decode(x), b, pos) for pos, x in enumerate(m.leaves) if x[8:40] == cid]
    return out


def case_leaves_on_chain(chain: ChainClient, manifest_url: str, accepting_hall: int, serial: str) -> list[EventLeaf]:
    """Every leaf of the case in every hall's batches since the deployment (manifests checked against roots)."""

    def fetch(hall: int, seq: int) -> bytes | None:
        r = httpx.get(f"{manifest_url.rstrip('/')}/public/batches/{hall}/{seq}/manifest", timeout=10)
        return r.content if r.status_code == 200 else None

    return [lf for lf, _, _ in case_leaves_in(chain, fetch, accepting_hall, serial)]


def merkle_anchored_once(chain: ChainClient, book: CaseBook, serials: list[str]) -> None:
    """Each case of ``book``'s hall is on chain once: one leaf per record (INTAKE, MATERIALS), in batches whose
    manifests (the hall's own, as it serves them) recompute to their on-chain roots; every record's anchor names
    its leaf's batch, transaction, block, position, index and head."""
    own = ManifestStore(book.store, hall_id=book.hall.hall_id)
    for s in serials:
        leaves = case_leaves_in(chain, own.get, book.hall.hall_id, s)
        assert [lf.stage for lf, _, _ in leaves] == [Stage.INTAKE, Stage.MATERIALS], s
        records = book.records(s)
        assert [r["commitment"] for r in records] == [lf.commitment.hex() for lf, _, _ in leaves], s
        for r, (lf, b, pos) in zip(records, leaves, strict=True):
            a = r["anchor"]
            assert a["state"] == "anchored" and a["mode"] == "merkle", (s, a)
            assert (a["tx"], a["block"], a["batch"]["seq"], a["batch"]["leaf"]) == (
                b.tx_hash,
                b.block_number,
                b.seq,
                pos,
            )
            assert (a["index"], a["head"], a["writer"].lower()) == (lf.index, lf.head.hex(), b.writer.lower())


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
