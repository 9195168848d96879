"""The ``ml-assets`` command: generate data for the configured dataset, check a config, summarize a run."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

from ml_assets import environment_variables as env
from ml_assets.config import ConfigError, PipelineConfig, SklearnDatasetGenerator, TransactionsGenerator, load_config
from ml_assets.rollout.backend import ENVIRONMENTS
from ml_assets.serving.process import run_server
from ml_assets.settings import Settings, load_settings


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _generate_transactions(args: argparse.Namespace, config: PipelineConfig, settings: Settings) -> int:
    from ml_assets.resources.landing import LandingFolder
    from ml_assets.simulate import DriftSpec, SimulationSpec, simulate_days

    generator = config.dataset.generator
    assert isinstance(generator, TransactionsGenerator)
    days = args.days or generator.days
    start = args.start or generator.start or (dt.date.today() - dt.timedelta(days=days))
    drift = None
    if args.drift_start:
        drift = DriftSpec(
            start=args.drift_start,
            amount_factor=args.amount_factor,
            new_terminals=args.new_terminals,
            card_testing_customers_per_day=args.card_testing_per_day,
        )
    spec = SimulationSpec(
        customers=args.customers or generator.customers,
        terminals=args.terminals or generator.terminals,
        start=start,
        days=days,
        radius=generator.radius,
        seed=generator.seed if args.seed is None else args.seed,
        drift=drift,
    )
    first = 0 if args.write_from is None else max(0, (args.write_from - start).days)
    landing = LandingFolder(path=settings.resolve_location(config.dataset.landing_dir))
    total = frauds = files = 0
    for date, frame in simulate_days(spec, first_day=first):
        landing.write(frame, f"transactions_{date:%Y-%m-%d}.{config.dataset.file_format}")
        total, frauds, files = total + len(frame), frauds + int(frame["TX_FRAUD"].sum()), files + 1
    print(
        f"wrote {files} daily files, {total:,} transactions ({frauds / max(total, 1):.2%} fraud) "
        f"from {spec.date_of(first)} to {spec.date_of(spec.days - 1)} into {landing.path}"
    )
    return 0


def _generate_sklearn(config: PipelineConfig, settings: Settings) -> int:
    from ml_assets.resources.landing import LandingFolder
    from ml_assets.simulate.sklearn_datasets import load_dataset

    generator = config.dataset.generator
    assert isinstance(generator, SklearnDatasetGenerator)
    frame = load_dataset(generator.name, generator.target, generator.positive_class)
    landing = LandingFolder(path=settings.resolve_location(config.dataset.landing_dir))
    path = landing.write(frame, f"{generator.name}.{config.dataset.file_format}")
    print(f"wrote {len(frame):,} rows ({frame[generator.target].mean():.2%} positive) to {path}")
    return 0


def generate_data(args: argparse.Namespace) -> int:
    settings = load_settings()
    path = args.config or settings.config_path
    config = load_config(path)
    if config.dataset.generator is None:
        landing = settings.resolve_location(config.dataset.landing_dir)
        print(f"nothing to generate: {path} names no dataset.generator; your own files go in {landing}")
        return 0
    if isinstance(config.dataset.generator, TransactionsGenerator):
        return _generate_transactions(args, config, settings)
    return _generate_sklearn(config, settings)


def check_config(args: argparse.Namespace) -> int:
    settings = load_settings()
    path = args.config or settings.config_path
    config = load_config(path)
    columns, algorithms = len(config.data_schema.columns), ", ".join(config.algorithms)
    print(f"{path}: valid ({config.name}: {columns} columns, algorithms {algorithms})")
    print(release_arithmetic(config.deployment))
    return 0


def release_arithmetic(deployment) -> str:
    """What a good release needs to pass its first analysed phase, at the traffic the config expects."""
    from ml_assets.rollout.planning import estimates

    plan = deployment.release_plan()
    rps, error_rate = deployment.expected_requests_per_second, deployment.analysis.expected_error_rate
    phase, found = estimates(plan, rps, error_rate)
    lines = [
        f"release plan ({plan.strategy}, alpha {plan.analysis.alpha:g}): at {found[0].canary_rps:g} requests/s to "
        f"the canary ({phase} of {rps:g} requests/s), budget {plan.max_bake_seconds:g} s per step"
    ]
    for estimate in found:
        lines.append(f"  {estimate.describe()}")
        if estimate.seconds(estimate.cautious) > plan.max_bake_seconds:
            lines.append(
                "  warning: more than 1 % of good releases will run out of budget and roll back; raise the first "
                "step, the margin or max_bake_seconds"
            )
    return "\n".join(lines)


def materialize(args: argparse.Namespace) -> int:
    """`dagster asset materialize` with one line per asset and check; Dagster's full log kept in a file.

    A selection that holds daily-partitioned assets runs as several: raw_data and labels over the days (one run
    over the range, the landing files' days unless ``--days`` says; runs of ``--days-per-run`` days), then the
    selection's other days assets over the days they can be built from (a quarantined day blocks itself and what
    reads it, not the rest), then the unpartitioned rest. The exit code is the worst of the runs'."""
    from ml_assets.data.days import runs_of
    from ml_assets.definitions import build_definitions
    from ml_assets.progress import follow_in_instance, split_selection

    if args.days_per_run is not None and args.days_per_run < 1:
        raise ValueError(f"--days-per-run {args.days_per_run}: a run holds at least one day")
    settings = load_settings()
    config = load_config(settings.config_path)
    runs = split_selection(build_definitions(config, settings), args.select)
    if not runs.daily and not runs.tail:
        raise ValueError(f"--select {args.select!r} selects no asset")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    log_path = args.log or settings.home / "logs" / f"materialize-{stamp}.log"
    command = [str(Path(sys.executable).parent / "dagster"), "asset", "materialize", "-m", "ml_assets.definitions"]
    home = settings.home / "dagster"
    codes = []
    if runs.daily:
        first, last = (args.days or _landing_days(config, settings)).split("...")
        loaded = ("raw_data", "labels")  # one file, one step: a day's records and labels are stored together
        rest = [key for key in runs.daily if key not in loaded]

        def run_days(assets: tuple[str, ...] | list[str], ranges: list[tuple[str, str]]) -> None:
            for start, end in (run for block in ranges for run in runs_of(*block, args.days_per_run)):
                select = [*command, "--select", ",".join(assets), "--partition-range", f"{start}...{end}"]
                codes.append(follow_in_instance(select, log_path, home))

        if any(key in runs.daily for key in loaded):
            run_days(loaded, [(first, last)])
        # then what each day's stored verdicts allow: features read the days loaded before them
        for assets, ranges in _buildable_blocks(config, settings, first=first, last=last, assets=rest).items():
            run_days(assets, ranges)
    if runs.tail:
        codes.append(follow_in_instance([*command, "--select", ",".join(runs.tail)], log_path, home))
    return max(codes)


