"""The benchmarks' load generator, always in a process of its own: a generator sharing a process with the
benchmark (its trained models, its data, its imports) pauses with that process's garbage collector and counts the
pause as the server's latency (benchmarks/serving_tail.py measures it).

Open loop at a rate (requests due on a clock: the offer does not slow down with the server) or closed loop at a
concurrency, bounded in time; each request goes to a target drawn by weight. Every request's outcome is kept:
target, wall time, status (0: no answer within the timeout), the client's latency, and the Server-Timing metrics
the answer carried (``app``: the model server's own work; through the gateway also ``gateway`` and ``upstream``).
It imports aiohttp, orjson, numpy and ml_assets' address check (to refuse anything but loopback).

    load = Load(targets={url: 100}, seconds=6, rate=100)
    outcomes = generate(load, bodies)        # in a child process; all traffic to 127.0.0.1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

TIMINGS = ("app", "gateway", "upstream")


@dataclass(frozen=True)
class Load:
    """What to send: ``targets`` maps URLs to weights; ``rate`` requests/s (open loop) or, without a rate,
    ``concurrency`` requests at a time (closed loop), for ``seconds``."""

    targets: dict[str, int]
    seconds: float
    rate: float | None = None
    concurrency: int = 16
    timeout: float = 10.0
    first_score: bool = False  # parse each answer's first probability (the flood's release analysis needs it)

    def __post_init__(self) -> None:
        from ml_assets.serving.addresses import is_loopback_url

        remote = [url for url in self.targets if not is_loopback_url(url)]
        if remote:
            raise ValueError(f"the load generator only targets http:// on a loopback address, got {remote[0]}")


def _timings(header: str | None) -> list[float]:
    values = dict.fromkeys(TIMINGS, float("nan"))
    for metric in (header or "").split(","):
        name, _, params = metric.strip().partition(";")
        if name in values and params.startswith("dur="):
            values[name] = float(params[4:])
    return [values[name] for name in TIMINGS]


def _first_score(payload: bytes) -> float | None:
    import orjson

    answer = orjson.loads(payload)
    if "probability" in answer:
        return answer["probability"]
    first = answer["predictions"][0]
    return first["probability"] if isinstance(first, dict) else first


async def _run(load: Load, bodies: list[bytes]) -> dict:
    import aiohttp

    urls = list(load.targets)
    shares = np.asarray([load.targets[url] for url in urls], dtype=float)
    shares /= shares.sum()
    rng = np.random.default_rng(0)
    rows: list[list] = []

    async def send(session: aiohttp.ClientSession, target: int, body: bytes) -> None:
        started = time.perf_counter()
        status, header, score = 0, None, None
        try:
            async with session.post(urls[target], data=body, headers={"Content-Type": "application/json"}) as answer:
                payload = await answer.read()
                status, header = answer.status, answer.headers.get("Server-Timing")
                if load.first_score and status == 200:
                    score = _first_score(payload)
        except (TimeoutError, aiohttp.ClientError):
            pass
        latency = (time.perf_counter() - started) * 1000
        rows.append([target, time.time(), status, latency, *_timings(header), score])

    timeout = aiohttp.ClientTimeout(total=load.timeout)
    connector = aiohttp.TCPConnector(limit=512 if load.rate else load.concurrency)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        begun = time.perf_counter()
        if load.rate:
            pending: set[asyncio.Task] = set()
            sent = 0
            while (elapsed := time.perf_counter() - begun) < load.seconds:
                due = int(elapsed * load.rate) + 1 - sent  # catch up when late
                for target in rng.choice(len(urls), size=max(due, 0), p=shares):
                    task = asyncio.create_task(send(session, int(target), bodies[sent % len(bodies)]))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
                    sent += 1
                await asyncio.sleep(min(0.002, 1 / load.rate))
            window = time.perf_counter() - begun  # rates are over the sending, not the wait for the last answers
            if pending:
                await asyncio.wait(pending, timeout=load.timeout + 5)
        else:
            counter = iter(range(10**9))

            async def worker() -> None:
                for i in counter:
                    if time.perf_counter() - begun >= load.seconds:
                        return
                    await send(session, int(rng.choice(len(urls), p=shares)), bodies[i % len(bodies)])

            await asyncio.gather(*(worker() for _ in range(load.concurrency)))
            sent, window = len(rows), time.perf_counter() - begun
    return {"seconds": window, "offered_rps": sent / window, "rows": rows}


@dataclass
class Outcomes:
    """Every request's outcome, as columns: target, at, status, latency_ms, app_ms, gateway_ms, upstream_ms, score;
    ``seconds`` is how long requests were being sent (open loop: the wait for the last answers is not in it)."""

    seconds: float
    offered_rps: float
    rows: list[list]

    def column(self, name: str, target: int | None = None, ok_only: bool = False) -> np.ndarray:
        index = ["target", "at", "status", "latency_ms", *(f"{t}_ms" for t in TIMINGS), "score"].index(name)
        return np.asarray(
            [
                row[index]
                for row in self.rows
                if (target is None or row[0] == target) and (not ok_only or row[2] == 200)
            ],
            dtype=float,
        )

    def summary(self) -> dict[str, float | dict[str, int]]:
        """Requests, answers by status, success rate, successful answers per second, and latency quantiles of the
        successful answers (ms)."""
        statuses: dict[str, int] = {}
        for row in self.rows:
            statuses[str(row[2])] = statuses.get(str(row[2]), 0) + 1
        ok = statuses.get("200", 0)
        latency = self.column("latency_ms", ok_only=True)
        quantiles = {f"p{q}_ms": float(np.percentile(latency, q)) if ok else float("nan") for q in (50, 99)}
        return {
            "requests": len(self.rows),
            "statuses": statuses,
            "errors": len(self.rows) - ok,
            "success_rate": ok / len(self.rows) if self.rows else 0.0,
            "ok_rps": ok / self.seconds,
            "offered_rps": self.offered_rps,
            **quantiles,
            "max_ms": float(latency.max()) if ok else float("nan"),
        }

    def tail(self, quantile: float = 99) -> dict[str, float]:
        """Where the slowest answers (at or above the quantile) spent their time, medians in ms: the model's work
        (``app``), the model server beyond it and the hop to it (``upstream - app``), the gateway's own share
        (``gateway - upstream``: routing, reading the body, checking the answer) and what the client saw beyond the
        gateway (``latency - gateway``: the client, the connection, and the gateway's event loop before the request
        reached the router)."""
        latency = self.column("latency_ms", ok_only=True)
        if not len(latency):
            return {"requests": 0}
        app, gateway, upstream = (self.column(f"{t}_ms", ok_only=True) for t in TIMINGS)
        slow = latency >= np.percentile(latency, quantile)
        if np.isnan(gateway[slow]).all():
            parts = {"model work": app, "beyond the model": latency - app}
        else:
            parts = {
                "model work": app,
                "model server beyond the work": upstream - app,
                "gateway": gateway - upstream,
                "client and transport": latency - gateway,
            }
        # a part the answers did not time (`mlflow models serve` sends no Server-Timing) is left out
        shares = {name: float(np.nanmedian(v[slow])) for name, v in parts.items() if not np.isnan(v[slow]).all()}
        return {"requests": int(slow.sum()), **shares}


def generate(load: Load, bodies: list[bytes]) -> Outcomes:
    """Run ``load`` in a child process (this file) and return its outcomes."""
    with tempfile.TemporaryDirectory() as folder:
        spec, out = Path(folder, "load.json"), Path(folder, "out.json")
        spec.write_text(json.dumps({"load": asdict(load), "bodies": [body.decode() for body in bodies]}))
        subprocess.run(
            [sys.executable, __file__, "--spec", str(spec), "--out", str(out)],
            check=True,
            timeout=load.seconds + load.timeout + 120,
        )
        return Outcomes(**json.loads(out.read_text()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    spec = json.loads(args.spec.read_text())
    load = Load(**spec["load"])
    bodies = [body.encode() for body in spec["bodies"]]
    args.out.write_text(json.dumps(asyncio.run(_run(load, bodies))))


if __name__ == "__main__":
    main()
