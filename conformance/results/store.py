"""The results store: ``results/<profile-id>/<kind>/<run-id>.json``, ``kind`` being ``conformance`` or ``bench``.

A conformance run file holds ``profile`` (with ``id``), ``settings`` and ``examples``
(:class:`~conformance.results.records.ConformanceRun`). Workers add their examples as they
finish: each update takes an exclusive lock on a hidden sibling ``.<name>.lock`` file, reads the
run, adds the entry and replaces the file atomically (write to a temporary file, fsync, ``os.replace``). A
crash mid-write leaves the previous version whole; a file that is not valid JSON, or not a valid
run, is reported with its path and field, never overwritten.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import secrets
from pathlib import Path
from typing import Any, Iterator

from conformance.errors import ConformanceError
from conformance.results import strict_json
from conformance.results.records import ConformanceRun, ExampleResult, MalformedRecord, describe_settings

RUN_KINDS = ("conformance", "bench")


def new_run_id(*labels: str) -> str:
    """A sortable, unique run id: the UTC time, the labels (tier, backend …) and a random suffix."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return "-".join((stamp, *labels, secrets.token_hex(3)))


def run_folder(results_dir: Path | str, profile_id: str, kind: str) -> Path:
    if kind not in RUN_KINDS:
        raise ValueError(f"unknown run kind {kind!r}")
    return Path(results_dir) / profile_id / kind


RUN_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._+-]*"  # a file name in its profile's folder: no path, no hidden file


MAX_RUN_ID_LENGTH = 128  # with the suffixes and temporary prefixes the store adds, well under a file name's 255 bytes


def check_run_id(run_id: str) -> str:
    """``run_id`` if it names a file in the run folder, where reports look for it; else a ConformanceError."""
    if len(run_id) > MAX_RUN_ID_LENGTH:
        raise ConformanceError(f"run id {run_id[:20]}…: {len(run_id)} characters, at most {MAX_RUN_ID_LENGTH}")
    if not re.fullmatch(RUN_ID_PATTERN, run_id):
        raise ConformanceError(f"run id {run_id!r}: use letters, digits, '.', '_', '+' and '-', starting with a "
                               f"letter or digit (the run file stays in its profile's folder)")
    return run_id


def run_path(results_dir: Path | str, profile_id: str, kind: str, run_id: str) -> Path:
    return run_folder(results_dir, profile_id, kind) / f"{check_run_id(run_id)}.json"


def runs(results_dir: Path | str, profile_id: str, kind: str) -> list[Path]:
    """This profile's run files of ``kind``, oldest first: in the order the runs started, whatever
    they are called (a ``--run-id`` of the user's does not sort by time)."""
    folder = run_folder(results_dir, profile_id, kind)
    return sorted(folder.glob("*.json"), key=start_order) if folder.is_dir() else []


def start_order(path: Path) -> tuple[str, str]:
    """When the run in ``path`` started (UTC, ISO 8601), then its name, to break ties. A file that
    cannot be read sorts by when it was last written, so that a broken newest run is still the one a
    report reads (and names as broken); one that cannot even be looked at sorts first."""
    try:
        started = json.loads(path.read_text(encoding="utf-8")).get("started")
        if isinstance(started, str) and started:
            moment = dt.datetime.fromisoformat(started.replace("Z", "+00:00"))  # Python 3.10 reads no "Z"
            if moment.tzinfo is None:  # the store writes UTC
                moment = moment.replace(tzinfo=dt.timezone.utc)
            return moment.astimezone(dt.timezone.utc).isoformat(), path.name
    except (OSError, ValueError, AttributeError):
        pass
    try:
        return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc).isoformat(), path.name
    except OSError:  # a dangling link, or a file removed since the folder was listed
        return "", path.name


def create_run(path: Path, profile: dict[str, Any], settings: dict[str, Any], planned: list[str],
               selection: str | None = None) -> None:
    """Start a conformance run file with what it plans to run; an existing one (a resumed run) keeps
    its examples and is marked as running again. Resuming a run with other settings, from another
    machine or software stack, or for other examples is an error: the file would hold results its
    header does not describe. A run file that cannot be written (a ``--results-dir`` that is not a
    writable folder) is an error too, before any example runs."""
    try:
        with locked(path):
            if path.exists():
                _resume(path, profile, settings, planned, selection)
            else:
                write_json_atomically(path, ConformanceRun(run_id=path.stem, started=_now(), profile=profile,
                                                           settings=settings, planned=planned,
                                                           selection=selection).to_json())
    except OSError as error:  # the folder cannot be made or written: a user's mistake, not a crash
        raise ConformanceError(f"cannot write the run file {path}: {error.strerror or error} (check --results-dir)") \
            from error


