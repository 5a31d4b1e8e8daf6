"""A Hyperledger Besu QBFT network for the consortium's districts: keys, genesis, node configs.

    >>> net = plan_network([350502, 350503, 350582, 350583], chain_id=1337, block_period=2)
    >>> net.validators                     # ascending validator addresses, as Besu's docs ask
    >>> net.genesis()["extraData"]         # RLP([vanity, validators, no vote, round 0, no seals])
    >>> net.write(Path("network"))         # the whole tree, one directory per district

What this produces (``caseledger network init`` writes it):

* one secp256k1 **node key** per district. The node key is also the QBFT validator key: the
  validator address is the Ethereum address of the node's public key, and the enode id is the
  uncompressed public key without its ``04`` prefix (128 hex digits);
* ``genesis.json`` for QBFT with *block header validator selection*: ``config.qbft``
  (``blockperiodseconds``, ``epochlength``, ``requesttimeoutseconds``), a free-gas setup as Besu
  documents it (``zeroBaseFee`` in the genesis, ``min-gas-price=0`` on every node) and the initial
  validators in ``extraData``;
* per node: ``config.toml`` (Besu's option names without the leading dashes), a
  ``permissions_config.toml`` with the consortium's enode URLs as ``nodes-allowlist``, and the
  matching CaseLedger hall settings (``caseledger.env``) pointing the hall at its own node's
  JSON-RPC on 127.0.0.1.

Membership. Besu's *onchain* permissioning (node and account allowlist contracts) is deprecated
since Besu 24.12 and removed in later releases, so it is not used here. Who belongs to the
consortium is enforced in two places instead: CaseLedger's ``HallRegistry`` contract (only
registered halls may write case events) and Besu's *local* node allowlists
(``--permissions-nodes-config-file-enabled``), which make every node refuse peers whose enode is
not listed. Validators change by QBFT vote (``qbft_proposeValidatorVote``); see
``docs/operations.md``.

The ``extraData`` encoding follows Besu's ``QbftExtraDataCodec``
(``consensus/qbft/src/main/java/org/hyperledger/besu/consensus/qbft/QbftExtraDataCodec.java``):
``RLP([vanity (32 bytes), [validator addresses], vote ([] when none), round (RLP scalar), [seals]])``;
the genesis block carries 32 zero bytes of vanity, no vote, round 0 (encoded ``0x80``) and no seals,
which is what ``besu rlp encode --type=QBFT_EXTRA_DATA`` prints.
"""

from __future__ import annotations

import ipaddress
import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rlp  # type: ignore[import-untyped]
from coincurve import PrivateKey
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from ledger.errors import ConfigError, InputError
from ledger.hall.catalogue import load_catalogue

__all__ = [
    "DEFAULT_BALANCE_WEI",
    "DEFAULT_GAS_LIMIT",
    "DEFAULT_P2P_PORT",
    "DEFAULT_RPC_PORT",
    "ISTANBUL_MIX_HASH",
    "RPC_APIS",
    "BesuNetwork",
    "BesuNode",
    "NodeKey",
    "QbftExtraData",
    "decode_qbft_extra_data",
    "encode_qbft_extra_data",
    "parse_districts",
    "plan_network",
    "required_quorum",
]

#: ``mixHash`` Besu requires in IBFT 2.0 / QBFT genesis files ("Istanbul block identification").
ISTANBUL_MIX_HASH = "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365"
#: 30,000,000 gas per block.
DEFAULT_GAS_LIMIT = 0x1C9C380
#: JSON-RPC limits written into every node's ``config.toml`` (``--rpc-max-logs-range``,
#: ``--rpc-http-max-batch-size``, ``--rpc-http-max-request-content-length``); the test fixture
#: ``tests/support/besu_proxy.py`` enforces the same values in front of anvil.
RPC_MAX_LOGS_RANGE = 1000
RPC_MAX_BATCH_SIZE = 1024
RPC_MAX_REQUEST_CONTENT_LENGTH = 5 * 1024 * 1024

