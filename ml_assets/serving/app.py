"""The model server: an ASGI app around one Scorer.

Endpoints: POST /predict (one record or a list), POST /invocations (the MLflow scoring protocol, so MLflow clients
work unchanged), GET /version (model, version, slot), GET /metrics (Prometheus text), and GET /health, which says
only "ok": a load balancer needs nothing more, and a client must not learn the features or the decision threshold
from it. With API keys (``ML_ASSETS_SCORING_KEYS``, see ``serving.auth``) every endpoint but /health needs
``Authorization: Bearer <key>``; a refused request is answered 401 before its body is read, and is not a model's
outcome (the release analysis never sees it). Scoring answers carry the server's own time in a
``Server-Timing`` header. Bad input of any kind is a 4xx JSON error naming
the field; the process never dies on it and never answers 5xx for it.

Requests are parsed and scored in worker threads, never on the event loop, so /health is answered whatever the
load; a bounded number wait their turn (``Capacity``, counting requests whose body is still arriving) and the next
is refused at once with 503 and Retry-After, before its body is read, so that turning a flood away costs little.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ml_assets.environment_variables import CHAOS, SCORING_KEYS_REFRESH_SECONDS, SCORING_QUEUE, SCORING_WORKERS
from ml_assets.serving.auth import SCHEME, ApiKeys
from ml_assets.serving.cloudwatch import CloudWatchPublisher
from ml_assets.serving.health import HealthListener, Heartbeat
from ml_assets.serving.scoring import InputError, Scorer, mlflow_records
from ml_assets.serving.traffic_log import TrafficLog

log = logging.getLogger(__name__)
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
DRAIN_FACTOR = 16
BODY_SECONDS = 10.0  # an admitted request holds a place while its body arrives: a slow sender is cut off
SCORE_BUCKETS = tuple(round(0.1 * i, 1) for i in range(1, 11))


class RequestError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.body = status, body


def json_response(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def unauthorized() -> Response:
    response = json_response({"error": f"missing or invalid API key (send Authorization: {SCHEME} <key>)"}, 401)
    response.headers["WWW-Authenticate"] = SCHEME
    return response


def requiring(keys: ApiKeys | None, endpoint, count: Callable[[int], None] = lambda status: None):
    """``endpoint`` answered only for a current API key (when ``keys`` are set); a refusal is counted by ``count``."""
    if keys is None:
        return endpoint

    async def checked(request: Request) -> Response:
        if not keys.accepts(request.headers.get("authorization")):
            count(401)
            return unauthorized()
        return await endpoint(request)

    return checked


@contextlib.asynccontextmanager
async def refreshing(keys: ApiKeys | None) -> AsyncIterator[None]:
    """Re-read ``keys`` every ML_ASSETS_SCORING_KEYS_REFRESH_SECONDS in a thread while the server runs."""
    if keys is None:
        yield
        return

    async def loop() -> None:
        while True:
            await asyncio.sleep(SCORING_KEYS_REFRESH_SECONDS.get())
            try:
                await asyncio.to_thread(keys.refresh)
            except Exception:  # a failed refresh keeps the keys it had; rotation must not stop for one bad read
                log.exception("re-reading the scoring keys failed; keeping the keys read before")

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The raw body of a JSON request; a wrong content type or an oversized body is a 4xx error."""
    content_type = request.headers.get("content-type", "")
    if not content_type.split(";")[0].strip().lower() == "application/json":
        raise RequestError(415, {"error": f"content type must be application/json, got {content_type or 'none'!r}"})
    declared = request.headers.get("content-length")
    if declared is not None and not declared.isdigit():
        raise RequestError(400, {"error": "invalid content-length"})
    body = bytearray()
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received <= max_bytes:
            body += chunk
        elif received > DRAIN_FACTOR * max_bytes:
            break  # stop reading an abusive body; the connection closes after the answer
    if received > max_bytes:
        # The body was read (up to a cap) rather than abandoned, so an ordinary client gets this answer
        # instead of a connection reset.
        raise RequestError(413, {"error": f"body larger than {max_bytes} bytes"})
    return bytes(body)


def parse_json(body: bytes) -> Any:
    """A JSON body; malformed JSON is a 400."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise RequestError(400, {"error": f"malformed JSON: {error}"}) from None


async def read_json(request: Request, max_bytes: int) -> Any:
    """The request's JSON body; wrong content type, oversized or malformed bodies are 4xx errors."""
    return parse_json(await read_body(request, max_bytes))


