"""The nox sessions run on the interpreter that runs nox, and never pass by running nothing.

A session pinned to an interpreter the machine lacks used to be skipped with exit status 0 (a green
run that ran nothing); an interpreter outside what the pinned TensorFlow, Keras and JAX support would
fail deep in pip. Both are errors that say what to do.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from helpers import load_noxfile

nox = pytest.importorskip("nox", reason="the noxfile needs the package 'nox' (pip install '.[test]')")

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def test_a_missing_interpreter_is_an_error_not_a_skip():
    load_noxfile()
    assert nox.options.error_on_missing_interpreters is True


def test_every_session_runs_on_the_interpreter_that_runs_nox():
    noxfile = load_noxfile()
    sessions = [value for value in vars(noxfile).values() if hasattr(value, "python") and hasattr(value, "func")]
    assert len(sessions) >= 9, "found no nox sessions to check"
    assert {session.python for session in sessions} == {None}


@pytest.mark.parametrize("version", ["3.10.14", "3.11.7", "3.12.3", "3.13.0"])
def test_supported_pythons_pass(version):
    assert load_noxfile().unsupported_python(version) is None


@pytest.mark.parametrize("version", ["3.9.19", "3.14.0"])
def test_an_unsupported_python_is_named_with_what_to_do(version):
    problem = load_noxfile().unsupported_python(version)
    major_minor = ".".join(version.split(".")[:2])
    assert problem and f"Python {major_minor} is not supported" in problem, problem
    assert "3.10, 3.11, 3.12, 3.13" in problem and "--force-python" in problem, problem


def test_the_interpreter_running_the_tests_is_a_supported_one():
    assert load_noxfile().unsupported_python(".".join(map(str, sys.version_info[:3]))) is None


@pytest.mark.subprocess
def test_nox_lists_the_sessions_without_an_interpreter_pin():
    listed = subprocess.run([sys.executable, "-m", "nox", "--list", "--json"], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert '"conformance"' in listed.stdout and '"python": null' in listed.stdout
