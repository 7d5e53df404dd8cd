"""The HTML regression report: a summary first, verdicts with the adjusted p-value, plots that
shade the golden file's best-epoch windows from the golden directory it was given."""

import json
import re
from pathlib import Path

import pytest

from conformance.report import compare as report
from conformance.report import html as report_html
from conformance.report import plots
from conformance.report import stats
from conformance.results.records import BenchRun, ConformanceRun

PROFILE = "cpu-test-2c"
ROUNDS = (1000.0, 1010.0, 990.0, 1005.0, 995.0)
NOISY = (0.4, 0.7, 0.45, 0.9, 0.3)  # a slow spell during the measurement: rounds vary far more than the baseline's


def runs(scale, noisy=False):
    """Three runs of five rounds whose medians differ by a few percent, as ``bench --repeats 3`` gives."""
    factors = NOISY if noisy else (1.0,) * len(ROUNDS)
    return [[v * scale * m * f for v, f in zip(ROUNDS, factors)] for m in (1.0, 1.07, 0.95)]


def bench_lines():
    """Four configurations against the baseline: two 30% slower, one unstable, one unchanged, and
    one without a baseline; judged together like compare.compare_bench does."""
    plan = [("mnist_dense", "float32", 1, 0.7, False), ("mnist_dense", "float32", 2, 0.7 * 1.6, False),
            ("mnist_dense", "mixed_bfloat16", 1, 1.4, True), ("mnist_dense", "mixed_bfloat16", 2, 1.4 * 1.6, False)]
    baseline = {(m, p, d): runs({1: 1.0, 2: 1.6}[d] * (1.4 if p != "float32" else 1.0)) for m, p, d, *_ in plan}
    new = {(m, p, d): runs(scale, noisy) for m, p, d, scale, noisy in plan}
    noise = stats.between_run_noise([*baseline.values(), *new.values()])
    comparisons = stats.adjust_for_family([stats.compare(baseline[k], new[k], noise=noise) for k in baseline])
    lines = [report.BenchLine(m, p, d, 8 * d, new[(m, p, d)], baseline[(m, p, d)], c)
             for (m, p, d), c in zip(baseline, comparisons)]
    return lines + [report.BenchLine("imdb_dense", "float32", 1, 32, runs(0.5), None, None)]


def example(id_, status="passed", loss=(1.0, 0.7, 0.5, 0.4, 0.35, 0.33), val_loss=(0.9, 0.7, 0.6, 0.58, 0.6, 0.65),
            acc=0.91):
    check = {"name": "threshold values.test_acc", "kind": "threshold", "status": status, "source": "catalog",
             "expected": "values.test_acc >= 0.9", "actual": acc, "message": ""}
    return {"id": id_, "tier": "smoke", "backend": "tensorflow", "seed": 0, "status": status, "checks": [check],
            "metrics": {"test_acc": acc}, "history": {"fit": {"loss": list(loss), "val_loss": list(val_loss)}}}


def conformance_run(*examples):
    return ConformanceRun.from_json(
        {"schema_version": 1, "kind": "conformance", "run_id": "r", "started": "2026-01-01T00:00:00+00:00",
         "profile": {"id": PROFILE},
         "settings": {"tier": "smoke", "backend": "tensorflow", "precision": "float32", "devices": 1, "seed": 0},
         "examples": list(examples), "planned": [e["id"] for e in examples],
         "finished": "2026-01-01T00:01:00+00:00", "exit_status": 0}, "test")


def sample_report():
    """Benchmark regressions, an unstable line, and an example whose check went from passed to failed."""
    before = conformance_run(example("ch02_mnist_dense"), example("ch04_imdb_binary"))
    after = conformance_run(example("ch02_mnist_dense", "failed", loss=(1.0, 0.8, 0.7, 0.65, 0.6, 0.58),
                                    val_loss=(0.95, 0.85, 0.8, 0.78, 0.77, 0.77), acc=0.5),
                            example("ch04_imdb_binary"))
    changes, metrics = report.compare_conformance(after, before)
    run = BenchRun(run_id="20260102T000000Z-bench-jax-bbbbbb", started="2026-01-02T00:00:00+00:00",
                   finished="2026-01-02T00:01:00+00:00", command="python -m conformance bench",
                   profile={"id": PROFILE}, settings={"backend": "jax"}, status="passed", entries=[])
    return report.Report(profile_id=PROFILE, bench_run=run, baseline_path=Path("golden/bench/cpu-test-2c.json"),
                         bench_lines=bench_lines(), conformance_run=after, conformance_baseline=before,
                         conformance_run_path=Path("results/b.json"), conformance_baseline_path=Path("results/a.json"),
                         status_changes=changes, metric_changes=metrics)


