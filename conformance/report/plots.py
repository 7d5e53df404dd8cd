"""The report's plots, rendered with matplotlib to PNG bytes sized for the page's column.

Every plot keeps its legend below the axes, where it cannot cover the data. The loss plots shade
the epochs where the example's golden file expects a curve's best epoch.
"""

from __future__ import annotations

import contextlib
import io
import statistics
from pathlib import Path
from typing import Any, Iterator, NamedTuple

from conformance.engine import golden
from conformance.report.compare import BenchLine, Report, plural
from conformance.report.stats import median_of_runs
from conformance.results.records import ExampleResult

DPI = 110
COLUMN_IN = 10.0  # 1100 px at DPI: the page's column
HALF_COLUMN_IN = 4.9  # two loss plots side by side, with the gap between them
ROUNDS_LABEL = "rounds of this run"
BASELINE_LABEL = "baseline median (range of its runs)"
BASELINE_RUN_LABEL = "baseline run"
VERDICT_COLOURS = {"regression": "#b00020", "improvement": "#1b7a2e", "unstable": "#c77c00", "unchanged": "#8a8a8a"}
PLOT_STYLE = {"font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11, "legend.fontsize": 10,
              "xtick.labelsize": 10, "ytick.labelsize": 10, "axes.grid": True, "grid.alpha": 0.3,
              "axes.spines.top": False, "axes.spines.right": False, "legend.columnspacing": 1.2,
              "legend.handlelength": 1.6}


class LossPlot(NamedTuple):
    png: bytes
    title: str
    shaded: list[str]  # the golden best-epoch windows drawn: "fit.val_loss minimum expected in epochs 3–5"


class BestEpoch(NamedTuple):
    mode: str  # min | max
    first: int
    last: int

    def describe(self) -> str:
        extreme = "minimum" if self.mode == "min" else "maximum"
        epochs = f"epoch {self.first}" if self.first == self.last else f"epochs {self.first}–{self.last}"
        return f"{extreme} expected in {epochs}"


def best_epoch_windows(example_id: str, tier: str, golden_dir: Path | None, *, backend: str,
                       profile_id: str) -> dict[str, BestEpoch]:
    """The golden file's best-epoch expectations for this tier, by series path
    (``history.fit.val_loss``), with the overrides for this backend and profile applied;
    none where the example has no usable golden file."""
    try:
        loaded = golden.load(example_id, golden_dir)
    except golden.GoldenError:
        return {}
    windows = {}
    for expectation in loaded.expectations_for(tier):
        if expectation.kind == "best_epoch":
            fields = expectation.resolved(backend=backend, profile_id=profile_id).fields
            windows[fields["path"]] = BestEpoch(fields["mode"], *fields["window"])
    return windows


def styled() -> contextlib.AbstractContextManager[Any]:
    """The plots' style (font sizes, grid) for the plots drawn inside it."""
    return _pyplot().style.context(PLOT_STYLE)


def _pyplot() -> Any:
    # imported at the first plot so that importing this module stays cheap; Agg renders without a display
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _figure(width: float, height: float) -> tuple[Any, Any]:
    # constrained layout keeps the size exact (so the PNG fits its column) and makes room for a
    # legend placed outside the axes, where it cannot cover the data
    return _pyplot().subplots(figsize=(width, height), layout="constrained")


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    _pyplot().close(figure)
    return buffer.getvalue()


def _legend_below(figure: Any, axes: Any, columns: int, order: tuple[str, ...] = ()) -> None:
    """One entry per label (the plots label every artist), those named in ``order`` last in that
    order, under the axes where it cannot cover the data, in as many columns as fit the width."""
    handles, labels = axes.get_legend_handles_labels()
    entries = dict(zip(labels, handles))
    labels = sorted(entries, key=lambda label: order.index(label) + 1 if label in order else 0)
    renderer = figure.canvas.get_renderer()
    for ncols in range(min(columns, len(labels)), 0, -1):
        legend = figure.legend([entries[label] for label in labels], labels, loc="outside lower center",
                               ncols=ncols, frameon=False)
        if ncols == 1 or legend.get_window_extent(renderer).width <= figure.bbox.width:
            return
        legend.remove()


def change_plot(lines: list[BenchLine], min_change: float) -> bytes:
    figure, axes = _figure(COLUMN_IN, 1.3 + 0.4 * len(lines))
    changes = [line.comparison.change * 100 for line in lines]
    positions = list(range(len(lines)))[::-1]  # first line on top, as in the tables
    for position, change, line in zip(positions, changes, lines):
        verdict = line.comparison.verdict
        bar = axes.barh(position, change, color=VERDICT_COLOURS[verdict], height=0.6, label=verdict)
        axes.bar_label(bar, [f"{change:+.1f}%"], padding=4, fontsize=10)
    axes.set_yticks(positions, [line.key for line in lines])
    for limit in (-min_change * 100, min_change * 100):
        axes.axvline(limit, color="#444", linestyle="--", linewidth=1, label=f"±{min_change:.0%} minimum change")
    axes.axvline(0, color="#222", linewidth=0.8)
    axes.set_xlabel("change of the median throughput against the baseline (%)")
    widest = max([abs(c) for c in changes] + [min_change * 100]) * 1.25  # room for the bar labels
    axes.set_xlim(-widest, widest)
    axes.grid(axis="y", visible=False)
    _legend_below(figure, axes, 5)
    return _png(figure)


