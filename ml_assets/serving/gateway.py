"""The local gateway: the embedded stand-in for an ALB in front of ECS services.

It routes /predict and /invocations by weight between named slots (blue, green), retries a request on another
live slot when a backend is down, can mirror a share of traffic to a shadow slot without returning its answers,
and keeps per-slot traffic records (for release analysis) and a bounded sample of scored requests (for drift
monitoring). Admin endpoints need the bearer token; the gateway binds to loopback unless told otherwise. Its
routing table is saved on every admin change and reloaded at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import random
import secrets
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import aiohttp
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ml_assets.resources.storage import private_folder, write_atomically
from ml_assets.rollout.backend import REPLAYED_HEADER
from ml_assets.rollout.evidence import NO_ANSWER
from ml_assets.serving.addresses import is_loopback_host, is_loopback_url
from ml_assets.serving.app import (
    RequestError,
    json_response,
    read_body,
    read_json,
    refreshing,
    requiring,
    unauthorized,
)
from ml_assets.serving.auth import ApiKeys
from ml_assets.serving.traffic import ScoredSample, VariantTraffic

# Any client-side failure of the upstream call (refused, reset, a response cut short when a server dies) means
# that backend failed; scoring is idempotent, so the request is safely retried on another live slot.
UPSTREAM_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError)


def server_time_ms(header: str | None, metric_name: str = "app") -> float | None:
    """The duration of one metric of a Server-Timing header (``app;dur=1.234``), or None."""
    for metric in (header or "").split(","):
        name, _, params = metric.strip().partition(";")
        if name == metric_name:
            for param in params.split(";"):
                key, _, value = param.strip().partition("=")
                if key == "dur":
                    try:
                        return float(value)
                    except ValueError:
                        return None
    return None


def _timing(**seconds: float | None) -> str:
    """A Server-Timing header from durations in seconds: the gateway's whole time, the round trip to the model server
    and the model server's own work, so a client can tell where a slow answer spent its time."""
    return ", ".join(f"{name};dur={1000 * value:.3f}" for name, value in seconds.items() if value is not None)


def _scores(answer: Any) -> list:
    """The scores of a model server's answer: one (/predict with a record), a list, or none."""
    if not isinstance(answer, dict):
        return []
    if "probability" in answer:
        return [answer["probability"]]
    if isinstance(answer.get("predictions"), list):
        return [p.get("probability") if isinstance(p, dict) else p for p in answer["predictions"]]
    return []


