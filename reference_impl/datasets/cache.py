"""One cache for the book's downloads, every file checked against its published digest.

The cache is Keras's own (``$KERAS_HOME/datasets``, default ``~/.keras/datasets``),
so a file Keras already fetched is reused; ``BOOK_DATA_HOME`` points elsewhere.
A file whose checksum does not match is an error and is never used. With
``BOOK_DATA_OFFLINE=1`` nothing is downloaded: a missing file raises
:class:`DatasetUnavailable` with the address to fetch and the place to put it.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import secrets
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

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
    """``$BOOK_DATA_HOME`` (``~`` expanded; empty counts as unset), else Keras's own dataset cache."""
    if os.environ.get("BOOK_DATA_HOME", "").strip():
        return Path(os.environ["BOOK_DATA_HOME"].strip()).expanduser()
    keras_home = os.environ.get("KERAS_HOME", str(Path.home() / ".keras"))
    return Path(keras_home).expanduser() / "datasets"


def downloads_allowed() -> bool:
    return os.environ.get("BOOK_DATA_OFFLINE", "").strip().lower() not in ("1", "true", "yes", "on")


def writable_folder(folder: Path) -> Path:
    """``folder``, created if absent; a cache that cannot be written is unavailable data, with the way out."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{secrets.token_hex(4)}"
        probe.touch()
        probe.unlink()
    except OSError as error:
        raise DatasetUnavailable(f"the data cache {folder} cannot be written ({error.strerror or error}): set "
                                 f"BOOK_DATA_HOME to a writable folder") from error
    return folder


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
    fd, tmp = tempfile.mkstemp(dir=writable_folder(path.parent), prefix=f".{remote.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(remote.url, timeout=DOWNLOAD_TIMEOUT_S) as resp:
            for block in iter(lambda: resp.read(1 << 20), b""):
                out.write(block)
        # Checked before it takes the cached name, so a bad download never looks cached.
        received = digest_of(Path(tmp), remote.algorithm)
        if received != remote.digest:
            raise DatasetUnavailable(_how_to_fetch(
                remote, path, f"the download of {os.path.getsize(tmp):,} bytes has {_label(remote)} {received}: cut "
                              f"short, or not the published file"))
        os.replace(tmp, path)
    except (OSError, http.client.HTTPException) as error:  # IncompleteRead is an HTTPException
        raise DatasetUnavailable(_how_to_fetch(remote, path, f"download failed: {error!r}")) from error
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def build_tree_once(final: Path, write: Callable[[Path], dict], counts: Callable[[Path], dict],
                    manifest_name: str = "manifest.json", adopt: Callable[[dict], bool] | None = None) -> dict:
    """The manifest of the tree at ``final``, which this tool builds from a cached source: ``write(tmp)``
    fills a temporary sibling and returns facts, to which ``counts(tmp)`` (files per folder) is added.

    A tree is used only while it holds the counts its manifest records: one altered since (files
    deleted), or without a manifest, is built again, and replaced only once the new tree is whole, so
    a rebuild that cannot happen (its source is not cached) loses nothing. If another process renamed
    its copy first, that one is used. ``adopt`` keeps a tree that has no manifest (one built before
    trees had them) when its counts say it is whole: it gets its manifest instead of a rebuild, which
    would need a source its user may since have deleted."""
    manifest = final / manifest_name
    if adopt is not None and final.is_dir() and not manifest.exists() and adopt(counts(final)):
        manifest.write_text(json.dumps({"adopted": True, "counts": counts(final)}, indent=1))

    def intact() -> dict | None:
        if not manifest.exists():
            return None
        facts = json.loads(manifest.read_text())
        return facts if counts(final) == facts.get("counts") else None

    facts = intact()
    if facts is not None:
        return facts
    tmp = Path(tempfile.mkdtemp(dir=writable_folder(final.parent), prefix=f".{final.name}."))
    stale = final.with_name(f".{final.name}.stale-{secrets.token_hex(4)}")
    try:
        facts = write(tmp)
        facts["counts"] = counts(tmp)
        (tmp / manifest_name).write_text(json.dumps(facts, indent=1))
        if intact() is None:  # another process may have finished first: then its tree stands
            try:
                if final.exists():
                    os.rename(final, stale)
                os.rename(tmp, final)
            except OSError:
                if intact() is None:  # not a lost race with another worker: something else is in the way
                    raise
    finally:
        for leftover in (tmp, stale):
            if leftover.exists():
                shutil.rmtree(leftover)
    facts = intact()
    if facts is None:
        raise CorruptDataset(f"{final}: the tree just built does not hold the files its manifest counts")
    return facts


def files_per_folder(root: Path, suffix: str | tuple[str, ...]) -> dict[str, int]:
    """``<folder>`` (relative to ``root``) → how many ``suffix`` files it holds (any of them, given several),
    for every folder that holds one."""
    found: dict[str, int] = {}
    for folder, _, names in os.walk(root):
        count = sum(name.endswith(suffix) for name in names)
        if count:
            found[str(Path(folder).relative_to(root))] = count
    return dict(sorted(found.items()))


def _how_to_fetch(remote: RemoteFile, path: Path, why: str) -> str:
    return f"{remote.name} is not in the cache ({why}); fetch {remote.url} to {path} ({_label(remote)} {remote.digest})"


def _label(remote: RemoteFile) -> str:
    return "SHA-256" if remote.algorithm == "sha256" else "MD5"