def _buildable_blocks(
    config: PipelineConfig, settings: Settings, *, first: str, last: str, assets: list[str]
) -> dict[tuple[str, ...], list[tuple[str, str]]]:
    """{assets: the ranges of first..last they can be built for}, by the stored verdicts: a day's profile needs
    the day to have passed validation; its features need every raw day their windows read to have passed too.
    Prints the days left out."""
    from ml_assets.data.days import VERDICT_ATTR, blocks, day_range, shift
    from ml_assets.features.incremental import buildable, lookback_days
    from ml_assets.resources.io_manager import StoredPartitions
    from ml_assets.resources.storage import open_store

    stored = StoredPartitions(open_store(settings.storage_for(config.name)), "raw_data")
    since = shift(first, -lookback_days(config))
    passed = {d: bool((stored.attrs(d).get(VERDICT_ATTR) or {}).get("passed")) for d in stored if since <= d <= last}
    days = day_range([first, last])
    by_ranges: dict[tuple[tuple[str, str], ...], list[str]] = {}
    for asset in assets:
        usable = buildable(days, passed, config) if asset == "features" else [d for d in days if passed.get(d)]
        left_out = [d for d in days if d not in usable]
        if left_out:
            spans = ", ".join(a if a == b else f"{a}..{b}" for a, b in blocks(left_out))
            print(f"{asset}: not built for {len(left_out)} day(s) that failed validation or read one that did: {spans}")
        by_ranges.setdefault(tuple(blocks(usable)), []).append(asset)
    return {tuple(group): list(ranges) for ranges, group in by_ranges.items()}


