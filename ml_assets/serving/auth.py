"""API keys for scoring clients: where the accepted keys are kept, and the check a server makes on each request.

A scoring client sends ``Authorization: Bearer <key>``. The server keeps only the SHA-256 digests of the accepted
keys and compares digests in constant time, so neither a key nor its length leaks through timing. The keys live in
one place the operator controls (``ML_ASSETS_SCORING_KEYS``):

- ``secretsmanager:<secret name or ARN>`` on AWS: the secret's value is ``{"keys": ["...", "..."]}``; the task
  role may read that one secret and nothing else;
- ``file:<path>`` locally: one key per line, the file readable by its owner only (like an ssh private key).

Several keys are accepted at once, so a key is rotated without downtime: add the new key first in the list, move
clients to it, then remove the old one. Servers re-read the list every ``refresh_seconds``; a failed re-read keeps
the keys they have (and says so) rather than locking every client out. The first key is the one the pipeline's own
checks present (smoke, integration and load tests, golden records).
"""

from __future__ import annotations

import errno
import hashlib
import hmac
import json
import logging
import os
import stat
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path

from ml_assets.environment_variables import SCORING_KEYS
from ml_assets.serving.addresses import is_loopback_host

log = logging.getLogger(__name__)

SCHEME = "Bearer"


class KeyConfigError(ValueError):
    """The key source cannot be used: the message names it and what is wrong."""


class KeySource(ABC):
    """Where the accepted API keys are kept."""

    @abstractmethod
    def load(self) -> list[str]:
        """The keys accepted now, newest first; raises KeyConfigError naming the source when it cannot be read."""

    @abstractmethod
    def describe(self) -> str:
        """The source, for messages (never a key)."""


