"""Benchmark baselines, ``golden/bench/<profile-id>.json``, and reading benchmark run files.

A baseline holds, per backend, the entries filed from one or more runs (``--save-baseline``,
``--promote``) with the provenance of each run: command, run id, date, settings, and the machine and
software it ran on (:func:`run_profile`), so that an entry filed months ago still says where it came from.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from conformance.bench.measurements import best_ceilings, combine_repeats, derive
from conformance.errors import ConformanceError
from conformance.results import store
from conformance.results.records import BackendBaseline, Baseline, BenchRun


# Bench settings that change what a round measures (steps, batch) or how rounds sample it (rounds, warm-up):
# runs under others are not repeats of one measurement, and a baseline filed under others is not like for like.
MEASUREMENT_SETTINGS = ("steps", "warmup_rounds", "rounds", "per_device_batch")


class MismatchedRuns(ConformanceError):
    """Runs that cannot be read as one: another profile, backend, machine, software stack or measurement."""


def run_profile(profile: dict[str, Any]) -> dict[str, Any]:
    """What a baseline keeps of each run's profile: the machine (CPU model, GPU models and driver, TPU
    slice) and software (Python, libraries, CUDA, cuDNN) that the profile id leaves out. It keeps the
    full profile's shape, so that :func:`store.stack_versions` and :func:`machine` read both alike."""
    compact: dict[str, Any] = {"id": profile.get("id"), "cpu": {"model": (profile.get("cpu") or {}).get("model")},
                               "os": profile.get("os"), "python": profile.get("python"),
                               "libraries": profile.get("libraries") or {}}
    gpu = profile.get("gpu") or {}
    if gpu:
        devices = [{"name": d.get("name"), "driver": d.get("driver")} for d in gpu.get("devices", [])]
        compact["gpu"] = {"devices": devices, "cuda": gpu.get("cuda"), "cudnn": gpu.get("cudnn")}
    tpu = profile.get("tpu") or {}
    if tpu:
        compact["tpu"] = {k: tpu.get(k) for k in ("accelerator_type", "generation", "topology", "chips")}
    return compact


def machine(profile: dict[str, Any]) -> dict[str, str]:
    """The hardware a profile names beyond its id, by part: ``CPU``, ``GPU``, ``GPU driver``, ``TPU``.
    Two machines of one profile id (same arch, core count, GPU kind and count) may still differ here,
    and a benchmark with them."""
    described = {}
    if (profile.get("cpu") or {}).get("model"):
        described["CPU"] = str(profile["cpu"]["model"])
    devices = (profile.get("gpu") or {}).get("devices") or []
    if devices:
        described["GPU"] = ", ".join(str(d.get("name")) for d in devices)
        drivers = sorted({str(d["driver"]) for d in devices if d.get("driver")})
        if drivers:
            described["GPU driver"] = ", ".join(drivers)
    tpu = profile.get("tpu") or {}
    if tpu:
        described["TPU"] = " ".join(str(tpu[k]) for k in ("accelerator_type", "generation", "topology") if tpu.get(k))
    return described


def machine_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """``CPU AMD EPYC → Intel(R) Xeon(R) Processor``, one per part of :func:`machine` that differs."""
    old, new = machine(before), machine(after)
    return [f"{part} {old.get(part, '(none)')} → {new.get(part, '(none)')}"
            for part in ("CPU", "GPU", "GPU driver", "TPU") if old.get(part) != new.get(part)]


def baseline_dir() -> Path:
    from conformance.engine.golden import golden_dir

    return golden_dir() / "bench"


def baseline_path(profile_id: str, directory: Path | None = None) -> Path:
    return (directory or baseline_dir()) / f"{profile_id}.json"


def load_run(path: Path) -> BenchRun:
    """A validated benchmark run file (``results/<profile>/bench/<run>.json``)."""
    return BenchRun.from_json(_read(path, "benchmark run"), path)


def load_baseline(path: Path) -> Baseline:
    """A validated baseline file; a malformed one raises an error naming the file and the field."""
    baseline = Baseline.from_json(_read(path, "baseline"), path)
    for filed in baseline.backends.values():
        _recover_latest_profile(filed)
    return baseline


def _recover_latest_profile(filed: BackendBaseline) -> None:
    """Baselines filed before each run kept its profile hold only the latest run's, in ``provenance``:
    that one is the profile of the run ``provenance`` names, so its record gets it. Older records stay
    without one (their library versions only): which machine ran them was not recorded."""
    latest = filed.runs.get(filed.provenance.get("run_id"))
    if latest is not None and "profile" not in latest and isinstance(filed.provenance.get("profile"), dict):
        latest["profile"] = run_profile(filed.provenance["profile"])


