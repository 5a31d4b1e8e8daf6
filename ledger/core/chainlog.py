"""The contracts' logs and views as bytes: topics, selectors, decoders, and reading by back-links.

Pure (no I/O): the chain client (:mod:`ledger.chain.client`, web3) and the verifier's stdlib reader
(:mod:`ledger.verify.rpc`) both hand raw JSON-RPC logs to these functions, so there is one decoder
of every event and one implementation of the back-link walks of docs/verification.md::

    case:      h = caseHeader(caseId); b = h.lastBlock
               while b != 0: logs = eth_getLogs(ledger, [EventAppended, caseId], b, b)
                             b = prevBlock of the lowest-index event among logs
    registry:  b = lastChangeBlock()
               while b != 0: logs = eth_getLogs(registry, b, b); b = min(prevChangeBlock)

Both cost one query per block that holds something, whatever the chain's length.

:func:`read_case_facts` does the whole read for one case through any :class:`RpcTransport` (the
stdlib :class:`ledger.verify.rpc.JsonRpc`, or the chain client's adapter): the I/O is the
transport's, the logic is here once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ledger.core.facts import (
    BatchAnchoredEvent,
    BatchFact,
    BatchScan,
    CaseHeader,
    CaseOpenedEvent,
    ChainEvent,
    ChainEventFact,
    ChainFacts,
    DeploymentFacts,
    MerkleFacts,
    RegistryFact,
)
from ledger.core.hashchain import case_id, keccak256
from ledger.core.stages import Phase, Stage
from ledger.core.suites import suite_from_bytes8
from ledger.errors import ChainError, InputError

__all__ = [
    "EVENT_SIGNATURES",
    "ROLE_IDS",
    "MAX_BATCH",
    "RawLog",
    "RpcTransport",
    "TOPIC",
    "ManifestSource",
    "block_ranges",
    "block_times",
    "decode_batch_anchored",
    "read_batch_at",
    "read_batch_header",
    "read_merkle_facts",
    "scan_batches",
    "case_facts",
    "case_fields",
    "call_data",
    "checksum_address",
    "decode_case_header",
    "decode_case_opened",
    "decode_event_appended",
    "decode_registry_log",
    "read_case_facts",
    "read_deployment",
    "read_registry_log",
    "walk_case",
    "walk_registry",
]

EVENT_SIGNATURES: dict[str, str] = {
    "EventAppended": "EventAppended(bytes32,uint32,uint8,address,uint32,bytes32,bytes32,uint32,uint64)",
    "CaseOpened": "CaseOpened(bytes32,uint32,uint32,string,bytes16)",
    "BatchAnchored": "BatchAnchored(uint32,uint64,address,bytes32,uint32,bytes32,uint64)",
    "HallRegistered": "HallRegistered(uint32,address,uint32,string,string,uint64)",
    "HallSuspended": "HallSuspended(uint32,address,uint64)",
    "HallReactivated": "HallReactivated(uint32,address,uint64)",
    "HallKeyRotated": "HallKeyRotated(uint32,address,address,uint64)",
    "HallEndpointChanged": "HallEndpointChanged(uint32,string,uint64)",
    "HallRegistryRoleChanged": "HallRegistryRoleChanged(bytes32,address,bool,uint64)",
}
TOPIC: dict[str, bytes] = {name: keccak256(sig.encode()) for name, sig in EVENT_SIGNATURES.items()}
_REGISTRY_KIND: dict[bytes, str] = {
    TOPIC["HallRegistered"]: "registered",
    TOPIC["HallSuspended"]: "suspended",
    TOPIC["HallReactivated"]: "reactivated",
    TOPIC["HallKeyRotated"]: "rotated",
    TOPIC["HallEndpointChanged"]: "endpoint",
    TOPIC["HallRegistryRoleChanged"]: "role",
}

ROLE_IDS: dict[str, str] = {
    name: "0x" + (bytes(32) if name == "DEFAULT_ADMIN_ROLE" else keccak256(name.encode())).hex()
    for name in (
        "DEFAULT_ADMIN_ROLE",
        "HALL_ADMIN_ROLE",
        "DISPUTE_OFFICER_ROLE",
        "DISPUTE_ARBITER_ROLE",
        "REGULATOR_ROLE",
    )
}

_SELECTORS = {
    sig: keccak256(sig.encode())[:4]
    for sig in (
        "caseHeader(bytes32)",
        "batchHeader(uint32)",
        "lastChangeBlock()",
        "hashSuite()",
        "formatVersion()",
        "registry()",
    )
}


def call_data(signature: str, *words: bytes) -> str:
    """``eth_call`` data for one of the views above with static 32-byte arguments."""
    return "0x" + (_SELECTORS[signature] + b"".join(words)).hex()


def checksum_address(raw: bytes) -> str:
    """EIP-55 spelling of a 20-byte address."""
    h = keccak256(raw.hex().encode("ascii")).hex()
    return "0x" + "".join(c.upper() if c.isalpha() and int(h[i], 16) >= 8 else c for i, c in enumerate(raw.hex()))


@dataclass(frozen=True)
class RawLog:
    """A JSON-RPC log with its hex turned into bytes and ints."""

    address: str
    topics: tuple[bytes, ...]
    data: bytes
    block_number: int
    log_index: int
    tx_hash: str

    @classmethod
    def from_rpc(cls, lg: Mapping[str, Any]) -> RawLog:
        try:
            return cls(
                address=str(lg["address"]),
                topics=tuple(bytes.fromhex(str(t)[2:]) for t in lg["topics"]),
                data=bytes.fromhex(str(lg["data"])[2:]),
                block_number=int(str(lg["blockNumber"]), 16),
                log_index=int(str(lg["logIndex"]), 16),
                tx_hash=str(lg["transactionHash"]).lower(),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ChainError(f"the chain node returned a log this reader cannot parse: {exc}") from exc


def _words(data: bytes, n: int) -> list[bytes]:
    if len(data) < 32 * n:
        raise ChainError(f"log data is {len(data)} bytes, expected at least {32 * n}")
    return [data[32 * i : 32 * (i + 1)] for i in range(n)]


def _uint(word: bytes) -> int:
    return int.from_bytes(word, "big")


def _string_at(data: bytes, offset: int) -> str:
    n = _uint(data[offset : offset + 32])
    return data[offset + 32 : offset + 32 + n].decode("utf-8", "replace")


def decode_event_appended(lg: RawLog) -> ChainEvent:
    """One ``EventAppended`` log."""
    if len(lg.topics) != 4 or lg.topics[0] != TOPIC["EventAppended"]:
        raise ChainError("not an EventAppended log")
    writer, index, commitment, head, ref, prev_block = _words(lg.data, 6)
    return ChainEvent(
        case_id="0x" + lg.topics[1].hex(),
        hall_id=_uint(lg.topics[2]),
        stage=Stage(_uint(lg.topics[3])),
        writer=checksum_address(writer[12:]),
        index=_uint(index),
        commitment=commitment,
        head=head,
        ref=_uint(ref),
        prev_block=_uint(prev_block),
        block_number=lg.block_number,
        tx_hash=lg.tx_hash,
        log_index=lg.log_index,
    )


def decode_case_opened(lg: RawLog) -> CaseOpenedEvent:
    """One ``CaseOpened`` log."""
    if len(lg.topics) != 4 or lg.topics[0] != TOPIC["CaseOpened"]:
        raise ChainError("not a CaseOpened log")
    offset, item = _words(lg.data, 2)
    return CaseOpenedEvent(
        case_id="0x" + lg.topics[1].hex(),
        serial=_string_at(lg.data, _uint(offset)),
        accepting_hall=_uint(lg.topics[2]),
        home_district=_uint(lg.topics[3]),
        item_code=item[:16].rstrip(b"\x00").decode("ascii", "replace"),
        block_number=lg.block_number,
        tx_hash=lg.tx_hash,
    )


def decode_batch_anchored(lg: RawLog) -> BatchAnchoredEvent:
    """One ``BatchAnchored`` log (Merkle mode)."""
    if len(lg.topics) != 3 or lg.topics[0] != TOPIC["BatchAnchored"]:
        raise ChainError("not a BatchAnchored log")
    writer, root, count, head, prev_block = _words(lg.data, 5)
    return BatchAnchoredEvent(
        hall_id=_uint(lg.topics[1]),
        seq=_uint(lg.topics[2]),
        writer=checksum_address(writer[12:]),
        root=root,
        count=_uint(count),
        head=head,
        prev_block=_uint(prev_block),
        block_number=lg.block_number,
        tx_hash=lg.tx_hash,
        log_index=lg.log_index,
    )


def decode_registry_log(lg: RawLog) -> RegistryFact | None:
    """One of the registry's own events (``None`` for OpenZeppelin's RoleGranted/RoleRevoked and others)."""
    kind = _REGISTRY_KIND.get(lg.topics[0]) if lg.topics else None
    if kind is None:
        return None
    t = lg.topics
    pos: dict[str, Any] = {"block": lg.block_number, "log_index": lg.log_index}
    if kind == "registered":
        return RegistryFact(
            kind=kind,
            hall_id=_uint(t[1]),
            account=checksum_address(t[2][12:]),
            district=_uint(t[3]),
            prev_change_block=_uint(_words(lg.data, 3)[2]),
            **pos,
        )
    if kind in ("suspended", "reactivated"):
        return RegistryFact(
            kind=kind,
            hall_id=_uint(t[1]),
            account=checksum_address(t[2][12:]),
            prev_change_block=_uint(_words(lg.data, 1)[0]),
            **pos,
        )
    if kind == "rotated":
        return RegistryFact(
            kind=kind,
            hall_id=_uint(t[1]),
            account=checksum_address(t[2][12:]),
            new_account=checksum_address(t[3][12:]),
            prev_change_block=_uint(_words(lg.data, 1)[0]),
            **pos,
        )
    if kind == "endpoint":
        return RegistryFact(kind=kind, hall_id=_uint(t[1]), prev_change_block=_uint(_words(lg.data, 2)[1]), **pos)
    granted, prev_word = _words(lg.data, 2)
    return RegistryFact(
        kind="role_granted" if _uint(granted) else "role_revoked",
        role="0x" + t[1].hex(),
        account=checksum_address(t[2][12:]),
        prev_change_block=_uint(prev_word),
        **pos,
    )


def decode_case_header(raw: bytes) -> CaseHeader:
    """``caseHeader(bytes32)``'s answer: 7 static words."""
    head, count, phase, district, hall, item, last = _words(raw, 7)
    return CaseHeader(
        head="0x" + head.hex(),
        event_count=_uint(count),
        phase=Phase(_uint(phase)),
        home_district=_uint(district),
        accepting_hall=_uint(hall),
        item_code=item[:16].rstrip(b"\x00").decode("ascii", "replace"),
        last_block=_uint(last),
    )


