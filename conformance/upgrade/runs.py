"""``python -m conformance run`` inside a stack's environment, once per seed, and the run files read back.

Each run is its own process in the environment, started from the project's root, writing to
``<folder>/runs/<profile>/conformance/<label>-seed<N>.json`` (read back with
:func:`conformance.results.store.read_run`), its console output to ``<folder>/logs/``. A run that
fails examples exits non-zero, as it should; only a run that leaves no readable run file is missing.
"""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from conformance.processes import ending_with_this_process
from conformance.results import store
from conformance.results.records import ConformanceRun, MalformedRecord
from conformance.upgrade.stacks import PROJECT_ROOT, Environment


@dataclass(frozen=True)
class RunPlan:
    tier: str
    examples: str | None
    backend: str
    workers: int | str = "auto"
    timeout_s: float | None = None
    project: Path = PROJECT_ROOT


@dataclass(frozen=True)
class SeedRun:
    label: str  # the side: "a", "b", or a version
    seed: int
    run: ConformanceRun | None
    log: Path
    exit_status: int | None
    wall_s: float
    problem: str = ""  # why there is no run file

    def summary(self) -> str:
        if self.run is None:
            return f"no results ({self.problem}; see {self.log})"
        statuses = [e.status for e in self.run.examples]
        counts = ", ".join(f"{statuses.count(s)} {s}" for s in ("passed", "failed", "error", "skipped")
                           if statuses.count(s))
        text = counts or "no examples"
        return text if self.run.complete else f"{text}; {self.run.incompleteness()}"


def run_seed(environment: Environment, plan: RunPlan, seed: int, folder: Path, label: str) -> SeedRun:
    """Run the plan's tier and examples on ``seed`` in ``environment``."""
    run_id = re.sub(r"[^A-Za-z0-9._+-]", "_", f"{label}-seed{seed}")  # a version may hold '!' (an epoch)
    results = folder / "runs"
    log = folder / "logs" / f"{run_id}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [str(environment.python), "-m", "conformance", "run", "--tier", plan.tier, "--backend", plan.backend,
               "--seed", str(seed), "--workers", str(plan.workers), "--results-dir", str(results.resolve()),
               "--run-id", run_id]
    if plan.examples:
        command += ["--examples", plan.examples]
    started = time.monotonic()
    exit_status: int | None
    problem = ""
    with open(log, "w") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        try:
            exit_status = subprocess.run(command, cwd=plan.project, stdout=out, stderr=subprocess.STDOUT,
                                         env=environment.environ(), timeout=plan.timeout_s, check=False,
                                         preexec_fn=ending_with_this_process()).returncode
        except subprocess.TimeoutExpired:
            exit_status, problem = None, f"timed out after {plan.timeout_s:g} s"
    wall = round(time.monotonic() - started, 1)
    run = None
    written = sorted(results.glob(f"*/conformance/{run_id}.json"))
    if written:
        try:
            run = store.read_run(written[0])
        except MalformedRecord as error:
            problem = str(error)
    elif not problem:
        problem = f"the run exited with status {exit_status} and wrote no run file"
    return SeedRun(label, seed, run, log, exit_status, wall, problem)
