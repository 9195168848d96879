"""What one serving environment must offer the release engine and monitoring: the abstract ServingBackend.

The local gateway (resources/local_platform.py), AWS ECS + ALB (resources/aws/platform.py) and the simulator
(rollout/simulator.py) are its subclasses.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from ml_assets.rollout.evidence import Outcomes

ENVIRONMENTS = ("staging", "production")
SLOTS = ("blue", "green")
SLOT_HEADER = "X-ML-Assets-Slot"  # routes a request to one colour (golden-record checks through the ALB)
# Marks the held-out records a local release replays: release evidence, but not clients' traffic for monitoring.
REPLAYED_HEADER = "X-ML-Assets-Replayed"


@dataclass(frozen=True)
class ModelRef:
    """A registered model version, as the backend launches it."""

    name: str
    version: str

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    @classmethod
    def from_uri(cls, uri: str) -> ModelRef:
        """Parse ``models:/NAME/VERSION``."""
        name, _, version = uri.removeprefix("models:/").rpartition("/")
        if not uri.startswith("models:/") or not name or not version.isdigit():
            raise ValueError(f"expected a model URI models:/NAME/VERSION, got {uri!r}")
        return cls(name, version)


@dataclass(frozen=True)
class Health:
    healthy: bool
    detail: str


class ServingBackend(ABC):
    """Two slots (blue, green) behind one weighted router, per environment."""

    url: str  # where the environment's clients send requests

    @abstractmethod
    def launch(self, slot: str, model: ModelRef) -> None:
        """Start serving ``model`` in ``slot`` (replacing what it served) with no traffic routed to it."""

    @abstractmethod
    def health(self, slot: str) -> Health:
        """Is the slot up and answering (health endpoint, golden records)?"""

    @abstractmethod
    def serving(self) -> dict[str, ModelRef]:
        """What each live slot serves."""

    @abstractmethod
    def set_weights(self, weights: dict[str, int]) -> None:
        """Route traffic by percentage per slot (summing to 100)."""

    @abstractmethod
    def read_weights(self) -> dict[str, int]:
        """The weights the router actually applies, read back after every change."""

    @abstractmethod
    def set_mirror(self, slot: str | None, percent: int) -> None:
        """Mirror a share of traffic to ``slot`` without returning its answers (None stops mirroring)."""

    @abstractmethod
    def outcomes(self, slot: str, since: float, cursor: Any = None) -> tuple[Outcomes, Any]:
        """Per-request outcomes of ``slot`` recorded at or after ``since`` that ``cursor`` has not seen yet, and
        the cursor to pass next time (None: from the start). No outcome is returned twice."""

    @abstractmethod
    def retire(self, slot: str) -> None:
        """Stop the slot's servers; it receives no traffic afterwards."""

    @abstractmethod
    def score(self, slot: str, records: list[dict]) -> tuple[int, object]:
        """POST ``records`` to ``slot``'s /predict directly (golden records); returns (status, answer)."""

    def replay_url(self) -> str | None:
        """Where held-out records may be sent as clients' traffic during a release, so that a release on a quiet
        environment still gathers evidence; None (the default) when the environment has clients of its own."""
        return None

    def router_state(self) -> str | None:
        """The state of the router when it is a process of ours ("running", "stopped"); None when the platform
        runs it (a load balancer)."""
        return None

    def dashboard_url(self) -> str | None:
        """Where the environment's monitoring dashboard is served, if the backend serves one."""
        return None

    @abstractmethod
    def sample(self, drain: bool = False) -> dict[str, Any]:
        """Clients' scored requests since the last drain, for monitoring: ``{"items": [{at, slot, version, score,
        features}], "seen": requests}`` (a bounded uniform sample of them); ``drain`` starts the next sample."""


def other_slot(slot: str) -> str:
    return SLOTS[1] if slot == SLOTS[0] else SLOTS[0]