#: Besu's default ``--p2p-port`` and ``--rpc-http-port``.
DEFAULT_P2P_PORT = 30303
DEFAULT_RPC_PORT = 8545
#: JSON-RPC APIs a node exposes (to its own hall, on 127.0.0.1 only). QBFT is for validator votes.
RPC_APIS = ("ETH", "NET", "QBFT", "WEB3")
#: Balance given to each ``fund`` account in the genesis ``alloc`` (10^9 ether; gas is free, so it
#: only has to cover Besu's up-front check ``gas limit x max fee per gas``, and it is never spent).
DEFAULT_BALANCE_WEI = 10**27

_VANITY_LENGTH = 32
_ADDRESS_LENGTH = 20


# ---------------------------------------------------------------------------------------------
# QBFT extraData


@dataclass(frozen=True)
class QbftExtraData:
    """The decoded QBFT ``extraData`` of a block header (genesis: only ``validators`` is set)."""

    vanity: bytes
    validators: tuple[str, ...]
    vote: tuple[str, bool] | None
    round: int
    seals: tuple[bytes, ...]


def _address_bytes(address: str, field: str = "validators") -> bytes:
    text = address.lower().removeprefix("0x")
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise InputError(field, f"{address!r} is not a hex address") from None
    if len(raw) != _ADDRESS_LENGTH:
        raise InputError(field, f"{address!r} is not a 20-byte address")
    return raw


def encode_qbft_extra_data(validators: Iterable[str], *, vanity: bytes = bytes(_VANITY_LENGTH)) -> str:
    """Genesis ``extraData`` for QBFT with block-header validator selection, as ``0x``-hex.

    ``RLP([vanity, [validators], [] (no vote), 0 (round), [] (no seals)])``, byte for byte what
    ``besu rlp encode --type=QBFT_EXTRA_DATA`` prints for the same JSON list. Validators are
    encoded in the order given (Besu's encoder does not sort); :func:`plan_network` sorts them
    ascending, as Besu's documentation asks for ``toEncode.json``.
    """
    if len(vanity) != _VANITY_LENGTH:
        raise InputError("vanity", f"must be {_VANITY_LENGTH} bytes, not {len(vanity)}")
    addresses = [_address_bytes(a) for a in validators]
    if len(set(addresses)) != len(addresses):
        raise InputError("validators", "the same validator address is listed twice")
    encoded: bytes = rlp.encode([vanity, addresses, [], b"", []])
    return "0x" + encoded.hex()


def _as_bytes(item: object, what: str) -> bytes:
    if not isinstance(item, bytes):
        raise InputError("extraData", f"{what} must be an RLP string, not a list")
    return item


def _as_list(item: object, what: str) -> list[object]:
    if not isinstance(item, list):
        raise InputError("extraData", f"{what} must be an RLP list")
    return item


def decode_qbft_extra_data(extra_data: str | bytes) -> QbftExtraData:
    """Parse QBFT ``extraData`` (hex or raw bytes), mirroring ``QbftExtraDataCodec.decodeRaw``."""
    raw = bytes.fromhex(extra_data.removeprefix("0x")) if isinstance(extra_data, str) else extra_data
    try:
        items = rlp.decode(raw)
    except rlp.exceptions.DecodingError as exc:
        raise InputError("extraData", f"not valid RLP: {exc}") from None
    top = _as_list(items, "extraData")
    if len(top) != 5:
        raise InputError("extraData", f"QBFT extra data has 5 items, this has {len(top)}")
    vanity = _as_bytes(top[0], "vanity")
    validators = tuple(to_checksum_address(_as_bytes(v, "a validator")) for v in _as_list(top[1], "the validator list"))
    vote_item = _as_list(top[2], "the vote")
    vote: tuple[str, bool] | None = None
    if vote_item:
        if len(vote_item) != 2:
            raise InputError("extraData", "a vote is [recipient, type]")
        kind = _as_bytes(vote_item[1], "the vote type")
        if kind not in (b"", b"\xaa"):  # Besu: ADD_BYTE_VALUE = 0xAA, DROP = empty
            raise InputError("extraData", f"unknown vote type 0x{kind.hex()}")
        vote = (to_checksum_address(_as_bytes(vote_item[0], "the vote recipient")), kind == b"\xaa")
    round_number = int.from_bytes(_as_bytes(top[3], "the round"), "big")
    seals = tuple(_as_bytes(s, "a seal") for s in _as_list(top[4], "the seal list"))
    return QbftExtraData(vanity=vanity, validators=validators, vote=vote, round=round_number, seals=seals)


