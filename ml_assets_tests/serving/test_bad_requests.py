"""A corpus of bad requests (bodies, headers, tokens, content types, sizes, slot headers, column names) against a
model server and the gateway in front of it, both asking for API keys: every one gets a 4xx, never a 5xx, and both
keep serving good requests afterwards."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from ml_assets.serving.auth import ApiKeys, KeyFile
from ml_assets_tests.serving_fixtures import Serving, call, key_file

KEY = "corpus-key-" + "k" * 32
FEATURES = ["amount", "count_7d", "risk_30d"]
GOOD_RECORD = {"amount": 12.5, "count_7d": 3.0, "risk_30d": 0.01}
MAX_BODY = 20_000


def bodies() -> list[tuple[str, bytes]]:
    """(label, body) of JSON that is malformed, mistyped or out of bounds for /predict and /invocations."""
    raw = [
        b"",
        b"{",
        b"}",
        b"[",
        b"{not json",
        b"nul",
        b"\xff\xfe\x00",
        b'{"amount": 1,}',
        b"[1, 2",
        b'"\\ud800"',
        b"\x00" * 64,
        b"{" * 5000 + b"}" * 5000,
        b"[" * 5000 + b"]" * 5000,
        b"1e999999",
    ]
    values = [None, True, "1.0", "", [], {}, [1.0], {"v": 1}, float("nan"), float("inf"), -float("inf"), 1e309]
    typed = [
        json.dumps({**GOOD_RECORD, "amount": value}, allow_nan=True).encode()
        for value in values
        if not (isinstance(value, float) and value == 1e309)
    ]
    typed.append(b'{"amount": 1e999, "count_7d": 1, "risk_30d": 0}')  # overflows to inf
    shapes = [
        b"null",
        b"true",
        b"42",
        b'"a record"',
        b"[]",
        b"[null]",
        b"[[1, 2]]",  # values in feature order, one short
        b'[{"amount": 1}]',
        json.dumps({k: v for k, v in GOOD_RECORD.items() if k != "amount"}).encode(),
        json.dumps({**GOOD_RECORD, "extra": 1.0}).encode(),
        json.dumps({**GOOD_RECORD, "AMOUNT": 1.0}).encode(),
        json.dumps({**GOOD_RECORD, "\u00e9": 1.0}).encode(),
        json.dumps({**GOOD_RECORD, "": 1.0}).encode(),
        json.dumps([GOOD_RECORD] * 1001).encode(),  # over the batch limit
        json.dumps([GOOD_RECORD, "x"]).encode(),
        json.dumps({"records": [GOOD_RECORD]}).encode(),
    ]
    return (
        [(f"raw {i}", b) for i, b in enumerate(raw)]
        + [(f"typed {i}", b) for i, b in enumerate(typed)]
        + [(f"shape {i}", b) for i, b in enumerate(shapes)]
    )


def mlflow_bodies() -> list[tuple[str, bytes]]:
    """MLflow-protocol bodies with bad column names, data or keys."""
    row = [GOOD_RECORD[f] for f in FEATURES]
    column_sets = [
        [],
        ["amount"],
        [*FEATURES, "extra"],
        [1, 2, 3],
        [None, "count_7d", "risk_30d"],
        [["amount"], "count_7d", "risk_30d"],
        [{"a": 1}, "count_7d", "risk_30d"],
        ["amount", "amount", "risk_30d"],
        ["", "count_7d", "risk_30d"],
        ["\u0000", "count_7d", "risk_30d"],
        ["am\u00f6unt", "count_7d", "risk_30d"],
        [f"c{i}" for i in range(3000)],
        "amount,count_7d,risk_30d",
        None,
    ]
    cases = [("columns", {"dataframe_split": {"columns": c, "data": [row]}}) for c in column_sets]
    cases += [
        ("data", {"dataframe_split": {"columns": FEATURES, "data": d}})
        for d in (None, "x", [row[:2]], [[*row, 1.0]], [["1", "2", "3"]], [[None, 1, 2]], [row] * 1001, [[]])
    ]
    cases += [
        ("shape", body)
        for body in (
            {},
            {"dataframe_split": None},
            {"dataframe_split": []},
            {"dataframe_records": "x"},
            {"dataframe_records": [[1, 2, 3, 4]]},
            {"instances": {"amount": 1}},
            {"inputs": 5},
            {"dataframe_split": {"columns": FEATURES, "data": [row]}, "instances": [GOOD_RECORD]},
            {"dataframe_split": {"columns": FEATURES}},
        )
    ]
    return [(f"mlflow {label} {i}", json.dumps(body).encode()) for i, (label, body) in enumerate(cases)]


CONTENT_TYPES = [
    None,
    "",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/xml",
    "application/jsonx",
    "json",
    "application/json\u00e9",
    "*/*",
]
AUTHORIZATION = [
    None,
    "",
    "Bearer",
    "Bearer ",
    f"Basic {KEY}",
    KEY,
    f"Bearer {KEY[:-1]}",
    f"Bearer {KEY}x",
    f"Bearer  {KEY[1:]}",
    "Bearer " + "A" * 8000,
    "Bearer \u00e9\u00e8\u00ea",
    "Bearer \u00ff" * 3,
    f"Token {KEY}",
    "Bearer null",
]
SLOT_HEADERS = ["green", "blue", "../admin", "\u00e9", "x" * 4000, "", "blue, green"]


def corpus() -> list[tuple[str, str, str, dict[str, str], bytes, set[int]]]:
    """(label, method, path, headers, body, statuses allowed): bad requests and the answers they may get."""
    good_auth = {"Authorization": f"Bearer {KEY}"}
    json_type = {"Content-Type": "application/json"}
    good_body = json.dumps(GOOD_RECORD).encode()
    scoring = ("/predict", "/invocations")
    cases = []
    for (label, body), path in itertools.product([*bodies(), *mlflow_bodies()], scoring):
        cases.append((f"{path} {label}", "POST", path, {**good_auth, **json_type}, body, {400, 413, 415, 422}))
    for content_type, path in itertools.product(CONTENT_TYPES, scoring):
        headers = {**good_auth} if content_type is None else {**good_auth, "Content-Type": content_type}
        cases.append((f"content type {content_type!r} {path}", "POST", path, headers, good_body, {415}))
    for authorization, path in itertools.product(AUTHORIZATION, scoring):
        headers = {**json_type} if authorization is None else {**json_type, "Authorization": authorization}
        cases.append((f"authorization {authorization!r:.40} {path}", "POST", path, headers, good_body, {401}))
    for size, path in itertools.product((MAX_BODY + 1, 4 * MAX_BODY, 20 * MAX_BODY), scoring):
        body = json.dumps({**GOOD_RECORD, "pad": "x" * size}).encode()
        cases.append((f"size {size} {path}", "POST", path, {**good_auth, **json_type}, body, {413}))
    for slot in SLOT_HEADERS:  # a slot header never opens a path to a colour, with or without a key
        headers = {**json_type, "X-ML-Assets-Slot": slot}
        cases.append((f"slot {slot!r:.20} without key", "POST", "/predict", headers, good_body, {401}))
        cases.append((f"slot {slot!r:.20} bad body", "POST", "/predict", {**headers, **good_auth}, b"{", {400}))
    for method, path in itertools.product(("GET", "PUT", "DELETE", "PATCH"), scoring):
        cases.append((f"{method} {path}", method, path, {**good_auth, **json_type}, good_body, {405}))
    for path in ("/admin/state", "/../../etc/passwd", "/predict/../admin", "/" + "a" * 6000, "/%00", "/dashboard"):
        cases.append((f"path {path:.30}", "POST", path, {**good_auth, **json_type}, good_body, {404, 405}))
    return cases


def scoring_app(tmp_path: Path):
    from ml_assets.serving.app import create_app
    from ml_assets.serving.scoring import Scorer

    rng = np.random.default_rng(0)
    x = rng.random((200, 3))
    model = LogisticRegression().fit(x, (x[:, 0] > 0.5).astype(int))
    model.feature_names_in_ = np.array(FEATURES, dtype=object)
    keys = ApiKeys(KeyFile(key_file(tmp_path, KEY)))
    scorer = Scorer(model, FEATURES, threshold=0.5, name="fraud", version="1")
    return create_app(scorer, variant="blue", max_body_bytes=MAX_BODY, keys=keys), keys


def send_all(url: str, cases) -> list[str]:
    """The cases that got an answer outside what they allow (or none)."""
    wrong = []
    for label, method, path, headers, body, allowed in cases:
        try:
            status, _ = call(url, method, path, headers=headers, body=body)
        except (OSError, ValueError) as error:  # a dropped connection is not an answer
            wrong.append(f"{label}: {type(error).__name__}")
            continue
        if status not in allowed:
            wrong.append(f"{label}: {status}, expected one of {sorted(allowed)}")
    return wrong


def still_serving(url: str) -> bool:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"}
    status, answer = call(url, "POST", "/predict", headers=headers, body=json.dumps(GOOD_RECORD).encode())
    return status == 200 and 0.0 <= answer["probability"] <= 1.0


@pytest.mark.pipeline
def test_a_corpus_of_bad_requests_gets_only_4xx_from_the_model_server_and_the_gateway(tmp_path: Path) -> None:
    from ml_assets.serving.gateway import Gateway, create_gateway_app

    cases = corpus()
    assert len(cases) >= 200
    app, keys = scoring_app(tmp_path)
    with Serving(app) as model_server:
        assert send_all(model_server.url, cases) == []
        assert still_serving(model_server.url)
        gateway = Gateway("production", "admin-" + "t" * 30, tmp_path / "routing.json", max_body_bytes=MAX_BODY)
        gateway.set_variant("blue", {"url": model_server.url, "model": "fraud", "version": "1"})
        gateway.set_weights({"blue": 100})
        with Serving(create_gateway_app(gateway, keys=keys)) as front:
            assert send_all(front.url, cases) == []
            assert still_serving(front.url)
            # refused at the gateway's door (no key): no record; the rest reached the model server and got its 4xx
            statuses = [row[2] for row in gateway.traffic["blue"].records]
            assert statuses and all(400 <= status < 500 for status in statuses[:-1]) and statuses[-1] == 200
            assert len(statuses) > len(cases) // 2  # most reached it: the 4xx are the model server's own
