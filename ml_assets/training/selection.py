"""Choose the candidate: the best model that passed its gates, held against the current champion."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelScore:
    algorithm: str
    version: str
    gates_passed: bool
    score: float
    failed_gates: tuple[str, ...] = ()


@dataclass(frozen=True)
class Selection:
    candidate: ModelScore | None
    champion_score: float | None
    reason: str

    @property
    def accepted(self) -> bool:
        return self.candidate is not None


def select_candidate(
    models: list[ModelScore], metric: str, *, champion_score: float | None, margin: float
) -> Selection:
    """Best passing model by ``metric``; it must not be worse than the champion by more than ``margin``.

    Non-inferiority rather than superiority: a retrained model on fresher data that scores within the margin of
    the champion is still preferred, since it has seen the newest fraud patterns.
    """
    passing = [m for m in models if m.gates_passed]
    if not passing:
        failed = "; ".join(
            f"{m.algorithm} v{m.version} failed {', '.join(m.failed_gates) or 'its gates'}" for m in models
        )
        return Selection(None, champion_score, f"no model passed its gates: {failed}")
    best = max(passing, key=lambda m: m.score)
    if champion_score is not None and best.score < champion_score - margin:
        return Selection(
            None,
            champion_score,
            f"best model {best.algorithm} v{best.version} has {metric} {best.score:.4f}, worse than the champion's "
            f"{champion_score:.4f} by more than the margin {margin}",
        )
    versus = "no champion yet" if champion_score is None else f"champion {metric} {champion_score:.4f}, margin {margin}"
    return Selection(best, champion_score, f"{best.algorithm} v{best.version}: {metric} {best.score:.4f} ({versus})")
