"""The report between two stacks: what changed from stack A to stack B, on the same examples and seeds.

* **status changes** — each seed's run on B against the same seed's run on A, by
  :func:`conformance.report.compare.compare_conformance` (examples and checks whose status changed),
  gathered over the seeds: one line per change with the seeds it happened on. Two checks of one name
  (a book threshold and a recorded-run threshold on the same value) are told apart as ``<name> #2``;
* **metrics** — every scalar the examples record (``values.*``, and the parameter counts under
  ``models.*``) over the seeds of each side, judged by :data:`conformance.upgrade.spread.MOVED_RULE`;
* **installed versions** — the packages whose versions differ between the two environments, and the
  frameworks (Keras, TensorFlow, JAX, NumPy) on both sides whatever they are;
* a closing note: the command, its wall time and what changed.

Written as Markdown and JSON into the comparison's folder.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from conformance.report.compare import compare_conformance, plural
from conformance.results import strict_json
from conformance.results.records import ConformanceRun
from conformance.upgrade import spread
from conformance.upgrade.runs import SeedRun
from conformance.upgrade.stacks import Environment
from conformance.upgrade.verdicts import with_unique_check_names

FRAMEWORKS = ("keras", "tensorflow", "tensorflow-cpu", "jax", "jaxlib", "numpy", "ml-dtypes", "tensorflow-datasets")
STATUS_RULE = ("A status change is an example or check whose status on stack B differs from its status on stack A "
               "on the same seed (passed → failed is a regression); each line lists the seeds it happened on.")


@dataclass
class Side:
    name: str  # "a" or "b"
    environment: Environment
    runs: dict[int, SeedRun]


@dataclass
class StacksReport:
    command: str
    started: str
    profile_id: str
    settings: dict[str, Any]
    a: Side
    b: Side
    wall_s: float = 0.0
    status_changes: list[dict[str, Any]] = field(default_factory=list)
    movements: list[dict[str, Any]] = field(default_factory=list)  # moved and unjudged metrics
    steady_metrics: int = 0
    versions: list[dict[str, Any]] = field(default_factory=list)
    examples: list[dict[str, Any]] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)  # what could not be compared, and why
    notes: list[str] = field(default_factory=list)

    @property
    def moved(self) -> list[dict[str, Any]]:
        return [m for m in self.movements if m["verdict"] == spread.MOVED]

    @property
    def unjudged(self) -> list[dict[str, Any]]:
        return [m for m in self.movements if m["verdict"] == spread.UNJUDGED]

    @property
    def regressions(self) -> list[dict[str, Any]]:
        return [c for c in self.status_changes if c["regression"]]

    @property
    def changed(self) -> bool:
        return bool(self.status_changes or self.moved)

    def what_changed(self) -> str:
        example_changes = [c for c in self.status_changes if not c["check"]]
        check_changes = [c for c in self.status_changes if c["check"]]
        if not self.changed:
            text = (f"nothing changed: no example or check changed status, no metric moved beyond its seed spread "
                    f"({plural(self.steady_metrics, 'metric')} steady)")
        else:
            parts = [plural(len(example_changes), "example") + " and " + plural(len(check_changes), "check")
                     + " changed status" + (f" ({plural(len(self.regressions), 'regression')})" if self.regressions
                                            else ""),
                     plural(len(self.moved), "metric") + " moved beyond the seed spread"]
            text = "; ".join(parts)
        if self.incomplete:
            text = (f"the comparison is INCOMPLETE ({'; '.join(self.incomplete)}); "
                    f"{'' if self.changed else 'in what was compared, '}{text}")
        if self.unjudged:
            text += f"; {plural(len(self.unjudged), 'metric')} differed with one seed a side (unjudged)"
        return text

    def closing_note(self) -> str:
        builds = ", ".join(f"{side.name}: {_built(side.environment)}" for side in (self.a, self.b))
        runs = sum(r.wall_s for side in (self.a, self.b) for r in side.runs.values())
        return (f"`{self.command}` took {_duration(self.wall_s)} (environments {builds}; runs {_duration(runs)}). "
                f"From A to B, {self.what_changed()}.")


def build(*, command: str, started: str, profile_id: str, settings: dict[str, Any], a: Side, b: Side,
          wall_s: float) -> StacksReport:
    report = StacksReport(command, started, profile_id, settings, a, b, wall_s)
    report.status_changes = _status_changes(a, b, report.incomplete)
    report.movements, report.steady_metrics = _movements(a, b)
    report.versions = _versions(a.environment.packages, b.environment.packages)
    report.examples = _examples(a, b)
    return report


def _status_changes(a: Side, b: Side, incomplete: list[str]) -> list[dict[str, Any]]:
    """Status changes from A to B, seed by seed; what could not be compared goes to ``incomplete``: a side
    without results, a run that did not finish, examples one side has results for and the other not."""
    gathered: dict[tuple[str, str, str, str, str], dict[str, Any]] = {}
    for seed in sorted(set(a.runs) | set(b.runs)):
        before, after = a.runs.get(seed), b.runs.get(seed)
        if before is None or after is None or before.run is None or after.run is None:
            missing = [f"{side.name} ({side.runs[seed].problem}; see {side.runs[seed].log})" if seed in side.runs
                       else side.name for side, run in ((a, before), (b, after)) if run is None or run.run is None]
            incomplete.append(f"seed {seed}: no results on {' and '.join(missing)}")
            continue
        for side, run in ((a, before.run), (b, after.run)):
            if not run.complete:
                incomplete.append(f"seed {seed}: {side.name}'s {run.incompleteness()}")
        on_a, on_b = {e.key for e in before.run.examples}, {e.key for e in after.run.examples}
        for side, only in (("a", on_a - on_b), ("b", on_b - on_a)):
            if only:
                incomplete.append(f"seed {seed}: only {side} has results for {', '.join(sorted(k[0] for k in only))}")
        changes, _ = compare_conformance(_unique_checks(after.run), _unique_checks(before.run), metric_rtol=math.inf)
        for change in changes:
            key = (change.example, change.tier, change.check, change.before, change.after)
            entry = gathered.setdefault(key, {"example": change.example, "tier": change.tier, "check": change.check,
                                              "before": change.before, "after": change.after, "seeds": [],
                                              "detail": change.detail, "regression": change.is_regression})
            entry["seeds"].append(seed)
    return sorted(gathered.values(), key=lambda c: (c["example"], c["check"], c["before"], c["after"]))


def _unique_checks(run: ConformanceRun) -> ConformanceRun:
    """The run with each example's checks uniquely named (``verdicts.unique_names``), so that two checks
    of one name are each compared with their own counterpart, not with the other."""
    return replace(run, examples=[with_unique_check_names(e) for e in run.examples])


def scalar_metrics(metrics: dict[str, Any], models: dict[str, Any]) -> dict[str, float]:
    """The numbers an example recorded: ``values.<name>`` and ``models.<model>.<count>``."""
    found = {f"values.{name}": float(v) for name, v in metrics.items() if _is_number(v)}
    for model, facts in models.items():
        if isinstance(facts, dict):
            found.update({f"models.{model}.{name}": float(v) for name, v in facts.items() if _is_number(v)})
    return found


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _per_seed_metrics(side: Side) -> dict[tuple[str, str], list[float]]:
    values: dict[tuple[str, str], list[float]] = {}
    for seed in sorted(side.runs):
        run = side.runs[seed].run
        for result in run.examples if run else []:
            if result.status in ("passed", "failed"):
                for name, value in scalar_metrics(result.metrics, result.models).items():
                    values.setdefault((result.id, name), []).append(value)
    return values


def _movements(a: Side, b: Side) -> tuple[list[dict[str, Any]], int]:
    before, after = _per_seed_metrics(a), _per_seed_metrics(b)
    found, steady = [], 0
    for key in sorted(set(before) & set(after)):
        move = spread.movement(before[key], after[key])
        if move.verdict == spread.STEADY:
            steady += 1
            continue
        found.append({"example": key[0], "metric": key[1], "verdict": move.verdict, "a": list(move.before),
                      "b": list(move.after), "mean_a": move.mean_before if move.finite else None,
                      "mean_b": move.mean_after if move.finite else None,
                      "change": move.change if move.finite else None,
                      "relative_change": move.relative_change if move.finite else None,
                      "seed_range": move.spread if move.finite else None, "description": move.describe()})
    return found, steady


def _versions(a: dict[str, str], b: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for name in sorted(set(a) | set(b)):
        if a.get(name) != b.get(name) or name in FRAMEWORKS:
            rows.append({"package": name, "a": a.get(name), "b": b.get(name), "differs": a.get(name) != b.get(name)})
    return rows


def _examples(a: Side, b: Side) -> list[dict[str, Any]]:
    def statuses(side: Side) -> dict[str, list[tuple[int, str]]]:
        found: dict[str, list[tuple[int, str]]] = {}
        for seed in sorted(side.runs):
            run = side.runs[seed].run
            for result in run.examples if run else []:
                found.setdefault(result.id, []).append((seed, result.status))
        return found

    before, after = statuses(a), statuses(b)
    return [{"example": example, "a": _status_summary(before.get(example, [])),
             "b": _status_summary(after.get(example, [])),
             "differs": [s for _, s in before.get(example, [])] != [s for _, s in after.get(example, [])]}
            for example in sorted(set(before) | set(after))]


def _status_summary(by_seed: list[tuple[int, str]]) -> str:
    if not by_seed:
        return "–"
    counts = Counter(status for _, status in by_seed)
    if len(counts) == 1:
        return f"{by_seed[0][1]} ({plural(len(by_seed), 'seed')})"
    return ", ".join(f"{status} on seed {seed}" for seed, status in by_seed)


def _built(environment: Environment) -> str:
    return "reused" if environment.reused else f"built in {_duration(environment.build_s)}"


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def render(report: StacksReport) -> str:
    s = report.settings
    lines = [f"# Stacks compared — profile `{report.profile_id}`", ""]
    for side in (report.a, report.b):
        env = side.environment
        lines.append(f"- **{side.name.upper()}**: `{env.stack.label}` — environment `{env.path}` "
                     f"({_built(env)})")
    lines += [f"- tier `{s['tier']}`, examples `{s['examples'] or 'all'}`, backend `{s['backend']}`, "
              f"seeds {', '.join(map(str, s['seeds']))}, started {report.started}", ""]
    lines.append(f"**From A to B, {report.what_changed()}.**")
    lines += ["", STATUS_RULE + " " + spread.MOVED_RULE]
    if report.notes:
        lines += [""] + [f"> {note}  " for note in report.notes]

    lines += ["", "## Installed versions", "", "| package | A | B |", "|---|---|---|"]
    lines += [f"| {'**' + row['package'] + '**' if row['differs'] else row['package']} | {row['a'] or '–'} | "
              f"{row['b'] or '–'} |" for row in report.versions]

    lines += ["", "## Status changes", ""]
    if report.status_changes:
        lines += ["| example | check | A | B | seeds | detail |", "|---|---|---|---|---|---|"]
        lines += [f"| {c['example']} | {_cell(c['check'] or '(example)')} | {c['before']} | "
                  f"{'**' + c['after'] + '**' if c['regression'] else c['after']} | "
                  f"{', '.join(map(str, c['seeds']))} | {_cell(c['detail'])} |" for c in report.status_changes]
    else:
        lines.append("No example or check changed status.")

    lines += ["", "## Metrics", ""]
    if report.moved:
        lines += ["| example | metric | A mean | B mean | change | seed range |", "|---|---|---:|---:|---:|---:|"]
        for m in report.moved:
            if m["change"] is None:
                lines.append(f"| {m['example']} | {m['metric']} | {m['a']} | {m['b']} | – | – |")
                continue
            relative = f" ({m['relative_change']:+.1%})" if m["relative_change"] is not None else ""
            lines.append(f"| {m['example']} | {m['metric']} | {m['mean_a']:.4g} | {m['mean_b']:.4g} | "
                         f"{m['change']:+.4g}{relative} | {m['seed_range']:.4g} |")
    else:
        lines.append("No metric moved beyond its seed spread.")
    lines.append(f"\n{plural(report.steady_metrics, 'metric')} steady.")
    if report.unjudged:
        lines += ["", "Differed with a single seed a side (no spread to judge by; rerun with `--seeds 0,1,2`):", ""]
        lines += [f"- {m['example']} {m['metric']}: {m['description']}" for m in report.unjudged]

    lines += ["", "## Examples", "", "| example | A | B |", "|---|---|---|"]
    lines += [f"| {'**' + e['example'] + '**' if e['differs'] else e['example']} | {e['a']} | {e['b']} |"
              for e in report.examples]

    lines += ["", "## Runs", "", "| side | seed | result | wall time | log |", "|---|---:|---|---:|---|"]
    for side in (report.a, report.b):
        for seed, run in sorted(side.runs.items()):
            lines.append(f"| {side.name.upper()} | {seed} | {_cell(run.summary())} | {_duration(run.wall_s)} | "
                         f"`{run.log}` |")
    lines += ["", "## Closing note", "", report.closing_note()]
    return "\n".join(lines) + "\n"


def _cell(text: str, width: int = 140) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= width else text[: width - 1] + "…"


def to_json(report: StacksReport) -> dict[str, Any]:
    def side(s: Side) -> dict[str, Any]:
        env = s.environment
        return {"stack": env.stack.label, "spec": env.stack.spec, "environment": str(env.path), "key": env.key,
                "reused": env.reused, "build_s": env.build_s, "packages": env.packages,
                "runs": {str(seed): {"run_file_id": r.run.run_id if r.run else None, "log": str(r.log),
                                     "exit_status": r.exit_status, "wall_s": r.wall_s, "summary": r.summary()}
                         for seed, r in sorted(s.runs.items())}}

    return {"kind": "compare-stacks", "command": report.command, "started": report.started,
            "wall_s": report.wall_s, "profile_id": report.profile_id, "settings": report.settings,
            "rules": {"status": STATUS_RULE, "metrics": spread.MOVED_RULE},
            "what_changed": report.what_changed(), "closing_note": report.closing_note(),
            "a": side(report.a), "b": side(report.b), "status_changes": report.status_changes,
            "metrics": report.movements, "steady_metrics": report.steady_metrics, "versions": report.versions,
            "examples": report.examples, "incomplete": report.incomplete, "notes": report.notes}


def write(report: StacksReport, folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    markdown, document = folder / "report.md", folder / "report.json"
    markdown.write_text(render(report), encoding="utf-8")
    document.write_text(strict_json.dumps(to_json(report)) + "\n", encoding="utf-8")
    return markdown, document
