"""``compare-stacks`` and ``bisect`` as the CLI runs them: environments, runs, verdicts, reports.

Everything of one command lands in ``<results-dir>/<profile-id>/upgrade/<time>-<command>/``: the
run files (``runs/``), each run's console output (``logs/``) and the report (``report.md`` and
``report.json`` for compare-stacks, ``bisect.md`` and ``bisect.json`` for bisect). The
environments live in ``.nox/stacks/<hash>`` and are reused by later commands.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from packaging.version import Version

from conformance import globs
from conformance.engine import golden
from conformance.engine.runner import MAX_SEED
from conformance.errors import ConformanceError
from conformance.results import strict_json
from conformance.upgrade import bisect as search
from conformance.upgrade import report as stacks_report
from conformance.upgrade import spread, stacks, verdicts
from conformance.upgrade.registry import Registry, between, python_version, release_notes_url
from conformance.upgrade.runs import RunPlan, SeedRun, run_seed

Print = Callable[[str], None]


def _print(text: str) -> None:
    print(text, flush=True)


@dataclass(frozen=True)
class CompareOptions:
    a: str
    b: str
    plan: RunPlan
    seeds: list[int]
    results_dir: Path
    build: stacks.BuildOptions
    command: str
    fail_on_change: bool = False


@dataclass(frozen=True)
class BisectOptions:
    package: str
    good: str
    bad: str
    example: str
    check: str
    plan: RunPlan
    seeds: list[int]
    results_dir: Path
    build: stacks.BuildOptions
    registry: Registry
    command: str
    base: stacks.Stack = field(default_factory=lambda: stacks.parse_stack(""))
    pre: bool = False


MAX_SEEDS = 1000  # a range beyond it is a typo, not a sweep (each seed is a whole run)


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"`` or ``"0-4"`` → the seeds."""
    is_range = "-" in text and "," not in text
    try:
        parts = text.split("-") if is_range else [s for s in text.split(",") if s.strip()]
        if is_range and len(parts) != 2:
            raise ValueError(text)
        given = [int(s) for s in parts]
    except ValueError as error:
        raise ConformanceError(f"--seeds {text!r}: give comma-separated integers or a range like 0-4") from error
    if any(not 0 <= seed <= MAX_SEED for seed in given):
        raise ConformanceError(f"--seeds {text!r}: each seed must be from 0 to {MAX_SEED}")
    count = given[1] - given[0] + 1 if is_range else len(given)
    if is_range and count < 1:
        raise ConformanceError(f"--seeds {text!r}: the range ends before it starts")
    if count > MAX_SEEDS:
        raise ConformanceError(f"--seeds {text!r}: {count} seeds; a sweep takes at most {MAX_SEEDS}")
    seeds = list(range(given[0], given[1] + 1)) if is_range else given
    if not seeds or len(set(seeds)) != len(seeds):
        raise ConformanceError(f"--seeds {text!r}: give at least one seed, each once")
    return seeds


def check_selection(patterns: str | None, golden_dir: Path | None = None) -> None:
    """Fail fast, before any environment is built, on a pattern that names no example (every example
    has a golden file, so this needs no framework)."""
    if not patterns:
        return
    known = [p.stem for p in (golden_dir or golden.golden_dir()).glob("*.json")]
    unmatched = globs.unmatched(globs.split(patterns), known)
    if unmatched:
        raise ConformanceError(f"no example matches {', '.join(unmatched)}; see 'python -m conformance list'")


