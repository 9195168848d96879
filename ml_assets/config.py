"""The pipeline config: one YAML file names the dataset, schema, features, algorithms and thresholds.

The same code runs any tabular binary classifier; only this file changes. Loading is strict: an unknown key, a
wrong type or an inconsistent value raises :class:`ConfigError` naming the file and the dotted key.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ml_assets.monitoring.catalog import SERVING_NAMESPACE
from ml_assets.rollout.analysis import AnalysisMargins
from ml_assets.rollout.engine import ReleasePlan

if TYPE_CHECKING:
    from ml_assets.monitoring.drift import DriftThresholds

ColumnType = Literal["int", "float", "datetime", "string", "bool"]


class ConfigError(ValueError):
    """The pipeline config is missing, unreadable or invalid."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnSpec(_Strict):
    """One column of the landing data and the rules its values obey."""

    type: ColumnType
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    allowed: list[Any] | None = None
    unique: bool = False

    @model_validator(mode="after")
    def _range_is_ordered(self) -> ColumnSpec:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class SchemaConfig(_Strict):
    """The declarative schema the validation suite is built from."""

    columns: dict[str, ColumnSpec]
    target: str
    id_column: str | None = None
    timestamp_column: str | None = None
    entity_column: str | None = Field(
        default=None, description="The card or customer; used for card precision@k and known-fraud removal."
    )
    max_age_days: float | None = Field(default=None, gt=0, description="Freshness: newest record at most this old.")
    max_future_minutes: float = Field(default=5.0, ge=0, description="Tolerated clock skew for future timestamps.")

    @model_validator(mode="after")
    def _named_columns_exist(self) -> SchemaConfig:
        for role in ("target", "id_column", "timestamp_column", "entity_column"):
            name = getattr(self, role)
            if name is not None and name not in self.columns:
                raise ValueError(f"{role} {name!r} is not one of the schema's columns")
        if self.timestamp_column and self.columns[self.timestamp_column].type != "datetime":
            raise ValueError(f"timestamp_column {self.timestamp_column!r} must have type datetime")
        if self.max_age_days is not None and not self.timestamp_column:
            raise ValueError("max_age_days needs a timestamp_column")
        return self


# The simulator's defaults, shared with ml_assets.simulate (which needs numpy and pandas; the config does not).
HANDBOOK_RADIUS = 5.0  # a customer uses the terminals within this distance (the Fraud-Detection-Handbook's r)
DEFAULT_SEED = 42


class TransactionsGenerator(_Strict):
    """The fraud transaction simulator (see ml_assets.simulate)."""

    kind: Literal["transactions"]
    customers: int = Field(default=2_000, gt=0)
    terminals: int = Field(default=4_000, gt=0)
    days: int = Field(default=90, gt=0)
    start: dt.date | None = Field(default=None, description="First day; default: so that the last day is yesterday.")
    radius: float = Field(default=HANDBOOK_RADIUS, gt=0)
    seed: int = DEFAULT_SEED


class SklearnDatasetGenerator(_Strict):
    """A real dataset shipped inside scikit-learn, exported to the landing folder as CSV."""

    kind: Literal["sklearn"]
    name: Literal["breast_cancer"]
    target: str
    positive_class: int = Field(default=1, description="The sklearn class that becomes label 1.")


class PartitionsConfig(_Strict):
    """Daily partitions of the landing data: one day = one landing file = one run of validation and features."""

    start: dt.date = Field(description="The first day; earlier records are never read.")
    timezone: str = Field(default="UTC", description="Days run midnight to midnight here (an IANA name).")

    @model_validator(mode="after")
    def _known_timezone(self) -> PartitionsConfig:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone {self.timezone!r} is not an IANA time zone (e.g. UTC, Europe/Paris)") from None
        return self


class DatasetConfig(_Strict):
    landing_dir: str = Field(description="Folder of landing files; relative paths live in ML_ASSETS_HOME.")
    file_format: Literal["parquet", "csv"] = "parquet"
    partitions: PartitionsConfig | None = Field(
        default=None, description="Daily partitions (needs schema.timestamp_column); none: one batch of all files."
    )
    generator: Annotated[TransactionsGenerator | SklearnDatasetGenerator, Field(discriminator="kind")] | None = Field(
        default=None, description="Where `ml-assets generate-data` gets data; none: you bring your own files."
    )