def _landing_days(config: PipelineConfig, settings: Settings) -> str:
    """``FIRST...LAST``: the days of the landing files that are daily partitions (from the config's start to the
    last day that has ended); files of other days are named on stderr."""
    from ml_assets.data.days import files_by_day, last_complete_day
    from ml_assets.resources.landing import LandingFolder

    landing = LandingFolder(path=settings.resolve_location(config.dataset.landing_dir))
    days = sorted(files_by_day(item.name for item in landing.files()))
    partitions = config.dataset.partitions
    if partitions is not None:
        first, last = partitions.start.isoformat(), last_complete_day(dt.datetime.now(dt.UTC), partitions.timezone)
        outside = [day for day in days if not first <= day <= last]
        if outside:
            print(
                f"left out: files of {len(outside)} day(s) that are not partitions ({first}..{last}): "
                f"{', '.join(outside[:5])}",
                file=sys.stderr,
            )
        days = [day for day in days if first <= day <= last]
    if not days:
        raise ValueError(
            f"no landing file with a day in its name in {landing.path}: run `ml-assets generate-data` or add files "
            "(e.g. transactions_2026-11-26.parquet)"
        )
    return f"{days[0]}...{days[-1]}"


def days(args: argparse.Namespace) -> int:
    """Print the landing files' days as FIRST...LAST, for `dagster asset materialize --partition-range`."""
    settings = load_settings()
    print(_landing_days(load_config(args.config or settings.config_path), settings))
    return 0


def summary(args: argparse.Namespace) -> int:
    from ml_assets.reporting import pipeline_summary

    settings = load_settings()
    config = load_config(args.config or settings.config_path)
    print(pipeline_summary(config, settings))
    return 0


def parse_model_uri(uri: str) -> tuple[str, str | None, str | None]:
    """``models:/name/version`` or ``models:/name@alias`` -> (name, version, alias)."""
    if not uri.startswith("models:/"):
        raise ValueError(f"model URI must look like models:/NAME/VERSION or models:/NAME@ALIAS, got {uri!r}")
    rest = uri.removeprefix("models:/")
    if "@" in rest:
        name, alias = rest.split("@", 1)
        return name, None, alias
    name, _, version = rest.partition("/")
    if not name or not version.isdigit():
        raise ValueError(f"model URI must look like models:/NAME/VERSION or models:/NAME@ALIAS, got {uri!r}")
    return name, version, None


def serve(args: argparse.Namespace) -> int:
    from ml_assets.resources.mlflow_registry import MlflowRegistry
    from ml_assets.serving.app import Chaos, create_app
    from ml_assets.serving.auth import check_exposure, server_keys
    from ml_assets.serving.scoring import Scorer

    keys = server_keys()  # before the model loads: a server that would be open fails at once
    check_exposure(args.host, keys, allow_unauthenticated=args.allow_unauthenticated, what="the model server")
    settings = load_settings()
    config = load_config(args.config or settings.config_path)
    registry = MlflowRegistry(
        tracking_uri=settings.mlflow_tracking_uri,
        registry_uri=settings.mlflow_registry_uri,
        model_store=settings.model_store,
    )
    name, version, alias = parse_model_uri(args.model_uri)
    if version is None:
        version = registry.version_for_alias(name, alias or "")
        if version is None:
            raise ValueError(f"registered model {name!r} has no alias {alias!r}")
    model = registry.load_model(name, version)
    features = [str(f) for f in model.feature_names_in_]
    threshold = config.evaluation.decision_threshold if args.threshold is None else args.threshold
    chaos = Chaos.from_env(name, version, args.environment)
    publisher = None
    if args.cloudwatch_namespace:
        from ml_assets.resources.aws.cloudwatch import CloudWatchResource
        from ml_assets.serving.cloudwatch import CloudWatchPublisher

        cloudwatch = CloudWatchResource()  # region, endpoint and credentials from the task's environment
        publisher = CloudWatchPublisher(
            lambda datums: cloudwatch.put(args.cloudwatch_namespace, datums),
            args.environment,
            args.variant,
            flush_seconds=args.metrics_flush_seconds,
        )
    traffic_log = None
    if args.traffic_log:
        from ml_assets.resources.storage import open_store
        from ml_assets.serving.traffic_log import TrafficLog

        store = open_store(args.traffic_log)
        traffic_log = TrafficLog(
            store.write,
            environment=args.environment,
            slot=args.variant,
            version=version,
            flush_seconds=args.metrics_flush_seconds,
        )
    scorer = Scorer(model, features, threshold=threshold, name=name, version=version)
    app = create_app(
        scorer,
        variant=args.variant,
        chaos=chaos,
        publisher=publisher,
        traffic_log=traffic_log,
        keys=keys,
        health_address=None if args.health_port is None else (args.host, args.health_port),
    )
    print(
        f"serving {name} v{version} ({len(features)} features) as {args.variant} on http://{args.host}:{args.port}",
        flush=True,
    )
    run_server(app, host=args.host, port=args.port)
    return 0