def required_quorum(validator_count: int) -> int:
    """Validators that must take part for QBFT to add a block: ``ceil(2N/3)``.

    Besu's ``BftHelpers.calculateRequiredValidatorQuorum``. With fewer validators up, the chain
    stops producing blocks (nothing is lost; it resumes when enough come back).
    """
    if validator_count < 1:
        raise InputError("validators", "a QBFT network needs at least one validator")
    return -(-2 * validator_count // 3)


# ---------------------------------------------------------------------------------------------
# Keys and nodes


@dataclass(frozen=True)
class NodeKey:
    """A secp256k1 node key. Besu reads it from a ``key`` file holding the 32-byte key in hex."""

    private_key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.private_key) != 32:
            raise InputError("node_key", "a node key is 32 bytes")
        PrivateKey(self.private_key)  # rejects 0 and values >= the curve order

    @classmethod
    def generate(cls) -> NodeKey:
        """A fresh key from the operating system's random source."""
        return cls(PrivateKey().secret)

    @classmethod
    def from_hex(cls, text: str) -> NodeKey:
        """Parse a Besu ``key`` file's content (64 hex digits, with or without ``0x``)."""
        body = text.strip().removeprefix("0x")
        if len(body) != 64:
            raise InputError("node_key", "a node key file holds 64 hex digits")
        try:
            return cls(bytes.fromhex(body))
        except ValueError:
            raise InputError("node_key", "a node key file holds 64 hex digits") from None

    @property
    def key_file_text(self) -> str:
        """Content of Besu's ``key`` file: 64 lowercase hex digits, no ``0x``, no newline."""
        return self.private_key.hex()

    @property
    def public_key(self) -> bytes:
        """The 64-byte uncompressed public key without the ``04`` prefix."""
        return PrivateKey(self.private_key).public_key.format(compressed=False)[1:]

    @property
    def enode_id(self) -> str:
        """The enode id: the public key as 128 hex digits."""
        return self.public_key.hex()

    @property
    def address(self) -> str:
        """The validator (account) address of this key, checksummed."""
        return to_checksum_address(keccak(self.public_key)[-_ADDRESS_LENGTH:])


@dataclass(frozen=True)
class BesuNode:
    """One district's Besu validator node."""

    district: int
    name: str
    key: NodeKey
    host: str
    p2p_port: int = DEFAULT_P2P_PORT
    rpc_port: int = DEFAULT_RPC_PORT

    @property
    def address(self) -> str:
        return self.key.address

    @property
    def enode_url(self) -> str:
        """``enode://<id>@<host>:<p2p port>`` (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"enode://{self.key.enode_id}@{host}:{self.p2p_port}"

    @property
    def rpc_url(self) -> str:
        """This node's JSON-RPC endpoint, reachable only from its own machine."""
        return f"http://127.0.0.1:{self.rpc_port}"


# ---------------------------------------------------------------------------------------------
# Rendering helpers


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML rendering for {type(value).__name__}")


def _toml(pairs: Sequence[tuple[str, object]], header: str) -> str:
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    lines.append("")
    lines.extend(f"{key}={_toml_value(value)}" for key, value in pairs)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# The network


