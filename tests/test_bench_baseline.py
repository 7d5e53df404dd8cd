"""Benchmark baselines (golden/bench/<profile>.json): which runs may be merged as repeats."""

import pytest

from conformance.bench import baseline as baselines
from conformance.results.records import BenchEntry, BenchRun

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
