"""Time for the release engine, injectable so that strategy tests run in milliseconds."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod


class Clock(ABC):
    """Where the engine reads the time and waits."""

    @abstractmethod
    def now(self) -> float:
        """Seconds since the epoch."""

    @abstractmethod
    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""


class SystemClock(Clock):
    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class FakeClock(Clock):
    """A clock that jumps instead of sleeping; ``on_sleep`` lets a test generate traffic for the slept time."""

    def __init__(self, start: float = 1_700_000_000.0, on_sleep=None) -> None:
        self.t = start
        self.on_sleep = on_sleep

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        before = self.t
        self.t += seconds
        if self.on_sleep is not None:
            self.on_sleep(before, self.t)
