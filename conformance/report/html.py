"""The regression report as one self-contained HTML page: plots are PNGs embedded as base64
``data:`` URIs, styles are inline, nothing is fetched from anywhere.

The page reads top-down like a reviewer would: a summary of counts, then the verdicts that need
attention (regressions, unstable measurements) with their figures, the rule that called them,
the detail tables, and last the plots."""

from __future__ import annotations

import base64
import html
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from conformance.report import plots
from conformance.report.compare import (CONFORMANCE_RULE, ENVIRONMENT_CAVEAT, ENVIRONMENT_HEADING, BenchLine, Report,
                                        StatusChange, format_relative_change, plural)
from conformance.report.stats import BETWEEN_RUNS, Comparison, median_of_runs, regression_rule

STYLE = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;margin:0;background:#fafafa;line-height:1.45}
main{max-width:1132px;margin:0 auto;padding:1.5em 16px 3em;background:#fff}
h1{font-size:1.6em;margin:.2em 0 .4em}
h2{font-size:1.25em;margin:1.8em 0 .5em;border-bottom:1px solid #ddd;padding-bottom:.2em}
h3{font-size:1.05em;margin:1.2em 0 .4em}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:.9em}
td,th{border:1px solid #d8d8d8;padding:.3em .55em;text-align:left;vertical-align:top}
th{background:#f3f3f3;font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}td.n,td.key{white-space:nowrap}
table.summary th[colspan]{background:#e9eef5}
table.summary td.n{min-width:4em}
.headline{font-size:1.15em;font-weight:600;padding:.5em .8em;border-radius:4px;display:inline-block;margin:.2em 0}
.headline.bad{background:#fde8eb;color:#b00020}.headline.good{background:#e6f4ea;color:#1b5e20}
.headline.warn{background:#fff4e0;color:#8a5300}
.regression{color:#b00020;font-weight:600}.improvement{color:#1b7a2e;font-weight:600}
.unstable{color:#9a5a00;font-weight:600}
.note,.meta{color:#555;font-size:.92em}.meta code{font-size:.95em;word-break:break-all}
.environment{background:#fff4e0;border-left:3px solid #d59a2b;padding:.4em .9em;margin:.8em 0;font-size:.95em}
.environment ul{margin:.3em 0}
.rule{background:#f6f8fa;border-left:3px solid #9ab;padding:.6em .9em;font-size:.9em;color:#333}
figure{margin:1em 0}figure img{display:block;max-width:100%;height:auto}
figcaption{font-size:.88em;color:#555;margin-top:.3em}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:20px}
"""


def render(report: Report, golden_dir: Path | None = None) -> str:
    """The page; ``golden_dir`` is where the golden files are (default: the project's golden/)."""
    sections = [_headline(report), _environment(report), _summary(report), _verdicts(report), _rule(report),
                _notes(report)]
    if report.bench_run:
        sections.append(_bench_details(report))
    if report.conformance_run:
        sections.append(_conformance_details(report))
    sections.append(_plots(report, golden_dir))
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>Regression report — {_e(report.profile_id)}</title><style>{STYLE}</style></head>"
            f"<body><main>{''.join(sections)}</main></body></html>\n")


def _e(text: Any) -> str:
    return html.escape(str(text))


# -- the top of the page: headline, summary, verdicts, rule -------------------------------------------
def _headline(report: Report) -> str:
    regressions, unstable = len(report.regressions), len(report.unstable)
    parts = [f"<h1>Regression report — profile {_e(report.profile_id)}</h1>"]
    if regressions:
        parts.append(f"<div class='headline bad'>{plural(regressions, 'regression')}</div> ")
    else:
        parts.append("<div class='headline good'>No regression</div> ")
    if unstable:
        parts.append(f"<div class='headline warn'>{plural(unstable, 'unstable measurement')}: rerun on a quiet "
                     f"machine</div>")
    return "".join(parts)


def _environment(report: Report) -> str:
    """Under the headline: an upgrade of Keras or the backend, or another machine, is what a reader
    needs to know before reading any change as the code's."""
    if not report.environment_changes:
        return ""
    return (f"<div class='environment'><b>{_e(ENVIRONMENT_HEADING)}</b> ({_e(ENVIRONMENT_CAVEAT)}):<ul>"
            + "".join(f"<li>{_e(change)}</li>" for change in report.environment_changes) + "</ul></div>")


def _summary(report: Report) -> str:
    rows = []
    if report.bench_run:
        verdicts = Counter(line.comparison.verdict for line in report.bench_lines if line.comparison)
        run = report.bench_run
        rows += [_section_row("Benchmarks"),
                 _count_row("run", "passed" if run.status == "passed" else "FAILED",
                            "" if run.status == "passed" else "regression"),
                 _count_row("configurations compared", sum(verdicts.values()))]
        rows += [_count_row(name, verdicts[verdict], verdict) for name, verdict in (
            ("regressions", "regression"), ("improvements", "improvement"), ("unstable", "unstable"),
            ("unchanged", "unchanged"))]
        rows.append(_count_row("no baseline", sum(line.comparison is None for line in report.bench_lines)))
        rows.append(_count_row("in the baseline, not measured", len(report.bench_unmeasured), "regression"))
    if report.conformance_run:
        compared = len(_shared_examples(report)) if report.conformance_baseline else "– (no baseline run)"
        run = report.conformance_run
        rows += [_section_row("Conformance"),
                 _count_row("run", "complete" if run.complete else "INCOMPLETE", "" if run.complete else "regression"),
                 _count_row("examples compared", compared),
                 _count_row("status changes", len(report.status_changes)),
                 _count_row("regressions", sum(c.is_regression for c in report.status_changes), "regression")]
    if not rows:
        return ""
    return "<h2>Summary</h2><table class='summary'>" + "".join(rows) + "</table>"


def _section_row(title: str) -> str:
    return f"<tr><th colspan='2'>{_e(title)}</th></tr>"


def _count_row(label: str, count: int | str, css: str = "") -> str:
    # a count draws the eye only when it is not zero
    css_attribute = f" {css}" if css and count else ""
    return f"<tr><td>{_e(label)}</td><td class='n{css_attribute}'>{_e(count)}</td></tr>"


def _shared_examples(report: Report) -> set[tuple[str, str]]:
    now = {e.key for e in report.conformance_run.examples}
    return now & {e.key for e in report.conformance_baseline.examples}


def _verdicts(report: Report) -> str:
    slower = [line for line in report.bench_lines if line.comparison and line.comparison.is_regression]
    failed = [c for c in report.status_changes if c.is_regression]
    unstable = [line for line in report.bench_lines if line.comparison and line.comparison.verdict == "unstable"]
    incomplete = report.conformance_run is not None and not report.conformance_run.complete
    bench_failed = report.bench_run is not None and report.bench_run.status != "passed"
    parts = ["<h2>Verdicts</h2>"]
    if bench_failed:
        parts.append(f"<h3 class='regression'>Failed benchmark run</h3><ul>"
                     + "".join(f"<li>{_e(f)}</li>" for f in report.bench_run.failures()) + "</ul>")
    if report.bench_unmeasured:
        parts.append(f"<h3 class='regression'>{plural(len(report.bench_unmeasured), 'configuration')} of the baseline "
                     f"planned but not measured</h3><ul>"
                     + "".join(f"<li>{_e(key)}</li>" for key in report.bench_unmeasured) + "</ul>")
    if incomplete:
        parts.append(f"<h3 class='regression'>Incomplete conformance run</h3>"
                     f"<p>{_e(report.conformance_run.incompleteness())}</p>")
    if report.no_longer_checked:
        parts.append(f"<h3>{plural(len(report.no_longer_checked), 'example')} passed in the baseline, skipped now "
                     f"(not a regression)</h3><ul>"
                     + "".join(f"<li>{_e(line)}</li>" for line in report.no_longer_checked) + "</ul>")
    if not (slower or failed or unstable or incomplete or bench_failed or report.bench_unmeasured):
        parts.append("<p>No regression, no unstable measurement.</p>")
    if slower:
        parts.append(f"<h3 class='regression'>{plural(len(slower), 'benchmark regression')}</h3>")
        parts.append(_verdict_table(slower))
    if failed:
        parts.append(f"<h3 class='regression'>{plural(len(failed), 'conformance regression')}</h3>")
        parts.append(_status_table(failed))
    if unstable:
        parts.append(f"<h3 class='unstable'>{plural(len(unstable), 'unstable measurement')} — not called, "
                     f"rerun on a quiet machine</h3>")
        parts.append(_verdict_table(unstable, unstable=True))
    return "".join(parts)


def _verdict_table(lines: list[BenchLine], unstable: bool = False) -> str:
    extra = "<th class='n'>rounds' CV new / baseline</th>" if unstable else ""
    rows = [f"<table><tr><th>configuration</th><th class='n'>change</th><th class='n'>samples/s baseline → new</th>"
            f"<th class='n'>p adjusted</th><th class='n'>p raw</th><th class='n'>noise (CV)</th>"
            f"<th class='n'>threshold</th>{extra}</tr>"]
    for line in lines:
        c = line.comparison
        cells = (f"<td class='key'>{_e(line.key)}</td><td class='n {c.verdict}'>{c.change:+.1%}</td>"
                 f"<td class='n'>{c.baseline_median:.4g} → {c.new_median:.4g}</td>{_p_cells(c)}"
                 f"<td class='n'>{_noise(c)}</td><td class='n'>±{c.threshold:.1%}</td>")
        if unstable:
            cells += f"<td class='n'>{c.new_cv:.0%} / {c.baseline_cv:.0%}</td>"
        rows.append(f"<tr title='{_e(c.describe())}'>{cells}</tr>")
    return "".join(rows) + "</table>"


def _p_cells(c: Comparison) -> str:
    # the verdict's p is the raw one where the report made a single comparison (Holm leaves it as it is)
    over = f"Holm's adjustment over {plural(c.family, 'comparison')}"
    return (f"<td class='n' title='{_e(over)}'>{c.p_verdict:.3g}</td>"
            f"<td class='n' title='{_e(c.test)}'>{c.p_value:.3g}</td>")


def _noise(c: Comparison) -> str:
    return f"{c.noise:.1%} {'between runs' if c.test == BETWEEN_RUNS else 'within a run'}"


def _rule(report: Report) -> str:
    text = regression_rule(report.alpha, report.min_change)
    conformance = f"<br>{_e(CONFORMANCE_RULE)}" if report.conformance_run else ""
    return f"<p class='rule'><b>How a verdict is called.</b> {_e(text)}{conformance}</p>"


def _notes(report: Report) -> str:
    notes = list(report.notes)
    once = sum(1 for line in report.bench_lines if line.comparison and len(line.new) == 1)
    if once:
        notes.append(f"{plural(once, 'configuration')} of this run {'was' if once == 1 else 'were'} measured once: a "
                     f"slow spell of the machine during that one run can look like a regression; "
                     f"bench --repeats 3 (the default) guards against it.")
    return "".join(f"<p class='note'>{_e(n)}</p>" for n in notes)


# -- detail tables -----------------------------------------------------------------------------------
def _bench_details(report: Report) -> str:
    run = report.bench_run
    baseline = f"<code>{_e(report.baseline_path)}</code>" if report.baseline_path else "none"
    for p in report.baseline_runs:
        baseline += f", run <code>{_e(p['run_id'])}</code> of {_e(p['date'])}: <code>{_e(p['command'])}</code>"
    meta = (f"<p class='meta'>Run <code>{_e(run.run_id)}</code> ({_e(run.backend)}, finished {_e(run.finished)}): "
            f"<code>{_e(run.command)}</code><br>Baseline: {baseline}</p>")
    family = next((line.comparison.family for line in report.bench_lines if line.comparison), 1)
    rows = ["<table><tr><th>configuration</th><th class='n'>samples/s</th><th class='n'>baseline</th>"
            "<th class='n'>change</th>"
            f"<th class='n' title='Holm over {plural(family, 'comparison')}'>p adjusted</th><th class='n'>p raw</th>"
            "<th class='n'>noise (CV)</th><th class='n'>runs new / base</th><th>verdict</th></tr>"]
    rows += [_bench_row(line) for line in report.bench_lines]
    return "<h2>Benchmarks</h2>" + meta + "".join(rows) + "</table>"


def _bench_row(line: BenchLine) -> str:
    head = f"<tr><td class='key'>{_e(line.key)}</td>"
    c = line.comparison
    if c is None:
        return head + (f"<td class='n'>{median_of_runs(line.new):.1f}</td>" + "<td class='n'>–</td>" * 5 +
                       f"<td class='n'>{len(line.new)} / –</td><td>no baseline</td></tr>")
    verdict = c.verdict + (" (too few rounds)" if c.underpowered else "")
    return head + (f"<td class='n'>{c.new_median:.1f}</td><td class='n'>{c.baseline_median:.1f}</td>"
                   f"<td class='n'>{c.change:+.1%}</td>{_p_cells(c)}<td class='n'>{_noise(c)}</td>"
                   f"<td class='n'>{c.runs[1]} / {c.runs[0]}</td>"
                   f"<td class='{c.verdict}' title='{_e(c.describe())}'>{_e(verdict)}</td></tr>")


def _conformance_details(report: Report) -> str:
    parts = ["<h2>Conformance</h2>",
             f"<p class='meta'>Run: <code>{_e(report.conformance_run_path)}</code><br>Baseline: "
             f"<code>{_e(report.conformance_baseline_path or '(none)')}</code></p>"]
    if report.conformance_baseline is None:
        parts.append("<p class='note'>No baseline run to compare with.</p>")
    elif report.status_changes:
        parts += ["<h3>Status changes</h3>", _status_table(report.status_changes)]
    else:
        parts.append("<p>No example or check changed status.</p>")
    if report.metric_changes:
        parts += ["<h3>Metrics that moved</h3>", _metric_table(report.metric_changes)]
    return "".join(parts)


def _status_table(changes: list[StatusChange]) -> str:
    rows = ["<table><tr><th>example</th><th>tier</th><th>check</th><th>before → after</th><th>detail</th></tr>"]
    for c in changes:
        css = " class='regression'" if c.is_regression else ""
        rows.append(f"<tr><td>{_e(c.example)}</td><td>{_e(c.tier)}</td><td>{_e(c.check or '(example)')}</td>"
                    f"<td{css}>{_e(c.before)} → {_e(c.after)}</td><td>{_e(c.detail)}</td></tr>")
    return "".join(rows) + "</table>"


def _metric_table(changes: list[dict[str, Any]]) -> str:
    rows = ["<table><tr><th>example</th><th>tier</th><th>metric</th><th class='n'>before</th><th class='n'>after</th>"
            "<th class='n'>change</th></tr>"]
    rows += [f"<tr><td>{_e(m['example'])}</td><td>{_e(m['tier'])}</td><td>{_e(m['metric'])}</td>"
             f"<td class='n'>{m['before']:.4g}</td><td class='n'>{m['after']:.4g}</td>"
             f"<td class='n'>{format_relative_change(m['relative_change'])}</td></tr>" for m in changes]
    return "".join(rows) + "</table>"


# -- plots --------------------------------------------------------------------------------------------
def _plots(report: Report, golden_dir: Path | None) -> str:
    parts = []
    with plots.styled():
        compared = [line for line in report.bench_lines if line.comparison]
        if compared:
            parts.append(_image(plots.change_plot(compared, report.min_change),
                                "Change of the median throughput against the baseline, per configuration. The "
                                "dashed lines mark the minimum change that can be called; a bar past them is called "
                                "only if the test agrees (see the rule above)."))
        if report.bench_lines:
            parts.append(_image(plots.throughput_plot(report.bench_lines),
                                "Training throughput at the smallest device count: bars are this run's median, "
                                "dots its rounds, diamonds the baseline's median with the range of its runs."))
            scaling = plots.scaling_plot(report.bench_lines)
            if scaling:
                parts.append(_image(scaling, "Throughput against device count, relative to one device "
                                             "(per-device batch constant); the dashed line is perfect scaling."))
        if report.conformance_run:
            loss = plots.loss_plots(report, golden_dir)
            if loss:
                parts.append("<h3>Loss curves</h3><p class='note'>Solid: this run; dashed: the baseline run; "
                             "shaded: the epochs where the golden file expects the curve's best epoch.</p>")
                figures = [_image(p.png, p.title, [f"golden: {words}" for words in p.shaded]) for p in loss]
                parts.append("<div class='grid'>" + "".join(figures) + "</div>")
    return "<h2>Plots</h2>" + "".join(parts) if parts else ""


def _image(png: bytes, caption: str, more: Sequence[str] = ()) -> str:
    encoded = base64.b64encode(png).decode("ascii")
    text = "<br>".join(_e(line) for line in (caption, *more))
    return (f"<figure><img alt='{_e(caption)}' src='data:image/png;base64,{encoded}'>"
            f"<figcaption>{text}</figcaption></figure>")