def _folder(results_dir: Path, profile_id: str, command: str) -> Path:
    """A new folder for one command's runs and report: two commands started in the same second (say two
    comparisons with other ``--a``) must not resume each other's run files."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    folder = results_dir / profile_id / "upgrade" / f"{stamp}-{secrets.token_hex(3)}-{command}"
    folder.mkdir(parents=True, exist_ok=False)
    return folder.resolve()


def _environment(stack: stacks.Stack, build: stacks.BuildOptions, say: Print, label: str,
                 held: contextlib.ExitStack) -> stacks.Environment:
    """The environment of ``stack``, held until ``held`` closes."""
    say(f"[{label}] environment for {stack.label} ...")
    environment = held.enter_context(stacks.using(stack, build))
    how = "reused" if environment.reused else f"built in {environment.build_s:.0f} s"
    frameworks = ", ".join(f"{n} {environment.packages[n]}" for n in stacks_report.FRAMEWORKS
                           if n in environment.packages)
    say(f"[{label}] {environment.path} ({how}): {frameworks}")
    return environment


def compare_stacks(options: CompareOptions, say: Print = _print) -> int:
    """Build both environments, run the tier on every seed in each (the sides alternate, so a slow
    spell of the machine falls on both), and write the report. 0 when written; 1 when the comparison
    is incomplete (a side without results, a run cut short), or with ``fail_on_change`` when anything changed."""
    from conformance.stack.profile import fingerprint

    started_clock, started = time.monotonic(), dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    pair = {"a": stacks.parse_stack(options.a), "b": stacks.parse_stack(options.b)}
    check_selection(options.plan.examples)
    profile_id = fingerprint(options.plan.backend)["id"]
    runs: dict[str, dict[int, SeedRun]] = {"a": {}, "b": {}}
    with contextlib.ExitStack() as held:
        environments: dict[str, stacks.Environment] = {}
        for name, stack in pair.items():  # two specs of one stack share its environment (built once, held once)
            key = stacks.environment_key(stack, options.build)
            same = next((env for env in environments.values() if env.key == key), None)
            environments[name] = same or _environment(stack, options.build, say, name, held)
        folder = _folder(options.results_dir, profile_id, "compare-stacks")  # once there is something to run
        for seed in options.seeds:
            for name, environment in environments.items():
                say(f"[{name}] seed {seed}: {options.plan.tier} tier, examples {options.plan.examples or 'all'} ...")
                done = run_seed(environment, options.plan, seed, folder, name)
                runs[name][seed] = done
                say(f"[{name}] seed {seed}: {done.summary()} ({done.wall_s:.0f} s)")
    settings = {"tier": options.plan.tier, "examples": options.plan.examples, "backend": options.plan.backend,
                "seeds": options.seeds, "workers": options.plan.workers, "inherit": options.build.inherit}
    built = stacks_report.build(
        command=options.command, started=started, profile_id=profile_id, settings=settings,
        a=stacks_report.Side("a", environments["a"], runs["a"]),
        b=stacks_report.Side("b", environments["b"], runs["b"]), wall_s=round(time.monotonic() - started_clock, 1))
    markdown, document = stacks_report.write(built, folder)
    say("")
    say(stacks_report.render(built))
    print(f"report: {markdown} and {document}", file=sys.stderr)
    if built.incomplete:
        print(f"error: the comparison is incomplete: {'; '.join(built.incomplete)}", file=sys.stderr)
        return 1
    return 1 if options.fail_on_change and built.changed else 0


def check_names(example: str, tier: str, golden_dir: Path | None = None) -> list[str]:
    """The names of the checks ``example``'s golden file runs in ``tier``."""
    try:
        return verdicts.unique_names(e.name for e in golden.load(example, golden_dir).expectations_for(tier))
    except golden.GoldenError as error:
        raise ConformanceError(str(error)) from error


