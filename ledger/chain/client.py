"""JSON-RPC client for the CaseLedger contracts (web3.py v8).

One :class:`ChainClient` per hall key. It keeps the key's nonce locally (one writer per key), signs
locally (coincurve backend), and turns the contracts' custom errors into :class:`ChainRuleError`
with the rule's name and arguments::

    client = ChainClient.connect("http://127.0.0.1:8545", deployment=dep, account=hall_key)
    receipt = client.open_case("TB-1", "FW-001", 350503, commitment)
    events = client.case_events("TB-1")
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
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.abi import event_abi_to_log_topic, function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.exceptions import ContractLogicError, TimeExhausted, Web3Exception, Web3RPCError

from ledger.chain.artifacts import artifact
from ledger.chain.deployment import Deployment
from ledger.core.facts import CaseOpenedEvent, ChainEvent
from ledger.core.hashchain import case_id
from ledger.core.stages import Stage
from ledger.errors import ChainError, ChainRuleError, ChainUnavailableError, ConfigError, NotFoundError

__all__ = [
    "AnchorReceipt",
    "AppendItem",
    "ChainClient",
    "HallInfo",
    "HallStatus",
    "OpenItem",
    "item_code_bytes",
]

HallStatus = {0: "none", 1: "active", 2: "suspended"}


def item_code_bytes(code: str) -> bytes:
    raw = code.encode("ascii")
    if len(raw) > 16:
        raise ValueError(f"service item code {code!r} is longer than 16 ASCII characters")
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
    serial: str
    stage: Stage
    commitment: bytes


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
    ) -> None:
        self.w3 = w3
        self.deployment = deployment
        self.account = account
        self.receipt_timeout = receipt_timeout
        self._reg_abi = artifact("HallRegistry")["abi"]
        self._led_abi = artifact("CaseLedger")["abi"]
        self._errors = _error_table([self._reg_abi, self._led_abi])
        self._nonce_lock = threading.Lock()
        self._nonce: int | None = None
        self._chain_id: int | None = deployment.chain_id if deployment else None
        led_events = {e["name"]: e for e in self._led_abi if e.get("type") == "event"}
        self._topic_appended = "0x" + event_abi_to_log_topic(led_events["EventAppended"]).hex()
        self._topic_opened = "0x" + event_abi_to_log_topic(led_events["CaseOpened"]).hex()
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
    ) -> ChainClient:
        w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
        return cls(w3=w3, deployment=deployment, account=account)

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

    # ------------------------------------------------------------------ errors
    def decode_revert(self, data: str | bytes | None) -> ChainRuleError | None:
        """Name the custom error in revert ``data`` (``None`` if it is not one of ours)."""
        if data is None:
            return None
        raw = bytes.fromhex(data[2:] if data.startswith("0x") else data) if isinstance(data, str) else data
        entry = self._errors.get(raw[:4])
        if entry is None:
            return None
        name, names, types = entry
        values = abi_decode(types, raw[4:])
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
    def deploy(cls, rpc_url: str, admin: LocalAccount) -> Deployment:
        """Deploy HallRegistry (admin = ``admin``) and CaseLedger; wait for both."""
        client = cls.connect(rpc_url, account=admin)
        reg_art, led_art = artifact("HallRegistry"), artifact("CaseLedger")
        reg_ctor = client.w3.eth.contract(abi=reg_art["abi"], bytecode=reg_art["bytecode"])
        reg_data = reg_ctor.constructor(admin.address).data_in_transaction
        rec = client.wait(client.send_raw(to="", data=reg_data, gas=3_000_000))
        reg_addr = client._created_address(rec.tx_hash)
        led_ctor = client.w3.eth.contract(abi=led_art["abi"], bytecode=led_art["bytecode"])
        led_data = led_ctor.constructor(reg_addr).data_in_transaction
        rec2 = client.wait(client.send_raw(to="", data=led_data, gas=4_000_000))
        return Deployment(
            chain_id=client.chain_id(),
            registry=reg_addr,
            ledger=client._created_address(rec2.tx_hash),
            deployed_block=rec.block_number,
            admin=admin.address,
            genesis_hash=client.genesis_hash(),
        )

    def _created_address(self, tx_hash: str) -> str:
        r = self._rpc(lambda: self.w3.eth.get_transaction_receipt(tx_hash))  # type: ignore[arg-type]
        return str(r["contractAddress"])

    def genesis_hash(self) -> str:
        block = self.request("eth_getBlockByNumber", ["0x0", False])
        return str(block["hash"]).lower()

    def deployment_alive(self) -> bool:
        """The chain is the one deployed to (chain id, genesis) and both contracts have code there."""
        d = self._dep()
        if int(self.request("eth_chainId", []), 16) != d.chain_id:
            return False
        if d.genesis_hash is not None and self.genesis_hash() != d.genesis_hash.lower():
            return False
        return self.has_code(d.registry) and self.has_code(d.ledger)

    def _dep(self) -> Deployment:
        if self.deployment is None:
            raise ConfigError("no deployment loaded: run `caseledger deploy` first")
        return self.deployment

    # ------------------------------------------------------------------ registry
    def register_hall(self, account: str, district: int, name: str, endpoint: str) -> int:
        self._dep()
        self.transact(self.registry, "registerHall", [to_checksum_address(account), district, name, endpoint])
        return int(self.registry.functions.hallIdOf(to_checksum_address(account)).call())

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
            raise NotFoundError(f"no hall with id {hall_id} is registered")
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

    def append_event(self, serial: str, stage: Stage, commitment: bytes) -> AnchorReceipt:
        self._dep()
        return self.transact(self.ledger, "appendEvent", [case_id(serial), int(stage), commitment])

    def batch_calldata(self, opens: Sequence[OpenItem], appends: Sequence[AppendItem]) -> str:
        """ABI-encoded ``anchorBatch(opens, appends)`` (eth-abi directly: web3's encoder is slow for big batches)."""
        o = [(x.serial, item_code_bytes(x.item_code), x.home_district, x.commitment) for x in opens]
        a = [(case_id(x.serial), int(x.stage), x.commitment) for x in appends]
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
            "logs": [_raw_log(lg) for lg in r["logs"]],
        }

    def anchor_batch(self, opens: Sequence[OpenItem], appends: Sequence[AppendItem]) -> AnchorReceipt:
        return self.wait(self.send_batch(opens, appends))

    def case_header(self, serial: str) -> dict[str, Any]:
        dep = self._dep()
        data = "0x" + (_CASE_HEADER_SELECTOR + case_id(serial)).hex()
        raw = self.request("eth_call", [{"to": dep.ledger, "data": data}, "latest"])
        h = abi_decode(["bytes32", "uint32", "uint8", "uint8", "uint32", "uint32", "bytes16"], bytes.fromhex(raw[2:]))
        return {
            "head": bytes(h[0]),
            "event_count": int(h[1]),
            "phase": int(h[2]),
            "open_disputes": int(h[3]),
            "home_district": int(h[4]),
            "accepting_hall": int(h[5]),
            "item_code": bytes(h[6]).rstrip(b"\x00").decode("ascii", "replace"),
        }

    # ------------------------------------------------------------------ logs
    def _logs(self, topics: list[Any], from_block: int, to_block: int | str) -> list[Any]:
        flt = {
            "address": self.ledger.address,
            "topics": topics,
            "fromBlock": hex(from_block),
            "toBlock": to_block if isinstance(to_block, str) else hex(to_block),
        }
        return [_raw_log(lg) for lg in self.request("eth_getLogs", [flt])]

    def decode_appended_log(self, log: Any) -> ChainEvent | None:
        """The ``EventAppended`` in a receipt or filter log, or ``None`` for any other log."""
        if "0x" + bytes(log["topics"][0]).hex() != self._topic_appended:
            return None
        if str(log["address"]).lower() != self._dep().ledger.lower():
            return None
        return self._decode_appended(log)

    def _decode_appended(self, log: Any) -> ChainEvent:
        writer, index, commitment, head = abi_decode(["address", "uint32", "bytes32", "bytes32"], bytes(log["data"]))
        t = log["topics"]
        return ChainEvent(
            case_id="0x" + bytes(t[1]).hex(),
            hall_id=int.from_bytes(bytes(t[2]), "big"),
            stage=Stage(int.from_bytes(bytes(t[3]), "big")),
            writer=to_checksum_address(writer),
            index=int(index),
            commitment=bytes(commitment),
            head=bytes(head),
            block_number=int(log["blockNumber"]),
            tx_hash="0x" + bytes(log["transactionHash"]).hex(),
            log_index=int(log["logIndex"]),
        )

    def _decode_opened(self, log: Any) -> CaseOpenedEvent:
        serial, item = abi_decode(["string", "bytes16"], bytes(log["data"]))
        t = log["topics"]
        return CaseOpenedEvent(
            case_id="0x" + bytes(t[1]).hex(),
            serial=serial,
            accepting_hall=int.from_bytes(bytes(t[2]), "big"),
            home_district=int.from_bytes(bytes(t[3]), "big"),
            item_code=bytes(item).rstrip(b"\x00").decode("ascii", "replace"),
            block_number=int(log["blockNumber"]),
            tx_hash="0x" + bytes(log["transactionHash"]).hex(),
        )

    def case_events(self, serial: str, *, from_block: int | None = None) -> list[ChainEvent]:
        """Every ``EventAppended`` of the case, in chain order."""
        start = self._dep().deployed_block if from_block is None else from_block
        cid = "0x" + case_id(serial).hex()
        logs = self._logs([self._topic_appended, cid], start, "latest")
        events = [self._decode_appended(lg) for lg in logs]
        events.sort(key=lambda e: e.index)
        return events

    def registry_raw_logs(self, from_block: int) -> list[dict[str, Any]]:
        """Every log of the HallRegistry from ``from_block`` on (bytes topics/data, int positions)."""
        flt = {"address": self._dep().registry, "fromBlock": hex(from_block), "toBlock": "latest"}
        return [_raw_log(lg) for lg in self.request("eth_getLogs", [flt])]

    def hall_events(self, hall_id: int, from_block: int, to_block: int) -> list[ChainEvent]:
        """``EventAppended`` logs written by hall ``hall_id`` (any of its keys) in a block range."""
        topic = "0x" + hall_id.to_bytes(32, "big").hex()
        return [
            self._decode_appended(lg) for lg in self._logs([self._topic_appended, None, topic], from_block, to_block)
        ]

    def hall_opened(self, hall_id: int, from_block: int, to_block: int) -> list[CaseOpenedEvent]:
        """``CaseOpened`` logs of cases accepted by hall ``hall_id`` in a block range."""
        topic = "0x" + hall_id.to_bytes(32, "big").hex()
        return [self._decode_opened(lg) for lg in self._logs([self._topic_opened, None, topic], from_block, to_block)]

    def events_in_range(self, from_block: int, to_block: int) -> tuple[list[CaseOpenedEvent], list[ChainEvent]]:
        """All ``CaseOpened`` and ``EventAppended`` logs in ``[from_block, to_block]`` (for indexers)."""
        logs = self._logs([[self._topic_opened, self._topic_appended]], from_block, to_block)
        opened, appended = [], []
        for lg in logs:
            topic0 = "0x" + bytes(lg["topics"][0]).hex()
            if topic0 == self._topic_opened:
                opened.append(self._decode_opened(lg))
            else:
                appended.append(self._decode_appended(lg))
        return opened, appended

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
        """Topics + data bytes of every log of the ledger contract in a block range."""
        flt = {"address": self.ledger.address, "fromBlock": from_block, "toBlock": to_block}
        logs = self._rpc(lambda: self.w3.eth.get_logs(flt))  # type: ignore[arg-type]
        return [b"".join(bytes(t) for t in lg["topics"]) + bytes(lg["data"]) for lg in logs]


_CASE_HEADER_SELECTOR = function_signature_to_4byte_selector("caseHeader(bytes32)")
_ANCHOR_BATCH_TYPES = ["(string,bytes16,uint32,bytes32)[]", "(bytes32,uint8,bytes32)[]"]
_ANCHOR_BATCH_SELECTOR = function_signature_to_4byte_selector(f"anchorBatch({','.join(_ANCHOR_BATCH_TYPES)})")


def _raw_log(lg: dict[str, Any]) -> dict[str, Any]:
    """A JSON-RPC log with hex fields turned into bytes/ints (the shape the decoders expect)."""
    return {
        "address": lg["address"],
        "topics": [bytes.fromhex(t[2:]) for t in lg["topics"]],
        "data": bytes.fromhex(lg["data"][2:]),
        "blockNumber": int(lg["blockNumber"], 16),
        "logIndex": int(lg["logIndex"], 16),
        "transactionHash": bytes.fromhex(lg["transactionHash"][2:]),
    }


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
