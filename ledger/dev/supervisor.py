"""Supervisor of a local consortium's hall processes: a hall that dies is started again.

``caseledger up`` runs one supervisor per data directory (``python -m ledger.dev.supervisor DATA_DIR``,
in its own session, so it outlives the command). It starts every hall listed in
``<data_dir>/consortium.json`` that is not running and then watches them::

    <data_dir>/supervisor.pid      the supervisor's process id
    <data_dir>/supervisor.log      what it did: starts, exits (code or signal), restarts, give-ups
    <hall_dir>/supervisor.json     per hall: state, restarts, last exit, next restart time

**The pid file is the intent.** A hall whose ``node.pid`` names a dead process was meant to run: it is
restarted. :func:`ledger.dev.localnet.stop_hall` removes ``node.pid`` *before* it signals the process,
so a hall stopped on purpose (``caseledger down``, ``caseledger hall rotate-key``) stays stopped; a hall
started by someone else (a new ``node.pid``) is adopted and watched.

Restarts back off exponentially (1 s, 2 s, 4 s … at most :data:`MAX_BACKOFF`); a hall that had to be
restarted :data:`MAX_RESTARTS` times within :data:`WINDOW` seconds is given up on (state ``failed``,
logged; ``caseledger status`` shows it) instead of being restarted in a tight loop. A hall that stayed
up for :data:`STABLE_AFTER` seconds starts its back-off afresh.

On a geth Clique network (``caseledger up --chain clique``) each hall is started with its own endpoint
list (``rpc_url`` of its entry in ``consortium.json``), and every round also restarts the nodes'
sealing if the chain stalled (:meth:`ledger.dev.clique.CliqueNet.kick_if_stalled`).

The production profile does the same with systemd (``Restart=on-failure``, see
:meth:`ledger.network.besu.BesuNetwork.hall_unit`).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "MAX_BACKOFF",
    "MAX_RESTARTS",
    "STATE_FILE",
    "HallWatch",
    "Supervisor",
    "process_alive",
    "read_state",
    "spawn_detached",
    "supervisor_pid",
]

STATE_FILE = "supervisor.json"
PID_FILE = "supervisor.pid"
LOG_FILE = "supervisor.log"
MAX_BACKOFF = 30.0
MAX_RESTARTS = 10
WINDOW = 600.0
STABLE_AFTER = 60.0
POLL = 0.5
REAP_TIMEOUT = 5.0
"""how long a gone hall's exit status is waited for (its threads still exiting)"""

log = logging.getLogger("caseledger.supervisor")