MLFLOW_AUTH_CONFIG = """[mlflow]
default_permission = NO_PERMISSIONS
database_uri = sqlite:///{database}
admin_username = {username}
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
"""


def mlflow_server_command(
    args: argparse.Namespace, environ: dict[str, str], *, scratch: Path
) -> tuple[list[str], dict[str, str], str]:
    """The `mlflow server` command line, the environment to run it with, and a line for the log. The backend store
    URI (it holds the database password) goes in the environment (MLFLOW_BACKEND_STORE_URI, which `mlflow server`
    reads), never on the command line, where any process on the host can read it; the log line masks it.

    With MLFLOW_AUTH_ADMIN_PASSWORD set, the server runs MLflow's basic-auth app: one user (the pipeline), every
    other caller refused (NO_PERMISSIONS), its user table in ``scratch`` (recreated from the secret at each start),
    the password read by MLflow from its environment, never written to a file."""
    from urllib.parse import quote, urlencode

    from ml_assets import environment_variables as env

    store = env.MLFLOW_BACKEND_STORE_URI.get(environ)
    shown = "(MLFLOW_BACKEND_STORE_URI)"
    if not store:
        required = (env.MLFLOW_DB_HOST, env.MLFLOW_DB_USER, env.MLFLOW_DB_PASSWORD)
        missing = [variable.name for variable in required if not variable.is_set(environ)]
        if missing:
            raise ValueError(f"set MLFLOW_BACKEND_STORE_URI, or {', '.join(missing)} (with MLFLOW_DB_NAME, PORT)")
        user = quote(env.MLFLOW_DB_USER.get(environ), safe="")
        password = quote(env.MLFLOW_DB_PASSWORD.get(environ), safe="")
        # verify-full: the server's certificate must chain to the bundle and name the host (require would encrypt
        # to whoever answers)
        tls = urlencode({"sslmode": "verify-full", "sslrootcert": env.MLFLOW_DB_CA_BUNDLE.get(environ)})
        host, port, database = (v.get(environ) for v in (env.MLFLOW_DB_HOST, env.MLFLOW_DB_PORT, env.MLFLOW_DB_NAME))
        where = f"{host}:{port}/{database}?{tls}"
        scheme = "postgresql+psycopg2"  # the installed driver (SQLAlchemy 2.1 defaults to psycopg 3)
        store, shown = f"{scheme}://{user}:{password}@{where}", f"{scheme}://{user}:***@{where}"
    command = [
        str(Path(sys.executable).parent / "mlflow"),
        "server",
        "--artifacts-destination",
        env.MLFLOW_ARTIFACTS_DESTINATION.get(environ),
        "--serve-artifacts",
        "--host",
        args.host,
        "--port",
        str(args.port),
    ]
    if env.MLFLOW_ALLOWED_HOSTS.is_set(environ):
        command += ["--allowed-hosts", env.MLFLOW_ALLOWED_HOSTS.get(environ)]
    environment = {**environ, env.MLFLOW_BACKEND_STORE_URI.name: store}
    if env.MLFLOW_AUTH_ADMIN_PASSWORD.is_set(environ):
        import secrets

        command += ["--app-name", "basic-auth"]
        user = env.MLFLOW_AUTH_ADMIN_USERNAME.get(environ)
        config = scratch / "basic_auth.ini"
        config.write_text(MLFLOW_AUTH_CONFIG.format(database=scratch / "auth.db", username=user))
        environment["MLFLOW_AUTH_CONFIG_PATH"] = str(config)
        environment[env.MLFLOW_AUTH_ADMIN_USERNAME.name] = user
        # signs the auth app's CSRF tokens; one server task, so one key per start is enough
        environment.setdefault("MLFLOW_FLASK_SERVER_SECRET_KEY", secrets.token_hex(32))
    environment.pop(env.MLFLOW_DB_PASSWORD.name, None)  # the server needs the URI, not the password twice
    return command, environment, f"{' '.join(command)} with backend store {shown}"


