"""The console script and the Dagster CLI as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ml_assets.cli import main
from ml_assets.data.days import day_of
from ml_assets.settings import PACKAGE_DIR, Settings
from ml_assets_tests.bad_data import corrupt
from ml_assets_tests.conftest import small_fraud_raw, write_config

BIN = Path(sys.executable).parent


@pytest.mark.unit
def test_generate_data_writes_one_file_per_day(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["generate-data", "--customers", "60", "--terminals", "120", "--days", "6", "--start", "2024-01-01"]
    assert main(args) == 0
    landing = settings.home / "landing" / "fraud"
    files = sorted(p.name for p in landing.iterdir())
    assert files == [f"transactions_2024-01-0{d}.parquet" for d in range(1, 7)]
    assert "wrote 6 daily files" in capsys.readouterr().out
    first = pd.read_parquet(landing / files[0])
    assert main(args) == 0  # the same seed writes the same data
    pd.testing.assert_frame_equal(first, pd.read_parquet(landing / files[0]))

    (landing / files[-1]).unlink()
    assert main([*args, "--days", "8", "--write-from", "2024-01-06"]) == 0  # append new days only
    assert len(list(landing.iterdir())) == 8


@pytest.mark.unit
def test_generate_data_with_drift(settings: Settings) -> None:
    args = [
        "generate-data",
        "--customers",
        "100",
        "--terminals",
        "200",
        "--days",
        "4",
        "--start",
        "2024-01-01",
        "--drift-start",
        "2024-01-03",
        "--amount-factor",
        "2",
        "--card-testing-per-day",
        "2",
    ]
    assert main(args) == 0
    last = pd.read_parquet(settings.home / "landing" / "fraud" / "transactions_2024-01-04.parquet")
    assert (last["TX_FRAUD_SCENARIO"] == 4).sum() == 12


@pytest.mark.unit
def test_generate_the_sklearn_dataset(settings: Settings) -> None:
    assert main(["generate-data", "--config", str(PACKAGE_DIR / "configs" / "breast_cancer.yaml")]) == 0
    frame = pd.read_csv(settings.home / "landing" / "breast_cancer" / "breast_cancer.csv")
    assert frame.shape == (569, 32) and frame["malignant"].sum() == 212


@pytest.mark.unit
def test_a_config_for_your_own_files_needs_no_generator(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = small_fraud_raw()
    del raw["dataset"]["generator"]
    path = write_config(tmp_path, raw)
    assert main(["check-config", "--config", str(path)]) == 0
    assert main(["generate-data", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "nothing to generate" in out and "dataset.generator" in out and str(settings.home / "landing") in out
    assert not (settings.home / "landing").exists() or not any((settings.home / "landing").rglob("*.*"))


@pytest.mark.unit
def test_invalid_config_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path, small_fraud_raw(gates={"min_average_precision": "high"}))
    assert main(["check-config", "--config", str(path)]) == 2
    error = capsys.readouterr().err
    assert str(path) in error and "key 'gates.min_average_precision'" in error
    assert main(["check-config", "--config", str(PACKAGE_DIR / "configs" / "fraud.yaml")]) == 0
    shown = capsys.readouterr().out
    # The release arithmetic for the traffic the config expects: what a good canary needs at the first step.
    assert "release plan (canary, alpha 0.01): at 5 requests/s to the canary (step 5% of 100 requests/s)" in shown
    assert "showing the failure rate at most +1.50 points worse (stable 1.0%): 1,787 canary requests" in shown
    assert "for 99 % of them" in shown and "showing the score distribution within KS 0.18" in shown


def _env(settings: Settings, config: Path) -> dict[str, str]:
    return {
        **os.environ,
        "ML_ASSETS_HOME": str(settings.home),
        "DAGSTER_HOME": str(settings.home / "dagster"),
        "ML_ASSETS_CONFIG": str(config),
    }


@pytest.mark.pipeline
def test_dagster_cli_exits_non_zero_on_bad_data(settings: Settings, tmp_path: Path) -> None:
    config = write_config(tmp_path, small_fraud_raw())
    assert main(["generate-data", "--config", str(config), "--customers", "60", "--days", "3"]) == 0
    landing = settings.home / "landing" / "fraud"
    files = sorted(landing.iterdir())
    newest = files[-1]
    pd.read_parquet(newest).pipe(corrupt, "negative_amount").to_parquet(newest)
    first, last = (day_of(f.name) for f in (files[0], files[-1]))
    done = subprocess.run(
        [
            *(str(BIN / "dagster"), "asset", "materialize", "-m", "ml_assets.definitions"),
            *("--select", "raw_data,labels,data_profile,features", "--partition-range", f"{first}...{last}"),
        ],
        env=_env(settings, config),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0
    assert f"day {last}: validation failed: TX_AMOUNT: values outside [0, 100000] or not finite: 3 rows" in done.stderr
    assert newest.name in done.stderr
    assert "features" in done.stderr and "Not executing" in done.stderr
    # One run cannot hold the days and the rest: Dagster says so, and `ml-assets materialize` splits the two.
    mixed = subprocess.run(
        [str(BIN / "dagster"), "asset", "materialize", "-m", "ml_assets.definitions", "--select", "*"],
        env=_env(settings, config),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert mixed.returncode != 0 and "Asset has partitions, but no '--partition' option was provided" in mixed.stderr


@pytest.mark.pipeline
def test_definitions_validate(settings: Settings) -> None:
    done = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", "-m", "ml_assets.definitions"],
        env=_env(settings, PACKAGE_DIR / "configs" / "fraud.yaml"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.pipeline
def test_materialize_runs_the_days_then_builds_what_a_bad_day_does_not_block(
    settings: Settings, tmp_path: Path
) -> None:
    config = write_config(tmp_path, small_fraud_raw())
    assert main(["generate-data", "--config", str(config), "--customers", "60", "--days", "3"]) == 0
    landing = settings.home / "landing" / "fraud"
    files = sorted(landing.iterdir())
    pd.read_parquet(files[1]).pipe(corrupt, "negative_amount").to_parquet(files[1])
    days = [day_of(f.name) for f in files]
    done = subprocess.run(
        [str(BIN / "ml-assets"), "materialize", "--select", "raw_data,data_profile,features", "--days-per-run", "2"],
        env={**_env(settings, config), "DAGSTER_HOME": ""},
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = done.stdout
    assert done.returncode != 0, out  # a day failed: said in the exit code
    # one step stores a day's records and labels (selecting either runs both), in runs of at most 2 days
    assert f"materializing: raw_data,labels --partition-range {days[0]}...{days[1]}" in out
    assert f"materializing: raw_data,labels --partition-range {days[2]}...{days[2]}" in out
    assert f"day {days[1]}: TX_AMOUNT: values outside [0, 100000]" in out
    # the bad day blocks its own profile and the features of every day whose windows read it, not the rest
    assert f"data_profile: not built for 1 day(s) that failed validation or read one that did: {days[1]}" in out
    assert f"features: not built for 2 day(s) that failed validation or read one that did: {days[1]}..{days[2]}" in out
    storage = settings.home / "storage" / "fraud"
    assert sorted(p.stem for p in (storage / "data_profile").iterdir()) == [days[0], days[2]]
    assert sorted(p.stem for p in (storage / "features").iterdir()) == [days[0]]
