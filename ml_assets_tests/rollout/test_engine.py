"""Release strategies on the simulated platform (ml_assets.rollout.simulator) with a clock that jumps."""

import pytest

from ml_assets.rollout.backend import Health, ModelRef
from ml_assets.rollout.clock import FakeClock
from ml_assets.rollout.engine import ReleasePlan, RolloutEngine
from ml_assets.rollout.simulator import Behaviour, SimulatedBackend
from ml_assets.rollout.state import FAILED_OVER, PROMOTED, ROLLED_BACK, MemoryStateStore
from ml_assets_tests.conftest import margins, release_plan
from ml_assets_tests.crashing import Crash, DyingStore, at_phase

pytestmark = pytest.mark.unit

V1, V2, V3 = ModelRef("fraud_detector", "1"), ModelRef("fraud_detector", "2"), ModelRef("fraud_detector", "3")
# Wide margins so that a good release decides within a couple of looks at 200 requests/s.
ANALYSIS = margins(error_rate_margin=0.05, latency_ratio_margin=1.5, score_ks_margin=0.3)
PLAN = release_plan(steps=(10, 50, 100), bake_seconds=20, max_bake_seconds=200, analysis=ANALYSIS)


def setup(plan: ReleasePlan = PLAN, **behaviour) -> tuple[SimulatedBackend, RolloutEngine, MemoryStateStore]:
    backend = SimulatedBackend(rate_per_second=200)
    backend.behaviour_for_version["2"] = Behaviour(**behaviour)
    store = MemoryStateStore()
    engine = RolloutEngine(
        backend, store, clock=FakeClock(on_sleep=backend.traffic), plan=plan, environment="production"
    )
    first = engine.release(V1)
    assert first.status == PROMOTED and backend.read_weights() == {"blue": 100}
    engine.clock.sleep(60)  # blue serves a while
    return backend, engine, store


def answering(backend: SimulatedBackend) -> list[str]:
    """The slots that receive traffic and answer their health check: production answers if non-empty."""
    weights = backend.read_weights()
    return [slot for slot, weight in weights.items() if weight and backend.health(slot).healthy]


def test_good_canary_goes_through_every_step_on_evidence() -> None:
    backend, engine, store = setup()
    state = engine.release(V2)
    assert state.status == PROMOTED, state.reason
    weights = [e["weights"] for e in state.events if e["phase"] == "weights"]
    assert weights == [{"blue": 90, "green": 10}, {"blue": 50, "green": 50}, {"green": 100}]
    assert backend.serving() == {"green": V2} and "blue" in backend.retired
    assert store.load("production").status == PROMOTED
    analyses = [e for e in state.events if e["phase"].startswith("analysis:")]
    assert analyses[-1]["verdict"] == "pass"
    failure_rate = next(m for m in analyses[-1]["metrics"] if m["metric"] == "failure_rate")
    assert failure_rate["degradation_upper"] < failure_rate["margin"]


def test_evidence_accumulates_across_steps() -> None:
    _backend, engine, _ = setup()
    state = engine.release(V2)
    first = [e for e in state.events if e["phase"] == "analysis:step 10%"][-1]
    second = next(e for e in state.events if e["phase"] == "analysis:step 50%")

    def requests(event: dict, metric: str, key: str) -> int:
        return next(m[key] for m in event["metrics"] if m["metric"] == metric)

    # Failure rate and scores keep step 10 %'s requests at step 50 %; latency starts again (the load changed).
    assert requests(second, "failure_rate", "canary_requests") > requests(first, "failure_rate", "canary_requests")
    assert requests(second, "latency", "canary_answered") < requests(second, "failure_rate", "canary_requests")


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        ({"error_rate": 0.15}, "canary fails more often"),
        ({"error_rate": 0.0, "client_error_rate": 0.15}, "canary fails more often"),
        ({"latency_scale": 2.5}, "canary slower"),
        ({"logit_shift": 3.0}, "predictions shifted"),
        ({"healthy": False}, "green not healthy"),
    ],
)
def test_bad_canaries_roll_back_with_the_reason(behaviour: dict, reason: str) -> None:
    backend, engine, store = setup(**behaviour)
    state = engine.release(V2)
    assert state.status == ROLLED_BACK and reason in state.reason
    assert backend.read_weights() == {"blue": 100} and backend.serving() == {"blue": V1}
    assert store.load("production").status == ROLLED_BACK


