"""Replay held-out records against an endpoint on loopback: at a fixed rate (open loop) or at a fixed
concurrency (closed loop), always bounded in requests and time. Used by releases, load tests and benchmarks."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import numpy as np
import orjson

from ml_assets.serving.addresses import is_loopback_url


@dataclass
class ReplayResult:
    sent: int = 0
    failed: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> dict[str, float]:
        lat = np.asarray(self.latencies_ms) if self.latencies_ms else np.zeros(1)
        return {
            "requests": self.sent,
            "failed": self.failed,
            "success_rate": (self.sent - self.failed) / self.sent if self.sent else 0.0,
            "throughput_rps": self.sent / self.seconds if self.seconds else 0.0,
            "p50_ms": float(np.percentile(lat, 50)),
            "p95_ms": float(np.percentile(lat, 95)),
            "p99_ms": float(np.percentile(lat, 99)),
        }


async def _send(
    session: aiohttp.ClientSession, url: str, body: bytes, result: ReplayResult, headers: dict[str, str]
) -> None:
    started = time.perf_counter()
    status = 0
    try:
        async with session.post(url, data=body, headers={"Content-Type": "application/json", **headers}) as response:
            await response.read()
            status = response.status
    except (TimeoutError, aiohttp.ClientError):
        status = 0
    result.sent += 1
    result.statuses[status] = result.statuses.get(status, 0) + 1
    if status == 200:
        result.latencies_ms.append((time.perf_counter() - started) * 1000)
    else:
        result.failed += 1


def _payloads(records: list[Any], batch: int) -> list[bytes]:
    if batch <= 1:
        return [orjson.dumps(r) for r in records]
    return [orjson.dumps(records[i : i + batch]) for i in range(0, max(len(records) - batch + 1, 1), batch)]


async def replay(
    url: str,
    records: list[Any],
    *,
    rate: float | None = None,
    concurrency: int = 16,
    max_requests: int = 1000,
    max_seconds: float = 60.0,
    batch: int = 1,
    stop: threading.Event | None = None,
    headers: dict[str, str] | None = None,
    request_timeout: float = 10.0,
) -> ReplayResult:
    """Send records (cycling) until ``max_requests`` or ``max_seconds``; ``rate`` requests/s or closed loop. A
    request not answered within ``request_timeout`` seconds (waiting for a connection included) counts as failed."""
    headers = headers or {}
    if not is_loopback_url(url):
        raise ValueError(f"replay only targets http:// on a loopback address (127.0.0.0/8, ::1, localhost), got {url}")
    payloads = _payloads(records, batch)
    result = ReplayResult()
    timeout = aiohttp.ClientTimeout(total=request_timeout)
    started = time.perf_counter()
    deadline = started + max_seconds
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=concurrency * 2)) as session:
        if rate:
            pending: set[asyncio.Task] = set()
            for i in range(max_requests):
                due = started + i / rate
                now = time.perf_counter()
                if due > deadline or (stop is not None and stop.is_set()):
                    break
                if due > now:
                    await asyncio.sleep(due - now)
                task = asyncio.create_task(_send(session, url, payloads[i % len(payloads)], result, headers))
                pending.add(task)
                task.add_done_callback(pending.discard)
            if pending:
                await asyncio.wait(pending, timeout=request_timeout + 5)
        else:
            counter = iter(range(max_requests))

            async def worker() -> None:
                for i in counter:
                    if time.perf_counter() > deadline or (stop is not None and stop.is_set()):
                        return
                    await _send(session, url, payloads[i % len(payloads)], result, headers)

            await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = time.perf_counter() - started
    return result


class BackgroundReplay:
    """Replay traffic from a thread while a release runs; bounded, and stopped on exit."""

    def __init__(
        self,
        url: str,
        records: list[Any],
        *,
        rate: float,
        max_seconds: float,
        max_requests: int,
        headers: dict[str, str] | None = None,
        request_timeout: float = 10.0,
    ) -> None:
        self.stop = threading.Event()
        self.join_seconds = request_timeout + 20
        self.result: ReplayResult | None = None
        self._thread = threading.Thread(
            target=lambda: setattr(
                self,
                "result",
                asyncio.run(
                    replay(
                        url,
                        records,
                        rate=rate,
                        max_requests=max_requests,
                        max_seconds=max_seconds,
                        stop=self.stop,
                        headers=headers,
                        request_timeout=request_timeout,
                    )
                ),
            ),
            daemon=True,
        )

    def __enter__(self) -> BackgroundReplay:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self._thread.join(timeout=self.join_seconds)
