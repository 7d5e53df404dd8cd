"""``python -m conformance report``: a run against the baseline of its hardware profile.

Two parts, each present when its inputs are:

* **benchmarks** — a bench run (``results/<profile>/bench/<run>.json``, default the latest;
  several files read as one, same configurations becoming repeats) against
  ``golden/bench/<profile>.json`` for the run's backend. Each (model, precision, device count,
  global batch) is compared with :func:`conformance.report.stats.compare` and judged by the rule
  that :func:`conformance.report.stats.regression_rule` states (the reports print it). Every line
  says how large the change is and how sure (the p-value, raw and Holm-adjusted).
* **conformance** — a conformance run file against a baseline run file (default: the latest run
  and the one before it with the same settings): of the examples in both, those and the checks whose status changed
  (passed → failed is a regression), and scalar metrics that moved by more than ``metric_rtol``
  (informational: one seed has no spread to test against; the golden checks judge metrics).

Either part says first what differs between the machine and software of the run and of its baseline
(``keras 3.15.1 → 3.16.0``, another CPU model under the same profile id): a change of either moves
results as much as a change of the code does.

``conformance.report.markdown`` and ``conformance.report.html`` write it. With
``--fail-on-regression`` the command exits 1 when anything regressed.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance import globs
from conformance.bench.baseline import (MEASUREMENT_SETTINGS, baseline_path, load_baseline, load_run,
                                         machine_changes, merge_runs)
from conformance.results import store, strict_json
from conformance.results.records import (Baseline, BenchEntry, BenchRun, ConformanceRun, MalformedRecord,
                                         describe_settings, unique_names)
from conformance.report.stats import (DEFAULT_ALPHA, DEFAULT_MIN_CHANGE, Comparison, adjust_for_family,
                                      between_run_noise, compare)

DEFAULT_METRIC_RTOL = 0.05
CONFORMANCE_RULE = ("A conformance regression is an example or check that went from passed to failed or error, an "
                    "example of the baseline that the run planned but has no result for, or a run that did not "
                    "finish.")
MISSING = "missing"  # planned, no result, no reason: the run was cut short or the example took its worker down
ENVIRONMENT_HEADING = "The machine or software differs from the baseline's"
ENVIRONMENT_CAVEAT = "a change below may come from it, not from the code"


def plural(count: int, noun: str) -> str:
    """``1 example``, ``2 examples``: the count with its noun in agreement."""
    return f"{count} {noun if count == 1 else noun + 's'}"


@dataclass
class BenchLine:
    model: str
    precision: str
    devices: int
    global_batch: int
    new: list[list[float]]  # runs of rounds
    baseline: list[list[float]] | None
    comparison: Comparison | None
    baseline_batch: int | None = None

    @property
    def batch_changed(self) -> bool:
        return self.baseline_batch is not None and self.baseline_batch != self.global_batch

    @property
    def batch(self) -> str:
        return f"{self.global_batch} (baseline {self.baseline_batch})" if self.batch_changed else str(self.global_batch)

    @property
    def key(self) -> str:
        return f"{self.model} {self.precision} ×{self.devices} (batch {self.batch})"


@dataclass
class StatusChange:
    example: str
    tier: str
    check: str  # "" for the example's own status
    before: str
    after: str
    detail: str = ""

    @property
    def is_regression(self) -> bool:
        return self.after == MISSING or (self.before == "passed" and self.after in ("failed", "error"))


@dataclass
class Report:
    profile_id: str
    bench_run: BenchRun | None = None
    bench_run_path: list[Path] | None = None
    baseline_path: Path | None = None
    baseline_runs: list[dict[str, Any]] = field(default_factory=list)  # provenance of the runs compared against
    bench_lines: list[BenchLine] = field(default_factory=list)
    bench_unmeasured: list[str] = field(default_factory=list)  # baseline configurations planned, not measured
    bench_uncompared: str = ""  # why a benchmark run was compared with nothing at all
    conformance_run: ConformanceRun | None = None
    conformance_run_path: Path | None = None
    conformance_baseline: ConformanceRun | None = None
    conformance_baseline_path: Path | None = None
    status_changes: list[StatusChange] = field(default_factory=list)
    metric_changes: list[dict[str, Any]] = field(default_factory=list)
    environment_changes: list[str] = field(default_factory=list)  # machine or software unlike the baselines'
    notes: list[str] = field(default_factory=list)
    alpha: float = DEFAULT_ALPHA
    min_change: float = DEFAULT_MIN_CHANGE

    @property
    def regressions(self) -> list[str]:
        found = []
        if self.bench_run and self.bench_run.status != "passed":
            failures = self.bench_run.failures()
            found.append(f"benchmark run {self.bench_run.run_id} failed: {'; '.join(failures[:5])}"
                         + (f" and {len(failures) - 5} more" if len(failures) > 5 else ""))
        found += [f"benchmark {key}: in the baseline and planned, but not measured" for key in self.bench_unmeasured]
        found += [f"benchmark {line.key}: {line.comparison.describe()}" for line in self.bench_lines
                  if line.comparison and line.comparison.is_regression]
        found += [f"conformance {c.example} [{c.tier}] {c.check or '(example)'}: {c.before} → {c.after}"
                  for c in self.status_changes if c.is_regression]
        if self.conformance_run and not self.conformance_run.complete:
            found.append(f"conformance {self.conformance_run.incompleteness()}")
        return found

    @property
    def no_longer_checked(self) -> list[str]:
        """Examples that passed in the baseline and were skipped in this run, each with its reason: not a
        regression (a skip says why), but what the run no longer checks must not hide behind "No regression"."""
        return [f"conformance {c.example} [{c.tier}]: passed → skipped" + (f" ({c.detail})" if c.detail else "")
                for c in self.status_changes if not c.check and c.before == "passed" and c.after == "skipped"]

    @property
    def unstable(self) -> list[str]:
        return [f"benchmark {line.key}: {line.comparison.describe()}" for line in self.bench_lines
                if line.comparison and line.comparison.verdict == "unstable"]


def compare_bench(run: BenchRun, baseline: Baseline | None, *, alpha: float = DEFAULT_ALPHA,
                  min_change: float = DEFAULT_MIN_CHANGE) -> list[BenchLine]:
    """One line per entry of ``run``, compared with the baseline entry of the same model,
    precision and device count (``BenchEntry.comparison_key``), against the between-run noise pooled
    over every matched configuration of both sides (``stats.between_run_noise``), with the
    p-values adjusted for testing all of them at once (``stats.adjust_for_family``)."""
    old: dict[tuple[str, str, int], BenchEntry] = {}
    if baseline is not None and run.backend in baseline.backends:
        old = {e.comparison_key: e for e in baseline.backends[run.backend].entries}
    pairs = [(entry, old.get(entry.comparison_key)) for entry in run.entries]
    noise = between_run_noise([e.runs for pair in pairs if pair[1] for e in pair])
    lines = []
    for entry, reference in pairs:
        comparison = compare(reference.runs, entry.runs, noise=noise, alpha=alpha,
                             min_change=min_change) if reference else None
        lines.append(BenchLine(entry.model, entry.precision, entry.devices, entry.global_batch, entry.runs,
                               reference.runs if reference else None, comparison,
                               reference.global_batch if reference else None))
    compared = [line for line in lines if line.comparison]
    for line, adjusted in zip(compared, adjust_for_family([line.comparison for line in compared])):
        line.comparison = adjusted
    return lines


def unmeasured(runs: list[BenchRun], baseline: Baseline | None) -> list[str]:
    """The baseline's configurations (of the runs' backend) that a run planned, by its models, precisions and
    device counts, and that no run measured: a crashed or cut-short process takes its configurations with it."""
    if baseline is None or runs[0].backend not in baseline.backends:
        return []
    measured = {e.comparison_key for run in runs for e in run.entries}

    def planned(entry: BenchEntry, settings: dict[str, Any]) -> bool:
        return (globs.matches(entry.model, globs.split(settings.get("models") or "*"))
                and entry.precision in settings.get("precisions", []) and entry.devices in settings.get("device_counts", []))

    return [f"{e.model} {e.precision} ×{e.devices}" for e in baseline.backends[runs[0].backend].entries
            if e.comparison_key not in measured and any(planned(e, run.settings) for run in runs)]


def compared_baseline_runs(run: BenchRun, baseline: Baseline) -> list[dict[str, Any]]:
    """The provenance of each baseline run whose entries the run is compared with: a baseline grows one
    selection at a time, so they may be several (entries filed before runs were named are left out)."""
    filed = baseline.backends[run.backend]
    measured = {e.comparison_key for e in run.entries}
    cited = {e.run_id for e in filed.entries if e.comparison_key in measured and e.run_id in filed.runs}
    return [filed.runs[run_id] for run_id in sorted(cited)]


def bench_settings_note(runs: list[BenchRun], compared: list[dict[str, Any]], baseline_profile: str,
                        profile_id: str) -> list[str]:
    """Where the baseline was measured elsewhere (another profile) or otherwise (other steps, rounds,
    warm-up, batch) than ``runs``, the comparison measures that too: the report says so."""
    notes = []
    if baseline_profile != profile_id:
        notes.append(f"the baseline was recorded on profile {baseline_profile}, this run on {profile_id}: "
                     f"the comparison measures the machines, not only the stack")
    differ = sorted({f"{key} {then.get(key)} → {run.settings.get(key)}"
                     for then in (filed.get("settings") or {} for filed in compared)
                     for run in runs for key in MEASUREMENT_SETTINGS if then.get(key) != run.settings.get(key)})
    if differ:
        notes.append(f"the baseline's runs measured under other settings ({'; '.join(differ)}): a change may come "
                     f"from them")
    return notes


def bench_environment_changes(run: BenchRun, compared: list[dict[str, Any]]) -> list[str]:
    """What differs between the machine and software of each baseline run the run is compared with and the
    run's own; baseline runs with the same differences share a line."""
    runs_by_changes: dict[str, list[str]] = {}
    for filed in compared:
        changes = _changes_since_filed(filed, run.profile)
        if changes:
            runs_by_changes.setdefault(changes, []).append(str(filed.get("run_id")))
    return [f"the benchmark baseline ({'run' if len(ids) == 1 else 'runs'} {', '.join(ids)}) ran on other software "
            f"or hardware than this run: {changes}" for changes, ids in runs_by_changes.items()]


