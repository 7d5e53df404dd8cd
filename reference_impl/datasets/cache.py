"""One cache for the book's downloads, every file checked against its published digest.

The cache is Keras's own (``$KERAS_HOME/datasets``, default ``~/.keras/datasets``),
so a file Keras already fetched is reused; ``BOOK_DATA_HOME`` points elsewhere.
A file whose checksum does not match is an error and is never used. With
``BOOK_DATA_OFFLINE=1`` nothing is downloaded: a missing file raises
:class:`DatasetUnavailable` with the address to fetch and the place to put it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from reference_impl.api import DatasetUnavailable

DOWNLOAD_TIMEOUT_S = 60


class CorruptDataset(Exception):
    """A cached file exists but its checksum is wrong."""


@dataclass(frozen=True)
class RemoteFile:
    """A download and the digest it is checked against: SHA-256 where one is known;
    MD5 only for files whose publisher gives nothing stronger (Keras's word indexes)."""

    name: str  # the file's name in the cache
    url: str
    sha256: str = ""
    md5: str = ""

    def __post_init__(self) -> None:
        if not (self.sha256 or self.md5):
            raise ValueError(f"{self.name}: a cached download needs a SHA-256 (or, failing that, an MD5)")

    @property
    def algorithm(self) -> str:
        return "sha256" if self.sha256 else "md5"

    @property
    def digest(self) -> str:
        return self.sha256 or self.md5


def cache_dir() -> Path:
    if "BOOK_DATA_HOME" in os.environ:
        return Path(os.environ["BOOK_DATA_HOME"])
    keras_home = os.environ.get("KERAS_HOME", str(Path.home() / ".keras"))
    return Path(keras_home) / "datasets"


def downloads_allowed() -> bool:
    return os.environ.get("BOOK_DATA_OFFLINE", "") not in ("1", "true", "yes")


def digest_of(path: Path, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    return digest_of(path, "sha256")


def fetch(remote: RemoteFile, folder: Path | None = None) -> Path:
    """Path of ``remote`` in the cache (or ``folder``), downloading it first when allowed."""
    path = (folder or cache_dir()) / remote.name
    if not path.exists():
        if not downloads_allowed():
            raise DatasetUnavailable(_how_to_fetch(remote, path, "downloads are off (BOOK_DATA_OFFLINE=1)"))
        _download(remote, path)
    actual = digest_of(path, remote.algorithm)
    if actual != remote.digest:
        raise CorruptDataset(
            f"{path}: {_label(remote)} is {actual}, expected {remote.digest}; "
            f"delete the file and fetch it again from {remote.url}"
        )
    return path


def _download(remote: RemoteFile, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{remote.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(remote.url, timeout=DOWNLOAD_TIMEOUT_S) as resp:
            for block in iter(lambda: resp.read(1 << 20), b""):
                out.write(block)
        # Checked before it takes the cached name, so a bad download never looks cached.
        if digest_of(Path(tmp), remote.algorithm) != remote.digest:
            raise CorruptDataset(f"download of {remote.url} does not match {_label(remote)} {remote.digest}")
        os.replace(tmp, path)
    except OSError as error:
        raise DatasetUnavailable(_how_to_fetch(remote, path, f"download failed: {error}")) from error
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _how_to_fetch(remote: RemoteFile, path: Path, why: str) -> str:
    return f"{remote.name} is not in the cache ({why}); fetch {remote.url} to {path} ({_label(remote)} {remote.digest})"


def _label(remote: RemoteFile) -> str:
    return "SHA-256" if remote.algorithm == "sha256" else "MD5"
