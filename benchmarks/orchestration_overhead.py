"""Orchestration overhead: `dagster asset materialize` from the data to the candidate against the same step functions
called directly in one plain Python process, side by side on the same landing data (the demo config and size).

Both sides run as fresh processes, so both pay for their imports; the difference is what Dagster adds (CLI and
instance start-up, event log, IO manager writes, check bookkeeping).

    .venv/bin/python benchmarks/orchestration_overhead.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from timing import side_by_side

BIN = Path(sys.executable).parent


def run_direct() -> None:
    """Call every asset and check function in graph order, values passed in memory, no Dagster instance."""
    from dagster import build_asset_context, build_op_context

    from ml_assets.config import load_config
    from ml_assets.data.assets import build_data_assets
    from ml_assets.data.checks import build_data_checks
    from ml_assets.features.assets import build_feature_assets
    from ml_assets.resources import build_resources
    from ml_assets.settings import load_settings
    from ml_assets.training.assets import build_candidate_asset, build_model_asset
    from ml_assets.training.checks import build_model_checks
    from ml_assets.training.constants import model_asset_name

    settings = load_settings()
    config = load_config(settings.config_path)
    res = build_resources(settings, config)
    raw_asset, profile_asset = build_data_assets(config)
    features_asset, training_asset = build_feature_assets(config)

    raw = raw_asset(build_asset_context(resources={"landing": res["landing"]})).value
    checks = list(
        build_data_checks(config)[0](
            build_op_context(resources={"validator": res["validator"], "metrics": res["metrics"]}), raw_data=raw
        )
    )
    assert all(c.passed for c in checks)
    profile_asset(raw_data=raw)
    features = features_asset(raw_data=raw).value
    training = training_asset(features=features).value
    models = {}
    for name, algorithm in config.algorithms.items():
        model_resources = {"registry": res["registry"], "reports": res["reports"]}
        value = build_model_asset(name, algorithm, config)(
            build_asset_context(resources=model_resources), training_data=training
        ).value
        list(
            build_model_checks(name, algorithm, config)(
                build_op_context(resources={"registry": res["registry"]}), model=value, training_data=training
            )
        )
        models[model_asset_name(name)] = value
    build_candidate_asset(config)(
        build_asset_context(resources={"registry": res["registry"], "reports": res["reports"]}),
        training_data=training,
        **models,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--direct", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.direct:
        run_direct()
        return

    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "ML_ASSETS_HOME": home, "DAGSTER_HOME": f"{home}/dagster", "GX_ANALYTICS_ENABLED": "false"}
        Path(home, "dagster").mkdir()
        Path(home, "dagster", "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        subprocess.run([str(BIN / "ml-assets"), "generate-data"], env=env, check=True, capture_output=True)
        selection = "*candidate_model,data_profile"  # the same work as run_direct: data to the chosen candidate
        dagster_cmd = [
            str(BIN / "dagster"),
            "asset",
            "materialize",
            "-m",
            "ml_assets.definitions",
            "--select",
            selection,
        ]
        medians = side_by_side(
            {"direct step functions": [sys.executable, __file__, "--direct"], "dagster asset materialize": dagster_cmd},
            env,
            args.repeats,
        )
    overhead = medians["dagster asset materialize"] / medians["direct step functions"] - 1
    print(f"orchestration overhead: {100 * overhead:+.1f}% (goal < 10%)")


if __name__ == "__main__":
    main()