def _changes_since_filed(filed: dict[str, Any], profile: dict[str, Any]) -> str:
    """``keras 3.15.1 → 3.16.0; CPU AMD EPYC → …`` between a baseline run's record and ``profile``."""
    if isinstance(filed.get("profile"), dict):
        return "; ".join(environment_changes(filed["profile"], profile))
    # Filed before baselines kept each run's profile: its library versions are all that is known of it,
    # so only they can be said to differ.
    libraries = store.stack_changes({"libraries": filed.get("versions") or {}},
                                    {"libraries": profile.get("libraries") or {}})
    return "; ".join(libraries + ["its Python, CUDA and machine were not recorded"]) if libraries else ""


def environment_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Software (``keras 3.15.1 → 3.16.0``), then hardware (``CPU AMD EPYC → Intel(R) Xeon(R) Processor``)
    that differs between two profiles: what a profile id does not pin down, and moves results all the same."""
    return store.stack_changes(before, after) + machine_changes(before, after)


def conformance_environment_changes(run: ConformanceRun, baseline: ConformanceRun) -> list[str]:
    changes = environment_changes(baseline.profile, run.profile)
    return [f"the conformance baseline run {baseline.run_id} ran on other software or hardware than this run: "
            f"{'; '.join(changes)}"] if changes else []


def compare_conformance(run: ConformanceRun, baseline: ConformanceRun,
                        metric_rtol: float = DEFAULT_METRIC_RTOL) -> tuple[list[StatusChange], list[dict[str, Any]]]:
    """Status changes of examples and checks, and scalar metrics that moved by more than ``metric_rtol``."""
    before = {e.key: e for e in baseline.examples}
    changes, metrics = [], []
    done = {e.key for e in run.examples}
    for key, old in sorted(before.items()):
        if key in done or key[0] not in run.planned:  # compared below, or not selected this time
            continue
        if key[0] in run.not_run:
            changes.append(StatusChange(*key, "", old.status, "not run", run.not_run[key[0]]))
        else:
            changes.append(StatusChange(*key, "", old.status, MISSING, "planned, but the run has no result for it"))
    for entry in sorted(run.examples, key=lambda e: e.key):
        old = before.get(entry.key)
        if old is None:  # runs often cover different selections: only shared examples are compared
            continue
        if old.status != entry.status:
            changes.append(StatusChange(*entry.key, "", old.status, entry.status, entry.reason))
        old_checks = dict(zip(unique_names(c.name for c in old.checks), old.checks))
        for name, check in zip(unique_names(c.name for c in entry.checks), entry.checks):
            previous = old_checks.get(name)
            if previous and previous.status != check.status:
                changes.append(StatusChange(*entry.key, name, previous.status, check.status,
                                            f"expected {check.expected}, actual {check.actual!r} "
                                            f"(was {previous.actual!r})"))
        for name, value in sorted(entry.metrics.items()):
            was = old.metrics.get(name)
            if not (_is_number(value) and _is_number(was)) or was == value or (math.isnan(was) and math.isnan(value)):
                continue
            relative = relative_change(was, value)
            if relative is None or abs(relative) > metric_rtol:
                metrics.append({"example": entry.id, "tier": entry.tier, "metric": name, "before": was,
                                "after": value, "relative_change": relative})
    return changes, metrics


def relative_change(before: float, after: float) -> float | None:
    """How far a metric moved, relative to where it was; ``None`` when either side is NaN or infinite
    (a metric that diverged, or came back, moved by no ratio)."""
    if not (math.isfinite(before) and math.isfinite(after)):
        return None
    return (after - before) / abs(before) if before else math.inf


def format_relative_change(relative: float | None) -> str:
    return "not finite" if relative is None else f"{relative:+.1%}"


def outcome_note(run: ConformanceRun) -> str:
    """What the run itself says, baseline or not: its settings, its counts, and the examples that failed."""
    counts = Counter(e.status for e in run.examples)
    red = sorted(e.id for e in run.examples if e.status in ("failed", "error"))
    note = f"this run ({describe_settings(run.settings)}): " + (", ".join(
        [plural(len(run.examples), "example")] + [f"{counts[status]} {status}" for status in
                                                  ("passed", "failed", "error", "skipped") if counts[status]])
        if run.examples else "no results")
    if red:
        note += f"; red: {', '.join(red[:10])}" + (f" and {len(red) - 10} more" if len(red) > 10 else "")
    if "fault" in run.settings:
        note += (f". The fault {run.settings['fault']!r} of the sensitivity catalogue was planted in this run: "
                 f"its failures are the fault's, not the stack's")
    if "golden_dir" in run.settings:
        note += f". Its examples were judged against the golden files in {run.settings['golden_dir']}, not golden/"
    return note


def settings_note(run: ConformanceRun, baseline: ConformanceRun) -> str:
    """A baseline given by hand may have run under other settings; the report says which differ."""
    keys = sorted(set(run.settings) | set(baseline.settings))
    differ = [f"{key} {baseline.settings.get(key, '(none)')} → {run.settings.get(key, '(none)')}"
              for key in keys if run.settings.get(key) != baseline.settings.get(key)]
    return f"the baseline ran under other settings ({'; '.join(differ)}): a change may come from them"


def selection_note(run: ConformanceRun, baseline: ConformanceRun) -> str:
    now = {e.key for e in run.examples}
    before = {e.key for e in baseline.examples}
    unselected = {key for key in before - now if key[0] not in run.planned}
    return (f"{plural(len(now & before), 'example')} in both runs compared; {len(now - before)} only in this run, "
            f"{len(before - now)} only in the baseline run ({len(unselected)} of them not selected this time)")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def previous_matching_run(runs: list[Path], current: Path, skipped: list[str] | None = None) -> Path | None:
    """The latest complete run that started before ``current`` (``runs`` is oldest first, as
    :func:`store.runs` lists them) with the same settings (tier, backend, precision, devices, seed).
    A run that did not finish is never a baseline: it would hide what it did not run. A later run file
    that cannot be used (unreadable or malformed) is passed over, and its problem added to ``skipped``,
    so that the report says why it was not the baseline."""
    current_run = store.read_run(current)
    earlier = runs[:bisect.bisect_left(runs, store.start_order(current), key=store.start_order)]
    for path in reversed(earlier):
        try:
            candidate = store.read_run(path)
        except MalformedRecord as problem:
            if skipped is not None:
                skipped.append(str(problem))
            continue
        if candidate.settings == current_run.settings and candidate.complete:
            return path
    return None


def build(profile_id: str, *, results_dir: Path = Path("results"), bench_run: list[Path] | Path | None = None,
          baseline: Path | None = None, baseline_dir: Path | None = None, conformance_run: Path | None = None,
          conformance_baseline: Path | None = None, alpha: float = DEFAULT_ALPHA,
          min_change: float = DEFAULT_MIN_CHANGE, metric_rtol: float = DEFAULT_METRIC_RTOL,
          bench_only: bool = False, conformance_only: bool = False) -> Report:
    """Gather the inputs (defaults: the latest runs of ``profile_id`` and their baselines) and compare them."""
    report = Report(profile_id=profile_id, alpha=alpha, min_change=min_change)
    if not conformance_only:
        if isinstance(bench_run, Path):
            bench_run = [bench_run]
        found = store.runs(results_dir, profile_id, "bench")
        report.bench_run_path = bench_run or found[-1:] or None
        if not report.bench_run_path:
            report.notes.append(f"no benchmark run under {store.run_folder(results_dir, profile_id, 'bench')} (run "
                                f"`python -m conformance bench`)")
        else:
            runs = [load_run(p) for p in dict.fromkeys(Path(p).resolve() for p in report.bench_run_path)]
            if len(runs) < len(report.bench_run_path):
                report.notes.append("a run file given more than once is read once: its runs are not further repeats")
            report.bench_run = merge_runs(runs)
            report.profile_id = report.bench_run.profile_id
            report.baseline_path = baseline or baseline_path(report.profile_id, baseline_dir)
            loaded = None
            if report.baseline_path.exists() or baseline is not None or baseline_dir is not None:
                loaded = load_baseline(report.baseline_path)
                chosen = report.bench_run.backend
                if chosen in loaded.backends:
                    compared = compared_baseline_runs(report.bench_run, loaded)
                    report.baseline_runs = compared or [loaded.backends[chosen].provenance]
                    report.environment_changes += bench_environment_changes(report.bench_run, report.baseline_runs)
                    report.notes += bench_settings_note(runs, compared, loaded.profile_id, report.profile_id)
                else:
                    report.bench_uncompared = f"the baseline {report.baseline_path} has no {chosen} entries"
            else:
                report.bench_uncompared = (f"no baseline for profile {report.profile_id} ({report.baseline_path}); "
                                           f"record one with `python -m conformance bench --save-baseline`")
            report.bench_lines = compare_bench(report.bench_run, loaded, alpha=alpha, min_change=min_change)
            report.bench_unmeasured = unmeasured(runs, loaded)
            if not report.bench_uncompared and report.bench_run.entries and not any(
                    line.comparison for line in report.bench_lines):
                report.bench_uncompared = (f"none of the run's configurations is in the baseline "
                                           f"{report.baseline_path}")
            if report.bench_uncompared:
                report.notes.append(report.bench_uncompared)
    if not bench_only:
        runs = store.runs(results_dir, profile_id, "conformance")
        report.conformance_run_path = conformance_run or (runs[-1] if runs else None)
        if report.conformance_run_path is None:
            report.notes.append(f"no conformance run under {store.run_folder(results_dir, profile_id, 'conformance')}")
        else:
            report.conformance_run = store.read_run(report.conformance_run_path)
            report.notes.append(outcome_note(report.conformance_run))
            skipped: list[str] = []
            report.conformance_baseline_path = conformance_baseline or previous_matching_run(
                runs, report.conformance_run_path, skipped)
            report.notes += [f"an earlier conformance run was passed over as a baseline: {problem}"
                             for problem in skipped]
            if report.conformance_baseline_path is None:
                report.notes.append("no earlier complete conformance run with the same settings to compare with "
                                    "(give one with --conformance-baseline)")
            else:
                report.conformance_baseline = store.read_run(report.conformance_baseline_path)
                if report.conformance_baseline.settings != report.conformance_run.settings:
                    report.notes.append(settings_note(report.conformance_run, report.conformance_baseline))
                report.environment_changes += conformance_environment_changes(report.conformance_run,
                                                                              report.conformance_baseline)
                report.status_changes, report.metric_changes = compare_conformance(
                    report.conformance_run, report.conformance_baseline, metric_rtol)
                report.notes.append(selection_note(report.conformance_run, report.conformance_baseline))
    return report


def to_json(report: Report) -> dict[str, Any]:
    return {
        "profile_id": report.profile_id, "regressions": report.regressions, "unstable": report.unstable,
        "no_longer_checked": report.no_longer_checked, "environment_changes": report.environment_changes,
        "notes": report.notes,
        "bench": [{"key": line.key, **(line.comparison.to_json() if line.comparison else {"verdict": "no baseline"})}
                  for line in report.bench_lines],
        "status_changes": [vars(c) | {"regression": c.is_regression} for c in report.status_changes],
        "metric_changes": report.metric_changes,
    }


def dumps(report: Report) -> str:
    return strict_json.dumps(to_json(report))