class FeaturesConfig(_Strict):
    set: Literal["fraud_handbook", "passthrough"]
    windows_days: list[int] = Field(default=[1, 7, 30])
    delay_days: int = Field(default=7, ge=0, description="Labels arrive this late; terminal risk looks behind it.")
    customer_column: str = "CUSTOMER_ID"
    terminal_column: str = "TERMINAL_ID"
    amount_column: str = "TX_AMOUNT"
    amount_profile: bool = Field(
        default=True, description="Add amount-to-habit ratios and a z-score per card (beyond the handbook's set)."
    )
    exclude: list[str] = Field(default_factory=list, description="Columns never used as features (passthrough).")

    @property
    def history_days(self) -> int:
        """Days before a record that its features read: the longest window behind the label delay."""
        return self.delay_days + max(self.windows_days) if self.set == "fraud_handbook" else 0


class TimeSplit(_Strict):
    method: Literal["time"]
    train_days: int = Field(gt=0)
    gap_days: int = Field(ge=0, description="Delay between train and test: labels of the gap are unknown.")
    test_days: int = Field(gt=0)
    train_start: dt.date | None = Field(default=None, description="Default: the test window ends on the last day.")
    exclude_known_entities: bool = True
    skip_failed_days: bool = Field(
        default=False,
        description="Daily partitions: train on a window with days that failed validation left out (and named) "
        "instead of refusing it.",
    )


class RandomSplit(_Strict):
    method: Literal["random"]
    test_size: float = Field(gt=0, lt=1)
    seed: int = 0


class AlgorithmConfig(_Strict):
    kind: Literal["random_forest", "xgboost", "mlp"]
    params: dict[str, Any] = Field(default_factory=dict)


class TrainingConfig(_Strict):
    """Where models are trained: an external process through Dagster Pipes."""

    compute: Literal["subprocess", "ecs"] = Field(
        default="subprocess",
        description="subprocess: a child process beside the run; ecs: an ECS task of its own per algorithm, sized "
        "by Terraform (AWS).",
    )


class EvaluationConfig(_Strict):
    decision_threshold: float = Field(default=0.5, gt=0, lt=1)
    top_k: int = Field(default=100, gt=0, description="Card precision@k: daily top-k entities.")


class GatesConfig(_Strict):
    """Thresholds of the model test suite; a model below any of them is not promoted."""

    min_average_precision: float = Field(default=0.0, ge=0, le=1)
    min_roc_auc: float = Field(default=0.5, ge=0, le=1)
    min_precision: float = Field(default=0.0, ge=0, le=1)
    min_recall: float = Field(default=0.0, ge=0, le=1)
    min_card_precision: float | None = Field(default=None, ge=0, le=1)
    cv_folds: int = Field(default=3, ge=2)
    cv_max_rows: int = Field(default=20_000, gt=0)
    min_cv_average_precision: float = Field(default=0.0, ge=0, le=1)
    max_cv_std: float = Field(default=0.1, ge=0)
    noise_scale: float = Field(default=0.01, ge=0, description="Noise std as a share of each feature's std.")
    min_noise_agreement: float = Field(default=0.95, ge=0, le=1)

    def minimum_of(self, metric: str) -> float:
        """The gate on ``metric`` (average_precision, roc_auc, precision, recall, card_precision); 0 when the
        config sets none."""
        return getattr(self, f"min_{metric}") or 0.0


class SelectionConfig(_Strict):
    primary_metric: Literal["average_precision", "roc_auc", "card_precision"] = "average_precision"
    non_inferiority_margin: float = Field(default=0.01, ge=0, le=1)


class CanaryConfig(_Strict):
    steps: list[int] = Field(default=[5, 10, 25, 50, 100], description="Traffic percentages; the last is 100.")
    shadow_percent: int = Field(
        default=0, ge=0, le=100, description="Mirror this share first, as a phase analysed like a step (0: none)."
    )


class AnalysisConfig(_Strict):
    """What a canary must be shown not to exceed (non-inferiority margins), and the release's error budget."""

    alpha: float = Field(
        default=0.01,
        gt=0,
        lt=1,
        description="The release's error budget: the chance that any bound at any look is wrong, i.e. that a canary "
        "worse than a margin passes, or one within every margin is shown worse (a rollback for want of evidence "
        "within max_bake_seconds is not covered: the plan check shows the traffic that needs).",
    )
    error_rate_margin: float = Field(
        default=0.015,
        gt=0,
        lt=1,
        description="Failure rate at most this much higher (0.015 = 1.5 points).",
    )
    latency_ratio_margin: float = Field(default=1.25, gt=1, description="Latency quantile at most this ratio.")
    latency_quantile: float = Field(default=0.5, gt=0, lt=1, description="Which latency quantile (0.5: median).")
    score_ks_margin: float = Field(
        default=0.18,
        gt=0,
        lt=1,
        description="Score distributions at most this KS distance apart (KS 0.2 ~ PSI 0.25 for a location shift).",
    )
    expected_requests_per_second: float | None = Field(
        default=None, gt=0, description="Traffic during a release, for the plan check (default: replay_rate)."
    )
    expected_error_rate: float = Field(
        default=0.01, ge=0, lt=1, description="The stable variant's failure rate, for the plan check."
    )


