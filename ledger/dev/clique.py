"""A local multi-node chain: geth v1.13.15 Clique (proof-of-authority) signer nodes on 127.0.0.1.

Production runs one Besu QBFT validator per district; on one machine this is the real multi-node
engine for the tests marked ``multinode`` and for ``caseledger up --chain clique``. Every node is a
signer, so with four nodes one may be lost and blocks keep coming (Clique lets a signer seal one
block in any ``floor(n/2) + 1``: four signers tolerate exactly one down, two down stall the chain)::

    net = CliqueNet(data_dir, nodes=4)
    net.up()                     # generate (once), start every node, wait until they seal together
    net.status()                 # per node: up, head, peers, age of the latest block, mining
    net.endpoints_for(2)         # node 2 first, then the others: a hall's CASELEDGER_RPC_URL list
    net.stop([2]); net.start([2])    # lose a node; bring it back (it catches up by itself)
    net.down()

Files, under ``<data_dir>/clique/``::

    network.json     chain id, period, and per node its ports, enode and signer address (no private keys)
    genesis.json     Clique extradata with the signers; every fork up to grayGlacier at 0, none later
    node<N>/         node N's geth datadir: keystore/ (its signer, imported), geth/nodekey, config.toml,
                     password, geth.log, geth.pid

What geth v1.13.15 needs, measured (docs/operations.md, "A multi-node dev chain"):

* **No Shanghai.** Clique seals only on a pre-merge chain, so the genesis stops at grayGlacier and
  the contracts are compiled for ``paris`` (no PUSH0). ``baseFeePerGas`` is 0, like anvil
  ``--base-fee 0`` and Besu ``zeroBaseFee``, so the client's fixed fee cap always suffices.
* **Start order.** Nodes start without ``--mine``; once a node is peered and its ``--unlock`` has
  finished (``eth_sign`` stops answering "authentication needed"), ``miner_setGasPrice 0`` and
  ``miner_start`` are called. ``--mine`` at genesis makes every signer seal its own block 1 before
  peering (a fork that only geth's 10 s sync cycle resolves); ``miner_start`` before the unlock
  makes the first seal fail and geth's Clique worker does not retry it. ``--miner.gasprice 0`` is
  "sanitized" back to 1 gwei, and then the other nodes drop the hall's zero-tip transactions as
  underpriced: ``miner_setGasPrice 0`` is therefore called after **every** start.
* **Peering.** ``[Node.P2P]`` in each node's TOML: ``StaticNodes`` and ``TrustedNodes`` = the other
  nodes, ``MaxPeers = n - 1`` and ``DialRatio = 1``. geth's chain syncer waits for
  ``min(5, MaxPeers)`` peers (else a forced cycle every 10 s), so a restarted node catches up in
  about 3 s instead of 15. ``static-nodes.json`` is ignored by 1.13.
* **Archive mode.** ``--gcmode archive``: a node killed with SIGKILL comes back at its head (a
  full-mode node rewinds to its last committed state and re-runs every block since, while it
  answers with old heads and missing receipts).
* **Health is the latest block's age.** A stalled Clique chain answers RPC, has its peers and says
  it is not syncing: only ``now - latest.timestamp`` shows it (:attr:`NodeStatus.stalled`).
* Never delete a datadir while its geth runs: :meth:`CliqueNet.start` refuses a node whose ports
  are taken, :meth:`CliqueNet.stop` waits for the process to end.

Every wait here is bounded, retries on transient answers (no RPC yet, not yet peered, not yet
unlocked) and gives up with one sentence naming the node and what it last saw.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import httpx
from eth_keys.datatypes import PrivateKey
from pydantic import BaseModel, ConfigDict

from ledger.dev.devchain import dev_admin, free_port, source_checkout
from ledger.errors import ChainUnavailableError, ConfigError

__all__ = [
    "CLIQUE_CHAIN_ID",
    "GETH_VERSION",
    "CliqueNet",
    "NetworkSpec",
    "NodeSpec",
    "NodeStatus",
    "branch_to_keep",
    "geth_binary",
]

GETH_VERSION = "v1.13.15"  # the Makefile's GETH_VERSION (tests/unit/test_clique.py keeps them equal)
CLIQUE_CHAIN_ID = 1515
HTTP_APIS = "eth,net,web3,txpool,admin,clique,miner,debug"  # admin/miner/clique/debug: 127.0.0.1 only, dev chain only
PASSWORD = "caseledger-dev-signer"  # the signer keystores of a dev chain on loopback, nothing more

T = TypeVar("T")
log = logging.getLogger("caseledger.clique")


# ---------------------------------------------------------------------------------------------- the binary
def geth_binary(*, build: bool = True) -> str:
    """Path of geth v1.13.15: ``$CASELEDGER_GETH``, else the checkout's ``.cache/geth/<version>/geth``.

    When it is missing and this runs from a source checkout, ``make geth`` builds it (the one place
    that knows how: ``go install`` of the pinned module; minutes the first time, then cached).
    """
    env = os.environ.get("CASELEDGER_GETH")
    if env:
        if Path(env).is_file() and os.access(env, os.X_OK):
            return env
        raise ConfigError(f"CASELEDGER_GETH names {env}, which is not an executable file")
    root = source_checkout()
    if root is None:
        raise ConfigError(
            f"geth {GETH_VERSION} is not available: the Clique dev chain needs a CaseLedger source checkout "
            "(`make geth` builds it) or CASELEDGER_GETH naming a geth binary"
        )
    path = root / ".cache" / "geth" / GETH_VERSION / "geth"
    if not path.is_file() and build:
        make = shutil.which("make")
        if make is None:
            raise ConfigError(f"geth {GETH_VERSION} is not built and `make` is not installed to build it")
        done = subprocess.run([make, "--no-print-directory", "-C", str(root), "geth"], check=False)
        if done.returncode != 0:
            raise ConfigError(f"building geth {GETH_VERSION} failed (`make geth` exited {done.returncode}, see above)")
    if not path.is_file():
        raise ConfigError(f"geth {GETH_VERSION} is not built: run `make geth`")
    return str(path)


# ---------------------------------------------------------------------------------------------- models
class NodeSpec(BaseModel):
    """One signer node: where it listens and who it is (``network.json``)."""

    model_config = ConfigDict(frozen=True)

    n: int
    signer: str
    enode: str
    p2p_port: int
    http_port: int
    authrpc_port: int

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"


class NetworkSpec(BaseModel):
    """The network as generated: chain id, block period, nodes (``network.json``)."""

    model_config = ConfigDict(frozen=True)

    geth_version: str
    chain_id: int
    period: int
    nodes: list[NodeSpec]


class NodeStatus(BaseModel):
    """One node as seen now (``caseledger status``; the tests' view of the network)."""

    model_config = ConfigDict(frozen=True)

    n: int
    rpc_url: str
    signer: str
    pid: int | None
    up: bool
    head: int | None = None
    head_hash: str | None = None
    peers: int | None = None
    block_age: float | None = None  # seconds since the latest block's timestamp
    mining: bool | None = None
    stalled: bool = False  # up, but its latest block is older than the chain's stall bound
    error: str | None = None


# ---------------------------------------------------------------------------------------------- helpers
def rpc(url: str, method: str, params: Sequence[Any] = (), *, timeout: float = 5.0) -> Any:
    """One JSON-RPC call; :class:`ChainUnavailableError` when the node does not answer."""
    try:
        r = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}, timeout=timeout)
        body = r.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ChainUnavailableError(f"{url} did not answer {method} ({exc.__class__.__name__})") from exc
    if not isinstance(body, dict):
        raise ChainUnavailableError(f"{url} answered {method} with something that is not JSON-RPC")
    if "error" in body:
        err = body["error"]
        raise ChainUnavailableError(f"{url} answered {method}: {err.get('message') if isinstance(err, dict) else err}")
    return body.get("result")


