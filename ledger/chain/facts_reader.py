"""Read the verifier's chain facts (:mod:`ledger.core.facts`) through :class:`ChainClient`.

The pure check (:func:`ledger.verify.checks.verify_bundle`) is given what these read::

    facts = fetch_chain_facts(client, accepting_hall, serial)   # one case, by back-links
    many = fetch_chain_facts_many(client, [(hall, serial), …])   # the audit's scan: one bounded pass over the logs
    log = fetch_registry_log(client)                             # the registry's history, by back-links

The reading itself is :func:`ledger.core.chainlog.read_case_facts`, shared with the stand-alone
verifier's stdlib transport; the client is only the transport here.
"""

from __future__ import annotations

from collections.abc import Iterable

from ledger.chain.client import ChainClient
from ledger.chain.deployment import Deployment
from ledger.core.bundle import EvidenceBundle
from ledger.core.chainlog import (
    ROLE_IDS,
    ManifestSource,
    block_times,
    case_facts,
    read_case_facts,
    read_deployment,
    read_merkle_facts,
)
from ledger.core.facts import CaseHeader, CaseOpenedEvent, ChainEvent, ChainFacts, MerkleFacts, RegistryFact
from ledger.core.hashchain import case_id
from ledger.core.stages import Phase
from ledger.errors import InputError

__all__ = [
    "DISPUTE_OFFICER_ROLE",
    "fetch_chain_facts",
    "fetch_chain_facts_many",
    "fetch_merkle_facts",
    "deployment_of",
    "fetch_registry_log",
]

DISPUTE_OFFICER_ROLE = ROLE_IDS["DISPUTE_OFFICER_ROLE"]


def deployment_of(client: ChainClient) -> Deployment:
    """The client's deployment; without one there is nothing to read (a clear error for staff)."""
    if client.deployment is None:
        raise InputError("deployment", "no_contract_addresses")
    return client.deployment


def fetch_chain_facts(
    client: ChainClient, accepting_hall: int, serial: str, *, registry_log: list[RegistryFact] | None = None
) -> ChainFacts:
    """Read one case's header, events, block times and the registry's history (bounded, O(events)).

    ``registry_log`` (from :func:`fetch_registry_log`) saves re-reading the registry when many
    cases are checked in a row.
    """
    dep = deployment_of(client)
    return read_case_facts(
        client,
        ledger=dep.ledger,
        accepting_hall=accepting_hall,
        serial=serial,
        registry_log=registry_log,
        trusted=True,  # the hall's own configured deployment
    )


def fetch_merkle_facts(
    client: ChainClient,
    bundle: EvidenceBundle,
    *,
    manifests: ManifestSource | None = None,
    registry_log: list[RegistryFact] | None = None,
) -> MerkleFacts:
    """The facts of a Merkle-mode bundle: the batches its events name, and (with ``manifests``) every hall's
    batches from its INTAKE on with their manifests (:func:`ledger.core.chainlog.read_merkle_facts`)."""
    dep = deployment_of(client)
    return read_merkle_facts(
        client,
        ledger=dep.ledger,
        accepting_hall=bundle.accepting_hall,
        serial=bundle.serial,
        batches=[(e.batch.hall_id, e.batch.seq, e.block) for e in bundle.events if e.batch is not None],
        manifests=manifests,
        max_range=client.max_logs_range,
        registry_log=registry_log,
        trusted=True,  # the hall's own configured deployment
    )


def fetch_registry_log(client: ChainClient) -> list[RegistryFact]:
    """The registry's membership and role history, in chain order."""
    return client.registry_log()


def fetch_chain_facts_many(
    client: ChainClient, cases: Iterable[tuple[int, str]], *, registry_log: list[RegistryFact] | None = None
) -> dict[tuple[int, str], ChainFacts]:
    """Chain facts for many cases at once (the audit's scan): one pass over the ledger's logs.

    The pass asks ``eth_getLogs`` in ranges of at most ``client.max_logs_range`` blocks. Equivalent to
    :func:`fetch_chain_facts` per case, with the header taken from the case's ``CaseOpened`` and
    ``EventAppended`` logs instead of one ``caseHeader`` call per case. Cases with nothing on chain
    get a header of phase ``NONE``.
    """
    dep = deployment_of(client)
    wanted = {"0x" + case_id(h, s).hex(): (h, s) for h, s in cases}
    opened: dict[str, CaseOpenedEvent] = {}
    appended: dict[str, list[ChainEvent]] = {}
    ops, apps = client.events_in_range(dep.deployed_block, client.block_number())
    for op in ops:
        if op.case_id in wanted:
            opened[op.case_id] = op
    for a in apps:
        if a.case_id in wanted:
            appended.setdefault(a.case_id, []).append(a)
    times = block_times(client, (e.block_number for evs in appended.values() for e in evs))
    registry = registry_log if registry_log is not None else fetch_registry_log(client)
    facts = read_deployment(client, dep.ledger).model_copy(update={"addresses_from": "deployment"})
    out: dict[tuple[int, str], ChainFacts] = {}
    for cid, (hall, serial) in wanted.items():
        evs = sorted(appended.get(cid, []), key=lambda e: e.index)
        o = opened.get(cid)
        header = CaseHeader(
            head="0x" + (evs[-1].head.hex() if evs else "00" * 32),
            event_count=len(evs),
            phase=Phase.OPENED if o is not None else Phase.NONE,  # the scan does not need the exact phase
            home_district=o.home_district if o else 0,
            accepting_hall=o.accepting_hall if o else 0,
            item_code=o.item_code if o else "",
            last_block=evs[-1].block_number if evs else 0,
        )
        out[(hall, serial)] = case_facts(facts, hall, serial, header, evs, times, registry)
    return out
