"""``ml-assets materialize``: ``dagster asset materialize`` with progress a person can follow.

Dagster's CLI prints every event of a run (thousands of DEBUG lines for the demo). This runs the same command with
its output kept in a log file, follows the run in the Dagster instance, and prints one line per asset and per
check as each finishes (with its time), every failure in full, and a summary at the end.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dagster import AssetSelection, DagsterEventType, DagsterInstance, Definitions, EventLogEntry

from ml_assets.environment_variables import DAGSTER_HOME

FOLLOWED = {
    DagsterEventType.RUN_START,
    DagsterEventType.STEP_START,
    DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
    DagsterEventType.ASSET_MATERIALIZATION,
    DagsterEventType.ASSET_CHECK_EVALUATION,
    DagsterEventType.STEP_SUCCESS,
    DagsterEventType.STEP_FAILURE,
    DagsterEventType.RUN_SUCCESS,
    DagsterEventType.RUN_FAILURE,
}


@dataclass
class RunProgress:
    """What a run has done so far, built from its events; ``lines`` are what a person reads."""

    started: dict[str, float] = field(default_factory=dict)  # step key -> start time
    planned: list[str] = field(default_factory=list)
    materialized: list[str] = field(default_factory=list)
    checks_failed: list[str] = field(default_factory=list)  # ERROR severity: blocks what depends on it
    checks_warned: list[str] = field(default_factory=list)  # WARN severity: reported, blocks nothing
    checks_passed: int = 0
    steps_failed: list[str] = field(default_factory=list)
    # Partitioned steps: one line per asset and per check when the step ends, not one per day.
    days: dict[str, dict[str, set[str]]] = field(default_factory=dict)  # step -> asset or check -> days
    run_started: float | None = None
    run_finished: float | None = None

    def add(self, entry: EventLogEntry) -> list[str]:
        """Fold one event in; the lines it prints."""
        event = entry.dagster_event
        if event is None:
            return []
        kind, at, step = event.event_type, entry.timestamp, event.step_key
        if kind == DagsterEventType.RUN_START:
            self.run_started = at
        elif kind == DagsterEventType.STEP_START and step:
            self.started[step] = at
        elif kind == DagsterEventType.ASSET_MATERIALIZATION_PLANNED and event.asset_key:
            self.planned.append(event.asset_key.to_user_string())
        elif kind == DagsterEventType.ASSET_MATERIALIZATION and event.asset_key:
            asset = event.asset_key.to_user_string()
            if event.partition:
                self.days.setdefault(step or "", {}).setdefault(asset, set()).add(event.partition)
                return []
            self.materialized.append(asset)
            return [f"  ok    {asset:<46} {self._took(step, at)}"]
        elif kind == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            name = f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"
            if evaluation.passed:
                self.checks_passed += 1
                if evaluation.partition:
                    self.days.setdefault(step or "", {}).setdefault(f"check {name}", set()).add(evaluation.partition)
                    return []
                return [f"  check {name:<46} {self._took(step, at)}  passed"]
            severity = evaluation.severity.value if evaluation.severity else "ERROR"
            (self.checks_warned if severity == "WARN" else self.checks_failed).append(name)
            lines = [f"  check {name:<46} {self._took(step, at)}  FAILED ({severity})"]
            if evaluation.description:
                lines += [f"        {line}" for line in evaluation.description.splitlines()]
            return lines
        elif kind == DagsterEventType.STEP_SUCCESS and step:
            return self._days_of(step, at)
        elif kind == DagsterEventType.STEP_FAILURE and step:
            self.steps_failed.append(step)
            days = self._days_of(step, at)
            error = event.step_failure_data.error if event.step_failure_data else None
            if error is not None and error.cls_name == "DagsterAssetCheckFailedError":
                # A blocking check failed: its evaluation, printed above, is the whole story.
                return [*days, f"  FAIL  {step:<46} {self._took(step, at)}  (a blocking check failed)"]
            lines = [*days, f"  FAIL  {step:<46} {self._took(step, at)}"]
            if error is not None:
                lines += [f"        {line}" for line in error.to_string().rstrip().splitlines()]
            return lines
        elif kind in (DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_FAILURE):
            self.run_finished = at
        return []

    def _days_of(self, step: str, at: float) -> list[str]:
        """The step's partitioned materializations and passed checks, one line each with its count of days."""
        lines = []
        for name, days in sorted(self.days.pop(step, {}).items()):
            span = f"{len(days)} day{'s' if len(days) > 1 else ''} ({min(days)}..{max(days)})"
            if name.startswith("check "):
                lines.append(f"  check {name[6:]:<46} {self._took(step, at)}  passed: {span}")
            else:
                self.materialized.append(name)
                lines.append(f"  ok    {name:<46} {self._took(step, at)}  {span}")
        return lines

    def _took(self, step: str | None, at: float) -> str:
        start = self.started.get(step or "")
        return f"{at - start:7.1f} s" if start is not None else ""

    def summary(self, returncode: int) -> list[str]:
        skipped = [asset for asset in self.planned if asset not in self.materialized]
        took = (
            f" in {self.run_finished - self.run_started:.0f} s"
            if self.run_started is not None and self.run_finished is not None
            else ""
        )
        verdict = "succeeded" if returncode == 0 else f"FAILED (exit {returncode})"
        lines = [
            f"run {verdict}{took}: {len(self.materialized)} assets materialized, {self.checks_passed} checks passed, "
            f"{len(self.checks_warned)} warned, {len(self.checks_failed)} failed, {len(self.steps_failed)} steps failed"
        ]
        if skipped:
            lines.append(f"  not materialized: {', '.join(skipped)}")
        return lines