def _is_probability(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0.0 <= value <= 1.0


class Upstream(NamedTuple):
    """A model server's answer: status (None: no answer), body, its own time in ms from its Server-Timing
    header, if it sent one, and its Retry-After (an overloaded server's), relayed to the client."""

    status: int | None
    payload: bytes
    server_ms: float | None
    retry_after: str | None = None


NO_UPSTREAM = Upstream(None, b"", None)


class Gateway:
    def __init__(
        self,
        environment: str,
        token: str,
        state_file: Path,
        max_body_bytes: int = 1_000_000,
        upstream_timeout_s: float = 5.0,
        sample_size: int = 5_000,
        max_shadows_in_flight: int = 32,
    ) -> None:
        self.environment, self._token, self.state_file = environment, token, state_file
        self.max_body_bytes, self.upstream_timeout_s = max_body_bytes, upstream_timeout_s
        # Mirrored requests have their own connections and a cap: a shadow candidate that hangs holds at most
        # this many, never the live requests' connections; a mirror beyond the cap is skipped and counted.
        self.max_shadows_in_flight = max_shadows_in_flight
        self.shadow_session: aiohttp.ClientSession | None = None
        self.shadows_skipped = 0
        self.variants: dict[str, dict[str, Any]] = {}
        self.weights: dict[str, int] = {}
        self.mirror: dict[str, Any] = {"slot": None, "percent": 0}
        self.traffic: dict[str, VariantTraffic] = {}
        self.sample = ScoredSample(capacity=sample_size)
        self.session: aiohttp.ClientSession | None = None
        self._background: set[asyncio.Task] = set()
        self.epoch = secrets.token_hex(8)  # a restarted gateway numbers its records anew: readers must notice
        self._load()

    # -- persistence -------------------------------------------------------------------------------------------

    def _load(self) -> None:
        if self.state_file.exists():
            saved = json.loads(self.state_file.read_text())
            self.variants, self.weights = saved.get("variants", {}), saved.get("weights", {})
            self.mirror = saved.get("mirror", self.mirror)

    def _save(self) -> None:
        private_folder(self.state_file.parent)
        table = {"variants": self.variants, "weights": self.weights, "mirror": self.mirror}
        write_atomically(self.state_file, json.dumps(table).encode())

    def state(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "variants": self.variants,
            "weights": self.weights,
            "mirror": self.mirror,
            "requests": {slot: {"total": t.total, "failures": t.total_failures} for slot, t in self.traffic.items()},
            "shadows": {"in_flight": len(self._background), "skipped": self.shadows_skipped},
        }

    # -- routing -----------------------------------------------------------------------------------------------

    def _records(self, slot: str) -> VariantTraffic:
        if slot not in self.traffic:
            self.traffic[slot] = VariantTraffic()
        return self.traffic[slot]

    def _pick(self, exclude: set[str]) -> str | None:
        choices = [(s, w) for s, w in self.weights.items() if w > 0 and s in self.variants and s not in exclude]
        if not choices:
            return None
        return random.choices([s for s, _ in choices], weights=[w for _, w in choices])[0]

    async def _forward(
        self,
        variant: dict[str, Any],
        path: str,
        body: bytes,
        *,
        authorization: str | None,
        session: aiohttp.ClientSession | None = None,
    ) -> Upstream:
        session = session or self.session
        if session is None:
            raise RuntimeError("the gateway's HTTP sessions open with the app (its lifespan)")
        url = variant["url"] + path
        headers = {"Content-Type": "application/json"}
        if authorization is not None:  # the model servers check the same API keys
            headers["Authorization"] = authorization
        async with session.post(url, data=body, headers=headers) as response:
            return Upstream(
                response.status,
                await response.read(),
                server_time_ms(response.headers.get("Server-Timing")),
                response.headers.get("Retry-After"),
            )

    def _observe(
        self, slot: str, version: Any, upstream: Upstream, *, started: float, request_body: bytes, sampled: bool
    ) -> None:
        # The variant may be retired while its last requests are in flight: everything here uses what the
        # request was sent to (slot and version captured before forwarding), never a fresh lookup.
        status, payload, server_ms, _ = upstream
        score = None
        if status == 200:
            try:
                answer = orjson.loads(payload)
            except orjson.JSONDecodeError:
                status = 502  # an answer no client can read is a failure
            else:
                scores = _scores(answer)
                if not scores or not all(_is_probability(value) for value in scores):
                    status = 502  # a scoring answer without a valid score is a failure, whatever its status
                    scores = []
                score = scores[0] if scores else None
                if sampled and scores:
                    self._sample(
                        slot,
                        version,
                        request_body=request_body,
                        scores=scores,
                        single=isinstance(answer, dict) and "probability" in answer,
                    )
        # Every answer counts, 4xx included: a variant that rejects requests the other accepts is worse. Latency is
        # the server's own time when it says: the variant with the smaller share idles between requests, and on a
        # busy host an idle process wakes late, which would count against whichever version is the canary.
        latency_ms = server_ms if server_ms is not None else (time.perf_counter() - started) * 1000
        self._records(slot).add(time.time(), status or NO_ANSWER, latency_ms, score)

    def _sample(self, slot: str, version: Any, *, request_body: bytes, scores: list, single: bool) -> None:
        """Offer each scored record to the monitoring sample.

        The request is parsed only when the reservoir keeps one of its records, so the hot path stays cheap.
        """
        kept = [self.sample.reserve() for _ in scores]
        if any(index is not None for index in kept):
            request = orjson.loads(request_body)
            records = [request] if single else request if isinstance(request, list) else []
            now = time.time()
            for position, (index, score) in enumerate(zip(kept, scores, strict=True)):
                if index is not None:  # MLflow-protocol bodies keep their score; features only for /predict records
                    features = records[position] if position < len(records) else None
                    self.sample.items[index] = {
                        "at": now,
                        "slot": slot,
                        "version": version,
                        "features": features,
                        "score": score,
                    }

    async def _shadow(
        self, slot: str, variant: dict[str, Any], path: str, body: bytes, authorization: str | None
    ) -> None:
        started = time.perf_counter()
        try:
            upstream = await self._forward(
                variant, path, body, authorization=authorization, session=self.shadow_session
            )
        except UPSTREAM_ERRORS:
            upstream = NO_UPSTREAM
        # A mirrored answer reached no client: release evidence, but not part of the monitoring sample.
        self._observe(slot, variant.get("version"), upstream, started=started, request_body=body, sampled=False)

    async def route(self, request: Request, path: str) -> Response:
        received = time.perf_counter()
        try:
            body = await read_body(request, self.max_body_bytes)  # content type and size, before routing
        except RequestError as error:
            return json_response(error.body, error.status)
        sampled = REPLAYED_HEADER not in request.headers  # a release's own replay is not clients' traffic
        authorization = request.headers.get("authorization")
        mirror_slot = self.mirror.get("slot")
        if mirror_slot in self.variants and random.uniform(0, 100) < self.mirror.get("percent", 0):
            if len(self._background) >= self.max_shadows_in_flight:
                self.shadows_skipped += 1
            else:
                shadow = self._shadow(mirror_slot, self.variants[mirror_slot], path, body, authorization)
                task = asyncio.create_task(shadow)
                self._background.add(task)
                task.add_done_callback(self._background.discard)
        tried: set[str] = set()
        while (slot := self._pick(tried)) is not None:
            tried.add(slot)
            variant = self.variants[slot]  # _pick only returns registered slots
            version = variant.get("version")
            started = time.perf_counter()
            try:
                upstream = await self._forward(variant, path, body, authorization=authorization)
            except UPSTREAM_ERRORS:
                self._observe(slot, version, NO_UPSTREAM, started=started, request_body=body, sampled=sampled)
                continue  # the backend is down: try another live slot
            answered = time.perf_counter()
            self._observe(slot, version, upstream, started=started, request_body=body, sampled=sampled)
            work = None if upstream.server_ms is None else upstream.server_ms / 1000
            timing = _timing(gateway=time.perf_counter() - received, upstream=answered - started, app=work)
            headers = {"X-Variant": slot, "X-Model-Version": str(version), "Server-Timing": timing}
            if upstream.retry_after is not None:
                headers["Retry-After"] = upstream.retry_after
            return Response(
                upstream.payload, status_code=upstream.status, media_type="application/json", headers=headers
            )
        return json_response({"error": f"no live backend in {self.environment}", "tried": sorted(tried)}, 503)

    # -- admin -------------------------------------------------------------------------------------------------

    def authorized(self, request: Request) -> bool:
        supplied = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        # as bytes: compare_digest refuses str with non-ASCII characters, which a client can send
        return bool(supplied) and hmac.compare_digest(supplied.encode(), self._token.encode())

    def set_variant(self, slot: str, spec: dict[str, Any]) -> None:
        url = spec.get("url")
        if not isinstance(url, str) or not is_loopback_url(url):
            # The local gateway fronts model servers on this machine only: anything else (a cloud metadata
            # address, another host) would make /predict a proxy to it.
            raise RequestError(
                422, {"error": "a variant's url must be http:// on a loopback address (127.0.0.1, ::1)", "field": "url"}
            )
        self.variants[slot] = {
            "url": url.rstrip("/"),
            "model": spec.get("model"),
            "version": spec.get("version"),
            "pid": spec.get("pid"),
        }
        self._save()

    def remove_variant(self, slot: str) -> None:
        self.variants.pop(slot, None)
        self.weights.pop(slot, None)
        if self.mirror.get("slot") == slot:
            self.mirror = {"slot": None, "percent": 0}
        self._save()

    def set_weights(self, weights: Any) -> None:
        if not isinstance(weights, dict) or not all(isinstance(v, int) and 0 <= v <= 100 for v in weights.values()):
            raise RequestError(422, {"error": "weights must map slots to integers 0-100", "field": "weights"})
        unknown = [s for s, w in weights.items() if w and s not in self.variants]
        if unknown:
            raise RequestError(422, {"error": f"no variant in slot {unknown[0]!r}", "field": unknown[0]})
        if sum(weights.values()) != 100:
            raise RequestError(
                422, {"error": f"weights must sum to 100, got {sum(weights.values())}", "field": "weights"}
            )
        self.weights = {s: w for s, w in weights.items() if w}
        self._save()

    def set_mirror(self, spec: Any) -> None:
        slot, percent = (spec or {}).get("slot"), (spec or {}).get("percent", 0)
        if slot is not None and slot not in self.variants:
            raise RequestError(422, {"error": f"no variant in slot {slot!r}", "field": "slot"})
        if not isinstance(percent, int) or not 0 <= percent <= 100:
            raise RequestError(422, {"error": "percent must be an integer 0-100", "field": "percent"})
        self.mirror = {"slot": slot, "percent": percent if slot else 0}
        self._save()


WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})  # nosec B104  # compared with the bound host, never bound
DASHBOARD_CACHE_SECONDS = 30.0  # the page refreshes itself; the metrics it draws change by the minute


