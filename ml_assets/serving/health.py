"""A health endpoint on a port and a thread of its own, for the load balancer.

Under a flood the model server's event loop is busy accepting and refusing requests, and a health check queued
behind them can take longer than the load balancer waits (5 s on the ALB): healthy targets would be drained, and
the flood would win. This listener answers ``GET /health`` from its own thread, so its answer does not wait for the
event loop's queue. It still tells the truth: the event loop beats a heartbeat every second, and a loop that has
not beaten for ``stalled_after`` seconds (a deadlock, not a busy loop) makes the answer 503.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STALLED_AFTER_SECONDS = 30.0


class Heartbeat:
    """When the event loop last ran; ``beat`` is a coroutine the loop runs for as long as the server does."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.last = clock()

    def age(self) -> float:
        return self.clock() - self.last

    async def beat(self, interval: float = 1.0) -> None:
        while True:
            self.last = self.clock()
            await asyncio.sleep(interval)


class HealthListener:
    """``GET /health`` on ``host:port`` from a thread: 200 ``{"status": "ok"}``, or 503 when the heartbeat is older
    than ``stalled_after`` seconds; anything else is a 404."""

    def __init__(self, host: str, port: int, heartbeat: Heartbeat, stalled_after: float = STALLED_AFTER_SECONDS):
        self.heartbeat, self.stalled_after = heartbeat, stalled_after
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/health":
                    self._answer(404, {"error": "not found"})
                elif listener.heartbeat.age() > listener.stalled_after:
                    self._answer(503, {"status": "stalled"})
                else:
                    self._answer(200, {"status": "ok"})

            def _answer(self, status: int, body: dict) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:  # every few seconds from the ALB: not worth a log line
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, name="health", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
