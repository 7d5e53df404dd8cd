"""The regression report: conformance status changes, benchmark verdicts with size and p-value,
a self-contained HTML page, and the CLI's exit codes."""

import dataclasses
import datetime as dt
import json
import math
import os
import re
import subprocess
import sys

import pytest

from conformance.engine import summary
from conformance.errors import ConformanceError
from conformance.bench.baseline import load_baseline, save_baseline
from conformance.bench.measurements import derive
from conformance.report import compare as report
from conformance.report import html as report_html
from conformance.report import markdown
from conformance.report import stats
from conformance.results import store
from conformance.results.records import BenchEntry, BenchRun, CheckVerdict, ConformanceRun, ExampleResult
from helpers import unreadable

PROFILE = "cpu-test-2c"


def bench_run(scale=1.0, run_id="20260101T000000Z-bench-jax-aaaaaa", spread=(1.0, 1.0, 1.0, 1.0, 1.0)):
    rounds = [1000.0, 1010.0, 990.0, 1005.0, 995.0]
    entries = []
    for precision, speed in (("float32", 1.0), ("mixed_bfloat16", 1.4)):
        for devices in (1, 2):
            samples = [v * f * speed * devices * 0.8 ** (devices - 1) * scale for v, f in zip(rounds, spread)]
            entries.append(BenchEntry(model="mnist_dense", precision=precision, devices=devices,
                                      global_batch=8 * devices, repeats=(tuple(samples),),
                                      median_samples_per_s=sorted(samples)[2], achieved_flops_per_s=1e9,
                                      utilisation=0.25, per_device_batch=8, steps_per_round=2, cv=0.01))
    return BenchRun(run_id=run_id, started="2026-01-01T00:00:00+00:00", finished="2026-01-01T00:01:00+00:00",
                    command="python -m conformance bench", profile={"id": PROFILE, "libraries": {"keras": "3"}},
                    settings={"backend": "jax", "rounds": 5}, status="passed", entries=entries,
                    derived=derive(entries))


def conformance_run(loss=(1.0, 0.6, 0.4), acc_status="passed", acc=0.91):
    check = CheckVerdict(name="threshold values.test_acc", kind="threshold", status=acc_status,
                         expected="values.test_acc >= 0.9", actual=acc, source="run", message="")
    example = ExampleResult(id="ch02_mnist_dense", tier="smoke", backend="tensorflow", seed=0,
                            status="passed" if acc_status == "passed" else "failed", checks=(check,),
                            metrics={"test_acc": acc},
                            history={"fit": {"loss": list(loss), "accuracy": [0.5, 0.7, 0.9]}})
    return ConformanceRun(run_id="r", started="2026-01-01T00:00:00+00:00", profile={"id": PROFILE},
                          settings={"tier": "smoke", "backend": "tensorflow", "precision": "float32", "devices": 1,
                                    "seed": 0},
                          examples=[example], planned=[example.id], finished="2026-01-01T00:01:00+00:00",
                          exit_status=0 if acc_status == "passed" else 1)


def write_run(results, kind, run_id, run):
    folder = results / PROFILE / kind
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{run_id}.json").write_text(json.dumps(run.to_json()))


def files(tmp_path, baseline_scale=1.0, new_scale=1.0, regress_check=False):
    results = tmp_path / "results"
    write_run(results, "bench", "20260101T000000Z-bench-jax-aaaaaa", bench_run(new_scale))
    save_baseline(bench_run(baseline_scale, run_id="base"), tmp_path / "golden-bench")
    write_run(results, "conformance", "20260101T000000Z-smoke-tensorflow-aaaaaa", conformance_run())
    new = conformance_run(loss=(1.0, 0.8, 0.7), acc_status="failed", acc=0.5) if regress_check else \
        conformance_run()
    write_run(results, "conformance", "20260102T000000Z-smoke-tensorflow-bbbbbb", new)
    return results, tmp_path / "golden-bench" / f"{PROFILE}.json"