class KeyFile(KeySource):
    """A local file, one key per line; refused unless only its owner can read it and it is not a link."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def describe(self) -> str:
        return f"file:{self.path}"

    def load(self) -> list[str]:
        # opened without following a link, and the mode checked on what was opened: nothing can be swapped between
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)  # a FIFO must not block
        except OSError as error:
            reason = "a symbolic link" if error.errno == errno.ELOOP else error.strerror
            raise KeyConfigError(f"scoring keys {self.describe()}: {reason}") from None
        with os.fdopen(fd, "rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if not stat.S_ISREG(mode):
                raise KeyConfigError(f"scoring keys {self.describe()} is not a regular file")
            if mode & 0o077:
                raise KeyConfigError(
                    f"scoring keys {self.describe()} is mode {mode & 0o777:o}: keys must be in a file of mode 600"
                )
            try:
                text = handle.read().decode("ascii")
            except UnicodeDecodeError:
                raise KeyConfigError(f"scoring keys {self.describe()}: not ASCII text") from None
        return _keys(text.splitlines(), self.describe())


class SecretsManagerKeys(KeySource):
    """An AWS Secrets Manager secret whose value is ``{"keys": [...]}``."""

    def __init__(self, secret_id: str, *, read: Callable[[str], str] | None = None) -> None:
        self.secret_id = secret_id
        self._read = read or _read_secret

    def describe(self) -> str:
        return f"secretsmanager:{self.secret_id}"

    def load(self) -> list[str]:
        try:
            value = json.loads(self._read(self.secret_id))
        except json.JSONDecodeError:
            raise KeyConfigError(f"scoring keys {self.describe()}: the secret is not JSON") from None
        except RuntimeError as error:  # AwsError: names the call and what AWS said
            raise KeyConfigError(f"scoring keys {self.describe()}: {error}") from None
        if not isinstance(value, dict) or not isinstance(value.get("keys"), list):
            raise KeyConfigError(f'scoring keys {self.describe()}: the secret must be {{"keys": ["...", ...]}}')
        return _keys(value["keys"], self.describe())


def _read_secret(secret_id: str) -> str:
    from ml_assets.resources.aws.session import AwsClientResource

    answer = AwsClientResource().call("secretsmanager", "get_secret_value", f"secret {secret_id}", SecretId=secret_id)
    return answer["SecretString"]


MIN_KEY_LENGTH = 16


def _keys(values: list, source: str) -> list[str]:
    if not all(isinstance(value, str) for value in values):
        raise KeyConfigError(f"scoring keys {source}: every key must be a string")
    keys = [value.strip() for value in values if value.strip()]
    weak = [i for i, key in enumerate(keys) if len(key) < MIN_KEY_LENGTH or not key.isascii() or " " in key]
    if weak:
        raise KeyConfigError(
            f"scoring keys {source}: key {weak[0] + 1} is shorter than {MIN_KEY_LENGTH} characters or not "
            "printable ASCII without spaces (make one: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return keys


SOURCES: dict[str, Callable[[str], KeySource]] = {"file": KeyFile, "secretsmanager": SecretsManagerKeys}


def open_key_source(spec: str) -> KeySource:
    """The source a ``scheme:location`` names (``file:...``, ``secretsmanager:...``)."""
    scheme, _, location = spec.partition(":")
    if scheme not in SOURCES or not location:
        raise KeyConfigError(f"scoring keys {spec!r}: expected {' or '.join(f'{s}:<location>' for s in SOURCES)}")
    return SOURCES[scheme](location)


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class ApiKeys:
    """The check a server makes: is this Authorization header a current key? ``refresh`` re-reads the list (the
    servers call it every ``ML_ASSETS_SCORING_KEYS_REFRESH_SECONDS``, off their event loop)."""

    def __init__(self, source: KeySource) -> None:
        self.source = source
        keys = source.load()  # at start a source that cannot be read is an error, not an open server
        if not keys:
            raise KeyConfigError(f"scoring keys {source.describe()}: no key, every client would be refused")
        self._set(keys)

    def _set(self, keys: list[str]) -> None:
        self._digests = [digest(key) for key in keys]
        self._client_key = keys[0] if keys else ""

    def refresh(self) -> None:
        """Re-read the keys; keep the ones read before if the source cannot be read now."""
        try:
            keys = self.source.load()
        except KeyConfigError as error:
            log.error("%s; keeping the %d keys read before", error, len(self._digests))
            return
        if not keys:
            log.error("scoring keys %s: the list is empty, every client is refused", self.source.describe())
        self._set(keys)

    def accepts(self, authorization: str | None) -> bool:
        """Whether ``authorization`` (the header's value) is ``Bearer <a current key>``."""
        scheme, _, presented = (authorization or "").partition(" ")
        if scheme.lower() != SCHEME.lower() or not presented.strip():
            return False
        presented_digest = hashlib.sha256(presented.strip().encode("utf-8", "surrogateescape")).digest()
        matches = [hmac.compare_digest(presented_digest, known) for known in self._digests]  # every one, always
        return any(matches)

    def client_headers(self) -> dict[str, str]:
        """The header the pipeline's own requests carry (the newest key)."""
        return {"Authorization": f"{SCHEME} {self._client_key}"}


def client_headers(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """What the pipeline's own scoring requests carry: the newest API key when ``ML_ASSETS_SCORING_KEYS`` is set,
    nothing otherwise."""
    spec = SCORING_KEYS.get(environ)
    return ApiKeys(open_key_source(spec)).client_headers() if spec else {}


def server_keys(environ: Mapping[str, str] | None = None) -> ApiKeys | None:
    """The keys a server asks for, from ``ML_ASSETS_SCORING_KEYS`` (None when it is unset)."""
    spec = SCORING_KEYS.get(environ)
    return ApiKeys(open_key_source(spec)) if spec else None


class ExposureError(ValueError):
    """A server asked to listen beyond this machine with nobody to check who calls it."""


def check_exposure(host: str, keys: ApiKeys | None, *, allow_unauthenticated: bool, what: str) -> None:
    """Refuse to bind ``what`` to a non-loopback ``host`` without API keys, unless the operator says so."""
    if keys is None and not allow_unauthenticated and not is_loopback_host(host):
        raise ExposureError(
            f"{what} would listen on {host} with no API keys: anyone who reaches it could score (and probe) the "
            "model. "
            f"Set {SCORING_KEYS.name} (file:<path> or secretsmanager:<id>), bind to 127.0.0.1, or pass "
            "--allow-unauthenticated if something in front of it authenticates clients"
        )
