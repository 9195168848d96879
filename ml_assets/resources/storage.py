"""Where files live: a local folder or an S3 prefix, behind one small interface.

Landing data, asset values and rollout states use it, so the same code runs on a laptop (the state folder) and
on AWS (``s3://bucket/prefix``, through dagster-aws's S3Resource: region, endpoint and credentials from the
usual AWS settings). Writes are whole-object: a reader never sees a partial file.
"""

from __future__ import annotations

import errno
import mimetypes
import os
import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, ClassVar
from urllib.parse import urlencode

from ml_assets.environment_variables import AWS_ENDPOINT_URL


@dataclass(frozen=True)
class StoredObject:
    name: str  # relative to the store
    size: int
    version: str  # changes whenever the content may have changed (mtime and size, or the S3 ETag)


class ObjectStore(ABC):
    """Whole objects under one location. A backend is a subclass naming the URL scheme it serves; ``open_store``
    picks it by the location's scheme."""

    scheme: ClassVar[str]  # the URL scheme this backend serves ("" for a plain folder path)
    url: str

    @classmethod
    @abstractmethod
    def from_url(cls, url: str) -> ObjectStore:
        """The store at ``url`` (a URL of this backend's scheme)."""

    @abstractmethod
    def list(self, prefix: str = "", start_after: str = "") -> list[StoredObject]:
        """Objects directly under ``prefix`` (not in sub-folders), by name; hidden names (``.x``) left out; only
        names after ``start_after`` when given (S3 then lists only those)."""

    @abstractmethod
    def read(self, name: str) -> bytes:
        """The object's bytes; FileNotFoundError when it does not exist."""

    @abstractmethod
    def read_tail(self, name: str, size: int) -> bytes:
        """The object's last ``size`` bytes (all of it when it is shorter): a file format's footer without the rest
        (one ranged GET on S3); FileNotFoundError when it does not exist."""

    @abstractmethod
    def write(self, name: str, data: bytes) -> None:
        """Store ``data`` as ``name`` in one piece: a reader sees the old object or the new one, never a part."""

    @abstractmethod
    def create(self, name: str, data: bytes) -> None:
        """Store ``data`` as a new object ``name``, in one piece; ObjectExistsError, and nothing written, when one
        is there already (checked by the store itself: no window between a look and the write)."""

    @abstractmethod
    def delete(self, name: str) -> None:
        """Remove the object if it exists."""

    @abstractmethod
    def link(self, name: str) -> str:
        """A URL a person can open for the object: a file:// URL on this machine, the S3 console for S3."""


class ObjectExistsError(FileExistsError):
    """``create`` found an object of that name."""


class UnsafePathError(ValueError):
    """A name that leaves a local store or goes through a symbolic link in it."""


def private_folder(path: Path) -> Path:
    """``path`` as a folder, each level this creates readable by its owner only (0700): state folders hold tokens,
    rollout states and data. Folders that exist keep their permissions."""
    missing = []
    for level in [path, *path.parents]:
        if level.exists():
            break
        missing.append(level)
    for level in reversed(missing):
        level.mkdir(mode=0o700, exist_ok=True)
    return path


