"""SQLite's WAL checkpoints, taken off the thread that writes the results store.

A checkpoint copies the write-ahead log into the database file and syncs the file: tens of milliseconds
on a quiet disk, far more on a busy or remote one. SQLite runs one inside the COMMIT that fills the log
past its threshold, and the engine commits on its event loop, so every check in flight would wait for
the disk. The store's connection turns those automatic checkpoints off, and ``Checkpointer`` takes them
on a thread and a connection of its own, soon after writes and at most every ``CHECKPOINT_EVERY_S``.
Its checkpoints are PASSIVE: they never wait for a reader or a writer, nor hold one up.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

CHECKPOINT_EVERY_S = 1.0
log = logging.getLogger(__name__)


class Checkpointer:
    """A daemon thread that checkpoints ``path``'s log after ``wrote()``; started by the first write."""

    def __init__(self, path: Path, every_s: float = CHECKPOINT_EVERY_S) -> None:
        self.path = path
        self.every_s = every_s
        self.checkpoints = 0
        """Checkpoints taken so far."""
        self._due = threading.Event()
        self._closed = threading.Event()
        self._idle = threading.Condition()
        self._running = False
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def wrote(self) -> None:
        """A transaction was committed: checkpoint soon."""
        if self._closed.is_set():
            return
        if self._thread is None:
            with self._start_lock:
                if self._thread is None and not self._closed.is_set():
                    self._thread = threading.Thread(
                        target=self._run, name=f"opsdash checkpoints {self.path.name}", daemon=True
                    )
                    self._thread.start()
        self._due.set()

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no checkpoint is due or running; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: not (self._due.is_set() or self._running), timeout_s)

    def close(self, timeout_s: float = 2.0) -> None:
        """Stop the thread, waiting up to ``timeout_s`` for a checkpoint in progress (a hung disk is left
        to the daemon thread)."""
        self._closed.set()
        self._due.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self.path, check_same_thread=True)
        except sqlite3.Error as exc:
            log.warning("cannot open %s to checkpoint its log (%s); the log will grow", self.path, exc)
            return
        try:
            while True:
                self._due.wait()
                if self._closed.is_set():
                    return
                with self._idle:
                    self._running = True
                    self._due.clear()
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.checkpoints += 1
                except sqlite3.Error as exc:
                    log.debug("checkpoint of %s failed: %s", self.path, exc)
                with self._idle:
                    self._running = False
                    self._idle.notify_all()
                if self._closed.wait(self.every_s):
                    return
        finally:
            conn.close()