class Answer(NamedTuple):
    """What an admitted request got: the response, when its body was in, and its scores and records."""

    response: Response
    working: float
    scores: tuple[float, ...] | list[float] = ()
    records: tuple[Any, ...] | list[Any] = ()


class Metrics:
    def __init__(self, scorer: Scorer, variant: str) -> None:
        self.registry = CollectorRegistry()
        labels = {"model": scorer.name, "version": scorer.version, "variant": variant}
        self.requests = Counter(
            "ml_assets_requests",
            "Requests by endpoint and status.",
            [*labels, "endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "ml_assets_request_latency_seconds",
            "Time to answer a scoring request.",
            list(labels),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        ).labels(**labels)
        self.scores = Histogram(
            "ml_assets_score",
            "Predicted positive-class probabilities.",
            list(labels),
            buckets=SCORE_BUCKETS,
            registry=self.registry,
        ).labels(**labels)
        self.labels = labels

    def count(self, endpoint: str, status: int) -> None:
        self.requests.labels(**self.labels, endpoint=endpoint, status=str(status)).inc()


@dataclass(frozen=True)
class Capacity:
    """How much scoring a model server takes on: ``workers`` requests parsed and scored at once in threads, and
    ``waiting`` more queued behind them; the next one is refused at once (503, Retry-After) rather than queued
    without bound."""

    workers: int
    waiting: int

    def __post_init__(self) -> None:
        if self.workers < 1 or self.waiting < 0:
            raise ValueError(
                f"scoring capacity: {SCORING_WORKERS.name}={self.workers} must be at least 1 and "
                f"{SCORING_QUEUE.name}={self.waiting} at least 0"
            )

    @classmethod
    def from_env(cls) -> Capacity:
        return cls(workers=SCORING_WORKERS.get(), waiting=SCORING_QUEUE.get())


@dataclass(frozen=True)
class Chaos:
    """Fault injection for resilience tests and game days: fail a share of requests, add latency."""

    error_rate: float = 0.0
    delay_ms: float = 0.0

    @classmethod
    def from_env(cls, model: str, version: str, environment: str) -> Chaos:
        """``ML_ASSETS_CHAOS='{"[ENV:]NAME/VERSION": {"error_rate": 0.2, "delay_ms": 20}}'``; none by default."""
        table = orjson.loads(CHAOS.get())
        spec = table.get(f"{environment}:{model}/{version}", table.get(f"{model}/{version}", {}))
        return cls(**spec)


def create_app(
    scorer: Scorer,
    variant: str = "default",
    max_body_bytes: int = 1_000_000,
    chaos: Chaos = Chaos(),
    publisher: CloudWatchPublisher | None = None,
    traffic_log: TrafficLog | None = None,
    capacity: Capacity | None = None,
    keys: ApiKeys | None = None,
    health_address: tuple[str, int] | None = None,
) -> Starlette:
    """The app; ``publisher`` (optional) sends per-second metrics to CloudWatch, ``traffic_log`` (optional) writes
    every request's outcome (release analysis) and a sample of scored records (drift monitoring) to storage;
    ``capacity`` (default: from the environment) bounds the scoring in progress; ``keys`` (optional) are the API
    keys clients must present; ``health_address`` (optional) is where a thread of its own answers /health for the
    load balancer, whatever the event loop's queue (``serving.health``)."""
    metrics = Metrics(scorer, variant)
    identity = {"model": scorer.name, "version": scorer.version, "variant": variant}
    capacity = capacity or Capacity.from_env()
    workers = ThreadPoolExecutor(max_workers=capacity.workers, thread_name_prefix="scoring")
    admitted = 0  # requests being scored or waiting for a worker

    def score(records: list[Any]) -> tuple[list[float], list[bool]]:
        probabilities = scorer.score(scorer.matrix(records))
        for p in probabilities:
            metrics.scores.observe(p)
        return probabilities.tolist(), (probabilities >= scorer.threshold).tolist()

    async def handle(request: Request, endpoint: str, build) -> Response:
        started = time.perf_counter()
        scores: tuple[float, ...] | list[float] = ()
        records: tuple[Any, ...] | list[Any] = ()
        nonlocal admitted
        if admitted >= capacity.workers + capacity.waiting:
            # Refused before its body is read: under a flood, turning a request away costs the event loop next to
            # nothing, so /health and the admitted requests keep their share of it.
            response = json_response({"error": f"overloaded: {admitted} requests in progress; retry shortly"}, 503)
            response.headers["Retry-After"] = "1"
            working = time.perf_counter()
        else:
            admitted += 1  # from here: nothing awaited below lets more in than the capacity (bodies included)
            try:
                response, working, scores, records = await admitted_request(request, build)
            finally:
                admitted -= 1
        metrics.count(endpoint, response.status_code)
        elapsed = time.perf_counter() - started
        # The server's own work, so that a gateway compares versions on what they cost, not on how long an idle
        # process takes to wake up for a body that arrives after its headers (W3C Server-Timing).
        work_ms = 1000 * (time.perf_counter() - working)
        response.headers["Server-Timing"] = f"app;dur={work_ms:.3f}"
        if response.status_code == 200:
            metrics.latency.observe(elapsed)
        if publisher is not None:
            publisher.record(response.status_code, 1000 * elapsed, scores)
        if traffic_log is not None:
            traffic_log.observe(response.status_code, work_ms, scores[0] if scores else None)
        if traffic_log is not None and scores:
            pairs = [(r, s) for r, s in zip(records, scores, strict=False) if isinstance(r, dict)]
            traffic_log.record([r for r, _ in pairs], [s for _, s in pairs])
        return response

    async def admitted_request(request: Request, build) -> Answer:
        """An admitted request's answer; a body that takes longer than BODY_SECONDS to arrive gets a 408."""
        try:
            async with asyncio.timeout(BODY_SECONDS):
                raw = await read_body(request, max_body_bytes)
        except RequestError as error:
            return Answer(json_response(error.body, error.status), time.perf_counter())
        except TimeoutError:
            late = json_response({"error": f"the body took longer than {BODY_SECONDS:g} s to arrive"}, 408)
            return Answer(late, time.perf_counter())
        working = time.perf_counter()  # the body is in: from here on the time is the server's own work
        try:
            if chaos.delay_ms:
                await asyncio.sleep(chaos.delay_ms / 1000)
            if chaos.error_rate and random.random() < chaos.error_rate:
                return Answer(json_response({"error": "injected fault (chaos testing)"}, 503), working)
            body, scores, records = await asyncio.get_running_loop().run_in_executor(
                workers, lambda: build(parse_json(raw))
            )
            return Answer(json_response(body), working, scores, records)
        except RequestError as error:
            return Answer(json_response(error.body, error.status), working)
        except InputError as error:
            return Answer(json_response(error.as_dict(), 422 if error.field else 400), working)

    def predict_body(payload: Any) -> tuple[dict[str, Any], list[float], list[Any]]:
        single = isinstance(payload, dict)
        records = [payload] if single else payload
        if not isinstance(records, list):
            raise InputError("the body must be one record (an object) or a list of records")
        probabilities, decisions = score(records)
        if single:
            return {"probability": probabilities[0], "decision": decisions[0], **identity}, probabilities, records
        predictions = [{"probability": p, "decision": d} for p, d in zip(probabilities, decisions, strict=True)]
        return {"predictions": predictions, **identity}, probabilities, records

    def invocations_body(payload: Any) -> tuple[dict[str, Any], list[float], list[Any]]:
        records = mlflow_records(payload, scorer.features)
        probabilities, _ = score(records)
        return {"predictions": probabilities}, probabilities, records

    async def predict(request: Request) -> Response:
        return await handle(request, "predict", predict_body)

    async def invocations(request: Request) -> Response:
        return await handle(request, "invocations", invocations_body)

    async def health(request: Request) -> Response:
        return json_response({"status": "ok"})

    async def version(request: Request) -> Response:
        return json_response(identity)

    async def prometheus(request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        observers = [o for o in (publisher, traffic_log) if o is not None]
        if health_address is not None:
            heartbeat = Heartbeat()
            beating = asyncio.create_task(heartbeat.beat())
            observers.append(HealthListener(*health_address, heartbeat))
        for observer in observers:
            observer.start()
        try:
            async with refreshing(keys):
                yield
        finally:
            if health_address is not None:
                beating.cancel()
            workers.shutdown(wait=True, cancel_futures=True)
            for observer in observers:
                observer.stop()

    return Starlette(
        lifespan=lifespan,
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/predict", requiring(keys, predict, lambda s: metrics.count("predict", s)), methods=["POST"]),
            Route(
                "/invocations",
                requiring(keys, invocations, lambda s: metrics.count("invocations", s)),
                methods=["POST"],
            ),
            Route("/version", requiring(keys, version), methods=["GET"]),
            Route("/metrics", requiring(keys, prometheus), methods=["GET"]),
        ],
    )