def db_setup(args: argparse.Namespace) -> int:
    """One Postgres user and database per service (MLflow, Dagster), set up with the master user; run once, and
    again to rotate the services' passwords."""
    import psycopg2

    from ml_assets.resources.database_users import ServiceDatabase, set_up

    required = (env.MLFLOW_DB_HOST, env.DB_ADMIN_USER, env.DB_ADMIN_PASSWORD, env.MLFLOW_DB_PASSWORD)
    missing = [v.name for v in (*required, env.DAGSTER_PG_PASSWORD) if not v.is_set()]
    if missing:
        raise ValueError(f"db-setup needs {', '.join(missing)}")
    services = [
        ServiceDatabase(
            user=env.MLFLOW_DB_USER.get() or "mlflow",
            password=env.MLFLOW_DB_PASSWORD.get(),
            database=env.MLFLOW_DB_NAME.get(),
        ),
        ServiceDatabase(
            user=env.DAGSTER_PG_USERNAME.get(), password=env.DAGSTER_PG_PASSWORD.get(), database=env.DAGSTER_PG_DB.get()
        ),
    ]
    tls = {"sslmode": env.DB_SSLMODE.get()}
    if tls["sslmode"] in ("verify-ca", "verify-full"):
        tls["sslrootcert"] = env.MLFLOW_DB_CA_BUNDLE.get()

    def connect(database: str):
        return psycopg2.connect(
            host=env.MLFLOW_DB_HOST.get(),
            port=env.MLFLOW_DB_PORT.get(),
            user=env.DB_ADMIN_USER.get(),
            password=env.DB_ADMIN_PASSWORD.get(),
            dbname=database,
            connect_timeout=30,
            **tls,
        )

    try:
        done = set_up(connect, services)
    except psycopg2.Error as error:  # names the host, user or privilege; never a password
        raise RuntimeError(f"db-setup on {env.MLFLOW_DB_HOST.get()}: {str(error).strip()}") from None
    for line in done:
        print(line, flush=True)
    return 0


def mlflow_server(args: argparse.Namespace) -> int:
    """Run the MLflow tracking server (the platform's registry on AWS); replaces this process."""
    import tempfile

    scratch = Path(tempfile.mkdtemp(prefix="mlflow-auth-"))  # 0700: the user table of the auth app
    command, environment, shown = mlflow_server_command(args, dict(os.environ), scratch=scratch)
    print(f"starting {shown}", flush=True)
    os.execve(command[0], command, environment)  # nosec B606  # our own mlflow executable, arguments built above
    return 0  # not reached