def create_gateway_app(
    gateway: Gateway,
    dashboard: Callable[[], dict[str, Any]] | None = None,
    *,
    bound_host: str = "127.0.0.1",
    dashboard_cache_seconds: float = DASHBOARD_CACHE_SECONDS,
    clock: Callable[[], float] = time.monotonic,
    keys: ApiKeys | None = None,
) -> Starlette:
    """The gateway's app; ``keys`` (optional) are the API keys scoring clients present: a request without one is
    refused before it is routed, so it is no variant's outcome. ``dashboard`` (optional) supplies the monitoring
    page's data at /dashboard, computed at most once per ``dashboard_cache_seconds``. The dashboard has no token,
    so it answers only requests addressed to this machine by name (a loopback address, ``localhost``) or to the
    address the gateway is bound to: a page of another site whose name was re-pointed at 127.0.0.1 (DNS rebinding)
    gets a 400."""
    addressed_to_us = {bound_host.strip("[]").lower()} - WILDCARD_HOSTS

    def from_here_or_with_key(handler):
        """Bound beyond loopback with API keys, the dashboard answers this machine's own connections (an ssh tunnel
        arrives on loopback) and callers with a key; the Host check alone would not do (a remote client chooses its
        Host header)."""
        if keys is None or is_loopback_host(bound_host):
            return handler

        async def wrapped(request: Request) -> Response:
            caller = request.client.host if request.client else ""
            if is_loopback_host(caller) or keys.accepts(request.headers.get("authorization")):
                return await handler(request)
            return unauthorized()

        return wrapped

    cached: dict[str, Any] = {}
    refresh = asyncio.Lock()

    def for_this_host(request: Request) -> bool:
        try:
            host = urlsplit("//" + request.headers.get("host", "")).hostname or ""
        except ValueError:
            return False
        return is_loopback_host(host) or host in addressed_to_us

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        timeout = aiohttp.ClientTimeout(total=gateway.upstream_timeout_s)
        gateway.session = aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=256))
        shadows = aiohttp.TCPConnector(limit=gateway.max_shadows_in_flight)
        gateway.shadow_session = aiohttp.ClientSession(timeout=timeout, connector=shadows)
        try:
            async with refreshing(keys):
                yield
        finally:
            await gateway.session.close()
            await gateway.shadow_session.close()

    async def predict(request: Request) -> Response:
        return await gateway.route(request, "/predict")

    async def invocations(request: Request) -> Response:
        return await gateway.route(request, "/invocations")

    async def health(request: Request) -> Response:
        live = [s for s, w in gateway.weights.items() if w and s in gateway.variants]
        return json_response(
            {"status": "ok" if live else "no_backends"},  # the weights are for /admin/state, behind the token
            200,
        )

    def admin(handler):
        async def wrapped(request: Request) -> Response:
            if not gateway.authorized(request):
                return json_response({"error": "admin endpoints need a valid bearer token"}, 401)
            try:
                return json_response(await handler(request))
            except RequestError as error:
                return json_response(error.body, error.status)

        return wrapped

    async def get_state(request: Request) -> Any:
        return gateway.state()

    async def put_variant(request: Request) -> Any:
        gateway.set_variant(request.path_params["slot"], await read_json(request, 10_000))
        return gateway.state()

    async def delete_variant(request: Request) -> Any:
        gateway.remove_variant(request.path_params["slot"])
        return gateway.state()

    async def put_weights(request: Request) -> Any:
        gateway.set_weights(await read_json(request, 10_000))
        return gateway.state()

    async def put_mirror(request: Request) -> Any:
        gateway.set_mirror(await read_json(request, 10_000))
        return gateway.state()

    async def get_outcomes(request: Request) -> Any:
        """Per-request outcomes of a slot numbered above ``after`` and stamped at or after ``since``."""
        try:
            slot = request.query_params["slot"]
            after, since = int(request.query_params.get("after", 0)), float(request.query_params.get("since", 0))
        except (KeyError, ValueError):
            raise RequestError(422, {"error": "outcomes need slot, and numeric after and since"}) from None
        records = gateway.traffic.get(slot) or VariantTraffic()  # asking about a slot does not create it
        return {"epoch": gateway.epoch, **records.after(after, since)}

    async def get_sample(request: Request) -> Any:
        """The scored-request sample; ``?drain=true`` also starts a new one (each monitoring run sees new traffic)."""
        answer = {"seen": gateway.sample.seen, "items": gateway.sample.items}
        if request.query_params.get("drain") == "true":
            gateway.sample = ScoredSample(capacity=gateway.sample.capacity, seed=gateway.sample.seen)
        return answer

    def host_checked(handler):
        async def wrapped(request: Request) -> Response:
            if not for_this_host(request):
                return json_response({"error": "the dashboard answers requests addressed to this host only"}, 400)
            return await handler(request)

        return wrapped

    async def dashboard_page(request: Request) -> Response:
        from ml_assets.monitoring.dashboard import page

        return Response(page(), media_type="text/html")

    async def dashboard_data(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        async with refresh:  # one computation at a time; the others wait for its answer
            if not cached or clock() - cached["at"] >= dashboard_cache_seconds:
                cached.update(at=clock(), body=orjson.dumps(await run_in_threadpool(dashboard)))
        return Response(cached["body"], media_type="application/json")

    monitoring = (
        [
            Route("/dashboard", from_here_or_with_key(host_checked(dashboard_page)), methods=["GET"]),
            Route("/dashboard/data", from_here_or_with_key(host_checked(dashboard_data)), methods=["GET"]),
        ]
        if dashboard is not None
        else []
    )
    return Starlette(
        routes=[
            *monitoring,
            Route("/predict", requiring(keys, predict), methods=["POST"]),
            Route("/invocations", requiring(keys, invocations), methods=["POST"]),
            Route("/health", health, methods=["GET"]),
            Route("/admin/state", admin(get_state), methods=["GET"]),
            Route("/admin/variants/{slot}", admin(put_variant), methods=["PUT"]),
            Route("/admin/variants/{slot}", admin(delete_variant), methods=["DELETE"]),
            Route("/admin/weights", admin(put_weights), methods=["PUT"]),
            Route("/admin/mirror", admin(put_mirror), methods=["PUT"]),
            Route("/admin/outcomes", admin(get_outcomes), methods=["GET"]),
            Route("/admin/sample", admin(get_sample), methods=["GET"]),
        ],
        lifespan=lifespan,
    )
