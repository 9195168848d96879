from pathlib import Path

import pandas as pd
import pytest

from ml_assets.config import PipelineConfig
from ml_assets.data.schema import SOURCE_FILE_COLUMN, DataLoadError, concat_sources, conform
from ml_assets.resources.landing import LandingFolder
from ml_assets_tests.bad_data import recent_transactions

pytestmark = pytest.mark.unit


@pytest.fixture
def day(tmp_path: Path) -> pd.DataFrame:
    return recent_transactions(days=1)[0][1]


def _load(landing: LandingFolder, name: str, config: PipelineConfig) -> pd.DataFrame:
    return conform(landing.read(name)[0], config.data_schema, name)


def test_good_files_load_with_stable_dtypes(tmp_path: Path, day: pd.DataFrame, fraud_config: PipelineConfig) -> None:
    landing = LandingFolder(path=str(tmp_path))
    landing.write(day, "a.parquet")
    landing.write(day, "b.csv")
    frames = [(p.name, conform(landing.read(p.name)[0], fraud_config.data_schema, p.name)) for p in landing.files()]
    combined = concat_sources(frames)
    assert len(combined) == 2 * len(day)
    assert combined.dtypes["TX_AMOUNT"] == "float64" and str(combined.dtypes["TX_FRAUD"]) == "Int64"
    assert str(combined.dtypes["TX_DATETIME"]) == "datetime64[ns]"
    assert set(combined[SOURCE_FILE_COLUMN].unique()) == {"a.parquet", "b.csv"}
    parquet, csv = frames[0][1], frames[1][1]
    pd.testing.assert_frame_equal(parquet, csv)  # the two formats give identical frames


def test_no_files_and_partial_writes_are_ignored(tmp_path: Path, day: pd.DataFrame) -> None:
    landing = LandingFolder(path=str(tmp_path / "landing"))
    assert landing.files() == []
    landing.write(day, "x.parquet")
    (tmp_path / "landing" / ".x.parquet.tmp").write_bytes(b"partial")
    (tmp_path / "landing" / "notes.txt").write_text("ignored")
    assert [p.name for p in landing.files()] == ["x.parquet"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.parquet", b"", "empty.parquet: the file is empty (0 bytes)"),
        ("empty.csv", b"", "empty.csv: the file is empty (0 bytes)"),
        ("garbage.parquet", b"this is not parquet at all", "garbage.parquet: not a valid Parquet file"),
        ("ragged.csv", b"a,b\n1,2\n3,4,5,6\n", "ragged.csv: not a valid CSV file"),
        ("blank.csv", b"\n\n", "blank.csv: the file has no header and no rows"),
    ],
)
def test_unreadable_files(
    tmp_path: Path, fraud_config: PipelineConfig, name: str, content: bytes, message: str
) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(DataLoadError) as error:
        _load(LandingFolder(path=str(tmp_path)), name, fraud_config)
    assert message in str(error.value)


def test_header_only_file_has_no_rows(tmp_path: Path, day: pd.DataFrame, fraud_config: PipelineConfig) -> None:
    LandingFolder(path=str(tmp_path)).write(day.head(0), "header.csv")
    with pytest.raises(DataLoadError, match=r"header\.csv: the file has no rows"):
        _load(LandingFolder(path=str(tmp_path)), "header.csv", fraud_config)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda f: f.drop(columns=["TX_AMOUNT"]), "day.parquet: missing column(s) ['TX_AMOUNT']"),
        (lambda f: f.assign(MERCHANT="x"), "day.parquet: unexpected column(s) ['MERCHANT']"),
        (
            lambda f: f.assign(CUSTOMER_ID=f["CUSTOMER_ID"].astype(str).where(f.index >= 2, "C7")),
            "day.parquet: column CUSTOMER_ID: 2 of",
        ),
        (lambda f: f.assign(TERMINAL_ID=f["TERMINAL_ID"].astype(float) + 0.5), "column TERMINAL_ID:"),
        (
            lambda f: f.assign(TX_DATETIME=["yesterday-ish", *f["TX_DATETIME"].astype(str).tolist()[1:]]),
            "day.parquet: column TX_DATETIME: 1 of",
        ),
        (
            lambda f: f.assign(TX_AMOUNT=f["TX_AMOUNT"].astype(str).where(f.index > 0, "12,50 EUR")),
            "day.parquet: column TX_AMOUNT: 1 of",
        ),
    ],
    ids=["missing_column", "extra_column", "wrong_type_int", "fractional_int", "bad_timestamp", "wrong_type_float"],
)
def test_schema_violations_name_file_column_and_count(
    tmp_path: Path, day: pd.DataFrame, fraud_config: PipelineConfig, mutate, message: str
) -> None:
    LandingFolder(path=str(tmp_path)).write(mutate(day), "day.parquet")
    with pytest.raises(DataLoadError) as error:
        _load(LandingFolder(path=str(tmp_path)), "day.parquet", fraud_config)
    assert message in str(error.value)


def test_numeric_strings_are_accepted(tmp_path: Path, day: pd.DataFrame, fraud_config: PipelineConfig) -> None:
    LandingFolder(path=str(tmp_path)).write(day.assign(TX_AMOUNT=day["TX_AMOUNT"].astype(str)), "strings.parquet")
    loaded = _load(LandingFolder(path=str(tmp_path)), "strings.parquet", fraud_config)
    assert loaded["TX_AMOUNT"].dtype == "float64"
