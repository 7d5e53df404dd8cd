"""The regression report as one self-contained HTML page: plots are PNGs embedded as base64
``data:`` URIs, styles are inline, nothing is fetched from anywhere."""

from __future__ import annotations

import base64
import html
import io
import statistics
from typing import TYPE_CHECKING, Any

from conformance.report.stats import BETWEEN_RUNS, median_of_runs

if TYPE_CHECKING:
    from conformance.report.compare import Report

STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left}
.regression{color:#b00020;font-weight:bold}.improvement{color:#1b5e20}.unstable{color:#9a6700}.note{color:#555}img{max-width:100%}"""


def render(report: "Report") -> str:
    from conformance.report.markdown import render as to_markdown  # the same numbers, as tables

    parts = [f"<h1>Regression report — profile {_e(report.profile_id)}</h1>"]
    regressions = report.regressions
    if regressions:
        parts.append(f"<p class='regression'>{len(regressions)} regression(s)</p><ul>")
        parts += [f"<li class='regression'>{_e(r)}</li>" for r in regressions]
        parts.append("</ul>")
    else:
        parts.append("<p><b>No regression.</b></p>")
    if report.unstable:
        parts.append(f"<p class='unstable'>{len(report.unstable)} unstable measurement(s), not called: rerun on a "
                     f"quiet machine</p><ul>")
        parts += [f"<li class='unstable'>{_e(u)}</li>" for u in report.unstable]
        parts.append("</ul>")
    parts += [f"<p class='note'>{_e(n)}</p>" for n in report.notes]
    if report.bench_run:
        parts.append("<h2>Benchmarks</h2>")
        parts.append(_bench_table(report))
        parts.append(_image(_throughput_plot(report), "throughput, float32 vs mixed precision"))
        scaling = _scaling_plot(report.bench_run)
        if scaling:
            parts.append(_image(scaling, "throughput against device count"))
    if report.conformance_run:
        parts.append("<h2>Conformance</h2>")
        parts.append(_status_table(report))
        for figure, title in _loss_plots(report):
            parts.append(_image(figure, title))
    parts.append("<h2>As Markdown</h2><pre>" + _e(to_markdown(report)) + "</pre>")
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>Regression report</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>\n")


def _e(text: Any) -> str:
    return html.escape(str(text))


def _bench_table(report: "Report") -> str:
    rows = ["<table><tr><th>model</th><th>precision</th><th>devices</th><th>batch</th><th>samples/s</th><th>baseline</th>"
            "<th>change</th><th>p-value</th><th>noise</th><th>runs new / base</th><th>verdict</th></tr>"]
    for line in report.bench_lines:
        c = line.comparison
        if c is None:
            rows.append(f"<tr><td>{_e(line.model)}</td><td>{_e(line.precision)}</td><td>{line.devices}</td>"
                        f"<td>{_e(line.batch)}</td><td>{median_of_runs(line.new):.1f}</td><td>–</td><td>–</td><td>–</td><td>–</td>"
                        f"<td>{len(line.new)} / –</td><td>no baseline</td></tr>")
            continue
        where = "between runs" if c.test == BETWEEN_RUNS else "within runs"
        rows.append(f"<tr><td>{_e(line.model)}</td><td>{_e(line.precision)}</td><td>{line.devices}</td>"
                    f"<td>{_e(line.batch)}</td><td>{c.new_median:.1f}</td><td>{c.baseline_median:.1f}</td><td>{c.change:+.1%}</td>"
                    f"<td title='{_e(c.test)}'>{c.p_value:.3g}</td><td>{c.noise:.1%} {where}</td>"
                    f"<td>{c.runs[1]} / {c.runs[0]}</td><td class='{c.verdict}' title='{_e(c.describe())}'>"
                    f"{_e(c.verdict)}</td></tr>")
    return "".join(rows) + "</table>"


def _status_table(report: "Report") -> str:
    if report.conformance_baseline is None:
        return "<p class='note'>No baseline run to compare with.</p>"
    if not report.status_changes:
        return "<p>No example or check changed status.</p>"
    rows = ["<table><tr><th>example</th><th>tier</th><th>check</th><th>before</th><th>after</th><th>detail</th></tr>"]
    for c in report.status_changes:
        css = " class='regression'" if c.is_regression else ""
        rows.append(f"<tr><td>{_e(c.example)}</td><td>{_e(c.tier)}</td><td>{_e(c.check or '(example)')}</td>"
                    f"<td>{_e(c.before)}</td><td{css}>{_e(c.after)}</td><td>{_e(c.detail)}</td></tr>")
    return "".join(rows) + "</table>"


def _image(png: bytes, title: str) -> str:
    encoded = base64.b64encode(png).decode("ascii")
    return f"<figure><img alt='{_e(title)}' src='data:image/png;base64,{encoded}'><figcaption>{_e(title)}</figcaption></figure>"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    _pyplot().close(figure)
    return buffer.getvalue()


def _throughput_plot(report: "Report") -> bytes:
    """Median samples/s per model and precision at one device: this run as bars with its rounds as
    dots, the baseline's median as a diamond with the range of its runs' medians."""
    plt = _pyplot()
    lines = [line for line in report.bench_lines if line.devices == min(l.devices for l in report.bench_lines)]
    models = list(dict.fromkeys(line.model for line in lines))
    precisions = list(dict.fromkeys(line.precision for line in lines))
    figure, axes = plt.subplots(figsize=(max(6, 1.8 * len(models)), 4))
    width = 0.8 / max(len(precisions), 1)
    for index, precision in enumerate(precisions):
        for position, model in enumerate(models):
            line = next((l for l in lines if l.model == model and l.precision == precision), None)
            if line is None:
                continue
            x = position + index * width
            axes.bar(x, median_of_runs(line.new), width, color=f"C{index}",
                     label=precision if position == 0 else None)
            rounds = [v for run in line.new for v in run]
            axes.plot([x] * len(rounds), rounds, ".", color="k", markersize=3)
            if line.baseline:
                medians = [statistics.median(run) for run in line.baseline]
                centre = median_of_runs(line.baseline)
                axes.errorbar(x, centre, yerr=[[centre - min(medians)], [max(medians) - centre]], fmt="D",
                              color="k", markerfacecolor="none", capsize=3,
                              label="baseline (median, range of runs)" if index == 0 and position == 0 else None)
    axes.set_xticks([p + width * (len(precisions) - 1) / 2 for p in range(len(models))], models, rotation=20)
    axes.set_yscale("log")
    axes.set_ylabel("samples / s (log)")
    axes.legend(fontsize=8)
    axes.set_title(f"training throughput, {lines[0].devices if lines else 1} device(s); dots: rounds")
    return _png(figure)


def _scaling_plot(run: dict[str, Any]) -> bytes | None:
    entries = run["entries"]
    if len({e["devices"] for e in entries}) < 2:
        return None
    plt = _pyplot()
    figure, axes = plt.subplots(figsize=(6, 4))
    for index, key in enumerate(dict.fromkeys((e["model"], e["precision"]) for e in entries)):
        points = sorted((e["devices"], e["median_samples_per_s"]) for e in entries if (e["model"], e["precision"]) == key)
        base = points[0][1] / points[0][0]
        axes.plot([d for d, _ in points], [t / base for _, t in points], "o-", color=f"C{index % 10}",
                  label=" ".join(key))
    top = max(e["devices"] for e in entries)
    axes.plot([1, top], [1, top], "k--", linewidth=0.8, label="ideal")
    axes.set_xlabel("devices (per-device batch constant)")
    axes.set_ylabel("throughput relative to 1 device")
    axes.legend(fontsize=7)
    return _png(figure)


def _loss_plots(report: "Report") -> list[tuple[bytes, str]]:
    """Each example's loss curves, its baseline run's dashed, and golden per-epoch bands where the golden file has them."""
    plt = _pyplot()
    run, baseline = report.conformance_run, report.conformance_baseline
    old = {(e["id"], e["tier"]): e for e in baseline["examples"]} if baseline else {}
    plots = []
    for entry in sorted(run["examples"], key=lambda e: e["id"]):
        series = [(fit, name, values) for fit, history in entry.get("history", {}).items()
                  for name, values in history.items() if "loss" in name and isinstance(values, list) and values]
        if not series:
            continue
        bands = _golden_bands(entry["id"], entry["tier"])
        figure, axes = plt.subplots(figsize=(6, 3.2))
        for index, (fit, name, values) in enumerate(series):
            epochs = range(1, len(values) + 1)
            axes.plot(epochs, values, "o-", color=f"C{index}", markersize=3, label=f"{fit}.{name}")
            previous = old.get((entry["id"], entry["tier"]), {}).get("history", {}).get(fit, {}).get(name)
            if previous:
                axes.plot(range(1, len(previous) + 1), previous, "--", color=f"C{index}", alpha=0.6,
                          label=f"{fit}.{name} (baseline run)")
            band = bands.get(f"history.{fit}.{name}")
            if band:
                lower, upper = band
                axes.fill_between(range(1, len(lower) + 1), lower, upper, color=f"C{index}", alpha=0.15,
                                  label=f"{fit}.{name} golden band")
        axes.set_xlabel("epoch")
        axes.set_ylabel("loss")
        axes.legend(fontsize=7)
        axes.set_title(f"{entry['id']} [{entry['tier']}] — {entry['status']}")
        plots.append((_png(figure), f"{entry['id']}: loss curves"))
    return plots


def _golden_bands(example_id: str, tier: str) -> dict[str, tuple[list[float], list[float]]]:
    from conformance.engine import golden

    try:
        loaded = golden.load(example_id)
    except golden.GoldenError:
        return {}
    return {e.fields["path"]: (e.fields["lower"], e.fields["upper"]) for e in loaded.expectations_for(tier)
            if e.kind == "envelope" and e.fields.get("lower") and e.fields.get("upper")}
