"""The background-thread life cycle shared by the node's workers (outbox sender, indexer, transfers, audit).

A subclass names its thread and implements :meth:`_loop`, which runs until ``self._stop`` is set and
waits on ``self._wake`` (or ``self._stop``) between rounds::

    class Pinger(BackgroundWorker):
        thread_name = "pinger"

        def _loop(self) -> None:
            while not self._stop.wait(1.0):
                ping()
"""

from __future__ import annotations

import threading

__all__ = ["BackgroundWorker"]


class BackgroundWorker:
    thread_name = "worker"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (a running worker is left as it is); a stopped worker starts again, its state kept."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._wake.clear()
        self._thread = threading.Thread(target=self._loop, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self) -> None:
        """Start the next round now instead of after the wait."""
        self._wake.set()

    def _loop(self) -> None:
        raise NotImplementedError