class LoadTestConfig(_Strict):
    requests: int = Field(default=2000, gt=0)
    concurrency: int = Field(default=16, gt=0)
    max_seconds: float = Field(default=60.0, gt=0)
    max_p50_ms: float = Field(default=20.0, gt=0)
    max_p95_ms: float = Field(default=50.0, gt=0)
    max_p99_ms: float = Field(default=100.0, gt=0)
    min_throughput_rps: float = Field(default=100.0, ge=0)
    min_success_rate: float = Field(default=0.999, ge=0, le=1)


class AwsConfig(_Strict):
    """Where the AWS platform lives. Resource names follow the Terraform naming (``terraform/``):
    cluster ``{project}-{env}``, services ``{project}-{env}-model-{slot}``, load balancer ``{project}-{env}``,
    target groups ``{project}-{env}-{slot}``."""

    project: str = Field(default="ml-assets", pattern=r"^[a-z][a-z0-9-]{1,15}$")
    region: str | None = Field(default=None, description="Default: AWS_REGION / the AWS profile's region.")
    endpoint_url: str | None = Field(default=None, description="An AWS-compatible endpoint (tests); default AWS.")
    max_attempts: int = Field(default=8, ge=1, le=20, description="Per call, adaptive retry mode (throttling).")
    listener_port: int = Field(default=443, gt=0, lt=65536, description="The HTTPS listener Terraform creates.")
    desired_count: int = Field(default=2, ge=1, description="Model-server tasks per live colour.")
    stabilize_timeout_seconds: float = Field(default=900.0, gt=0, description="ECS steady state, then targets.")
    poll_seconds: float = Field(default=10.0, gt=0)
    metrics_namespace: str = SERVING_NAMESPACE
    state_location: str | None = Field(
        default=None,
        description="Where rollout states live, e.g. s3://${ML_ASSETS_DATA_BUCKET}/rollouts (default: the state "
        "folder). Shared storage lets the next run, on any machine, reconcile a release a dead run left behind.",
    )
    traffic_log: str | None = Field(
        default=None,
        description="Where model servers write their sample of scored requests, e.g. "
        "s3://${ML_ASSETS_DATA_BUCKET}/traffic (drift monitoring on AWS reads it).",
    )
    public_urls: dict[str, str] = Field(
        default={}, description="Per environment, how clients reach it (DNS name, https); default the ALB's name."
    )


