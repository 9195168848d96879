"""The state of a rollout, saved after every transition so that a crashed run can be reconciled."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ml_assets.rollout.backend import ModelRef

RUNNING, PROMOTED, ROLLED_BACK = "running", "promoted", "rolled_back"
FAILED_OVER = "failed_over"  # the stable slot was gone: the candidate serves as the only healthy slot


@dataclass
class RolloutState:
    rollout_id: str
    environment: str
    strategy: str
    stable_slot: str | None
    candidate_slot: str
    stable_model: ModelRef | None
    candidate_model: ModelRef
    status: str = RUNNING
    phase: str = "starting"
    weights: dict[str, int] = field(default_factory=dict)
    looks: int = 0
    reason: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)
    started_at: float = 0.0
    updated_at: float = 0.0

    @property
    def finished(self) -> bool:
        return self.status != RUNNING

    def as_dict(self) -> dict[str, Any]:
        """The state as JSON-ready values (shallow: events are shared, not copied, since they grow each look)."""
        raw = {f.name: getattr(self, f.name) for f in fields(self)}
        raw["candidate_model"] = asdict(self.candidate_model)
        raw["stable_model"] = asdict(self.stable_model) if self.stable_model else None
        return raw

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RolloutState:
        raw = dict(raw)
        raw["candidate_model"] = ModelRef(**raw["candidate_model"])
        raw["stable_model"] = ModelRef(**raw["stable_model"]) if raw.get("stable_model") else None
        return cls(**raw)


class StateStore(ABC):
    """Where each environment's rollout state lives between runs (reconcile reads it back)."""

    @abstractmethod
    def load(self, environment: str) -> RolloutState | None:
        """The environment's last saved state; None when none was saved."""

    @abstractmethod
    def save(self, state: RolloutState) -> None:
        """Replace the environment's state whole."""


class MemoryStateStore(StateStore):
    """Rollout states in memory, JSON round-tripped like the stored ones (simulations and tests)."""

    def __init__(self) -> None:
        self.states: dict[str, str] = {}

    def load(self, environment: str) -> RolloutState | None:
        raw = self.states.get(environment)
        return RolloutState.from_dict(json.loads(raw)) if raw else None

    def save(self, state: RolloutState) -> None:
        self.states[state.environment] = json.dumps(state.as_dict(), default=str)