def test_same_numbers_call_no_regression(tmp_path):
    results, baseline = files(tmp_path)
    built = report.build(PROFILE, results_dir=results, baseline=baseline)
    assert built.regressions == []
    assert all(line.comparison.verdict == "unchanged" for line in built.bench_lines)
    assert built.status_changes == [] and built.metric_changes == []
    assert "**No regression.**" in markdown.render(built)


def test_a_thirty_percent_slowdown_and_a_failed_check_are_regressions_with_size_and_p_value(tmp_path):
    results, baseline = files(tmp_path, new_scale=0.7, regress_check=True)
    built = report.build(PROFILE, results_dir=results, baseline=baseline)
    slow = [line.comparison for line in built.bench_lines]
    assert all(c.verdict == "regression" and c.change == pytest.approx(-0.3) for c in slow)
    assert all(c.p_value == pytest.approx(2 / 252) for c in slow)  # 5 vs 5 rounds, fully separated
    text = markdown.render(built)
    assert "**6 regressions**" in text  # 4 benchmarks, the example, its check
    assert "regression: -30.0%" in text and "p = 0.00794" in text
    changed = {(c.check, c.before, c.after) for c in built.status_changes}
    assert ("", "passed", "failed") in changed and ("threshold values.test_acc", "passed", "failed") in changed
    assert built.metric_changes[0]["metric"] == "test_acc"
    assert built.metric_changes[0]["relative_change"] == pytest.approx(0.5 / 0.91 - 1)


def test_a_metric_that_diverged_reads_back_as_nan_and_the_json_report_stays_standard_json(tmp_path):
    results, baseline = files(tmp_path)
    store.add_example(store.runs(results, PROFILE, "conformance")[-1], ExampleResult(
        id="ch02_mnist_dense", tier="smoke", backend="tensorflow", seed=0, status="failed",
        metrics={"test_acc": math.nan}, history={"fit": {"loss": [1.0, math.nan]}}))
    built = report.build(PROFILE, results_dir=results, baseline=baseline)
    (moved,) = [change for change in built.metric_changes if change["metric"] == "test_acc"]
    assert moved["before"] == 0.91 and math.isnan(moved["after"]) and moved["relative_change"] is None
    assert "| ch02_mnist_dense | test_acc | 0.91 | nan | not finite |" in markdown.render(built)
    assert "not finite" in report_html.render(built)

    def refuse(constant):  # what jq and other strict readers do with a bare NaN
        raise ValueError(f"not JSON: {constant}")

    document = json.loads(report.dumps(built), parse_constant=refuse)
    (written,) = [change for change in document["metric_changes"] if change["metric"] == "test_acc"]
    assert written["after"] == "NaN"


def test_a_baseline_of_several_runs_judges_a_change_against_the_spread_between_them(tmp_path):
    baseline = bench_run(run_id="base")
    baseline.entries = [  # three runs whose medians differ by up to 20%
        dataclasses.replace(e, repeats=tuple(tuple(v * m for v in e.samples_per_s) for m in (1.0, 1.1, 0.92)))
        for e in baseline.entries]
    save_baseline(baseline, tmp_path)
    loaded = load_baseline(tmp_path / f"{PROFILE}.json")
    within_spread = report.compare_bench(bench_run(scale=0.88), loaded)
    assert all(line.comparison.verdict == "unchanged" and line.comparison.runs == (3, 1) for line in within_spread)
    far_below = report.compare_bench(bench_run(scale=0.5), loaded)
    assert all(line.comparison.verdict == "regression" for line in far_below)
    built = report.Report(profile_id=PROFILE, bench_run=bench_run(scale=0.5), bench_lines=far_below)
    assert "between runs" in markdown.render(built) and stats.BETWEEN_RUNS in markdown.render(built)


PLANNED = {"backend": "jax", "rounds": 5, "models": None, "precisions": ["float32", "mixed_bfloat16"],
           "device_counts": [1, 2]}


