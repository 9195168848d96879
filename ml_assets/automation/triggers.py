"""When retraining starts (pure): decisions over JSON cursors, with the guardrails users expect.

- debounce: files still arriving wait until the landing folder has been quiet for ``debounce_seconds``;
- one at a time: no new retraining while one is queued or running;
- a daily cap: at most ``max_runs_per_day`` retraining runs in 24 hours, whatever started them.
The first look at a landing folder records it as the baseline: data that was there before the sensor is not new.
"""

from __future__ import annotations

import hashlib
import json
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


def landing_decision(
    cursor: str | None, listing: dict[str, str], *, now: float, debounce_seconds: float, load: RetrainingLoad
) -> Decision:
    """``listing`` is {file name: version}; the cursor remembers the files the last retraining saw."""
    if cursor is None:
        state = {"committed": listing, "seen": listing, "changed_at": now}
        return Decision(
            False, f"baseline: {len(listing)} landing files; new or changed files start retraining", json.dumps(state)
        )
    state = json.loads(cursor)
    committed, seen = state["committed"], state["seen"]
    if listing != seen:
        state["seen"], state["changed_at"] = listing, now
    changed = sorted(n for n in set(listing) | set(committed) if listing.get(n) != committed.get(n))
    if not changed:
        return Decision(False, "no new or changed landing files", json.dumps(state))
    quiet = now - state["changed_at"]
    summary = f"{len(changed)} new or changed files ({', '.join(changed[:3])}{', ...' if len(changed) > 3 else ''})"
    if quiet < debounce_seconds:
        return Decision(
            False,
            f"{summary}; waiting until no file has changed for {debounce_seconds:g} s (quiet for {quiet:.0f} s)",
            json.dumps(state),
        )
    blocked = load.blocked()
    if blocked:
        return Decision(False, f"{summary}; not starting: {blocked}", json.dumps(state))
    state["committed"] = listing
    key = hashlib.sha256(json.dumps(listing, sort_keys=True).encode()).hexdigest()[:16]
    return Decision(True, f"retraining on {summary}", json.dumps(state), f"landing-{key}")


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