@dataclass(frozen=True)
class SelectionRuns:
    """A selection split the way Dagster can run it: the daily-partitioned assets (one run over a range of days,
    first) and the unpartitioned ones (one run, after). One run cannot mix the two."""

    daily: list[str]
    tail: list[str]


def split_selection(defs: Definitions, select: str) -> SelectionRuns:
    """``select`` (``dagster asset materialize --select`` syntax) split into partitioned and unpartitioned keys,
    each in the graph's order."""
    graph = defs.resolve_asset_graph()
    keys = AssetSelection.from_coercible(select.split(",")).resolve(graph)
    ordered = [key for key in graph.toposorted_asset_keys if key in keys]
    daily = [key.to_user_string() for key in ordered if graph.get(key).partitions_def is not None]
    tail = [key.to_user_string() for key in ordered if graph.get(key).partitions_def is None]
    return SelectionRuns(daily, tail)


AUTOMATION_TAGS = ("dagster/sensor_name", "dagster/schedule_name", "dagster/backfill")


def started_run_id(instance: DagsterInstance, known: set[str]) -> str | None:
    """The run the command started: the first new run that no sensor, schedule or backfill started (a daemon
    may start runs in the same instance meanwhile)."""
    runs = [
        run
        for run in instance.get_runs(limit=20)
        if run.run_id not in known and not any(tag in run.tags for tag in AUTOMATION_TAGS)
    ]
    return runs[-1].run_id if runs else None  # newest first: the last is the first started


def follow(
    command: list[str],
    log_path: Path,
    instance: DagsterInstance,
    *,
    write: Callable[[str], Any] = print,
    poll_seconds: float = 0.5,
) -> int:
    """Run ``command`` (a ``dagster asset materialize``) with its output in ``log_path``; print the progress of
    the run it starts. Returns the command's exit code."""
    known = {run.run_id for run in instance.get_runs(limit=20)}
    progress, run_id, cursor = RunProgress(), None, None
    log_path.parent.mkdir(parents=True, exist_ok=True)
    write(f"materializing: {' '.join(command[command.index('--select') + 1 :]) if '--select' in command else ''}")
    write(f"  full Dagster log: {log_path}")
    with log_path.open("ab") as log:
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        while True:
            finished = child.poll() is not None
            run_id = run_id or started_run_id(instance, known)
            if run_id is not None:
                while True:  # every event recorded so far, page by page
                    page = instance.get_records_for_run(run_id, cursor=cursor, of_type=FOLLOWED, limit=500)
                    cursor = page.cursor
                    for record in page.records:
                        for line in progress.add(record.event_log_entry):
                            write(line)
                    if not page.has_more:
                        break
            if finished:
                break
            time.sleep(poll_seconds)
    returncode = child.returncode
    if run_id is None and returncode != 0:
        tail = log_path.read_text(errors="replace")[-3000:]
        write(f"dagster exited with {returncode} before a run started; the end of {log_path}:\n{tail}")
    for line in progress.summary(returncode):
        write(line)
    sys.stdout.flush()
    return returncode


def follow_in_instance(command: list[str], log_path: Path, default_home: Path) -> int:
    """``follow`` in the instance ``DAGSTER_HOME`` names, or in ``default_home`` (created with the local instance
    settings, ``instance.yaml``) when it is unset; the command inherits the same, so its run is recorded where it is
    followed."""
    if not DAGSTER_HOME.is_set():
        default_home.mkdir(parents=True, exist_ok=True)
        settings = default_home / "dagster.yaml"
        if not settings.exists():
            settings.write_text((Path(__file__).parent / "instance.yaml").read_text())
        DAGSTER_HOME.set(str(default_home))
    with DagsterInstance.get() as instance:
        return follow(command, log_path, instance)
