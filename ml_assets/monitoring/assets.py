"""Monitoring assets: production traffic, its drift against the training data, and the pipeline's health."""

import time
from collections.abc import Mapping

import numpy as np
import pandas as pd
from dagster import AssetExecutionContext, AssetIn, AssetsDefinition, Failure, MetadataValue, Output, asset

from ml_assets.config import PipelineConfig
from ml_assets.data.days import quarantine_reason
from ml_assets.data.labels import MissingLabelsError, join_labels
from ml_assets.features.build import feature_columns_of
from ml_assets.features.split import SPLIT_COLUMN
from ml_assets.monitoring import catalog, drift
from ml_assets.monitoring.alarms import alarms_of
from ml_assets.monitoring.report import render
from ml_assets.resources.metrics import MetricsStore
from ml_assets.resources.mlflow_registry import CHAMPION_ALIAS, MlflowRegistry
from ml_assets.resources.platform import ServingPlatform
from ml_assets.resources.reports import ReportStore
from ml_assets.training.dataset import entity_and_day
from ml_assets.training.metrics import classification_metrics

REFERENCE_ROWS = 200_000  # enough for stable distributions, bounded memory


def recent_labelled(
    features: pd.DataFrame | Mapping,
    config: PipelineConfig,
    now: pd.Timestamp,
    labels: Mapping | None = None,
) -> pd.DataFrame:
    """Records of the last ``recent_days`` whose labels have arrived (older than the label delay), from the
    features table or, with daily partitions, from those days' partitions only, joined to their ``labels``."""
    column = config.data_schema.timestamp_column
    newest_labelled = now - pd.Timedelta(days=config.features.delay_days)
    since = newest_labelled - pd.Timedelta(days=config.monitoring.recent_days)
    if isinstance(features, Mapping):
        first, last = f"{since - pd.Timedelta(days=1):%Y-%m-%d}", f"{newest_labelled:%Y-%m-%d}"
        if labels is None:
            raise ValueError("the features of daily partitions carry no target: pass the stored labels")
        schema = config.data_schema
        days = []
        for day in (d for d in features if first <= d <= last and d in labels):
            if quarantine_reason(day, labels.attrs(day)) is not None:
                continue  # its labels were quarantined since its features were built: they say nothing
            try:
                days.append(join_labels(features[day], labels[day], schema, day=day))
            except MissingLabelsError:
                continue  # records corrected, features not yet re-run: the training window names such days
        if not days:
            return pd.DataFrame()
        features = pd.concat(days, ignore_index=True)
    if column is None or column not in features.columns:
        return features.iloc[0:0]
    stamps = pd.to_datetime(features[column])
    return features.loc[(stamps > since) & (stamps <= newest_labelled)]


