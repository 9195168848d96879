"""The model server as a user runs it: a real process on 127.0.0.1 serving a registered, digest-checked model."""

from __future__ import annotations

import numpy as np
import pytest

from ml_assets.resources.model_store import ModelIntegrityError
from ml_assets.serving.scoring import InputError, Scorer, mlflow_records
from ml_assets.training.algorithms import build_estimator
from ml_assets_tests.serving_fixtures import (
    FEATURES,
    KINDS,
    as_records,
    free_port,
    home_env,
    reference_scores,
    register_models,
    request,
    running,
    serve_command,
    synthetic,
)


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("serving")
    registry, versions, models = register_models(home)
    return home, registry, versions, models


@pytest.mark.unit
@pytest.mark.parametrize("kind", list(KINDS))
def test_fast_path_equals_the_models_own_predictions(registered, kind: str) -> None:
    _, registry, versions, models = registered
    loaded = registry.load_model(versions[kind].name, versions[kind].version)
    scorer = Scorer(loaded, FEATURES, threshold=0.5, name=versions[kind].name, version=versions[kind].version)
    x, _ = synthetic(300, seed=5)
    np.testing.assert_allclose(scorer.score(scorer.matrix(as_records(x))), reference_scores(models[kind], x), rtol=1e-6)


@pytest.mark.unit
def test_an_xgboost_model_scores_on_one_thread(registered) -> None:
    import json

    _, registry, versions, _ = registered
    loaded = registry.load_model(versions["xgboost"].name, versions["xgboost"].version)
    Scorer(loaded, FEATURES, threshold=0.5, name=versions["xgboost"].name, version=versions["xgboost"].version)
    # OpenMP threads spin after every call: on a served model they cost a core and the tail (see scoring.py)
    config = json.loads(loaded.get_booster().save_config())
    assert config["learner"]["generic_param"]["nthread"] == "1"


@pytest.mark.unit
def test_scorer_rejects_bad_records_naming_the_field(registered) -> None:
    _, registry, versions, _ = registered
    scorer = Scorer(
        registry.load_model(versions["xgboost"].name, versions["xgboost"].version),
        FEATURES,
        threshold=0.5,
        name="m",
        version="1",
    )
    good = {name: 0.1 for name in FEATURES}
    cases = [
        ({**good, "extra": 1.0}, "unknown field 'extra'", "extra"),
        ({k: v for k, v in good.items() if k != "f3"}, "missing field 'f3'", "f3"),
        ({**good, "f2": "0.5"}, "field 'f2' must be a number, got str", "f2"),
        ({**good, "f1": True}, "field 'f1' must be a number, got bool", "f1"),
        ({**good, "f0": float("nan")}, "field 'f0' must be finite", "f0"),
        ({**good, "f0": float("inf")}, "field 'f0' must be finite", "f0"),
    ]
    for record, message, field in cases:
        with pytest.raises(InputError) as error:
            scorer.matrix([record])
        assert message in str(error.value) and error.value.field == field
    with pytest.raises(InputError, match="record 1: missing field"):
        scorer.matrix([good, {}])
    with pytest.raises(InputError, match="at most 1000"):
        scorer.matrix([good] * 1001)
    assert mlflow_records({"dataframe_split": {"columns": FEATURES, "data": [[0.1] * 6]}}, FEATURES) == [good]


@pytest.mark.unit
def test_a_tampered_model_is_refused(registered) -> None:
    home, registry, versions, _ = registered
    stored = {path: path.read_bytes() for path in (home / "model_store").rglob("model.*")}
    assert sorted(path.name for path in stored) == ["model.skops", "model.skops", "model.ubj"]
    try:
        for path, original in stored.items():
            path.write_bytes(original[:-10] + b"0123456789")
        for kind in KINDS:
            with pytest.raises(ModelIntegrityError, match="sha256"):
                registry.load_model(versions[kind].name, versions[kind].version)
    finally:
        for path, original in stored.items():
            path.write_bytes(original)


