"""One cache for the book's downloads, every file checked against its SHA-256.

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
    name: str  # the file's name in the cache
    url: str
    sha256: str


def cache_dir() -> Path:
    if "BOOK_DATA_HOME" in os.environ:
        return Path(os.environ["BOOK_DATA_HOME"])
    keras_home = os.environ.get("KERAS_HOME", str(Path.home() / ".keras"))
    return Path(keras_home) / "datasets"


def downloads_allowed() -> bool:
    return os.environ.get("BOOK_DATA_OFFLINE", "") not in ("1", "true", "yes")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(remote: RemoteFile) -> Path:
    """Path of ``remote`` in the cache, downloading it first when allowed."""
    path = cache_dir() / remote.name
    if not path.exists():
        if not downloads_allowed():
            raise DatasetUnavailable(_how_to_fetch(remote, path, "downloads are off (BOOK_DATA_OFFLINE=1)"))
        _download(remote, path)
    actual = sha256_of(path)
    if actual != remote.sha256:
        raise CorruptDataset(
            f"{path}: SHA-256 is {actual}, expected {remote.sha256}; "
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
        if sha256_of(Path(tmp)) != remote.sha256:
            raise CorruptDataset(f"download of {remote.url} does not match SHA-256 {remote.sha256}")
        os.replace(tmp, path)
    except OSError as error:
        raise DatasetUnavailable(_how_to_fetch(remote, path, f"download failed: {error}")) from error
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _how_to_fetch(remote: RemoteFile, path: Path, why: str) -> str:
    return f"{remote.name} is not in the cache ({why}); fetch {remote.url} to {path} (SHA-256 {remote.sha256})"
