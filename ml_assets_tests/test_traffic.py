from ml_assets.serving.traffic import ScoredSample, VariantTraffic


def test_reservoir_keeps_a_uniform_bounded_sample() -> None:
    sample = ScoredSample(capacity=100, seed=1)
    for record in range(10_000):
        index = sample.reserve()
        if index is not None:
            sample.items[index] = {"record": record}
    kept = [item["record"] for item in sample.items]
    assert sample.seen == 10_000 and len(kept) == 100 == len(set(kept))
    assert 3_000 < sum(kept) / len(kept) < 7_000  # drawn from the whole stream, not its start or end


def test_windows_select_by_time_and_split_errors() -> None:
    traffic = VariantTraffic(capacity=3)
    for at, error in ((1.0, False), (2.0, True), (3.0, False), (4.0, False)):
        traffic.add(at, latency_ms=at, error=error, score=at / 10)
    window = traffic.window(2.0, 4.0)  # the oldest record fell out of the ring buffer anyway
    assert window == {"requests": 2, "errors": 1, "latencies_ms": [3.0], "scores": [0.3]}
    assert traffic.total == 4 and traffic.total_errors == 1