def test_a_bench_run_that_crashed_before_measuring_is_red_and_names_what_it_did_not_measure(tmp_path):
    save_baseline(dataclasses.replace(bench_run(run_id="base"), settings=PLANNED), tmp_path)
    crashed = dataclasses.replace(
        bench_run(), settings=PLANNED, status="failed", entries=[], derived=derive([]),
        processes=[{"repeat": 1, "devices": 1, "models": "all", "returncode": -1,
                    "failures": ["devices=1 models=all: pytest exited -1 (crashed or timed out)", "output: r1.log"]}])
    results = tmp_path / "results"
    write_run(results, "bench", crashed.run_id, crashed)
    built = report.build(PROFILE, results_dir=results, baseline=tmp_path / f"{PROFILE}.json", bench_only=True)
    assert built.bench_lines == []
    assert built.regressions[0].startswith(f"benchmark run {crashed.run_id} failed: devices=1 models=all: pytest "
                                           f"exited -1 (crashed or timed out); output: r1.log")
    assert sorted(built.regressions[1:]) == sorted(
        f"benchmark mnist_dense {p} ×{d}: in the baseline and planned, but not measured"
        for p in ("float32", "mixed_bfloat16") for d in (1, 2))
    assert "**5 regressions**" in markdown.render(built) and "No regression" not in report_html.render(built)


def test_a_baseline_configuration_the_run_did_not_plan_is_not_counted_missing(tmp_path):
    save_baseline(dataclasses.replace(bench_run(run_id="base"), settings=PLANNED), tmp_path)
    one_device = dataclasses.replace(bench_run(), settings={**PLANNED, "device_counts": [1]})
    one_device.entries = [e for e in one_device.entries if e.devices == 1]
    loaded = load_baseline(tmp_path / f"{PROFILE}.json")
    assert report.unmeasured([one_device], loaded) == []
    one_device.entries = one_device.entries[:1]  # float32 only: the bfloat16 process died
    assert report.unmeasured([one_device], loaded) == ["mnist_dense mixed_bfloat16 ×1"]


def test_a_baseline_from_another_profile_or_measured_otherwise_is_named(tmp_path):
    elsewhere = dataclasses.replace(bench_run(run_id="base"), settings={**PLANNED, "steps": 160},
                                    profile={"id": "gpu-other-x1", "libraries": {"keras": "3"}})
    save_baseline(elsewhere, tmp_path)
    results = tmp_path / "results"
    write_run(results, "bench", "new", dataclasses.replace(bench_run(), settings={**PLANNED, "steps": 2}))
    built = report.build(PROFILE, results_dir=results, baseline=tmp_path / "gpu-other-x1.json", bench_only=True)
    assert any("recorded on profile gpu-other-x1, this run on cpu-test-2c" in n for n in built.notes)
    assert any("other settings (steps 160 → 2)" in n for n in built.notes)
    assert "steps 160 → 2" in markdown.render(built)


def test_the_same_bench_run_file_given_twice_is_read_once(tmp_path):
    results, baseline = files(tmp_path)
    run = results / PROFILE / "bench" / "20260101T000000Z-bench-jax-aaaaaa.json"
    once = report.build(PROFILE, results_dir=results, baseline=baseline, bench_run=[run], bench_only=True)
    twice = report.build(PROFILE, results_dir=results, baseline=baseline, bench_run=[run, run], bench_only=True)
    assert [line.comparison.p_value for line in twice.bench_lines] == [line.comparison.p_value
                                                                       for line in once.bench_lines]
    assert any("given more than once is read once" in n for n in twice.notes)


