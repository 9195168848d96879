"""The model test suite: the gates every trained model must pass before it can become the candidate.

Two kinds of gate. *Integrity* gates catch a broken model or training path (it cannot predict, its
probabilities are not probabilities, it is not deterministic): they stop the whole release. *Quality* gates catch
a model that works but is not good enough (performance, robustness, cross-validation): that model is not
promoted, and the best of the others may still be.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from ml_assets.config import GatesConfig
from ml_assets.training.algorithms import feature_importances

GateKind = Literal["integrity", "quality"]
STABILITY_TOLERANCE = 1e-9


@dataclass(frozen=True)
class GateResult:
    name: str
    kind: GateKind
    passed: bool
    summary: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GateSpec:
    name: str
    kind: GateKind
    description: str


GATES: tuple[GateSpec, ...] = (
    GateSpec("loads", "integrity", "The registered model loads and exposes predict and predict_proba."),
    GateSpec("prediction_shape_and_types", "integrity", "One 0/1 decision and one float probability row per record."),
    GateSpec("probability_range", "integrity", "Probabilities lie in [0, 1] and each row sums to 1."),
    GateSpec("stability", "integrity", "Repeated calls on the same records give identical probabilities."),
    GateSpec("feature_importance", "integrity", "Feature importances, where the model has them, are valid."),
    GateSpec("performance", "quality", "Test-set metrics reach the thresholds in the config's gates."),
    GateSpec("robustness", "quality", "Decisions barely change under small feature noise."),
    GateSpec("cross_validation", "quality", "Cross-validated average precision is high enough and stable."),
)


def _loads(model: Any, **_: Any) -> GateResult:
    missing = [m for m in ("predict", "predict_proba") if not callable(getattr(model, m, None))]
    if missing:
        return GateResult("loads", "integrity", False, f"model has no {', '.join(missing)}")
    return GateResult("loads", "integrity", True, f"{type(model).__name__} exposes predict and predict_proba")


def _shape_and_types(model: Any, x_test: pd.DataFrame, **_: Any) -> GateResult:
    decisions = np.asarray(model.predict(x_test))
    proba = np.asarray(model.predict_proba(x_test))
    problems = []
    if decisions.shape != (len(x_test),):
        problems.append(f"predict returned shape {decisions.shape}, expected ({len(x_test)},)")
    if proba.shape != (len(x_test), 2):
        problems.append(f"predict_proba returned shape {proba.shape}, expected ({len(x_test)}, 2)")
    if not np.issubdtype(proba.dtype, np.floating):
        problems.append(f"probabilities have dtype {proba.dtype}, expected a float type")
    unexpected = sorted(set(np.unique(decisions).tolist()) - {0, 1})
    if unexpected:
        problems.append(f"decisions contain values other than 0/1: {unexpected[:5]}")
    details = {"rows": len(x_test), "decision_dtype": str(decisions.dtype), "probability_dtype": str(proba.dtype)}
    summary = "; ".join(problems) or f"{len(x_test)} decisions and ({len(x_test)}, 2) {proba.dtype} probabilities"
    return GateResult("prediction_shape_and_types", "integrity", not problems, summary, details)


def _probability_range(model: Any, x_test: pd.DataFrame, **_: Any) -> GateResult:
    proba = np.asarray(model.predict_proba(x_test), dtype=np.float64)
    outside = int(np.sum((proba < 0) | (proba > 1) | ~np.isfinite(proba)))
    bad_sums = int(np.sum(~np.isclose(proba.sum(axis=1), 1.0, atol=1e-5)))
    passed = outside == 0 and bad_sums == 0
    summary = (
        "all probabilities in [0, 1], rows sum to 1"
        if passed
        else f"{outside} probabilities outside [0, 1] or not finite; {bad_sums} rows not summing to 1"
    )
    return GateResult("probability_range", "integrity", passed, summary, {"outside": outside, "bad_row_sums": bad_sums})


def _stability(model: Any, x_test: pd.DataFrame, threshold: float, **_: Any) -> GateResult:
    sample = x_test.iloc[:1000]
    first = np.asarray(model.predict_proba(sample))[:, 1]
    second = np.asarray(model.predict_proba(sample))[:, 1]
    # Parallel tree ensembles sum in thread order, so probabilities may differ in the last bits; decisions may not.
    max_diff = float(np.max(np.abs(first - second))) if len(sample) else 0.0
    flipped = int(np.sum((first >= threshold) != (second >= threshold)))
    passed = flipped == 0 and max_diff <= STABILITY_TOLERANCE
    summary = f"{flipped} of {len(sample)} decisions changed between two identical calls; max |delta p| {max_diff:.2e}"
    return GateResult(
        "stability", "integrity", passed, summary, {"rows": len(sample), "flipped": flipped, "max_abs_diff": max_diff}
    )


def _feature_importance(model: Any, x_test: pd.DataFrame, **_: Any) -> GateResult:
    importances = feature_importances(model)
    if importances is None:
        return GateResult("feature_importance", "integrity", True, "model has no feature importances (not applicable)")
    importances = np.asarray(importances, dtype=np.float64)
    problems = []
    if importances.shape != (x_test.shape[1],):
        problems.append(f"{importances.shape[0]} importances for {x_test.shape[1]} features")
    if not np.all(np.isfinite(importances)) or np.any(importances < 0):
        problems.append("negative or non-finite importances")
    if importances.sum() <= 0:
        problems.append("all importances are zero")
    ranked = sorted(zip(x_test.columns, importances.tolist(), strict=False), key=lambda kv: -kv[1])
    details = {"top_features": {name: round(value, 4) for name, value in ranked[:10]}}
    summary = "; ".join(problems) or f"top feature {ranked[0][0]} ({ranked[0][1]:.3f})"
    return GateResult("feature_importance", "integrity", not problems, summary, details)


def _performance(metrics: dict[str, float], gates: GatesConfig, **_: Any) -> GateResult:
    floors = {
        "average_precision": gates.min_average_precision,
        "roc_auc": gates.min_roc_auc,
        "precision": gates.min_precision,
        "recall": gates.min_recall,
    }
    if gates.min_card_precision is not None and "card_precision" in metrics:
        floors["card_precision"] = gates.min_card_precision
    failures = [f"{name} {metrics[name]:.4f} < {floor}" for name, floor in floors.items() if metrics[name] < floor]
    summary = "; ".join(failures) or ", ".join(f"{n} {metrics[n]:.4f} >= {f}" for n, f in floors.items())
    details = {name: {"value": round(metrics[name], 6), "threshold": floor} for name, floor in floors.items()}
    return GateResult("performance", "quality", not failures, summary, details)


def _robustness(
    model: Any, x_test: pd.DataFrame, gates: GatesConfig, threshold: float, seed: int = 0, **_: Any
) -> GateResult:
    sample = x_test.iloc[:5000]
    rng = np.random.default_rng(seed)
    scale = sample.std(ddof=0).to_numpy() * gates.noise_scale
    noisy = sample + rng.normal(0.0, 1.0, size=sample.shape) * scale
    base = np.asarray(model.predict_proba(sample))[:, 1]
    moved = np.asarray(model.predict_proba(noisy))[:, 1]
    agreement = float(np.mean((base >= threshold) == (moved >= threshold)))
    mean_shift = float(np.mean(np.abs(base - moved)))
    passed = agreement >= gates.min_noise_agreement
    summary = (
        f"decision agreement {agreement:.4f} under noise {gates.noise_scale} x std "
        f"({'>=' if passed else '<'} {gates.min_noise_agreement}); mean |delta p| {mean_shift:.5f}"
    )
    return GateResult("robustness", "quality", passed, summary, {"agreement": agreement, "mean_abs_shift": mean_shift})


def _cross_validation(
    make_estimator: Callable[[], Any],
    x_train: pd.DataFrame,
    y_train: pd.Series,
    gates: GatesConfig,
    seed: int = 0,
    **_: Any,
) -> GateResult:
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    if len(x_train) > gates.cv_max_rows:
        x_train = x_train.sample(gates.cv_max_rows, random_state=seed)
        y_train = y_train.loc[x_train.index]
    folds = StratifiedKFold(n_splits=gates.cv_folds, shuffle=True, random_state=seed)
    scores = cross_val_score(make_estimator(), x_train, y_train, cv=folds, scoring="average_precision")
    mean, std = float(np.mean(scores)), float(np.std(scores))
    problems = []
    if mean < gates.min_cv_average_precision:
        problems.append(f"mean AP {mean:.4f} < {gates.min_cv_average_precision}")
    if std > gates.max_cv_std:
        problems.append(f"AP std {std:.4f} > {gates.max_cv_std}")
    summary = "; ".join(problems) or f"{gates.cv_folds}-fold AP {mean:.4f} +/- {std:.4f}"
    return GateResult(
        "cross_validation",
        "quality",
        not problems,
        summary,
        {"scores": [round(s, 6) for s in scores], "mean": mean, "std": std},
    )


_RUNNERS: dict[str, Callable[..., GateResult]] = {
    "loads": _loads,
    "prediction_shape_and_types": _shape_and_types,
    "probability_range": _probability_range,
    "stability": _stability,
    "feature_importance": _feature_importance,
    "performance": _performance,
    "robustness": _robustness,
    "cross_validation": _cross_validation,
}


def run_model_tests(
    model: Any,
    *,
    x_test: pd.DataFrame,
    metrics: dict[str, float],
    x_train: pd.DataFrame,
    y_train: pd.Series,
    make_estimator: Callable[[], Any],
    gates: GatesConfig,
    threshold: float,
) -> list[GateResult]:
    """Run every gate; a gate that raises is a failed gate with the error as its summary, never a crash."""
    context = dict(
        model=model,
        x_test=x_test,
        metrics=metrics,
        x_train=x_train,
        y_train=y_train,
        make_estimator=make_estimator,
        gates=gates,
        threshold=threshold,
    )
    loaded = _loads(model)
    results = [loaded]
    for spec in GATES[1:]:
        if not loaded.passed:
            results.append(GateResult(spec.name, spec.kind, False, "skipped: the model did not load"))
            continue
        try:
            results.append(_RUNNERS[spec.name](**context))
        except Exception as error:  # a gate that crashes is a failed gate, reported with its cause
            results.append(GateResult(spec.name, spec.kind, False, f"{type(error).__name__}: {error}"))
    return results
