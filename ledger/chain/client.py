"""JSON-RPC client for the CaseLedger contracts (web3.py v8).

One :class:`ChainClient` per hall key. It keeps the key's nonce locally (one writer per key), signs
locally (coincurve backend), and turns the contracts' custom errors into :class:`ChainRuleError`
with the rule's name and arguments::

    client = ChainClient.connect("http://127.0.0.1:8545", deployment=dep, account=hall_key)
    receipt = client.open_case("TB-1", "FW-001", 350503, commitment)
    events = client.case_events(hall_id, "TB-1")      # by back-links: one-block queries

Every forward ``eth_getLogs`` (indexers, reconciliation, scans) asks at most ``max_logs_range`` blocks
(default 1,000: Besu's ``--rpc-max-logs-range``); reading one case or the registry walks the
back-links of :mod:`ledger.core.chainlog` instead, O(its events) whatever the chain's length.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import requests
from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.abi import event_abi_to_log_topic, function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.exceptions import ContractLogicError, TimeExhausted, Web3Exception, Web3RPCError
from web3.middleware import ExtraDataToPOAMiddleware

from ledger.chain.artifacts import artifact
from ledger.chain.deployment import FORMAT_VERSION, Deployment
from ledger.core import chainlog
from ledger.core.chainlog import TOPIC, RawLog, block_ranges
from ledger.core.facts import BatchAnchoredEvent, CaseHeader, CaseOpenedEvent, ChainEvent, RegistryFact
from ledger.core.hashchain import case_id
from ledger.core.stages import Stage
from ledger.core.suites import INTL, Suite
from ledger.errors import (
    ChainError,
    ChainRuleError,
    ChainUnavailableError,
    ConfigError,
    InputError,
    LedgerError,
    NotFoundError,
)

__all__ = [
    "DEFAULT_MAX_LOGS_RANGE",
    "AnchorReceipt",
    "AppendItem",
    "ChainClient",
    "HallInfo",
    "HallStatus",
    "OpenItem",
    "item_code_bytes",
]

HallStatus = {0: "none", 1: "active", 2: "suspended"}
DEFAULT_MAX_LOGS_RANGE = 1000
"""blocks per forward ``eth_getLogs`` (Besu refuses more than ``--rpc-max-logs-range``, default 1,000)"""


def item_code_bytes(code: str) -> bytes:
    try:
        raw = code.encode("ascii")
    except UnicodeEncodeError:
        raise InputError("item_code", "item_code_too_long", code=code) from None
    if len(raw) > 16:
        raise InputError("item_code", "item_code_too_long", code=code)
    return raw.ljust(16, b"\x00")


@dataclass(frozen=True)
class HallInfo:
    hall_id: int
    account: str
    district: int
    status: str
    name: str
    endpoint: str


@dataclass(frozen=True)
class OpenItem:
    serial: str
    item_code: str
    home_district: int
    commitment: bytes


@dataclass(frozen=True)
class AppendItem:
    """An event for a case of hall ``accepting_hall``; ``ref`` names the dispute a DISPUTE_RESOLVED closes."""

    accepting_hall: int
    serial: str
    stage: Stage
    commitment: bytes
    ref: int = 0


@dataclass(frozen=True)
class AnchorReceipt:
    tx_hash: str
    block_number: int
    gas_used: int
    status: int


def _error_table(abis: Sequence[list[dict[str, Any]]]) -> dict[bytes, tuple[str, list[str], list[str]]]:
    table: dict[bytes, tuple[str, list[str], list[str]]] = {}
    for abi in abis:
        for item in abi:
            if item.get("type") != "error":
                continue
            types = [_abi_type(i) for i in item["inputs"]]
            sel = function_signature_to_4byte_selector(f"{item['name']}({','.join(types)})")
            table[sel] = (item["name"], [i["name"] for i in item["inputs"]], types)
    return table


def _abi_type(inp: dict[str, Any]) -> str:
    t: str = inp["type"]
    if t.startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in inp["components"]) + ")" + t[5:]
    return t


class ChainClient:
    """A hall's (or the admin's) connection to the chain and the two contracts."""

    def __init__(
        self,
        *,
        w3: Web3,
        deployment: Deployment | None,
        account: LocalAccount | None = None,
        receipt_timeout: float = 60.0,
        max_logs_range: int = DEFAULT_MAX_LOGS_RANGE,
    ) -> None:
        if max_logs_range < 1:
            raise ConfigError("max_logs_range must be at least 1 block")
        # Proof-of-authority blocks (Clique, QBFT) carry more than 32 bytes of extraData, which web3's default
        # block validation refuses (ExtraDataLengthError); this middleware moves them aside before it looks.
        if "poa_extradata" not in w3.middleware_onion:
            w3.middleware_onion.inject(ExtraDataToPOAMiddleware, name="poa_extradata", layer=0)
        self.w3 = w3
        self.deployment = deployment
        self.account = account
        self.receipt_timeout = receipt_timeout
        self.max_logs_range = max_logs_range
        self._reg_abi = artifact("HallRegistry")["abi"]
        self._led_abi = artifact("CaseLedger")["abi"]
        self._errors = _error_table([self._reg_abi, self._led_abi])
        self._nonce_lock = threading.Lock()
        self._nonce: int | None = None
        self._chain_id: int | None = deployment.chain_id if deployment else None
        led_events = {e["name"]: e for e in self._led_abi if e.get("type") == "event"}
        self._topic_appended = "0x" + event_abi_to_log_topic(led_events["EventAppended"]).hex()
        self._topic_opened = "0x" + event_abi_to_log_topic(led_events["CaseOpened"]).hex()
        if self._topic_appended != "0x" + TOPIC["EventAppended"].hex():
            raise ConfigError("the shipped CaseLedger ABI is not format 2: run `make build`")
        if deployment:
            self.registry = w3.eth.contract(address=to_checksum_address(deployment.registry), abi=self._reg_abi)
            self.ledger = w3.eth.contract(address=to_checksum_address(deployment.ledger), abi=self._led_abi)

    @classmethod
    def connect(
        cls,
        rpc_url: str,
        *,
        deployment: Deployment | None = None,
        account: LocalAccount | None = None,
        timeout: float = 10.0,
        max_logs_range: int = DEFAULT_MAX_LOGS_RANGE,
    ) -> ChainClient:
        w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
        return cls(w3=w3, deployment=deployment, account=account, max_logs_range=max_logs_range)

    # ------------------------------------------------------------------ basics
    @property
    def address(self) -> str:
        if self.account is None:
            raise ConfigError("this chain client has no signing key")
        return str(self.account.address)

    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self._rpc(lambda: self.w3.eth.chain_id))
        return self._chain_id

    def block_number(self) -> int:
        return int(self._rpc(lambda: self.w3.eth.block_number))

    def block_gas_limit(self) -> int:
        """Gas limit of the latest block."""
        block = self.request("eth_getBlockByNumber", ["latest", False])
        return int(block["gasLimit"], 16)

    def block_time(self, block_number: int) -> int:
        block = self.request("eth_getBlockByNumber", [hex(block_number), False])
        if block is None:
            raise ChainError(f"block {block_number} is not on this chain")
        return int(block["timestamp"], 16)

    def has_code(self, address: str) -> bool:
        code = self._rpc(lambda: self.w3.eth.get_code(to_checksum_address(address)))
        return len(code) > 0

    def _rpc(self, fn: Any) -> Any:
        try:
            return fn()
        except (requests.ConnectionError, requests.Timeout, ConnectionError, OSError) as exc:
            raise ChainUnavailableError(f"the chain node is not reachable: {exc.__class__.__name__}") from exc
        except ContractLogicError as exc:
            raise self._translate(exc) from exc
        except Web3RPCError as exc:
            raise ChainError(f"the chain node answered with an error: {exc}") from exc
        except Web3Exception as exc:  # any other web3 failure (bad response, timeouts) is the chain's, said so
            raise ChainError(f"the chain node's answer could not be used: {exc.__class__.__name__}: {exc}") from exc

    def request(self, method: str, params: list[Any]) -> Any:
        """One raw JSON-RPC call without web3's result formatters (the hot paths parse hex themselves)."""

        def call() -> Any:
            resp = self.w3.provider.make_request(method, params)  # type: ignore[arg-type]
            if "error" in resp:
                err = resp["error"]
                data = err.get("data") if isinstance(err, dict) else None
                named = self.decode_revert(data) if isinstance(data, str) else None
                if named is not None:
                    raise named
                raise ChainError(f"the chain node answered {method} with an error: {err}")
            return resp.get("result")

        return self._rpc(call)

    def call(self, method: str, params: list[Any]) -> Any:
        """:class:`ledger.core.chainlog.RpcTransport`: one call."""
        return self.request(method, params)

    def batch(self, method: str, params_list: Sequence[list[Any]]) -> list[Any]:
        """:class:`ledger.core.chainlog.RpcTransport`: the same method for many parameter lists, one request each
        batch of :data:`ledger.core.chainlog.MAX_BATCH`."""

        def send(part: Sequence[list[Any]]) -> list[Any]:
            reqs = [(method, p) for p in part]
            resp = self.w3.provider.make_batch_request(reqs)  # type: ignore[attr-defined]
            if not isinstance(resp, list):
                raise ChainError(f"the chain node answered a batch of {method} with an error: {resp}")
            by_id = sorted(resp, key=lambda r: r.get("id", 0))
            out: list[Any] = []
            for r in by_id:
                if "error" in r:
                    raise ChainError(f"the chain node answered {method} with an error: {r['error']}")
                out.append(r.get("result"))
            return out

        results: list[Any] = []
        for i in range(0, len(params_list), chainlog.MAX_BATCH):
            results.extend(self._rpc(lambda i=i: send(params_list[i : i + chainlog.MAX_BATCH])))
        return results

    # ------------------------------------------------------------------ errors
    def decode_revert(self, data: str | bytes | None) -> ChainRuleError | None:
        """Name the custom error in revert ``data`` (``None`` if it is not one of ours)."""
        if data is None:
            return None
        try:
            raw = bytes.fromhex(data[2:] if data.startswith("0x") else data) if isinstance(data, str) else data
        except ValueError:
            return None  # not hex: not revert data of ours
        entry = self._errors.get(raw[:4])
        if entry is None:
            return None
        name, names, types = entry
        try:
            values = abi_decode(types, raw[4:])
        except DecodingError:
            return None  # our selector, but arguments that do not decode: not a named refusal
        args = {n: ("0x" + v.hex() if isinstance(v, bytes) else v) for n, v in zip(names, values, strict=True)}
        if "stage" in args and isinstance(args["stage"], int):
            args["stage"] = Stage(args["stage"]).name
        return ChainRuleError(name, args)

    def _translate(self, exc: ContractLogicError) -> ChainError:
        data = exc.data if isinstance(exc.data, str) else None
        named = self.decode_revert(data)
        if named is not None:
            return named
        return ChainError(f"the contract refused the call: {exc.message or exc}")

    # ------------------------------------------------------------------ sending
    def reset_nonce(self) -> None:
        with self._nonce_lock:
            self._nonce = None

    def _next_nonce(self) -> int:
        with self._nonce_lock:
            if self._nonce is None:
                addr = to_checksum_address(self.address)
                self._nonce = int(self._rpc(lambda: self.w3.eth.get_transaction_count(addr, "pending")))
            n = self._nonce
            self._nonce += 1
            return n

    def send_call(self, contract: Any, fn: str, args: Sequence[Any], *, gas: int | None = None) -> str:
        """Simulate (estimate gas, which names a custom error before anything is sent), sign and send."""
        data = contract.encode_abi(fn, args=list(args))
        tx: dict[str, Any] = {"from": self.address, "to": contract.address, "data": data, "value": 0}
        if gas is None:
            est = int(self._rpc(lambda: self.w3.eth.estimate_gas(tx)))  # type: ignore[arg-type]
            gas = est + est // 5 + 10_000
        return self.send_raw(to=contract.address, data=data, gas=gas)

    def send_raw(self, *, to: str, data: str, gas: int) -> str:
        """Sign and send one transaction with the next local nonce; returns the tx hash."""
        nonce = self._next_nonce()
        tx: dict[str, Any] = {
            "data": data,
            "value": 0,
            "gas": gas,
            "nonce": nonce,
            "chainId": self.chain_id(),
            "maxFeePerGas": 2_000_000_000,
            "maxPriorityFeePerGas": 0,
            "type": 2,
        }
        if to:
            tx["to"] = to
        signed = Account.sign_transaction(tx, self.account.key)  # type: ignore[union-attr]
        try:
            h = self._rpc(lambda: self.w3.eth.send_raw_transaction(signed.raw_transaction))
        except ChainError:
            self.reset_nonce()
            raise
        return "0x" + bytes(h).hex()

    def wait(self, tx_hash: str, *, timeout: float | None = None) -> AnchorReceipt:
        try:
            r = self._rpc(
                lambda: self.w3.eth.wait_for_transaction_receipt(
                    tx_hash,  # type: ignore[arg-type]
                    timeout=timeout or self.receipt_timeout,
                    poll_latency=0.1,
                )
            )
        except TimeExhausted as exc:
            raise ChainError(f"transaction {tx_hash} was not mined within {timeout or self.receipt_timeout}s") from exc
        rec = AnchorReceipt(
            tx_hash=tx_hash, block_number=int(r["blockNumber"]), gas_used=int(r["gasUsed"]), status=int(r["status"])
        )
        if rec.status != 1:
            raise ChainError(f"transaction {tx_hash} reverted in block {rec.block_number}")
        return rec

    def transact(self, contract: Any, fn: str, args: Sequence[Any]) -> AnchorReceipt:
        return self.wait(self.send_call(contract, fn, args))

    # ------------------------------------------------------------------ deployment
    @classmethod
    def deploy(cls, rpc_url: str, admin: LocalAccount, *, suite: Suite = INTL) -> Deployment:
        """Deploy HallRegistry (admin = ``admin``) and CaseLedger with hash suite ``suite``; wait for both."""
        client = cls.connect(rpc_url, account=admin)
        reg_art, led_art = artifact("HallRegistry"), artifact("CaseLedger")
        reg_ctor = client.w3.eth.contract(abi=reg_art["abi"], bytecode=reg_art["bytecode"])
        reg_data = reg_ctor.constructor(admin.address).data_in_transaction
        rec = client.wait(client.send_raw(to="", data=reg_data, gas=3_000_000))
        reg_addr = client._created_address(rec.tx_hash)
        led_ctor = client.w3.eth.contract(abi=led_art["abi"], bytecode=led_art["bytecode"])
        led_data = led_ctor.constructor(reg_addr, suite.bytes8).data_in_transaction
        rec2 = client.wait(client.send_raw(to="", data=led_data, gas=4_000_000))
        return Deployment(
            chain_id=client.chain_id(),
            registry=reg_addr,
            ledger=client._created_address(rec2.tx_hash),
            deployed_block=rec.block_number,
            admin=admin.address,
            genesis_hash=client.genesis_hash(),
            deployed_block_hash=client.block_hash(rec.block_number),
            format_version=FORMAT_VERSION,
            suite=suite.name,
        )

    def _created_address(self, tx_hash: str) -> str:
        r = self._rpc(lambda: self.w3.eth.get_transaction_receipt(tx_hash))  # type: ignore[arg-type]
        return str(r["contractAddress"])

    def genesis_hash(self) -> str:
        return self.block_hash(0) or ""

    def block_hash(self, number: int) -> str | None:
        """The hash of block ``number`` (lower case), or ``None`` while the chain has no such block."""
        block = self.request("eth_getBlockByNumber", [hex(number), False])
        return None if block is None else str(block["hash"]).lower()

    def deployment_alive(self) -> bool:
        """The chain is the one deployed to (chain id, the deployment's block) and both contracts have code there."""
        d = self._dep()
        if int(self.request("eth_chainId", []), 16) != d.chain_id:
            return False
        if d.deployed_block_hash is not None:
            if self.block_hash(d.deployed_block) != d.deployed_block_hash.lower():
                return False
        elif d.genesis_hash is not None and self.genesis_hash() != d.genesis_hash.lower():
            return False
        return self.has_code(d.registry) and self.has_code(d.ledger)

    def check_deployment(self) -> None:
        """Raise :class:`ConfigError` (one sentence) unless the chain serves this deployment, format 2, its suite."""
        d = self._dep()
        if self.chain_id() != d.chain_id:
            raise ConfigError(f"the chain node serves chain {self.chain_id()}, the deployment is on chain {d.chain_id}")
        if not (self.has_code(d.registry) and self.has_code(d.ledger)):
            raise ConfigError(
                f"no contracts at {d.ledger} on this chain: the deployment was lost (development: `caseledger reset`)"
            )
        try:
            facts = chainlog.read_deployment(self, d.ledger)
        except LedgerError as exc:
            raise ConfigError(f"the ledger at {d.ledger} is not a format-2 CaseLedger ({exc}); redeploy") from exc
        if facts.suite != d.suite or facts.registry.lower() != d.registry.lower():
            raise ConfigError(
                f"the ledger at {d.ledger} has suite {facts.suite} and registry {facts.registry}, "
                f"the deployment file says {d.suite} and {d.registry}"
            )

    def _dep(self) -> Deployment:
        if self.deployment is None:
            raise ConfigError("no deployment loaded: run `caseledger deploy` first")
        return self.deployment

    # ------------------------------------------------------------------ registry
    def register_hall(self, account: str, district: int, name: str, endpoint: str) -> int:
        self._dep()
        addr = to_checksum_address(account)
        rec = self.transact(self.registry, "registerHall", [addr, district, name, endpoint])
        # A chain with short reorganisations (Clique) may replace the receipt's block right after it was seen:
        # the registration is then back in the pool and mined again a block or two later. Wait for it.
        deadline = time.monotonic() + self.receipt_timeout
        while True:
            hall_id = int(self._rpc(lambda: self.registry.functions.hallIdOf(addr).call()))
            if hall_id:
                return hall_id
            if time.monotonic() > deadline:
                raise ChainError(
                    f"the registration of {addr} (tx {rec.tx_hash}) was mined and then left the chain, and is "
                    f"not back after {self.receipt_timeout:.0f}s"
                )
            time.sleep(0.2)

    def suspend_hall(self, hall_id: int) -> AnchorReceipt:
        return self.transact(self.registry, "suspendHall", [hall_id])

    def reactivate_hall(self, hall_id: int) -> AnchorReceipt:
        return self.transact(self.registry, "reactivateHall", [hall_id])

    def rotate_hall_key(self, hall_id: int, new_account: str) -> AnchorReceipt:
        return self.transact(self.registry, "rotateHallKey", [hall_id, to_checksum_address(new_account)])

    def set_hall_endpoint(self, hall_id: int, endpoint: str) -> AnchorReceipt:
        return self.transact(self.registry, "setHallEndpoint", [hall_id, endpoint])

    def grant_role(self, role_name: str, account: str) -> AnchorReceipt:
        role = self._rpc(lambda: getattr(self.registry.functions, role_name)().call())
        return self.transact(self.registry, "grantRole", [role, to_checksum_address(account)])

    def has_role(self, role_name: str, account: str) -> bool:
        role = self._rpc(lambda: getattr(self.registry.functions, role_name)().call())
        return bool(self._rpc(lambda: self.registry.functions.hasRole(role, to_checksum_address(account)).call()))

    def hall(self, hall_id: int) -> HallInfo:
        self._dep()
        if hall_id < 1 or hall_id > self.hall_count():
            raise NotFoundError("hall_not_registered", hall=hall_id)
        h = self._rpc(lambda: self.registry.functions.hall(hall_id).call())
        return HallInfo(hall_id, h[0], int(h[1]), HallStatus[int(h[2])], h[3], h[4])

    def hall_of(self, account: str) -> HallInfo | None:
        hid = int(self._rpc(lambda: self.registry.functions.hallIdOf(to_checksum_address(account)).call()))
        return self.hall(hid) if hid else None

    def hall_count(self) -> int:
        return int(self._rpc(lambda: self.registry.functions.hallCount().call()))

    def halls(self) -> list[HallInfo]:
        return [self.hall(i) for i in range(1, self.hall_count() + 1)]

    def fund(self, to: str, wei: int) -> AnchorReceipt:
        """Send ``wei`` to ``to`` (dev chains only: production runs with gas price 0)."""
        nonce = self._next_nonce()
        tx = {
            "to": to_checksum_address(to),
            "value": wei,
            "gas": 21_000,
            "nonce": nonce,
            "chainId": self.chain_id(),
            "maxFeePerGas": 2_000_000_000,
            "maxPriorityFeePerGas": 0,
            "type": 2,
        }
        signed = Account.sign_transaction(tx, self.account.key)  # type: ignore[union-attr]
        h = self._rpc(lambda: self.w3.eth.send_raw_transaction(signed.raw_transaction))
        return self.wait("0x" + bytes(h).hex())

    # ------------------------------------------------------------------ cases
    def open_case(self, serial: str, item_code: str, home_district: int, commitment: bytes) -> AnchorReceipt:
        self._dep()
        return self.transact(self.ledger, "openCase", [serial, item_code_bytes(item_code), home_district, commitment])

    def append_event(
        self, accepting_hall: int, serial: str, stage: Stage, commitment: bytes, ref: int = 0
    ) -> AnchorReceipt:
        self._dep()
        cid = case_id(accepting_hall, serial)
        return self.transact(self.ledger, "appendEvent", [cid, int(stage), commitment, ref])

    def anchor_root(self, root: bytes, count: int) -> AnchorReceipt:
        """Merkle-root anchoring: ``anchorRoot(root, count)`` for this hall."""
        self._dep()
        return self.transact(self.ledger, "anchorRoot", [root, count])

    def batch_calldata(self, opens: Sequence[OpenItem], appends: Sequence[AppendItem]) -> str:
        """ABI-encoded ``anchorBatch(opens, appends)`` (eth-abi directly: web3's encoder is slow for big batches)."""
        o = [(x.serial, item_code_bytes(x.item_code), x.home_district, x.commitment) for x in opens]
        a = [(case_id(x.accepting_hall, x.serial), int(x.stage), x.commitment, x.ref) for x in appends]
        return "0x" + (_ANCHOR_BATCH_SELECTOR + abi_encode(_ANCHOR_BATCH_TYPES, [o, a])).hex()

    def send_batch(self, opens: Sequence[OpenItem], appends: Sequence[AppendItem], *, gas: int | None = None) -> str:
        """Send one ``anchorBatch`` transaction (simulated first, so a refused item is named)."""
        self._dep()
        data = self.batch_calldata(opens, appends)
        if gas is None:
            tx = {"from": self.address, "to": self.ledger.address, "data": data}
            est = int(self._rpc(lambda: self.w3.eth.estimate_gas(tx)))  # type: ignore[arg-type]
            gas = est + est // 5 + 20_000
        return self.send_raw(to=self.ledger.address, data=data, gas=gas)

    def estimate_batch(self, opens: Sequence[OpenItem], appends: Sequence[AppendItem]) -> int:
        """Gas the batch needs now; raises :class:`ChainRuleError` naming the refused item's rule."""
        tx = {"from": self.address, "to": self.ledger.address, "data": self.batch_calldata(opens, appends)}
        return int(self._rpc(lambda: self.w3.eth.estimate_gas(tx)))  # type: ignore[arg-type]

    def nonces(self) -> tuple[int, int]:
        """(mined, pending) transaction counts of this key: equal when nothing is in the node's pool."""
        addr = to_checksum_address(self.address)
        latest = int(self._rpc(lambda: self.w3.eth.get_transaction_count(addr, "latest")))
        pending = int(self._rpc(lambda: self.w3.eth.get_transaction_count(addr, "pending")))
        return latest, pending

    def receipt(self, tx_hash: str) -> dict[str, Any] | None:
        """The receipt if the transaction is mined, else ``None`` (does not wait).

        ``status``, ``blockNumber`` and ``gasUsed`` as ints, ``logs`` decoded to bytes like web3's.
        """
        r = self.request("eth_getTransactionReceipt", [tx_hash])
        if r is None:
            return None
        return {
            "status": int(r["status"], 16),
            "blockNumber": int(r["blockNumber"], 16),
            "gasUsed": int(r["gasUsed"], 16),
            "blockHash": str(r["blockHash"]).lower(),
            "logs": [RawLog.from_rpc(lg) for lg in r["logs"]],
        }

    def anchor_batch(self, opens: Sequence[OpenItem], appends: Sequence[AppendItem]) -> AnchorReceipt:
        return self.wait(self.send_batch(opens, appends))

    def case_header(self, accepting_hall: int, serial: str) -> CaseHeader:
        """``caseHeader`` of hall ``accepting_hall``'s case ``serial`` (phase ``NONE`` if unknown)."""
        dep = self._dep()
        cid = case_id(accepting_hall, serial)
        return chainlog.decode_case_header(
            chainlog.eth_call(self, dep.ledger, chainlog.call_data("caseHeader(bytes32)", cid))
        )

    # ------------------------------------------------------------------ logs
    def _logs(self, address: str, topics: list[Any], from_block: int, to_block: int) -> list[RawLog]:
        """Logs of ``address`` in ``[from_block, to_block]``, asked in ranges of at most ``max_logs_range`` blocks."""
        out: list[RawLog] = []
        for lo, hi in block_ranges(from_block, to_block, self.max_logs_range):
            flt = {"address": address, "topics": topics, "fromBlock": hex(lo), "toBlock": hex(hi)}
            res = self.request("eth_getLogs", [flt])
            out.extend(RawLog.from_rpc(lg) for lg in res)
        return out

    def decode_appended_log(self, log: RawLog) -> ChainEvent | None:
        """The ``EventAppended`` in a receipt or filter log, or ``None`` for any other log."""
        if not log.topics or log.topics[0] != TOPIC["EventAppended"]:
            return None
        if log.address.lower() != self._dep().ledger.lower():
            return None
        return chainlog.decode_event_appended(log)

    def case_events(self, accepting_hall: int, serial: str) -> list[ChainEvent]:
        """Every ``EventAppended`` of the case, in index order, by back-links (one-block queries)."""
        dep = self._dep()
        return chainlog.read_case_events(self, dep.ledger, case_id(accepting_hall, serial))[1]

    def registry_log(self) -> list[RegistryFact]:
        """The registry's membership and role history in chain order, by back-links."""
        return chainlog.read_registry_log(self, self._dep().registry)

    def hall_events(self, hall_id: int, from_block: int, to_block: int) -> list[ChainEvent]:
        """``EventAppended`` logs written by hall ``hall_id`` (any of its keys) in a block range (bounded queries)."""
        topic = "0x" + hall_id.to_bytes(32, "big").hex()
        logs = self._logs(self._dep().ledger, [self._topic_appended, None, topic], from_block, to_block)
        return [chainlog.decode_event_appended(lg) for lg in logs]

    def hall_opened(self, hall_id: int, from_block: int, to_block: int) -> list[CaseOpenedEvent]:
        """``CaseOpened`` logs of cases accepted by hall ``hall_id`` in a block range."""
        topic = "0x" + hall_id.to_bytes(32, "big").hex()
        logs = self._logs(self._dep().ledger, [self._topic_opened, None, topic], from_block, to_block)
        return [chainlog.decode_case_opened(lg) for lg in logs]

    def events_in_range(self, from_block: int, to_block: int) -> tuple[list[CaseOpenedEvent], list[ChainEvent]]:
        """All ``CaseOpened`` and ``EventAppended`` logs in ``[from_block, to_block]`` (bounded queries)."""
        logs = self._logs(self._dep().ledger, [[self._topic_opened, self._topic_appended]], from_block, to_block)
        opened, appended = [], []
        for lg in logs:
            if lg.topics[0] == TOPIC["CaseOpened"]:
                opened.append(chainlog.decode_case_opened(lg))
            else:
                appended.append(chainlog.decode_event_appended(lg))
        return opened, appended

    # ------------------------------------------------------------------ Merkle mode
    def root_calldata(self, seq: int, root: bytes, count: int) -> str:
        """ABI-encoded ``anchorRootAt(seq, root, count)``."""
        return "0x" + (_ANCHOR_ROOT_AT_SELECTOR + abi_encode(["uint64", "bytes32", "uint32"], [seq, root, count])).hex()

    def send_root(self, seq: int, root: bytes, count: int, *, gas: int = 120_000) -> str:
        """Send ``anchorRootAt(seq, root, count)`` without simulating it (a pipelined batch cannot be simulated
        before the one it follows is mined); the contract refuses a wrong ``seq``, so a resend never doubles."""
        return self.send_raw(to=self._dep().ledger, data=self.root_calldata(seq, root, count), gas=gas)

    def call_root(self, seq: int, root: bytes, count: int) -> None:
        """Simulate ``anchorRootAt`` now; raises :class:`ChainRuleError` naming why it would be refused."""
        self.request(
            "eth_call", [{"from": self.address, "to": self._dep().ledger, "data": self.root_calldata(seq, root, count)}]
        )

    def batch_header(self, hall_id: int) -> tuple[bytes, int, int]:
        """``batchHeader(hallId)``: (head, batch count, block of the last batch)."""
        return chainlog.read_batch_header(self, self._dep().ledger, hall_id)

    def decode_batch_log(self, log: RawLog) -> BatchAnchoredEvent | None:
        """The ``BatchAnchored`` in a receipt or filter log of this ledger, or ``None``."""
        if not log.topics or log.topics[0] != TOPIC["BatchAnchored"]:
            return None
        if log.address.lower() != self._dep().ledger.lower():
            return None
        return chainlog.decode_batch_anchored(log)

    def batch_at(self, hall_id: int, seq: int, block: int) -> BatchAnchoredEvent | None:
        """Hall ``hall_id``'s batch ``seq`` if block ``block`` holds it (one one-block query)."""
        return chainlog.read_batch_at(self, self._dep().ledger, hall_id, seq, block)

    def batches_in_range(
        self, from_block: int, to_block: int, *, hall_id: int | None = None
    ) -> list[BatchAnchoredEvent]:
        """``BatchAnchored`` logs in a block range (of one hall, or all), chain order, bounded queries."""
        topics: list[Any] = ["0x" + TOPIC["BatchAnchored"].hex()]
        if hall_id is not None:
            topics.append("0x" + hall_id.to_bytes(32, "big").hex())
        logs = self._logs(self._dep().ledger, topics, from_block, to_block)
        out = [chainlog.decode_batch_anchored(lg) for lg in logs]
        out.sort(key=lambda b: (b.block_number, b.log_index))
        return out

    def raw_transaction_inputs(self, from_block: int, to_block: int) -> list[bytes]:
        """Calldata of every transaction to the contracts in a block range (used by privacy tests)."""
        out: list[bytes] = []
        targets = {self._dep().ledger.lower(), self._dep().registry.lower()}
        for n in range(from_block, to_block + 1):
            block = self._rpc(lambda n=n: self.w3.eth.get_block(n, full_transactions=True))
            for tx in block["transactions"]:
                if tx["to"] and str(tx["to"]).lower() in targets:
                    out.append(bytes(tx["input"]))
        return out

    def raw_logs(self, from_block: int, to_block: int) -> list[bytes]:
        """Topics + data bytes of every log of both contracts in a block range (bounded queries)."""
        dep = self._dep()
        logs = self._logs(dep.ledger, [], from_block, to_block) + self._logs(dep.registry, [], from_block, to_block)
        return [b"".join(lg.topics) + lg.data for lg in logs]


_ANCHOR_BATCH_TYPES = ["(string,bytes16,uint32,bytes32)[]", "(bytes32,uint8,bytes32,uint32)[]"]
_ANCHOR_BATCH_SELECTOR = function_signature_to_4byte_selector(f"anchorBatch({','.join(_ANCHOR_BATCH_TYPES)})")
_ANCHOR_ROOT_AT_SELECTOR = function_signature_to_4byte_selector("anchorRootAt(uint64,bytes32,uint32)")


def wait_for_rpc(rpc_url: str, *, timeout: float = 20.0) -> None:
    """Block until the JSON-RPC endpoint answers, or raise :class:`ChainUnavailableError`."""
    deadline = time.monotonic() + timeout
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 2}))
    while True:
        try:
            _ = w3.eth.block_number
            return
        except (requests.RequestException, OSError, Web3Exception) as exc:
            if time.monotonic() > deadline:
                raise ChainUnavailableError(f"no chain node answered at {rpc_url} within {timeout:.0f}s") from exc
            time.sleep(0.2)
