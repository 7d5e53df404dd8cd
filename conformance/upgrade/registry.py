"""Released versions of a package, and which of them this Python can install.

A registry answers one question, :meth:`Registry.releases`: every released version of a package
with, for each, the reason this interpreter cannot install it (``None`` when it can, as far as the
listing tells). Two registries:

* :class:`PyPIRegistry` reads PyPI's JSON API (``https://pypi.org/pypi/<name>/json``). A version is
  skipped when all its files are yanked, when no file's ``Requires-Python`` admits this Python, or
  when it has no wheel for this platform and no source distribution.
* :class:`LocalRegistry` lists the wheels and source distributions in a folder (a local build, a
  mirror, the tests' planted releases); pip installs them with ``--find-links <folder>``.

A test replaces the registry with anything that has a ``releases`` method. Release-notes links are
only printed, never fetched (:func:`release_notes_url`).
"""

from __future__ import annotations

import email.parser
import json
import platform
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Protocol

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag, sys_tags
from packaging.utils import (InvalidSdistFilename, InvalidWheelFilename, canonicalize_name, parse_sdist_filename,
                             parse_wheel_filename)
from packaging.version import InvalidVersion, Version

from conformance.errors import ConformanceError

PYPI = "https://pypi.org/pypi"
RELEASE_NOTES = {
    "keras": "https://github.com/keras-team/keras/releases/tag/v{version}",
    "tensorflow": "https://github.com/tensorflow/tensorflow/releases/tag/v{version}",
    "tensorflow-cpu": "https://github.com/tensorflow/tensorflow/releases/tag/v{version}",
    "jax": "https://github.com/jax-ml/jax/releases/tag/jax-v{version}",
    "jaxlib": "https://github.com/jax-ml/jax/releases/tag/jax-v{version}",
}


@dataclass(frozen=True)
class Release:
    version: Version
    skip_reason: str | None = None  # why this Python cannot install it; None: installable as far as we know

    @property
    def installable(self) -> bool:
        return self.skip_reason is None


class Registry(Protocol):
    def releases(self, name: str) -> list[Release]:
        """Every released version of ``name``, oldest first."""


@dataclass(frozen=True)
class FileInfo:
    """What a registry says about one file of a release."""

    filename: str
    requires_python: str | None = None
    yanked: bool = False
    yanked_reason: str | None = None


def release_notes_url(name: str, version: Version | str) -> str:
    """The release notes of ``name`` ``version``: GitHub releases for Keras, TensorFlow and JAX, PyPI otherwise."""
    template = RELEASE_NOTES.get(canonicalize_name(name))
    if template:
        return template.format(version=version)
    return f"https://pypi.org/project/{canonicalize_name(name)}/{version}/"


def python_version() -> str:
    return platform.python_version()


def skip_reason(files: list[FileInfo], python: str | None = None, tags: Iterable[Tag] | None = None) -> str | None:
    """Why none of ``files`` installs on this interpreter (``python``, platform ``tags``), or None."""
    python = python or python_version()
    supported = set(sys_tags() if tags is None else tags)
    if not files:
        return "no files on the registry"
    live = [f for f in files if not f.yanked]
    if not live:
        reasons = sorted({f.yanked_reason for f in files if f.yanked_reason})
        return "yanked" + (f" ({'; '.join(reasons)})" if reasons else "")
    admitted = [f for f in live if _admits(f.requires_python, python)]
    if not admitted:
        wanted = sorted({f.requires_python for f in live if f.requires_python})
        return f"requires Python {' or '.join(wanted)} (this is {python})"
    for f in admitted:
        if f.filename.endswith(".whl"):
            try:
                if set(parse_wheel_filename(f.filename)[3]) & supported:
                    return None
            except InvalidWheelFilename:
                continue
        else:  # a source distribution: pip may be able to build it
            return None
    return f"no wheel for this platform ({next(iter(sys_tags()))}) and no source distribution"


def _admits(requires_python: str | None, python: str) -> bool:
    if not requires_python:
        return True
    try:
        return SpecifierSet(requires_python).contains(python, prereleases=True)
    except InvalidSpecifier:
        return True  # a malformed constraint: let pip decide