class DeploymentConfig(_Strict):
    """How a candidate reaches production: staging checks, then a canary or blue-green release."""

    platform: Literal["local", "aws"] = Field(
        default="local", description="local: gateway and servers on this machine; aws: ECS services behind an ALB."
    )
    aws: AwsConfig = AwsConfig()
    strategy: Literal["canary", "blue_green"] = "canary"
    canary: CanaryConfig = CanaryConfig()
    bake_seconds: float = Field(default=10.0, gt=0, description="Between looks; a step passes after one at least.")
    max_bake_seconds: float = Field(
        default=900.0, gt=0, description="A step still inconclusive after this long rolls back."
    )
    retire_delay_seconds: float = Field(default=0.0, ge=0, description="Keep the old version this long after.")
    health_timeout_seconds: float = Field(
        default=120.0, gt=0, description="A new version must answer its health checks within this long."
    )
    analysis: AnalysisConfig = AnalysisConfig()
    load_test: LoadTestConfig = LoadTestConfig()
    golden_records: int = Field(
        default=20, gt=0, description="Held-out records every new version must score as registered."
    )
    replay_rate: float = Field(default=100.0, ge=0, description="Held-out records/s replayed during a local release.")
    host: str = "127.0.0.1"
    staging_port: int = Field(default=8610, gt=0, lt=65536)
    production_port: int = Field(default=8620, gt=0, lt=65536)

    @model_validator(mode="after")
    def _plan(self) -> DeploymentConfig:
        self.release_plan()  # the engine's own checks of steps and bakes
        if self.platform == "aws":
            if self.canary.shadow_percent:
                raise ValueError("canary.shadow_percent: an Application Load Balancer cannot mirror traffic; use 0")
            if not self.aws.traffic_log:
                raise ValueError(
                    "aws.traffic_log: the release analysis reads every request's outcome from the model servers' "
                    "traffic log; set it (e.g. s3://${ML_ASSETS_DATA_BUCKET}/traffic)"
                )
            if self.analysis.expected_requests_per_second is None:
                raise ValueError(
                    "analysis.expected_requests_per_second: on AWS the clients send the traffic; say how much, so "
                    "that the plan check can tell whether a release can reach a decision"
                )
        return self

    @property
    def expected_requests_per_second(self) -> float:
        return self.analysis.expected_requests_per_second or self.replay_rate

    def release_plan(self, strategy: str | None = None) -> ReleasePlan:
        """The release engine's plan for this deployment (``strategy`` overrides, e.g. "direct" for staging)."""
        a = self.analysis
        return ReleasePlan(
            strategy=strategy or self.strategy,  # type: ignore[arg-type]
            steps=tuple(self.canary.steps),
            bake_seconds=self.bake_seconds,
            max_bake_seconds=self.max_bake_seconds,
            shadow_percent=self.canary.shadow_percent,
            retire_delay_seconds=self.retire_delay_seconds,
            health_timeout_seconds=self.health_timeout_seconds,
            analysis=AnalysisMargins(
                alpha=a.alpha,
                error_rate_margin=a.error_rate_margin,
                latency_ratio_margin=a.latency_ratio_margin,
                latency_quantile=a.latency_quantile,
                score_ks_margin=a.score_ks_margin,
            ),
        )

    @model_validator(mode="after")
    def _decidable(self) -> DeploymentConfig:
        from ml_assets.rollout.planning import undecidable  # scipy: only when a config is checked

        plan, rps = self.release_plan(), self.expected_requests_per_second
        problem = undecidable(plan, rps, self.analysis.expected_error_rate)
        if problem:
            raise ValueError(f"analysis: {problem}")
        return self


class DriftConfig(_Strict):
    """Evidently's defaults: KS up to 1,000 reference values, normed Wasserstein above; PSI beside both."""

    ks_p_value: float = Field(default=0.05, gt=0, lt=1)
    wasserstein: float = Field(default=0.1, gt=0)
    psi_moderate: float = Field(default=0.1, gt=0)
    psi_severe: float = Field(default=0.25, gt=0)
    dataset_share: float = Field(default=0.5, gt=0, le=1, description="Share of drifted features = dataset drift.")
    min_traffic: int = Field(default=200, gt=0, description="Fewer scored records than this: no verdict.")

    def thresholds(self) -> DriftThresholds:
        """The drift statistics' thresholds, as the monitoring assets apply them."""
        from ml_assets.monitoring.drift import DriftThresholds  # pandas: not when a config is only loaded

        return DriftThresholds(
            ks_p_value=self.ks_p_value,
            wasserstein=self.wasserstein,
            psi_moderate=self.psi_moderate,
            psi_severe=self.psi_severe,
            dataset_share=self.dataset_share,
        )


class RetrainingConfig(_Strict):
    """Guardrails of sensor-started retraining."""

    on_new_data: bool = True
    schedule: str = Field(
        default="0 3 * * *",
        description="Daily partitions: retrain at this cron (UTC) when days were featurized since the last tick.",
    )
    on_severe_drift: bool = True
    debounce_seconds: float = Field(default=300.0, ge=0, description="Wait until the landing folder is quiet.")
    max_runs_per_day: int = Field(default=3, ge=1)
    sensor_interval_seconds: int = Field(default=60, ge=1)


class MonitoringConfig(_Strict):
    """Daily monitoring: drift of production traffic, recent performance, the pipeline's metrics and alarms."""

    metrics: Literal["local", "cloudwatch"] = Field(
        default="local", description="local: SQLite in the state folder; cloudwatch: CloudWatch (AWS)."
    )
    schedule: str = Field(default="0 2 * * *", description="Cron (UTC) of the monitoring job.")
    recent_days: int = Field(default=7, gt=0, description="Performance on the last days whose labels have arrived.")
    alarm_period_seconds: int = Field(default=300, gt=0, description="The alarms: 5-minute averages...")
    alarm_evaluation_periods: int = Field(default=2, gt=0, description="...two of which must breach.")
    alarm_datapoints_to_alarm: int | None = Field(default=None, gt=0, description="M of N (default: all N).")
    drift: DriftConfig = DriftConfig()
    retraining: RetrainingConfig = RetrainingConfig()
    champion_max_age_days: float = Field(
        default=30, gt=0, description="The champion's freshness policy: released at most this long ago."
    )


