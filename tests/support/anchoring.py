"""What the chain holds of a case, in either anchoring mode, for tests that check "anchored exactly once".

Event mode: the case's ``EventAppended`` logs. Merkle mode: every leaf of the case in every hall's batches,
read from the chain (``BatchAnchored``) and the manifests a hall serves, each manifest checked against its
on-chain root first — so a test counts what the chain proves, not what a hall says.
"""

from __future__ import annotations

import httpx

from ledger.chain.client import ChainClient
from ledger.chain.facts_reader import fetch_chain_facts, fetch_merkle_facts
from ledger.core.batches import EventLeaf, Manifest
from ledger.core.bundle import EvidenceBundle
from ledger.core.chainlog import ManifestSource
from ledger.core.hashchain import case_id
from ledger.core.suites import suite_named
from ledger.hall.keys import manifest_key
from ledger.hall.store import Store
from ledger.verify.checks import verify_bundle
from ledger.verify.manifests import manifest_source
from ledger.verify.merkle import verify_merkle_bundle
from ledger.verify.report import VerificationReport

__all__ = ["case_leaves_on_chain", "chain_event_count", "store_manifests", "verify_on_chain"]


def case_leaves_on_chain(chain: ChainClient, manifest_url: str, accepting_hall: int, serial: str) -> list[EventLeaf]:
    """Every leaf of the case in every hall's batches since the deployment (manifests checked against roots)."""
    dep = chain.deployment
    assert dep is not None
    suite = suite_named(dep.suite)
    cid = case_id(accepting_hall, serial)
    out: list[EventLeaf] = []
    for b in chain.batches_in_range(dep.deployed_block, chain.block_number()):
        r = httpx.get(f"{manifest_url.rstrip('/')}/public/batches/{b.hall_id}/{b.seq}/manifest", timeout=10)
        assert r.status_code == 200, f"no manifest of batch {b.hall_id}/{b.seq} at {manifest_url}"
        m = Manifest.decode(r.content)
        m.check(hall=b.hall_id, seq=b.seq, root=b.root, count=b.count, suite=suite)
        out += [EventLeaf.decode(x) for x in m.leaves if x[8:40] == cid]
    return out


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
    from its URL or from ``manifests``; each is checked against its on-chain root by the verifier)."""
    if bundle.mode == "merkle":
        source = manifest_source([manifest_url]) if manifest_url else manifests
        return verify_merkle_bundle(bundle, fetch_merkle_facts(chain, bundle, manifests=source))
    return verify_bundle(bundle, fetch_chain_facts(chain, bundle.accepting_hall, bundle.serial))


def store_manifests(store: Store) -> ManifestSource:
    """The manifests a hall's store holds (its own batches and every other hall's it fetched), as a source."""
    return lambda hall, seq: store.get(manifest_key(hall, seq))