def test_a_canary_within_no_margin_yet_is_rolled_back_at_the_budget() -> None:
    backend, engine, _ = setup()
    backend.rate = 2  # far too little traffic to show anything
    state = engine.release(V2)
    assert state.status == ROLLED_BACK and "inconclusive after 200 s (budget 200 s)" in state.reason
    assert backend.read_weights() == {"blue": 100}


def test_a_traffic_gap_does_not_pass_a_release() -> None:
    _backend, engine, _ = setup()
    engine.clock.on_sleep = lambda start, end: None  # nobody sends requests during the release
    state = engine.release(V2)
    looks = [e for e in state.events if e["phase"].startswith("analysis:")]
    assert state.status == ROLLED_BACK and looks and all(e["verdict"] == "inconclusive" for e in looks)


def test_a_clock_that_jumps_forward_exhausts_the_budget_instead_of_passing() -> None:
    backend, engine, _ = setup()
    traffic = backend.traffic

    def jump(start: float, end: float) -> None:
        engine.clock.t += 3600  # NTP steps the clock an hour ahead mid-bake: no traffic in that hour
        traffic(start, end)

    engine.clock.on_sleep = jump
    state = engine.release(V2)
    assert state.status == ROLLED_BACK and "inconclusive after" in state.reason


def test_a_clock_that_goes_back_rolls_back() -> None:
    backend, engine, _ = setup()
    traffic = backend.traffic

    def back(start: float, end: float) -> None:
        traffic(start, end)
        engine.clock.t -= 100

    engine.clock.on_sleep = back
    state = engine.release(V2)
    assert state.status == ROLLED_BACK and "the clock went back" in state.reason
    assert backend.read_weights() == {"blue": 100}


def test_blue_green_switches_at_once_and_rolls_back_on_a_breach() -> None:
    plan = release_plan(strategy="blue_green", bake_seconds=20, max_bake_seconds=200, analysis=ANALYSIS)
    backend, engine, _ = setup(plan)
    engine.clock.sleep(200)  # the stable colour's traffic before the switch is the baseline
    good = engine.release(V2)
    assert good.status == PROMOTED, good.reason
    assert [e["weights"] for e in good.events if e["phase"] == "weights"] == [{"green": 100}]
    backend.behaviour_for_version["3"] = Behaviour(error_rate=0.2)
    engine.clock.sleep(200)
    bad = engine.release(V3)
    assert bad.status == ROLLED_BACK and "after switch" in bad.reason
    assert backend.read_weights() == {"green": 100} and backend.serving() == {"green": V2}


class CountingStore(MemoryStateStore):
    def __init__(self) -> None:
        super().__init__()
        self.saves = 0

    def save(self, state) -> None:
        super().save(state)
        self.saves += 1


def released_after_a_minute(store: MemoryStateStore) -> tuple[SimulatedBackend, FakeClock]:
    backend = SimulatedBackend(rate_per_second=200)
    clock = FakeClock(on_sleep=backend.traffic)
    RolloutEngine(backend, store, clock=clock, plan=PLAN, environment="production").release(V1)
    clock.sleep(60)
    return backend, clock


def transitions_of_a_release() -> int:
    store = CountingStore()
    backend, clock = released_after_a_minute(store)
    before = store.saves
    RolloutEngine(backend, store, clock=clock, plan=PLAN, environment="production").release(V2)
    return store.saves - before


@pytest.mark.parametrize("crash_after", range(1, transitions_of_a_release() + 1))
def test_production_answers_after_a_run_killed_at_any_transition(crash_after: int) -> None:
    store = CountingStore()
    backend, clock = released_after_a_minute(store)  # the same seeds as the count: the same transitions
    last = store.saves + crash_after
    dying = DyingStore(store, lambda state: store.saves == last)
    with pytest.raises(Crash) as died:
        RolloutEngine(backend, dying, clock=clock, plan=PLAN, environment="production").release(V2)
    phase = str(died.value)
    # The next run reconciles first: production answers from a running slot right then, before anything new.
    reconciled = RolloutEngine(backend, store, clock=clock, plan=PLAN, environment="production").reconcile()
    assert reconciled.finished and len(answering(backend)) == 1, (phase, reconciled.reason, backend.weights)
    expected = PROMOTED if phase in ("passed", "retired", "promoted") else ROLLED_BACK
    assert reconciled.status == expected, (phase, reconciled.reason)
    nxt = RolloutEngine(backend, store, clock=clock, plan=PLAN, environment="production").release(V3)
    assert nxt.status == PROMOTED and nxt.stable_slot is not None, (phase, nxt.reason)  # a canary, not a first
    assert answering(backend) == [nxt.candidate_slot] and backend.serving()[nxt.candidate_slot] == V3


