"""What a hostile client can send to the local gateway and the replay: refused with a 4xx, nothing changed."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from ml_assets.resources.local_platform import LocalBackend, PlatformError, free_port
from ml_assets.serving.addresses import is_loopback_url
from ml_assets.serving.cloudwatch import CloudWatchPublisher
from ml_assets.serving.replay import replay
from ml_assets.serving.scoring import InputError, mlflow_records
from ml_assets.settings import DEFAULT_CONFIG, Settings
from ml_assets_tests.serving_fixtures import Serving, SlowModel, call


@pytest.mark.unit
@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8000/predict", True),
        ("http://127.5.6.7/predict", True),
        ("http://[::1]:9000/", True),
        ("http://localhost:8000", True),
        ("http://127.0.0.1.nip.io/predict", False),  # a name that resolves anywhere
        ("http://127.0.0.1@169.254.169.254/latest/meta-data", False),  # userinfo, then the metadata service
        ("http://user:pw@127.0.0.1/", False),
        ("http://169.254.169.254/latest/meta-data", False),
        ("http://10.0.0.5:8080", False),
        ("https://127.0.0.1", False),
        ("file:///etc/passwd", False),
        ("http://127.0.0.1:notaport/", False),
        ("127.0.0.1:8000", False),
    ],
)
def test_only_loopback_literals_count_as_this_machine(url: str, loopback: bool) -> None:
    assert is_loopback_url(url) is loopback


@pytest.mark.unit
def test_the_replay_refuses_a_name_that_only_looks_like_loopback() -> None:
    with pytest.raises(ValueError, match=r"loopback address .* got http://127\.0\.0\.1\.nip\.io"):
        asyncio.run(replay("http://127.0.0.1.nip.io/predict", [{"f0": 1.0}], max_requests=1, max_seconds=1))


@pytest.mark.unit
def test_dataframe_split_columns_that_are_not_names_are_a_422() -> None:
    for columns in ([["a"], "b"], [1, 2], [None, "b"], [{"a": 1}, "b"]):
        with pytest.raises(InputError, match="list of names") as raised:
            mlflow_records({"dataframe_split": {"columns": columns, "data": [[1, 2]]}}, ["a", "b"])
        assert raised.value.field == "dataframe_split.columns"


@pytest.mark.pipeline
def test_the_admin_api_refuses_odd_tokens_and_addresses_off_this_machine(gateway: LocalBackend) -> None:
    before = call(gateway.url, "GET", "/admin/state", headers={"Authorization": f"Bearer {gateway.token}"})[1]
    for token in ("Bearer ünïcödé", "Bearer " + "é" * 64, "Bearer \u2603", "Bearer", "Basic abc", ""):
        status, body = call(gateway.url, "GET", "/admin/state", headers={"Authorization": token})
        assert status == 401 and "bearer token" in body["error"], token
    admin = {"Authorization": f"Bearer {gateway.token}", "Content-Type": "application/json"}
    for url in (
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://127.0.0.1.nip.io:8000",
        "http://10.0.0.5:8080",
        "https://127.0.0.1:8443",
    ):
        body = json.dumps({"url": url, "model": "fraud", "version": "1"}).encode()
        status, answer = call(gateway.url, "PUT", "/admin/variants/green", headers=admin, body=body)
        assert status == 422 and answer["field"] == "url" and "loopback" in answer["error"], url
    after = call(gateway.url, "GET", "/admin/state", headers={"Authorization": f"Bearer {gateway.token}"})[1]
    assert after["variants"] == before["variants"] and "green" not in after["variants"]  # nothing registered


@pytest.mark.unit
def test_an_admin_token_others_can_read_is_refused(settings: Settings) -> None:
    backend = LocalBackend(
        settings.home, "staging", host="127.0.0.1", port=free_port(), config_path=str(DEFAULT_CONFIG)
    )
    token = backend.token  # created for its owner only, in a folder only its owner can enter
    path = backend.dir / "admin_token"
    assert path.stat().st_mode & 0o777 == 0o600 and backend.dir.stat().st_mode & 0o777 == 0o700
    path.chmod(0o644)
    with pytest.raises(PlatformError, match=r"admin_token is mode 644: .*chmod 600"):
        _ = backend.token
    path.unlink()
    elsewhere = settings.home / "token_elsewhere"
    elsewhere.write_text(token)
    elsewhere.chmod(0o600)
    path.symlink_to(elsewhere)
    with pytest.raises(PlatformError, match="admin_token is a symbolic link"):
        _ = backend.token


@pytest.mark.unit
def test_metrics_that_cloudwatch_keeps_refusing_are_dropped_after_a_bounded_age(caplog) -> None:
    now = [1_000.0]
    sent: list[list] = []
    failing = [True]

    def put(datums: list) -> None:
        if failing[0]:
            raise ConnectionError("CloudWatch unreachable")
        sent.append(datums)

    publisher = CloudWatchPublisher(put, "production", "blue", clock=lambda: now[0], max_retry_age_seconds=60)
    for second in range(120):  # two minutes of traffic while CloudWatch is down
        now[0] = 1_000.0 + second
        publisher.record(200, 5.0, [0.1])
        if second % 10 == 9:
            publisher.flush()
    assert len(publisher.seconds) <= 61  # what is kept is bounded by the age, not by the outage
    assert "older than 60 s dropped" in caplog.text
    failing[0] = False
    publisher.flush()
    stamps = {datum["Timestamp"].timestamp() for datums in sent for datum in datums}
    assert min(stamps) >= now[0] - 60 and max(stamps) == now[0]  # the recent minute arrives, nothing older


@pytest.mark.pipeline
def test_the_dashboard_answers_only_requests_addressed_to_this_host(gateway: LocalBackend) -> None:
    port = gateway.url.rsplit(":", 1)[1]
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "127.0.0.1"):
        status, body = call(gateway.url, "GET", "/dashboard/data", headers={"Host": host})
        assert status == 200 and "metrics" in body, host
    # a page on another site whose name now resolves to 127.0.0.1 (DNS rebinding) sends its own name
    for host in (f"attacker.example:{port}", "127.0.0.1.nip.io", "", "[::1"):
        status, body = call(gateway.url, "GET", "/dashboard/data", headers={"Host": host})
        assert status == 400 and "this host only" in body["error"], host


@pytest.mark.unit
def test_the_dashboard_data_is_computed_once_per_interval_however_many_ask() -> None:
    from starlette.testclient import TestClient

    from ml_assets.serving.gateway import Gateway, create_gateway_app

    computed, now = [], [0.0]

    def dashboard() -> dict:
        computed.append(now[0])
        return {"metrics": {}, "computed": len(computed)}

    gateway = Gateway("production", "t" * 32, Path("/nonexistent/routing.json"))
    app = create_gateway_app(gateway, dashboard, dashboard_cache_seconds=30, clock=lambda: now[0])
    with TestClient(app, base_url="http://127.0.0.1:8080") as client:
        answers = [client.get("/dashboard/data").json()["computed"] for _ in range(50)]
        now[0] = 29.9
        answers.append(client.get("/dashboard/data").json()["computed"])
        now[0] = 30.0
        answers.append(client.get("/dashboard/data").json()["computed"])
    assert answers == [1] * 51 + [2] and computed == [0.0, 30.0]


@pytest.mark.pipeline
def test_a_flood_is_refused_beyond_capacity_and_health_is_answered_meanwhile() -> None:
    import threading
    import time

    import uvicorn

    from ml_assets.serving.app import Capacity, create_app
    from ml_assets.serving.scoring import Scorer

    scorer = Scorer(SlowModel(3.0), ["f0"], threshold=0.5, name="fraud", version="1")
    app = create_app(scorer, variant="blue", capacity=Capacity(workers=1, waiting=1))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        answers: list[int] = []
        body = json.dumps({"f0": 1.0}).encode()
        flood = [
            threading.Thread(
                target=lambda: answers.append(
                    call(url, "POST", "/predict", headers={"Content-Type": "application/json"}, body=body)[0]
                )
            )
            for _ in range(6)
        ]
        for client in flood:
            client.start()
        time.sleep(1.0)  # all six are in (they have 3 s to arrive): one scoring, one waiting, four refused
        started = time.monotonic()
        status, health = call(url, "GET", "/health", headers={})
        health_seconds = time.monotonic() - started
        for client in flood:
            client.join(timeout=30)
        assert status == 200 and health["status"] == "ok"
        assert health_seconds < 1.5  # not behind the 3 s of scoring in progress
        assert sorted(answers) == [200, 200, 503, 503, 503, 503]
    finally:
        server.should_exit = True
        thread.join(timeout=30)


class HungServer:
    """A candidate that accepts connections and never answers (what a deadlocked model server looks like)."""

    def __init__(self) -> None:
        import socket
        import threading

        self.listener = socket.create_server(("127.0.0.1", 0), backlog=1024)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.held: list = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                self.held.append(self.listener.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        self.listener.close()
        for connection in self.held:
            connection.close()


@pytest.mark.pipeline
def test_a_hung_shadow_candidate_never_holds_up_live_requests(tmp_path: Path) -> None:
    from ml_assets.serving.app import Capacity, create_app
    from ml_assets.serving.gateway import Gateway, create_gateway_app
    from ml_assets.serving.scoring import Scorer

    live = create_app(
        Scorer(SlowModel(0.0), ["f0"], threshold=0.5, name="fraud", version="1"), capacity=Capacity(2, 512)
    )
    hung = HungServer()
    token = "t" * 32
    gateway = Gateway("production", token, tmp_path / "routing.json", upstream_timeout_s=60, max_shadows_in_flight=8)
    admin = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    try:
        with Serving(live) as blue, Serving(create_gateway_app(gateway)) as front:
            for slot, url in (("blue", blue.url), ("green", hung.url)):
                body = json.dumps({"url": url, "model": "fraud", "version": "1"}).encode()
                assert call(front.url, "PUT", f"/admin/variants/{slot}", headers=admin, body=body)[0] == 200
            assert call(front.url, "PUT", "/admin/weights", headers=admin, body=b'{"blue": 100}')[0] == 200
            mirror = json.dumps({"slot": "green", "percent": 100}).encode()
            assert call(front.url, "PUT", "/admin/mirror", headers=admin, body=mirror)[0] == 200
            record = json.dumps({"f0": 1.0}).encode()
            # More requests than the live connection pool (256) holds: shadows sharing it would starve them.
            statuses = [
                call(front.url, "POST", "/predict", headers={"Content-Type": "application/json"}, body=record)[0]
                for _ in range(300)
            ]
            state = call(front.url, "GET", "/admin/state", headers=admin)[1]
        assert statuses == [200] * 300
        assert state["shadows"]["in_flight"] <= 8 and state["shadows"]["skipped"] >= 300 - 8 - len(hung.held)
        assert len(hung.held) <= 8  # the hung candidate never held more connections than the cap
    finally:
        hung.close()


@pytest.mark.pipeline
def test_health_is_answered_from_its_own_thread_while_the_event_loop_is_busy_and_tells_a_stall() -> None:
    import asyncio
    import threading
    import time
    import urllib.error
    import urllib.request

    from ml_assets.serving.health import HealthListener, Heartbeat

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    heartbeat = Heartbeat()
    beating = asyncio.run_coroutine_threadsafe(heartbeat.beat(interval=0.1), loop)
    listener = HealthListener("127.0.0.1", 0, heartbeat, stalled_after=2.0)
    listener.start()
    url = f"http://127.0.0.1:{listener.port}"

    def probe(path: str = "/health") -> tuple[int, float]:
        started = time.monotonic()
        try:
            with urllib.request.urlopen(url + path, timeout=10) as answer:  # nosec B310  # loopback
                return answer.status, time.monotonic() - started
        except urllib.error.HTTPError as error:
            return error.code, time.monotonic() - started

    try:
        assert probe()[0] == 200 and probe("/predict")[0] == 404
        loop.call_soon_threadsafe(time.sleep, 7.0)  # the event loop is stuck for 7 s (a flood, a deadlock)
        time.sleep(0.5)
        status, seconds = probe()
        assert status == 200 and seconds < 3.0  # answered now, not when the loop frees up (6 s from here)
        time.sleep(3.0 - min(seconds, 3.0))  # over 3.5 s without a beat: past stalled_after, well before the end
        assert probe()[0] == 503
        deadline = time.monotonic() + 10
        while probe()[0] != 200:  # the loop beats again: healthy again
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        listener.stop()
        beating.cancel()
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0.05), loop).result(timeout=10)  # the cancel is handled
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)


@pytest.mark.pipeline
def test_the_model_server_answers_health_on_its_health_port() -> None:
    import urllib.request

    from ml_assets.resources.local_platform import free_port
    from ml_assets.serving.app import create_app
    from ml_assets.serving.scoring import Scorer

    port = free_port()
    app = create_app(
        Scorer(SlowModel(0.0), ["f0"], threshold=0.5, name="fraud", version="1"), health_address=("127.0.0.1", port)
    )
    with Serving(app), urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as answer:  # nosec B310
        assert answer.status == 200 and json.loads(answer.read()) == {"status": "ok"}


@pytest.mark.pipeline
def test_an_answer_through_the_gateway_says_where_its_time_went(tmp_path: Path) -> None:
    import http.client

    from ml_assets.serving.app import create_app
    from ml_assets.serving.gateway import Gateway, create_gateway_app, server_time_ms
    from ml_assets.serving.scoring import Scorer

    live = create_app(Scorer(SlowModel(0.05), ["f0"], threshold=0.5, name="fraud", version="1"))
    token = "t" * 32
    gateway = Gateway("production", token, tmp_path / "routing.json")
    admin = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with Serving(live) as blue, Serving(create_gateway_app(gateway)) as front:
        body = json.dumps({"url": blue.url, "model": "fraud", "version": "1"}).encode()
        assert call(front.url, "PUT", "/admin/variants/blue", headers=admin, body=body)[0] == 200
        assert call(front.url, "PUT", "/admin/weights", headers=admin, body=b'{"blue": 100}')[0] == 200
        host, port = front.url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request("POST", "/predict", body=b'{"f0": 1.0}', headers={"Content-Type": "application/json"})
        answer = connection.getresponse()
        answer.read()
        connection.close()
    timing = answer.getheader("Server-Timing")
    app, upstream, spent = (server_time_ms(timing, name) for name in ("app", "upstream", "gateway"))
    assert answer.status == 200 and None not in (app, upstream, spent), timing
    assert 50 <= app <= upstream <= spent, timing  # the model's 50 ms, within the hop to it, within the gateway's time
