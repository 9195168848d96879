import pytest

from ml_assets.rollout.analysis import AnalysisConfig
from ml_assets.rollout.backend import ModelRef
from ml_assets.rollout.clock import FakeClock
from ml_assets.rollout.engine import ReleasePlan, RolloutEngine
from ml_assets.rollout.state import PROMOTED, ROLLED_BACK
from ml_assets_tests.fake_backend import Behaviour, FakeBackend, MemoryStateStore

V1, V2 = ModelRef("fraud_detector", "1"), ModelRef("fraud_detector", "2")
PLAN = ReleasePlan(bake_seconds=20, max_extensions=2, analysis=AnalysisConfig(min_requests=200, max_looks=12))


def setup(plan: ReleasePlan = PLAN, **behaviour) -> tuple[FakeBackend, RolloutEngine, MemoryStateStore]:
    backend = FakeBackend(rate_per_second=100)
    backend.behaviour_for_version["2"] = Behaviour(**behaviour)
    store = MemoryStateStore()
    engine = RolloutEngine(backend, store, FakeClock(on_sleep=backend.traffic), plan, "production")
    first = engine.release(V1)
    assert first.status == PROMOTED and backend.read_weights() == {"blue": 100}
    return backend, engine, store


def test_good_canary_goes_through_every_step() -> None:
    backend, engine, store = setup()
    state = engine.release(V2)
    assert state.status == PROMOTED, state.reason
    weights = [e["weights"] for e in state.events if e["phase"] == "weights"]
    assert weights == [
        {"blue": 95, "green": 5},
        {"blue": 90, "green": 10},
        {"blue": 75, "green": 25},
        {"blue": 50, "green": 50},
        {"green": 100},
    ]
    assert backend.serving() == {"green": V2} and "blue" in backend.retired
    assert store.load("production").status == PROMOTED
    analyses = [e for e in state.events if e["phase"].startswith("analysis:")]
    assert analyses and all({"verdict", "metrics", "alpha"} <= set(e) for e in analyses)


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        ({"error_rate": 0.08}, "canary fails more often"),
        ({"latency_scale": 2.0}, "canary slower"),
        ({"score_shift": 0.3}, "predictions shifted"),
        ({"healthy": False}, "green not healthy"),
    ],
)
def test_bad_canaries_roll_back_with_the_reason(behaviour: dict, reason: str) -> None:
    backend, engine, _ = setup(**behaviour)
    state = engine.release(V2)
    assert state.status == ROLLED_BACK and reason in state.reason
    assert backend.read_weights() == {"blue": 100} and backend.serving() == {"blue": V1}


def test_no_traffic_is_never_a_pass() -> None:
    backend, engine, _ = setup()
    backend.rate = 0.5  # far too little traffic for the minimum sample
    state = engine.release(V2)
    assert state.status == ROLLED_BACK and "inconclusive after 2 extensions" in state.reason
    assert backend.read_weights() == {"blue": 100}


def test_blue_green_switches_at_once_and_rolls_back_on_a_breach() -> None:
    plan = ReleasePlan(
        strategy="blue_green", bake_seconds=20, max_extensions=2, analysis=AnalysisConfig(min_requests=200, max_looks=6)
    )
    backend, engine, _ = setup(plan)
    engine.clock.sleep(60)  # blue serves a while: its traffic before the switch is the baseline
    good = engine.release(V2)
    assert good.status == PROMOTED and [e["weights"] for e in good.events if e["phase"] == "weights"] == [
        {"green": 100}
    ]
    backend.behaviour_for_version["3"] = Behaviour(error_rate=0.1)
    engine.clock.sleep(60)
    bad = engine.release(ModelRef("fraud_detector", "3"))
    assert bad.status == ROLLED_BACK and "after switch" in bad.reason
    assert backend.read_weights() == {"green": 100} and backend.serving() == {"green": V2}


def test_a_crashed_run_is_reconciled_by_the_next() -> None:
    backend, engine, store = setup()

    class Crash(BaseException):
        pass

    original = backend.traffic
    calls = {"n": 0}

    def crash_mid_release(start: float, end: float) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise Crash
        original(start, end)

    engine.clock.on_sleep = crash_mid_release
    with pytest.raises(Crash):
        engine.release(V2)
    assert store.load("production").status == "running" and backend.read_weights()["green"] > 0
    engine.clock.on_sleep = original
    reconciled = engine.reconcile()
    assert reconciled.status == ROLLED_BACK and "reconciled: the previous run stopped" in reconciled.reason
    assert backend.read_weights() == {"blue": 100} and backend.serving() == {"blue": V1}


def test_router_failure_leaves_traffic_on_stable() -> None:
    backend, engine, _ = setup()
    original = backend.set_weights

    def flaky(weights: dict[str, int]) -> None:
        if weights.get("green") == 25:
            raise ConnectionError("router unreachable")
        original(weights)

    backend.set_weights = flaky
    with pytest.raises(ConnectionError):
        engine.release(V2)
    assert backend.read_weights() == {"blue": 100}


def test_invalid_steps_are_rejected() -> None:
    with pytest.raises(ValueError, match="end at 100"):
        ReleasePlan(steps=(5, 50))
    with pytest.raises(ValueError, match="must increase"):
        ReleasePlan(steps=(50, 10, 100))


SHADOW_PLAN = ReleasePlan(
    bake_seconds=20,
    max_extensions=2,
    shadow_percent=50,
    shadow_seconds=20,
    analysis=AnalysisConfig(min_requests=200, max_looks=15),
)


def test_shadow_phase_catches_a_bad_model_before_any_traffic_moves() -> None:
    backend, engine, _ = setup(SHADOW_PLAN, score_shift=0.3)
    state = engine.release(V2)
    assert (
        state.status == ROLLED_BACK and state.reason.startswith("shadow 50%") and "predictions shifted" in state.reason
    )
    assert not [e for e in state.events if e["phase"] == "weights"]  # the candidate never received live traffic
    assert backend.read_weights() == {"blue": 100} and backend.mirror == (None, 0)


def test_shadow_then_canary_for_a_good_model() -> None:
    backend, engine, _ = setup(SHADOW_PLAN)
    state = engine.release(V2)
    assert state.status == PROMOTED and [e["phase"] for e in state.events][1:4] == ["launched", "healthy", "shadow"]
    assert backend.mirror == (None, 0)
