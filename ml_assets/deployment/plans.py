"""Release plans and held-out traffic, derived from the pipeline config (pure)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ml_assets.config import DeploymentConfig
from ml_assets.features.split import SPLIT_COLUMN
from ml_assets.rollout.analysis import AnalysisConfig
from ml_assets.rollout.engine import ReleasePlan


def release_plan(deployment: DeploymentConfig, strategy: str | None = None) -> ReleasePlan:
    strategy = strategy or deployment.strategy
    canary = deployment.canary
    steps = tuple(canary.steps)
    looks = (len(steps) + (1 if canary.shadow_percent else 0)) * (deployment.max_extensions + 1)
    a = deployment.analysis
    return ReleasePlan(
        strategy=strategy,  # type: ignore[arg-type]
        steps=steps,
        bake_seconds=deployment.bake_seconds,
        max_extensions=deployment.max_extensions,
        shadow_percent=canary.shadow_percent,
        shadow_seconds=canary.shadow_seconds,
        retire_delay_seconds=deployment.retire_delay_seconds,
        health_timeout_seconds=deployment.health_timeout_seconds,
        analysis=AnalysisConfig(
            alpha=a.alpha,
            max_looks=looks,
            min_requests=a.min_requests,
            min_latency_samples=a.min_latency_samples,
            min_score_samples=a.min_score_samples,
            error_rate_margin=a.error_rate_margin,
            latency_tolerance=a.latency_tolerance,
            psi_fail=a.psi_fail,
        ),
    )


def held_out_records(
    training_data: pd.DataFrame, feature_columns: list[str], limit: int | None = None
) -> list[dict[str, Any]]:
    """Test-split feature rows as JSON records, the traffic a release and the staging checks replay."""
    test = training_data.loc[training_data[SPLIT_COLUMN] == "test", feature_columns]
    if limit is not None:
        test = test.head(limit)
    return [{k: float(v) for k, v in row.items()} for row in test.to_dict(orient="records")]