def process_alive(pid: int) -> bool:
    """The process exists and is not a zombie (a killed child its parent has not reaped yet)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc: trust kill(0)
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


_alive = process_alive


def spawn_detached(argv: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own session (it outlives the caller), output appended to ``log`` (mode 0600)."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        return subprocess.Popen(
            argv, env=env, stdin=subprocess.DEVNULL, stdout=fd, stderr=subprocess.STDOUT, start_new_session=True
        )
    finally:
        os.close(fd)


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def supervisor_pid(data_dir: Path) -> int | None:
    """The running supervisor of ``data_dir``, if any."""
    pid = _read_pid(data_dir / PID_FILE)
    return pid if pid is not None and _alive(pid) else None


def read_state(hall_dir: Path) -> dict[str, Any] | None:
    """What the supervisor says about the hall in ``hall_dir`` (``supervisor.json``), if it watches it."""
    try:
        data: dict[str, Any] = json.loads((hall_dir / STATE_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return data


@dataclass
class HallWatch:
    """One watched hall. ``recent``: times of the restarts inside the current window."""

    n: int
    dir: str
    port: int
    state: str = "starting"  # running | backoff | failed | stopped
    restarts: int = 0
    last_exit: str | None = None
    last_exit_at: float | None = None
    next_restart_at: float | None = None
    pid: int | None = None
    started_at: float | None = None
    recent: list[float] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("recent")
        return out


def _describe(returncode: int | None) -> str:
    if returncode is None:
        return "exited (status unknown: not a child of the supervisor)"
    if returncode < 0:
        try:
            return f"killed by signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exited with code {returncode}"


class Supervisor:
    """Keeps the halls of one local consortium running (see the module docstring)."""

    def __init__(self, data_dir: Path, *, clock: Any = time.time) -> None:
        self.data_dir = data_dir
        self.clock = clock
        self.watches: dict[int, HallWatch] = {}
        self.children: dict[int, subprocess.Popen[bytes]] = {}
        self._stop = False
        self._clique: Any = None  # the CliqueNet of a clique consortium, once loaded
        self._clique_checked = 0.0

    # ------------------------------------------------------------------ consortium.json
    def _consortium(self) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads((self.data_dir / "consortium.json").read_text())
        except (FileNotFoundError, ValueError):
            return None
        return data

    def _save(self, w: HallWatch) -> None:
        path = Path(w.dir) / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(w.public(), indent=1) + "\n")
        tmp.replace(path)

    # ------------------------------------------------------------------ one round
    def _start(self, w: HallWatch, cons: dict[str, Any]) -> None:
        from ledger.dev.localnet import start_hall

        own = next((h.get("rpc_url") for h in cons.get("halls", []) if int(h["n"]) == w.n), None)
        rpc_url = str(own or cons["rpc_url"])  # a Clique hall: its own node first, the others after
        proc = start_hall(Path(w.dir), port=w.port, rpc_url=rpc_url, env=cons.get("node_env") or {})
        self.children[proc.pid] = proc
        w.pid, w.started_at, w.state, w.next_restart_at = proc.pid, self.clock(), "running", None
        log.info("hall %d: started (pid %d)", w.n, proc.pid)

    def _exit_status(self, pid: int) -> int | None:
        """The exit status of a hall that is gone, if it was this supervisor's child (else None).

        A killed multi-threaded process shows as a zombie before its last thread has exited, and until then
        ``waitpid(WNOHANG)`` reports nothing: the child is waited for, a few seconds at most."""
        proc = self.children.pop(pid, None)
        if proc is None:
            return None
        try:
            return proc.wait(timeout=REAP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.children[pid] = proc  # reaped by a later round's poll
            return None

    def round(self) -> bool:
        """Check every hall once; False when the consortium is gone (``consortium.json`` removed)."""
        cons = self._consortium()
        if cons is None:
            return False
        if cons.get("chain") == "clique":
            self._watch_clique()
        for child in list(self.children.values()):
            child.poll()  # reap: a dead child must not linger as a zombie
        now = self.clock()
        for h in cons.get("halls", []):
            n = int(h["n"])
            w = self.watches.get(n)
            if w is None:
                w = self.watches[n] = HallWatch(n=n, dir=str(h["dir"]), port=int(h["port"]))
            before = w.public()
            pid = _read_pid(Path(w.dir) / "node.pid")
            if pid is None:
                if w.state == "starting":  # not running yet: the supervisor starts it
                    self._start(w, cons)
                elif w.state not in ("failed",):
                    w.state = "stopped"  # stopped on purpose (stop_hall removed the pid file)
            elif _alive(pid):
                if w.state != "running" or w.pid != pid:
                    log.info("hall %d: running (pid %d)", n, pid)
                w.state, w.pid = "running", pid
                w.started_at = w.started_at or now
                if w.recent and now - (w.started_at or now) > STABLE_AFTER:
                    w.recent.clear()  # stayed up: the next crash starts the back-off afresh
            elif w.state in ("running", "starting", "stopped"):
                code = self._exit_status(pid)
                w.last_exit, w.last_exit_at = _describe(code), now
                w.recent = [t for t in w.recent if now - t < WINDOW]
                if len(w.recent) >= MAX_RESTARTS:
                    w.state, w.next_restart_at = "failed", None
                    log.error(
                        "hall %d: %s; restarted %d times in %.0f s, giving up (see %s/node.log)",
                        n,
                        w.last_exit,
                        len(w.recent),
                        WINDOW,
                        w.dir,
                    )
                else:
                    delay = min(MAX_BACKOFF, 2.0 ** len(w.recent))
                    w.state, w.next_restart_at = "backoff", now + delay
                    log.warning("hall %d: %s; restarting in %.0f s", n, w.last_exit, delay)
            elif w.state == "backoff" and w.next_restart_at is not None and now >= w.next_restart_at:
                w.recent.append(now)
                w.restarts += 1
                self._start(w, cons)
                log.info("hall %d: restart %d", n, w.restarts)
            if w.public() != before:
                self._save(w)
        return True

    def _watch_clique(self) -> None:
        from ledger.dev.clique import CliqueNet
        from ledger.errors import LedgerError

        now = time.monotonic()
        if now - self._clique_checked < 2.0:
            return
        self._clique_checked = now
        if self._clique is None:
            logging.getLogger("httpx").setLevel(logging.WARNING)  # its probes every 2 s are not news for the log
            self._clique = CliqueNet.load(self.data_dir)
        if self._clique is None:
            return
        try:
            self._clique.kick_if_stalled()  # at most once per four block periods
        except LedgerError as exc:
            log.warning("Clique network: %s", exc)

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, self._on_term)
        (self.data_dir / PID_FILE).write_text(str(os.getpid()))
        log.info("supervisor of %s running (pid %d)", self.data_dir, os.getpid())
        try:
            while not self._stop and self.round():
                time.sleep(POLL)
        finally:
            if _read_pid(self.data_dir / PID_FILE) == os.getpid():
                (self.data_dir / PID_FILE).unlink(missing_ok=True)
            log.info("supervisor of %s stopped", self.data_dir)

    def _on_term(self, *_: object) -> None:
        self._stop = True


def spawn(data_dir: Path) -> int:
    """Start the supervisor of ``data_dir`` in the background (its own session); returns its pid."""
    running = supervisor_pid(data_dir)
    if running is not None:
        return running
    proc = spawn_detached([sys.executable, "-m", "ledger.dev.supervisor", str(data_dir)], data_dir / LOG_FILE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _read_pid(data_dir / PID_FILE) != proc.pid:
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    return proc.pid


def stop(data_dir: Path, *, timeout: float = 10.0) -> bool:
    """Stop the supervisor of ``data_dir`` (the halls keep running until they are stopped themselves)."""
    pid = supervisor_pid(data_dir)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    (data_dir / PID_FILE).unlink(missing_ok=True)
    return True


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m ledger.dev.supervisor DATA_DIR", file=sys.stderr)
        sys.exit(2)
    os.umask(0o077)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    Supervisor(Path(args[0])).run()


if __name__ == "__main__":
    main()
