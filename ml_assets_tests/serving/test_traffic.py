import pytest

from ml_assets.serving.traffic import ScoredSample, VariantTraffic

pytestmark = pytest.mark.unit


def test_reservoir_keeps_a_uniform_bounded_sample() -> None:
    sample = ScoredSample(capacity=100, seed=1)
    for record in range(10_000):
        index = sample.reserve()
        if index is not None:
            sample.items[index] = {"record": record}
    kept = [item["record"] for item in sample.items]
    assert sample.seen == 10_000 and len(kept) == 100 == len(set(kept))
    assert 3_000 < sum(kept) / len(kept) < 7_000  # drawn from the whole stream, not its start or end


def test_outcomes_are_read_once_each_in_order_with_every_status() -> None:
    traffic = VariantTraffic(capacity=3)
    for at, status in ((1.0, 200), (2.0, 503), (3.0, 422), (4.0, 0)):
        traffic.add(at, status, latency_ms=at, score=at / 10 if status == 200 else None)
    first = traffic.after(0, since=0.0)  # the oldest record fell out of the ring buffer
    assert first["status"] == [503, 422, 0] and first["last"] == 4
    assert traffic.after(first["last"], since=0.0)["at"] == []  # nothing twice
    traffic.add(5.0, 200, latency_ms=5.0, score=0.5)
    newer = traffic.after(first["last"], since=0.0)
    assert newer["at"] == [5.0] and newer["score"] == [0.5]
    assert traffic.after(0, since=4.5)["at"] == [5.0]
    assert traffic.total == 5 and traffic.total_failures == 3
