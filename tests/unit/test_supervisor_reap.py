"""The supervisor names how a hall it started ended, also for a killed multi-threaded process."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from ledger.dev.supervisor import Supervisor, process_alive

THREADS = """
import threading, time
for _ in range(64):
    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
print("ready", flush=True)
time.sleep(60)
"""


def test_a_killed_multithreaded_child_is_named_killed_by_sigkill_regression(tmp_path: Path) -> None:
    """A clean-clone run logged "exited (status unknown: not a child of the supervisor)" for a hall the supervisor
    had started and the test had killed with SIGKILL: the process already showed as a zombie while its threads
    were exiting, and a non-blocking wait found nothing to reap yet."""
    sup = Supervisor(tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", THREADS], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
    sup.children[proc.pid] = proc
    proc.send_signal(signal.SIGKILL)
    deadline = time.monotonic() + 10
    while process_alive(proc.pid):  # what the supervisor's round sees first
        assert time.monotonic() < deadline, "the killed child never stopped"
        time.sleep(0.001)
    assert sup._exit_status(proc.pid) == -signal.SIGKILL
    assert proc.pid not in sup.children