def bisect_release(options: BisectOptions, say: Print = _print) -> int:
    """Bisect the releases of ``package`` between ``good`` and ``bad``; 0 when one release is found,
    1 when the ends behave alike or the change cannot be pinned to one release."""
    from conformance.stack.profile import fingerprint

    started_clock = time.monotonic()
    if not (golden.golden_dir() / f"{options.example}.json").exists():
        raise ConformanceError(f"bisect watches one example: --examples {options.example!r} is not an example id "
                               f"(see 'python -m conformance list')")
    names = check_names(options.example, options.plan.tier)
    if not verdicts.is_metric_path(options.check) and options.check not in names:
        raise ConformanceError(f"{options.example} has no check {options.check!r} in the {options.plan.tier} tier; "
                               f"its checks: {'; '.join(names)} (or give a metric path such as values.<name>)")
    if verdicts.is_metric_path(options.check) and options.check not in names and len(options.seeds) < 2:
        raise ConformanceError(f"{options.check} is a metric: bisecting it needs at least two seeds (--seeds "
                               f"0,1,2) to know its spread")
    releases = options.registry.releases(options.package)
    candidates = between(releases, options.good, options.bad, pre=options.pre)
    say(f"{options.package}: {len(candidates)} releases from {candidates[0].version} to {candidates[-1].version} "
        f"({', '.join(str(r.version) for r in candidates)}); Python {python_version()}")
    say(f"watching {options.example} [{options.plan.tier}] {options.check!r} on seeds "
        f"{', '.join(map(str, options.seeds))}; the reference is {candidates[0].version} (--"
        f"{'good' if Version(options.good) == candidates[0].version else 'bad'})")
    profile_id = fingerprint(options.plan.backend)["id"]
    folder = _folder(options.results_dir, profile_id, "bisect")
    plan = RunPlan(options.plan.tier, options.example, options.plan.backend, options.plan.workers,
                   options.plan.timeout_s, options.plan.project)
    environments: dict[str, dict[str, Any]] = {}

    def observe(version: Any) -> verdicts.Observation:
        stack = options.base.with_pin(f"{options.package}=={version}")
        say(f"  … {options.package} {version}: environment and {len(options.seeds)} run(s)")
        with contextlib.ExitStack() as held:
            try:
                environment = held.enter_context(stacks.using(stack, options.build))
            except stacks.InstallFailed as failure:
                raise search.Unobservable(f"pip cannot install it: {failure.reason}") from failure
            environments[str(version)] = stacks.describe(environment)
            seed_runs = [run_seed(environment, plan, seed, folder, f"{options.package}-{version}")
                         for seed in options.seeds]
        lost = [f"seed {r.seed}: {r.summary()}" for r in seed_runs if r.run is None or not r.run.complete]
        if lost:  # a crash, a timeout or a kill says nothing about the release
            raise search.Unobservable(f"its runs did not finish ({'; '.join(lost)})")
        observation = verdicts.observe({r.seed: r.run for r in seed_runs}, options.example, options.check)
        if observation.is_metric and any(value is None and status in ("passed", "failed") for value, status
                                         in zip(observation.values, observation.statuses)):
            # the example ran to its checks, so it recorded what it records: the path names nothing
            raise ConformanceError(f"{options.example} records no number at {options.check}: see the metrics "
                                   f"and models its run file lists ({folder / 'runs'})")
        return observation

    def on_step(step: search.Step) -> None:
        if step.skipped:
            say(f"  {options.package} {step.version}: skipped — {step.skipped}")
        else:
            alike = "same as the reference" if step.same else "CHANGED"
            say(f"  {options.package} {step.version}: {step.observation.verdict} ({alike})")

    say("versions tried:")
    result = search.search([(r.version, r.skip_reason) for r in candidates], observe, verdicts.same, on_step=on_step)
    wall = time.monotonic() - started_clock
    lines = _bisect_summary(options, result, wall)
    for line in lines:
        say(line)
    document = {"kind": "bisect", "command": options.command, "package": options.package, "good": options.good,
                "bad": options.bad, "example": options.example, "check": options.check, "tier": options.plan.tier,
                "backend": options.plan.backend, "seeds": options.seeds, "python": python_version(),
                "rule": spread.MOVED_RULE if verdicts.is_metric_path(options.check) else "verdicts differ",
                "candidates": [{"version": str(r.version), "skip_reason": r.skip_reason} for r in candidates],
                "steps": [{"version": str(s.version), "skipped": s.skipped, "same": s.same,
                           "observation": s.observation.to_json() if s.observation else None} for s in result.steps],
                "outcome": result.outcome, "first_changed": _text(result.first_changed),
                "last_same": _text(result.last_same), "untested_between": [str(v) for v in result.untested_between],
                "release_notes": release_notes_url(options.package, result.first_changed)
                if result.first_changed else None,
                "environments": environments, "wall_s": round(wall, 1), "summary": lines}
    (folder / "bisect.json").write_text(strict_json.dumps(document) + "\n")
    (folder / "bisect.md").write_text("\n".join(["# Bisect", "", f"`{options.command}`", ""] + lines) + "\n")
    print(f"bisect: {folder / 'bisect.md'} and {folder / 'bisect.json'}", file=sys.stderr)
    return 0 if result.outcome == search.FOUND else 1


def _text(version: Any) -> str | None:
    return None if version is None else str(version)


def _bisect_summary(options: BisectOptions, result: search.Result, wall_s: float) -> list[str]:
    name = options.package
    tried = f"{result.environments} environments for {len(result.versions)} releases, {wall_s / 60:.1f} min"
    if result.outcome == search.NO_CHANGE:
        return [f"no change: {name} {result.versions[0]} and {result.versions[-1]} give the same verdict "
                f"({tried}); the change is not in this range, or it is not a change of {options.check!r}"]
    notes = release_notes_url(name, result.first_changed)
    if result.outcome == search.FOUND:
        return [f"first changed release: {name} {result.first_changed} (after {result.last_same}; {tried})",
                f"release notes: {notes}"]
    untested = ", ".join(str(v) for v in result.untested_between)
    return [f"the change came with one of {name} {untested}, {result.first_changed} (after {result.last_same}: "
            f"the releases between could not be installed; {tried})",
            f"release notes of {result.first_changed}: {notes}"]


def registry_for(location: str) -> tuple[Registry, tuple[str, ...]]:
    """``--registry``: PyPI's JSON API at a URL, or a folder of wheels (also handed to pip as --find-links)."""
    from conformance.upgrade.registry import LocalRegistry, PyPIRegistry

    if location.startswith(("http://", "https://")):
        return PyPIRegistry(location), ()
    folder = Path(location).resolve()
    return LocalRegistry(folder), (str(folder),)

