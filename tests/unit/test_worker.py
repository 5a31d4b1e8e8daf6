"""The background-thread life cycle every node worker shares (ledger/hall/worker.py)."""

from __future__ import annotations

import threading

from ledger.hall.worker import BackgroundWorker


class _Rounds(BackgroundWorker):
    thread_name = "rounds"

    def __init__(self) -> None:
        super().__init__()
        self.rounds = 0
        self.ran = threading.Event()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.rounds += 1
            self.ran.set()
            self._wake.wait(5)
            self._wake.clear()


def test_a_stopped_worker_starts_again_and_a_running_one_is_not_started_twice() -> None:
    w = _Rounds()
    w.start()
    assert w.ran.wait(5)
    first = w._thread
    w.start()  # already running: the same thread, not a second one
    assert w._thread is first
    w.stop()
    assert first is not None and not first.is_alive()
    w.ran.clear()
    w.start()  # stopped: runs again, with its state
    assert w.ran.wait(5) and w._thread is not first and w.rounds >= 2
    w.stop()
    assert not w._thread.is_alive()
