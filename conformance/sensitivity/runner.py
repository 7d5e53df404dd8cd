"""``python -m conformance sensitivity``: the tier once without a fault, then once per planted
fault, each run a fresh ``python -m conformance run --fault ID`` process; then the report.

The run without a fault probes where each fault reaches (``--probe-faults``: which examples make
a call the fault would change), and each fault then runs on those examples only: a fault that
changes no call of an example cannot break it, and most faults reach few examples.

Everything lands in ``<results-dir>/<profile-id>/sensitivity/<time>/``: ``report.md``,
``report.json``, the run files under ``runs/`` (apart from the ordinary runs, so a run with a
planted fault is never a baseline) and each run's console output under ``logs/``.
"""

from __future__ import annotations

import datetime as dt
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from conformance.errors import ConformanceError
from conformance.processes import ending_with_this_process
from conformance.results import store, strict_json
from conformance.results.records import ConformanceRun, MalformedRecord
from conformance.sensitivity import faults, report
from conformance.stack.profile import fingerprint

CLEAN = "no-fault"


@dataclass(frozen=True)
class SensitivityOptions:
    faults: str | None
    examples: str | None
    tier: str
    backend: str
    seed: int
    workers: int | str
    results_dir: Path
    command: str
    min_detection: float | None = None


def run(options: SensitivityOptions) -> int:
    """0 when the report is written (and the detection rate reaches ``min_detection``, if set);
    1 when the rate falls short or the run without a fault fails an example."""
    chosen = faults.select(options.faults)
    profile_id = fingerprint(options.backend)["id"]
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    folder = Path(options.results_dir) / profile_id / "sensitivity" / f"{stamp}-{secrets.token_hex(3)}"
    (folder / "logs").mkdir(parents=True)  # new: two reports started in the same second keep their own runs
    steps = len(chosen) + 1
    clean = _run_step(f"[1/{steps}] {CLEAN}: running the {options.tier} tier, probing where each fault reaches",
                      options, CLEAN, folder, options.examples)
    if clean is None or not clean.complete:
        what = "left no results" if clean is None else f"did not finish ({clean.incompleteness()})"
        raise ConformanceError(f"the run without a fault {what}, so no fault's reach is known; see "
                               f"{folder / 'logs' / (CLEAN + '.log')}")
    reach = report.reach(clean)
    runs: dict[str, ConformanceRun | None] = {}
    for number, fault in enumerate(chosen, 2):
        examples = reach.get(fault.id, [])
        if not examples:
            print(f"[{number}/{steps}] {fault.id}: reaches no example that passes without it; not run", flush=True)
            continue
        runs[fault.id] = _run_step(f"[{number}/{steps}] {fault.id}: running the {len(examples)} examples it reaches",
                                   options, fault.id, folder, ",".join(examples))
    built = report.build(options.command, clean, runs, chosen)
    (folder / "report.json").write_text(strict_json.dumps(built.to_json()) + "\n")
    markdown = report.render(built)
    (folder / "report.md").write_text(markdown)
    print()
    print(markdown)
    print(f"report: {folder / 'report.md'}", file=sys.stderr)
    if built.clean_failures:
        print(f"error: {len(built.clean_failures)} examples fail without any fault; fix them first: their "
              "failures under a fault say nothing", file=sys.stderr)
        return 1
    rate = built.caught_of_all
    if options.min_detection is not None and (rate is None or rate < options.min_detection):
        idle = len(built.faults) - len(built.exercised)
        print(f"error: {len(built.caught)} of {len(built.faults)} faults caught ({rate or 0:.0%}; {idle} reached no "
              f"example), below --min-detection {options.min_detection:.0%}", file=sys.stderr)
        return 1
    return 0


def _run_step(announcement: str, options: SensitivityOptions, name: str, folder: Path,
              examples: str | None) -> ConformanceRun | None:
    """One run, announced, then summed up with its time."""
    print(f"{announcement} ...", end=" ", flush=True)
    started = time.monotonic()
    run = _run_tier(options, name, folder, examples)
    print(f"{_summary(run)} ({time.monotonic() - started:.0f} s)", flush=True)
    return run


def _run_tier(options: SensitivityOptions, name: str, folder: Path, examples: str | None) -> ConformanceRun | None:
    command = [sys.executable, "-m", "conformance", "run", "--tier", options.tier, "--backend", options.backend,
               "--seed", str(options.seed), "--workers", str(options.workers), "--results-dir", str(folder / "runs"),
               "--run-id", name]
    if examples:
        command += ["--examples", examples]
    command += ["--probe-faults"] if name == CLEAN else ["--fault", name]
    with open(folder / "logs" / f"{name}.log", "w") as log:
        subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False,  # a fault fails the run: expected
                       preexec_fn=ending_with_this_process())
    written = sorted((folder / "runs").glob(f"*/conformance/{name}.json"))
    if not written:
        return None
    try:
        return store.read_run(written[0])
    except MalformedRecord:
        return None


def _summary(run: ConformanceRun | None) -> str:
    if run is None:
        return "no results file"
    statuses = [result.status for result in run.examples]
    broke = sum(status in ("failed", "error") for status in statuses)
    touched = sum(bool(result.fault_hits) for result in run.examples)
    text = f"{broke} of {len(statuses)} examples failed"
    if run.settings.get("fault"):
        text += f", the fault reached {touched}"
    return text if run.complete else f"{text}; {run.incompleteness()}"
