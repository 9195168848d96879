"""Blocking checks on the deployments: smoke, integration and load tests in staging; the release in production."""

import asyncio
from collections.abc import Iterator

import numpy as np
import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    asset_check,
    multi_asset_check,
)

from ml_assets.config import PipelineConfig
from ml_assets.deployment.plans import held_out_records
from ml_assets.features.build import feature_columns_of
from ml_assets.resources.http import http
from ml_assets.resources.mlflow_registry import MlflowRegistry
from ml_assets.rollout.state import PROMOTED
from ml_assets.serving.auth import client_headers

INTEGRATION_RECORDS = 500


def _smoke(url: str, record: dict, version: str, headers: dict[str, str]) -> AssetCheckResult:
    """One prediction through the front door clients use, from the version just deployed. (Not /health: on AWS the
    load balancer answers only scoring from outside, and asks the servers' health itself.)"""
    problems = []
    status, answer = http("POST", f"{url}/predict", record, headers=headers)
    if status != 200 or not isinstance(answer, dict) or not 0 <= answer.get("probability", -1) <= 1:
        problems.append(f"POST /predict -> {status} {answer}")
    elif str(answer.get("version")) != str(version):
        problems.append(f"answered by version {answer.get('version')}, expected {version}")
    return AssetCheckResult(
        check_name="smoke",
        passed=not problems,
        asset_key="staging_deployment",
        description="; ".join(problems) or f"one prediction from v{version}",
    )


def _integration(url: str, records: list[dict], expected: np.ndarray, headers: dict[str, str]) -> AssetCheckResult:
    status, answer = http("POST", f"{url}/predict", records, timeout=60, headers=headers)
    if status != 200:
        return AssetCheckResult(
            check_name="integration",
            passed=False,
            asset_key="staging_deployment",
            description=f"POST /predict with {len(records)} records -> {status}: {answer}",
        )
    served = np.array([p["probability"] for p in answer["predictions"]])
    worst = float(np.max(np.abs(served - expected)))
    return AssetCheckResult(
        check_name="integration",
        passed=worst <= 1e-6,
        asset_key="staging_deployment",
        description=f"{len(records)} held-out records: served vs in-process max |delta p| = {worst:.3g} (<= 1e-6)",
        metadata={"records": len(records), "max_abs_difference": worst},
    )


def _load(url: str, records: list[dict], config: PipelineConfig, headers: dict[str, str]) -> AssetCheckResult:
    from ml_assets.serving.replay import replay  # aiohttp only when the load test runs

    t = config.deployment.load_test
    result = asyncio.run(
        replay(
            url,
            records,
            concurrency=t.concurrency,
            max_requests=t.requests,
            max_seconds=t.max_seconds,
            headers=headers,
        )
    )
    s = result.summary()
    limits = [
        ("p50_ms", s["p50_ms"], "<=", t.max_p50_ms),
        ("p95_ms", s["p95_ms"], "<=", t.max_p95_ms),
        ("p99_ms", s["p99_ms"], "<=", t.max_p99_ms),
        ("throughput_rps", s["throughput_rps"], ">=", t.min_throughput_rps),
        ("success_rate", s["success_rate"], ">=", t.min_success_rate),
    ]
    failed = [f"{n} {v:.4g} not {op} {lim}" for n, v, op, lim in limits if (v > lim if op == "<=" else v < lim)]
    summary = ", ".join(f"{n} {v:.4g}" for n, v, _, _ in limits)
    return AssetCheckResult(
        check_name="load",
        passed=not failed,
        asset_key="staging_deployment",
        description=("; ".join(failed) + f" ({summary})") if failed else summary,
        metadata={**{k: float(v) for k, v in s.items()}, "concurrency": t.concurrency},
    )


def build_deployment_checks(config: PipelineConfig) -> list[AssetChecksDefinition]:
    specs = [
        AssetCheckSpec(
            "smoke", asset="staging_deployment", blocking=True, description="One prediction from the new version."
        ),
        AssetCheckSpec(
            "integration",
            asset="staging_deployment",
            blocking=True,
            additional_deps=["training_data"],
            description="Served predictions equal in-process predictions on held-out records.",
        ),
        AssetCheckSpec(
            "load",
            asset="staging_deployment",
            blocking=True,
            additional_deps=["training_data"],
            description="Latency percentiles, throughput and success rate under concurrent load.",
        ),
    ]

    @multi_asset_check(
        specs=specs,
        name="staging_tests",
        ins={"staging_deployment": "staging_deployment", "training_data": "training_data"},
    )
    def staging_tests(
        context: AssetCheckExecutionContext,
        staging_deployment: dict,
        training_data: pd.DataFrame,
        registry: MlflowRegistry,
    ) -> Iterator[AssetCheckResult]:
        url, version = staging_deployment["url"], staging_deployment["version"]
        features = feature_columns_of(training_data)
        records = held_out_records(training_data, features, INTEGRATION_RECORDS)
        model = registry.load_model(staging_deployment["model_name"], version)
        expected = np.asarray(model.predict_proba(pd.DataFrame(records, columns=features)))[:, 1]
        headers = client_headers()  # the API key, when the servers ask for one
        yield _smoke(url, records[0], version, headers)
        yield _integration(url, records, expected, headers)
        yield _load(f"{url}/predict", records, config, headers)

    @asset_check(
        asset="production_deployment",
        blocking=True,
        name="release_succeeded",
        description="The release was promoted; a rollback fails this check with its reason.",
    )
    def release_succeeded(production_deployment: dict) -> AssetCheckResult:
        promoted = production_deployment["status"] == PROMOTED
        return AssetCheckResult(
            passed=promoted,
            severity=AssetCheckSeverity.ERROR,
            description=production_deployment["reason"]
            if promoted
            else f"{production_deployment['status'].replace('_', ' ')}, v{production_deployment['champion']} "
            f"serves: {production_deployment['reason']}",
            metadata={"champion": str(production_deployment["champion"])},
        )

    return [staging_tests, release_succeeded]