def throughput_plot(all_lines: list[BenchLine]) -> bytes:
    """Median samples/s per model and precision at the smallest device count."""
    from matplotlib.ticker import LogFormatter

    fewest = min(line.devices for line in all_lines)
    lines = [line for line in all_lines if line.devices == fewest]
    models = list(dict.fromkeys(line.model for line in lines))
    precisions = list(dict.fromkeys(line.precision for line in lines))
    figure, axes = _figure(COLUMN_IN, 4.0)
    width = 0.8 / len(precisions)
    for line in lines:
        index = precisions.index(line.precision)
        _throughput_bar(axes, line, models.index(line.model) + index * width, width, index)
    axes.set_xticks([p + width * (len(precisions) - 1) / 2 for p in range(len(models))], models)
    axes.set_yscale("log")
    # plain numbers on the ticks, the in-between ones too: 400 reads faster than 4×10²
    for formatter in (axes.yaxis.set_major_formatter, axes.yaxis.set_minor_formatter):
        formatter(LogFormatter(labelOnlyBase=False))
    axes.set_ylabel("samples / s (log scale)")
    axes.set_title(f"training throughput, {plural(fewest, 'device')}")
    axes.grid(axis="x", visible=False)
    _legend_below(figure, axes, len(precisions) + 2, order=(BASELINE_LABEL, ROUNDS_LABEL))
    return _png(figure)


def _throughput_bar(axes: Any, line: BenchLine, x: float, width: float, colour: int) -> None:
    axes.bar(x, median_of_runs(line.new), width, color=f"C{colour}", alpha=0.85, label=f"{line.precision}, this run")
    rounds = [v for run in line.new for v in run]
    axes.plot([x] * len(rounds), rounds, ".", color="k", markersize=4, label=ROUNDS_LABEL)
    if line.baseline:
        medians = [statistics.median(run) for run in line.baseline]
        centre = median_of_runs(line.baseline)
        axes.errorbar(x, centre, yerr=[[centre - min(medians)], [max(medians) - centre]], fmt="D", color="k",
                      markerfacecolor="white", capsize=4, label=BASELINE_LABEL)


def scaling_plot(lines: list[BenchLine]) -> bytes | None:
    groups: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for line in lines:
        groups.setdefault((line.model, line.precision), []).append((line.devices, median_of_runs(line.new)))
    scaled = {group: sorted(points) for group, points in groups.items() if len(points) > 1}
    if not scaled:
        return None
    figure, axes = _figure(COLUMN_IN, 3.6)
    for index, (group, points) in enumerate(scaled.items()):
        per_device = points[0][1] / points[0][0]
        axes.plot([d for d, _ in points], [t / per_device for _, t in points], "o-", color=f"C{index % 10}",
                  label=" ".join(group))
    counts = sorted({d for points in scaled.values() for d, _ in points})
    axes.plot([1, counts[-1]], [1, counts[-1]], "k--", linewidth=1, label="perfect scaling")
    axes.set_xticks(counts)
    axes.set_xlabel("devices")
    axes.set_ylabel("throughput relative to 1 device")
    _legend_below(figure, axes, 4)
    return _png(figure)


def loss_plots(report: Report, golden_dir: Path | None) -> list[LossPlot]:
    """Each example's loss curves beside its baseline run's, with the golden best-epoch windows shaded."""
    run, baseline = report.conformance_run, report.conformance_baseline
    old = {e.key: e for e in baseline.examples} if baseline else {}
    plots = []
    for entry in sorted(run.examples, key=lambda e: e.key):
        series = list(_loss_series(entry))
        if series:
            windows = best_epoch_windows(entry.id, entry.tier, golden_dir, backend=run.settings.get("backend", ""),
                                         profile_id=report.profile_id)
            plots.append(_loss_plot(entry, old.get(entry.key), series, windows))
    return plots


def _loss_series(entry: ExampleResult) -> Iterator[tuple[str, list[float]]]:
    for fit, history in entry.history.items():
        for name, values in history.items():
            if "loss" in name and isinstance(values, list) and values:
                yield f"{fit}.{name}", values


def _loss_plot(entry: ExampleResult, previous: ExampleResult | None, series: list[tuple[str, list[float]]],
               windows: dict[str, BestEpoch]) -> LossPlot:
    figure, axes = _figure(HALF_COLUMN_IN, 3.6)
    shaded = []
    for index, (name, values) in enumerate(series):
        colour = f"C{index % 10}"
        axes.plot(range(1, len(values) + 1), values, "o-", color=colour, markersize=3.5, label=name)
        fit, _, metric = name.partition(".")
        before = previous.history.get(fit, {}).get(metric) if previous else None
        if before:
            axes.plot(range(1, len(before) + 1), before, "--", color=colour, alpha=0.6)
            axes.plot([], [], "--", color="#777", label=BASELINE_RUN_LABEL)  # one legend entry for every dashed curve
        window = windows.get(f"history.{name}")
        if window:
            axes.axvspan(window.first - 0.5, window.last + 0.5, color=colour, alpha=0.12,
                         label=f"golden: {window.describe()}")
            shaded.append(f"{name} {window.describe()}")
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.set_xlabel("epoch")
    axes.set_ylabel("loss")
    axes.set_title(_loss_title(entry, previous), loc="left")
    _legend_below(figure, axes, 2, order=(BASELINE_RUN_LABEL,))
    return LossPlot(_png(figure), f"{entry.id} [{entry.tier}]: loss curves", shaded)


def _loss_title(entry: ExampleResult, previous: ExampleResult | None) -> str:
    status = entry.status
    if previous and previous.status != status:
        status = f"{previous.status} → {status}"
    return f"{entry.id} [{entry.tier}] — {status}"
