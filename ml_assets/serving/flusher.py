"""A background thread that calls ``flush`` every ``flush_seconds`` and once more on stop (the app's lifespan)."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod


class PeriodicFlusher(ABC):
    flush_seconds: float = 10.0
    thread_name: str = "flusher"

    @abstractmethod
    def flush(self) -> int:
        """Send what was collected since the last flush; returns how many items went out."""

    def start(self) -> None:
        self._stopped = threading.Event()

        def loop() -> None:
            while not self._stopped.wait(self.flush_seconds):
                self.flush()

        self._thread = threading.Thread(target=loop, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and send what is left, so a server shutting down loses nothing."""
        if getattr(self, "_thread", None) is not None:
            self._stopped.set()
            self._thread.join(timeout=5)
        self.flush()