class RegistryConfig(_Strict):
    model_name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    experiment: str | None = None


class PipelineConfig(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    description: str = ""
    owners: list[Annotated[str, Field(pattern=r"^(team:[A-Za-z0-9_.-]+|[^@\s]+@[^@\s]+\.[^@\s]+)$")]] = Field(
        default_factory=list, description="Who owns the assets in Dagster's catalog: team:<name> or e-mail addresses."
    )
    dataset: DatasetConfig
    data_schema: SchemaConfig = Field(alias="schema")
    features: FeaturesConfig
    split: Annotated[TimeSplit | RandomSplit, Field(discriminator="method")]
    algorithms: dict[str, AlgorithmConfig]
    training: TrainingConfig = TrainingConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    gates: GatesConfig = GatesConfig()
    selection: SelectionConfig = SelectionConfig()
    registry: RegistryConfig
    deployment: DeploymentConfig = DeploymentConfig()
    monitoring: MonitoringConfig = MonitoringConfig()

    @model_validator(mode="after")
    def _consistent(self) -> PipelineConfig:
        if not self.algorithms:
            raise ValueError("algorithms: at least one algorithm is needed")
        for name in self.algorithms:
            if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
                raise ValueError(f"algorithms: name {name!r} must be lower_snake_case (it becomes an asset name)")
        schema = self.data_schema
        if self.dataset.partitions is not None and not schema.timestamp_column:
            raise ValueError("dataset.partitions: daily partitions need schema.timestamp_column")
        if self.dataset.partitions is not None and not schema.id_column:
            raise ValueError(
                "dataset.partitions: daily partitions need schema.id_column (a day's labels are stored apart from its "
                "records and joined back by id)"
            )
        if isinstance(self.split, TimeSplit) and not schema.timestamp_column:
            raise ValueError("split: method 'time' needs schema.timestamp_column")
        if self.features.set == "fraud_handbook":
            needed = [self.features.customer_column, self.features.terminal_column, self.features.amount_column]
            missing = [c for c in needed if c not in schema.columns]
            if missing or not schema.timestamp_column:
                raise ValueError(f"features: set 'fraud_handbook' needs columns {missing or needed} and a timestamp")
        unknown = [c for c in self.features.exclude if c not in schema.columns]
        if unknown:
            raise ValueError(f"features.exclude: unknown columns {unknown}")
        if self.selection.primary_metric == "card_precision" and not (schema.entity_column and schema.timestamp_column):
            raise ValueError("selection.primary_metric card_precision needs schema.entity_column and timestamp_column")
        return self

    @property
    def partitioned(self) -> bool:
        """Whether the landing data, its validation and the features are daily partitions."""
        return self.dataset.partitions is not None

    @property
    def experiment_name(self) -> str:
        return self.registry.experiment or f"ml_assets/{self.name}"


def _format_errors(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"] if not str(part).startswith("function-"))
        key = key.replace("data_schema", "schema")
        lines.append(f"  key '{key or '<root>'}': {item['msg']}")
    return "\n".join(lines)


def parse_config(raw: Any, source: str = "<config>") -> PipelineConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the config must be a mapping of keys, got {type(raw).__name__}")
    try:
        return PipelineConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(f"{source}: invalid pipeline config\n{_format_errors(error)}") from None


def merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` applied: mappings merge key by key, anything else is replaced."""
    out = dict(base)
    for key, value in changes.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def read_raw(path: Path, seen: tuple[Path, ...] = ()) -> Any:
    """The YAML of ``path``; a top-level ``extends: other.yaml`` (relative to it) is read first and merged under."""
    if path in seen:
        raise ConfigError(f"{path}: 'extends' loops through {' -> '.join(str(p) for p in (*seen, path))}")
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found (set ML_ASSETS_CONFIG to a valid path)") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if isinstance(raw, dict) and "extends" in raw:
        parent = read_raw((path.parent / str(raw["extends"])).resolve(), (*seen, path))
        if not isinstance(parent, dict):
            raise ConfigError(f"{path}: extends {raw['extends']!r}, which is not a mapping")
        raw = merged(parent, {key: value for key, value in raw.items() if key != "extends"})
    return raw


def load_config(path: str | Path) -> PipelineConfig:
    """Read and validate a pipeline config file (which may extend another)."""
    path = Path(path).resolve()
    return parse_config(read_raw(path), str(path))
