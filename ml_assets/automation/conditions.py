"""What runs by itself once the days are in, declared on the assets (Dagster's declarative automation).

With daily partitions the landing sensor only reports new days (a run of ``daily_data`` per day); from there:
- a day's features (and its profile) are computed again when a raw day or labels their windows read were stored
  again, never while one of them failed its checks: a corrected file re-runs the days whose windows
  read its records, a labels correction (raw_data's records unchanged, only labels stored) only the days whose
  label windows, behind the delay, cover it;
- the training data is rebuilt at each tick of the retraining schedule when days or labels were stored since the
  last retraining, and not while a day's run or a rebuild is in progress: at most one retraining per tick, one at
  a time (the two sensors evaluate apart: a correction stored in the seconds before a tick can start a retraining
  before its days' features are refreshed; that run names the days and registers nothing, the next tick retrains);
- everything downstream of it (models, candidate, staging, production) follows in the same run, only when the
  retraining itself is requested (a person materializing the training data or a model by hand starts no release),
  and the security scan runs with it when it was never run.
Two automation sensors evaluate these: one for the days, one for retraining (its runs tagged as retraining, so the
drift sensor's guardrails count them).
"""

from __future__ import annotations

from collections.abc import Iterable

from dagster import (
    AssetKey,
    AssetsDefinition,
    AssetSelection,
    AssetSpec,
    AutomationCondition,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
)

from ml_assets.config import PipelineConfig

A = AutomationCondition
RETRAINING_TAG = "ml_assets/retraining"


def refresh_days() -> AutomationCondition:
    """A day again when a raw day or labels it reads were stored again, and none of the days it reads failed a
    blocking check (Dagster's ``all_deps_blocking_checks_passed`` holds when one day of a window passed); a day
    never built only once every day it reads is there (a day whose own file has not landed waits for its run)."""
    return (
        A.any_deps_updated().since_last_handled()
        & (~A.missing() | ~A.any_deps_missing())
        & ~A.any_deps_in_progress()
        & ~A.in_progress()
        & ~A.any_deps_match(A.any_checks_match(A.check_failed(), blocking_only=True))
    ).with_label("a raw day or labels it reads were stored again and none failed its checks")


def retrain_on(schedule: str) -> AutomationCondition:
    """At each tick of ``schedule`` (cron, UTC) when features or labels it reads were stored since the last
    retraining (a new day, a corrected file, late labels), once no day's run and no rebuild is in progress (a tick
    with nothing new waits for the first day stored after it)."""
    tick = A.cron_tick_passed(schedule, "UTC")
    # raw_data is read for its verdicts only: a labels correction stores labels (and features), not raw_data.
    arrived = (
        A.any_deps_updated().ignore(AssetSelection.assets("raw_data")).since(A.newly_requested() | A.newly_updated())
    )
    return (tick.since_last_handled() & arrived & ~A.any_deps_in_progress() & ~A.in_progress()).with_label(
        f"retraining schedule {schedule} UTC, when days or labels were stored since the last retraining"
    )


def follow_retraining() -> AutomationCondition:
    """In the same run as a requested retraining: when an upstream asset will be requested in this evaluation."""
    return (A.any_deps_match(A.will_be_requested()) & ~A.in_progress()).with_label("follows a requested retraining")


def declare(assets: Iterable[AssetsDefinition], config: PipelineConfig) -> list[AssetsDefinition]:
    """``assets`` with their automation conditions (only with daily partitions and ``retraining.on_new_data``)."""
    assets = list(assets)
    retraining = config.monitoring.retraining
    if not (config.partitioned and retraining.on_new_data):
        return assets
    conditions = {
        AssetKey("features"): refresh_days(),
        AssetKey("data_profile"): refresh_days(),
        AssetKey("training_data"): retrain_on(retraining.schedule),
        AssetKey("security_scan"): A.on_missing(),
    }
    follows = follow_retraining()

    def declared(spec: AssetSpec) -> AssetSpec:
        if spec.key in conditions:
            return spec.replace_attributes(automation_condition=conditions[spec.key])
        if spec.group_name == "monitoring" or spec.partitions_def is not None:
            return spec  # monitoring has its schedule; the landing sensor reports new days
        return spec.replace_attributes(automation_condition=follows)

    return [asset.map_asset_specs(declared) for asset in assets]


def automation_sensors(config: PipelineConfig, *, daily: AssetSelection, retraining: AssetSelection) -> list:
    """The sensors that evaluate the declared conditions (none when nothing is declared)."""
    if not (config.partitioned and config.monitoring.retraining.on_new_data):
        return []
    return [
        AutomationConditionSensorDefinition(
            "days_automation",
            target=daily,
            default_status=DefaultSensorStatus.RUNNING,
            description="Features and profiles of days whose windows read a raw day or labels stored again (a "
            "corrected file, late labels).",
        ),
        AutomationConditionSensorDefinition(
            "retraining_automation",
            target=retraining,
            run_tags={RETRAINING_TAG: "true"},
            default_status=DefaultSensorStatus.RUNNING,
            description="Retraining at its schedule when new days arrived, then models, candidate, staging and "
            "production in the same run.",
        ),
    ]