def traffic(args: argparse.Namespace) -> int:
    """Send recent featurized records to the production gateway, as clients would (demo and drills)."""
    import asyncio
    import io

    import pandas as pd

    from ml_assets.features.build import feature_columns_of
    from ml_assets.resources.io_manager import StoredPartitions
    from ml_assets.resources.storage import open_store
    from ml_assets.serving.auth import client_headers
    from ml_assets.serving.replay import replay

    settings = load_settings()
    config = load_config(args.config or settings.config_path)
    store = open_store(settings.storage_for(config.name))
    try:
        if config.partitioned:  # the newest days' features
            days = StoredPartitions(store, "features")
            newest = list(days)[-args.days :]
            if not newest:
                raise FileNotFoundError
            frame = pd.concat([days[day] for day in newest], ignore_index=True)
            frame.attrs = days[newest[-1]].attrs
        else:
            frame = pd.read_parquet(io.BytesIO(store.read("features.parquet")))
    except FileNotFoundError:
        raise ValueError("no features yet: materialize the pipeline first (make demo)") from None
    columns = feature_columns_of(frame)
    stamp = config.data_schema.timestamp_column
    if stamp:  # a uniform sample of the last days: one day alone is all weekend or all weekday
        newest = pd.to_datetime(frame[stamp])
        frame = frame.loc[newest > newest.max() - pd.Timedelta(days=args.days)]
    chosen = frame.sample(min(args.requests, len(frame)), random_state=args.seed)[columns]
    records = [{k: float(v) for k, v in row.items()} for row in chosen.to_dict(orient="records")]
    backend = _platform(settings).live_backend("production")
    result = asyncio.run(
        replay(
            f"{backend.url}/predict",
            records,
            rate=args.rate,
            max_requests=len(records),
            max_seconds=args.max_seconds,
            headers=client_headers(),
        )
    )
    summary = result.summary()
    print(
        f"sent {result.sent} records of the last {args.days} days to {backend.url}/predict: {result.failed} failed, "
        f"p50 {summary['p50_ms']:.1f} ms, p99 {summary['p99_ms']:.1f} ms"
    )
    return 0 if result.sent and not result.failed else 1


def gateway(args: argparse.Namespace) -> int:
    from ml_assets.resources.local_platform import LocalBackend
    from ml_assets.serving.auth import check_exposure, server_keys
    from ml_assets.serving.gateway import Gateway, create_gateway_app

    keys = server_keys()
    check_exposure(args.host, keys, allow_unauthenticated=args.allow_unauthenticated, what="the gateway")
    settings = load_settings()
    backend = LocalBackend(settings.home, args.environment, host=args.host, port=args.port)
    dashboard = None
    if args.environment == "production":  # the monitoring dashboard lives with the production gateway
        from ml_assets.monitoring.alarms import alarms_of
        from ml_assets.monitoring.dashboard import dashboard_data
        from ml_assets.resources.metrics import metrics_store

        config = load_config(settings.config_path)
        metrics, alarms = metrics_store(settings, config), alarms_of(config)

        def dashboard() -> dict:
            return dashboard_data(metrics, config.name, alarms)

    routing = Gateway(args.environment, backend.token, backend.dir / "routing.json")
    app = create_gateway_app(routing, dashboard, bound_host=args.host, keys=keys)
    print(f"{args.environment} gateway on http://{args.host}:{args.port}", flush=True)
    run_server(app, host=args.host, port=args.port)
    return 0


def _platform(settings: Settings):
    from ml_assets.resources.platform import serving_platform

    return serving_platform(settings, load_config(settings.config_path))


def _environment_status(backend, rollout) -> dict:
    entry: dict = {"url": backend.url}
    if backend.router_state() is not None:  # the local platform's router is a process of ours
        entry["gateway"] = backend.router_state()
    entry["weights"] = backend.read_weights()
    entry["variants"] = {
        slot: {"model": model.name, "version": model.version, "health": backend.health(slot).detail}
        for slot, model in backend.serving().items()
    }
    if rollout is not None:
        entry["rollout"] = {
            "id": rollout.rollout_id,
            "strategy": rollout.strategy,
            "status": rollout.status,
            "phase": rollout.phase,
            "candidate": str(rollout.candidate_model),
            "reason": rollout.reason,
        }
    return entry