LogFetcher = Callable[[int], list[RawLog]]
"""``fetch(block)``: the logs a one-block ``eth_getLogs`` returns for that block (filter fixed by the caller)."""


def walk_case(last_block: int, fetch: LogFetcher, *, max_steps: int = 1_000_000) -> list[ChainEvent]:
    """Every event of a case, oldest first, by one-block queries walking back from ``last_block``."""
    events: list[ChainEvent] = []
    b = last_block
    for _ in range(max_steps):
        if b == 0:
            events.sort(key=lambda e: e.index)
            return events
        found = [decode_event_appended(lg) for lg in fetch(b)]
        if not found:
            raise ChainError(f"block {b} holds none of the case's events although the back-links point there")
        events.extend(found)
        prev = min(found, key=lambda e: e.index).prev_block
        if prev >= b:
            raise ChainError(f"the back-link from block {b} does not point back (to {prev})")
        b = prev
    raise ChainError("the case's back-links do not end")


def walk_registry(last_change_block: int, fetch: LogFetcher, *, max_steps: int = 1_000_000) -> list[RegistryFact]:
    """The registry's whole history in chain order (block, then log index), by one-block queries."""
    facts: list[RegistryFact] = []
    b = last_change_block
    for _ in range(max_steps):
        if b == 0:
            facts.sort(key=lambda f: (f.block, f.log_index))
            return facts
        found = [f for f in (decode_registry_log(lg) for lg in fetch(b)) if f is not None]
        if not found:
            raise ChainError(f"block {b} holds no registry change although the back-links point there")
        facts.extend(found)
        prev = min(f.prev_change_block for f in found)
        if prev >= b:
            raise ChainError(f"the registry's back-link from block {b} does not point back (to {prev})")
        b = prev
    raise ChainError("the registry's back-links do not end")