def _port_taken(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # like Go's listener: TIME_WAIT is no obstacle
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _alive(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our child and has ended
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie that is not our child still answers kill(0)
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True


class CliqueNet:
    """A local Clique network of ``nodes`` geth signers (see the module docstring)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        nodes: int = 4,
        period: int = 1,
        http_base: int | None = 8545,
        p2p_base: int = 30303,
        authrpc_base: int = 8551,
    ) -> None:
        """``http_base=None`` takes free loopback ports for everything (tests); else node n listens on
        ``http_base + n - 1`` (JSON-RPC), ``p2p_base + n - 1`` and ``authrpc_base + n - 1``."""
        if not 2 <= nodes <= 9:
            raise ConfigError(f"a Clique dev network has 2 to 9 nodes, not {nodes}")
        if not 1 <= period <= 60:
            raise ConfigError(f"the Clique block period is 1 to 60 seconds, not {period}")
        self.data_dir = data_dir
        self.count = nodes
        self.period = period
        self._bases = (http_base, p2p_base, authrpc_base)
        self._spec: NetworkSpec | None = None
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self._quiet: set[int] = set()  # nodes told to stop sealing (mine(n, False)): a kick leaves them be
        self._kicked_at = 0.0
        self.kicks = 0  # how many times kick_if_stalled restarted sealing
        self.heals = 0  # how many nodes kick_if_stalled moved off a dead-locked branch (debug_setHead)
        self._watch_stop = threading.Event()
        self._watch: threading.Thread | None = None

    # ------------------------------------------------------------------------------------- layout
    @property
    def dir(self) -> Path:
        return self.data_dir / "clique"

    @property
    def spec_file(self) -> Path:
        return self.dir / "network.json"

    def node_dir(self, n: int) -> Path:
        return self.dir / f"node{n}"

    @classmethod
    def load(cls, data_dir: Path) -> CliqueNet | None:
        """The network generated in ``data_dir`` earlier, or ``None``."""
        try:
            spec = NetworkSpec.model_validate_json((data_dir / "clique" / "network.json").read_text())
        except (FileNotFoundError, ValueError):
            return None
        net = cls(data_dir, nodes=len(spec.nodes), period=spec.period)
        net._spec = spec
        return net

    @property
    def spec(self) -> NetworkSpec:
        if self._spec is None:
            if not self.spec_file.exists():
                raise ConfigError(f"no Clique network in {self.dir}: `caseledger up --chain clique` generates one")
            self._spec = NetworkSpec.model_validate_json(self.spec_file.read_text())
        return self._spec

    def node(self, n: int) -> NodeSpec:
        return self.spec.nodes[n - 1]

    @property
    def numbers(self) -> list[int]:
        return [s.n for s in self.spec.nodes]

    @property
    def urls(self) -> list[str]:
        return [s.rpc_url for s in self.spec.nodes]

    @property
    def rpc_url(self) -> str:
        """Node 1's JSON-RPC URL (deploying, registering halls, ``caseledger verify``)."""
        return self.node(1).rpc_url

    def endpoints_for(self, n: int) -> list[str]:
        """Node ``n`` first, then the others in order: a hall's endpoint list (own node, then failover)."""
        urls = self.urls
        i = (n - 1) % len(urls)
        return urls[i:] + urls[:i]

    # ------------------------------------------------------------------------------------- generate
    def generate(self) -> NetworkSpec:
        """Keys, genesis, per-node TOML, ``geth init`` and the signer key's import (once)."""
        if self.spec_file.exists():
            return self.spec
        geth = geth_binary()
        http_base, p2p_base, auth_base = self._bases
        self.dir.mkdir(parents=True, exist_ok=True)
        nodekeys = [secrets.token_bytes(32) for _ in range(self.count)]
        signer_keys = [PrivateKey(secrets.token_bytes(32)) for _ in range(self.count)]
        specs: list[NodeSpec] = []
        for i in range(self.count):
            p2p = free_port() if http_base is None else p2p_base + i
            pub = PrivateKey(nodekeys[i]).public_key.to_hex()[2:]
            specs.append(
                NodeSpec(
                    n=i + 1,
                    signer=signer_keys[i].public_key.to_checksum_address(),
                    enode=f"enode://{pub}@127.0.0.1:{p2p}?discport=0",
                    p2p_port=p2p,
                    http_port=free_port() if http_base is None else http_base + i,
                    authrpc_port=free_port() if http_base is None else auth_base + i,
                )
            )
        spec = NetworkSpec(geth_version=GETH_VERSION, chain_id=CLIQUE_CHAIN_ID, period=self.period, nodes=specs)
        genesis = self.dir / "genesis.json"
        genesis.write_text(json.dumps(_genesis(spec), indent=2) + "\n")
        for s, nodekey, signer in zip(specs, nodekeys, signer_keys, strict=True):
            d = self.node_dir(s.n)
            (d / "geth").mkdir(parents=True, exist_ok=True)
            (d / "geth" / "nodekey").write_text(nodekey.hex())
            (d / "password").write_text(PASSWORD + "\n")
            (d / "config.toml").write_text(_toml([o.enode for o in specs if o.n != s.n]))
            _geth_run([geth, "init", "--datadir", str(d), str(genesis)], d / "init.log")
            key_file = d / "signer.key"
            key_file.write_text(signer.to_hex()[2:] + "\n")
            key_file.chmod(0o600)
            try:
                _geth_run(
                    [geth, "account", "import", "--datadir", str(d), "--password", str(d / "password"), "--lightkdf",
                     str(key_file)],
                    d / "init.log",
                )  # fmt: skip
            finally:
                key_file.unlink(missing_ok=True)  # the keystore under keystore/ holds it from now on
        tmp = self.spec_file.with_suffix(".tmp")
        tmp.write_text(spec.model_dump_json(indent=2) + "\n")
        tmp.replace(self.spec_file)
        self._spec = spec
        return spec

    # ------------------------------------------------------------------------------------- processes
    def _pid_file(self, n: int) -> Path:
        return self.node_dir(n) / "geth.pid"

    def pid(self, n: int) -> int | None:
        try:
            pid = int(self._pid_file(n).read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _alive(pid) else None

    def running(self) -> list[int]:
        return [n for n in self.numbers if self.pid(n) is not None]

    def _command(self, geth: str, s: NodeSpec) -> list[str]:
        d = str(self.node_dir(s.n))
        return [
            geth, "--config", f"{d}/config.toml", "--datadir", d,
            "--networkid", str(self.spec.chain_id), "--syncmode", "full", "--gcmode", "archive",
            "--nodiscover", "--nat", "none", "--port", str(s.p2p_port), "--ipcdisable",
            "--http", "--http.addr", "127.0.0.1", "--http.port", str(s.http_port), "--http.api", HTTP_APIS,
            "--authrpc.addr", "127.0.0.1", "--authrpc.port", str(s.authrpc_port),
            "--miner.etherbase", s.signer, "--unlock", s.signer, "--password", f"{d}/password",
            "--allow-insecure-unlock", "--rpc.txfeecap", "0", "--cache", "256",
        ]  # fmt: skip

    def up(self, *, timeout: float = 120.0) -> bool:
        """Generate the network if needed and start every node that is not running; True if any started."""
        self.generate()
        todo = [n for n in self.numbers if self.pid(n) is None]
        if todo:
            self.start(todo, timeout=timeout)
        else:
            self.kick_if_stalled()
            self.wait_blocks(timeout=timeout)
        return bool(todo)

    def start(self, which: Iterable[int], *, timeout: float = 120.0) -> float:
        """Start the nodes ``which`` (those not running) and wait until each seals with the others.

        Order per node: RPC up → peered with every other running node → signer unlocked → on the
        others' chain → ``miner_setGasPrice 0`` → ``miner_start``. Returns the seconds it took.

        When no node runs yet, one node seals the next block before the nodes that could compete with
        it start (:meth:`_first_block`). geth drops blocks that peers announce until it has either
        synced once or started mining, and it learns a peer's head only from their handshake (an
        announced block counts for its parent): started together, every signer sealed its own block 1,
        each then "signed recently" on its own fork, and the chain never moved. Started after the
        lead's block, the others sync it at their handshake, and from there on seal normally.
        """
        t0 = time.monotonic()
        geth = geth_binary()
        new = [n for n in which if self.pid(n) is None]
        for n in new:
            s = self.node(n)
            for port in (s.p2p_port, s.http_port, s.authrpc_port):
                if _port_taken(port):
                    raise ConfigError(
                        f"port {port} of Clique node {n} is taken on 127.0.0.1 (another geth or program runs there): "
                        "nothing was started"
                    )
        deadline = time.monotonic() + timeout
        try:
            self._start(geth, new, deadline)
        except BaseException:
            self.stop(new)  # nothing half-started is left running (its ports, its datadir)
            raise
        return time.monotonic() - t0

    def _start(self, geth: str, new: list[int], deadline: float) -> None:
        fresh = not self.running()
        if fresh and len(new) > 1:
            new = self._first_block(geth, new, deadline)
        self._spawn(geth, new, deadline)
        for n in new:  # the others may have dropped it from their static peers (isolate); ask them again
            self._link(n)
        for n in new:
            self._until(n, "its peers", partial(self._peered, n), deadline)
        for n in new:  # on the others' chain before it seals (else it seals on an old head, a fork nobody takes)
            self.wait_synced(n, timeout=max(1.0, deadline - time.monotonic()))
        for n in new:
            self.mine(n, True)
        if fresh:
            self.wait_blocks(timeout=max(1.0, deadline - time.monotonic()))

    def _first_block(self, geth: str, new: list[int], deadline: float) -> list[int]:
        """Start some nodes and have one of them seal the next block (see :meth:`start`); the nodes left.

        The nodes started here are the first one, and if its signer may not seal the next block
        (it sealed one of the latest: Clique's "signed recently"), also every other such node and one
        signer that may (the lead). Nodes that may not seal start mining at once: that marks them
        synced, so they take the lead's block; those that could seal start only after it exists.
        """
        first = new[0]
        self._spawn(geth, [first], deadline)
        url = self.node(first).rpc_url
        head = int(rpc(url, "eth_blockNumber"), 16)
        snap = rpc(url, "clique_getSnapshot", ["latest"])
        limit = len(self.spec.nodes) // 2 + 1
        recent = {str(a).lower() for b, a in (snap.get("recents") or {}).items() if int(b) > head + 1 - limit}
        blocked = [n for n in new if self.node(n).signer.lower() in recent]
        early: list[int] = []
        if first not in blocked:
            lead = first
        else:
            eligible = [n for n in new if n not in blocked]
            if not eligible:
                return new[1:]  # none of these may seal the next block: the running ones must (not here)
            turn = self.in_turn(head + 1)
            lead = turn if turn in eligible else eligible[0]
            early = [*(n for n in blocked if n != first), lead]
            self._spawn(geth, early, deadline)
            for n in [first, *early]:
                self._until(n, "its peers", partial(self._peered, n), deadline)
                self.wait_synced(n, timeout=max(1.0, deadline - time.monotonic()))
            for n in blocked:
                self.mine(n, True)
        self.mine(lead, True)
        for n in [first, *early]:
            self._until(n, f"block {head + 1}", partial(self._has_block, n, head + 1), deadline)
        return [n for n in new if n != first and n not in early]

    def _spawn(self, geth: str, which: list[int], deadline: float) -> None:
        """Launch geth for each node; wait until its JSON-RPC answers and its signer is unlocked."""
        for n in which:
            d = self.node_dir(n)
            log = open(d / "geth.log", "ab")  # noqa: SIM115 - handed to the child process
            proc = subprocess.Popen(
                self._command(geth, self.node(n)), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
            log.close()
            self._procs[n] = proc
            self._pid_file(n).write_text(str(proc.pid))
        for n in which:
            s = self.node(n)
            self._until(n, "its JSON-RPC to answer", partial(rpc, s.rpc_url, "eth_blockNumber"), deadline)
            # eth_sign answers "authentication needed: password or unlock" until --unlock has finished
            self._until(n, "its signer to unlock", partial(rpc, s.rpc_url, "eth_sign", [s.signer, "0x00"]), deadline)

    def wait_not_recent(self, n: int, *, timeout: float = 60.0) -> int:
        """Wait for a fresh block after which node ``n``'s signer is not among the recent signers; its number.

        Stop, kill or cut off a signer then, and the others go on as they were: Clique excludes the
        signers of the latest ``floor(k/2)`` blocks from sealing the next, so with both of those
        signers still sealing exactly one signer may seal each next block — no two seal the same
        height. Lost right after it sealed, the node leaves two signers allowed at once; two such
        blocks of equal difficulty split the others, and with a signer missing no side may have one
        allowed to go on (seen: the chain stood still until the node returned; the watchdog's
        :meth:`kick_if_stalled` now rewinds one side). Stop the node's sealing first (``mine(n, False)``),
        or act within the block period after this returns (the node may be the next to seal).
        """
        others = [o for o in self._others(n) if self.pid(o.n) is not None]
        if not others:
            return int(rpc(self.node(n).rpc_url, "eth_blockNumber"), 16)
        url = others[0].rpc_url
        signer = self.node(n).signer.lower()
        limit = len(self.spec.nodes) // 2 + 1
        last = int(rpc(url, "eth_blockNumber"), 16)

        def fresh_and_free() -> int | None:
            nonlocal last
            head = int(rpc(url, "eth_blockNumber"), 16)
            if head == last:
                return None
            last = head
            snap = rpc(url, "clique_getSnapshot", [hex(head)])
            recent = {str(a).lower() for b, a in (snap.get("recents") or {}).items() if int(b) > head + 1 - limit}
            return head if signer not in recent else None

        return self._until(None, f"a block after which node {n} is not a recent signer", fresh_and_free, None, timeout)

    def may_seal(self, n: int) -> bool:
        """Whether node ``n`` may seal the block after its own head (its signer sealed neither of its latest
        ``floor(k/2)`` blocks), as node ``n`` itself sees the chain."""
        url = self.node(n).rpc_url
        head = int(rpc(url, "eth_blockNumber"), 16)
        snap = rpc(url, "clique_getSnapshot", [hex(head)])
        limit = len(self.spec.nodes) // 2 + 1
        recent = {str(a).lower() for b, a in (snap.get("recents") or {}).items() if int(b) > head + 1 - limit}
        return self.node(n).signer.lower() not in recent

    def in_turn(self, block: int) -> int:
        """The node whose signer is in turn for ``block`` (Clique: ``block % n`` in ascending address order)."""
        order = sorted(self.spec.nodes, key=lambda s: int(s.signer, 16))
        return order[block % len(order)].n

    def _has_block(self, n: int, block: int) -> bool:
        return int(rpc(self.node(n).rpc_url, "eth_blockNumber"), 16) >= block

    def mine(self, n: int, on: bool) -> None:
        """Start (tip 0 accepted, see the module notes) or stop node ``n``'s sealing.

        Stopping returns once a seal already under way would have ended (:meth:`seal_grace`): geth's
        ``miner_stop`` does not cancel the block its worker is waiting to seal, so without the wait a
        node "stopped" then cut off was seen to seal one more block alone a second later, on its own.
        """
        url = self.node(n).rpc_url
        if on:
            rpc(url, "miner_setGasPrice", ["0x0"])
            rpc(url, "miner_start", [])
            self._quiet.discard(n)
        else:
            rpc(url, "miner_stop", [])
            self._quiet.add(n)
            time.sleep(self.seal_grace())

    def seal_grace(self) -> float:
        """The longest a block under way waits to be sealed: the period, plus Clique's wiggle for a signer out
        of turn (up to 500 ms per ``floor(k/2) + 1``), plus a margin."""
        return self.period + (len(self.spec.nodes) // 2 + 1) * 0.5 + 0.5

    def kick_after(self) -> float:
        """Seconds without a block after which :meth:`kick_if_stalled` acts (four periods, at least 6 s)."""
        return max(6.0, 4.0 * self.period)

    def kick_if_stalled(self) -> bool:
        """If no running node has had a new block for :meth:`kick_after` seconds, restart sealing on every
        running node that should seal (``miner_stop`` + ``miner_start``); True if it did.

        geth 1.13's Clique worker builds its next block only on a new head, a new transaction or a
        (re)start. After two signers sealed the same height at once, a node that switched to the other
        block was seen building nothing more: the one signer still allowed to seal on its side stayed
        silent and the chain stood still for minutes with every node up (the "stall" of docs/operations.md).
        A restarted miner builds on its current head at once.
        """
        now = time.monotonic()
        if now - self._kicked_at < self.kick_after():
            return False
        up = [st for st in self.status() if st.up and st.block_age is not None]
        if not up or min(st.block_age or 0.0 for st in up) < self.kick_after():
            return False
        self._kicked_at = now
        self.kicks += 1
        log.warning(
            "Clique network: no block for %.0fs (heads %s); restarting sealing on nodes %s",
            min(st.block_age or 0.0 for st in up),
            {st.n: f"{st.head} {str(st.head_hash)[:10]}" for st in up},
            [st.n for st in up if st.n not in self._quiet],
        )
        self._heal_split(up)
        for st in up:
            if st.n in self._quiet:
                continue
            try:
                rpc(st.rpc_url, "miner_stop", [])
                self.mine(st.n, True)
            except ChainUnavailableError:
                pass
        return True

    def _heal_split(self, up: list[NodeStatus]) -> None:
        """A stalled network whose peered nodes sit on different branches: rewind the nodes off the branch
        to keep (:func:`branch_to_keep`) to the last block they share with it (``debug_setHead``); they
        take the kept branch from their peers at geth's next sync round (at most 10 s).

        This is the dead-lock a signer lost at a bad moment leaves (see :meth:`wait_not_recent`): two
        signers allowed at once each sealed the same height at equal difficulty, the nodes split between
        the two blocks, and on each side the one signer allowed to go on is a node on the other side.
        No block can come and geth never looks at the other block again; an operator rewinds one side.
        A cut-off node (no peers) is left on its own fork.
        """
        heads = {
            st.n: (st.head, st.head_hash)
            for st in up
            if st.head is not None and st.head_hash is not None and (st.peers or 0) > 0
        }
        plan = branch_to_keep(heads)
        if plan is None:
            return
        keep, rewind = plan
        keep_url = self.node(keep).rpc_url
        for n in rewind:
            url = self.node(n).rpc_url
            try:
                at = min(heads[n][0], heads[keep][0])
                for _ in range(64):  # a dead-locked split is a block or two deep
                    mine_b = rpc(url, "eth_getBlockByNumber", [hex(at), False])
                    kept_b = rpc(keep_url, "eth_getBlockByNumber", [hex(at), False])
                    if at == 0 or (mine_b and kept_b and mine_b["hash"] == kept_b["hash"]):
                        break
                    at -= 1
                rpc(url, "debug_setHead", [hex(at)])
            except ChainUnavailableError as exc:
                log.warning("Clique network: could not rewind node %s: %s", n, exc)
                continue
            self.heals += 1
            log.warning(
                "Clique network: nodes split at a stall; node %s rewound to block %s to take node %s's branch",
                n,
                at,
                keep,
            )

    def watch(self, *, interval: float = 2.0) -> None:
        """Run :meth:`kick_if_stalled` every ``interval`` seconds in a background thread (until :meth:`unwatch`)."""
        if self._watch is not None:
            return
        self._watch_stop.clear()

        def loop() -> None:
            while not self._watch_stop.wait(interval):
                try:
                    self.kick_if_stalled()
                except Exception:  # keep watching whatever one round met
                    log.exception("Clique watchdog round failed")

        self._watch = threading.Thread(target=loop, name="clique-watchdog", daemon=True)
        self._watch.start()

    def unwatch(self) -> None:
        self._watch_stop.set()
        if self._watch is not None:
            self._watch.join(timeout=10)
            self._watch = None

    def stop(self, which: Iterable[int], *, kill: bool = False, timeout: float = 30.0) -> None:
        """Stop nodes: SIGTERM (SIGKILL with ``kill``, or when SIGTERM did not end it within ``timeout``)."""
        for n in which:
            pid = self.pid(n)
            if pid is None:
                self._pid_file(n).unlink(missing_ok=True)
                continue
            os.kill(pid, signal.SIGKILL if kill else signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while _alive(pid):
                if time.monotonic() > deadline:
                    os.kill(pid, signal.SIGKILL)
                    deadline = time.monotonic() + timeout
                time.sleep(0.05)
            proc = self._procs.pop(n, None)
            if proc is not None:
                proc.wait(timeout=5)
            self._pid_file(n).unlink(missing_ok=True)

    def down(self) -> bool:
        """Stop every node (state is kept); True if any was running."""
        self.unwatch()
        if not self.spec_file.exists():
            return False
        was = self.running()
        self.stop(self.numbers)
        return bool(was)

    # ------------------------------------------------------------------------------------- partitions
    def isolate(self, n: int) -> None:
        """Cut node ``n`` off from the others (it keeps running and answering; it sees no blocks)."""
        me = self.node(n)
        for o in self._others(n):
            if self.pid(o.n) is not None:
                rpc(o.rpc_url, "admin_removeTrustedPeer", [me.enode])
                rpc(o.rpc_url, "admin_removePeer", [me.enode])
            rpc(me.rpc_url, "admin_removeTrustedPeer", [o.enode])
            rpc(me.rpc_url, "admin_removePeer", [o.enode])
        self._until(n, "to lose its peers", lambda: rpc(me.rpc_url, "net_peerCount") == "0x0" or None, None, 30.0)

    def rejoin(self, n: int, *, timeout: float = 90.0) -> float:
        """Undo :meth:`isolate`; the seconds until node ``n`` is on the others' chain again."""
        t0 = time.monotonic()
        self._link(n)
        self._until(n, "its peers", lambda: self._peered(n), time.monotonic() + timeout)
        self.wait_synced(n, timeout=timeout)
        return time.monotonic() - t0

    def _link(self, n: int) -> None:
        me = self.node(n)
        for o in self._others(n):
            if self.pid(o.n) is None:
                continue
            for a, b in ((me, o), (o, me)):
                rpc(a.rpc_url, "admin_addTrustedPeer", [b.enode])
                rpc(a.rpc_url, "admin_addPeer", [b.enode])

    def _others(self, n: int) -> list[NodeSpec]:
        return [s for s in self.spec.nodes if s.n != n]

    def _peered(self, n: int) -> bool | None:
        want = sum(1 for o in self._others(n) if self.pid(o.n) is not None)
        return int(rpc(self.node(n).rpc_url, "net_peerCount"), 16) >= want or None

    # ------------------------------------------------------------------------------------- waits
    def _until(
        self, n: int | None, what: str, check: Callable[[], T | None], deadline: float | None, timeout: float = 0
    ) -> T:
        """Retry ``check`` until it gives something; transient RPC failures are retried, not raised."""
        deadline = deadline if deadline is not None else time.monotonic() + timeout
        last = "no answer yet"
        while True:
            try:
                got = check()
                if got is not None and got is not False:
                    return got
                last = "not yet"
            except ChainUnavailableError as exc:
                last = str(exc)
            if n is not None and self.pid(n) is None:
                raise ChainUnavailableError(
                    f"Clique node {n} exited while waiting for {what}: {self.log_tail(n)}"
                ) from None
            if time.monotonic() > deadline:
                who = f"Clique node {n}" if n is not None else "the Clique network"
                raise ChainUnavailableError(f"{who}: gave up waiting for {what} (last: {last})")
            time.sleep(0.05)

    def wait_blocks(self, *, count: int = 2, timeout: float = 60.0) -> int:
        """Wait until the running nodes' best head has grown by ``count`` blocks (they seal); the head."""
        start = self.best_head()
        target = (start if start is not None else 0) + count

        def grown() -> int | None:
            h = self.best_head()
            if h is not None and h >= target:
                return h
            self.kick_if_stalled()
            return None

        return self._until(None, f"block {target}", grown, None, timeout)

    def best_head(self) -> int | None:
        heads = [st.head for st in self.status() if st.head is not None]
        return max(heads) if heads else None

    def wait_synced(self, n: int, *, timeout: float = 90.0) -> float:
        """Wait until node ``n`` holds the others' chain: its head is at most one block behind the best
        other head and has the same hash there. The seconds it took."""
        t0 = time.monotonic()
        me = self.node(n)

        def synced() -> bool | None:
            heads = {o.n: int(rpc(o.rpc_url, "eth_blockNumber"), 16) for o in self._others(n) if self.pid(o.n)}
            if not heads:
                return True
            mine = int(rpc(me.rpc_url, "eth_blockNumber"), 16)
            ref, best = max(heads.items(), key=lambda kv: kv[1])
            if mine < best - 1:
                self.kick_if_stalled()
                return None
            at = min(mine, best)
            a = rpc(me.rpc_url, "eth_getBlockByNumber", [hex(at), False])
            b = rpc(self.node(ref).rpc_url, "eth_getBlockByNumber", [hex(at), False])
            return bool(a and b and a["hash"] == b["hash"]) or None

        self._until(n, "to catch up with the other nodes", synced, time.monotonic() + timeout)
        return time.monotonic() - t0

    # ------------------------------------------------------------------------------------- status
    def stall_after(self) -> float:
        """Seconds without a new block after which a node counts as stalled (five periods, at least 10 s)."""
        return max(10.0, 5.0 * self.period)

    def node_status(self, n: int) -> NodeStatus:
        s = self.node(n)
        pid = self.pid(n)
        base: dict[str, Any] = {"n": n, "rpc_url": s.rpc_url, "signer": s.signer, "pid": pid}
        if pid is None:
            return NodeStatus(up=False, error="not running", **base)
        try:
            blk = rpc(s.rpc_url, "eth_getBlockByNumber", ["latest", False], timeout=2)
            peers = int(rpc(s.rpc_url, "net_peerCount", timeout=2), 16)
            mining = bool(rpc(s.rpc_url, "eth_mining", timeout=2))
        except ChainUnavailableError as exc:
            return NodeStatus(up=False, error=str(exc), **base)
        age = max(0.0, time.time() - int(blk["timestamp"], 16))
        return NodeStatus(
            up=True,
            head=int(blk["number"], 16),
            head_hash=str(blk["hash"]),
            peers=peers,
            block_age=round(age, 1),
            mining=mining,
            stalled=age > self.stall_after(),
            **base,
        )

    def status(self) -> list[NodeStatus]:
        return [self.node_status(n) for n in self.numbers]

    def chain_status(self) -> dict[str, Any]:
        """Like :meth:`ledger.dev.devchain.DevChain.status`, plus every node."""
        nodes = self.status() if self.spec_file.exists() else []
        up = [st for st in nodes if st.up]
        return {
            "kind": "clique",
            "running": bool(up),
            "rpc_url": self.rpc_url if nodes else None,
            "chain_id": self.spec.chain_id if nodes else None,
            "block": max((st.head for st in up if st.head is not None), default=None),
            "period": self.period,
            "nodes": [st.model_dump() for st in nodes],
        }

    def log_tail(self, n: int, chars: int = 600) -> str:
        try:
            return (self.node_dir(n) / "geth.log").read_text(errors="replace")[-chars:].strip()
        except OSError:
            return "(no geth.log)"


# ---------------------------------------------------------------------------------------------- files
def branch_to_keep(heads: dict[int, tuple[int, str]]) -> tuple[int, list[int]] | None:
    """Nodes' heads (node → (number, hash)) at a stall: ``None`` if they agree, else a node on the branch
    to keep and the nodes to rewind off the others. Kept: the branch most nodes are on, then the longer,
    then the one of the lowest-numbered node (a choice every run makes the same way)."""
    branches: dict[str, list[int]] = {}
    for n in sorted(heads):
        branches.setdefault(heads[n][1], []).append(n)
    if len(branches) < 2:
        return None
    kept = max(branches.values(), key=lambda ns: (len(ns), heads[ns[0]][0], -ns[0]))
    return kept[0], [n for n in sorted(heads) if n not in kept]


def _genesis(spec: NetworkSpec) -> dict[str, Any]:
    # Clique extradata: 32 bytes vanity ‖ the signer addresses in ascending order ‖ 65 zero bytes of seal
    signers = sorted((s.signer for s in spec.nodes), key=lambda a: int(a, 16))
    extradata = "0x" + "00" * 32 + "".join(a[2:].lower() for a in signers) + "00" * 65
    alloc = {dev_admin().address[2:].lower(): {"balance": hex(10**24)}}  # the deployer (registry admin)
    forks = [
        "homestead", "eip150", "eip155", "eip158", "byzantium", "constantinople", "petersburg", "istanbul",
        "muirGlacier", "berlin", "london", "arrowGlacier", "grayGlacier",
    ]  # fmt: skip
    return {
        # no mergeNetsplitBlock, terminalTotalDifficulty, shanghaiTime or cancunTime: Clique seals pre-merge only
        "config": {
            "chainId": spec.chain_id,
            **{f"{f}Block": 0 for f in forks},
            "clique": {"period": spec.period, "epoch": 30000},
        },  # fmt: skip
        "nonce": "0x0",
        "timestamp": "0x0",
        "extradata": extradata,
        "gasLimit": hex(30_000_000),
        "difficulty": "0x1",
        "mixHash": "0x" + "00" * 32,
        "coinbase": "0x" + "00" * 20,
        "number": "0x0",
        "gasUsed": "0x0",
        "parentHash": "0x" + "00" * 32,
        "baseFeePerGas": "0x0",
        "alloc": alloc,
    }


def _toml(others: list[str]) -> str:
    peers = "[\n" + "".join(f'  "{e}",\n' for e in others) + "]\n"
    return (
        "# written by caseledger (ledger/dev/clique.py): every other node is a static and trusted peer\n"
        "[Node.P2P]\n"
        f"MaxPeers = {len(others)}\nDialRatio = 1\nTrustedNodes = {peers}StaticNodes = {peers}"
    )


def _geth_run(cmd: list[str], log_file: Path) -> None:
    with open(log_file, "ab") as log:
        done = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=False, timeout=120)
    if done.returncode != 0:
        tail = log_file.read_text(errors="replace")[-400:].strip()
        raise ConfigError(f"`geth {cmd[1]}` failed (exit {done.returncode}): {tail}")
