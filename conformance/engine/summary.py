"""The readable end-of-run table: one line per example, the first problem of each red one."""

from __future__ import annotations

from conformance.results.records import ConformanceRun, ExampleResult, describe_settings

STATUS_LABELS = {"passed": "passed", "failed": "failed", "error": "errors", "skipped": "skipped"}
MIN_NOTE_WIDTH = 80


def format_table(run: ConformanceRun, width: int = 120) -> str:
    settings, profile = run.settings, run.profile
    examples = sorted(run.examples, key=lambda e: e.key)
    header = f"Conformance: {describe_settings(settings)}, profile {profile.get('id')}"
    if "fault" in settings:
        header += f"\nFAULT PLANTED: {settings['fault']} (sensitivity catalogue): red here is the fault, not the stack"
    if "golden_dir" in settings:
        header += f"\nGOLDEN FILES: {settings['golden_dir']}, not the project's golden/: verdicts judge against them"
    id_width = max([len("example")] + [len(e.id) for e in examples])
    lines = [header, f"{'example':<{id_width}}  {'status':<7}  {'time':>7}  {'checks':>6}  "
                     f"note (checks: passed/total)"]
    for entry in examples:
        passed = sum(c.passed for c in entry.checks)
        counts = f"{passed}/{len(entry.checks)}" if entry.checks else "-"
        status = entry.status if entry.status in ("passed", "skipped") else entry.status.upper()
        time = f"{entry.duration_s:.1f}s" if entry.duration_s else "-"
        prefix = f"{entry.id:<{id_width}}  {status:<7}  {time:>7}  {counts:>6}  "
        # a narrow terminal (80 columns in a CI log) still gets enough of the note to say what went wrong
        lines.append(prefix + _clip(_note(entry), max(MIN_NOTE_WIDTH, width - len(prefix))))
    totals = {label: sum(e.status == s for e in examples) for s, label in STATUS_LABELS.items()}
    total_time = sum(e.duration_s for e in examples)
    for example_id, reason in sorted(run.not_run.items()):
        lines.append(f"{example_id:<{id_width}}  {'not run':<7}  {'-':>7}  {'-':>6}  {reason}")
    lines.append(", ".join(f"{n} {label}" for label, n in totals.items()) + f"; {total_time:.1f}s of example time")
    if not run.complete:
        lines.append(f"INCOMPLETE: {run.incompleteness()}")
    return "\n".join(lines)


def _note(entry: ExampleResult) -> str:
    if entry.status == "failed":
        failed = entry.failed_checks
        first = failed[0]
        more = f" (+{len(failed) - 1} more)" if len(failed) > 1 else ""
        return f"{first.name}: expected {first.expected}, actual {first.actual!r}{more}"
    if entry.status in ("error", "skipped"):
        return entry.reason
    substitutes = [f"{name}: {d['kind']}" for name, d in entry.data.items() if d.get("kind") != "genuine"]
    return "; ".join(substitutes)


def _clip(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def failure_report(entry: ExampleResult) -> str:
    """The full story of one red example, for the test item's failure message."""
    if entry.status == "error":
        return f"{entry.id} [{entry.tier}] raised: {entry.reason}\n{entry.traceback}"
    failed = entry.failed_checks
    lines = [f"{entry.id} [{entry.tier}, {entry.backend}, seed {entry.seed}]: "
             f"{len(failed)} of {len(entry.checks)} checks failed"]
    lines += [f"  - {c.message}" for c in failed]
    return "\n".join(lines)
