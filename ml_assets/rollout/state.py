"""The state of a rollout, saved after every transition so that a crashed run can be reconciled."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from ml_assets.rollout.backend import ModelRef

RUNNING, PROMOTED, ROLLED_BACK = "running", "promoted", "rolled_back"


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
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RolloutState:
        raw = dict(raw)
        raw["candidate_model"] = ModelRef(**raw["candidate_model"])
        raw["stable_model"] = ModelRef(**raw["stable_model"]) if raw.get("stable_model") else None
        return cls(**raw)


class StateStore(Protocol):
    def load(self, environment: str) -> RolloutState | None: ...

    def save(self, state: RolloutState) -> None: ...