def test_a_run_at_a_smaller_batch_is_compared_and_says_so(tmp_path):
    save_baseline(bench_run(run_id="base"), tmp_path)
    smaller = bench_run(scale=0.7)
    smaller.entries = [dataclasses.replace(e, global_batch=e.global_batch * 7 // 10 or 1) for e in smaller.entries]
    lines = report.compare_bench(smaller, load_baseline(tmp_path / f"{PROFILE}.json"))
    assert all(line.comparison.verdict == "regression" and line.batch_changed for line in lines)
    assert lines[0].key == "mnist_dense float32 ×1 (batch 5 (baseline 8))"


def test_an_unstable_run_is_listed_but_not_a_regression(tmp_path):
    results, baseline = files(tmp_path)
    noisy = bench_run(run_id="20260103T000000Z-bench-jax-cccccc", spread=(0.4, 0.7, 0.45, 0.9, 0.3))
    write_run(results, "bench", noisy.run_id, noisy)
    built = report.build(PROFILE, results_dir=results, baseline=baseline)
    assert built.regressions == [] and len(built.unstable) == 4
    text = markdown.render(built)
    assert "**4 unstable measurements**" in text and "rerun on a quiet machine" in text
    assert "class='unstable'" in report_html.render(built)


def test_conformance_compare_only_judges_examples_in_both_runs():
    old = conformance_run()
    new = conformance_run()
    new.examples, new.planned = [dataclasses.replace(new.examples[0], id="ch03_other")], ["ch03_other"]
    changes, metrics = report.compare_conformance(new, old)
    assert changes == [] and metrics == []
    assert report.selection_note(new, old) == ("0 examples in both runs compared; 1 only in this run, "
                                               "1 only in the baseline run (1 of them not selected this time)")


def test_an_example_planned_but_without_a_result_is_a_regression_unless_the_run_says_why():
    baseline = conformance_run()
    baseline.examples.append(dataclasses.replace(baseline.examples[0], id="ch03_dropped"))
    baseline.examples.append(dataclasses.replace(baseline.examples[0], id="ch04_deselected"))
    run = conformance_run()
    run.planned = ["ch02_mnist_dense", "ch03_dropped", "ch04_deselected"]
    run.not_run = {"ch04_deselected": "deselected by pytest (-k / -m)"}
    changes, _ = report.compare_conformance(run, baseline)
    by_example = {c.example: c for c in changes}
    assert by_example["ch03_dropped"].after == "missing" and by_example["ch03_dropped"].is_regression
    assert by_example["ch04_deselected"].after == "not run" and not by_example["ch04_deselected"].is_regression


def test_an_example_that_passed_and_is_now_skipped_is_named_in_the_headline_not_called_a_regression(tmp_path):
    results, _ = files(tmp_path)
    skipped = conformance_run()
    skipped.examples = [dataclasses.replace(skipped.examples[0], status="skipped", checks=(),
                                            reason="data unavailable: mnist.npz is not in the cache")]
    write_run(results, "conformance", "20260103T000000Z-smoke-tensorflow-cccccc", skipped)
    built = report.build(PROFILE, results_dir=results, conformance_only=True)
    assert built.regressions == []
    assert built.no_longer_checked == ["conformance ch02_mnist_dense [smoke]: passed → skipped (data unavailable: "
                                       "mnist.npz is not in the cache)"]
    rendered = markdown.render(built)
    assert "**No regression.**" in rendered and "1 example passed in the baseline and was skipped" in rendered
    assert report.to_json(built)["no_longer_checked"] == built.no_longer_checked
    assert "passed in the baseline, skipped now" in report_html.render(built)


def test_a_run_cut_short_is_a_regression_and_never_a_baseline(tmp_path):
    results, _ = files(tmp_path)
    cut_short = conformance_run()
    cut_short.planned, cut_short.finished, cut_short.exit_status = ["ch02_mnist_dense", "ch03_next"], None, None
    write_run(results, "conformance", "20260103T000000Z-smoke-tensorflow-cccccc", cut_short)
    built = report.build(PROFILE, results_dir=results, conformance_only=True)
    assert any("never finished" in r and "1 of 2 planned examples" in r for r in built.regressions)
    assert "INCOMPLETE" in markdown.render(built) and "Incomplete conformance run" in report_html.render(built)
    later = conformance_run()
    write_run(results, "conformance", "20260104T000000Z-smoke-tensorflow-dddddd", later)
    built = report.build(PROFILE, results_dir=results, conformance_only=True)
    assert built.conformance_baseline_path.name.startswith("20260102T")  # the complete run before the cut one
    assert built.regressions == []


def test_the_latest_run_and_its_baseline_go_by_start_time_not_by_name(tmp_path):
    """A --run-id of the user's sorts after every timestamped name; it must not stay "the latest" for good."""
    results = tmp_path / "results"
    named = conformance_run(acc_status="failed", acc=0.5)
    named.started = "2026-01-01T08:00:00+00:00"
    write_run(results, "conformance", "zz-my-run", named)
    clean = conformance_run()
    clean.started = "2026-01-01T09:00:00+00:00"
    write_run(results, "conformance", "20260101T090000Z-smoke-tensorflow-aaaaaa", clean)
    later = conformance_run(acc_status="failed", acc=0.5)
    later.started = "2026-01-01T10:00:00+00:00"
    write_run(results, "conformance", "20260101T100000Z-smoke-tensorflow-bbbbbb", later)
    built = report.build(PROFILE, results_dir=results, conformance_only=True)
    assert built.conformance_run_path.name.startswith("20260101T100000Z")
    assert built.conformance_baseline_path.name.startswith("20260101T090000Z")
    assert built.regressions  # passed at 09:00, failed at 10:00
    named_run = report.build(PROFILE, results_dir=results, conformance_only=True,
                             conformance_run=results / PROFILE / "conformance" / "zz-my-run.json")
    assert named_run.conformance_baseline_path is None  # nothing started before it


def test_a_run_without_a_baseline_still_shows_its_failures(tmp_path):
    results = tmp_path / "results"
    write_run(results, "conformance", "20260101T000000Z-smoke-tensorflow-aaaaaa",
              conformance_run(acc_status="failed", acc=0.5))
    built = report.build(PROFILE, results_dir=results, conformance_only=True)
    assert built.regressions == []  # nothing to compare with: no regression, but not silence
    page = markdown.render(built)
    assert "1 example, 1 failed; red: ch02_mnist_dense" in page
    assert "1 failed" in report_html.render(built)


def test_a_planted_fault_and_a_baseline_under_other_settings_are_named(tmp_path):
    results = tmp_path / "results"
    write_run(results, "conformance", "clean", conformance_run())
    faulty = conformance_run(acc_status="failed", acc=0.5)
    faulty.settings = {**faulty.settings, "fault": "labels-shuffled"}
    write_run(results, "conformance", "faulty", faulty)
    folder = results / PROFILE / "conformance"
    built = report.build(PROFILE, results_dir=results, conformance_only=True, conformance_run=folder / "faulty.json",
                         conformance_baseline=folder / "clean.json")
    page = markdown.render(built)
    assert "The fault 'labels-shuffled' of the sensitivity catalogue was planted in this run" in page
    assert "the baseline ran under other settings (fault (none) → labels-shuffled)" in page
    assert "FAULT PLANTED: labels-shuffled" in summary.format_table(faulty)
    assert "FAULT" not in summary.format_table(conformance_run())


def test_html_report_is_self_contained(tmp_path):
    results, baseline = files(tmp_path, new_scale=0.7, regress_check=True)
    built = report.build(PROFILE, results_dir=results, baseline=baseline)
    _, html_path = markdown.write(built, tmp_path / "out" / "report")
    page = html_path.read_text()
    images = re.findall(r"<img [^>]*src='([^']*)'", page)
    assert len(images) >= 3  # throughput, scaling, loss curves
    assert all(src.startswith("data:image/png;base64,") for src in images)
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", page)
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert "class='regression'" in page


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "conformance", "report", "--profile", PROFILE, *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
@pytest.mark.subprocess
def test_cli_fails_on_regression_only_when_asked(tmp_path):
    results, baseline = files(tmp_path, new_scale=0.7)
    common = ["--results-dir", str(results), "--baseline", str(baseline), "--out", str(tmp_path / "r")]
    done = run_cli(*common, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "regression: -30.0%" in done.stdout
    assert (tmp_path / "r.md").exists() and (tmp_path / "r.html").exists()
    failing = run_cli(*common, "--fail-on-regression", cwd=tmp_path)
    assert failing.returncode == 1


@pytest.mark.slow
@pytest.mark.subprocess
def test_cli_names_a_corrupt_baseline(tmp_path):
    results, baseline = files(tmp_path)
    baseline.write_text("{ not json")
    done = run_cli("--results-dir", str(results), "--baseline", str(baseline), cwd=tmp_path)
    assert done.returncode == 2
    assert f"error: {baseline}: (file): not valid JSON" in done.stderr


def test_two_checks_of_one_name_pair_up_in_order_not_crossed():
    """A golden file may hold two checks of one name (a book threshold and a recorded one): the
    comparison pairs the first with the first and the second with the second."""
    from conformance.report.compare import compare_conformance
    from conformance.results.records import CheckVerdict, ConformanceRun, ExampleResult

    def run_with(first: str, second: str) -> ConformanceRun:
        checks = tuple(CheckVerdict("threshold values.acc", "threshold", status, "", 0.9, source, "")
                       for status, source in ((first, "book"), (second, "run")))
        result = ExampleResult(id="ex", tier="smoke", backend="tensorflow", seed=0,
                               status="passed" if "failed" not in (first, second) else "failed", checks=checks)
        return ConformanceRun(run_id="r", started="t", profile={}, settings={}, examples=[result], planned=["ex"],
                              finished="t", exit_status=0)

    unchanged, _ = compare_conformance(run_with("failed", "passed"), run_with("failed", "passed"))
    assert unchanged == []
    changed, _ = compare_conformance(run_with("passed", "failed"), run_with("passed", "passed"))
    assert [(c.check, c.before, c.after) for c in changed if c.check] == [("threshold values.acc #2", "passed", "failed")]


def test_the_report_names_every_baseline_run_its_configurations_are_compared_with(tmp_path):
    save_baseline(bench_run(run_id="first"), tmp_path)
    later = bench_run(run_id="second")
    later.entries = [dataclasses.replace(e, model="imdb_dense") for e in later.entries]  # another selection
    save_baseline(later, tmp_path)
    results = tmp_path / "results"
    write_run(results, "bench", "new", bench_run())
    built = report.build(PROFILE, results_dir=results, baseline=tmp_path / f"{PROFILE}.json", bench_only=True)
    assert [p["run_id"] for p in built.baseline_runs] == ["first"]  # not "second", the latest filed
    assert "run `first`" in markdown.render(built) and "run <code>first</code>" in report_html.render(built)


def test_a_baseline_filed_in_another_folder_is_found_by_its_folder(tmp_path):
    results, _ = files(tmp_path, new_scale=0.5)  # the baseline lies in tmp_path / "golden-bench"
    built = report.build(PROFILE, results_dir=results, baseline_dir=tmp_path / "golden-bench", bench_only=True)
    assert built.baseline_path == tmp_path / "golden-bench" / f"{PROFILE}.json"
    assert all(line.comparison.is_regression for line in built.bench_lines)
    with pytest.raises(ConformanceError, match="no baseline file here"):
        report.build(PROFILE, results_dir=results, baseline_dir=tmp_path / "elsewhere", bench_only=True)


def test_failing_on_regression_fails_a_benchmark_that_had_nothing_to_compare_with(tmp_path, capsys):
    from conformance import cli

    results = tmp_path / "results"
    write_run(results, "bench", "new", bench_run())
    argv = ["report", "--profile", PROFILE, "--results-dir", str(results), "--only", "bench", "--out",
            str(tmp_path / "report"), "--fail-on-regression"]
    assert cli.main(argv + ["--baseline-dir", str(tmp_path / "nowhere")]) == 2  # a folder named but empty: a typo
    capsys.readouterr()
    assert cli.main(argv) == 1  # the project's golden/bench has no cpu-test-2c
    assert "compared with nothing: no baseline for profile cpu-test-2c" in capsys.readouterr().err
    save_baseline(dataclasses.replace(bench_run(run_id="base"), settings={"backend": "tensorflow"}), tmp_path)
    assert cli.main(argv + ["--baseline-dir", str(tmp_path)]) == 1
    assert "has no jax entries" in capsys.readouterr().err
    save_baseline(bench_run(run_id="base"), tmp_path)
    assert cli.main(argv + ["--baseline-dir", str(tmp_path)]) == 0


def test_an_unreadable_earlier_run_is_passed_over_as_a_baseline_and_named(tmp_path, monkeypatch):
    results, _ = files(tmp_path)
    folder = results / PROFILE / "conformance"
    latest = conformance_run()
    latest.started = "2026-01-03T00:00:00+00:00"
    write_run(results, "conformance", "20260103T000000Z-smoke-tensorflow-cccccc", latest)
    earlier = folder / "20260102T000000Z-smoke-tensorflow-bbbbbb.json"
    written = dt.datetime(2026, 1, 1, 12, tzinfo=dt.timezone.utc).timestamp()  # unreadable: it sorts by when written
    os.utime(earlier, (written, written))
    unreadable(earlier)(monkeypatch)
    built = report.build(PROFILE, results_dir=results, conformance_only=True)
    assert built.conformance_baseline_path.name.startswith("20260101T")  # the readable one before it
    assert any(note.startswith("an earlier conformance run was passed over as a baseline: ") and
               "20260102T000000Z-smoke-tensorflow-bbbbbb.json: (file): cannot be read (Permission denied)" in note
               for note in built.notes)


def test_a_run_judged_against_other_golden_files_says_so_in_its_summary_and_report(tmp_path):
    results = tmp_path / "results"
    run = conformance_run()
    run.settings = {**run.settings, "golden_dir": "/elsewhere/golden"}
    write_run(results, "conformance", "20260101T000000Z-smoke-tensorflow-aaaaaa", run)
    built = report.build(PROFILE, results_dir=results, conformance_only=True)
    assert "judged against the golden files in /elsewhere/golden, not golden/" in markdown.render(built)
    assert "GOLDEN FILES: /elsewhere/golden, not the project's golden/" in summary.format_table(run)
    assert "GOLDEN FILES" not in summary.format_table(conformance_run())


EPYC = {"id": PROFILE, "cpu": {"model": "AMD EPYC", "arch": "x86_64", "cores": 2}, "python": "3.11.7",
        "libraries": {"keras": "3.15.1", "jax": "0.10.2"}}
XEON_UPGRADED = {**EPYC, "cpu": {**EPYC["cpu"], "model": "Intel(R) Xeon(R) Processor"},
                 "libraries": {"keras": "3.16.0", "jax": "0.10.2"}}


def test_a_run_on_another_stack_and_cpu_model_of_the_same_profile_says_what_differs_first(tmp_path):
    save_baseline(dataclasses.replace(bench_run(run_id="base"), profile=EPYC), tmp_path)
    results = tmp_path / "results"
    write_run(results, "bench", "new", dataclasses.replace(bench_run(), profile=XEON_UPGRADED))
    built = report.build(PROFILE, results_dir=results, baseline=tmp_path / f"{PROFILE}.json", bench_only=True)
    expected = ("the benchmark baseline (run base) ran on other software or hardware than this run: "
                "keras 3.15.1 → 3.16.0; CPU AMD EPYC → Intel(R) Xeon(R) Processor")
    assert built.environment_changes == [expected]
    text = markdown.render(built)
    assert f"- {expected}" in text and text.index(expected) < text.index("## Benchmarks")
    page = report_html.render(built)
    assert "keras 3.15.1 → 3.16.0; CPU AMD EPYC → Intel(R) Xeon(R) Processor" in page
    assert page.index("class='environment'") < page.index("<h2>Summary</h2>")
    assert json.loads(report.dumps(built))["environment_changes"] == [expected]


def test_a_run_on_the_baselines_machine_and_stack_has_no_such_note(tmp_path):
    results, baseline = files(tmp_path)
    built = report.build(PROFILE, results_dir=results, baseline=baseline)
    assert built.environment_changes == []
    assert "differs from the baseline" not in markdown.render(built)
    assert "class='environment'" not in report_html.render(built)


def test_a_baseline_run_filed_without_its_profile_is_compared_by_its_library_versions(tmp_path):
    path = save_baseline(dataclasses.replace(bench_run(run_id="base"), profile=EPYC), tmp_path)
    document = json.loads(path.read_text())
    del document["backends"]["jax"]["runs"]["base"]["profile"]  # as baselines were filed before
    document["backends"]["jax"]["provenance"]["run_id"] = "later"  # and its profile is not the provenance's
    path.write_text(json.dumps(document))
    results = tmp_path / "results"
    write_run(results, "bench", "new", dataclasses.replace(bench_run(), profile=XEON_UPGRADED))
    built = report.build(PROFILE, results_dir=results, baseline=path, bench_only=True)
    assert built.environment_changes == [
        "the benchmark baseline (run base) ran on other software or hardware than this run: keras 3.15.1 → 3.16.0; "
        "its Python, CUDA and machine were not recorded"]


def test_a_baseline_run_filed_without_its_profile_on_the_same_libraries_is_not_called_different(tmp_path):
    path = save_baseline(dataclasses.replace(bench_run(run_id="base"), profile=EPYC), tmp_path)
    document = json.loads(path.read_text())
    del document["backends"]["jax"]["runs"]["base"]["profile"]
    document["backends"]["jax"]["provenance"]["run_id"] = "later"
    path.write_text(json.dumps(document))
    results = tmp_path / "results"
    write_run(results, "bench", "new", dataclasses.replace(bench_run(), profile=EPYC))
    built = report.build(PROFILE, results_dir=results, baseline=path, bench_only=True)
    assert built.environment_changes == []  # what was not recorded is not a difference


def test_a_conformance_run_on_another_stack_than_its_previous_run_says_so(tmp_path):
    results = tmp_path / "results"
    before, after = conformance_run(), conformance_run()
    before.profile, after.profile = EPYC, {**EPYC, "libraries": {"keras": "3.16.0", "jax": "0.10.2"}}
    write_run(results, "conformance", "20260101T000000Z-smoke-tensorflow-aaaaaa", before)
    write_run(results, "conformance", "20260102T000000Z-smoke-tensorflow-bbbbbb", after)
    built = report.build(PROFILE, results_dir=results, conformance_only=True)
    assert built.environment_changes == ["the conformance baseline run r ran on other software or hardware than "
                                         "this run: keras 3.15.1 → 3.16.0"]
    assert "keras 3.15.1 → 3.16.0" in markdown.render(built) and "keras 3.15.1 → 3.16.0" in report.dumps(built)


def test_bench_runs_measured_otherwise_are_not_read_as_repeats_of_one_report(tmp_path):
    results = tmp_path / "results"
    write_run(results, "bench", "one", bench_run(run_id="one"))
    write_run(results, "bench", "two", dataclasses.replace(bench_run(scale=3.0, run_id="two"),
                                                           settings={"backend": "jax", "rounds": 5, "steps": 4}))
    folder = results / PROFILE / "bench"
    mixed = r"runs one and two are not repeats of one measurement \(steps None → 4\)"
    with pytest.raises(ConformanceError, match=mixed):
        report.build(PROFILE, results_dir=results, bench_run=[folder / "one.json", folder / "two.json"],
                     bench_only=True)


def test_a_diverged_accuracy_gate_reads_back_as_nan_from_the_run_file(tmp_path):
    from conformance.bench.baseline import load_run

    gate = {"model": "mnist_dense", "precision": "mixed_float16", "loss_gap": math.nan, "accuracy_gap": 0.01}
    path = tmp_path / "run.json"
    store.write_json_atomically(path, dataclasses.replace(bench_run(), gates=[gate]).to_json())
    assert '"loss_gap": "NaN"' in path.read_text()
    (read,) = load_run(path).gates
    assert math.isnan(read["loss_gap"]) and read["accuracy_gap"] == 0.01 and read["model"] == "mnist_dense"