def build_monitoring_assets(config: PipelineConfig) -> list[AssetsDefinition]:
    namespace = catalog.pipeline_namespace(config.name)
    target = config.data_schema.target

    @asset(
        group_name="monitoring",
        kinds={"python"},
        description="Scored production requests since the last monitoring run (features, score, model version; a "
        "bounded uniform sample kept by the production gateway), and the latency the clients saw.",
    )
    def production_traffic(
        context: AssetExecutionContext, platform: ServingPlatform, metrics: MetricsStore
    ) -> Output[pd.DataFrame]:
        backend = platform.live_backend("production")
        served = backend.serving()
        if not served:
            raise Failure(description="nothing serves in production: deploy a model first (make demo)")
        sample = backend.sample(drain=True)
        rows = [
            {
                "at": item["at"],
                "slot": item["slot"],
                "version": str(item["version"]),
                "score": item["score"],
                **item["features"],
            }
            for item in sample["items"]
            if isinstance(item.get("features"), dict) and item.get("score") is not None
        ]
        frame = pd.DataFrame(rows)
        now = time.time()
        recent = [backend.outcomes(slot, now - 3600)[0] for slot in served]  # the last hour's requests
        latency = np.concatenate([o.latency_ms[(o.status >= 200) & (o.status < 300)] for o in recent] or [[]])
        if len(latency):
            metrics.put(namespace, catalog.PREDICTION_LATENCY, float(latency.mean()), at=now)
        context.log.info(f"{len(frame)} scored records sampled from {sample['seen']} since the last monitoring run")
        return Output(
            frame,
            metadata={
                "records": len(frame),
                "requests_seen": sample["seen"],
                "versions": MetadataValue.json(sorted(frame["version"].unique().tolist()) if len(frame) else []),
                "latency_ms_mean": float(latency.mean()) if len(latency) else 0.0,
            },
        )

    @asset(
        group_name="monitoring",
        kinds={"python"},
        ins={"labels": AssetIn()} if config.partitioned else None,
        description="Per-feature drift of production traffic against the training data (PSI, KS or Wasserstein), "
        "prediction drift, the share of drifted features, and the champion's performance on recent labelled "
        "records; an HTML report with plots. Publishes DataDriftScore, ModelDriftScore and ModelQuality.",
    )
    def drift_report(
        context: AssetExecutionContext,
        production_traffic: pd.DataFrame,
        training_data: pd.DataFrame,
        features,  # the features table, or with daily partitions the stored days (only the recent ones are read)
        registry: MlflowRegistry,
        reports: ReportStore,
        metrics: MetricsStore,
        **stored,  # with daily partitions, the stored labels (joined to the recent days' features)
    ) -> Output[dict]:
        columns = feature_columns_of(training_data)
        minimum = config.monitoring.drift.min_traffic
        if len(production_traffic) < minimum:
            raise Failure(
                description=f"only {len(production_traffic)} scored production records since the last report "
                f"(at least {minimum} needed for a verdict; monitoring.drift.min_traffic)"
            )
        train = training_data.loc[training_data[SPLIT_COLUMN] == "train"]
        reference = (
            train.sample(min(len(train), REFERENCE_ROWS), random_state=0) if len(train) > REFERENCE_ROWS else train
        )
        name = config.registry.model_name
        version = registry.version_for_alias(name, CHAMPION_ALIAS) or str(production_traffic["version"].mode()[0])
        model = registry.load_model(name, version)
        reference_scores = np.asarray(model.predict_proba(reference[columns]))[:, 1]
        current_scores = production_traffic["score"].to_numpy(float)
        report = drift.drift_report(
            reference,
            production_traffic,
            columns,
            reference_scores=reference_scores,
            current_scores=current_scores,
            thresholds=config.monitoring.drift.thresholds(),
        )
        labelled = recent_labelled(features, config, pd.Timestamp.now(), labels=stored.get("labels"))
        performance = None
        if len(labelled) and labelled[target].nunique() == 2:
            scores = np.asarray(model.predict_proba(labelled[columns]))[:, 1]
            entity, day = entity_and_day(labelled, config)
            performance = {
                k: v
                for k, v in classification_metrics(
                    labelled[target].to_numpy(),
                    scores,
                    threshold=config.evaluation.decision_threshold,
                    entity=entity,
                    day=day,
                    top_k=config.evaluation.top_k,
                ).items()
                if k in ("average_precision", "roc_auc", "precision", "recall", "card_precision")
            }
        now = time.time()
        metrics.put(namespace, catalog.DATA_DRIFT, report.share_drifted, at=now)
        if report.score_psi is not None:
            metrics.put(namespace, catalog.MODEL_DRIFT, report.score_psi, at=now)
        primary = config.selection.primary_metric
        if performance and primary in performance:
            metrics.put(namespace, catalog.MODEL_QUALITY, performance[primary], at=now)
        page = render(
            report,
            reference=reference,
            current=production_traffic,
            reference_scores=reference_scores,
            current_scores=current_scores,
            performance=performance,
            title=f"{config.name}: drift of production traffic (champion v{version})",
        )
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now))
        html_url = reports.write(f"drift/{stamp}.html", page)
        reports.write("drift/latest.html", page)
        context.log.info(f"drift {report.severity}: {'; '.join(report.reasons) or 'none'}")
        value = {**report.as_dict(), "champion_version": version, "performance": performance, "report": html_url}
        return Output(
            value,
            metadata={
                "severity": report.severity,
                "share_drifted": report.share_drifted,
                "drifted_features": MetadataValue.json(report.drifted_features),
                "score_psi": report.score_psi if report.score_psi is not None else 0.0,
                "average_precision_recent": (performance or {}).get("average_precision", float("nan")),
                "labelled_recent_records": len(labelled),
                "report": MetadataValue.url(html_url),
            },
        )

    @asset(
        group_name="monitoring",
        kinds={"python"},
        deps=["drift_report"],
        description="The pipeline's alarms evaluated with CloudWatch's semantics (or read from CloudWatch) and each "
        "metric's current value, range and trend over the last day.",
    )
    def pipeline_health(context: AssetExecutionContext, metrics: MetricsStore) -> Output[dict]:
        alarms = alarms_of(config)
        metrics.ensure_alarms(namespace, alarms)
        metrics.ensure_dashboard(config.name, config.deployment.aws.region or "")
        states = metrics.alarm_states(namespace, alarms)
        health = metrics.health(namespace, list(catalog.PIPELINE_METRICS))
        for state in states:
            if state.state == "ALARM":
                context.log.error(f"ALARM {state.name}: {state.reason}")
        value = {"alarms": {s.name: {"state": s.state, "reason": s.reason} for s in states}, "metrics": health}
        return Output(
            value,
            metadata={
                "alarms_in_alarm": sum(s.state == "ALARM" for s in states),
                "alarms": MetadataValue.json(value["alarms"]),
                "metrics": MetadataValue.json(health),
            },
        )

    return [production_traffic, drift_report, pipeline_health]
