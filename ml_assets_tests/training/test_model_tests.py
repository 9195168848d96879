import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier

from ml_assets.config import GatesConfig
from ml_assets.training.metrics import classification_metrics
from ml_assets.training.model_tests import GATES, run_model_tests

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series, pd.DataFrame, pd.Series]:
    x, y = make_classification(n_samples=3000, n_features=6, weights=[0.8], random_state=0)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(6)])
    return frame.iloc[:2000], pd.Series(y[:2000]), frame.iloc[2000:].reset_index(drop=True), pd.Series(y[2000:])


GATES_CONFIG = GatesConfig(min_average_precision=0.5, min_roc_auc=0.8, cv_folds=3, min_noise_agreement=0.9)


def _run(model, data, gates=GATES_CONFIG):
    x_train, y_train, x_test, y_test = data
    scorer = getattr(model, "model", model)  # broken wrappers are scored by the model they wrap
    scores = (
        np.asarray(scorer.predict_proba(x_test))[:, 1] if hasattr(scorer, "predict_proba") else np.zeros(len(x_test))
    )
    metrics = classification_metrics(y_test.to_numpy(), scores, threshold=0.5)
    results = run_model_tests(
        model,
        x_test=x_test,
        metrics=metrics,
        x_train=x_train,
        y_train=y_train,
        make_estimator=lambda: RandomForestClassifier(n_estimators=20, random_state=0),
        gates=gates,
        threshold=0.5,
    )
    return {r.name: r for r in results}


def _fitted(data):
    x_train, y_train, _, _ = data
    return RandomForestClassifier(n_estimators=20, random_state=0).fit(x_train, y_train)


def test_a_good_model_passes_every_gate(data) -> None:
    results = _run(_fitted(data), data)
    assert [name for name in results] == [g.name for g in GATES]
    assert all(r.passed for r in results.values()), {n: r.summary for n, r in results.items() if not r.passed}
    assert "top feature" in results["feature_importance"].summary


class _Broken:
    """Wraps a model and breaks one promise of the prediction interface."""

    def __init__(self, model, mode):
        self.model, self.mode, self.calls = model, mode, 0

    def predict(self, x):
        return self.model.predict(x)

    def predict_proba(self, x):
        proba = self.model.predict_proba(x)
        self.calls += 1
        if self.mode == "range":
            return proba * 1.5
        if self.mode == "shape":
            return proba[:, :1]
        if self.mode == "random":
            rng = np.random.default_rng(self.calls)
            p = rng.uniform(size=len(x))
            return np.column_stack([1 - p, p])
        return proba


@pytest.mark.parametrize(
    ("mode", "gate", "text"),
    [
        ("range", "probability_range", "outside [0, 1]"),
        ("shape", "prediction_shape_and_types", "expected (1000, 2)"),
        ("random", "stability", "decisions changed between two identical calls"),
    ],
)
def test_broken_models_fail_integrity_gates(data, mode: str, gate: str, text: str) -> None:
    results = _run(_Broken(_fitted(data), mode), data)
    assert not results[gate].passed and results[gate].kind == "integrity"
    assert text in results[gate].summary


def test_missing_methods_fail_loading_and_skip_the_rest(data) -> None:
    results = _run(object(), data)
    assert not results["loads"].passed and "no predict, predict_proba" in results["loads"].summary
    assert all(not r.passed and r.summary.startswith("skipped") for n, r in results.items() if n != "loads")


def test_quality_gates_name_the_threshold(data) -> None:
    strict = GATES_CONFIG.model_copy(
        update={"min_average_precision": 0.999, "max_cv_std": 0.0, "min_noise_agreement": 1.0}
    )
    results = _run(_fitted(data), data, strict)
    assert not results["performance"].passed and results["performance"].kind == "quality"
    assert "average_precision" in results["performance"].summary and "< 0.999" in results["performance"].summary
    assert not results["cross_validation"].passed and "> 0.0" in results["cross_validation"].summary


def test_a_gate_that_raises_is_a_failed_gate(data) -> None:
    class Exploding(_Broken):
        def predict(self, x):
            raise RuntimeError("boom")

    results = _run(Exploding(_fitted(data), "ok"), data)
    assert not results["prediction_shape_and_types"].passed
    assert "RuntimeError: boom" in results["prediction_shape_and_types"].summary
