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


def test_the_traffic_log_is_read_from_a_moment_on_into_a_bounded_sample(tmp_path) -> None:
    from ml_assets.resources.storage import LocalStore
    from ml_assets.serving.traffic_log import TrafficLog, read_traffic

    read_names: list[str] = []
    listed: list[str] = []

    class Recording(LocalStore):
        """The real folder store, recording which objects were listed and read."""

        def list(self, prefix: str = "", start_after: str = ""):
            entries = super().list(prefix, start_after)
            listed.extend(entry.name for entry in entries)
            return entries

        def read(self, name: str) -> bytes:
            read_names.append(name)
            return super().read(name)

    store = Recording(tmp_path / "traffic")
    now = [1_700_000_000.0]
    log = TrafficLog(
        store.write, environment="production", slot="blue", version="3", per_flush=50, clock=lambda: now[0]
    )
    for minute in range(40):  # forty flushes of 200 scored records each, a minute apart
        now[0] = 1_700_000_000.0 + 60 * minute
        log.record([{"f0": float(minute)}] * 200, [0.1] * 200)
        log.flush()
    since = 1_700_000_000.0 + 60 * 29.5  # the last ten flushes are newer
    sample = read_traffic(store, "production", since, limit=120)
    assert sample["seen"] == 10 * 200 and len(sample["items"]) == 120  # bounded by the limit, not by the log
    assert {item["features"]["f0"] for item in sample["items"]} <= {float(m) for m in range(30, 40)}
    assert len({item["features"]["f0"] for item in sample["items"]}) > 5  # drawn across the objects
    # the thirty older objects were neither read nor listed (on S3: StartAfter)
    assert len([name for name in read_names if name.endswith(".jsonl")]) == 10
    assert len([name for name in listed if name.endswith(".jsonl")]) == 10
