"""Storage in a folder or an S3 prefix (moto as a server): landing files, asset values, rollout states."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import pytest
from dagster import asset, materialize

from ml_assets.data.schema import DataLoadError
from ml_assets.resources.io_manager import ParquetJsonIOManager
from ml_assets.resources.landing import LandingFolder
from ml_assets.resources.reports import ReportStore
from ml_assets.resources.rollout_state import JsonStateStore
from ml_assets.resources.storage import ObjectExistsError, UnsafePathError, open_store
from ml_assets.rollout.backend import ModelRef
from ml_assets.rollout.state import RolloutState
from ml_assets.settings import load_settings
from ml_assets_tests.aws_fixtures import client

BUCKET = "ml-assets-test-data"


@pytest.fixture(params=[pytest.param("folder", marks=pytest.mark.unit), pytest.param("s3", marks=pytest.mark.aws)])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "folder":
        return str(tmp_path / "store")
    endpoint = request.getfixturevalue("endpoint")
    client("s3", endpoint).create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    return f"s3://{BUCKET}/team/fraud"


def test_landing_files_are_listed_read_and_hashed_the_same_way_everywhere(location: str) -> None:
    landing = LandingFolder(path=f"{location}/landing")
    assert landing.files() == []
    frame = pd.DataFrame({"TX_AMOUNT": [1.5, 2.25], "TX_FRAUD": [0, 1]})
    landing.write(frame, "transactions_2026-11-01.parquet")
    landing.write(frame, "transactions_2026-11-02.csv")
    store = open_store(f"{location}/landing")
    store.write(".partial.parquet", b"in flight")  # hidden: still being written by someone
    store.write("notes.txt", b"not data")
    store.write("archive/old.parquet", b"a sub-folder is not this landing folder")

    files = landing.files()
    assert [f.name for f in files] == ["transactions_2026-11-01.parquet", "transactions_2026-11-02.csv"]
    loaded, digest = landing.read(files[0].name)
    assert loaded.equals(frame) and len(digest) == 64
    before = files[1].version
    landing.write(frame.assign(TX_AMOUNT=[9.0, 9.5]), "transactions_2026-11-02.csv")
    assert landing.files()[1].version != before  # a changed file has a new version
    with pytest.raises(FileNotFoundError):
        landing.read("transactions_1999-01-01.parquet")


def test_asset_values_round_trip_through_the_io_manager(location: str) -> None:
    @asset
    def table() -> pd.DataFrame:
        return pd.DataFrame({"a": [1, 2, 3]})

    @asset
    def summary(table: pd.DataFrame) -> dict:
        return {"rows": len(table)}

    @asset
    def report(summary: dict, table: pd.DataFrame) -> dict:
        return {**summary, "total": int(table["a"].sum())}

    result = materialize([table, summary, report], resources={"io_manager": ParquetJsonIOManager(base_dir=location)})
    assert result.success
    assert result.output_for_node("report") == {"rows": 3, "total": 6}
    store = open_store(location)
    assert {o.name for o in store.list()} == {"table.parquet", "summary.json", "report.json"}
    path = result.asset_materializations_for_node("table")[0].metadata["path"].value
    assert path == f"{store.url}/table.parquet"

    # A value that changes kind replaces the old file rather than leaving both.
    @asset(name="table")
    def table_as_json() -> dict:
        return {"now": "json"}

    materialize([table_as_json], resources={"io_manager": ParquetJsonIOManager(base_dir=location)})
    assert {o.name for o in store.list()} == {"table.json", "summary.json", "report.json"}


def test_a_value_never_materialized_names_where_it_was_looked_for(location: str) -> None:
    @asset
    def upstream() -> dict:
        return {}

    @asset
    def downstream(upstream: dict) -> dict:
        return upstream

    result = materialize(
        [upstream.to_source_asset(), downstream],
        resources={"io_manager": ParquetJsonIOManager(base_dir=location)},
        raise_on_error=False,
    )
    assert not result.success
    failure = result.get_step_failure_events()[0].event_specific_data.error.to_string()
    assert "asset upstream has not been materialized yet" in failure and "upstream.parquet" in failure


def test_rollout_states_survive_in_shared_storage(location: str) -> None:
    state = RolloutState(
        rollout_id="abc123",
        environment="production",
        strategy="canary",
        stable_slot="blue",
        candidate_slot="green",
        stable_model=ModelRef("fraud", "1"),
        candidate_model=ModelRef("fraud", "2"),
        weights={"blue": 90, "green": 10},
        started_at=1.0,
        updated_at=2.0,
    )
    JsonStateStore(f"{location}/rollouts").save(state)
    again = JsonStateStore(f"{location}/rollouts").load("production")  # another process, another machine
    assert again is not None and again.candidate_model == ModelRef("fraud", "2") and again.weights["green"] == 10
    assert JsonStateStore(f"{location}/rollouts").load("staging") is None


@pytest.mark.unit
def test_locations_in_the_config_expand_variables_and_refuse_unknown_ones(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ML_ASSETS_HOME", str(tmp_path))
    monkeypatch.setenv("ML_ASSETS_DATA_BUCKET", "team-bucket")
    settings = load_settings()
    assert settings.resolve_location("s3://${ML_ASSETS_DATA_BUCKET}/landing") == "s3://team-bucket/landing"
    assert settings.resolve_location("landing/fraud") == str(tmp_path / "landing/fraud")
    monkeypatch.delenv("ML_ASSETS_DATA_BUCKET")
    with pytest.raises(ValueError, match="an environment variable it names is not set"):
        settings.resolve_location("s3://${ML_ASSETS_DATA_BUCKET}/landing")
    with pytest.raises(ValueError, match="unsupported storage location 'gs://x/y'"):
        open_store("gs://x/y")


def test_reports_go_through_the_store_and_are_linked_by_url(location: str, tmp_path: Path) -> None:
    """Reports outlive the machine that wrote them: a folder or S3, opened by the link the store gives."""
    reports = ReportStore(location=f"{location}/reports")
    link = reports.write("drift/latest.html", "<html>drift</html>")
    comparison = reports.write("candidate/run-1/comparison.json", {"accepted": True})
    site = tmp_path / "site"
    (site / "validations").mkdir(parents=True)
    (site / "index.html").write_text("index")
    (site / "validations" / "v1.html").write_text("page")
    reports.write_folder("data_docs", site)

    store = open_store(f"{location}/reports")
    assert store.read("drift/latest.html") == b"<html>drift</html>"
    assert json.loads(store.read("candidate/run-1/comparison.json")) == {"accepted": True}
    assert store.read("data_docs/validations/v1.html") == b"page"
    if location.startswith("s3://"):
        key = "team/fraud/reports/drift/latest.html"
        assert (
            link
            == f"https://s3.console.aws.amazon.com/s3/object/{BUCKET}?region=eu-west-1&prefix={quote(key, safe='')}"
        )
        assert store.client.head_object(Bucket=BUCKET, Key=key)["ContentType"] == "text/html"  # renders, no download
    else:
        assert link == (Path(location) / "reports/drift/latest.html").as_uri()
        assert Path(comparison.removeprefix("file://")).read_text().startswith("{")


@pytest.mark.unit
def test_a_local_store_keeps_its_files_private_and_follows_no_link(tmp_path: Path) -> None:
    root = tmp_path / "state" / "store"
    store = open_store(str(root))
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    # A link planted where a predictable temporary file would be written is never written through.
    (root / "runs").mkdir(parents=True)
    (root / "runs" / ".a.json.tmp").symlink_to(victim)
    store.write("runs/a.json", b"{}")
    assert victim.read_text() == "keep me" and store.read("runs/a.json") == b"{}"
    assert not [p for p in (root / "runs").iterdir() if p.name.endswith(".tmp") and not p.is_symlink()]
    store.write("new/deeper/b.json", b"{}")  # folders it creates are its owner's only, and so are the files
    assert (root / "new").stat().st_mode & 0o777 == 0o700 and (root / "new" / "deeper").stat().st_mode & 0o777 == 0o700
    assert (root / "new" / "deeper" / "b.json").stat().st_mode & 0o777 == 0o600
    for name in ("../outside.json", str(tmp_path / "absolute.json"), "runs/../../x"):
        with pytest.raises(UnsafePathError, match="outside the store"):
            store.write(name, b"x")
    assert not (tmp_path / "state" / "outside.json").exists() and not (tmp_path / "absolute.json").exists()
    # A link inside the store (to a file or a folder) is named when read, never followed.
    (root / "runs" / "linked.json").symlink_to(victim)
    (root / "elsewhere").symlink_to(tmp_path)
    assert "runs/linked.json" in {item.name for item in store.list("runs")}
    with pytest.raises(UnsafePathError, match=r"'runs/linked\.json' is a symbolic link"):
        store.read("runs/linked.json")
    with pytest.raises(UnsafePathError, match="goes through the symbolic link"):
        store.write("elsewhere/victim.txt", b"overwritten")
    with pytest.raises(UnsafePathError, match="symbolic link"):
        store.write("runs/linked.json", b"overwritten")
    assert victim.read_text() == "keep me"


@pytest.mark.unit
def test_a_linked_landing_file_is_an_unloadable_file_named(tmp_path: Path) -> None:
    landing = LandingFolder(path=str(tmp_path / "landing"))
    landing.write(pd.DataFrame({"a": [1]}), "transactions_2026-01-01.parquet")
    elsewhere = tmp_path / "secret.parquet"
    elsewhere.write_bytes((tmp_path / "landing" / "transactions_2026-01-01.parquet").read_bytes())
    (tmp_path / "landing" / "transactions_2026-01-02.parquet").symlink_to(elsewhere)
    assert [f.name for f in landing.files()] == ["transactions_2026-01-01.parquet", "transactions_2026-01-02.parquet"]
    with pytest.raises(DataLoadError, match=r"transactions_2026-01-02\.parquet: .* is a symbolic link"):
        landing.read("transactions_2026-01-02.parquet")


def test_a_days_attributes_come_from_its_parquet_footer_alone(location: str) -> None:
    """Verdicts and versions of the days a step reads come from each object's last bytes (one ranged read on S3),
    not from the whole object."""
    import io

    from ml_assets.resources.io_manager import FOOTER_GUESS, StoredPartitions

    store = open_store(location)
    small = pd.DataFrame({"x": range(200_000)})
    small.attrs = {"validation": {"passed": True, "failures": []}, "data_version": "v1"}
    large = small.copy()  # attributes larger than the first guess: the footer is read again, whole
    large.attrs = {**small.attrs, "inputs": {f"day-{i:05d}": "x" * 40 for i in range(2_000)}}
    for day, frame in (("2026-01-01", small), ("2026-01-02", large)):
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        store.write(f"features/{day}.parquet", buffer.getvalue())
    tails: list[int] = []
    read_tail = store.read_tail

    def recorded(name: str, size: int) -> bytes:
        tails.append(size)
        return read_tail(name, size)

    store.read_tail = recorded
    store.read = lambda name: pytest.fail(f"read the whole of {name}")
    days = StoredPartitions(store, "features")
    assert days.attrs("2026-01-01") == small.attrs and days.attrs("2026-01-02") == large.attrs
    whole = {item.name: item.size for item in store.list("features")}["features/2026-01-02.parquet"]
    assert tails[:2] == [FOOTER_GUESS, FOOTER_GUESS] and len(tails) == 3 and FOOTER_GUESS < tails[2] < whole - 100_000


def test_the_model_store_keeps_a_version_once_and_checks_its_bytes(location: str) -> None:
    import numpy as np
    import skops.io
    from sklearn.tree import DecisionTreeClassifier

    from ml_assets.resources.model_store import ModelIntegrityError, ModelStore

    x = np.arange(20, dtype=float).reshape(10, 2)
    model = DecisionTreeClassifier(random_state=0).fit(x, [0, 1] * 5)
    data = skops.io.dumps(model)
    models = ModelStore(f"{location}/model-store")
    digest = models.put("fraud", "3", flavor="sklearn", data=data)
    assert models.digest("fraud", "3") == {"name": "fraud", "version": "3", "flavor": "sklearn", "sha256": digest}
    np.testing.assert_array_equal(models.load("fraud", "3").predict(x), model.predict(x))
    with pytest.raises(ModelIntegrityError, match=r"fraud v3 is already in the model store"):
        models.put("fraud", "3", flavor="sklearn", data=data + b" ")
    store = open_store(f"{location}/model-store")
    with pytest.raises(ObjectExistsError):  # the store refuses, not only the code that asked first
        store.create("fraud/3/digest.json", b"{}")
    assert json.loads(store.read("fraud/3/digest.json"))["sha256"] == digest
    with pytest.raises(ValueError, match="unknown model flavor 'pickle'"):
        models.put("fraud", "4", flavor="pickle", data=data)
    open_store(f"{location}/model-store").write("fraud/3/model.skops", data[:-1] + b"x")  # rewritten behind its back
    with pytest.raises(ModelIntegrityError, match=r"fraud v3: model sha256 .* != recorded"):
        models.load("fraud", "3")
    with pytest.raises(ModelIntegrityError, match="fraud v5: no digest in the model store"):
        models.load("fraud", "5")
