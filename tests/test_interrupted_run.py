"""A conformance run killed part-way says so: it is incomplete, the report fails on it, and it is
never taken as the next run's baseline. One stopped with Ctrl-C says so too, and exits as shells
report an interrupted command, not with the code of a usage error."""

import os
import signal
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


# Loaded with ``-p`` into the run the test kills: when the second example is about to run (the first
# one's result is stored by then), it leaves a marker and waits, so the kill always lands between the
# first result and the end of the run, however fast the second example would have been.
HOLD_SECOND_EXAMPLE = """
import pathlib
import time

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    if item.callspec.params["conformance_example"].id == {second!r}:
        pathlib.Path({marker!r}).write_text("holding")
        time.sleep(900)  # far past the test's own deadline: the test kills the run long before
"""


def wait_for_the_hold(marker: Path, process: subprocess.Popen, timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    while not marker.exists():
        assert process.poll() is None, "the run ended before its second example started"
        assert time.monotonic() < deadline, f"the second example did not start within {timeout_s}s"
        time.sleep(0.2)


def offline_env() -> dict[str, str]:
    return {**os.environ, "BOOK_DATA_OFFLINE": "1", "PYTHONPATH": str(Path(__file__).parents[1])}


RUN = ["run", "--examples", EXAMPLES, "--workers", "1"]


def hear_ctrl_c() -> None:
    """In the child, before it starts Python: SIGINT's default action. An xdist worker ignores SIGINT, a
    child inherits what its parent ignores, and Python does not raise KeyboardInterrupt for an ignored
    signal, so under ``pytest -n`` the run would never hear the test's Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_held_run(tmp_path: Path, run_id: str) -> tuple[subprocess.Popen, Path]:
    """A run of EXAMPLES that holds at the start of the second example, and the marker it leaves there."""
    plugins, marker = tmp_path / "plugins", tmp_path / "second-example-started"
    plugins.mkdir()
    (plugins / "hold_second_example.py").write_text(
        HOLD_SECOND_EXAMPLE.format(second=EXAMPLES.split(",")[1], marker=str(marker)))
    env = offline_env()
    env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], str(plugins)])
    process = subprocess.Popen(conformance(*RUN, "--run-id", run_id, "-p", "hold_second_example"), cwd=tmp_path,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=hear_ctrl_c)
    return process, marker


def test_a_run_killed_part_way_is_incomplete_and_fails_the_report(tmp_path):
    env = offline_env()
    baseline = subprocess.run(conformance(*RUN, "--run-id", "a-complete"), cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600)
    assert baseline.returncode == 0, baseline.stdout[-3000:] + baseline.stderr[-3000:]

    process, marker = start_held_run(tmp_path, "b-killed")
    try:
        wait_for_the_hold(marker, process)
    finally:
        process.kill()  # SIGKILL: nothing in the run gets to tidy up
        process.communicate(timeout=60)
    (killed,) = (tmp_path / "results").glob("*/conformance/b-killed.json")
    cut_short = store.read_run(killed)
    assert [example.id for example in cut_short.examples] == EXAMPLES.split(",")[:1]
    assert not cut_short.complete and cut_short.finished is None
    assert cut_short.planned == EXAMPLES.split(",")

    report = subprocess.run(conformance("report", "--only", "conformance", "--fail-on-regression", "--conformance",
                                        str(killed), "--results-dir", "results"),
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert report.returncode == 1, report.stdout + report.stderr
    assert "INCOMPLETE" in report.stdout and "never finished" in report.stdout
    assert "a-complete.json" in report.stdout  # the complete run before it is the baseline

    after = subprocess.run(conformance(*RUN, "--run-id", "c-after"), cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=600)
    assert after.returncode == 0, after.stdout[-3000:]
    report = subprocess.run(conformance("report", "--only", "conformance", "--fail-on-regression",
                                        "--results-dir", "results"),
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert report.returncode == 0, report.stdout + report.stderr
    assert "a-complete.json" in report.stdout  # the killed run is passed over as a baseline


def test_a_run_stopped_with_ctrl_c_exits_130_and_its_file_says_it_ended_early(tmp_path):
    process, marker = start_held_run(tmp_path, "stopped")
    try:
        wait_for_the_hold(marker, process)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130, stderr[-3000:]
    assert "interrupted: the run file says the run did not finish" in stderr
    (stopped,) = (tmp_path / "results").glob("*/conformance/stopped.json")
    run = store.read_run(stopped)
    assert [example.id for example in run.examples] == EXAMPLES.split(",")[:1]
    assert not run.complete and "ended early (interrupted)" in run.incompleteness()