def test_a_crash_while_reconcile_finishes_a_promotion_still_finishes_it() -> None:
    backend, engine, store = setup()
    with pytest.raises(Crash):
        RolloutEngine(
            backend, DyingStore(store, at_phase("passed")), clock=engine.clock, plan=PLAN, environment="production"
        ).release(V2)
    set_weights = backend.set_weights

    def dies_after_moving(weights: dict[str, int]) -> None:
        set_weights(weights)
        raise Crash("reconcile")

    backend.set_weights = dies_after_moving
    with pytest.raises(Crash):
        engine.reconcile()
    backend.set_weights = set_weights
    assert engine.reconcile().status == PROMOTED and answering(backend) == ["green"]


def test_a_dead_serving_slot_is_replaced_but_not_promoted() -> None:
    backend, engine, _ = setup()
    backend.behaviours["blue"] = Behaviour(healthy=False)  # production's slot stopped answering every probe
    state = engine.release(V2)
    assert state.status == FAILED_OVER and "the serving slot blue did not answer its health check" in state.reason
    assert answering(backend) == ["green"] and backend.serving() == {"blue": V1, "green": V2}  # blue kept
    assert not [e for e in state.events if e["phase"].startswith("analysis:")]  # nothing to compare with


def test_a_serving_slot_that_recovers_during_the_launch_gets_its_canary() -> None:
    backend, engine, _ = setup()
    backend.behaviours["blue"] = Behaviour(healthy=False)  # a blip: blue is back once green has launched
    launch = backend.launch

    def launch_while_blue_recovers(slot: str, model: ModelRef) -> None:
        launch(slot, model)
        backend.behaviours["blue"] = Behaviour()

    backend.launch = launch_while_blue_recovers
    state = engine.release(V2)
    assert state.status == PROMOTED and [e for e in state.events if e["phase"].startswith("analysis:")]


def test_a_rejected_candidate_never_takes_production_from_a_dead_stable() -> None:
    backend, engine, _ = setup(error_rate=0.4)
    traffic = backend.traffic

    def stable_dies_during_the_canary(start: float, end: float) -> None:
        traffic(start, end)
        if backend.weights.get("green"):
            backend.behaviours["blue"] = Behaviour(healthy=False)

    engine.clock.on_sleep = stable_dies_during_the_canary
    state = engine.release(V2)
    assert state.status == ROLLED_BACK and "canary fails more often" in state.reason
    assert "neither the stable slot nor an unrejected candidate answers" in state.reason
    assert backend.read_weights().get("green", 0) < 100


def test_a_failover_goes_only_to_this_releases_model() -> None:
    backend, engine, store = setup()
    with pytest.raises(Crash):  # the run dies right after starting: green still holds nothing of this release
        RolloutEngine(
            backend, DyingStore(store, at_phase("started")), clock=engine.clock, plan=PLAN, environment="production"
        ).release(V2)
    backend.launch("green", V1)  # an older model left in the candidate slot, answering
    backend.behaviours["blue"] = Behaviour(healthy=False)
    reconciled = engine.reconcile()
    assert (
        reconciled.status == ROLLED_BACK and "neither the stable slot nor an unrejected candidate" in reconciled.reason
    )
    assert backend.read_weights() == {"blue": 100}  # never routed to a model this release did not launch


def test_one_lost_health_probe_does_not_fail_over() -> None:
    backend, engine, _ = setup(error_rate=0.3)
    health = backend.health
    lost = {"blue": 1}

    def flaky(slot: str) -> Health:
        if lost.get(slot):
            lost[slot] -= 1
            return Health(False, "timed out")
        return health(slot)

    restore = engine._restore

    def restore_with_a_lost_probe(state, reason: str, **options) -> None:
        backend.health = flaky
        try:
            restore(state, reason, **options)
        finally:
            backend.health = health

    engine._restore = restore_with_a_lost_probe
    state = engine.release(V2)
    assert state.status == ROLLED_BACK and lost == {"blue": 0}  # the probe was lost, and retried
    assert backend.read_weights() == {"blue": 100} and backend.serving() == {"blue": V1}


