"""Sessions: conformance (smoke tier by default), tests, benchmark-cpu, benchmark-gpu, report.

Arguments after ``--`` pass through to ``python -m conformance run``:
    nox -s conformance -- --tier offline --examples 'ch02*'
    nox -s conformance -- --backend jax

and, for the benchmark sessions, to ``python -m conformance bench`` / ``report``:
    nox -s benchmark-cpu -- --models 'mnist*' --save-baseline
    nox -s benchmark-gpu -- --backend jax
    nox -s report -- --fail-on-regression
"""

import nox

nox.options.sessions = ["conformance", "tests"]
nox.options.reuse_existing_virtualenvs = True

PYTHON = "3.11"


def _install(session: nox.Session, *extras: str) -> None:
    session.install("-e", f".[{','.join(('offline',) + extras)}]")


@nox.session(python=PYTHON)
def conformance(session: nox.Session) -> None:
    """Run the book's examples and check them (smoke tier unless told otherwise)."""
    args = list(session.posargs)
    _install(session, *_backend_extras(args, "jax", None))
    session.run("python", "-m", "conformance", "run", *args)


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Unit tests of the engine and the data layer."""
    _install(session, "test", "jax")  # the tests run the Keras-only examples on JAX too
    session.run("pytest", "-n", "auto", *session.posargs)


def _backend_extras(args: list[str], jax_extra: str, tensorflow_extra: str | None) -> tuple[str, ...]:
    wants_jax = "jax" in args or "--backend=jax" in args
    chosen = jax_extra if wants_jax else tensorflow_extra
    return (chosen,) if chosen else ()


@nox.session(name="benchmark-cpu", python=PYTHON)
def benchmark_cpu(session: nox.Session) -> None:
    """Benchmarks on a machine without accelerators: float32 vs mixed_bfloat16, 1 vs 2 emulated devices."""
    args = list(session.posargs)
    _install(session, *_backend_extras(args, "jax", None))
    session.run("python", "-m", "conformance", "bench", *args)


@nox.session(name="benchmark-gpu", python=PYTHON)
def benchmark_gpu(session: nox.Session) -> None:
    """Benchmarks on GPUs: float32 vs mixed_float16 vs mixed_bfloat16, 1 vs all devices (CUDA wheels)."""
    args = list(session.posargs)
    _install(session, *_backend_extras(args, "jax-cuda", "gpu"))
    session.run("python", "-m", "conformance", "bench", *args)


@nox.session(python=PYTHON)
def report(session: nox.Session) -> None:
    """This profile's latest benchmark and conformance runs against their baselines (Markdown + HTML)."""
    _install(session)
    session.run("python", "-m", "conformance", "report", *session.posargs)
