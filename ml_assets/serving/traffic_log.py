"""What each model server scored, written to storage (a folder or an S3 prefix) by the server itself.

On AWS there is no gateway of ours to watch the traffic, so every model-server task writes, per flush:

- a uniform reservoir sample of the records it scored (features and score), one JSON-lines object under
  ``<environment>/<slot>/``; monitoring reads the objects written since its last run (``production_traffic``),
  as it reads the local gateway's sample;
- the outcome of every request it answered (time, status, latency, score), one JSON object of columns under
  ``outcomes/<environment>/<slot>/``; the release analysis reads these, so it sees each request as the local
  gateway's records do, not per-second averages.

Object names start with the flush time, so a reader lists only what was written after a given moment.
"""

from __future__ import annotations

import json
import logging
import random
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from ml_assets.rollout.evidence import Outcomes
from ml_assets.serving.flusher import PeriodicFlusher

log = logging.getLogger(__name__)


class TrafficLog(PeriodicFlusher):
    """Keeps at most ``per_flush`` scored records per flush interval (uniformly) and writes them out."""

    thread_name = "traffic-log"

    def __init__(
        self,
        write: Callable[[str, bytes], None],
        *,
        environment: str,
        slot: str,
        version: str,
        per_flush: int = 500,
        flush_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.write, self.environment, self.slot, self.version = write, environment, slot, version
        self.per_flush, self.flush_seconds, self.clock = per_flush, flush_seconds, clock
        self.items: list[dict[str, Any]] = []
        self.seen = 0
        self.outcomes: dict[str, list] = _empty_columns()
        self.rng = random.Random()
        self.lock = threading.Lock()
        self.host = socket.gethostname()

    def record(self, records: list[dict[str, Any]], scores: list[float]) -> None:
        now = self.clock()
        with self.lock:
            for features, score in zip(records, scores, strict=False):
                self.seen += 1
                item = {"at": now, "slot": self.slot, "version": self.version, "features": features, "score": score}
                if len(self.items) < self.per_flush:
                    self.items.append(item)
                else:
                    index = self.rng.randrange(self.seen)
                    if index < self.per_flush:
                        self.items[index] = item

    def observe(self, status: int, latency_ms: float, score: float | None) -> None:
        """One answered request, whatever its status (the release analysis counts every one)."""
        now = self.clock()
        with self.lock:
            for column, value in (("at", now), ("status", status), ("latency_ms", latency_ms), ("score", score)):
                self.outcomes[column].append(value)

    def flush(self) -> int:
        with self.lock:
            items, seen, self.items, self.seen = self.items, self.seen, [], 0
            outcomes, self.outcomes = self.outcomes, _empty_columns()
        written = self.clock()
        try:
            if outcomes["at"]:
                self.write(
                    outcome_name(self.environment, self.slot, written=written, host=self.host),
                    json.dumps(outcomes).encode(),
                )
            if items:
                name = sample_name(self.environment, self.slot, written=written, host=self.host)
                header = json.dumps({"seen": seen, "kept": len(items)})
                self.write(name, "\n".join([header, *(json.dumps(item) for item in items)]).encode())
        except Exception as error:  # keep serving; this interval's records are lost, the next ones are not
            log.warning("traffic log not written (%s)", error)
            return 0
        return len(items) + len(outcomes["at"])


def _empty_columns() -> dict[str, list]:
    return {"at": [], "status": [], "latency_ms": [], "score": []}


def outcome_prefix(environment: str, slot: str) -> str:
    return f"outcomes/{environment}/{slot}"


def outcome_name(environment: str, slot: str, *, written: float, host: str) -> str:
    return f"{outcome_prefix(environment, slot)}/{written:014.3f}-{host}.json"


def read_outcomes(
    store: Any,
    environment: str,
    slot: str,
    *,
    since: float,
    read: frozenset[str] = frozenset(),
    slack: float = 120.0,
) -> tuple[Outcomes, frozenset[str]]:
    """Outcomes in objects not yet ``read`` and written after ``since`` less ``slack`` (the servers' clocks and the
    reader's need not agree), and the names read so far (the reader's cursor)."""
    prefix = outcome_prefix(environment, slot)
    start_after = f"{prefix}/{max(since - slack, 0):014.3f}"
    fresh = [entry.name for entry in store.list(prefix, start_after=start_after) if entry.name not in read]
    parts = [Outcomes.from_columns(json.loads(store.read(name))) for name in fresh]
    kept = frozenset(name for name in read | set(fresh) if name > start_after)
    return Outcomes.concat(parts).between(since), kept


def sample_name(environment: str, slot: str, *, written: float, host: str) -> str:
    """Names sort by time (a zero-padded timestamp first), so a reader lists only the objects after a moment."""
    return f"{environment}/{slot}/{written:014.3f}-{host}.jsonl"


def read_traffic(store: Any, environment: str, since: float, limit: int = 5000, seed: int = 0) -> dict[str, Any]:
    """Items written under ``environment`` after ``since`` (a uniform sample of at most ``limit``), as the gateway's
    sample answers: {"seen": requests scored, "items": [...]}. Only the objects written after ``since`` are listed
    (StartAfter) and read one at a time into a reservoir, so memory holds ``limit`` items however long the log."""
    reservoir: list[dict[str, Any]] = []
    offered = seen = 0
    rng = random.Random(seed)
    for slot_dir in ("blue", "green"):
        after = sample_name(environment, slot_dir, written=since, host="~")  # "~" sorts after any host name
        for entry in store.list(f"{environment}/{slot_dir}", start_after=after):
            written = float(entry.name.rsplit("/", 1)[-1].split("-", 1)[0])
            if written <= since:
                continue
            lines = store.read(entry.name).decode().splitlines()
            seen += json.loads(lines[0])["seen"]
            for line in lines[1:]:
                offered += 1
                if len(reservoir) < limit:
                    reservoir.append(json.loads(line))
                elif (index := rng.randrange(offered)) < limit:
                    reservoir[index] = json.loads(line)
    return {"seen": seen, "items": reservoir}
