"""Benchmark baselines (golden/bench/<profile>.json): which runs may be merged as repeats, and the
machine and software each filed run keeps."""

import json
import shutil
from pathlib import Path

import pytest

from conformance.bench import baseline as baselines
from conformance.results.records import BenchEntry, BenchRun

GOLDEN_BENCH = Path(__file__).parents[1] / "golden" / "bench"
SETTINGS = {"backend": "tensorflow", "steps": "auto", "rounds": 5, "warmup_rounds": 1, "per_device_batch": "book"}
EPYC = {"id": "cpu-x", "cpu": {"model": "AMD EPYC", "arch": "x86_64", "cores": 2, "feature": "avx512"},
        "memory_gib": 23.5, "gpu": {}, "os": "Linux 6.1", "python": "3.11.7", "backend": "tensorflow",
        "libraries": {"keras": "3.15.1", "tensorflow-cpu": "2.21.0"}}


def entry(rounds=(100.0, 101.0, 99.0, 100.5), model="mnist_dense"):
    return BenchEntry(model=model, precision="float32", devices=1, global_batch=8, repeats=(tuple(rounds),))


def run(run_id, rounds=(100.0, 101.0, 99.0, 100.5), settings=(), profile=(), model="mnist_dense"):
    return BenchRun(run_id=run_id, started="2026-01-01T00:00:00+00:00", finished="2026-01-01T00:01:00+00:00",
                    command=f"python -m conformance bench --run-id {run_id}", profile={**EPYC, **dict(profile)},
                    settings={**SETTINGS, **dict(settings)}, status="passed", entries=[entry(rounds, model)])


def test_runs_measured_with_other_steps_are_not_merged_as_repeats():
    # the reviewer's case: a copy of a run edited to 4 steps, its throughputs ×3
    edited = run("two", rounds=(300.0, 303.0, 297.0, 301.5), settings={"steps": 4})
    with pytest.raises(baselines.MismatchedRuns, match=r"runs one and two are not repeats of one measurement "
                                                       r"\(steps auto → 4\)"):
        baselines.merge_runs([run("one"), edited])


@pytest.mark.parametrize("setting", ["rounds", "warmup_rounds", "per_device_batch"])
def test_runs_sampled_otherwise_are_not_merged(setting):
    with pytest.raises(baselines.MismatchedRuns, match=f"{setting} "):
        baselines.merge_runs([run("one"), run("two", settings={setting: 64})])


def test_runs_on_another_software_stack_or_cpu_model_are_not_merged():
    upgraded = run("two", profile={"libraries": {**EPYC["libraries"], "keras": "3.16.0"}, "python": "3.12.3"})
    with pytest.raises(baselines.MismatchedRuns, match=r"keras 3\.15\.1 → 3\.16\.0; python 3\.11\.7 → 3\.12\.3"):
        baselines.merge_runs([run("one"), upgraded])
    xeon = run("two", profile={"cpu": {**EPYC["cpu"], "model": "Intel(R) Xeon(R) Processor"}})
    with pytest.raises(baselines.MismatchedRuns, match=r"CPU AMD EPYC → Intel\(R\) Xeon\(R\) Processor"):
        baselines.merge_runs([run("one"), xeon])


def test_runs_on_another_gpu_driver_are_not_merged():
    def on_driver(driver):
        gpu = {"vendor": "nvidia", "devices": [{"name": "NVIDIA H100 80GB HBM3", "memory_gib": 80, "driver": driver}],
               "count": 1, "cuda": "13.0", "cudnn": "9.19.0.56"}
        return {"id": "gpu-nvidia-h100-80gb-x1", "gpu": gpu}

    with pytest.raises(baselines.MismatchedRuns, match=r"GPU driver 580\.159\.04 → 590\.1"):
        baselines.merge_runs([run("one", profile=on_driver("580.159.04")), run("two", profile=on_driver("590.1"))])


def test_parts_of_one_selection_and_plain_repeats_still_merge():
    merged = baselines.merge_runs([run("one"), run("two", model="imdb_dense", settings={"models": "imdb_dense"}),
                                   run("three", rounds=(110.0, 111.0, 109.0, 110.5))])
    assert merged.run_id == "one+two+three"
    assert {e.model: len(e.repeats) for e in merged.entries} == {"mnist_dense": 2, "imdb_dense": 1}


def test_each_filed_run_keeps_the_machine_and_software_it_ran_on(tmp_path):
    baselines.save_baseline(run("one", model="imdb_dense"), tmp_path)
    xeon = {"cpu": {**EPYC["cpu"], "model": "Intel(R) Xeon(R) Processor"},
            "libraries": {**EPYC["libraries"], "keras": "3.16.0"}}
    path = baselines.save_baseline(run("two", profile=xeon), tmp_path)
    filed = baselines.load_baseline(path).backends["tensorflow"]
    assert filed.runs["one"]["profile"] == {"id": "cpu-x", "cpu": {"model": "AMD EPYC"}, "os": "Linux 6.1",
                                            "python": "3.11.7",
                                            "libraries": {"keras": "3.15.1", "tensorflow-cpu": "2.21.0"}}
    assert filed.runs["two"]["profile"]["cpu"]["model"] == "Intel(R) Xeon(R) Processor"
    assert filed.runs["two"]["profile"]["libraries"]["keras"] == "3.16.0"
    assert json.loads(path.read_text())["backends"]["tensorflow"]["runs"]["one"]["profile"]["cpu"] == {
        "model": "AMD EPYC"}  # in the file, not only as read back


def test_a_gpu_run_keeps_its_gpu_driver_cuda_and_cudnn():
    gpu = {"vendor": "nvidia", "devices": [{"name": "NVIDIA H100 80GB HBM3", "memory_gib": 80, "driver": "580.1"}],
           "count": 1, "cuda": "13.0", "cudnn": "9.19.0.56"}
    kept = baselines.run_profile({**EPYC, "gpu": gpu})
    assert kept["gpu"] == {"devices": [{"name": "NVIDIA H100 80GB HBM3", "driver": "580.1"}], "cuda": "13.0",
                           "cudnn": "9.19.0.56"}
    assert "memory_gib" not in kept and "backend" not in kept


def test_a_baseline_filed_before_runs_kept_profiles_loads_and_its_latest_run_gets_the_one_it_had(tmp_path):
    baselines.save_baseline(run("one", model="imdb_dense"), tmp_path)
    path = baselines.save_baseline(run("two"), tmp_path)
    document = json.loads(path.read_text())
    for filed in document["backends"]["tensorflow"]["runs"].values():
        del filed["profile"]  # as the tool wrote baselines before
    path.write_text(json.dumps(document))
    filed = baselines.load_baseline(path).backends["tensorflow"]
    assert "profile" not in filed.runs["one"]  # which machine ran it was not recorded: none is made up
    assert filed.runs["two"]["profile"] == baselines.run_profile(EPYC)  # the provenance's, which is run two's


@pytest.mark.parametrize("name", sorted(p.name for p in GOLDEN_BENCH.glob("*.json")))
def test_the_committed_baselines_load_and_name_the_machine_of_their_latest_run(name, tmp_path):
    shutil.copy(GOLDEN_BENCH / name, tmp_path / name)
    raw = json.loads((GOLDEN_BENCH / name).read_text())
    for backend, filed in baselines.load_baseline(tmp_path / name).backends.items():
        latest = filed.runs[filed.provenance["run_id"]]
        assert latest["profile"]["cpu"]["model"] == filed.provenance["profile"]["cpu"]["model"], backend
        assert raw["backends"][backend]["runs"][filed.provenance["run_id"]]["profile"] == latest["profile"]  # filed
