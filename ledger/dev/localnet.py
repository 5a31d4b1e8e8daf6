"""A local consortium of hall node processes on one machine (for ``caseledger up`` and the tests).

    net = LocalNet(Path(".caseledger"), halls=3)
    net.up()          # chain, deployment, registered halls, one ``python -m node_api`` per hall
    net.halls         # URLs, districts, the demo-accounts.json of each hall (mode 0600)
    net.down()

    LocalNet(data_dir, halls=4, chain="clique", nodes=4)    # four geth signer nodes (ledger.dev.clique)

Each hall runs as its own process with its own port, store and key (``<data_dir>/halls/<n>/``);
state survives ``down``/``up``. ``<data_dir>/consortium.json`` records what is running.

On the anvil chain every hall talks to the one node. On a Clique network hall ``n`` is attached to
node ``n`` (round robin when there are more halls than nodes) with every other node after it as its
failover endpoints (``CASELEDGER_RPC_URL`` is the list, own node first), and acts on a block once
two more are on top of it (``CASELEDGER_CONFIRMATIONS=2``: Clique's short reorganisations).
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Literal

import httpx

from ledger.chain.client import ChainClient
from ledger.chain.deployment import Deployment
from ledger.core.suites import INTL, Suite
from ledger.dev import supervisor
from ledger.dev.clique import CLIQUE_CHAIN_ID, CliqueNet
from ledger.dev.consortium import DEMO_HALLS, ensure_deployment, ensure_halls, hall_dir
from ledger.dev.devchain import DEV_CHAIN_ID, DevChain, dev_admin, free_port
from ledger.errors import ConfigError, LedgerError

__all__ = [
    "AnchorMode",
    "ChainKind",
    "LocalNet",
    "hall_pid",
    "node_running",
    "start_hall",
    "stop_hall",
    "store_locked",
    "wait_healthy",
]


_alive = supervisor.process_alive


def _pid(path: Path) -> int | None:
    try:
        pid = int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _alive(pid) else None


def hall_pid(d: Path) -> int | None:
    return _pid(d / "node.pid")


def store_locked(store: Path) -> bool:
    """Whether a process holds the LevelDB lock of ``store`` (what a running node always does)."""
    lock = store / "LOCK"
    if not lock.exists():
        return False
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def node_running(d: Path, store: Path | None = None) -> bool:
    """A hall node is running on ``d``: its store is locked (authoritative: a dead pid, a zombie or a reused
    pid never counts), or, with no store lock file to look at, its pid file names a live process."""
    store = store or d / "store"
    if (store / "LOCK").exists():
        return store_locked(store)
    return hall_pid(d) is not None


def start_hall(d: Path, *, port: int, rpc_url: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start ``python -m node_api`` for the hall in ``d`` (a child in its own session)."""
    # CASELEDGER_DATA_DIR names the consortium's directory for the CLI, but the node reads it as its own
    # store directory: inherited, it would point every hall at one store. Each hall uses its hall dir.
    inherited = {k: v for k, v in os.environ.items() if k != "CASELEDGER_DATA_DIR"}
    full = {
        **inherited,
        "CASELEDGER_HALL_DIR": str(d),
        "CASELEDGER_PORT": str(port),
        "CASELEDGER_RPC_URL": rpc_url,
        **(env or {}),
    }
    # the log names staff and cases: created 0600
    proc = supervisor.spawn_detached([sys.executable, "-m", "node_api"], d / "node.log", full)
    (d / "node.pid").write_text(str(proc.pid))
    return proc


def stop_hall(d: Path, *, timeout: float = 15.0) -> bool:
    """Stop the hall on purpose. The pid file goes first, so a supervisor (ledger.dev.supervisor) sees an
    intended stop, not a crash to restart."""
    pid = hall_pid(d)
    (d / "node.pid").unlink(missing_ok=True)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
    (d / "node.pid").unlink(missing_ok=True)
    return True


def wait_healthy(url: str, *, timeout: float = 60.0, proc: subprocess.Popen[bytes] | None = None) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            r = httpx.get(url.rstrip("/") + "/health", timeout=2)
            if r.status_code == 200:
                data: dict[str, Any] = r.json()
                return data
        except httpx.HTTPError:
            pass
        if proc is not None and proc.poll() is not None:
            raise ConfigError(f"the hall node at {url} exited (code {proc.returncode}); see its node.log")
        if time.monotonic() > deadline:
            raise ConfigError(f"the hall node at {url} did not become healthy within {timeout:.0f}s")
        time.sleep(0.2)


