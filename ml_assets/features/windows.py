"""Per-entity rolling windows over event time, computed with sorted keys and prefix sums.

pandas' ``groupby(...).rolling("7d")`` is exact but slow on millions of rows; here every window is two binary
searches into one sorted array of (entity, time) keys, so all windows for all entities cost O(n log n).
"""

from __future__ import annotations

import numpy as np

_ENTITY_STRIDE = np.int64(1) << 40  # seconds; entities never overlap as long as the data spans < 34,000 years


def _sorted_keys(entity: np.ndarray, seconds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((seconds, entity))
    keys = entity[order].astype(np.int64) * _ENTITY_STRIDE + seconds[order].astype(np.int64)
    return order, keys


def _queried(order: np.ndarray, query: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The query rows' positions in the sorted order, ascending (binary searches with sorted needles stay fast),
    and where each one's result goes in the output (the query rows in row order)."""
    selected = np.ones(len(order), dtype=bool) if query is None else np.asarray(query, dtype=bool)
    positions = np.flatnonzero(selected[order])
    destination = (np.cumsum(selected) - 1)[order[positions]]
    return positions, destination


def _placed(values: np.ndarray, destination: np.ndarray) -> np.ndarray:
    out = np.empty_like(values)
    out[destination] = values
    return out


def trailing_count_and_mean(
    entity: np.ndarray,
    seconds: np.ndarray,
    values: np.ndarray,
    *,
    window_seconds: int,
    query: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Count and mean of ``values`` over each row's entity in (t - window, t], the row itself included; for the
    rows ``query`` selects (a boolean mask; None: every row), the other rows serving as history only."""
    order, keys = _sorted_keys(entity, seconds)
    position, destination = _queried(order, query)
    start = np.searchsorted(keys, keys[position] - window_seconds, side="right")
    prefix = np.concatenate([[0.0], np.cumsum(values[order], dtype=np.float64)])
    count = position - start + 1
    total = prefix[position + 1] - prefix[start]
    return _placed(count, destination), _placed(total / count, destination)


def delayed_count_and_rate(
    entity: np.ndarray,
    seconds: np.ndarray,
    labels: np.ndarray,
    *,
    window_seconds: int,
    delay_seconds: int,
    query: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Count of rows and mean label over the entity's window (t - delay - window, t - delay], for the rows
    ``query`` selects (None: every row).

    Only rows older than ``delay`` are used, so labels that would not yet be known at time t never leak in.
    Windows with no rows have rate 0.
    """
    order, keys = _sorted_keys(entity, seconds)
    position, destination = _queried(order, query)
    at = keys[position]
    end = np.searchsorted(keys, at - delay_seconds, side="right")
    start = np.searchsorted(keys, at - delay_seconds - window_seconds, side="right")
    prefix = np.concatenate([[0.0], np.cumsum(labels[order], dtype=np.float64)])
    count = end - start
    positives = prefix[end] - prefix[start]
    rate = np.divide(positives, count, out=np.zeros(len(count)), where=count > 0)
    return _placed(count, destination), _placed(rate, destination)
