"""The nox sessions run on the interpreter that runs nox, and never pass by running nothing.

A session pinned to an interpreter the machine lacks used to be skipped with exit status 0 (a green
run that ran nothing); an interpreter outside what the pinned TensorFlow, Keras and JAX support would
fail deep in pip. Both are errors that say what to do. The TPU benchmark session installs JAX for TPUs
and runs on JAX unless told another backend; the conformance session installs each backend's build for
the machine's accelerator (JAX for TPUs or CUDA, TensorFlow's CUDA build) and PyTorch when asked for.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nox  # the test extra, which the tests session installs
import pytest

from helpers import load_noxfile

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


class RecordingSession:
    """Stands in for a nox session: records what it installs and runs; reports a supported Python (and
    TensorFlow 2.21.0 installed)."""

    def __init__(self, *posargs: str, accelerator: str = "cpu"):
        self.posargs = list(posargs)
        self.accelerator = accelerator
        self.installed: list[tuple[str, ...]] = []
        self.ran: list[tuple[str, ...]] = []

    def install(self, *args: str) -> None:
        self.installed.append(args)

    def run(self, *args: str, silent: bool = False) -> str | None:
        if args[:2] == ("python", "-c"):  # what the session asks of its interpreter
            if "tpu_info" in args[2]:
                return self.accelerator
            return "2.21.0\n" if "version('tensorflow')" in args[2] else "3.12.3"
        self.ran.append(args)
        return None

    def run_install(self, *args: str) -> None:
        self.ran.append(args)

    def error(self, message: str) -> None:
        raise AssertionError(message)


def installed_extras(session: RecordingSession) -> list[str]:
    return session.installed[0][-1].split("[")[1].rstrip("]").split(",")


def test_benchmark_tpu_installs_jax_for_tpus_and_benchmarks_on_jax():
    session = RecordingSession("--models", "mnist*")
    load_noxfile().benchmark_tpu.func(session)
    assert any("jax-tpu" in arg for args in session.installed for arg in args), session.installed
    assert session.ran == [("python", "-m", "conformance", "bench", "--models", "mnist*", "--backend", "jax")]


@pytest.mark.parametrize("args", [["--backend", "tensorflow"], ["--backend=tensorflow", "--repeats", "1"]])
def test_benchmark_tpu_keeps_a_backend_the_user_chose(args):
    assert load_noxfile().with_default_backend(args, "jax") == args


@pytest.mark.parametrize(("accelerator", "extra"), [("tpu", "jax-tpu"), ("gpu", "jax-cuda"), ("cpu", "jax")])
def test_conformance_on_jax_installs_jax_for_the_machine(accelerator, extra):
    session = RecordingSession("--tier", "book", "--backend", "jax", accelerator=accelerator)
    load_noxfile().conformance.func(session)
    extras = installed_extras(session)
    assert extra in extras and ({"jax", "jax-tpu", "jax-cuda"} - {extra}).isdisjoint(extras), session.installed


@pytest.mark.parametrize(("accelerator", "gpu_build"), [("gpu", True), ("cpu", False), ("tpu", False)])
def test_conformance_on_tensorflow_installs_its_gpu_build_only_on_a_gpu(accelerator, gpu_build):
    session = RecordingSession("--tier", "book", accelerator=accelerator)
    load_noxfile().conformance.func(session)
    assert ("gpu" in installed_extras(session)) is gpu_build, session.installed


@pytest.mark.parametrize("session_name", ["conformance", "benchmark_gpu"])
def test_tensorflows_cuda_build_replaces_the_cpu_build_instead_of_unpacking_over_it(session_name, monkeypatch):
    import platform

    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    session = RecordingSession("--tier", "book", accelerator="gpu")
    getattr(load_noxfile(), session_name).func(session)
    assert "gpu" in installed_extras(session)
    assert ("python", "-m", "pip", "uninstall", "--yes", "tensorflow-cpu") in session.ran, session.ran
    assert session.installed[-1] == ("--force-reinstall", "--no-deps", "tensorflow==2.21.0"), session.installed
    session = RecordingSession("--tier", "book", accelerator="cpu")
    load_noxfile().conformance.func(session)
    assert len(session.installed) == 1 and not any("uninstall" in args for args in session.ran)


@pytest.mark.parametrize("args", [["--backend", "torch"], ["--examples", "ch02*", "--backend=torch"]])
def test_conformance_on_torch_installs_the_torch_extra_and_no_jax(args):
    session = RecordingSession(*args)
    load_noxfile().conformance.func(session)
    extras = installed_extras(session)
    assert "torch" in extras and "jax" not in extras, session.installed


def test_conformance_on_tensorflow_installs_no_other_backend():
    session = RecordingSession("--examples", "ch02*")
    load_noxfile().conformance.func(session)
    assert {"jax", "jax-tpu", "torch"}.isdisjoint(installed_extras(session)), session.installed


def test_seed_sweep_installs_every_backend_it_sweeps():
    session = RecordingSession("0", "jax,torch", "--examples", "ch03*")
    load_noxfile().seed_sweep.func(session)
    assert {"jax", "torch"} <= set(installed_extras(session)), session.installed
    assert [args[3:7] for args in session.ran] == [("run", "--backend", "jax", "--seed"),
                                                    ("run", "--backend", "torch", "--seed")]
