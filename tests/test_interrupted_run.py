"""A conformance run killed part-way says so: it is incomplete, the report fails on it, and it is
never taken as the next run's baseline."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conformance.results import store

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]

EXAMPLES = "ch03_simple_dense_layer,ch03_tensors_variables"  # two quick ones, run in this order


def conformance(*args: str) -> list[str]:
    return [sys.executable, "-m", "conformance", *args]


def wait_for_first_result(results: Path, run_id: str, process: subprocess.Popen, timeout_s: float = 240) -> Path:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for path in results.glob(f"*/conformance/{run_id}.json"):
            if store.read_run(path).examples:
                return path
        assert process.poll() is None, "the run ended before it could be killed"
        time.sleep(0.2)
    raise AssertionError(f"no example result after {timeout_s}s")


def test_a_run_killed_part_way_is_incomplete_and_fails_the_report(tmp_path):
    env = {**os.environ, "BOOK_DATA_OFFLINE": "1", "PYTHONPATH": str(Path(__file__).parents[1])}
    run = ["run", "--examples", EXAMPLES, "--workers", "1"]
    baseline = subprocess.run(conformance(*run, "--run-id", "a-complete"), cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600)
    assert baseline.returncode == 0, baseline.stdout[-3000:] + baseline.stderr[-3000:]

    process = subprocess.Popen(conformance(*run, "--run-id", "b-killed"), cwd=tmp_path, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        killed = wait_for_first_result(tmp_path / "results", "b-killed", process)
    finally:
        process.kill()  # SIGKILL: nothing in the run gets to tidy up
        process.wait(timeout=60)
    cut_short = store.read_run(killed)
    assert not cut_short.complete and cut_short.finished is None
    assert cut_short.planned == EXAMPLES.split(",")

    report = subprocess.run(conformance("report", "--only", "conformance", "--fail-on-regression", "--conformance",
                                        str(killed), "--results-dir", "results"),
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert report.returncode == 1, report.stdout + report.stderr
    assert "INCOMPLETE" in report.stdout and "never finished" in report.stdout
    assert "a-complete.json" in report.stdout  # the complete run before it is the baseline

    after = subprocess.run(conformance(*run, "--run-id", "c-after"), cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=600)
    assert after.returncode == 0, after.stdout[-3000:]
    report = subprocess.run(conformance("report", "--only", "conformance", "--fail-on-regression",
                                        "--results-dir", "results"),
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert report.returncode == 0, report.stdout + report.stderr
    assert "a-complete.json" in report.stdout  # the killed run is passed over as a baseline