# Where the production profile's systemd units expect things (docs/operations.md): the node directory
# copied from nodes/<district>/, the hall directory (keystore, store), the installed checkout, the KEK.
SERVICE_USER = "caseledger"
INSTALL_DIR = "/opt/caseledger"
NODE_ROOT = "/srv/caseledger/node"
HALL_ROOT = "/srv/caseledger/hall"
KEK_PATH = "/srv/caseledger/secrets/kek.json"  # its own directory: not in the hall dir, not in backups


@dataclass(frozen=True)
class BesuNetwork:
    """A planned QBFT network: the nodes and the chain parameters shared by all of them."""

    nodes: tuple[BesuNode, ...]
    chain_id: int = 1337
    block_period: int = 2
    request_timeout: int = 4
    epoch_length: int = 30000
    gas_limit: int = DEFAULT_GAS_LIMIT
    timestamp: int = 0
    alloc: Mapping[str, int] = field(default_factory=dict)

    @property
    def validators(self) -> tuple[str, ...]:
        """Initial validator addresses, ascending (by their 20 bytes)."""
        return tuple(sorted((n.address for n in self.nodes), key=lambda a: bytes.fromhex(a[2:])))

    def node(self, district: int) -> BesuNode:
        for n in self.nodes:
            if n.district == district:
                return n
        raise InputError("district", f"{district} has no node in this network")

    def extra_data(self) -> str:
        return encode_qbft_extra_data(self.validators)

    def genesis(self) -> dict[str, Any]:
        """The genesis file, as Besu documents it for QBFT and free-gas networks.

        Forks up to Cancun are active from block 0 (the contracts, compiled for ``paris``, run on
        any of them); ``zeroBaseFee`` keeps the EIP-1559 base fee at 0 (Besu's free-gas setup).
        """
        return {
            "config": {
                "chainId": self.chain_id,
                "berlinBlock": 0,
                "londonBlock": 0,
                "shanghaiTime": 0,
                "cancunTime": 0,
                "zeroBaseFee": True,
                "qbft": {
                    "blockperiodseconds": self.block_period,
                    "epochlength": self.epoch_length,
                    "requesttimeoutseconds": self.request_timeout,
                },
            },
            "nonce": "0x0",
            "timestamp": hex(self.timestamp),
            "extraData": self.extra_data(),
            "gasLimit": f"0x{self.gas_limit:X}",
            "difficulty": "0x1",
            "mixHash": ISTANBUL_MIX_HASH,
            "coinbase": "0x" + "00" * _ADDRESS_LENGTH,
            "alloc": {addr.lower().removeprefix("0x"): {"balance": hex(wei)} for addr, wei in self.alloc.items()},
            "number": "0x0",
            "gasUsed": "0x0",
            "parentHash": "0x" + "00" * 32,
        }

    def config_toml(self, node: BesuNode) -> str:
        """``config.toml`` for ``besu --config-file=config.toml``, run from the node's directory.

        Keys are Besu's command line option names without the leading dashes. Relative paths are
        resolved by Besu against its working directory (the node directory).
        """
        bootnodes = [n.enode_url for n in self.nodes if n is not node]
        pairs: list[tuple[str, object]] = [
            ("data-path", "data"),
            ("genesis-file", "genesis.json"),
            ("node-private-key-file", "key"),
            ("min-gas-price", 0),
            ("sync-mode", "FULL"),
            # P2P: the only port other districts reach (firewall: consortium nodes only).
            ("p2p-host", node.host),
            ("p2p-port", node.p2p_port),
            ("bootnodes", bootnodes),
            ("permissions-nodes-config-file-enabled", True),
            ("permissions-nodes-config-file", "permissions_config.toml"),
            # JSON-RPC: for this district's hall only, never exposed off the machine.
            ("rpc-http-enabled", True),
            ("rpc-http-host", "127.0.0.1"),
            ("rpc-http-port", node.rpc_port),
            ("rpc-http-api", list(RPC_APIS)),
            ("host-allowlist", ["localhost", "127.0.0.1"]),
            # Besu's JSON-RPC limits, written out so that they do not change with Besu's defaults (the
            # logs range default was 1,000 blocks, 5,000 since 23.1.2; the body limit 5 MiB, 128 MiB since
            # 25.7): CaseLedger's reads stay within these, and its tests run through a proxy enforcing them.
            ("rpc-max-logs-range", RPC_MAX_LOGS_RANGE),
            ("rpc-http-max-batch-size", RPC_MAX_BATCH_SIZE),
            ("rpc-http-max-request-content-length", RPC_MAX_REQUEST_CONTENT_LENGTH),
        ]
        header = (
            f"Besu node for district {node.district} {node.name} - CaseLedger QBFT network, chain {self.chain_id}.\n"
            f"Validator {node.address}\nStart from this directory: besu --config-file=config.toml"
        )
        return _toml(pairs, header)

    def permissions_toml(self) -> str:
        """``permissions_config.toml``: every consortium node's enode URL (the same on every node)."""
        header = (
            "Local node allowlist: Besu refuses peers whose enode URL is not listed.\n"
            "Keep this file identical on every node; reload with a node restart."
        )
        return _toml([("nodes-allowlist", [n.enode_url for n in self.nodes])], header)

    def hall_settings(self, node: BesuNode) -> dict[str, str]:
        """``CASELEDGER_*`` settings for the district's hall: its own node, this chain, its district."""
        return {
            "CASELEDGER_RPC_URL": node.rpc_url,
            "CASELEDGER_CHAIN_ID": str(self.chain_id),
            "CASELEDGER_DISTRICT": str(node.district),
            "CASELEDGER_ENVIRONMENT": "production",
            # QBFT blocks are final once added: no extra confirmations are needed.
            "CASELEDGER_CONFIRMATIONS": "0",
            "CASELEDGER_HALL_DIR": HALL_ROOT,
            # the key-encryption key (data keys, TOTP secrets): outside the hall directory, never in a backup;
            # the data-key store is beside it (datakeys/, CASELEDGER_DATA_KEYS_DIR to put it elsewhere)
            "CASELEDGER_KEK_FILE": KEK_PATH,
            # at most the node's --rpc-max-logs-range blocks per forward eth_getLogs
            "CASELEDGER_MAX_LOGS_RANGE": str(RPC_MAX_LOGS_RANGE),
        }

    def hall_env(self, node: BesuNode) -> str:
        lines = [
            f"# CaseLedger hall settings for district {node.district} {node.name} (generated with its Besu node).",
            "# The hall talks to its own district's node, on this machine. To fail over to other districts' nodes",
            "# while it is down or lagging, list their JSON-RPC URLs after it, comma-separated (they must be",
            "# reachable from this hall: firewall open to consortium halls only), e.g.",
            "# CASELEDGER_RPC_URL=http://127.0.0.1:8545,https://node.other-district.example:8545",
            "# CASELEDGER_RPC_MAX_LAG=5 (blocks behind the best endpoint before failing over).",
            *(f"{k}={v}" for k, v in self.hall_settings(node).items()),
            "# The key-encryption key (it wraps every case's data key and seals the TOTP secrets) and the data-key",
            "# store beside it (datakeys/) live outside the hall directory and are never in a backup: keep a copy",
            "# of the KEK with the keystore password, and the secrets volume mirrored (the data-key store is the",
            "# only copy of each case's key: it is mirrored, not backed up). Reverse proxies whose X-Forwarded-For",
            "# to believe:",
            "# CASELEDGER_TRUSTED_PROXIES= (none by default).",
            "# Still to set: CASELEDGER_DEPLOYMENT_FILE and CASELEDGER_HALL_ID.",
        ]
        return "\n".join(lines) + "\n"

    def hall_unit(self, node: BesuNode) -> str:
        """``caseledger-hall.service``: systemd runs the hall node and restarts it when it dies (bounded)."""
        return _systemd_unit(
            f"CaseLedger hall node, district {node.district} {node.name}.\n"
            "# Install: cp caseledger-hall.service /etc/systemd/system/ && systemctl enable --now caseledger-hall",
            description=f"CaseLedger hall node (district {node.district})",
            after="network-online.target besu.service",
            service=[
                f"EnvironmentFile={NODE_ROOT}/caseledger.env",
                f"ExecStart={INSTALL_DIR}/.venv/bin/python -m node_api",
            ],
            writes=f"{HALL_ROOT} {KEK_PATH.rsplit('/', 1)[0]}",
        )

    def besu_unit(self, node: BesuNode) -> str:
        """``besu.service``: systemd runs the district's Besu node from its directory, restarts it on failure."""
        return _systemd_unit(
            f"Besu validator node, district {node.district} {node.name}.",
            description=f"Besu QBFT node (district {node.district})",
            after="network-online.target",
            service=[f"WorkingDirectory={NODE_ROOT}", "ExecStart=/usr/bin/besu --config-file=config.toml"],
            writes=NODE_ROOT,
        )

    def summary(self) -> dict[str, Any]:
        """``network.json``: what was generated, without any private key."""
        return {
            "chain_id": self.chain_id,
            "consensus": "qbft",
            "block_period_seconds": self.block_period,
            "request_timeout_seconds": self.request_timeout,
            "epoch_length": self.epoch_length,
            "validators": list(self.validators),
            "nodes": [
                {
                    "district": n.district,
                    "name": n.name,
                    "address": n.address,
                    "enode": n.enode_url,
                    "p2p_port": n.p2p_port,
                    "rpc_url": n.rpc_url,
                    "directory": f"nodes/{n.district}",
                }
                for n in self.nodes
            ],
        }

    def write(self, out: Path) -> list[Path]:
        """Write the tree under ``out`` (which must be missing or empty); return the files written.

        ``out/genesis.json``, ``out/network.json`` and per district ``out/nodes/<code>/`` with
        ``key`` (mode 0600), ``key.pub``, ``genesis.json``, ``config.toml``,
        ``permissions_config.toml`` and ``caseledger.env``. Each node directory is self-contained:
        copy it to the district's machine.
        """
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise ConfigError(f"{out} already exists and is not empty: refusing to overwrite a network's keys")
        written: list[Path] = []

        def put(path: Path, text: str, mode: int = 0o644) -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.chmod(path, mode)
            written.append(path)

        genesis = json.dumps(self.genesis(), indent=2) + "\n"
        put(out / "genesis.json", genesis)
        put(out / "network.json", json.dumps(self.summary(), indent=2, ensure_ascii=False) + "\n")
        permissions = self.permissions_toml()
        for n in self.nodes:
            d = out / "nodes" / str(n.district)
            put(d / "key", n.key.key_file_text, 0o600)
            put(d / "key.pub", "0x" + n.key.enode_id)
            put(d / "genesis.json", genesis)
            put(d / "config.toml", self.config_toml(n))
            put(d / "permissions_config.toml", permissions)
            put(d / "caseledger.env", self.hall_env(n), 0o600)
            put(d / "caseledger-hall.service", self.hall_unit(n))
            put(d / "besu.service", self.besu_unit(n))
        return written


