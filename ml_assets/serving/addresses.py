"""Which addresses count as this machine (pure): the local gateway only forwards to, and the replay only sends to,
loopback; a hostname that merely starts with ``127.`` (``127.0.0.1.nip.io``) resolves elsewhere."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"localhost"})


def is_loopback_host(host: str) -> bool:
    """True for a loopback IP literal (127.0.0.0/8, ::1) or ``localhost``; never for a name that resolves later."""
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str, *, schemes: tuple[str, ...] = ("http",)) -> bool:
    """True when ``url`` has one of ``schemes``, a loopback host and nothing that could redirect it (credentials)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        return False
    if parts.scheme not in schemes or parts.username is not None or parts.password is not None:
        return False
    return parts.hostname is not None and is_loopback_host(parts.hostname)
