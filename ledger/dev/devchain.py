"""The local development chain: an anvil node (npm ``@foundry-rs/anvil``) on 127.0.0.1.

State is persisted in ``<data_dir>/chain/state.json`` (anvil ``--state``), so stopping and starting
keeps every case; a crash loses the blocks after anvil's last periodic dump (about every 60 s).
Blocks are mined on an interval (``--block-time``), the way a production QBFT
network produces them.

    chain = DevChain(data_dir)
    chain.up()            # idempotent: reuses a running node
    chain.status()        # {"running": True, "block": 42, ...}
    chain.down()
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.chain.client import wait_for_rpc
from ledger.errors import ChainUnavailableError, ConfigError

__all__ = ["DEV_ADMIN_KEY", "DEV_CHAIN_ID", "DevChain", "anvil_binary", "dev_admin", "free_port", "source_checkout"]

# Account 0 of the public test mnemonic ("test test ... junk"): dev chains only.
DEV_ADMIN_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
DEV_CHAIN_ID = 31337


def dev_admin() -> LocalAccount:
    acct: LocalAccount = Account.from_key(DEV_ADMIN_KEY)
    return acct


_PORTS_GIVEN: set[int] = set()


def _ephemeral_low() -> int:
    """The lowest port the kernel hands to outgoing connections (Linux: net.ipv4.ip_local_port_range)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (for temporary chains and hall nodes).

    It is taken below the kernel's range for outgoing connections, so no client connection of a running test
    takes it before the server binds (a port the kernel handed out with ``bind(0)`` could be), and never the
    same port twice in one process."""
    low = _ephemeral_low()
    rng = random.SystemRandom()
    if low > 12000:
        for _ in range(500):
            port = rng.randint(low - 10000, low - 1)
            if port in _PORTS_GIVEN:
                continue
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _PORTS_GIVEN.add(port)
            return port
    for _ in range(500):  # no room below the range: the kernel's choice, still never twice
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _PORTS_GIVEN:
            _PORTS_GIVEN.add(port)
            return port
    raise ConfigError("no free TCP port on 127.0.0.1 for a local test server")


def source_checkout() -> Path | None:
    """The CaseLedger source checkout this package runs from (an editable install), or ``None``.

    Only development tooling needs it: the anvil binary that ``npm install`` puts under
    ``node_modules/``. Everything the library itself reads (contract artifacts, the catalogue) is
    package data and loads through :mod:`importlib.resources` from any install.
    """
    root = Path(__file__).resolve().parents[2]
    return root if (root / "package.json").is_file() and (root / "contracts").is_dir() else None


def anvil_binary() -> str:
    """Path of the anvil executable: ``$CASELEDGER_ANVIL``, the source checkout's node_modules, or PATH."""
    env = os.environ.get("CASELEDGER_ANVIL")
    candidates = [env] if env else []
    root = source_checkout()
    nm = root / "node_modules" / "@foundry-rs" if root is not None else None
    candidates += [str(p / "bin" / "anvil") for p in sorted(nm.glob("anvil-*"))] if nm and nm.exists() else []
    candidates.append(shutil.which("anvil") or "")
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return c
    if root is None:
        raise ConfigError(
            "anvil is not installed: the dev chain needs a CaseLedger source checkout (`make setup` installs "
            "@foundry-rs/anvil under node_modules/), an anvil on PATH, or CASELEDGER_ANVIL naming one"
        )
    raise ConfigError("anvil is not installed: run `make setup` (npm install puts @foundry-rs/anvil in node_modules/)")


@dataclass
class DevChain:
    data_dir: Path
    port: int = 8545
    block_time: float = 1.0
    host: str = "127.0.0.1"
    # anvil writes the state when it stops and, with --state, also every 60 s on its own (anvil 1.7.1:
    # a kill -9 at block 142 came back at block 120, its dump of 22 s before). A crashed dev chain thus
    # comes back behind; the halls notice and re-anchor what vanished (ledger.hall.anchorwatch, the
    # indexer's checkpoints). state_interval > 0 sets another period (--state-interval); 0 keeps anvil's.
    # (Shorter periodic dumps were seen to drop transactions from the pool under load.)
    state_interval: int = 0
    # False: no --state at all (a throw-away chain; a long one's periodic dumps would rewrite a file of
    # gigabytes every minute)
    persist: bool = True

    @property
    def rpc_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def dir(self) -> Path:
        return self.data_dir / "chain"

    @property
    def pid_file(self) -> Path:
        return self.dir / "anvil.pid"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    def up(self, *, timeout: float = 30.0) -> bool:
        """Start anvil in the background unless it is already running; True if it was started."""
        if self.pid() is not None:
            wait_for_rpc(self.rpc_url, timeout=timeout)
            return False
        self.dir.mkdir(parents=True, exist_ok=True)
        state = self.dir / "state.json"
        bt = str(int(self.block_time)) if float(self.block_time).is_integer() else str(self.block_time)
        cmd = [
            anvil_binary(),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--chain-id",
            str(DEV_CHAIN_ID),
            "--block-time",
            bt,
            *(["--state", str(state)] if self.persist else []),
            *(["--state-interval", str(self.state_interval)] if self.state_interval and self.persist else []),
            "--base-fee",
            "0",  # like the production profile (Besu zeroBaseFee): gas is free, fees never climb
            "--silent",
        ]
        log = open(self.dir / "anvil.log", "ab")  # noqa: SIM115 - handed to the child process
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.pid_file.write_text(str(proc.pid))
        try:
            wait_for_rpc(self.rpc_url, timeout=timeout)
        except ChainUnavailableError:
            if proc.poll() is not None:
                tail = (self.dir / "anvil.log").read_text(errors="replace")[-500:]
                raise ChainUnavailableError(f"anvil exited at start (port {self.port} in use?): {tail}") from None
            raise
        return True

    def down(self, *, timeout: float = 15.0) -> bool:
        """Stop anvil (it writes its state on the way out); True if one was running."""
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            _reap(pid)
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
        _reap(pid)
        self.pid_file.unlink(missing_ok=True)
        return True

    def status(self) -> dict[str, object]:
        from ledger.chain.client import ChainClient

        pid = self.pid()
        info: dict[str, object] = {"running": pid is not None, "pid": pid, "rpc_url": self.rpc_url}
        if pid is not None:
            client = ChainClient.connect(self.rpc_url, timeout=3)
            try:
                info["block"] = client.block_number()
                info["chain_id"] = client.chain_id()
            except ChainUnavailableError:
                info["running"] = False
        return info


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