def _systemd_unit(comment: str, *, description: str, after: str, service: list[str], writes: str) -> str:
    """A service unit that restarts on failure (5 s apart, at most 10 starts in 10 minutes: then systemd
    gives up and the failure shows in ``systemctl status``), runs as the service user, creates private
    files and may write only ``writes``."""
    lines = [
        f"# {comment}",
        "[Unit]",
        f"Description={description}",
        f"After={after}",
        f"Wants={after}",
        "StartLimitIntervalSec=600",
        "StartLimitBurst=10",
        "",
        "[Service]",
        "Type=simple",
        f"User={SERVICE_USER}",
        f"Group={SERVICE_USER}",
        *service,
        "Restart=on-failure",
        "RestartSec=5",
        "UMask=0077",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        f"ReadWritePaths={writes}",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
    ]
    return "\n".join(lines) + "\n"


def parse_districts(text: str | Sequence[int | str]) -> tuple[int, ...]:
    """District codes from ``"350502,350503"`` (or a list), checked against the catalogue.

    Raises :class:`InputError` (field ``districts``) naming the first bad or repeated code.
    """
    parts = [p.strip() for p in text.split(",")] if isinstance(text, str) else [str(p).strip() for p in text]
    parts = [p for p in parts if p]
    if not parts:
        raise InputError("districts", "give at least one district code")
    catalogue = load_catalogue()
    codes: list[int] = []
    for p in parts:
        code = catalogue.district(p, field="districts").code
        if code in codes:
            raise InputError("districts", f"{code} is listed twice")
        codes.append(code)
    return tuple(codes)


