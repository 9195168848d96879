"""When work starts on new data (pure): decisions over JSON cursors, with the guardrails users expect.

With daily partitions, new or changed landing files become runs of their days (validation and features), and
retraining follows the conditions declared on the assets; without, new files start a retraining run.
- debounce: files still arriving wait until the landing folder has been quiet for ``debounce_seconds``;
- one at a time: no new retraining while one is queued or running;
- a daily cap: at most ``max_runs_per_day`` retraining runs in 24 hours, whatever started them.
The first look at a landing folder records it as the baseline: data that was there before the sensor is not new.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    run: bool
    reason: str
    cursor: str
    run_key: str | None = None


@dataclass(frozen=True)
class RetrainingLoad:
    """The retraining runs the instance holds now, and the daily cap."""

    active_runs: int  # queued or running
    runs_last_day: int  # started in the last 24 hours
    max_runs_per_day: int

    def blocked(self) -> str | None:
        """Why a retraining must not start now, or None."""
        if self.active_runs:
            return f"a retraining run is already queued or running ({self.active_runs}); one at a time"
        if self.runs_last_day >= self.max_runs_per_day:
            return (
                f"daily cap reached: {self.runs_last_day} retraining runs in the last 24 h "
                f"(max {self.max_runs_per_day})"
            )
        return None


@dataclass(frozen=True)
class DaysDecision:
    """The days whose landing file is new or changed, to validate and featurize, one run each."""

    days: dict[str, str]  # day -> version of its file(s)
    reason: str
    cursor: str
    unassigned: list[str]  # files with no day in their name: never read


def _summary(changed: list[str]) -> str:
    return f"{len(changed)} new or changed files ({', '.join(changed[:3])}{', ...' if len(changed) > 3 else ''})"


def _settled(
    cursor: str | None, listing: dict[str, str], *, now: float, debounce_seconds: float
) -> tuple[dict, list[str], str | None]:
    """The cursor's state, the files changed since the last commit, and why to wait (None: the folder is quiet).
    The first look records the folder as the baseline."""
    if cursor is None:
        return {"committed": listing, "seen": listing, "changed_at": now}, [], "baseline"
    state = json.loads(cursor)
    if listing != state["seen"]:
        state["seen"], state["changed_at"] = listing, now
    committed = state["committed"]
    changed = sorted(n for n in set(listing) | set(committed) if listing.get(n) != committed.get(n))
    quiet = now - state["changed_at"]
    if changed and quiet < debounce_seconds:
        wait = f"waiting until no file has changed for {debounce_seconds:g} s (quiet for {quiet:.0f} s)"
        return state, changed, wait
    return state, changed, None


def landing_decision(
    cursor: str | None, listing: dict[str, str], *, now: float, debounce_seconds: float, load: RetrainingLoad
) -> Decision:
    """``listing`` is {file name: version}; the cursor remembers the files the last retraining saw."""
    state, changed, wait = _settled(cursor, listing, now=now, debounce_seconds=debounce_seconds)
    if wait == "baseline":
        reason = f"baseline: {len(listing)} landing files; new or changed files start retraining"
        return Decision(False, reason, json.dumps(state))
    if not changed:
        return Decision(False, "no new or changed landing files", json.dumps(state))
    if wait:
        return Decision(False, f"{_summary(changed)}; {wait}", json.dumps(state))
    blocked = load.blocked()
    if blocked:
        return Decision(False, f"{_summary(changed)}; not starting: {blocked}", json.dumps(state))
    state["committed"] = listing
    key = hashlib.sha256(json.dumps(listing, sort_keys=True).encode()).hexdigest()[:16]
    return Decision(True, f"retraining on {_summary(changed)}", json.dumps(state), f"landing-{key}")


def new_days_decision(
    cursor: str | None,
    listing: dict[str, str],
    *,
    now: float,
    debounce_seconds: float,
    day_of: Callable[[str], str | None],
    days: tuple[str, str],
) -> DaysDecision:
    """The days to (re)validate: those whose file was added or changed since the last commit, once the folder is
    quiet. ``day_of`` maps a file name to its day (or None); ``days`` is (first, last) of the partitions: a file of
    a day that is not a partition yet (today, the future) waits for it, one before the first is named and never
    read. A removed file validates nothing (its stored day stays as it was validated)."""
    state, changed, wait = _settled(cursor, listing, now=now, debounce_seconds=debounce_seconds)
    if wait == "baseline":
        reason = f"baseline: {len(listing)} landing files; new or changed days are validated and featurized"
        return DaysDecision({}, reason, json.dumps(state), [])
    present = [name for name in changed if name in listing]
    if not present:
        return DaysDecision({}, "no new or changed landing files", json.dumps(state), [])
    if wait:
        return DaysDecision({}, f"{_summary(present)}; {wait}", json.dumps(state), [])
    first, last = days
    unassigned = [name for name in present if day_of(name) is None]
    early = [name for name in present if name not in unassigned and day_of(name) < first]
    waiting = [name for name in present if name not in unassigned and day_of(name) > last]
    committed = dict(state["committed"])
    state["committed"] = {
        **{name: version for name, version in listing.items() if name not in waiting},
        **{name: committed[name] for name in waiting if name in committed},
    }
    by_day: dict[str, list[str]] = {}
    for name in present:
        if name not in (*unassigned, *early, *waiting):
            by_day.setdefault(day_of(name), []).append(name)
    versions = {
        day: hashlib.sha256("|".join(f"{n}={listing[n]}" for n in sorted(names)).encode()).hexdigest()[:12]
        for day, names in sorted(by_day.items())
    }
    reason = f"{_summary(present)}: {len(versions)} day(s) to validate"
    if unassigned:
        reason += f"; ignored {len(unassigned)} file(s) with no day in their name: {', '.join(unassigned[:5])}"
    if early:
        reason += f"; ignored {len(early)} file(s) of days before the first partition {first}: {', '.join(early[:5])}"
    if waiting:
        reason += (
            f"; {len(waiting)} file(s) wait for their day to end (last partition {last}): {', '.join(waiting[:5])}"
        )
    return DaysDecision(versions, reason, json.dumps(state), unassigned + early)


def drift_decision(cursor: str | None, latest: tuple[int, str] | None, *, load: RetrainingLoad) -> Decision:
    """``latest`` is (storage id, severity) of the newest drift report; each report is considered once."""
    state = json.loads(cursor) if cursor else {"last_report": None}
    if latest is None or latest[0] == state["last_report"]:
        return Decision(False, "no new drift report", json.dumps(state))
    report_id, severity = latest
    state["last_report"] = report_id
    if severity != "severe":
        return Decision(False, f"drift report {report_id}: {severity} drift, no retraining", json.dumps(state))
    blocked = load.blocked()
    if blocked:
        return Decision(False, f"severe drift (report {report_id}); not starting: {blocked}", json.dumps(state))
    return Decision(True, f"severe drift in report {report_id}", json.dumps(state), f"drift-{report_id}")
