"""Read the verifier's chain facts (:mod:`ledger.core.facts`) through :class:`ChainClient`.

The pure check (:func:`ledger.verify.checks.verify_bundle`) is given what these read::

    facts = fetch_chain_facts(client, serial)            # one case: header, events, block times, registry
    many = fetch_chain_facts_many(client, serials)       # the audit's scan: one pass over the ledger's logs
    log = fetch_registry_log(client)                     # the registry's membership and role history
"""

from __future__ import annotations

from collections.abc import Iterable

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from ledger.chain.client import ChainClient
from ledger.core.facts import CaseOpenedEvent, ChainEvent, ChainEventFact, ChainFacts, RegistryFact
from ledger.core.hashchain import case_id
from ledger.core.stages import Phase
from ledger.errors import InputError

__all__ = ["DISPUTE_OFFICER_ROLE", "fetch_chain_facts", "fetch_chain_facts_many", "fetch_registry_log"]


def _event_fact(e: ChainEvent, times: dict[int, int]) -> ChainEventFact:
    return ChainEventFact(
        index=e.index,
        stage=e.stage,
        writer=e.writer,
        hall_id=e.hall_id,
        commitment="0x" + e.commitment.hex(),
        head="0x" + e.head.hex(),
        block=e.block_number,
        log_index=e.log_index,
        tx=e.tx_hash,
        time=times[e.block_number],
    )


def _block_times(client: ChainClient, events: Iterable[ChainEvent]) -> dict[int, int]:
    times: dict[int, int] = {}
    for e in events:
        if e.block_number not in times:
            times[e.block_number] = client.block_time(e.block_number)
    return times


def fetch_chain_facts(
    client: ChainClient, serial: str, *, registry_log: list[RegistryFact] | None = None
) -> ChainFacts:
    """Read the case's events, block times and the registry's history from the chain.

    ``registry_log`` (from :func:`fetch_registry_log`) saves re-reading the registry when many
    cases are checked in a row (the audit's anomaly scan).
    """
    dep = client.deployment
    if dep is None:
        raise InputError("deployment", "no contract addresses to read from")
    header = client.case_header(serial)
    events = client.case_events(serial)
    times = _block_times(client, events)
    dispute_role = DISPUTE_OFFICER_ROLE
    return ChainFacts(
        serial=serial,
        chain_id=client.chain_id(),
        ledger=dep.ledger,
        registry=dep.registry,
        opened=header["phase"] != Phase.NONE,
        accepting_hall=header["accepting_hall"],
        home_district=header["home_district"],
        item_code=header["item_code"],
        head="0x" + header["head"].hex(),
        event_count=header["event_count"],
        events=[_event_fact(e, times) for e in events],
        registry_log=registry_log if registry_log is not None else fetch_registry_log(client),
        dispute_role=dispute_role,
    )


def fetch_chain_facts_many(
    client: ChainClient, serials: Iterable[str], *, registry_log: list[RegistryFact] | None = None, chunk: int = 10_000
) -> dict[str, ChainFacts]:
    """Chain facts for many cases at once (the audit's scan): one pass over the ledger's logs.

    Equivalent to :func:`fetch_chain_facts` per case, but the header (accepting hall, home district,
    item, head, event count) is taken from the case's ``CaseOpened`` and ``EventAppended`` logs
    instead of one ``caseHeader`` call per case. Cases with nothing on chain get ``opened=False``.
    """
    dep = client.deployment
    if dep is None:
        raise InputError("deployment", "no contract addresses to read from")
    wanted = {"0x" + case_id(s).hex(): s for s in serials}
    opened: dict[str, CaseOpenedEvent] = {}
    appended: dict[str, list[ChainEvent]] = {}
    head_block = client.block_number()
    for lo in range(dep.deployed_block, head_block + 1, chunk):
        ops, apps = client.events_in_range(lo, min(head_block, lo + chunk - 1))
        for op in ops:
            if op.case_id in wanted:
                opened[op.case_id] = op
        for a in apps:
            if a.case_id in wanted:
                appended.setdefault(a.case_id, []).append(a)
    times = _block_times(client, (e for evs in appended.values() for e in evs))
    registry = registry_log if registry_log is not None else fetch_registry_log(client)
    dispute_role = DISPUTE_OFFICER_ROLE
    chain_id = client.chain_id()
    out: dict[str, ChainFacts] = {}
    for cid, serial in wanted.items():
        evs = sorted(appended.get(cid, []), key=lambda e: e.index)
        o = opened.get(cid)
        out[serial] = ChainFacts(
            serial=serial,
            chain_id=chain_id,
            ledger=dep.ledger,
            registry=dep.registry,
            opened=o is not None,
            accepting_hall=o.accepting_hall if o else 0,
            home_district=o.home_district if o else 0,
            item_code=o.item_code if o else "",
            head="0x" + (evs[-1].head.hex() if evs else "00" * 32),
            event_count=len(evs),
            events=[_event_fact(e, times) for e in evs],
            registry_log=registry,
            dispute_role=dispute_role,
        )
    return out


_REGISTRY_TOPICS: dict[bytes, str] = {
    keccak(text=sig): kind
    for sig, kind in (
        ("HallRegistered(uint32,address,uint32,string,string)", "registered"),
        ("HallSuspended(uint32,address)", "suspended"),
        ("HallReactivated(uint32,address)", "reactivated"),
        ("HallKeyRotated(uint32,address,address)", "rotated"),
        ("RoleGranted(bytes32,address,address)", "role_granted"),
        ("RoleRevoked(bytes32,address,address)", "role_revoked"),
    )
}
DISPUTE_OFFICER_ROLE = "0x" + keccak(text="DISPUTE_OFFICER_ROLE").hex()


def fetch_registry_log(client: ChainClient) -> list[RegistryFact]:
    """The registry's membership and role history, in chain order."""
    dep = client.deployment
    if dep is None:
        raise InputError("deployment", "no contract addresses to read from")
    out: list[RegistryFact] = []
    for lg in client.registry_raw_logs(dep.deployed_block):
        t = lg["topics"]
        kind = _REGISTRY_TOPICS.get(t[0])
        if kind is None:
            continue
        pos = {"block": lg["blockNumber"], "log_index": lg["logIndex"]}
        if kind in ("registered", "suspended", "reactivated", "rotated"):
            hall_id = int.from_bytes(t[1], "big")
            account = to_checksum_address(t[2][12:])
            if kind == "registered":
                out.append(
                    RegistryFact(
                        kind=kind, hall_id=hall_id, account=account, district=int.from_bytes(t[3], "big"), **pos
                    )
                )
            elif kind == "rotated":
                out.append(
                    RegistryFact(
                        kind=kind, hall_id=hall_id, account=account, new_account=to_checksum_address(t[3][12:]), **pos
                    )
                )
            else:
                out.append(RegistryFact(kind=kind, hall_id=hall_id, account=account, **pos))
        else:  # RoleGranted / RoleRevoked(bytes32 indexed role, address indexed account, address indexed sender)
            out.append(RegistryFact(kind=kind, role="0x" + t[1].hex(), account=to_checksum_address(t[2][12:]), **pos))
    out.sort(key=lambda f: (f.block, f.log_index))
    return out