def block_ranges(start: int, end: int, max_range: int) -> Iterator[tuple[int, int]]:
    """``[start, end]`` cut into inclusive ranges of at most ``max_range`` blocks (a forward ``eth_getLogs`` scan)."""
    if max_range < 1:
        raise ValueError("max_range must be at least 1")
    lo = start
    while lo <= end:
        hi = min(end, lo + max_range - 1)
        yield lo, hi
        lo = hi + 1


MAX_BATCH = 50
"""most calls in one JSON-RPC batch request (Besu's default limit is higher)"""


class RpcTransport(Protocol):
    """What the readers need from a JSON-RPC connection: one call, and a batch of one method."""

    def call(self, method: str, params: list[Any]) -> Any: ...

    def batch(self, method: str, params_list: Sequence[list[Any]]) -> list[Any]: ...


def _hex_bytes(res: Any, what: str) -> bytes:
    if not isinstance(res, str) or not res.startswith("0x"):
        raise ChainError(f"the chain endpoint answered {what} with something that is not hex")
    try:
        return bytes.fromhex(res[2:])
    except ValueError as exc:
        raise ChainError(f"the chain endpoint answered {what} with something that is not hex") from exc


def eth_call(rpc: RpcTransport, to: str, data: str) -> bytes:
    return _hex_bytes(rpc.call("eth_call", [{"to": to, "data": data}, "latest"]), "eth_call")


