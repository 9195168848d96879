"""Daily partitions of the landing data (pure): which file holds which day, and whether its records stay in it.

A landing file belongs to the day written in its name (``transactions_2026-11-26.parquet``, ``2026-11-26.csv``);
a day has exactly one file. Days run from midnight to midnight in the partitions' timezone; timestamps in the
data are naive UTC (see ``data.schema``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import pandas as pd

from ml_assets.data.schema import DataLoadError

DAY_FORMAT = "%Y-%m-%d"
_DAY_IN_NAME = re.compile(r"(?<!\d)(\d{4}-\d{2}-\d{2})(?!\d)")


def day_of(name: str) -> str | None:
    """The day (``YYYY-MM-DD``) a landing file's name carries, or None."""
    match = _DAY_IN_NAME.search(name.rsplit("/", 1)[-1])
    if match is None:
        return None
    try:
        dt.datetime.strptime(match.group(1), DAY_FORMAT)
    except ValueError:
        return None
    return match.group(1)


def files_by_day(names: Iterable[str]) -> dict[str, list[str]]:
    """{day: its files}, for the files whose name carries a day."""
    days: dict[str, list[str]] = {}
    for name in sorted(names):
        day = day_of(name)
        if day is not None:
            days.setdefault(day, []).append(name)
    return days


def file_of_day(day: str, names: Iterable[str], *, where: str) -> str:
    """The one landing file of ``day``; a clear error when there is none or more than one."""
    files = files_by_day(names).get(day, [])
    if not files:
        raise DataLoadError(
            f"day {day}: no landing file in {where} (expected one file with {day} in its name, e.g. "
            f"transactions_{day}.parquet)"
        )
    if len(files) > 1:
        raise DataLoadError(
            f"day {day}: {len(files)} landing files in {where} ({', '.join(files)}); a day has exactly one file: "
            "merge them or remove the stale one"
        )
    return files[0]


def day_bounds(day: str, timezone: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """[start, end) of ``day`` in ``timezone``, as naive UTC timestamps."""
    start = dt.datetime.strptime(day, DAY_FORMAT).replace(tzinfo=ZoneInfo(timezone))
    end = (start + dt.timedelta(days=1)).replace(tzinfo=ZoneInfo(timezone))
    return (
        pd.Timestamp(start).tz_convert("UTC").tz_localize(None),
        pd.Timestamp(end).tz_convert("UTC").tz_localize(None),
    )


def check_within_day(stamps: pd.Series, day: str, *, timezone: str, source: str) -> None:
    """Every record of ``day``'s file is time-stamped within that day; else an error naming the count."""
    start, end = day_bounds(day, timezone)
    outside = (stamps < start) | (stamps >= end)
    if outside.any():
        examples = ", ".join(str(t) for t in stamps[outside].head(3))
        raise DataLoadError(
            f"day {day}: {source}: {int(outside.sum())} of {len(stamps)} records fall outside the day "
            f"[{start} .. {end}) UTC (e.g. {examples}); a day's file holds that day's records only"
        )


def last_complete_day(now: dt.datetime, timezone: str) -> str:
    """The last day that has ended in ``timezone`` at ``now`` (aware): the newest daily partition."""
    return (now.astimezone(ZoneInfo(timezone)).date() - dt.timedelta(days=1)).strftime(DAY_FORMAT)


def day_range(days: Iterable[str]) -> list[str]:
    """Every day from the first to the last of ``days``, in order."""
    ordered = sorted(days)
    if not ordered:
        return []
    first = dt.datetime.strptime(ordered[0], DAY_FORMAT).date()
    last = dt.datetime.strptime(ordered[-1], DAY_FORMAT).date()
    return [(first + dt.timedelta(days=i)).strftime(DAY_FORMAT) for i in range((last - first).days + 1)]


def shift(day: str, days: int) -> str:
    """``day`` moved by ``days``."""
    return (dt.datetime.strptime(day, DAY_FORMAT) + dt.timedelta(days=days)).strftime(DAY_FORMAT)


# A stored day of raw data carries, in its frame attributes, the file it came from, that file's version and the
# day's validation verdict: whoever reads the day can refuse a quarantined one without asking anyone else.
SOURCE_ATTR = "source_file"
VERDICT_ATTR = "validation"


class QuarantinedDayError(ValueError):
    """A day that failed validation (or was never loaded) was asked to feed something downstream."""


def verdict(attrs: Mapping[str, Any]) -> tuple[bool, list[str]]:
    """(passed, failures) of a stored day from its frame attributes; a day without a verdict has not passed."""
    stored = attrs.get(VERDICT_ATTR) or {}
    return bool(stored.get("passed")), list(stored.get("failures") or ["no validation verdict recorded"])


def quarantine_reason(day: str, attrs: Mapping[str, Any]) -> str | None:
    """Why ``day`` must not be used (from its frame attributes), or None when it passed validation."""
    passed, failures = verdict(attrs)
    if passed:
        return None
    source = attrs.get(SOURCE_ATTR, "?")
    return f"day {day} ({source}) failed validation: {'; '.join(failures)}"


class StoredDays(Protocol):
    """The stored days of a partitioned asset, each read only when asked for (and only the columns asked for)."""

    def __iter__(self) -> Iterator[str]: ...

    def __contains__(self, day: object) -> bool: ...

    def __len__(self) -> int: ...

    def read(self, day: str, columns: list[str] | None = None) -> pd.DataFrame:
        """The day's frame (``columns`` of it), with its attributes."""
        ...

    def attrs(self, day: str) -> dict[str, Any]:
        """The day's frame attributes (versions, verdict) without its rows."""
        ...


class DaysInMemory(dict):
    """StoredDays over {day: frame} already in memory."""

    def read(self, day: str, columns: list[str] | None = None) -> pd.DataFrame:
        frame = self[day]
        return frame if columns is None else frame[columns]

    def attrs(self, day: str) -> dict[str, Any]:
        return dict(self[day].attrs)


def blocks(days: Iterable[str]) -> list[tuple[str, str]]:
    """Consecutive days as (first, last) ranges, in order."""
    ranges: list[tuple[str, str]] = []
    for day in sorted(days):
        if ranges and shift(ranges[-1][1], 1) == day:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def runs_of(first: str, last: str, days_per_run: int | None) -> list[tuple[str, str]]:
    """first..last as consecutive ranges of at most ``days_per_run`` days (None: one range), in order."""
    days = day_range([first, last])
    size = days_per_run or len(days)
    return [(days[i], days[min(i + size, len(days)) - 1]) for i in range(0, len(days), size)]
