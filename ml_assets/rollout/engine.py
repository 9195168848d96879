"""The release engine: blue-green and canary over any ServingBackend, with analysis and automatic rollback.

Every transition is saved before the next action, so a run that dies mid-release leaves a state that the next
run reconciles (by default: all traffic back to the stable slot, the candidate retired). Rollback never waits for
an analysis: it moves the weights back first and reads them back, then cleans up.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from ml_assets.rollout.analysis import AnalysisConfig, ArmWindow, Verdict, analyze
from ml_assets.rollout.backend import SLOTS, ModelRef, ServingBackend, other_slot
from ml_assets.rollout.clock import Clock
from ml_assets.rollout.state import PROMOTED, ROLLED_BACK, RolloutState, StateStore

Strategy = Literal["canary", "blue_green", "direct"]  # direct: switch once healthy, no analysis (staging)


@dataclass(frozen=True)
class ReleasePlan:
    strategy: Strategy = "canary"
    steps: tuple[int, ...] = (5, 10, 25, 50, 100)
    bake_seconds: float = 30.0
    max_extensions: int = 3
    shadow_percent: int = 0
    shadow_seconds: float = 0.0
    retire_delay_seconds: float = 0.0
    health_timeout_seconds: float = 60.0
    health_poll_seconds: float = 0.5
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)

    def __post_init__(self) -> None:
        if not self.steps or self.steps[-1] != 100 or any(not 0 < s <= 100 for s in self.steps):
            raise ValueError(f"canary steps must be in (0, 100] and end at 100, got {list(self.steps)}")
        if list(self.steps) != sorted(set(self.steps)):
            raise ValueError(f"canary steps must increase, got {list(self.steps)}")


class RolloutAborted(Exception):
    """Raised inside a strategy to roll back with a reason."""


GoldenCheck = Callable[[str], str | None]  # slot -> None when its predictions match, else the difference


class RolloutEngine:
    def __init__(
        self,
        backend: ServingBackend,
        store: StateStore,
        clock: Clock,
        plan: ReleasePlan,
        environment: str,
        log: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.backend, self.store, self.clock, self.plan = backend, store, clock, plan
        self.environment, self.log = environment, log

    # -- bookkeeping -------------------------------------------------------------------------------------------

    def _record(self, state: RolloutState, phase: str, **details) -> None:
        state.phase = phase
        state.updated_at = self.clock.now()
        state.events.append({"at": state.updated_at, "phase": phase, **details})
        self.store.save(state)
        self.log(f"[{self.environment}] {phase}" + (f": {details.get('message')}" if details.get("message") else ""))

    def _set_weights(self, state: RolloutState, weights: dict[str, int]) -> None:
        self.backend.set_weights(weights)
        applied = self.backend.read_weights()
        expected = {slot: weight for slot, weight in weights.items() if weight}
        if {slot: weight for slot, weight in applied.items() if weight} != expected:
            raise RolloutAborted(f"router applies weights {applied}, expected {weights}")
        state.weights = dict(applied)
        self._record(state, "weights", message=str(dict(applied)), weights=dict(applied))

    # -- reconciliation and rollback ---------------------------------------------------------------------------

    def reconcile(self) -> RolloutState | None:
        """Finish a rollout that a crashed run left running: roll back to the stable slot."""
        state = self.store.load(self.environment)
        if state is None or state.finished:
            return state
        self._rollback(state, f"reconciled: the previous run stopped during '{state.phase}'")
        return state

    def _rollback(self, state: RolloutState, reason: str) -> None:
        state.reason = reason
        if state.stable_slot is not None:
            try:
                self.backend.set_mirror(None, 0)
                self.backend.set_weights({state.stable_slot: 100, state.candidate_slot: 0})
                state.weights = self.backend.read_weights()
            finally:
                self.backend.retire(state.candidate_slot)
        else:
            self.backend.retire(state.candidate_slot)
        state.status = ROLLED_BACK
        self._record(state, "rolled_back", message=reason, weights=state.weights)

    # -- release -----------------------------------------------------------------------------------------------

    def release(self, model: ModelRef, golden_check: GoldenCheck | None = None) -> RolloutState:
        """Release ``model`` with the plan's strategy; returns the final state (promoted or rolled back)."""
        self.reconcile()
        weights = self.backend.read_weights()
        serving = self.backend.serving()
        stable = max(
            (s for s in SLOTS if weights.get(s, 0) > 0 and s in serving), key=lambda s: weights[s], default=None
        )
        candidate = other_slot(stable) if stable else SLOTS[0]
        now = self.clock.now()
        state = RolloutState(
            rollout_id=uuid.uuid4().hex[:12],
            environment=self.environment,
            strategy=self.plan.strategy,
            stable_slot=stable,
            candidate_slot=candidate,
            stable_model=serving.get(stable) if stable else None,
            candidate_model=model,
            weights=dict(weights),
            started_at=now,
            updated_at=now,
        )
        self._record(state, "started", message=f"{model} into {candidate}, stable {state.stable_model or 'none'}")
        try:
            self._launch(state, golden_check)
            if stable is None:
                self._set_weights(state, {candidate: 100})
                state.reason = "first deployment: nothing to compare with"
            elif self.plan.strategy == "direct":
                self._set_weights(state, {stable: 0, candidate: 100})
                state.reason = "direct switch after health and golden checks"
            elif self.plan.strategy == "canary":
                self._canary(state)
            else:
                self._blue_green(state)
        except RolloutAborted as abort:
            self._rollback(state, str(abort))
            return state
        except Exception as error:  # any backend failure mid-release: traffic back to stable, then re-raise
            self._rollback(state, f"{type(error).__name__}: {error}")
            raise
        if state.stable_slot is not None and self.plan.retire_delay_seconds:
            self._record(state, "retire_delay", seconds=self.plan.retire_delay_seconds)
            self.clock.sleep(self.plan.retire_delay_seconds)
        if state.stable_slot is not None:
            self.backend.retire(state.stable_slot)
        state.status = PROMOTED
        self._record(state, "promoted", message=state.reason or f"{model} serves 100%")
        return state

    def _launch(self, state: RolloutState, golden_check: GoldenCheck | None) -> None:
        slot = state.candidate_slot
        self.backend.launch(slot, state.candidate_model)
        self._record(state, "launched", slot=slot)
        deadline = self.clock.now() + self.plan.health_timeout_seconds
        health = self.backend.health(slot)
        while not health.healthy:
            if self.clock.now() >= deadline:
                raise RolloutAborted(
                    f"{slot} not healthy after {self.plan.health_timeout_seconds:g} s: {health.detail}"
                )
            self.clock.sleep(self.plan.health_poll_seconds)
            health = self.backend.health(slot)
        if golden_check is not None:
            difference = golden_check(slot)
            if difference:
                raise RolloutAborted(f"golden records: {difference}")
        self._record(state, "healthy", slot=slot, detail=health.detail)

    def _bake(
        self, state: RolloutState, stable_window: Callable[[float, float], ArmWindow], since: float, label: str
    ) -> None:
        """Analyse until pass; fail or too many inconclusive looks abort the release."""
        for extension in range(self.plan.max_extensions + 1):
            self.clock.sleep(self.plan.bake_seconds)
            now = self.clock.now()
            state.looks += 1
            result = analyze(
                stable_window(since, now),
                self.backend.window(state.candidate_slot, since, now),
                state.looks,
                self.plan.analysis,
            )
            self._record(
                state,
                f"analysis:{label}",
                message=f"{result.verdict.value}: {result.reason}",
                extension=extension,
                **result.as_dict(),
            )
            if result.verdict == Verdict.PASS:
                return
            if result.verdict == Verdict.FAIL:
                raise RolloutAborted(f"{label}: {result.reason}")
        raise RolloutAborted(f"{label}: inconclusive after {self.plan.max_extensions} extensions: {result.reason}")

    def _canary(self, state: RolloutState) -> None:
        stable, candidate = state.stable_slot, state.candidate_slot
        assert stable is not None

        def stable_window(since: float, until: float) -> ArmWindow:
            return self.backend.window(stable, since, until)

        if self.plan.shadow_percent and self.plan.shadow_seconds:
            self.backend.set_mirror(candidate, self.plan.shadow_percent)
            self._record(state, "shadow", percent=self.plan.shadow_percent)
            started = self.clock.now()
            self._bake(state, stable_window, started, f"shadow {self.plan.shadow_percent}%")
            self.backend.set_mirror(None, 0)
        for step in self.plan.steps:
            self._set_weights(state, {stable: 100 - step, candidate: step})
            if step < 100:
                self._bake(state, stable_window, self.clock.now(), f"step {step}%")
        state.reason = f"passed {len(self.plan.steps) - 1} canary steps"

    def _blue_green(self, state: RolloutState) -> None:
        stable, candidate = state.stable_slot, state.candidate_slot
        assert stable is not None
        # After the switch the old colour serves nothing, so the baseline is its window just before the switch.
        switched = self.clock.now()
        baseline_start = switched - self.plan.bake_seconds * (self.plan.max_extensions + 1)

        def baseline(since: float, until: float) -> ArmWindow:
            return self.backend.window(stable, baseline_start, switched)

        self._set_weights(state, {stable: 0, candidate: 100})
        self._bake(state, baseline, self.clock.now(), "after switch")
        state.reason = "green passed its bake after the switch"