def one_block_logs(rpc: RpcTransport, address: str, topics: list[Any], block: int) -> list[RawLog]:
    flt = {"address": address, "topics": topics, "fromBlock": hex(block), "toBlock": hex(block)}
    res = rpc.call("eth_getLogs", [flt])
    if not isinstance(res, list):
        raise ChainError("the chain endpoint answered eth_getLogs with something that is not a list")
    return [RawLog.from_rpc(lg) for lg in res]


def block_times(rpc: RpcTransport, blocks: Iterable[int]) -> dict[int, int]:
    """Timestamps of ``blocks``, in batch requests of at most :data:`MAX_BATCH`."""
    wanted = sorted(set(blocks))
    out: dict[int, int] = {}
    for i in range(0, len(wanted), MAX_BATCH):
        part = wanted[i : i + MAX_BATCH]
        heads = rpc.batch("eth_getBlockByNumber", [[hex(b), False] for b in part])
        for b, h in zip(part, heads, strict=True):
            if not isinstance(h, dict) or "timestamp" not in h:
                raise ChainError(f"block {b} is not on the chain the endpoint serves")
            out[b] = int(str(h["timestamp"]), 16)
    return out


def _word_int(raw: bytes) -> int:
    if len(raw) < 32:
        raise ChainError("a contract view answered fewer than 32 bytes")
    return int.from_bytes(raw[:32], "big")


def read_deployment(rpc: RpcTransport, ledger: str) -> DeploymentFacts:
    """Chain id, format version, suite and registry of the ledger at ``ledger``: what the endpoint serves.

    :class:`InputError` when no format-2 CaseLedger answers there (a format-1 one is named as such).
    """
    chain_id = int(str(rpc.call("eth_chainId", [])), 16)
    try:
        version = _word_int(eth_call(rpc, ledger, call_data("formatVersion()")))
    except ChainError as exc:
        raise InputError("ledger", "ledger_not_format_2", ledger=ledger) from exc
    if version != 2:
        raise InputError("ledger", "ledger_format", ledger=ledger, version=version)
    suite = suite_from_bytes8(eth_call(rpc, ledger, call_data("hashSuite()"))[:8])
    registry = checksum_address(eth_call(rpc, ledger, call_data("registry()"))[12:32])
    return DeploymentFacts(
        chain_id=chain_id, ledger=ledger, registry=registry, format_version=version, suite=suite.name
    )


def read_registry_log(rpc: RpcTransport, registry: str) -> list[RegistryFact]:
    """The registry's whole history by back-links (1 call + one ``eth_getLogs`` per block with a change)."""
    last = _word_int(eth_call(rpc, registry, call_data("lastChangeBlock()")))
    return walk_registry(last, lambda b: one_block_logs(rpc, registry, [], b))