ChainKind = Literal["anvil", "clique"]
AnchorMode = Literal["event", "merkle"]
"""how a hall anchors the cases it takes in (``CASELEDGER_ANCHOR_MODE``)"""


class LocalNet:
    def __init__(
        self,
        data_dir: Path,
        *,
        halls: int = 3,
        chain_port: int | None = 8545,
        hall_ports: list[int] | None = None,
        block_time: float = 1.0,
        node_env: dict[str, str] | None = None,
        supervise: bool = False,
        suite: Suite = INTL,
        chain: ChainKind = "anvil",
        nodes: int = 4,
    ) -> None:
        """``chain_port``: anvil's port, or the Clique node 1's (node n: ``+ n - 1``); ``None``: free ports."""
        self.data_dir = data_dir
        self.supervise = supervise
        self.suite = suite
        self.count = halls
        self.kind: ChainKind = chain
        self.chain: DevChain | CliqueNet
        if chain == "clique":
            if not float(block_time).is_integer():
                raise ConfigError(f"a Clique block period is a whole number of seconds, not {block_time}")
            self.chain = CliqueNet.load(data_dir) or CliqueNet(
                data_dir, nodes=nodes, period=int(block_time), http_base=chain_port
            )
        else:
            port = chain_port if chain_port is not None else free_port()
            self.chain = DevChain(data_dir, port=port, block_time=block_time)
        self.hall_ports = hall_ports or [s.port for s in DEMO_HALLS[:halls]]
        env = {"CASELEDGER_DEMO_ACCOUNTS": "true"}
        if chain == "clique":
            env["CASELEDGER_CONFIRMATIONS"] = "2"
        self.node_env = {**env, **(node_env or {})}
        self.halls: list[dict[str, Any]] = []
        self.deployment: Deployment | None = None

    @property
    def anchor_mode(self) -> str:
        """How the halls anchor the cases they take in (``CASELEDGER_ANCHOR_MODE``, default ``event``)."""
        return self.node_env.get("CASELEDGER_ANCHOR_MODE", "event")

    @property
    def state_file(self) -> Path:
        return self.data_dir / "consortium.json"

    @property
    def chain_id(self) -> int:
        return CLIQUE_CHAIN_ID if self.kind == "clique" else DEV_CHAIN_ID

    @classmethod
    def load(cls, data_dir: Path) -> LocalNet | None:
        """The consortium described by ``<data_dir>/consortium.json``, if any."""
        try:
            st = json.loads((data_dir / "consortium.json").read_text())
        except (FileNotFoundError, ValueError):
            return None
        kind: ChainKind = "clique" if st.get("chain") == "clique" else "anvil"
        net = cls(
            data_dir,
            halls=len(st["halls"]),
            chain_port=st.get("chain_port"),
            hall_ports=[h["port"] for h in st["halls"]],
            node_env=st.get("node_env"),
            supervise=bool(st.get("supervised")),
            chain=kind,
        )
        net.halls = st["halls"]
        return net

    def hall_dir(self, n: int) -> Path:
        return hall_dir(self.data_dir, n)

    def hall_node(self, n: int) -> int | None:
        """The Clique node hall ``n`` is attached to (``None`` on anvil)."""
        if not isinstance(self.chain, CliqueNet):
            return None
        return (n - 1) % self.chain.count + 1

    def hall_rpc_url(self, n: int) -> str:
        """Hall ``n``'s ``CASELEDGER_RPC_URL``: its own node first, then the failover nodes."""
        if isinstance(self.chain, CliqueNet):
            return ",".join(self.chain.endpoints_for(self.hall_node(n) or 1))
        return self.chain.rpc_url

    def _check_chain_kind(self) -> None:
        dep_file = self.data_dir / "deployment.json"
        if not dep_file.exists():
            return
        dep = Deployment.load(dep_file)
        if dep.chain_id != self.chain_id:
            other = "a geth Clique network" if dep.chain_id == CLIQUE_CHAIN_ID else "the anvil chain"
            raise ConfigError(
                f"{self.data_dir} holds a consortium deployed on {other} (chain id {dep.chain_id}), not on "
                f"{'a geth Clique network' if self.kind == 'clique' else 'the anvil chain'}: nothing was started; "
                "use another --data-dir (or the same --chain as before)"
            )

    def up(self, *, timeout: float = 90.0) -> list[dict[str, Any]]:
        """Start the chain (unless it runs), deploy, register and start the halls. If anything fails, every
        process this call started is stopped again (the chain included) and the error is raised."""
        self._check_chain_kind()
        chain_started = self.chain.up()
        started: list[Path] = []
        try:
            return self._up(timeout, started)
        except BaseException:
            if self.supervise and started:
                supervisor.stop(self.data_dir)  # first, so it does not restart what is stopped next
            for d in started:
                stop_hall(d)
            if chain_started:
                self.chain.down()
            raise

    def _up(self, timeout: float, started: list[Path]) -> list[dict[str, Any]]:
        dep, _ = ensure_deployment(self.chain, suite=self.suite)
        self.deployment = dep
        specs = ensure_halls(self.chain, dep, self.count)
        admin = ChainClient.connect(self.chain.rpc_url, deployment=dep, account=dev_admin())
        self.halls = []
        procs = []
        for n, (h, port) in enumerate(zip(specs, self.hall_ports, strict=True), start=1):
            d = self.hall_dir(n)
            url = f"http://127.0.0.1:{port}"
            if h["endpoint"] != url or admin.hall(int(str(h["hall_id"]))).endpoint != url:
                if admin.hall(int(str(h["hall_id"]))).endpoint != url:
                    admin.set_hall_endpoint(int(str(h["hall_id"])), url)
                desc = json.loads((d / "hall.json").read_text())
                desc.update(endpoint=url, port=port)
                (d / "hall.json").write_text(json.dumps(desc, ensure_ascii=False, indent=2) + "\n")
            rpc_url = self.hall_rpc_url(n)
            if hall_pid(d):
                proc = None  # it runs already
            elif self.supervise:
                proc = None  # the supervisor starts it
                started.append(d)
            else:
                proc = start_hall(d, port=port, rpc_url=rpc_url, env=self.node_env)
                started.append(d)
            procs.append(proc)
            self.halls.append(
                {
                    "n": n,
                    "hall_id": h["hall_id"],
                    "name": h["name"],
                    "district": h["district"],
                    "port": port,
                    "url": url,
                    "dir": str(d),
                    "account": h["account"],
                    "rpc_url": rpc_url,
                    "node": self.hall_node(n),
                }
            )
        for hall in self.halls:
            hall["accounts_file"] = str(Path(hall["dir"]) / "demo-accounts.json")
        if self.supervise:
            self._save()  # the supervisor reads the halls to run from consortium.json
            supervisor.spawn(self.data_dir)
        for hall, proc in zip(self.halls, procs, strict=True):
            wait_healthy(hall["url"], timeout=timeout, proc=proc)
        self._save()
        return self.halls

    def _save(self) -> None:
        state = {
            "chain": self.kind,
            "rpc_url": self.chain.rpc_url,
            "chain_port": self.chain.port if isinstance(self.chain, DevChain) else self.chain.node(1).http_port,
            "supervised": self.supervise,
            "node_env": self.node_env,
            "halls": self.halls,
        }
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, ensure_ascii=False, indent=2) + "\n")
        tmp.replace(self.state_file)

    def down(self) -> None:
        supervisor.stop(self.data_dir)  # first, so nothing restarts the halls being stopped
        for n in range(1, self.count + 1):
            stop_hall(self.hall_dir(n))
        self.chain.down()
        self.state_file.unlink(missing_ok=True)

    def chain_status(self) -> dict[str, Any]:
        if isinstance(self.chain, CliqueNet):
            return self.chain.chain_status()
        return {"kind": "anvil", **self.chain.status()}

    def status(self) -> dict[str, Any]:
        """Chain (every node on Clique), deployment, and per hall its health and the node it uses."""
        chain = self.chain_status()
        dep_file = self.data_dir / "deployment.json"
        out: dict[str, Any] = {"chain": chain, "deployment": None, "halls": []}
        if dep_file.exists():
            try:
                out["deployment"] = Deployment.load(dep_file).model_dump()
            except LedgerError:
                pass
        node_of = {str(nd["rpc_url"]): int(nd["n"]) for nd in chain.get("nodes", [])}
        for h in self.halls:
            entry = {k: h[k] for k in ("n", "hall_id", "name", "district", "url")}
            entry["own_node"] = h.get("node")
            try:
                entry["health"] = httpx.get(h["url"] + "/health", timeout=3).json()
                entry["up"] = True
                entry["rpc_url"] = entry["health"]["chain"]["rpc_url"]
                entry["node"] = node_of.get(entry["rpc_url"])
            except (httpx.HTTPError, ValueError, KeyError, TypeError):
                entry["up"] = False
            entry["supervisor"] = supervisor.read_state(Path(h["dir"]))
            out["halls"].append(entry)
        out["supervisor_pid"] = supervisor.supervisor_pid(self.data_dir)
        return out
