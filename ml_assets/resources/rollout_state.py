"""Rollout state: one JSON object per environment, in the state folder or an S3 prefix."""

from __future__ import annotations

import json
from pathlib import Path

from ml_assets.resources.storage import open_store
from ml_assets.rollout.state import RolloutState, StateStore


class JsonStateStore(StateStore):
    """One JSON object per environment, replaced whole on every save."""

    def __init__(self, location: str | Path) -> None:
        self.store = open_store(str(location))

    def load(self, environment: str) -> RolloutState | None:
        try:
            return RolloutState.from_dict(json.loads(self.store.read(f"{environment}.json")))
        except FileNotFoundError:
            return None

    def save(self, state: RolloutState) -> None:
        self.store.write(f"{state.environment}.json", json.dumps(state.as_dict(), indent=2, default=str).encode())
