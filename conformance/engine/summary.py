"""The readable end-of-run table: one line per example, the first problem of each red one."""

from __future__ import annotations

from typing import Any

STATUS_LABELS = {"passed": "passed", "failed": "failed", "error": "errors", "skipped": "skipped"}


def format_table(document: dict[str, Any], width: int = 120) -> str:
    settings = document.get("settings", {})
    profile = document.get("profile", {})
    examples = sorted(document["examples"], key=lambda e: (e["id"], e["tier"]))
    header = (
        f"Conformance: tier {settings.get('tier')}, backend {settings.get('backend')}, "
        f"precision {settings.get('precision')}, devices {settings.get('devices')}, seed {settings.get('seed')}, "
        f"profile {profile.get('id')}"
    )
    id_width = max([len("example")] + [len(e["id"]) for e in examples])
    lines = [header, f"{'example':<{id_width}}  {'status':<7}  {'time':>7}  {'checks':>6}  note"]
    for entry in examples:
        checks = entry.get("checks", [])
        passed = sum(c["status"] == "passed" for c in checks)
        counts = f"{passed}/{len(checks)}" if checks else "-"
        status = entry["status"] if entry["status"] in ("passed", "skipped") else entry["status"].upper()
        time = f"{entry['duration_s']:.1f}s" if entry.get("duration_s") else "-"
        prefix = f"{entry['id']:<{id_width}}  {status:<7}  {time:>7}  {counts:>6}  "
        lines.append(prefix + _clip(_note(entry), max(20, width - len(prefix))))
    totals = {label: sum(e["status"] == s for e in examples) for s, label in STATUS_LABELS.items()}
    total_time = sum(e.get("duration_s", 0.0) for e in examples)
    lines.append(", ".join(f"{n} {label}" for label, n in totals.items()) + f"; {total_time:.1f}s of example time")
    return "\n".join(lines)


def _note(entry: dict[str, Any]) -> str:
    if entry["status"] == "failed":
        failed = [c for c in entry["checks"] if c["status"] == "failed"]
        first = failed[0]
        more = f" (+{len(failed) - 1} more)" if len(failed) > 1 else ""
        return f"{first['name']}: expected {first['expected']}, actual {first['actual']!r}{more}"
    if entry["status"] in ("error", "skipped"):
        return entry.get("reason", "")
    data = entry.get("data", {})
    substitutes = [f"{name}: {d['kind']}" for name, d in data.items() if d.get("kind") != "genuine"]
    return "; ".join(substitutes)


def _clip(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def failure_report(entry: dict[str, Any]) -> str:
    """The full story of one red example, for the test item's failure message."""
    if entry["status"] == "error":
        return f"{entry['id']} [{entry['tier']}] raised: {entry['reason']}\n{entry.get('traceback', '')}"
    failed = [c for c in entry["checks"] if c["status"] == "failed"]
    lines = [f"{entry['id']} [{entry['tier']}, {entry['backend']}, seed {entry['seed']}]: "
             f"{len(failed)} of {len(entry['checks'])} checks failed"]
    lines += [f"  - {c['message']}" for c in failed]
    return "\n".join(lines)
