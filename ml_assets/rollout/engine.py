"""The release engine: blue-green and canary over any ServingBackend, with analysis and automatic rollback.

A step passes only on evidence that the canary is not worse than the margins (see ``analysis``); evidence of the
failure rate and the scores accumulates from the first live step on, latency restarts at each step (a weight
changes the canary's load). An inconclusive step keeps baking until its time budget, then the release rolls
back: no data is never a pass, and neither is a clock that jumps (the budget runs out) or goes backwards.

Every transition is saved before the next action, so a run that dies mid-release leaves a state that the next
run reconciles. Reconciling and rolling back route traffic only to a slot that answers its health check right
then: the stable slot if it still runs, else the candidate if it serves this release's model (failed over); a
release whose every step had passed is finished rather than undone. A rejected candidate never takes production.
A serving slot that still fails every probe once the new version is launched is replaced by it without a
comparison (production was down; status failed_over, the old slot kept). Rollback never waits for an analysis: it
moves the weights first and reads them back.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ml_assets.rollout.analysis import AnalysisMargins, Comparison, MetricAlphas, Verdict, analyze, split_alpha
from ml_assets.rollout.backend import SLOTS, ModelRef, ServingBackend, other_slot
from ml_assets.rollout.clock import Clock
from ml_assets.rollout.evidence import ArmEvidence, Outcomes
from ml_assets.rollout.state import FAILED_OVER, PROMOTED, ROLLED_BACK, RolloutState, StateStore

Strategy = Literal["canary", "blue_green", "direct"]  # direct: switch once healthy, no analysis (staging)
HEALTH_PROBES = 3
# Phases after which the release's decision is made: a run that dies there is finished, not undone.
DECIDED_PHASES = ("passed", "retire_delay", "retired")


@dataclass(frozen=True)
class ReleasePlan:
    """How one release proceeds, built from the config's deployment section (``DeploymentConfig.release_plan``),
    which holds every default."""

    strategy: Strategy
    steps: tuple[int, ...]
    bake_seconds: float  # between looks; a step passes at the earliest after one
    max_bake_seconds: float  # a step still inconclusive after this long rolls back
    shadow_percent: int  # > 0: mirror this share to the candidate first, as a phase of its own
    retire_delay_seconds: float
    health_timeout_seconds: float
    analysis: AnalysisMargins
    health_poll_seconds: float = 0.5

    def __post_init__(self) -> None:
        steps = list(self.steps)
        if not steps or steps[-1] != 100 or steps != sorted(set(steps)) or steps[0] <= 0:
            raise ValueError(f"canary.steps must increase within (0, 100] and end at 100, got {steps}")
        if self.strategy == "canary" and not any(50 <= s < 100 for s in steps):
            raise ValueError(
                f"canary.steps {steps} need one from 50 to 99: latency is judged where the canary carries at least "
                "the stable's load (a lightly loaded server answers slower whatever its version)"
            )
        if self.bake_seconds <= 0:
            raise ValueError(f"bake_seconds must be positive, got {self.bake_seconds:g}")
        if self.bake_seconds > self.max_bake_seconds:
            raise ValueError(
                f"bake_seconds ({self.bake_seconds:g}) exceeds max_bake_seconds ({self.max_bake_seconds:g})"
            )

    @property
    def analysed_steps(self) -> int:
        """Phases with an analysis of their own: every canary step below 100 %, the shadow phase; one switch."""
        if self.strategy != "canary":
            return 1
        return sum(1 for s in self.steps if s < 100) + (1 if self.shadow_percent else 0)

    def judges_latency(self, canary_percent: int, shadow: bool = False) -> bool:
        """Latency is judged where the canary carries at least the stable's load (see ``analysis``): from a 50 %
        step, or a shadow phase that mirrors everything (the stable still serves it all)."""
        return canary_percent >= 100 if shadow else canary_percent >= 50

    @property
    def alphas(self) -> MetricAlphas:
        scopes = 2 if self.strategy == "canary" and self.shadow_percent else 1
        if self.strategy != "canary":
            judged = 1
        else:
            judged = sum(1 for share in self.steps if share < 100 and self.judges_latency(share))
            judged += 1 if self.shadow_percent and self.judges_latency(self.shadow_percent, shadow=True) else 0
        return split_alpha(self.analysis.alpha, accumulated_scopes=scopes, step_scopes=judged)

    @property
    def longest_seconds(self) -> float:
        """The longest a release can take: every phase at its full budget, plus the health wait."""
        return self.analysed_steps * self.max_bake_seconds + self.health_timeout_seconds + self.retire_delay_seconds


class RolloutAborted(Exception):
    """Raised inside a strategy to roll back with a reason: the candidate is rejected."""


def _live(weights: dict[str, int]) -> dict[str, int]:
    return {slot: weight for slot, weight in weights.items() if weight}


GoldenCheck = Callable[[str], str | None]  # slot -> None when its predictions match, else the difference


class Feed:
    """New outcomes of one slot, pulled through the backend's cursor; nothing before ``since`` counts."""

    def __init__(self, backend: ServingBackend, slot: str, since: float) -> None:
        self.backend, self.slot, self.since = backend, slot, since
        self.cursor: Any = None

    def pull(self) -> Outcomes:
        outcomes, self.cursor = self.backend.outcomes(self.slot, self.since, self.cursor)
        return outcomes.between(self.since)