@pytest.mark.unit
def test_whoever_reaches_mlflow_cannot_change_what_is_served(registered) -> None:
    """MLflow's copy of a model and its digest tag can be rewritten by anyone who reaches the MLflow server; what is
    loaded comes from the model store, where only training writes."""
    home, registry, versions, models = registered
    version = versions["xgboost"]
    copies = list((home / "mlflow" / "artifacts").rglob("model.ubj"))
    assert copies and all(path.read_bytes() == copies[0].read_bytes() for path in copies)
    forged = build_estimator(KINDS["xgboost"].model_copy(update={"params": {"n_estimators": 2}})).fit(*synthetic(50))
    forged.save_model(str(copies[0]))
    registry.set_version_tags(version.name, version.version, {"model_sha256": "0" * 64})
    loaded = registry.load_model(version.name, version.version)
    x, _ = synthetic(20, seed=3)
    np.testing.assert_allclose(loaded.predict_proba(x)[:, 1], reference_scores(models["xgboost"], x), rtol=1e-6)
    digest = home / "model_store" / version.name / version.version / "digest.json"
    saved = digest.read_bytes()
    digest.unlink()
    try:
        with pytest.raises(ModelIntegrityError, match="no digest in the model store"):
            registry.load_model(version.name, version.version)
    finally:
        digest.write_bytes(saved)


@pytest.fixture(scope="module")
def server(registered):
    home, _, versions, models = registered
    port = free_port()
    version = versions["xgboost"]
    with running(
        serve_command(f"models:/{version.name}/{version.version}", port),
        home_env(home),
        f"http://127.0.0.1:{port}/health",
    ):
        yield f"http://127.0.0.1:{port}", version, models["xgboost"]


@pytest.mark.pipeline
def test_endpoints(server) -> None:
    url, version, model = server
    assert request(f"{url}/health") == (200, {"status": "ok"})  # what a load balancer needs, nothing a client could use
    status, identity = request(f"{url}/version")
    assert status == 200 and identity == {"model": version.name, "version": version.version, "variant": "blue"}
    x, _ = synthetic(5, seed=9)
    records = as_records(x)
    expected = reference_scores(model, x)
    status, one = request(f"{url}/predict", records[0])
    assert status == 200 and one["probability"] == pytest.approx(expected[0], rel=1e-6)
    assert one["decision"] == (expected[0] >= 0.5) and one["model"] == version.name
    status, many = request(f"{url}/predict", records)
    assert status == 200 and [p["probability"] for p in many["predictions"]] == pytest.approx(
        expected.tolist(), rel=1e-6
    )
    split = {"dataframe_split": {"columns": FEATURES, "data": x.to_numpy().tolist()}}
    status, mlflow_style = request(f"{url}/invocations", split)
    assert status == 200 and mlflow_style["predictions"] == pytest.approx(expected.tolist(), rel=1e-6)
    status, text = request(f"{url}/metrics")
    assert status == 200 and 'ml_assets_requests_total{endpoint="predict"' in text
    assert "ml_assets_request_latency_seconds_bucket" in text and "ml_assets_score_bucket" in text


@pytest.mark.pipeline
def test_fuzzing_gives_only_4xx_and_the_server_survives(server) -> None:
    url, _, _ = server
    good = {name: 0.1 for name in FEATURES}
    cases = [
        (b"{not json", "application/json", 400),
        (b"", "application/json", 400),
        (b"NaN", "application/json", 400),
        (b'{"f0": NaN}', "application/json", 400),
        (b"[1, 2, 3]", "application/json", 400),
        (b'"a string"', "application/json", 400),
        (b"null", "application/json", 400),
        (b'{"f0": {"nested": [1]}}', "application/json", 422),
        (b"f0=1&f1=2", "application/x-www-form-urlencoded", 415),
        (b"{}", "text/plain", 415),
        (b"{}", "", 415),
        (b"[" + b"1," * 700_000 + b"1]", "application/json", 413),
        (bytes(range(256)) * 10, "application/json", 400),
    ]
    for raw, content_type, expected in cases:
        for path in ("/predict", "/invocations"):
            status, body = request(f"{url}{path}", raw=raw, content_type=content_type)
            assert 400 <= status < 500, (path, raw[:40], status, body)
            if path == "/predict":
                assert status == expected, (raw[:40], status, body)
            assert isinstance(body, dict) and "error" in body
    rng = np.random.default_rng(0)
    for _ in range(200):  # random mutations of a good record
        record = dict(good)
        keys, values = [*FEATURES, "zzz"], [None, "x", [], {}, True, 1e400, -1, 10**30, 2.5]
        record[keys[rng.integers(len(keys))]] = values[rng.integers(len(values))]
        status, _ = request(f"{url}/predict", record)
        assert status in (200, 400, 422), record
    assert request(f"{url}/health")[0] == 200