def status(args: argparse.Namespace) -> int:
    import json

    settings = load_settings()
    platform = _platform(settings)
    store = platform.state_store()
    report = {}
    for environment in ENVIRONMENTS:
        try:
            report[environment] = _environment_status(platform.live_backend(environment), store.load(environment))
        except RuntimeError as error:  # one environment missing (not applied yet) does not hide the other
            report[environment] = {"error": str(error)}

    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for environment, entry in report.items():
        if "error" in entry:
            print(f"{environment}: {entry['error']}")
            continue
        router = f" (gateway {entry['gateway']})" if "gateway" in entry else ""
        print(f"{environment}: {entry['url']}{router}")
        for slot, variant in entry.get("variants", {}).items():
            weight = entry["weights"].get(slot, 0)
            print(f"  {slot:<6} {weight:>3}%  {variant['model']} v{variant['version']}  {variant['health']}")
        if "rollout" in entry:
            r = entry["rollout"]
            print(
                f"  rollout {r['id']}: {r['strategy']} of {r['candidate']} - {r['status']} ({r['phase']}) {r['reason']}"
            )
    return 0


def stop(args: argparse.Namespace) -> int:
    print(_platform(load_settings()).stop())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ml-assets", description="CI/CD for machine learning on Dagster.")
    commands = parser.add_subparsers(dest="command", required=True)

    gen = commands.add_parser("generate-data", help="write the configured dataset into the landing folder")
    gen.add_argument("--config", type=Path, help="pipeline config (default: $ML_ASSETS_CONFIG or the fraud config)")
    gen.add_argument("--customers", type=int, help="number of customers (default from the config)")
    gen.add_argument("--terminals", type=int, help="number of terminals (default from the config)")
    gen.add_argument("--days", type=int, help="number of days (default from the config)")
    gen.add_argument("--start", type=_date, help="first day, YYYY-MM-DD (default: so that the last day is yesterday)")
    gen.add_argument("--seed", type=int, help="random seed (default from the config)")
    gen.add_argument(
        "--write-from", type=_date, help="only write days from this date (append new days to a landing folder)"
    )
    drift = gen.add_argument_group("drift", "changes injected from --drift-start to the end")
    drift.add_argument("--drift-start", type=_date, help="first day of drift, YYYY-MM-DD")
    drift.add_argument("--amount-factor", type=float, default=1.0, help="multiply amounts by this factor")
    drift.add_argument("--new-terminals", type=int, default=0, help="terminals opened on the drift start")
    drift.add_argument(
        "--card-testing-per-day",
        type=int,
        default=0,
        help="customers per day hit by a new fraud pattern (bursts of small night-time amounts)",
    )
    gen.set_defaults(func=generate_data)

    chk = commands.add_parser("check-config", help="validate a pipeline config and exit")
    chk.add_argument("--config", type=Path)
    chk.set_defaults(func=check_config)

    srv = commands.add_parser("serve", help="serve a registered model version over HTTP (no pickle, digest-checked)")
    # Every option also reads an environment variable, so an ECS task definition sets them without a command.
    srv.add_argument(
        "--model-uri",
        default=env.MODEL_URI.get(),
        required=not env.MODEL_URI.is_set(),
        help="models:/NAME/VERSION or models:/NAME@ALIAS ($ML_ASSETS_MODEL_URI)",
    )
    srv.add_argument(
        "--host",
        default=env.SERVER_HOST.get(),
        help="bind address (default: loopback only; $ML_ASSETS_HOST)",
    )
    srv.add_argument("--port", type=int, default=env.SERVER_PORT.get())
    srv.add_argument(
        "--health-port",
        type=int,
        default=env.HEALTH_PORT.get(),
        help="also answer /health on this port from a thread of its own, whatever the load ($ML_ASSETS_HEALTH_PORT)",
    )
    srv.add_argument(
        "--variant",
        default=env.SLOT.get(),
        help="the slot name reported in answers and metrics ($ML_ASSETS_SLOT)",
    )
    srv.add_argument("--threshold", type=float, help="decision threshold (default from the config)")
    srv.add_argument(
        "--environment",
        default=env.ENVIRONMENT.get(),
        help="the environment this server belongs to ($ML_ASSETS_ENVIRONMENT)",
    )
    srv.add_argument(
        "--cloudwatch-namespace",
        default=env.CLOUDWATCH_NAMESPACE.get(),
        help="also publish per-second metrics to this CloudWatch namespace ($ML_ASSETS_CLOUDWATCH_NAMESPACE)",
    )
    srv.add_argument(
        "--traffic-log",
        default=env.TRAFFIC_LOG.get(),
        help="also write every request's outcome (release analysis) and a sample of scored records (drift) to this "
        "folder or s3://bucket/prefix ($ML_ASSETS_TRAFFIC_LOG)",
    )
    srv.add_argument("--metrics-flush-seconds", type=float, default=10.0, help="CloudWatch and traffic-log flushes")
    srv.add_argument("--config", type=Path)
    srv.add_argument(
        "--allow-unauthenticated",
        action="store_true",
        help=f"bind beyond loopback without API keys (${env.SCORING_KEYS.name} unset): only behind something that "
        "authenticates clients",
    )
    srv.set_defaults(func=serve)

    mls = commands.add_parser(
        "mlflow-server",
        help="run the MLflow tracking server (MLFLOW_DB_* or MLFLOW_BACKEND_STORE_URI), artifacts proxied",
    )
    mls.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback only)")
    mls.add_argument("--port", type=int, default=5000)
    mls.set_defaults(func=mlflow_server)

    dbs = commands.add_parser(
        "db-setup",
        help="once, with the database's master user: a user and a database for MLflow and for Dagster "
        "(ML_ASSETS_DB_ADMIN_*, MLFLOW_DB_*, DAGSTER_PG_*)",
    )
    dbs.set_defaults(func=db_setup)

    gw = commands.add_parser("gateway", help="run an environment's gateway in the foreground")
    gw.add_argument("--environment", choices=ENVIRONMENTS, required=True)
    gw.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback only)")
    gw.add_argument("--port", type=int, required=True)
    gw.add_argument("--allow-unauthenticated", action="store_true", help="bind beyond loopback without API keys")
    gw.set_defaults(func=gateway)

    st = commands.add_parser("status", help="each environment: URL, slots, versions, weights, health, rollout")
    st.add_argument("--json", action="store_true", help="machine-readable output")
    st.set_defaults(func=status)

    sp = commands.add_parser("stop", help="stop every gateway and model server of this state folder")
    sp.set_defaults(func=stop)

    trf = commands.add_parser("traffic", help="send recent featurized records to production, as clients would")
    trf.add_argument("--requests", type=int, default=2000, help="records sent, one per request")
    trf.add_argument("--days", type=int, default=7, help="drawn uniformly from the newest days")
    trf.add_argument("--seed", type=int, default=0)
    trf.add_argument("--rate", type=float, default=200.0, help="requests per second")
    trf.add_argument("--max-seconds", type=float, default=120.0)
    trf.add_argument("--config", type=Path)
    trf.set_defaults(func=traffic)

    mat = commands.add_parser(
        "materialize", help="dagster asset materialize, one line per asset and check (full log in a file)"
    )
    mat.add_argument("--select", required=True, help="a Dagster asset selection, e.g. '*production_deployment'")
    mat.add_argument("--log", type=Path, help="where Dagster's full log goes (default: $ML_ASSETS_HOME/logs/)")
    mat.add_argument(
        "--days",
        metavar="FIRST...LAST",
        help="the days to materialize of daily-partitioned assets (default: the landing files' days)",
    )
    mat.add_argument(
        "--days-per-run",
        type=int,
        metavar="N",
        help="split the days into runs of at most N days (default: one run per range); a run holds its days and "
        "their windows' history in memory, so a long history at a large daily volume needs several",
    )
    mat.set_defaults(func=materialize)

    days_parser = commands.add_parser(
        "days", help="print the landing files' days as FIRST...LAST (for dagster asset materialize --partition-range)"
    )
    days_parser.add_argument("--config", type=Path)
    days_parser.set_defaults(func=days)

    summ = commands.add_parser("summary", help="print each model's metrics and the chosen candidate")
    summ.add_argument("--config", type=Path)
    summ.set_defaults(func=summary)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except RuntimeError as error:  # the serving platform's errors (AWS calls, local processes) name what failed
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
