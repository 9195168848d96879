"""Scoring clients authenticate with API keys: who is let in, what a refused client learns, and key rotation."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ml_assets.serving.auth import (
    ApiKeys,
    ExposureError,
    KeyConfigError,
    KeyFile,
    SecretsManagerKeys,
    check_exposure,
    client_headers,
    open_key_source,
)
from ml_assets_tests.serving_fixtures import Serving, SlowModel, call, key_file

OLD, NEW = "old-key-" + "a" * 32, "new-key-" + "b" * 32


@pytest.mark.unit
def test_only_a_current_key_with_the_bearer_scheme_is_accepted(tmp_path: Path) -> None:
    keys = ApiKeys(KeyFile(key_file(tmp_path, NEW, OLD)))
    assert keys.accepts(f"Bearer {NEW}") and keys.accepts(f"bearer {OLD}")
    refused = [None, "", NEW, f"Basic {NEW}", f"Bearer {NEW[:-1]}", f"Bearer {NEW}x", "Bearer ", "Bearer \u00e9\u00e9"]
    assert not any(keys.accepts(value) for value in refused)
    assert keys.client_headers() == {"Authorization": f"Bearer {NEW}"}  # the newest: first in the list


@pytest.mark.unit
def test_rotation_takes_effect_at_the_next_refresh_and_a_failed_read_keeps_the_keys(tmp_path: Path, caplog) -> None:
    path = key_file(tmp_path, OLD)
    keys = ApiKeys(KeyFile(path))
    key_file(tmp_path, NEW, OLD)  # step 1: the new key is added, both work
    keys.refresh()
    assert keys.accepts(f"Bearer {NEW}") and keys.accepts(f"Bearer {OLD}")
    key_file(tmp_path, NEW)  # step 3: clients moved, the old key is removed
    keys.refresh()
    assert keys.accepts(f"Bearer {NEW}") and not keys.accepts(f"Bearer {OLD}")
    path.chmod(0o644)  # the source becomes unusable: the server keeps what it had, and says why
    keys.refresh()
    assert keys.accepts(f"Bearer {NEW}")
    assert "mode 644" in caplog.text and "keeping the 1 keys" in caplog.text


@pytest.mark.unit
def test_unusable_key_sources_are_named(tmp_path: Path) -> None:
    with pytest.raises(KeyConfigError, match=r"file:.*scoring_keys is mode 644"):
        ApiKeys(KeyFile(key_file(tmp_path, NEW, mode=0o644)))
    link = tmp_path / "link"
    link.symlink_to(key_file(tmp_path, NEW))
    with pytest.raises(KeyConfigError, match="a symbolic link"):
        ApiKeys(KeyFile(link))
    with pytest.raises(KeyConfigError, match="No such file"):
        ApiKeys(KeyFile(tmp_path / "missing"))
    with pytest.raises(KeyConfigError, match="key 2 is shorter than 16"):
        ApiKeys(KeyFile(key_file(tmp_path, NEW, "short")))
    with pytest.raises(KeyConfigError, match="no key, every client would be refused"):
        ApiKeys(KeyFile(key_file(tmp_path, "")))
    with pytest.raises(KeyConfigError, match=r"expected file:<location> or secretsmanager:<location>"):
        open_key_source("vault:keys")
    for value, message in [("not json", "not JSON"), ('["k"]', '"keys"'), ('{"keys": [1]}', "must be a string")]:
        with pytest.raises(KeyConfigError, match=message):
            ApiKeys(SecretsManagerKeys("scoring", read=lambda _, v=value: v))


@pytest.mark.unit
def test_a_server_beyond_loopback_without_keys_is_refused(tmp_path: Path) -> None:
    keys = ApiKeys(KeyFile(key_file(tmp_path, NEW)))
    check_exposure("127.0.0.1", None, allow_unauthenticated=False, what="the model server")
    check_exposure("0.0.0.0", keys, allow_unauthenticated=False, what="the model server")  # nosec B104
    check_exposure("0.0.0.0", None, allow_unauthenticated=True, what="the model server")  # nosec B104
    for host in ("0.0.0.0", "10.0.0.5", "::"):  # nosec B104
        with pytest.raises(ExposureError, match="ML_ASSETS_SCORING_KEYS"):
            check_exposure(host, None, allow_unauthenticated=False, what="the model server")


@pytest.mark.unit
def test_the_cli_refuses_to_serve_beyond_loopback_without_keys(capsys, monkeypatch) -> None:
    from ml_assets.cli import main

    monkeypatch.delenv("ML_ASSETS_SCORING_KEYS", raising=False)
    assert main(["serve", "--model-uri", "models:/fraud/1", "--host", "0.0.0.0"]) == 2  # nosec B104
    assert "the model server would listen on 0.0.0.0 with no API keys" in capsys.readouterr().err
    assert main(["gateway", "--environment", "production", "--port", "1", "--host", "10.1.2.3"]) == 2
    assert "the gateway would listen on 10.1.2.3" in capsys.readouterr().err


def scoring_app(keys: ApiKeys | None, traffic: list):
    from ml_assets.serving.app import create_app
    from ml_assets.serving.scoring import Scorer

    class Observed:  # the traffic log's interface: what the release analysis would see
        def observe(self, status, latency_ms, score) -> None:
            traffic.append(status)

        def record(self, records, scores) -> None:
            pass

        def start(self) -> None:
            pass

        def stop(self) -> None:
            pass

    scorer = Scorer(SlowModel(0.0), ["f0"], threshold=0.37, name="fraud", version="7")
    return create_app(scorer, variant="green", traffic_log=Observed(), keys=keys)


JSON = {"Content-Type": "application/json"}
BODY = json.dumps({"f0": 1.0}).encode()


@pytest.mark.pipeline
def test_the_model_server_asks_for_a_key_and_health_tells_nothing_else(tmp_path: Path) -> None:
    traffic: list = []
    keys = ApiKeys(KeyFile(key_file(tmp_path, NEW)))
    with Serving(scoring_app(keys, traffic)) as server:
        assert call(server.url, "GET", "/health", headers={}) == (200, {"status": "ok"})  # no threshold, features
        for headers in ({}, {"Authorization": f"Bearer {OLD}"}, {"Authorization": "Bearer \u00e9"}):
            status, answer = call(server.url, "POST", "/predict", headers={**JSON, **headers}, body=BODY)
            assert status == 401 and "API key" in answer["error"]
            assert call(server.url, "POST", "/invocations", headers={**JSON, **headers}, body=b"{}")[0] == 401
            assert call(server.url, "GET", "/version", headers=headers)[0] == 401
            assert call(server.url, "GET", "/metrics", headers=headers)[0] == 401
        assert traffic == []  # refused clients are nobody's outcome: they cannot roll a release back
        good = {"Authorization": f"Bearer {NEW}"}
        status, answer = call(server.url, "POST", "/predict", headers={**JSON, **good}, body=BODY)
        assert status == 200 and answer["version"] == "7"
        assert call(server.url, "GET", "/version", headers=good) == (
            200,
            {"model": "fraud", "version": "7", "variant": "green"},
        )
        assert traffic == [200]


@pytest.mark.pipeline
def test_without_keys_the_local_server_needs_none(tmp_path: Path) -> None:
    traffic: list = []
    with Serving(scoring_app(None, traffic)) as server:
        assert call(server.url, "POST", "/predict", headers=JSON, body=BODY)[0] == 200
        assert call(server.url, "GET", "/version", headers={})[0] == 200
        assert call(server.url, "GET", "/health", headers={}) == (200, {"status": "ok"})


@pytest.mark.pipeline
def test_the_gateway_refuses_a_client_without_a_key_before_routing(tmp_path: Path, monkeypatch) -> None:
    from ml_assets.serving.gateway import Gateway, create_gateway_app

    keys = ApiKeys(KeyFile(key_file(tmp_path, NEW)))
    traffic: list = []
    with Serving(scoring_app(keys, traffic)) as model_server:
        gateway = Gateway("production", "admin-token-" + "c" * 20, tmp_path / "routing.json")
        gateway.set_variant("blue", {"url": model_server.url, "model": "fraud", "version": "7"})
        gateway.set_weights({"blue": 100})
        with Serving(create_gateway_app(gateway, keys=keys)) as front:
            assert call(front.url, "POST", "/predict", headers=JSON, body=BODY)[0] == 401
            assert gateway.traffic == {} and traffic == []  # refused at the door: no variant's record
            good = {**JSON, "Authorization": f"Bearer {NEW}"}
            status, answer = call(front.url, "POST", "/predict", headers=good, body=BODY)
            assert status == 200 and answer["version"] == "7"  # the key reached the model server too
            assert traffic == [200] and gateway.traffic["blue"].total == 1


@pytest.mark.aws
def test_keys_are_read_from_secrets_manager(endpoint: str, monkeypatch) -> None:
    from ml_assets_tests.aws_fixtures import client

    secrets = client("secretsmanager", endpoint)
    arn = secrets.create_secret(Name="ml-assets-production/scoring-keys", SecretString=json.dumps({"keys": [OLD]}))[
        "ARN"
    ]
    monkeypatch.setenv("ML_ASSETS_SCORING_KEYS", f"secretsmanager:{arn}")
    assert client_headers() == {"Authorization": f"Bearer {OLD}"}
    keys = ApiKeys(open_key_source(os.environ["ML_ASSETS_SCORING_KEYS"]))
    secrets.put_secret_value(SecretId=arn, SecretString=json.dumps({"keys": [NEW, OLD]}))
    keys.refresh()
    assert keys.accepts(f"Bearer {NEW}") and keys.accepts(f"Bearer {OLD}")
    with pytest.raises(KeyConfigError, match=r"secretsmanager:missing-secret: .*ResourceNotFound"):
        ApiKeys(open_key_source("secretsmanager:missing-secret"))


@pytest.mark.unit
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_gateway_bound_beyond_loopback_shows_its_dashboard_to_this_machine_or_a_key(tmp_path: Path) -> None:
    """Beyond loopback anyone can send ``Host: 127.0.0.1``: the Host check alone would not keep the dashboard in. A
    connection from this machine (an ssh tunnel) still sees it without a key."""
    from starlette.testclient import TestClient

    from ml_assets.serving.gateway import Gateway, create_gateway_app

    keys = ApiKeys(KeyFile(key_file(tmp_path, NEW)))
    gateway = Gateway("production", "admin-token-" + "c" * 20, tmp_path / "routing.json")
    app = create_gateway_app(gateway, lambda: {"alarms": []}, bound_host="0.0.0.0", keys=keys)  # nosec B104
    forged = {"Host": "127.0.0.1"}
    with TestClient(app, client=("203.0.113.9", 40000)) as remote:
        assert remote.get("/dashboard/data", headers=forged).status_code == 401
        assert remote.get("/dashboard/data", headers={**forged, "Authorization": f"Bearer {NEW}"}).status_code == 200
        assert remote.get("/health").json() == {"status": "no_backends"}  # no weights
    with TestClient(app, client=("127.0.0.1", 40000)) as tunnel:
        assert tunnel.get("/dashboard/data", headers=forged).status_code == 200


@pytest.mark.unit
def test_a_key_file_that_is_not_text_is_named(tmp_path: Path) -> None:
    path = tmp_path / "scoring_keys"
    path.write_bytes(b"\xff\xfe" + b"k" * 20)
    path.chmod(0o600)
    with pytest.raises(KeyConfigError, match="not ASCII text"):
        ApiKeys(KeyFile(path))