def write_atomically(target: Path, data: bytes, *, replace: bool = True) -> None:
    """Replace ``target`` with ``data`` in one step, through a temporary file of its own in the same folder
    (``mkstemp``: an unpredictable name, created exclusively, mode 0600 like the folders), so a reader sees the
    old content or the new one and nobody can plant a link where it writes. ``replace`` False: only if there is
    no ``target`` yet (a hard link, which the file system refuses over an existing name)."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        if replace:
            os.replace(tmp, target)
        else:
            os.link(tmp, target)
            os.unlink(tmp)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class LocalStore(ObjectStore):
    """A folder on this machine. Names stay inside it: a name with ``..``, an absolute one or one that passes
    through a symbolic link inside the folder is refused (the folder itself may be a link); writes are
    ``write_atomically``."""

    scheme = ""

    @classmethod
    def from_url(cls, url: str) -> LocalStore:
        return cls(url.removeprefix("file://"))

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.url = str(self.root)

    def _path(self, name: str) -> Path:
        relative = PurePosixPath(name)
        if not relative.parts or relative.is_absolute() or ".." in relative.parts:
            raise UnsafePathError(f"{self.url}: the name {name!r} is outside the store")
        path = self.root
        for depth, part in enumerate(relative.parts, start=1):
            path = path / part
            if path.is_symlink():
                last = depth == len(relative.parts)
                where = "is a symbolic link" if last else f"goes through the symbolic link {path}"
                raise UnsafePathError(f"{self.url}: {name!r} {where} (not followed)")
        return path

    def list(self, prefix: str = "", start_after: str = "") -> list[StoredObject]:
        folder = self._path(prefix) if prefix else self.root
        if not folder.is_dir():
            return []
        objects = []
        for path in sorted(folder.iterdir()):
            if path.name.startswith(".") or not (path.is_symlink() or path.is_file()):
                continue
            name = str(path.relative_to(self.root))
            if name <= start_after:
                continue
            # A link is listed (so that it is named when read), with its own size and time, not its target's.
            stat = path.lstat()
            objects.append(StoredObject(name, stat.st_size, f"{stat.st_mtime_ns}-{stat.st_size}"))
        return objects

    def _open(self, name: str) -> BinaryIO:
        try:
            fd = os.open(self._path(name), os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise UnsafePathError(f"{self.url}: {name!r} is a symbolic link (not followed)") from None
            raise
        return os.fdopen(fd, "rb")

    def read(self, name: str) -> bytes:
        with self._open(name) as handle:
            return handle.read()

    def read_tail(self, name: str, size: int) -> bytes:
        with self._open(name) as handle:
            handle.seek(max(os.fstat(handle.fileno()).st_size - size, 0))
            return handle.read()

    def write(self, name: str, data: bytes) -> None:
        target = self._path(name)
        private_folder(target.parent)
        write_atomically(target, data)

    def create(self, name: str, data: bytes) -> None:
        target = self._path(name)
        private_folder(target.parent)
        try:
            write_atomically(target, data, replace=False)
        except FileExistsError:
            raise ObjectExistsError(f"{self.url}/{name} exists") from None

    def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)

    def link(self, name: str) -> str:
        return self._path(name).absolute().as_uri()


class S3Store(ObjectStore):
    """A prefix in an S3 bucket (dagster-aws's S3Resource: region, endpoint and credentials from the usual AWS
    settings)."""

    scheme = "s3"

    @classmethod
    def from_url(cls, url: str) -> S3Store:
        from dagster_aws.s3 import S3Resource

        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        if not bucket:
            raise ValueError(f"an S3 location needs a bucket: {url!r}")
        return cls(S3Resource(endpoint_url=AWS_ENDPOINT_URL.get()).get_client(), bucket, prefix)

    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self.client, self.bucket, self.prefix = client, bucket, prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/")

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def list(self, prefix: str = "", start_after: str = "") -> list[StoredObject]:
        base = self._key(prefix).rstrip("/")
        base = f"{base}/" if base else ""
        objects = []
        after = {"StartAfter": self._key(start_after)} if start_after else {}
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=base, Delimiter="/", **after
        ):
            for item in page.get("Contents", []):
                name = item["Key"][len(self.prefix) + 1 :] if self.prefix else item["Key"]
                if not name.rsplit("/", 1)[-1].startswith(".") and not item["Key"].endswith("/"):
                    objects.append(StoredObject(name, item["Size"], item["ETag"].strip('"')))
        return sorted(objects, key=lambda o: o.name)

    def read(self, name: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(name))["Body"].read()
        except self.client.exceptions.NoSuchKey:
            raise FileNotFoundError(f"{self.url}/{name}") from None

    def read_tail(self, name: str, size: int) -> bytes:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._key(name), Range=f"bytes=-{size}")
        except self.client.exceptions.NoSuchKey:
            raise FileNotFoundError(f"{self.url}/{name}") from None
        return answer["Body"].read()

    def write(self, name: str, data: bytes) -> None:
        # A content type, so that a report opened from S3 renders (HTML, PNG) instead of downloading.
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        self.client.put_object(Bucket=self.bucket, Key=self._key(name), Body=data, ContentType=content_type)

    def create(self, name: str, data: bytes) -> None:
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        try:  # S3's conditional write: refused by S3 itself when the key exists
            self.client.put_object(
                Bucket=self.bucket, Key=self._key(name), Body=data, ContentType=content_type, IfNoneMatch="*"
            )
        except self.client.exceptions.ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise ObjectExistsError(f"{self.url}/{name} exists") from None
            raise

    def delete(self, name: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(name))

    def link(self, name: str) -> str:
        """The object in the S3 console (opens for anyone signed in to the account with access to it)."""
        region = self.client.meta.region_name
        query = urlencode({"region": region, "prefix": self._key(name)})
        return f"https://s3.console.aws.amazon.com/s3/object/{self.bucket}?{query}"


def open_store(url: str) -> ObjectStore:
    """The store for ``url``: a folder path (or file:// URL) or ``s3://bucket/prefix``."""
    scheme = url.partition("://")[0] if "://" in url else ""
    backends = {backend.scheme: backend for backend in ObjectStore.__subclasses__()}
    backend = backends.get("" if scheme == "file" else scheme)
    if backend is None:
        known = ", ".join(f"{name}://" for name in sorted(backends) if name)
        raise ValueError(f"unsupported storage location {url!r}: use a folder or one of {known}")
    return backend.from_url(url)
