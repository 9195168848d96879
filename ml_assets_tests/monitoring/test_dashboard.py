"""The monitoring dashboard, served by the production gateway and rendered by headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from ml_assets.config import load_config
from ml_assets.monitoring import catalog
from ml_assets.monitoring.alarms import alarms_of
from ml_assets.resources.local_platform import LocalBackend
from ml_assets.resources.metrics import metrics_store
from ml_assets.settings import DEFAULT_CONFIG, Settings
from ml_assets_tests.serving_fixtures import request

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def render(url: str, profile: Path) -> str:
    """The page's DOM after its scripts ran (Chromium's virtual time lets fetch and rendering finish)."""
    assert CHROMIUM, "Chromium is installed by `make test` (Debian's chromium package)"
    done = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=10000", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_every_metric_and_alarm_is_drawn(gateway: LocalBackend, settings: Settings, tmp_path: Path) -> None:
    config = load_config(DEFAULT_CONFIG)
    metrics = metrics_store(settings, config)
    namespace = catalog.pipeline_namespace(config.name)
    now = time.time()
    with_data = [catalog.MODEL_QUALITY, catalog.DATA_DRIFT, catalog.PREDICTION_LATENCY, catalog.DATA_QUALITY]
    for hours in (48, 24, 1):
        for name in with_data:
            metrics.put(namespace, name, 0.5 + hours / 100, at=now - hours * 3600)
    html = render(f"{gateway.url}/dashboard", tmp_path / "chromium")

    assert 'data-rendered="true"' in html
    chunks = html.split('<div class="widget metric" data-metric="')[1:]
    widgets = [(chunk.split('"', 1)[0], chunk.split("<script", 1)[0]) for chunk in chunks]
    drawn = {name for name, body in widgets if 'class="series"' in body}
    empty = {name for name, body in widgets if "no data yet" in body}
    assert {name for name, _ in widgets} == set(catalog.PIPELINE_METRICS)
    assert drawn == set(with_data) and empty == set(catalog.PIPELINE_METRICS) - set(with_data)
    rows = re.findall(r'<tr class="alarm"><td>([^<]+)</td><td class="(\w+)">', html)
    assert {name for name, _ in rows} == {a.name for a in alarms_of(config)}
    assert dict(rows)["fraud-PipelineExecution-Long"] == "INSUFFICIENT_DATA"


def test_the_dashboard_is_read_only_and_admin_stays_locked(gateway: LocalBackend) -> None:
    status, data = request(f"{gateway.url}/dashboard/data")
    assert status == 200 and set(data["metrics"]) == set(catalog.PIPELINE_METRICS)
    assert request(f"{gateway.url}/dashboard/data", {"x": 1})[0] == 405
    assert request(f"{gateway.url}/admin/state")[0] == 401