def read_case_events(rpc: RpcTransport, ledger: str, cid: bytes) -> tuple[CaseHeader, list[ChainEvent]]:
    """A case's header and events by back-links (1 call + one ``eth_getLogs`` per block with an event)."""
    header = decode_case_header(eth_call(rpc, ledger, call_data("caseHeader(bytes32)", cid)))
    topics = ["0x" + TOPIC["EventAppended"].hex(), "0x" + cid.hex()]
    return header, walk_case(header.last_block, lambda b: one_block_logs(rpc, ledger, topics, b))


def read_case_facts(
    rpc: RpcTransport,
    *,
    ledger: str,
    accepting_hall: int,
    serial: str,
    deployment: DeploymentFacts | None = None,
    registry_log: list[RegistryFact] | None = None,
    trusted: bool = False,
) -> ChainFacts:
    """Everything :func:`ledger.verify.checks.verify_bundle` needs about one case, read by back-links.

    Requests: 1 ``eth_chainId`` + 3 views (format, suite, registry) + 1 header + one ``eth_getLogs``
    per block holding the case's events + one batch of block headers per 50 such blocks + 1
    ``lastChangeBlock`` + one ``eth_getLogs`` per block holding a registry change — independent of
    the chain's length. ``deployment`` and ``registry_log`` save re-reading them for many cases.
    ``trusted``: ``ledger`` is a trusted deployment's address (the hall's configuration, addresses the
    verifier was given), not the bundle's own; the facts say so in ``addresses_from``.
    """
    dep = deployment or read_deployment(rpc, ledger)
    if trusted:
        dep = dep.model_copy(update={"addresses_from": "deployment"})
    header, events = read_case_events(rpc, ledger, case_id(accepting_hall, serial))
    times = block_times(rpc, (e.block_number for e in events))
    registry = registry_log if registry_log is not None else read_registry_log(rpc, dep.registry)
    return case_facts(dep, accepting_hall, serial, header, events, times, registry)


def case_facts(
    dep: DeploymentFacts,
    accepting_hall: int,
    serial: str,
    header: CaseHeader,
    events: Sequence[ChainEvent],
    times: Mapping[int, int],
    registry_log: list[RegistryFact],
) -> ChainFacts:
    """The verifier's facts of one case from what was read (``times``: block → timestamp)."""
    return ChainFacts(
        header=header,
        events=[ChainEventFact.of(e, times[e.block_number]) for e in events],
        registry_log=registry_log,
        addresses_from=dep.addresses_from,
        **case_fields(dep, accepting_hall, serial),
    )


def case_fields(dep: DeploymentFacts, accepting_hall: int, serial: str) -> dict[str, Any]:
    """What the facts of either mode say of the case and its deployment (the roles' ids included)."""
    return {
        "serial": serial,
        "accepting_hall": accepting_hall,
        "case_id": "0x" + case_id(accepting_hall, serial).hex(),
        "chain_id": dep.chain_id,
        "ledger": dep.ledger,
        "registry": dep.registry,
        "format_version": dep.format_version,
        "suite": dep.suite,
        "dispute_role": ROLE_IDS["DISPUTE_OFFICER_ROLE"],
        "arbiter_role": ROLE_IDS["DISPUTE_ARBITER_ROLE"],
    }


# ------------------------------------------------------------------------------------------ Merkle mode
def _word(n: int) -> bytes:
    return n.to_bytes(32, "big")


def read_batch_header(rpc: RpcTransport, ledger: str, hall_id: int) -> tuple[bytes, int, int]:
    """``batchHeader(hallId)``: (head, batch count, block of the hall's last batch)."""
    head, count, last = _words(eth_call(rpc, ledger, call_data("batchHeader(uint32)", _word(hall_id))), 3)
    return head, _uint(count), _uint(last)


def read_batch_at(rpc: RpcTransport, ledger: str, hall_id: int, seq: int, block: int) -> BatchAnchoredEvent | None:
    """Hall ``hall_id``'s batch ``seq`` if block ``block`` holds it (one one-block ``eth_getLogs``), else None."""
    topics = ["0x" + TOPIC["BatchAnchored"].hex(), "0x" + _word(hall_id).hex(), "0x" + _word(seq).hex()]
    found = [decode_batch_anchored(lg) for lg in one_block_logs(rpc, ledger, topics, block)]
    return found[0] if found else None


