"""Judging security-scan results (pure: the reports come in as parsed JSON).

Bandit: a medium or high finding blocks, unless the line says ``# nosec <ID>`` *and* gives a reason in a comment
beside it; so does a file bandit could not analyse. pip-audit: a known vulnerability blocks; an audit that could
not reach its advisory database for some package, or had no pinned set to read, is "not run" (a warning), never a
pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

SEVERITIES = ("LOW", "MEDIUM", "HIGH")
NOSEC = re.compile(r"#\s*nosec\b(?P<rest>.*)$")


@dataclass(frozen=True)
class Finding:
    test_id: str
    severity: str
    confidence: str
    location: str
    text: str

    def __str__(self) -> str:
        return f"{self.location} {self.test_id} ({self.severity}/{self.confidence}): {self.text}"


def bandit_findings(report: dict[str, Any], root: Path, min_severity: str = "MEDIUM") -> list[Finding]:
    """Findings at or above ``min_severity`` (bandit has already dropped the lines marked ``nosec``)."""
    floor = SEVERITIES.index(min_severity)
    return [
        Finding(
            result["test_id"],
            result["issue_severity"],
            result["issue_confidence"],
            f"{_relative(result['filename'], root)}:{result['line_number']}",
            result["issue_text"],
        )
        for result in report.get("results", [])
        if SEVERITIES.index(result["issue_severity"]) >= floor
    ]


def bandit_unscanned(report: dict[str, Any], root: Path) -> list[str]:
    """The files bandit could not analyse (a syntax error, an encoding it cannot read): code nobody scanned must not
    pass as clean."""
    return [
        f"{_relative(error['filename'], root)}: not scanned by bandit ({error.get('reason', 'unknown error')})"
        for error in report.get("errors", [])
    ]


def unjustified_nosec(files: dict[str, str]) -> list[str]:
    """``file:line`` of every ``# nosec`` that names no test id or gives no reason (a second comment)."""
    problems = []
    for name, text in files.items():
        for number, comment in _comments(text):
            match = NOSEC.search(comment)
            if match is None:
                continue
            ids, _, reason = match.group("rest").partition("#")
            if not re.search(r"\bB\d{3}\b", ids) or len(reason.strip()) < 10:
                problems.append(f"{name}:{number}: '# nosec' needs a test id and a reason: # nosec B123  # why")
    return problems


def _comments(text: str) -> list[tuple[int, str]]:
    """(line, text) of each comment from the line's first '#' token on; strings that mention nosec do not count."""
    import io
    import tokenize

    found: dict[int, str] = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT:
                line = token.start[0]
                found[line] = token.string if line not in found else found[line] + " " + token.string
    except (tokenize.TokenError, SyntaxError):
        return [(n, line[line.index("#") :]) for n, line in enumerate(text.splitlines(), 1) if "#" in line]
    return sorted(found.items())


def _relative(filename: str, root: Path) -> str:
    try:
        return str(Path(filename).resolve().relative_to(root.resolve().parent))
    except ValueError:
        return filename


AuditStatus = Literal["passed", "vulnerable", "not_run"]


@dataclass(frozen=True)
class AuditOutcome:
    status: AuditStatus
    summary: str
    vulnerabilities: list[str] = field(default_factory=list)
    audited: int = 0
    unaudited: list[str] = field(default_factory=list)


def audit_outcome(report: dict[str, Any] | None, error: str | None = None) -> AuditOutcome:
    """Judge a pip-audit JSON report; ``error`` when pip-audit itself could not run or reach its database."""
    if report is None:
        return AuditOutcome("not_run", f"dependency audit not run: {error or 'no report'}")
    dependencies = report.get("dependencies", [])
    unaudited = [f"{d['name']}: {d['skip_reason']}" for d in dependencies if d.get("skip_reason")]
    audited = [d for d in dependencies if not d.get("skip_reason")]
    vulnerabilities = [
        f"{d['name']} {d['version']}: {v['id']}"
        + (f" (fixed in {', '.join(v['fix_versions'])})" if v.get("fix_versions") else "")
        for d in audited
        for v in d.get("vulns", [])
    ]
    if vulnerabilities:
        return AuditOutcome(
            "vulnerable",
            f"{len(vulnerabilities)} known vulnerabilities in {len(audited)} audited packages",
            vulnerabilities,
            len(audited),
            unaudited,
        )
    if unaudited or not audited:
        return AuditOutcome(
            "not_run",
            f"dependency audit not run for {len(unaudited)} of {len(dependencies)} packages "
            "(the advisory database could not be reached or does not know them)",
            [],
            len(audited),
            unaudited,
        )
    return AuditOutcome("passed", f"no known vulnerabilities in {len(audited)} packages", [], len(audited))
