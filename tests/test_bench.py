"""Benchmarks: the statistics behind a regression call, FLOP counting, baseline validation,
and the bench command end to end on a tiny configuration (including two emulated devices)."""

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conformance import bench, bench_models, stats
from conformance.bench_suite import gate_verdict


def timed_rounds(step, rounds=6, steps=5):
    """Throughput (steps/s) of each round of ``steps`` calls to ``step``: the harness's timing, in miniature."""
    throughput = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(steps):
            step()
        throughput.append(steps / (time.perf_counter() - started))
    return throughput


def test_same_distribution_is_never_called_a_regression():
    rng = np.random.default_rng(0)
    for _ in range(200):
        baseline, new = rng.normal(1000, 30, 5), rng.normal(1000, 30, 5)
        assert stats.compare(list(baseline), list(new)).verdict == "unchanged"


def test_a_planted_slowdown_is_called_with_its_size_and_p_value():
    weights = np.random.default_rng(0).random((64, 64))

    def training_step():
        weights @ weights
        time.sleep(0.002)

    def slowed_step():  # the same step with a sleep planted in it
        training_step()
        time.sleep(0.004)

    comparison = stats.compare(timed_rounds(training_step), timed_rounds(slowed_step))
    assert comparison.verdict == "regression"
    assert comparison.change < -0.3  # at least 2 ms of every 6+ ms is gone
    assert comparison.p_value < 0.01
    assert "regression: -" in comparison.describe() and "p = " in comparison.describe()


def test_a_small_but_consistent_change_is_not_a_regression():
    baseline = [1000.0, 1001.0, 1002.0, 1003.0, 1004.0]
    slower = [v * 0.97 for v in baseline]  # significant, but under the 10% minimum
    comparison = stats.compare(baseline, slower)
    assert comparison.p_value < 0.05 and comparison.verdict == "unchanged"
    assert stats.compare(baseline, [v * 0.7 for v in baseline]).verdict == "regression"
    assert stats.compare(baseline, [v * 1.5 for v in baseline]).verdict == "improvement"


def test_three_rounds_cannot_call_a_change():
    comparison = stats.compare([100.0, 101.0, 102.0], [50.0, 51.0, 52.0])
    assert comparison.underpowered and comparison.verdict == "unchanged"
    assert math.isclose(stats.smallest_p_value(3, 3), 0.1)
    assert not stats.compare([100.0, 101, 102, 103], [50.0, 51, 52, 53]).underpowered


def test_coefficient_of_variation():
    assert stats.coefficient_of_variation([10.0]) == 0.0
    assert math.isclose(stats.coefficient_of_variation([9.0, 11.0]), math.sqrt(2) / 10)


def test_flops_are_counted_from_the_architecture():
    pytest.importorskip("keras")
    dense = bench_models.MODELS["mnist_dense"].build()
    assert bench_models.forward_macs_per_sample(dense) == 784 * 512 + 512 * 10
    assert bench_models.training_flops_per_sample(dense) == 6 * (784 * 512 + 512 * 10)
    convnet = bench_models.MODELS["mnist_convnet"].build()
    assert convnet.count_params() == 104202  # the book's §8.1 summary
    expected = 26 * 26 * 9 * 32 + 11 * 11 * 9 * 32 * 64 + 3 * 3 * 9 * 64 * 128 + 1152 * 10
    assert bench_models.forward_macs_per_sample(convnet) == expected


def test_model_selection_fails_fast_on_an_unknown_name():
    assert [m.name for m in bench_models.select("mnist*")] == ["mnist_dense", "mnist_convnet"]
    with pytest.raises(ValueError, match="no benchmark model matches nope"):
        bench_models.select("nope")


def test_the_accuracy_gate_fails_mixed_precision_that_did_not_learn():
    reference = {"test_accuracy": 0.99, "train_loss": [2.4, 0.6, 0.2]}
    assert gate_verdict(reference, {"test_accuracy": 0.985, "train_loss": [2.4, 0.6, 0.18]})["passed"]
    assert not gate_verdict(reference, {"test_accuracy": 0.10, "train_loss": [2.4, 2.3, 2.3]})["passed"]
    nan = gate_verdict(reference, {"test_accuracy": 0.99, "train_loss": [2.4, float("nan"), float("nan")]})
    assert not nan["passed"] and "nan" in nan["message"]


def minimal_entry(**overrides):
    entry = {"model": "mnist_dense", "precision": "float32", "devices": 1, "global_batch": 8,
             "samples_per_s": [100.0, 101.0, 99.0, 100.5]}
    return {**entry, **overrides}


def write(path, document):
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return path


def test_a_corrupt_baseline_gives_a_clear_error(tmp_path):
    with pytest.raises(bench.BaselineError, match=r"broken\.json: baseline file is not valid JSON"):
        bench.load_baseline(write(tmp_path / "broken.json", '{"schema_version": 1, "kind": '))
    valid = {"schema_version": 1, "kind": "bench-baseline", "profile_id": "cpu-x", "backends": {"jax": {
        "provenance": {k: "x" for k in bench.PROVENANCE_FIELDS}, "entries": [minimal_entry()]}}}
    assert bench.load_baseline(write(tmp_path / "ok.json", valid))["profile_id"] == "cpu-x"
    no_provenance = json.loads(json.dumps(valid))
    del no_provenance["backends"]["jax"]["provenance"]["command"]
    with pytest.raises(bench.BaselineError, match=r"backends\.jax\.provenance\.command: missing"):
        bench.load_baseline(write(tmp_path / "p.json", no_provenance))
    bad_samples = json.loads(json.dumps(valid))
    bad_samples["backends"]["jax"]["entries"][0]["samples_per_s"] = [100.0, -1]
    with pytest.raises(bench.BaselineError, match=r"entries\[0\]\.samples_per_s: must be a non-empty list"):
        bench.load_baseline(write(tmp_path / "s.json", bad_samples))
    with pytest.raises(bench.BaselineError, match="kind: must be 'bench' \\(is this a conformance run file\\?\\)"):
        bench.load_run(write(tmp_path / "run.json", {"examples": []}))


