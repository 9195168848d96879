"""Per-entity rolling windows over event time, computed with sorted keys and prefix sums.

pandas' ``groupby(...).rolling("7d")`` is exact but slow on millions of rows; here every window is two binary
searches into one sorted array of (entity, time) keys, so all windows for all entities cost O(n log n). The sort
is done once per entity column (``EntityWindows``) and shared by every window over it.
"""

from __future__ import annotations

import numpy as np

_ENTITY_STRIDE = np.int64(1) << 40  # seconds; entities never overlap as long as the data spans < 34,000 years


class EntityWindows:
    """Windows over each row's entity and time, for the rows ``query`` selects (a boolean mask; None: every row),
    the other rows serving as history only. Results are in the query rows' order."""

    def __init__(self, entity: np.ndarray, seconds: np.ndarray, *, query: np.ndarray | None = None) -> None:
        self._order = np.lexsort((seconds, entity))
        self._keys = entity[self._order].astype(np.int64) * _ENTITY_STRIDE + seconds[self._order].astype(np.int64)
        selected = np.ones(len(self._order), dtype=bool) if query is None else np.asarray(query, dtype=bool)
        # The query rows' positions in the sorted order, ascending (binary searches with sorted needles stay fast),
        # and where each one's result goes in the output.
        self._position = np.flatnonzero(selected[self._order])
        self._destination = (np.cumsum(selected) - 1)[self._order[self._position]]

    def _prefix(self, values: np.ndarray) -> np.ndarray:
        return np.concatenate([[0.0], np.cumsum(values[self._order], dtype=np.float64)])

    def _placed(self, values: np.ndarray) -> np.ndarray:
        out = np.empty_like(values)
        out[self._destination] = values
        return out

    def trailing_count_and_mean(self, values: np.ndarray, *, window_seconds: int) -> tuple[np.ndarray, np.ndarray]:
        """Count and mean of ``values`` over the entity's rows in (t - window, t], the row itself included."""
        position = self._position
        start = np.searchsorted(self._keys, self._keys[position] - window_seconds, side="right")
        prefix = self._prefix(values)
        count = position - start + 1
        total = prefix[position + 1] - prefix[start]
        return self._placed(count), self._placed(total / count)

    def delayed_count_and_rate(
        self, labels: np.ndarray, *, window_seconds: int, delay_seconds: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Count of rows and mean label over the entity's window (t - delay - window, t - delay].

        Only rows older than ``delay`` are used, so labels that would not yet be known at time t never leak in.
        Windows with no rows have rate 0.
        """
        at = self._keys[self._position]
        end = np.searchsorted(self._keys, at - delay_seconds, side="right")
        start = np.searchsorted(self._keys, at - delay_seconds - window_seconds, side="right")
        prefix = self._prefix(labels)
        count = end - start
        positives = prefix[end] - prefix[start]
        rate = np.divide(positives, count, out=np.zeros(len(count)), where=count > 0)
        return self._placed(count), self._placed(rate)
