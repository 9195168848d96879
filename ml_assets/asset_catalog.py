"""What the Dagster catalog shows about every asset, set in one place from the config: owners, kinds, code
versions, the landing data's column schema, and freshness policies on the raw data and the champion.

A code version is a digest of the package's source with one of the config sections the asset is computed from:
editing the code marks every asset stale; editing a section (the schema, one algorithm's parameters) marks the
assets that read it.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Iterable
from typing import Any

from dagster import AssetsDefinition, AssetSpec, FreshnessPolicy, TableColumn, TableColumnConstraints, TableSchema

from ml_assets.config import PipelineConfig
from ml_assets.settings import PACKAGE_DIR
from ml_assets.training.constants import MODEL_SUFFIX

# The config sections each group's assets are computed from.
SECTIONS = {
    "data": ("dataset", "data_schema"),
    "features": ("data_schema", "features", "split"),
    "training": ("data_schema", "features", "split", "algorithms", "evaluation", "gates", "selection", "registry"),
    "deployment": ("deployment", "registry"),
    "monitoring": ("monitoring", "features"),
}
KINDS = {
    "raw_data": {"pandas", "parquet", "great_expectations"},
    "labels": {"pandas", "parquet"},
    "data_profile": {"pandas"},
    "features": {"pandas", "parquet"},
    "training_data": {"pandas", "parquet"},
    "security_scan": {"bandit"},
}
_TYPES = {"int": "int64", "float": "float64", "datetime": "timestamp", "string": "string", "bool": "bool"}


@functools.cache
def source_digest() -> str:
    """A digest of the package's code (every .py file, by path and content): what a code change changes."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:10]


def code_version(config: PipelineConfig, group: str, key: str = "") -> str:
    """The code's digest and a digest of the config sections ``group`` is computed from; a model asset reads
    only its own algorithm's entry."""
    values: dict[str, Any] = {}
    for name in SECTIONS.get(group, ()):
        value = getattr(config, name)
        algorithm = key.removesuffix(MODEL_SUFFIX)
        if name == "algorithms" and key.endswith(MODEL_SUFFIX) and algorithm in value:
            value = {algorithm: value[algorithm]}
        values[name] = value
    digest = hashlib.sha256(json.dumps(_plain(values), sort_keys=True, default=str).encode()).hexdigest()[:10]
    return f"{source_digest()}-{digest}"


def _plain(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def column_schema(config: PipelineConfig, key: str = "raw_data") -> TableSchema:
    """The stored columns of ``key`` as the config's schema declares them (``dagster/column_schema``): every landing
    column, or with daily partitions the records (``raw_data``, all but the target) and ``labels`` (id, target)."""
    schema = config.data_schema
    stored = list(schema.columns)
    if config.partitioned:
        labels = [schema.id_column, schema.target]
        stored = labels if key == "labels" else [name for name in stored if name != schema.target]
    roles = {
        schema.target: "target",
        schema.id_column: "record id",
        schema.timestamp_column: "event time",
        schema.entity_column: "entity (card)",
    }
    columns = []
    for name in stored:
        spec = schema.columns[name]
        rules = []
        if spec.min is not None or spec.max is not None:
            low = "-inf" if spec.min is None else spec.min
            high = "inf" if spec.max is None else spec.max
            rules.append(f"within [{low}, {high}]")
        if spec.allowed is not None:
            rules.append(f"one of {spec.allowed}")
        columns.append(
            TableColumn(
                name,
                _TYPES[spec.type],
                description=roles.get(name),
                constraints=TableColumnConstraints(nullable=spec.nullable, unique=spec.unique, other=rules),
            )
        )
    return TableSchema(columns=columns)


def freshness(config: PipelineConfig, key: str) -> FreshnessPolicy | None:
    """The raw data is fresh while its newest load is at most ``schema.max_age_days`` old; the champion while its
    release is at most ``monitoring.champion_max_age_days`` old."""
    if key == "raw_data" and config.data_schema.max_age_days is not None:
        return FreshnessPolicy.time_window(fail_window=dt.timedelta(days=config.data_schema.max_age_days))
    if key == "production_deployment":
        return FreshnessPolicy.time_window(fail_window=dt.timedelta(days=config.monitoring.champion_max_age_days))
    return None


def describe(assets: Iterable[AssetsDefinition], config: PipelineConfig) -> list[AssetsDefinition]:
    """``assets`` with owners, kinds, code versions, the raw data's column schema and freshness policies."""

    def entry(spec: AssetSpec) -> AssetSpec:
        key = spec.key.to_user_string()
        changes: dict = {"code_version": code_version(config, spec.group_name or "", key)}
        if config.owners:
            changes["owners"] = list(config.owners)
        policy = freshness(config, key)
        if policy is not None:
            changes["freshness_policy"] = policy
        if key in ("raw_data", "labels"):
            changes["metadata"] = {**spec.metadata, "dagster/column_schema": column_schema(config, key)}
        described = spec.replace_attributes(**changes)
        return described.merge_attributes(kinds=KINDS[key]) if key in KINDS else described

    return [asset.map_asset_specs(entry) for asset in assets]
