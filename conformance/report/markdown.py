"""The regression report as Markdown: verdicts first, then the benchmark and conformance tables."""

from __future__ import annotations

from pathlib import Path

from conformance.report.compare import (CONFORMANCE_RULE, ENVIRONMENT_CAVEAT, ENVIRONMENT_HEADING, Report,
                                        format_relative_change, plural)
from conformance.report.stats import BETWEEN_RUNS, median_of_runs, regression_rule


def render(report: Report) -> str:
    lines = [f"# Regression report — profile `{report.profile_id}`", ""]
    regressions = report.regressions
    lines.append(f"**{plural(len(regressions), 'regression')}**" if regressions else "**No regression.**")
    lines += [f"- {r}" for r in regressions]
    if report.environment_changes:
        lines += ["", f"**{ENVIRONMENT_HEADING}** ({ENVIRONMENT_CAVEAT}):"]
        lines += [f"- {change}" for change in report.environment_changes]
    if report.no_longer_checked:
        lines += ["", f"**{plural(len(report.no_longer_checked), 'example')} passed in the baseline and "
                      f"{'was' if len(report.no_longer_checked) == 1 else 'were'} skipped** (not a regression: each "
                      f"says why; a machine meant to have the data runs with `--require-data`):"]
        lines += [f"- {n}" for n in report.no_longer_checked]
    if report.unstable:
        lines += ["", f"**{plural(len(report.unstable), 'unstable measurement')}** (not called; rerun on a quiet "
                      f"machine):"]
        lines += [f"- {u}" for u in report.unstable]
    lines += ["", regression_rule(report.alpha, report.min_change) + " " + CONFORMANCE_RULE, ""]
    single = [line.key for line in report.bench_lines if line.comparison and len(line.new) == 1]
    if single:
        lines += [f"> {plural(len(single), 'configuration')} of this run {'was' if len(single) == 1 else 'were'} "
                  f"measured once: a slow spell of the machine "
                  f"during that one run can look like a regression. `bench --repeats 3` (the default) guards "
                  f"against it.", ""]
    lines += [f"> {note}" for note in report.notes]
    if report.bench_run:
        run = report.bench_run
        lines += ["", "## Benchmarks", "",
                  f"Run `{run.run_id}` ({run.backend}, {run.finished}): `{run.command}`  ",
                  f"Baseline: `{report.baseline_path}`" + (" — " + "; ".join(
                      f"run `{p['run_id']}`, {p['date']}, `{p['command']}`" for p in report.baseline_runs)
                      if report.baseline_runs else " (none)"), "",
                  "| model | precision | devices | batch | samples/s (median) | baseline | change | noise | "
                  "p (Holm-adjusted) | p (raw, test) | runs new / base | verdict |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for line in report.bench_lines:
            c = line.comparison
            if c is None:
                lines.append(f"| {line.model} | {line.precision} | {line.devices} | {line.batch} | "
                             f"{median_of_runs(line.new):.1f} | – | – | – | – | – | {len(line.new)} / – | no baseline |")
                continue
            verdict = f"**{c.verdict}**" if c.verdict != "unchanged" else c.verdict
            if c.underpowered:
                verdict += " (too few rounds)"
            test, noise = ("t", f"{c.noise:.1%} between runs") if c.test == BETWEEN_RUNS else \
                ("MWU", f"{c.noise:.1%} within runs")
            adjusted = f"{c.p_adjusted:.3g}" if c.p_adjusted is not None else "– (one test)"
            lines.append(f"| {line.model} | {line.precision} | {line.devices} | {line.batch} | "
                         f"{c.new_median:.1f} | {c.baseline_median:.1f} | {c.change:+.1%} | {noise} | {adjusted} | "
                         f"{c.p_value:.3g} ({test}) | {c.runs[1]} / {c.runs[0]} | {verdict} |")
        lines += ["", "| derived | value |", "|---|---:|"]
        for s in run.derived["mixed_speedup"]:
            lines.append(f"| {s['model']} {s['precision']} / float32, {plural(s['devices'], 'device')} | {s['speedup']:.2f}× |")
        for s in run.derived["scaling_efficiency"]:
            lines.append(f"| {s['model']} {s['precision']} scaling efficiency, {s['devices']} devices | "
                         f"{s['efficiency']:.1%} |")
        for e in run.entries:
            if e.utilisation is not None and e.achieved_flops_per_s:
                lines.append(f"| {e.model} {e.precision} ×{e.devices}: {e.achieved_flops_per_s / 1e9:.2f} "
                             f"GFLOP/s of the matmul ceiling | {e.utilisation:.1%} |")
        for g in run.gates:
            lines.append(f"| accuracy gate {g['precision']} ({'passed' if g['passed'] else 'FAILED'}) | "
                         f"{g['accuracy_gap']:+.4f} accuracy |")
    if report.conformance_run:
        run = report.conformance_run
        lines += ["", "## Conformance", "",
                  f"Run: `{report.conformance_run_path}` — "
                  + ("complete" if run.complete else f"**INCOMPLETE**: {run.incompleteness()}") + "  ",
                  f"Baseline: `{report.conformance_baseline_path or '(none)'}`", ""]
        if report.conformance_baseline is not None:
            if report.status_changes:
                lines += ["| example | tier | check | before | after | detail |", "|---|---|---|---|---|---|"]
                lines += [f"| {c.example} | {c.tier} | {c.check or '(example)'} | {c.before} | "
                          f"{'**' + c.after + '**' if c.is_regression else c.after} | {_cell(c.detail)} |"
                          for c in report.status_changes]
            else:
                lines.append("No example or check changed status.")
            if report.metric_changes:
                lines += ["", "| example | metric | before | after | change |", "|---|---|---:|---:|---:|"]
                lines += [f"| {m['example']} | {m['metric']} | {m['before']:.4g} | {m['after']:.4g} | "
                          f"{format_relative_change(m['relative_change'])} |" for m in report.metric_changes]
    return "\n".join(lines) + "\n"



def _cell(text: str, width: int = 140) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= width else text[: width - 1] + "…"



def write(report: Report, out: Path, golden_dir: Path | None = None) -> tuple[Path, Path]:
    """Write ``out``.md and ``out``.html (its loss plots shade the best-epoch windows of the golden
    files in ``golden_dir``, default the project's); returns both paths."""
    from conformance.report import html as report_html  # matplotlib loads only when a report is written

    out.parent.mkdir(parents=True, exist_ok=True)
    markdown, html = out.with_suffix(".md"), out.with_suffix(".html")
    markdown.write_text(render(report), encoding="utf-8")
    html.write_text(report_html.render(report, golden_dir), encoding="utf-8")
    return markdown, html