def test_a_run_killed_between_retiring_stable_and_promoted_is_finished_not_undone() -> None:
    backend, engine, store = setup()
    with pytest.raises(Crash):
        RolloutEngine(
            backend, DyingStore(store, at_phase("retired")), clock=engine.clock, plan=PLAN, environment="production"
        ).release(V2)
    assert backend.serving() == {"green": V2} and store.load("production").status == "running"
    reconciled = engine.reconcile()
    assert reconciled.status == PROMOTED and "promotion finished" in reconciled.reason
    assert engine.reconciled is reconciled
    assert backend.read_weights() == {"green": 100} and answering(backend) == ["green"]


def test_reconcile_never_routes_to_a_slot_that_is_not_running() -> None:
    backend, engine, store = setup()
    mid_canary = DyingStore(store, lambda state: state.phase == "weights" and state.weights.get("green") == 50)
    with pytest.raises(Crash):
        RolloutEngine(backend, mid_canary, clock=engine.clock, plan=PLAN, environment="production").release(V2)
    backend.retire("blue")  # the stable slot died meanwhile
    backend.weights = {"blue": 50, "green": 50}
    reconciled = engine.reconcile()
    assert reconciled.status == FAILED_OVER and "blue is not running" in reconciled.reason
    assert backend.read_weights() == {"green": 100} and answering(backend) == ["green"]


def test_router_failure_leaves_traffic_on_stable() -> None:
    backend, engine, _ = setup()
    original = backend.set_weights

    def flaky(weights: dict[str, int]) -> None:
        if weights.get("green") == 50:
            raise ConnectionError("router unreachable")
        original(weights)

    backend.set_weights = flaky
    with pytest.raises(ConnectionError):
        engine.release(V2)
    assert backend.read_weights() == {"blue": 100}


def test_invalid_plans_are_rejected() -> None:
    with pytest.raises(ValueError, match="end at 100"):
        release_plan(steps=(5, 50))
    with pytest.raises(ValueError, match="must increase"):
        release_plan(steps=(50, 10, 100))
    with pytest.raises(ValueError, match=r"bake_seconds \(60\) exceeds max_bake_seconds \(30\)"):
        release_plan(bake_seconds=60, max_bake_seconds=30)


SHADOW_PLAN = release_plan(
    steps=(10, 50, 100), bake_seconds=20, max_bake_seconds=200, shadow_percent=50, analysis=ANALYSIS
)


def test_shadow_phase_catches_a_bad_model_before_any_traffic_moves() -> None:
    backend, engine, _ = setup(SHADOW_PLAN, logit_shift=3.0)
    state = engine.release(V2)
    assert state.status == ROLLED_BACK and state.reason.startswith("shadow 50%")
    assert "predictions shifted" in state.reason
    assert not [e for e in state.events if e["phase"] == "weights"]  # the candidate never received live traffic
    assert backend.read_weights() == {"blue": 100} and backend.mirror == (None, 0)


def test_shadow_then_canary_for_a_good_model() -> None:
    backend, engine, _ = setup(SHADOW_PLAN)
    state = engine.release(V2)
    assert state.status == PROMOTED, state.reason
    assert [e["phase"] for e in state.events][1:4] == ["launched", "healthy", "shadow"]
    assert backend.mirror == (None, 0)


def test_the_simulated_backend_samples_answered_requests_once_per_drain() -> None:
    """Monitoring reads the simulator as it reads a real platform: answered requests since the last drain."""
    backend, engine, _ = setup(error_rate=0.0)
    sample = backend.sample(drain=True)
    answered = sum(int((batch.status == 200).sum()) for batches in backend.batches.values() for batch in batches)
    assert sample["seen"] >= answered > 0 and len(sample["items"]) == answered
    assert {item["version"] for item in sample["items"]} == {"1"}
    assert all(0 < item["score"] < 1 and item["slot"] == "blue" for item in sample["items"])
    assert backend.sample()["items"] == []  # drained: the next sample starts empty
    engine.clock.sleep(10)
    assert len(backend.sample(drain=True)["items"]) > 0
