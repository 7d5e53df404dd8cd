"""Re-recording measured values in golden files from real runs, never by hand.

Only expectations that cite a ``run`` source of the recorded tier change:

* ``exact``     — the value every seed observed (seeds that disagree are an error);
* ``approx``    — the mean over seeds (its tolerances stay);
* ``threshold`` — ``min`` becomes the lowest observation minus ``margin``, ``max`` the
                  highest plus ``margin`` (only the bounds the expectation has).

Structural kinds (falls, rises, best_epoch, compare) hold no measured number. The
source is then stamped with the command, seeds, backend, versions, profile, date and the
tier's scale (a file whose tier later runs at another scale is refused until recorded again), and
every recorded seed is judged against the file as recorded: a seed that fails any check
is printed and makes the command exit 1 (the file still lands: the numbers are what ran).
"""

from __future__ import annotations

import copy
import datetime as dt
import statistics
import time
from pathlib import Path
from typing import Any

from conformance.engine import checks, golden, registry
from conformance.engine.runner import Settings, execute, skip_reason
from conformance.errors import ConformanceError
from conformance.results import store
from conformance.stack import profile


class RecordError(ConformanceError):
    pass


def record(patterns: str | None, *, tier: str, backend: str, seeds: list[int], precision: str, devices: int,
           command: str, golden_dir: Path | None = None, dry_run: bool = False) -> int:
    if len(seeds) < golden.MIN_RECORDED_SEEDS:
        raise RecordError(f"--seeds {','.join(map(str, seeds))}: a recording needs at least "
                          f"{golden.MIN_RECORDED_SEEDS} seeds, since a bound from fewer does not hold for the next "
                          f"one (to look at a few seeds, use 'run --seed N')")
    fingerprint = profile.fingerprint(backend)
    problems = 0
    for spec in registry.select(patterns):
        settings = Settings(tier=tier, backend=backend, precision=precision, devices=devices, seed=seeds[0])
        reason = skip_reason(spec, settings)
        if reason:
            print(f"{spec.id}: skipped ({reason})")
            continue
        current = golden.load(spec.id, golden_dir, pending_ok=True)
        keys = [k for k, s in current.sources.items() if s["kind"] == "run" and s["tier"] == tier]
        if not keys:
            print(f"{spec.id}: nothing to record (no run source for tier {tier})")
            continue
        elsewhere = recorded_under_other_settings(current.sources, keys, backend=backend, precision=precision,
                                                  devices=devices)
        if elsewhere:
            print(f"{spec.id}: not recorded: its {tier} values were recorded with {elsewhere}, and every run is "
                  f"checked against them; a value that legitimately differs there goes in an override with its "
                  f"reason (CONTRIBUTING.md)")
            problems += 1
            continue
        observations = []
        for count, seed in enumerate(seeds, start=1):
            started = time.monotonic()
            run = execute(spec, Settings(tier=tier, backend=backend, precision=precision, devices=devices, seed=seed),
                          current.scale(tier))
            observations.append(run.outcome.to_json())
            print(f"{spec.id}: seed {seed} ran in {time.monotonic() - started:.0f} s ({count} of {len(seeds)})",
                  flush=True)
        stamp = {
            "kind": "run", "command": command, "tier": tier, "seeds": seeds, "backend": backend,
            "precision": precision, "devices": devices, "versions": fingerprint["libraries"],
            "profile": fingerprint["id"], "date": dt.date.today().isoformat(),
            "scale": current.raw.get("tiers", {}).get(tier, {}).get("scale", {}),
        }
        # Re-read under the lock: a recording of another tier of this file may have landed meanwhile.
        with store.locked(current.path):
            latest = golden.load(spec.id, golden_dir, pending_ok=True)
            try:
                updated, changes = rerecorded(latest.raw, tier, keys, observations)
            except (RecordError, checks.MissingObservation) as error:
                print(f"{spec.id}: {error}")
                problems += 1
                continue
            for key in keys:
                updated["sources"][key] = {**updated["sources"][key], **stamp}
            # Never write a file the loader would refuse.
            recorded = golden.parse(updated, current.path, pending_ok=True)
            for change in changes:
                print(f"{spec.id}: {change}")
            if not dry_run:
                store.write_json_atomically(current.path, updated, indent=_indent_of(current.path))
        for seed, observed in zip(seeds, observations):
            # Recording sets only measured bounds; the structural checks (a loss that falls, one run beating
            # another, a model beating the trivial predictor) must still hold on every recorded seed.
            verdicts = checks.judge_tier(recorded, tier, observed, backend=backend, profile_id=fingerprint["id"])
            for failed in (verdict for verdict in verdicts if not verdict.passed):
                print(f"{spec.id}: seed {seed} fails {failed.message}")
                problems += 1
    return 1 if problems else 0


def recorded_under_other_settings(sources: dict[str, Any], keys: list[str], **settings: Any) -> str:
    """The settings (backend, precision, devices) under which the run sources ``keys`` were recorded, where
    they differ from ``settings``; "" when they agree or nothing was recorded yet. Re-recording under other
    settings would replace the values that runs under the recorded ones are checked against."""
    differ = sorted({f"{name} {sources[key][name]} (this recording: {value})" for key in keys
                     for name, value in settings.items() if sources[key].get(name) not in (None, "", value)})
    return ", ".join(differ)


def _indent_of(path: Path) -> int:
    """The indentation a golden file is written with (golden files use 1 or 2), so that a re-recording's
    diff shows what it recorded rather than every line re-indented."""
    lines = path.read_text(encoding="utf-8").splitlines()
    second = lines[1] if len(lines) > 1 else ""
    return len(second) - len(second.lstrip(" ")) or 2


def rerecorded(raw: dict[str, Any], tier: str, keys: list[str],
               observations: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    updated = copy.deepcopy(raw)
    changes = []
    tier_items = updated.get("tiers", {}).get(tier, {}).get("expectations", [])
    for item in updated.get("expectations", []) + tier_items:
        if item["source"] not in keys:
            continue
        before = {k: item[k] for k in golden.MEASURED_FIELDS if k in item}
        _measure(item, observations)
        after = {k: item.get(k) for k in before}
        if after != before:
            changes.append(f"{item.get('name') or item['kind'] + ' ' + item.get('path', '')}: {before} -> {after}")
    return updated, changes


def _measure(item: dict[str, Any], observations: list[dict[str, Any]]) -> None:
    kind = item["kind"]
    if kind not in ("exact", "approx", "threshold"):
        return
    seen = [checks.resolve(o, item["path"]) for o in observations]
    margin = item.get("margin", 0.0)
    if kind == "exact":
        if any(s != seen[0] for s in seen):
            raise RecordError(f"{item['path']} differs between seeds ({seen}); an exact value must not")
        item["value"] = seen[0]
    elif kind == "approx":
        item["value"] = _round(statistics.fmean(seen))
    else:
        if "min" in item:
            item["min"] = _round(min(seen) - margin)
        if "max" in item:
            item["max"] = _round(max(seen) + margin)


def _round(value: float) -> float:
    return float(f"{value:.4g}")