def write_golden(directory, overrides=()):
    """A golden file for ch04_imdb_binary whose only expectation: val_loss is lowest in epochs 3–5 (the
    project's own file says 5–24, so a plot shaded 3–5 read this one)."""
    directory.mkdir(parents=True, exist_ok=True)
    expectation = {"kind": "best_epoch", "source": "book", "path": "history.fit.val_loss", "mode": "min",
                   "window": [3, 5], "overrides": list(overrides)}
    document = {"schema_version": 1, "example": "ch04_imdb_binary",
                "sources": {"book": {"kind": "book", "section": "4.1.4", "printed": "four epochs",
                                     "quote": "you could stop training after four epochs"}},
                "tiers": {"smoke": {"expectations": [expectation]}}}
    (directory / "ch04_imdb_binary.json").write_text(json.dumps(document))
    return directory


HOSTILE_NOTE = "a note with <script>alert(1)</script> & friends"


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    built = sample_report()
    built.notes.append(HOSTILE_NOTE)
    return report_html.render(built, write_golden(tmp_path_factory.mktemp("golden")))


def test_the_sample_has_what_the_page_must_show():
    built = sample_report()
    verdicts = [line.comparison.verdict for line in built.bench_lines if line.comparison]
    assert verdicts == ["regression", "regression", "unstable", "unchanged"]
    assert any(c.is_regression for c in built.status_changes)


def test_page_has_no_raw_markdown_dump(page):
    assert "<pre" not in page and "As Markdown" not in page
    assert "| model |" not in page and "|---|" not in page


def test_summary_table_comes_before_the_detail_tables(page):
    summary = page.index("<table class='summary'>")
    assert summary < page.index("<h2>Verdicts</h2>") < page.index("<h2>Benchmarks</h2>")
    assert summary < page.index("<h2>Conformance</h2>") < page.index("<h2>Plots</h2>")
    assert summary == page.index("<table")
    counts = dict(re.findall(r"<tr><td>([^<]+)</td><td class='n[^']*'>([^<]+)</td></tr>", page[summary:]))
    assert counts["configurations compared"] == "4" and counts["no baseline"] == "1"
    assert counts["unstable"] == "1" and counts["unchanged"] == "1" and counts["examples compared"] == "2"


def test_regression_verdict_shows_the_adjusted_p_beside_the_raw_one(page):
    slower = next(line.comparison for line in sample_report().bench_lines if line.comparison.is_regression)
    assert slower.p_adjusted is not None and slower.p_adjusted != slower.p_value
    verdicts = page[page.index("<h2>Verdicts</h2>"):page.index("<h2>Benchmarks</h2>")]
    assert "<th class='n'>p adjusted</th><th class='n'>p raw</th>" in verdicts
    adjusted, raw = (re.escape(f"{p:.3g}") for p in (slower.p_adjusted, slower.p_value))
    adjusted_then_raw = rf"<td[^>]*>{adjusted}</td><td[^>]*>{raw}</td>"
    assert re.search(adjusted_then_raw, verdicts)


def test_plural_agrees_with_one_and_two():
    assert report.plural(1, "example") == "1 example"
    assert report.plural(2, "example") == "2 examples"
    assert report.plural(0, "regression") == "0 regressions"


def test_page_has_no_bad_plurals(page):
    assert "(s)" not in page
    assert not re.search(r"\b1 \w+s\b", re.sub(r"<[^>]+>", " ", page))
    assert "2 benchmark regressions" in page and "1 unstable measurement —" in page
    assert "2 conformance regressions" in page  # the example and its check


def test_shading_uses_the_golden_dir_given(tmp_path, page):
    built = sample_report()
    shaded = {p.title: p.shaded for p in plots.loss_plots(built, write_golden(tmp_path / "right"))}
    assert shaded["ch04_imdb_binary [smoke]: loss curves"] == ["fit.val_loss minimum expected in epochs 3–5"]
    assert shaded["ch02_mnist_dense [smoke]: loss curves"] == []  # no golden file for it there
    assert all(p.shaded == [] for p in plots.loss_plots(built, tmp_path / "bogus"))
    assert "golden: fit.val_loss minimum expected in epochs 3–5" in page  # the caption says what is shaded


def test_best_epoch_windows_apply_the_backend_override(tmp_path):
    directory = write_golden(tmp_path, overrides=[{"when": {"backend": "jax"}, "set": {"window": [2, 2]}}])
    windows = plots.best_epoch_windows("ch04_imdb_binary", "smoke", directory, backend="jax", profile_id=PROFILE)
    assert windows["history.fit.val_loss"].describe() == "minimum expected in epoch 2"


def test_the_rule_text_comes_from_stats(page):
    built = sample_report()
    assert report_html._e(stats.regression_rule(built.alpha, built.min_change)) in page
    assert report_html._e(report.CONFORMANCE_RULE) in page


def test_page_is_self_contained_and_escaped(page):
    images = re.findall(r"<img [^>]*src='([^']*)'", page)
    assert len(images) == 5  # change, throughput, scaling, two loss plots
    assert all(src.startswith("data:image/png;base64,") for src in images)
    assert "<script" not in page and report_html._e(HOSTILE_NOTE) in page
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", page) and "<link" not in page