def _render_host(template: str, district: int, index: int) -> str:
    try:
        host = template.format(district=district, index=index)
    except (KeyError, IndexError, ValueError) as exc:
        raise InputError("host_template", f"{template!r} may use only {{district}} and {{index}} ({exc})") from None
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        raise InputError(
            "host_template",
            f"{host!r} (district {district}) is not an IP address: enode URLs in Besu's node allowlist need IP "
            "addresses (domain names are an early-access Besu feature)",
        ) from None


def plan_network(
    districts: Sequence[int | str] | str,
    *,
    chain_id: int = 1337,
    block_period: int = 2,
    request_timeout: int | None = None,
    epoch_length: int = 30000,
    gas_limit: int = DEFAULT_GAS_LIMIT,
    host_template: str = "127.0.0.1",
    fund: Iterable[str] = (),
    keys: Mapping[int, NodeKey] | None = None,
    timestamp: int | None = None,
) -> BesuNetwork:
    """Plan a QBFT network with one validator node per district.

    ``host_template`` gives each node's P2P address (``{district}`` and ``{index}``, 1-based, may
    appear, e.g. ``"10.35.0.{index}"``). Nodes on distinct hosts all use Besu's default ports
    (P2P 30303, RPC 8545); nodes that share a host (a trial on one machine) get consecutive ports.
    ``fund`` accounts (the registry admin, the halls' accounts) get :data:`DEFAULT_BALANCE_WEI` in
    the genesis ``alloc``. ``request_timeout`` defaults to twice the block period, as Besu advises.
    """
    codes = parse_districts(districts)
    if chain_id < 1:
        raise InputError("chain_id", "must be a positive integer")
    if block_period < 1:
        raise InputError("block_period", "must be at least 1 second")
    timeout = 2 * block_period if request_timeout is None else request_timeout
    if timeout < 1:
        raise InputError("request_timeout", "must be at least 1 second")
    if epoch_length < 1:
        raise InputError("epoch_length", "must be at least 1 block")
    catalogue = load_catalogue()
    per_host: dict[str, int] = {}
    nodes: list[BesuNode] = []
    for index, code in enumerate(codes, start=1):
        host = _render_host(host_template, code, index)
        k = per_host.get(host, 0)
        per_host[host] = k + 1
        key = (keys or {}).get(code) or NodeKey.generate()
        nodes.append(
            BesuNode(
                district=code,
                name=catalogue.district(code).name_zh,
                key=key,
                host=host,
                p2p_port=DEFAULT_P2P_PORT + k,
                rpc_port=DEFAULT_RPC_PORT + k,
            )
        )
    if len({n.address for n in nodes}) != len(nodes):
        raise InputError("keys", "two districts were given the same node key")
    alloc: dict[str, int] = {}
    for a in fund:
        alloc[to_checksum_address(_address_bytes(a, "fund"))] = DEFAULT_BALANCE_WEI
    return BesuNetwork(
        nodes=tuple(nodes),
        chain_id=chain_id,
        block_period=block_period,
        request_timeout=timeout,
        epoch_length=epoch_length,
        gas_limit=gas_limit,
        timestamp=int(time.time()) if timestamp is None else timestamp,
        alloc=alloc,
    )
