"""A deployment run that dies at a chosen transition of a release, for the reconcile tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

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


KINDS = ("started", "launched", "healthy", "weights", "analysis", "passed", "retired", "promoted")


def kind_of(phase: str) -> str:
    return phase.split(":")[0]


class Kill:
    """Dies at the n-th save of the run, or at the first save of a kind of transition; remembers what it saw."""

    def __init__(self, n: int | None = None, kind: str | None = None) -> None:
        self.n, self.kind, self.phases, self.died = n, kind, [], False

    def __call__(self, state: RolloutState) -> bool:
        self.phases.append(state.phase)
        hit = len(self.phases) == self.n if self.n else kind_of(state.phase) == self.kind
        self.died = self.died or hit
        return hit

    @property
    def at(self) -> str:
        return kind_of(self.phases[-1])


def every_transition(killed: dict[str, set[str]]) -> Iterator[Kill]:
    """Kills after the 1st, 2nd, ... saved transition until a release completes, then at each kind of transition
    that this sequence missed (the number of looks varies between releases); ``killed`` maps kinds to outcomes."""
    n = 0
    while True:
        n += 1
        kill = Kill(n=n)
        yield kill
        if not kill.died:
            break
    for kind in KINDS:
        if kind not in killed:
            yield Kill(kind=kind)