def scan_batches(
    rpc: RpcTransport, ledger: str, from_block: int, to_block: int, *, max_range: int = 1000
) -> list[BatchAnchoredEvent]:
    """Every ``BatchAnchored`` log in ``[from_block, to_block]``, in chain order (ranges of at most ``max_range``)."""
    out: list[BatchAnchoredEvent] = []
    topics = ["0x" + TOPIC["BatchAnchored"].hex()]
    for lo, hi in block_ranges(from_block, to_block, max_range):
        flt = {"address": ledger, "topics": topics, "fromBlock": hex(lo), "toBlock": hex(hi)}
        res = rpc.call("eth_getLogs", [flt])
        if not isinstance(res, list):
            raise ChainError("the chain endpoint answered eth_getLogs with something that is not a list")
        out.extend(decode_batch_anchored(RawLog.from_rpc(lg)) for lg in res)
    out.sort(key=lambda b: (b.block_number, b.log_index))
    return out


class ManifestSource(Protocol):
    """Where the verifier gets batch manifests (a hall's public route, a directory): bytes, or None."""

    def __call__(self, hall_id: int, seq: int, /) -> bytes | None: ...


def read_merkle_facts(
    rpc: RpcTransport,
    *,
    ledger: str,
    accepting_hall: int,
    serial: str,
    batches: Iterable[tuple[int, int, int]],
    manifests: ManifestSource | None = None,
    max_range: int = 1000,
    deployment: DeploymentFacts | None = None,
    registry_log: list[RegistryFact] | None = None,
    trusted: bool = False,
) -> MerkleFacts:
    """Everything :func:`ledger.verify.merkle.verify_merkle_bundle` needs about one Merkle-mode case.

    ``batches``: the (hall, seq, block) the bundle's events name. Requests: the deployment's and the
    registry's as in event mode, 1 ``caseHeader``, one one-block ``eth_getLogs`` per named batch, block
    headers in batches of 50; with ``manifests``, also a forward scan of every ``BatchAnchored`` log from
    the earliest named batch's block to the head (ranges of ``max_range`` blocks) and one manifest per
    batch found: cost proportional to every hall's batches in that window (docs/verification.md).
    ``trusted``: as in :func:`read_case_facts` (``ledger`` is a trusted deployment's address).
    """
    dep = deployment or read_deployment(rpc, ledger)
    if trusted:
        dep = dep.model_copy(update={"addresses_from": "deployment"})
    cid = case_id(accepting_hall, serial)
    header = decode_case_header(eth_call(rpc, ledger, call_data("caseHeader(bytes32)", cid)))
    named = sorted(set(batches), key=lambda x: (x[2], x[0], x[1]))
    found = [b for h, q, blk in named if (b := read_batch_at(rpc, ledger, h, q, blk)) is not None]
    scanned: list[BatchAnchoredEvent] = []
    scan_range: tuple[int, int] | None = None
    if manifests is not None and named:
        head = int(str(rpc.call("eth_blockNumber", [])), 16)
        scan_range = (named[0][2], head)
        scanned = scan_batches(rpc, ledger, named[0][2], head, max_range=max_range)
    times = block_times(rpc, {b.block_number for b in [*found, *scanned]})
    registry = registry_log if registry_log is not None else read_registry_log(rpc, dep.registry)
    scan = None
    if scan_range is not None and manifests is not None:
        scan = BatchScan(
            from_block=scan_range[0],
            to_block=scan_range[1],
            batches=[BatchFact.of(b, times[b.block_number]) for b in scanned],
            manifests={
                f"{b.hall_id}/{b.seq}": (None if (m := manifests(b.hall_id, b.seq)) is None else m.hex())
                for b in scanned
            },  # fmt: skip
        )
    return MerkleFacts(
        event_header=header,
        batches=[BatchFact.of(b, times[b.block_number]) for b in found],
        registry_log=registry,
        scan=scan,
        addresses_from=dep.addresses_from,
        **case_fields(dep, accepting_hall, serial),
    )
