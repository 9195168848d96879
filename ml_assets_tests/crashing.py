"""A deployment run that dies at a chosen transition of a release, for the reconcile tests."""

from __future__ import annotations

from collections.abc import Callable

from ml_assets.rollout.state import RolloutState, StateStore


class Crash(BaseException):
    """The run dies here: no except clause of the engine catches it, as when the process or task is killed."""


class DyingStore:
    """Saves through ``store``, then dies right after saving the first state for which ``dies(state)`` holds."""

    def __init__(self, store: StateStore, dies: Callable[[RolloutState], bool]) -> None:
        self.store, self.dies = store, dies

    def load(self, environment: str) -> RolloutState | None:
        return self.store.load(environment)

    def save(self, state: RolloutState) -> None:
        self.store.save(state)
        if self.dies(state):
            raise Crash(state.phase)


def at_phase(phase: str) -> Callable[[RolloutState], bool]:
    return lambda state: state.phase == phase