def _resume(path: Path, profile: dict[str, Any], settings: dict[str, Any], planned: list[str],
            selection: str | None) -> None:
    """Check that the run in ``path`` is the one asked for, then mark it as running again: until this
    session stamps it finished, the file must not say complete (a session killed part-way would
    otherwise leave its predecessor's ``finished`` standing over results of two sessions)."""
    existing = read_run(path)
    if existing.settings != settings or existing.profile.get("id") != profile.get("id"):
        raise ConformanceError(
            f"{path} holds run {existing.run_id!r} with other settings "
            f"({_describe(existing.settings, existing.profile)}; this run: {_describe(settings, profile)}): "
            f"choose another --run-id")
    changed = stack_changes(existing.profile, profile)
    if changed:
        raise ConformanceError(
            f"{path} holds run {existing.run_id!r} from another software stack ({'; '.join(changed)}): its "
            f"results and this run's would not describe one stack; choose another --run-id")
    if sorted(existing.planned) != sorted(planned):
        raise ConformanceError(
            f"{path} holds run {existing.run_id!r} of other examples (--examples "
            f"{existing.selection or '(all)'}: {len(existing.planned)} planned; this run: "
            f"{selection or '(all)'}, {len(planned)}): resume it with the same --examples, or choose "
            f"another --run-id")
    existing.finished = existing.exit_status = None
    existing.updated = _now()
    write_json_atomically(path, existing.to_json())


def stack_versions(profile: dict[str, Any]) -> dict[str, str]:
    """The software a profile records (Python, each library, CUDA and cuDNN): what the hardware id
    leaves out, and what changes results as much as the hardware does."""
    versions = {name: str(version) for name, version in (profile.get("libraries") or {}).items()}
    if profile.get("python"):
        versions["python"] = str(profile["python"])
    gpu = profile.get("gpu") or {}
    versions.update({name: str(gpu[name]) for name in ("cuda", "cudnn") if gpu.get(name)})
    return versions


def stack_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """``keras 3.5.0 → 3.6.0``, one per component whose version differs (``(none)`` where one side has none)."""
    old, new = stack_versions(before), stack_versions(after)
    return [f"{name} {old.get(name, '(none)')} → {new.get(name, '(none)')}"
            for name in sorted(set(old) | set(new)) if old.get(name) != new.get(name)]


def _describe(settings: dict[str, Any], profile: dict[str, Any]) -> str:
    return f"{describe_settings(settings)}, profile {profile.get('id')}"


def add_example(path: Path, result: ExampleResult) -> None:
    """Add (or replace, by id and tier) one example's result; it is no longer listed as not run."""
    with _updating(path) as run:
        run.examples = [e for e in run.examples if e.key != result.key] + [result]
        run.not_run.pop(result.id, None)  # left out by an earlier session of this run id, run now: no longer "not run"


def mark_not_run(path: Path, example_ids: list[str], reason: str) -> None:
    """Record planned examples that were left out on purpose, and why; one with a result from an earlier
    session of the run keeps that result and is not listed as not run."""
    with _updating(path) as run:
        ran = {e.id for e in run.examples}
        run.not_run.update({example_id: reason for example_id in example_ids if example_id not in ran})


def finish_run(path: Path, exit_status: int) -> None:
    """Stamp the run as finished with pytest's exit status."""
    with _updating(path) as run:
        run.finished, run.exit_status = _now(), int(exit_status)


@contextlib.contextmanager
def _updating(path: Path) -> Iterator[ConformanceRun]:
    """The run, read under the lock, written back atomically when the block ends without error."""
    with locked(path):
        run = read_run(path)
        yield run
        run.updated = _now()
        write_json_atomically(path, run.to_json())


def read_run(path: Path) -> ConformanceRun:
    """A conformance run file, validated; raises :class:`MalformedRecord` naming the file and field."""
    return ConformanceRun.from_json(read_json(path), path)


def read_json(path: Path | str) -> Any:
    """A JSON file's content; a file that cannot be read (missing, a folder, no permission …) or is not
    JSON is a :class:`MalformedRecord` (and is left untouched)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:  # every reason a file cannot be read is the user's to fix, none a crash
        raise MalformedRecord(path, "(file)", f"cannot be read ({error.strerror or error})") from error
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedRecord(path, "(file)", f"not valid JSON ({error}); it was left untouched") from error


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (through a hidden sibling ``.<name>.lock``) for a read-modify-write.

    The lock file stays: removing it while another process waits on it would let a third lock a new
    file of the same name, and two writers would hold "the" lock at once. Hidden, it does not clutter
    a listing of runs or golden files.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def write_json_atomically(path: Path, document: dict[str, Any], indent: int = 1) -> None:
    """Replace ``path`` with ``document`` so that readers see the old or the new file, never half of one.

    The file keeps the mode it had, or gets the one ``open`` would give it: the temporary file is
    created with the umask applied (``mkstemp`` would make it readable by its owner only, and a
    shared results folder needs more)."""
    fd, tmp = _new_temporary_file(path)
    try:
        if path.exists():
            os.fchmod(fd, path.stat().st_mode & 0o777)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(strict_json.dumps(document, indent=indent) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _new_temporary_file(path: Path) -> tuple[int, str]:
    """A new hidden file beside ``path``, opened for writing with mode 0o666 less the umask."""
    while True:
        tmp = str(path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp"))
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:  # another writer drew the same name: draw again
            continue


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