def test_derived_figures():
    entries = [minimal_entry(median_samples_per_s=100.0), minimal_entry(precision="mixed_bfloat16",
                                                                      median_samples_per_s=150.0),
               minimal_entry(devices=2, global_batch=16, median_samples_per_s=160.0)]
    derived = bench.derive(entries)
    assert derived["mixed_speedup"] == [{"model": "mnist_dense", "precision": "mixed_bfloat16", "devices": 1,
                                         "speedup": 1.5}]
    assert derived["scaling_efficiency"][0]["efficiency"] == pytest.approx(0.8)


def test_bench_imports_no_tensorflow_on_jax():
    code = ("import sys; import conformance.cli, conformance.bench, conformance.bench_suite, "
            "conformance.bench_plugin, conformance.bench_models, conformance.report, keras; "
            "assert keras.backend.backend() == 'jax'; assert 'tensorflow' not in sys.modules, 'tensorflow imported'")
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "KERAS_BACKEND": "jax"},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def hide_tensorflow(tmp_path):
    """A PYTHONPATH entry on which ``import tensorflow`` fails, as on the GPU machine without TensorFlow."""
    shim = tmp_path / "no_tensorflow" / "tensorflow"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError('TensorFlow is hidden for this test')\n")
    return str(shim.parent)


def test_bench_command_end_to_end_on_jax_without_tensorflow_and_two_emulated_devices(tmp_path):
    pytest.importorskip("jax")
    env = {**os.environ, "KERAS_BACKEND": "jax",
           "PYTHONPATH": os.pathsep.join([hide_tensorflow(tmp_path), str(Path(__file__).parents[1])])}
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "bench", "--backend", "jax", "--models", "mnist_dense",
         "--precisions", "float32,mixed_bfloat16", "--devices", "1,2", "--rounds", "4", "--warmup", "0",
         "--steps", "2", "--batch", "8", "--ceiling-size", "128", "--no-gate", "--save-baseline",
         "--baseline-dir", str(tmp_path / "baselines")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    [path] = list((tmp_path / "results").glob("*/bench-*.json"))
    run = bench.load_run(path)
    assert run["status"] == "passed"
    assert {(e["precision"], e["devices"], e["global_batch"]) for e in run["entries"]} == {
        ("float32", 1, 8), ("mixed_bfloat16", 1, 8), ("float32", 2, 16), ("mixed_bfloat16", 2, 16)}
    for entry in run["entries"]:
        assert len(entry["samples_per_s"]) == 4 and entry["steps_per_round"] == 2
        assert entry["flops_per_sample"] == 6 * (784 * 512 + 512 * 10)
        assert entry["utilisation"] > 0 and entry["memory"]["host_peak_rss_bytes"] > 0
    assert [p["tensorflow_imported"] for p in run["processes"]] == [False, False]
    assert len(run["derived"]["mixed_speedup"]) == 2 and len(run["derived"]["scaling_efficiency"]) == 2
    baseline = bench.load_baseline(tmp_path / "baselines" / f"{run['profile']['id']}.json")
    assert baseline["backends"]["jax"]["provenance"]["run_id"] == run["run_id"]
    saved = list((tmp_path / "results" / ".benchmarks").rglob("*.json"))
    assert len(saved) == 2  # pytest-benchmark's own storage, one file per device count
    machine = json.loads(saved[0].read_text())["machine_info"]
    assert machine["conformance_profile"] == run["profile"]["id"]


def run_document(run_id, entries, failures=()):
    return {"kind": "bench", "run_id": run_id, "command": f"python -m conformance bench --run-id {run_id}",
            "finished": "2026-01-01T00:00:00+00:00", "profile": {"id": "cpu-x", "libraries": {"keras": "3"}},
            "settings": {"backend": "tensorflow"}, "ceilings": [], "gates": [],
            "processes": [{"failures": list(failures)}],
            "entries": [{**e, "per_device_batch": 8, "steps_per_round": 2, "round_s": [], "median_samples_per_s": 1,
                         "cv": 0, "achieved_flops_per_s": 1, "utilisation": None} for e in entries]}


def test_baselines_merge_by_configuration_and_keep_provenance(tmp_path):
    first = run_document("one", [minimal_entry(), minimal_entry(model="imdb_dense")], failures=["FAILED x"])
    bench.save_baseline(first, tmp_path, filed_by="python -m conformance bench --promote one.json")
    second = run_document("two", [minimal_entry(samples_per_s=[50.0, 51.0, 49.0, 50.5])])
    path = bench.save_baseline(second, tmp_path)
    saved = bench.load_baseline(path)["backends"]["tensorflow"]
    by_model = {e["model"]: e for e in saved["entries"]}
    assert by_model["mnist_dense"]["run_id"] == "two" and by_model["mnist_dense"]["samples_per_s"][0] == 50.0
    assert by_model["imdb_dense"]["run_id"] == "one"
    assert saved["provenance"]["run_id"] == "two"
    assert saved["runs"]["one"]["failures"] == ["FAILED x"]
    assert saved["runs"]["one"]["filed_by"].endswith("--promote one.json")