def _read(path: Path, what: str) -> Any:
    if not Path(path).exists():
        raise ConformanceError(f"{path}: no {what} file here")
    return store.read_json(path)


def save_baseline(run: BenchRun, directory: Path | None = None, filed_by: str | None = None) -> Path:
    """File ``run``'s entries in its profile's baseline for its backend.

    Entries of the same comparison key (model, precision, devices) are replaced; others stay, so
    the selection can grow (or a long run be split) one model at a time. Each entry names the run
    it came from; ``runs`` keeps every contributing run's provenance with its machine and software
    (:func:`run_profile`), ``provenance`` the latest run's with its full profile.
    """
    path = baseline_path(run.profile_id, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    with store.locked(path):
        baseline = load_baseline(path) if path.exists() else Baseline(run.profile_id)
        provenance = {"command": run.command, "run_id": run.run_id, "date": run.finished,
                      "versions": run.profile["libraries"], "profile": run.profile, "backend": run.backend,
                      "settings": run.settings, "filed_by": filed_by or run.command, "failures": run.failures()}
        # Derived from the raw rounds again, so that a promoted older run file gets today's figures.
        new = [replace(e, run_id=run.run_id) for e in combine_repeats(run.entries, best_ceilings(run.ceilings))]
        previous = baseline.backends.get(run.backend)
        replaced = {e.comparison_key for e in new}
        entries = [e for e in (previous.entries if previous else []) if e.comparison_key not in replaced] + new
        baseline.backends[run.backend] = BackendBaseline(
            provenance=provenance,
            runs={**(previous.runs if previous else {}),
                  run.run_id: {**{k: v for k, v in provenance.items() if k != "profile"},
                               "profile": run_profile(run.profile)}},
            entries=entries,
            ceilings=_replace(previous.ceilings if previous else [], run.ceilings, ("devices", "precision")),
            gates=_replace(previous.gates if previous else [], run.gates, ("precision",)),
            derived=derive(entries),
        )
        store.write_json_atomically(path, baseline.to_json())
    return path


def _replace(old: list[dict[str, Any]], new: list[dict[str, Any]], key: tuple[str, ...]) -> list[dict[str, Any]]:
    """``old`` items without a counterpart in ``new`` (same values at ``key``), then ``new``."""
    renewed = {tuple(item.get(k) for k in key) for item in new}
    return [item for item in old if tuple(item.get(k) for k in key) not in renewed] + new


def merge_runs(runs: list[BenchRun]) -> BenchRun:
    """Several bench runs of one profile and backend read as one: a long selection split in parts,
    or the same selection run again (its entries become further repeats). Runs that measured otherwise
    (steps, rounds, warm-up, batch) or on another machine or software stack are refused: their
    medians would mix as repeats, and the spread between them would read as noise."""
    first = runs[0]
    for other in runs[1:]:
        if (other.profile_id, other.backend) != (first.profile_id, first.backend):
            raise MismatchedRuns(f"run {other.run_id} is of another profile or backend than {first.run_id}")
        differences = run_differences(first, other)
        if differences:
            raise MismatchedRuns(f"runs {first.run_id} and {other.run_id} are not repeats of one measurement "
                                 f"({'; '.join(differences)}): give them one at a time, or measure again alike")
    if len(runs) == 1:
        return first
    ceilings = best_ceilings([c for run in runs for c in run.ceilings])
    entries = combine_repeats([e for run in runs for e in run.entries], ceilings)
    return replace(first, run_id="+".join(run.run_id for run in runs),
                   command=" ; ".join(run.command for run in runs), finished=runs[-1].finished,
                   status="passed" if all(run.status == "passed" for run in runs) else "failed",
                   entries=entries, ceilings=ceilings, derived=derive(entries),
                   gates=[g for run in runs for g in run.gates], processes=[p for run in runs for p in run.processes])


def run_differences(first: BenchRun, other: BenchRun) -> list[str]:
    """How ``other`` was measured otherwise than ``first``: measurement settings, software stack
    (``keras 3.15.1 → 3.16.0``) and machine (CPU model, GPU model and driver, TPU)."""
    settings = [f"{key} {first.settings.get(key)} → {other.settings.get(key)}"
                for key in MEASUREMENT_SETTINGS if first.settings.get(key) != other.settings.get(key)]
    return settings + store.stack_changes(first.profile, other.profile) + machine_changes(first.profile, other.profile)
