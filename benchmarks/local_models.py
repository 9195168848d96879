"""Registered XGBoost models in a throwaway state folder, for benchmarks that run the real local platform."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from local_servers import scratch_env


def registered_models(prefix: str, variants: dict[str, dict[str, Any]]) -> tuple[Path, dict, list[dict]]:
    """A new ML_ASSETS_HOME with one registered version per variant (XGBoost params added to the defaults);
    returns the folder, the ModelRef of each variant, and records to replay."""
    home = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ.update(scratch_env(home))  # for the servers the benchmark starts, and this process's registry
    import pandas as pd
    from sklearn.datasets import make_classification
    from xgboost import XGBClassifier

    from ml_assets.resources.mlflow_registry import MlflowRegistry
    from ml_assets.rollout.backend import ModelRef

    x, y = make_classification(n_samples=4000, n_features=8, weights=[0.95], random_state=0)
    x = pd.DataFrame(x, columns=[f"f{i}" for i in range(8)])
    registry = MlflowRegistry(
        tracking_uri=os.environ["MLFLOW_TRACKING_URI"],
        artifact_root=str(home / "artifacts"),
        model_store=str(home / "model_store"),
    )
    refs = {}
    for label, params in variants.items():
        model = XGBClassifier(n_estimators=40, max_depth=4, random_state=0, **params).fit(x, y)
        registered = registry.log_model(
            experiment=prefix,
            run_name=label,
            model=model,
            registered_model_name="bench",
            params={},
            metrics={},
            tags={},
            input_example=x.head(3),
        )
        refs[label] = ModelRef("bench", registered.version)
    records = [{k: float(v) for k, v in row.items()} for row in x.head(2000).to_dict(orient="records")]
    return home, refs, records