class Scope:
    """Both arms' evidence over the accumulated scope and over the current step."""

    def __init__(self, stable: Feed, canary: Feed) -> None:
        self.stable_feed, self.canary_feed = stable, canary
        self.stable, self.canary = ArmEvidence(), ArmEvidence()
        self.step_start = 0.0
        self.stable_step, self.canary_step = ArmEvidence(), ArmEvidence()

    def start_step(self, at: float) -> None:
        self.step_start = at
        self.stable_step, self.canary_step = ArmEvidence(), ArmEvidence()

    def pull(self) -> Comparison:
        for feed, total, step in (
            (self.stable_feed, self.stable, self.stable_step),
            (self.canary_feed, self.canary, self.canary_step),
        ):
            outcomes = feed.pull()
            total.add(outcomes)
            step.add(outcomes.between(self.step_start))
        return Comparison(self.stable, self.canary, self.stable_step, self.canary_step)


class RolloutEngine:
    def __init__(
        self,
        backend: ServingBackend,
        store: StateStore,
        *,
        clock: Clock,
        plan: ReleasePlan,
        environment: str,
        log: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.backend, self.store, self.clock, self.plan = backend, store, clock, plan
        self.environment, self.log = environment, log
        self.reconciled: RolloutState | None = None  # what the last reconcile found and did

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

    def _healthy(self, slot: str | None, probes: int = HEALTH_PROBES) -> bool:
        """Does ``slot`` answer its health check? Probed a few times: one lost probe is not a dead slot."""
        if slot is None:
            return False
        for probe in range(probes):
            try:
                if self.backend.health(slot).healthy:
                    return True
            except Exception:  # an unreachable slot is not known to be running
                pass
            if probe + 1 < probes:
                self.clock.sleep(self.plan.health_poll_seconds)
        return False

    # -- reconciliation and rollback ---------------------------------------------------------------------------

    def reconcile(self) -> RolloutState | None:
        """Finish a rollout that a dead run left running: complete a decided promotion, else restore."""
        state = self.store.load(self.environment)
        self.reconciled = None
        if state is None or state.finished:
            return state
        stopped = state.phase
        if stopped in DECIDED_PHASES and self._healthy(state.candidate_slot):
            weights = {state.candidate_slot: 100}
            if state.stable_slot is not None:
                weights[state.stable_slot] = 0
            # Weights are set without recording a "weights" phase: a second death here must still find the
            # release decided.
            self.backend.set_weights(weights)
            state.weights = self.backend.read_weights()
            if _live(state.weights) != {state.candidate_slot: 100}:
                self._restore(state, f"reconciled: the router applies {state.weights}, not the finished promotion")
                self.reconciled = state
                return state
            if state.stable_slot is not None:
                self.backend.retire(state.stable_slot)
            state.status = PROMOTED
            state.reason = (
                f"reconciled: every step had passed before the previous run stopped during '{stopped}'; "
                "promotion finished"
            )
            self._record(state, "promoted", message=state.reason, weights=state.weights)
        else:
            self._restore(state, f"reconciled: the previous run stopped during '{stopped}'")
        self.reconciled = state
        return state

    def _launched(self, state: RolloutState) -> bool:
        """Does the candidate slot serve this release's model (not an older one left there)?"""
        try:
            return self.backend.serving().get(state.candidate_slot) == state.candidate_model
        except Exception:
            return False

    def _restore(self, state: RolloutState, reason: str, rejected: bool = False) -> None:
        """Route everything to a slot that answers its health check now: the stable one, else the candidate if it
        serves this release's model and was not ``rejected`` (shown worse, failed its golden records, ran out of
        budget: a model judged unfit never takes production, even from a dead stable slot)."""
        self.backend.set_mirror(None, 0)
        stable, candidate = state.stable_slot, state.candidate_slot
        if self._healthy(stable):
            self.backend.set_weights({stable: 100, candidate: 0})
            state.weights = self.backend.read_weights()
            if _live(state.weights) == {stable: 100}:
                self.backend.retire(candidate)
            else:
                reason += f"; the router applies {state.weights}: {candidate} left running"
            state.status = ROLLED_BACK
        elif stable is not None and not rejected and self._launched(state) and self._healthy(candidate):
            # The stable slot does not answer: the candidate is the only thing that can. The stable slot is left
            # as it is (not retired), so that an operator, or the next release, can bring it back.
            self.backend.set_weights({candidate: 100, stable: 0})
            state.weights = self.backend.read_weights()
            state.status = FAILED_OVER
            reason += f"; the stable slot {stable} is not running, so {candidate} serves as the only healthy slot"
        else:
            if stable is None:
                self.backend.retire(candidate)  # nothing served before: nothing to restore
            else:
                reason += "; neither the stable slot nor an unrejected candidate answers: weights left as they were"
            state.weights = self.backend.read_weights()
            state.status = ROLLED_BACK
        state.reason = reason
        self._record(state, state.status, message=reason, weights=state.weights)

    # -- release -----------------------------------------------------------------------------------------------

    def release(self, model: ModelRef, golden_check: GoldenCheck | None = None) -> RolloutState:
        """Release ``model`` with the plan's strategy; returns the final state (promoted or rolled back)."""
        self.reconcile()
        weights = self.backend.read_weights()
        serving = self.backend.serving()
        live = [s for s in SLOTS if weights.get(s, 0) > 0 and s in serving]
        stable = max(live, key=lambda s: weights[s], default=None)
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
            # Asked again after the launch (minutes, on ECS): a slot that was only slow meanwhile gets its canary.
            if stable is not None and not self._healthy(stable):
                # Production is down and there is nothing to compare with: the new version (health and golden
                # records checked) restores service, but it is not promoted on evidence, and the old slot stays.
                self._set_weights(state, {candidate: 100, stable: 0})
                state.status = FAILED_OVER
                state.reason = (
                    f"the serving slot {stable} did not answer its health check: {candidate} took production after "
                    f"its health and golden checks, without a comparison; {stable} is left for an operator"
                )
                self._record(state, FAILED_OVER, message=state.reason, weights=state.weights)
                return state
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
            self._restore(state, str(abort), rejected=True)
            return state
        except Exception as error:  # any backend failure mid-release: traffic back to stable, then re-raise
            self._restore(state, f"{type(error).__name__}: {error}")
            raise
        self._record(state, "passed", message=state.reason)
        if state.stable_slot is not None and self.plan.retire_delay_seconds:
            self._record(state, "retire_delay", seconds=self.plan.retire_delay_seconds)
            self.clock.sleep(self.plan.retire_delay_seconds)
        if state.stable_slot is not None:
            self.backend.retire(state.stable_slot)
            self._record(state, "retired", slot=state.stable_slot)
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

    def _bake(self, state: RolloutState, scope: Scope, *, label: str, judge_latency: bool = True) -> None:
        """Look every bake until the evidence passes or fails; a step that cannot decide in its budget aborts."""
        started = previous = self.clock.now()
        while True:
            self.clock.sleep(self.plan.bake_seconds)
            now = self.clock.now()
            if now < previous:
                raise RolloutAborted(f"{label}: the clock went back {previous - now:.1f} s; the bake cannot be timed")
            previous = now
            result = analyze(scope.pull(), self.plan.analysis, alphas=self.plan.alphas, judge_latency=judge_latency)
            state.looks += 1
            elapsed = now - started
            self._record(
                state,
                f"analysis:{label}",
                message=f"{result.verdict.value} after {elapsed:.0f} s: {result.reason}",
                elapsed=elapsed,
                **result.as_dict(),
            )
            if result.verdict == Verdict.FAIL:
                raise RolloutAborted(f"{label}: {result.reason}")
            if result.verdict == Verdict.PASS:
                return
            if elapsed >= self.plan.max_bake_seconds:
                raise RolloutAborted(
                    f"{label}: inconclusive after {elapsed:.0f} s (budget {self.plan.max_bake_seconds:g} s): "
                    f"{result.reason}"
                )

    def _canary(self, state: RolloutState) -> None:
        stable, candidate = state.stable_slot, state.candidate_slot
        assert stable is not None
        if self.plan.shadow_percent:
            self.backend.set_mirror(candidate, self.plan.shadow_percent)
            started = self.clock.now()
            self._record(state, "shadow", percent=self.plan.shadow_percent)
            shadow = Scope(Feed(self.backend, stable, started), Feed(self.backend, candidate, started))
            shadow.start_step(started)
            percent = self.plan.shadow_percent
            self._bake(
                state, shadow, label=f"shadow {percent}%", judge_latency=self.plan.judges_latency(percent, shadow=True)
            )
            self.backend.set_mirror(None, 0)
        live: Scope | None = None
        for step in self.plan.steps:
            self._set_weights(state, {stable: 100 - step, candidate: step})
            applied = self.clock.now()
            if live is None:  # evidence accumulates from the first live step on (the shadow's is its own)
                live = Scope(Feed(self.backend, stable, applied), Feed(self.backend, candidate, applied))
            live.start_step(applied)
            if step < 100:
                self._bake(state, live, label=f"step {step}%", judge_latency=self.plan.judges_latency(step))
        state.reason = f"passed {len(self.plan.steps) - 1} canary steps"

    def _blue_green(self, state: RolloutState) -> None:
        stable, candidate = state.stable_slot, state.candidate_slot
        assert stable is not None
        # After the switch the old colour serves nothing, so the baseline is its traffic just before the switch.
        switched = self.clock.now()
        baseline = Feed(self.backend, stable, switched - self.plan.max_bake_seconds).pull().between(0, switched)
        self._set_weights(state, {stable: 0, candidate: 100})
        scope = Scope(_Fixed(baseline), Feed(self.backend, candidate, self.clock.now()))
        self._bake(state, scope, label="after switch")
        state.reason = f"{candidate} passed its bake after the switch"


class _Fixed:
    """A feed of outcomes known in advance (the blue-green baseline): all at the first pull, then nothing."""

    def __init__(self, outcomes: Outcomes) -> None:
        self.outcomes: Outcomes | None = outcomes

    def pull(self) -> Outcomes:
        outcomes, self.outcomes = self.outcomes or Outcomes(), None
        return outcomes
