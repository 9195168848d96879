"""Rollout state on disk: one JSON file per environment in the state folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ml_assets.rollout.state import RolloutState


class JsonStateStore:
    """One JSON file per environment, replaced atomically on every save."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def _path(self, environment: str) -> Path:
        return self.directory / f"{environment}.json"

    def load(self, environment: str) -> RolloutState | None:
        path = self._path(environment)
        if not path.exists():
            return None
        return RolloutState.from_dict(json.loads(path.read_text()))

    def save(self, state: RolloutState) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._path(state.environment)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(state.as_dict(), indent=2, default=str))
        os.replace(tmp, path)