def _versions(by_version: dict[str, list[FileInfo]]) -> list[Release]:
    releases = []
    for text, files in by_version.items():
        try:
            version = Version(text)
        except InvalidVersion:
            continue  # legacy version strings cannot be ordered; pip ignores them too
        releases.append(Release(version, skip_reason(files)))
    return sorted(releases, key=lambda r: r.version)


class PyPIRegistry:
    """Releases from PyPI's JSON API (or another server that speaks it)."""

    def __init__(self, url: str = PYPI, timeout_s: float = 60) -> None:
        self.url, self.timeout_s = url.rstrip("/"), timeout_s

    def releases(self, name: str) -> list[Release]:
        url = f"{self.url}/{canonicalize_name(name)}/json"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout_s) as response:
                document = json.load(response)
        except urllib.error.HTTPError as error:
            if error.code == 404:
                raise ConformanceError(f"no package named {name!r} on {self.url}") from error
            raise ConformanceError(f"cannot list the releases of {name} from {url}: {error}") from error
        except (urllib.error.URLError, TimeoutError, OSError, json.JSONDecodeError) as error:
            raise ConformanceError(f"cannot list the releases of {name} from {url}: {error}") from error
        return self.parse(document)

    @staticmethod
    def parse(document: dict[str, Any]) -> list[Release]:
        """The releases in a JSON API document (``{"releases": {version: [file, ...]}}``)."""
        by_version = {
            text: [FileInfo(f.get("filename", ""), f.get("requires_python") or None, bool(f.get("yanked")),
                            f.get("yanked_reason") or None) for f in files]
            for text, files in (document.get("releases") or {}).items()
        }
        return _versions(by_version)


class LocalRegistry:
    """Releases in a folder of wheels and source distributions (installed with ``--find-links``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise ConformanceError(f"registry folder {self.folder} does not exist")

    def releases(self, name: str) -> list[Release]:
        wanted = canonicalize_name(name)
        by_version: dict[str, list[FileInfo]] = {}
        for path in sorted(self.folder.iterdir()):
            found = _parse_filename(path.name)
            if found is None or found[0] != wanted:
                continue
            requires = _wheel_requires_python(path) if path.name.endswith(".whl") else None
            by_version.setdefault(str(found[1]), []).append(FileInfo(path.name, requires))
        if not by_version:
            raise ConformanceError(f"no release of {name!r} in {self.folder}")
        return _versions(by_version)


def _parse_filename(filename: str) -> tuple[str, Version] | None:
    try:
        if filename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(filename)
        elif filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
        else:
            return None
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
    return str(name), version


def _wheel_requires_python(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as wheel:
            metadata = next((n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")), None)
            if metadata is None:
                return None
            headers = email.parser.Parser().parsestr(wheel.read(metadata).decode("utf-8", "replace"), headersonly=True)
    except (OSError, zipfile.BadZipFile):
        return None
    return headers.get("Requires-Python") or None


def between(releases: list[Release], good: str, bad: str, *, pre: bool = False) -> list[Release]:
    """The releases from ``good`` to ``bad`` inclusive, oldest first (either may be the older one).
    Pre-releases are left out unless ``pre`` or they are an endpoint; an endpoint that was never
    released is an error naming the releases nearby."""
    try:
        ends = Version(good), Version(bad)
    except InvalidVersion as error:
        raise ConformanceError(f"not a version: {error}") from error
    if ends[0] == ends[1]:
        raise ConformanceError(f"--good and --bad are the same version ({good})")
    known = {r.version for r in releases}
    for label, version in zip(("--good", "--bad"), ends):
        if version not in known:
            nearby = sorted(known, key=lambda v: abs(_ordinal(v) - _ordinal(version)))[:5]
            raise ConformanceError(f"{label} {version} is not a release; nearby: "
                                   f"{', '.join(str(v) for v in sorted(nearby))}")
    low, high = sorted(ends)
    return [r for r in releases
            if low <= r.version <= high and (pre or not r.version.is_prerelease or r.version in ends)]


def _ordinal(version: Version) -> float:
    parts = (list(version.release) + [0, 0, 0])[:3]
    return parts[0] * 1e6 + parts[1] * 1e3 + parts[2]
