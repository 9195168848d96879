"""A deployment run that dies at a chosen transition of a release, for the reconcile tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ml_assets.rollout.state import RolloutState, StateStore


class Crash(BaseException):
    """The run dies here: no except clause of the engine catches it, as when the process or task is killed."""


class DyingStore(StateStore):
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


KINDS = ("started", "launched", "healthy", "weights", "analysis", "weights 100%", "passed", "retired", "promoted")


def kind_of(state: RolloutState) -> str:
    """The kind of the transition just saved; the switch of all traffic to the candidate is a kind of its own."""
    if state.phase == "weights" and state.weights.get(state.candidate_slot) == 100:
        return "weights 100%"
    return state.phase.split(":")[0]


class Kill:
    """Dies at the n-th save of the run, or at the first save of a kind of transition; remembers what it saw."""

    def __init__(self, n: int | None = None, kind: str | None = None) -> None:
        self.n, self.kind, self.kinds, self.died, self.completed = n, kind, [], False, False

    def __call__(self, state: RolloutState) -> bool:
        self.kinds.append(kind_of(state))
        hit = len(self.kinds) == self.n if self.n else self.kinds[-1] == self.kind
        self.died = self.died or hit
        return hit

    @property
    def at(self) -> str:
        return self.kinds[-1]


def every_transition(killed: dict[str, set[str]], limit: int = 40) -> Iterator[Kill]:
    """Kills after the 1st, 2nd, ... saved transition until a release is promoted without being killed (a release
    that rolls back on its own does not end the sequence), then at each kind of transition the sequence missed
    (the number of looks varies between releases), three tries each. The caller marks ``completed`` on a kill
    whose release was promoted, and fills ``killed`` (kind -> outcomes)."""
    for n in range(1, limit + 1):
        kill = Kill(n=n)
        yield kill
        if kill.completed:
            break
    for kind in KINDS:
        for _ in range(3):
            if kind in killed:
                break
            yield Kill(kind=kind)
