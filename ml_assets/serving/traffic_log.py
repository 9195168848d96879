"""A sample of scored requests written to storage (a folder or an S3 prefix) by each model server.

On AWS there is no gateway of ours to keep a sample, so every model-server task keeps a uniform reservoir of the
records it scored and writes it as one JSON-lines object per flush, under ``<environment>/<slot>/``. Monitoring
reads the objects written since its last run (``production_traffic``), as it reads the local gateway's sample.
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

from ml_assets.serving.flusher import PeriodicFlusher

log = logging.getLogger(__name__)


class TrafficLog(PeriodicFlusher):
    """Keeps at most ``per_flush`` scored records per flush interval (uniformly) and writes them out."""

    thread_name = "traffic-log"

    def __init__(
        self,
        write: Callable[[str, bytes], None],
        environment: str,
        slot: str,
        version: str,
        per_flush: int = 500,
        flush_seconds: float = 60.0,
    ) -> None:
        self.write, self.environment, self.slot, self.version = write, environment, slot, version
        self.per_flush, self.flush_seconds = per_flush, flush_seconds
        self.items: list[dict[str, Any]] = []
        self.seen = 0
        self.rng = random.Random()
        self.lock = threading.Lock()
        self.host = socket.gethostname()

    def record(self, records: list[dict[str, Any]], scores: list[float]) -> None:
        now = time.time()
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

    def flush(self) -> int:
        with self.lock:
            items, seen, self.items, self.seen = self.items, self.seen, [], 0
        if not items:
            return 0
        name = f"{self.environment}/{self.slot}/{time.time():.3f}-{self.host}.jsonl"
        header = json.dumps({"seen": seen, "kept": len(items)})
        body = "\n".join([header, *(json.dumps(item) for item in items)]).encode()
        try:
            self.write(name, body)
        except Exception as error:  # keep serving; this interval's sample is lost, the next one is not
            log.warning("traffic sample not written (%s)", error)
            return 0
        return len(items)


def read_traffic(store: Any, environment: str, since: float, limit: int = 5000) -> dict[str, Any]:
    """Items written under ``environment`` after ``since`` (a uniform subsample of ``limit``), as the gateway's
    sample answers: {"seen": requests scored, "items": [...]}."""
    items: list[dict[str, Any]] = []
    seen = 0
    for slot_dir in ("blue", "green"):
        for entry in store.list(f"{environment}/{slot_dir}"):
            written = float(entry.name.rsplit("/", 1)[-1].split("-", 1)[0])
            if written <= since:
                continue
            lines = store.read(entry.name).decode().splitlines()
            seen += json.loads(lines[0])["seen"]
            items += [json.loads(line) for line in lines[1:]]
    if len(items) > limit:
        items = random.Random(0).sample(items, limit)
    return {"seen": seen, "items": items}
