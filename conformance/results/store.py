"""The results store: ``results/<profile-id>/<run-id>.json``.

One file per run holds ``profile`` (with ``id``), ``settings`` and ``examples``. Workers
add their examples as they finish: each update takes an exclusive lock on a sibling
``.lock`` file, reads the run, adds the entry and replaces the file atomically
(write to a temporary file, fsync, ``os.replace``). A crash mid-write leaves the
previous version whole; a file that is not valid JSON is reported with its path,
never overwritten.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any, Iterator

RESULTS_SCHEMA_VERSION = 1


class CorruptResults(Exception):
    pass


def new_run_id(tier: str, backend: str) -> str:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{tier}-{backend}-{secrets.token_hex(3)}"


def run_path(results_dir: Path | str, profile_id: str, run_id: str) -> Path:
    return Path(results_dir) / profile_id / f"{run_id}.json"


def create_run(path: Path, profile: dict[str, Any], settings: dict[str, Any]) -> None:
    """Start a run file; an existing one (a resumed run) keeps its examples."""
    with locked(path):
        if path.exists():
            return
        document = {
            "schema_version": RESULTS_SCHEMA_VERSION,
            "run_id": path.stem,
            "started": _now(),
            "profile": profile,
            "settings": settings,
            "examples": [],
        }
        write_json_atomically(path, document)


def add_example(path: Path, result: dict[str, Any]) -> None:
    """Add (or replace, by id and tier) one example's result."""
    with locked(path):
        document = read_run(path)
        key = (result["id"], result["tier"])
        document["examples"] = [e for e in document["examples"] if (e["id"], e["tier"]) != key] + [result]
        document["updated"] = _now()
        write_json_atomically(path, document)


def read_run(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CorruptResults(f"{path}: results file is not valid JSON ({error}); it was left untouched") from error
    if not isinstance(document, dict) or not isinstance(document.get("examples"), list):
        raise CorruptResults(f"{path}: results file has no 'examples' list; it was left untouched")
    return document


def runs(results_dir: Path | str, profile_id: str) -> list[Path]:
    """This profile's run files, oldest first."""
    folder = Path(results_dir) / profile_id
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (through a sibling ``.lock`` file) for a read-modify-write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def write_json_atomically(path: Path, document: dict[str, Any], indent: int = 1) -> None:
    """Replace ``path`` with ``document`` so that readers see the old or the new file, never half of one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(document, f, indent=indent, ensure_ascii=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
